//! The simulated cluster lock: one exclusive lock, like an fcntl lock on a
//! cluster file system, with each node's lock helper reduced to its
//! answers.
//!
//! Inputs: a core's [`LockAction`]s ([`ClusterLock::take`],
//! [`ClusterLock::release`]), the death of a node ([`ClusterLock::crash`]:
//! its helper dies with it and the kernel frees the lock), the fault "lock
//! file removed under the holder" ([`ClusterLock::lose`]) and timer expiry.
//! Outputs ([`ClusterLock::poll_output`]): a reply for a `Take`, or "the
//! helper exited" for the holder.
//!
//! A `Take` is decided when its answer is due (the helper's fcntl runs a
//! little after it starts): `Held` if the lock is free, `Contended` if not.
//! With `flaky` > 0 a helper sometimes fails (`Timeout` or `Error`) and
//! takes nothing. Exclusivity is never broken: "lock file removed" frees the
//! lock and tells the holder in the same instant, because the real window
//! (the helper's re-check interval) is a property of the lock, not of
//! clusterd, and this simulation checks clusterd.
//!
//! [`LockAction`]: ctdb_clusterd::LockAction

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use ctdb_cluster_lock::LockReply;
use rand::rngs::StdRng;
use rand::RngExt;

/// A node in one of its lives (a restarted node is a new owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    /// The node's pnn.
    pub node: u32,
    /// Which life of the node (bumped on every crash and restart).
    pub life: u64,
}

/// What the lock tells a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEvent {
    /// The answer to a `Take`.
    Reply(LockReply),
    /// The helper exited while holding: the lock is gone.
    Lost,
}

/// Delays and failure rate of the simulated lock.
#[derive(Debug, Clone)]
pub struct LockConfig {
    /// From `Take` to the helper's answer.
    pub answer: (Duration, Duration),
    /// From `Release` (helper killed) to the lock being free.
    pub release: (Duration, Duration),
    /// Chance that a helper fails instead of answering.
    pub flaky: f64,
}

impl Default for LockConfig {
    fn default() -> LockConfig {
        LockConfig {
            answer: (Duration::from_millis(1), Duration::from_millis(50)),
            release: (Duration::ZERO, Duration::from_millis(5)),
            flaky: 0.0,
        }
    }
}

/// Counters of what the lock did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockStats {
    /// `Take` requests.
    pub takes: u64,
    /// Answered `Held`.
    pub granted: u64,
    /// Answered `Contended`.
    pub contended: u64,
    /// Helpers that failed (flaky).
    pub failed: u64,
    /// Locks lost under their holder (fault).
    pub lost: u64,
}

#[derive(Debug)]
enum Item {
    Answer(Owner),
    Free(Owner),
}

/// The lock machine.
#[derive(Debug)]
pub struct ClusterLock {
    cfg: LockConfig,
    holder: Option<Owner>,
    queue: BTreeMap<(Duration, u64), Item>,
    seq: u64,
    out: VecDeque<(Owner, LockEvent)>,
    stats: LockStats,
}

fn draw(rng: &mut StdRng, (lo, hi): (Duration, Duration)) -> Duration {
    if hi <= lo {
        return lo;
    }
    Duration::from_nanos(rng.random_range(lo.as_nanos() as u64..=hi.as_nanos() as u64))
}

impl ClusterLock {
    /// A free lock.
    pub fn new(cfg: LockConfig) -> ClusterLock {
        ClusterLock {
            cfg,
            holder: None,
            queue: BTreeMap::new(),
            seq: 0,
            out: VecDeque::new(),
            stats: LockStats::default(),
        }
    }

    /// Who holds the lock.
    pub fn holder(&self) -> Option<Owner> {
        self.holder
    }

    /// What the lock did so far.
    pub fn stats(&self) -> LockStats {
        self.stats
    }

    /// Change how often helpers fail.
    pub fn set_flaky(&mut self, p: f64) {
        self.cfg.flaky = p;
    }

    /// `who` starts a helper. Like the shell, a helper still running for
    /// `who` is stopped first.
    pub fn take(&mut self, now: Duration, rng: &mut StdRng, who: Owner) {
        self.stats.takes += 1;
        self.cancel(who);
        // A pending Free of an earlier helper must not free what this one
        // takes.
        self.queue.retain(|_, it| !matches!(it, Item::Free(o) if *o == who));
        if self.holder == Some(who) {
            self.holder = None;
        }
        let at = now + draw(rng, self.cfg.answer);
        self.schedule(at, Item::Answer(who));
    }

    /// `who` stops its helper: the lock is free a moment later.
    pub fn release(&mut self, now: Duration, rng: &mut StdRng, who: Owner) {
        self.cancel(who);
        if self.holder == Some(who) {
            let at = now + draw(rng, self.cfg.release);
            self.schedule(at, Item::Free(who));
        }
    }

    /// `who` died: its helper dies with it (parent-death signal), and the
    /// kernel frees the lock at once.
    pub fn crash(&mut self, who: Owner) {
        self.cancel(who);
        self.queue.retain(|_, it| !matches!(it, Item::Free(o) if *o == who));
        if self.holder == Some(who) {
            self.holder = None;
        }
    }

    /// Fault: the lock file vanished under its holder; the helper notices,
    /// exits, and the holder is told — in one instant (see the module doc).
    pub fn lose(&mut self) -> Option<Owner> {
        let who = self.holder.take()?;
        self.stats.lost += 1;
        self.out.push_back((who, LockEvent::Lost));
        Some(who)
    }

    /// When [`ClusterLock::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.queue.keys().next().map(|&(t, _)| t)
    }

    /// Process the first item due at or before `now`.
    pub fn handle_timeout(&mut self, now: Duration, rng: &mut StdRng) {
        let Some(entry) = self.queue.first_entry() else { return };
        if entry.key().0 > now {
            return;
        }
        match entry.remove() {
            Item::Answer(who) => {
                let reply = if self.cfg.flaky > 0.0 && rng.random_bool(self.cfg.flaky) {
                    self.stats.failed += 1;
                    if rng.random_bool(0.5) {
                        LockReply::Timeout
                    } else {
                        LockReply::Error
                    }
                } else if self.holder.is_none() {
                    self.holder = Some(who);
                    self.stats.granted += 1;
                    LockReply::Held
                } else {
                    self.stats.contended += 1;
                    LockReply::Contended
                };
                self.out.push_back((who, LockEvent::Reply(reply)));
            }
            Item::Free(who) => {
                if self.holder == Some(who) {
                    self.holder = None;
                }
            }
        }
    }

    /// The next event for a node.
    pub fn poll_output(&mut self) -> Option<(Owner, LockEvent)> {
        self.out.pop_front()
    }

    fn cancel(&mut self, who: Owner) {
        self.queue.retain(|_, it| !matches!(it, Item::Answer(o) if *o == who));
    }

    fn schedule(&mut self, at: Duration, item: Item) {
        self.seq += 1;
        self.queue.insert((at, self.seq), item);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn answers(lock: &mut ClusterLock, rng: &mut StdRng, until: Duration) -> Vec<(u32, LockEvent)> {
        while let Some(t) = lock.poll_timeout().filter(|&t| t <= until) {
            lock.handle_timeout(t, rng);
        }
        std::iter::from_fn(|| lock.poll_output()).map(|(o, e)| (o.node, e)).collect()
    }

    const A: Owner = Owner { node: 0, life: 0 };
    const B: Owner = Owner { node: 1, life: 0 };
    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn one_holder_at_a_time_and_a_crash_frees_the_lock() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut lock = ClusterLock::new(LockConfig::default());
        lock.take(Duration::ZERO, &mut rng, A);
        assert_eq!(answers(&mut lock, &mut rng, SEC), vec![(0, LockEvent::Reply(LockReply::Held))]);
        lock.take(SEC, &mut rng, B);
        assert_eq!(answers(&mut lock, &mut rng, 2 * SEC), vec![(1, LockEvent::Reply(LockReply::Contended))]);
        lock.crash(A);
        assert_eq!(lock.holder(), None);
        lock.take(2 * SEC, &mut rng, B);
        assert_eq!(answers(&mut lock, &mut rng, 3 * SEC), vec![(1, LockEvent::Reply(LockReply::Held))]);
    }

    #[test]
    fn a_release_frees_the_lock_a_moment_later_and_never_a_newer_hold() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut lock = ClusterLock::new(LockConfig::default());
        lock.take(Duration::ZERO, &mut rng, A);
        answers(&mut lock, &mut rng, SEC);
        lock.release(SEC, &mut rng, A);
        // A takes again before the old helper's lock is freed: the pending
        // free must not free the new hold.
        lock.take(SEC, &mut rng, A);
        assert_eq!(answers(&mut lock, &mut rng, 2 * SEC), vec![(0, LockEvent::Reply(LockReply::Held))]);
        assert_eq!(lock.holder(), Some(A));
        assert_eq!(lock.lose(), Some(A));
        assert_eq!(answers(&mut lock, &mut rng, 3 * SEC), vec![(0, LockEvent::Lost)]);
        assert_eq!(lock.holder(), None);
    }
}
