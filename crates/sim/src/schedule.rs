//! Random fault schedules: a fault phase, then a liveness phase.

use std::fmt;
use std::time::Duration;

use ctdb_clusterd::node_flags;
use rand::RngExt;

use crate::lock::LockStats;
use crate::net::NetStats;
use crate::sim::{FaultStats, SimConfig, Violation};
use crate::{liveness, Sim};

/// Which faults a random schedule may inject besides partitions, held
/// links, crashes and restarts (always on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultMix {
    /// Lose packets in flight (not something TCP does; see
    /// [`crate::net::Net::drop_in_flight`]).
    pub drops: bool,
    /// Remove the lock file under its holder; make lock helpers fail now
    /// and then.
    pub lock_faults: bool,
    /// Administrator actions: `ctdb stop` / `continue`, `ctdb ban` for
    /// 1–10 s.
    pub admin: bool,
}

/// One kind of random run.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// A cluster lock is configured.
    pub with_lock: bool,
    /// How long faults are injected.
    pub faults_for: Duration,
    /// How long the cluster then runs without faults before it must have
    /// converged.
    pub liveness_for: Duration,
    /// Optional faults.
    pub mix: FaultMix,
}

impl Schedule {
    /// The standard run: 60 s of faults, 30 s to converge.
    pub fn new(with_lock: bool) -> Schedule {
        Schedule {
            with_lock,
            faults_for: Duration::from_secs(60),
            liveness_for: Duration::from_secs(30),
            mix: FaultMix { drops: false, lock_faults: with_lock, admin: true },
        }
    }

    /// The standard run, plus lost messages. A lost RecoverAck can only be
    /// made good by the leader's RecoverTimeout (30 s), so the cluster gets
    /// 45 s to converge. Without stop / continue / ban: a node announces its
    /// flags when they change and when a link comes up, relying on TCP, so a
    /// lost announcement on a link that stays up (which TCP never does)
    /// leaves the others with old flags until the next reconnection.
    pub fn with_drops(with_lock: bool) -> Schedule {
        let mut s = Schedule::new(with_lock);
        s.mix.drops = true;
        s.mix.admin = false;
        s.liveness_for = Duration::from_secs(45);
        s
    }

    /// The schedule the `replay` test runs for these flags.
    pub fn from_flags(with_lock: bool, drops: bool) -> Schedule {
        if drops {
            Schedule::with_drops(with_lock)
        } else {
            Schedule::new(with_lock)
        }
    }

    /// The environment that makes the `replay` test run this schedule.
    pub fn replay_env(&self, seed: u64) -> String {
        format!(
            "CTDB_SIM_SEED={seed} CTDB_SIM_LOCK={} CTDB_SIM_DROPS={}",
            u8::from(self.with_lock),
            u8::from(self.mix.drops)
        )
    }

    /// The exact command that replays `seed` with this schedule and prints
    /// its trace.
    pub fn replay_command(&self, seed: u64) -> String {
        format!("{} cargo test -p ctdb-sim --test schedules replay -- --nocapture", self.replay_env(seed))
    }
}

/// What one schedule did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// Steps (events and faults), each followed by an invariant check.
    pub steps: u64,
    /// Faults injected.
    pub faults: FaultStats,
    /// From the end of the faults until the cluster had converged for good.
    pub converged_after: Duration,
    /// Hash of every event.
    pub trace_hash: u64,
    /// Network counters.
    pub net: NetStats,
    /// Lock counters.
    pub lock: LockStats,
    /// Recoveries started (distinct generations).
    pub recoveries: usize,
    /// The kept trace lines (see [`run_schedule_traced`]).
    pub trace: Vec<String>,
}

/// A schedule that broke an invariant or did not converge.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The schedule it ran.
    pub schedule: Schedule,
    /// Cluster size.
    pub nodes: usize,
    /// What went wrong.
    pub violation: Violation,
    /// The last events before it (from a traced re-run).
    pub trace: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "simulation failed: seed {} ({} nodes, lock {})", self.seed, self.nodes, self.schedule.with_lock)?;
        writeln!(f, "  {}", self.violation)?;
        if !self.trace.is_empty() {
            writeln!(f, "last {} trace lines:", self.trace.len())?;
            for l in &self.trace {
                writeln!(f, "  {l}")?;
            }
            writeln!(f, "  {}", self.violation)?;
        }
        writeln!(f, "replay with:\n  {}", self.schedule.replay_command(self.seed))
    }
}

/// Cluster size for a seed: 2 to 5 nodes.
pub fn nodes_for_seed(seed: u64) -> usize {
    2 + (splitmix64(seed) % 4) as usize
}

/// The seed of schedule `i` of a batch started from `base` (spread out, so
/// neighbouring schedules do not share RNG streams' beginnings).
pub fn schedule_seed(base: u64, i: u64) -> u64 {
    splitmix64(base.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Run one schedule. On failure the seed is run again with a trace kept
/// (the run is deterministic, so it fails the same way) to report the last
/// events.
pub fn run_schedule(seed: u64, schedule: &Schedule) -> Result<Outcome, Box<Failure>> {
    match run_schedule_traced(seed, schedule, 0) {
        Ok(o) => Ok(o),
        Err(f) => Err(run_schedule_traced(seed, schedule, 400).err().unwrap_or(f)),
    }
}

/// Run one schedule keeping the last `trace_lines` trace lines.
pub fn run_schedule_traced(seed: u64, schedule: &Schedule, trace_lines: usize) -> Result<Outcome, Box<Failure>> {
    let nodes = nodes_for_seed(seed);
    let mut cfg = SimConfig::new(nodes, schedule.with_lock);
    cfg.trace_lines = trace_lines;
    let mut sim = Sim::with_config(seed, cfg);
    let fail = |sim: &Sim, violation: Violation| {
        Box::new(Failure { seed, schedule: schedule.clone(), nodes, violation, trace: sim.trace_lines() })
    };
    if let Err(v) = sim.run_random_schedule(schedule.faults_for, schedule.mix) {
        return Err(fail(&sim, v));
    }
    let converged_after = match sim.run_liveness(schedule.liveness_for) {
        Ok(d) => d,
        Err(v) => return Err(fail(&sim, v)),
    };
    Ok(Outcome {
        seed,
        nodes,
        steps: sim.steps(),
        faults: sim.fault_stats(),
        converged_after,
        trace_hash: sim.trace_hash(),
        net: sim.net_stats(),
        lock: sim.lock_stats(),
        recoveries: sim.issued_generations().len(),
        trace: sim.trace_lines(),
    })
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Partition,
    IsolateLeader,
    Repair,
    Crash,
    CrashLeader,
    Restart,
    Hold,
    Release,
    Drop,
    LoseLock,
    Stop,
    Continue,
    Ban,
}

impl Sim {
    /// Inject random faults for `d`: partitions (random groups, or the
    /// leader alone), repairs, crashes (random, or the leader), restarts,
    /// held and released links, and what `mix` allows (drops, lock loss
    /// and flaky helpers, stop / continue / ban). Faults come 0.2–6 s
    /// apart, or in bursts 0–100 ms apart, to hit races.
    pub fn run_random_schedule(&mut self, d: Duration, mix: FaultMix) -> Result<(), Violation> {
        let end = self.now() + d;
        if mix.lock_faults && self.with_lock() && self.rng().random_bool(0.3) {
            self.set_lock_flaky(0.1);
        }
        loop {
            let gap_ms = if self.rng().random_bool(0.2) {
                self.rng().random_range(0..100)
            } else {
                self.rng().random_range(200..6000)
            };
            let at = self.now() + Duration::from_millis(gap_ms);
            if at >= end {
                return self.run_until(end);
            }
            self.run_until(at)?;
            self.random_fault(mix)?;
        }
    }

    /// End the faults and run `d` more: every node must then agree (see
    /// [`liveness::converged`]). Returns how long after the faults ended
    /// the cluster converged for good.
    pub fn run_liveness(&mut self, d: Duration) -> Result<Duration, Violation> {
        let start = self.now();
        let end = start + d;
        self.heal()?;
        let mut since = liveness::converged(self).is_ok().then_some(start);
        while self.next_event_at().is_some_and(|t| t <= end) {
            self.step()?;
            if liveness::converged(self).is_ok() {
                since.get_or_insert(self.now());
            } else {
                since = None;
            }
        }
        self.run_until(end)?;
        if let Err(why) = liveness::converged(self) {
            return Err(self.violation("liveness", format!("{:?} after the faults ended: {why}", d)));
        }
        Ok(since.unwrap_or(end) - start)
    }

    fn random_fault(&mut self, mix: FaultMix) -> Result<(), Violation> {
        let n = self.n() as u32;
        let alive: Vec<u32> = (0..n).filter(|&x| self.owner(x).is_some()).collect();
        let dead: Vec<u32> = (0..n).filter(|&x| self.owner(x).is_none()).collect();
        let leader = self.live().find(|(_, c)| c.is_leader()).map(|(o, _)| o.node);
        let held: Vec<(u32, u32)> = self.net().held_links().collect();
        let broken = self.net().partitioned() || !held.is_empty();

        let mut options: Vec<(u32, Fault)> = vec![(3, Fault::Partition), (1, Fault::Hold)];
        if broken {
            options.push((3, Fault::Repair));
        }
        if !alive.is_empty() {
            options.push((2, Fault::Crash));
        }
        if leader.is_some() {
            options.push((1, Fault::CrashLeader));
            options.push((1, Fault::IsolateLeader));
        }
        if !dead.is_empty() {
            options.push((3, Fault::Restart));
        }
        if !held.is_empty() {
            options.push((1, Fault::Release));
        }
        if mix.drops {
            options.push((1, Fault::Drop));
        }
        if mix.lock_faults && self.lock_holder().is_some() {
            options.push((1, Fault::LoseLock));
        }
        let stopped: Vec<u32> =
            alive.iter().copied().filter(|&x| self.own_flags(x) & node_flags::STOPPED != 0).collect();
        if mix.admin && !alive.is_empty() {
            options.push((1, Fault::Stop));
            options.push((1, Fault::Ban));
        }
        if mix.admin && !stopped.is_empty() {
            options.push((2, Fault::Continue));
        }
        let total: u32 = options.iter().map(|(w, _)| w).sum();
        let mut pick = self.rng().random_range(0..total);
        let mut fault = options[0].1;
        for (w, f) in &options {
            if pick < *w {
                fault = *f;
                break;
            }
            pick -= w;
        }

        match fault {
            Fault::Partition => {
                let k = self.rng().random_range(2..=3.min(n.max(2)));
                let mut groups = vec![Vec::new(); k as usize];
                for x in 0..n {
                    let g = self.rng().random_range(0..k) as usize;
                    groups[g].push(x);
                }
                self.partition(&groups)
            }
            Fault::IsolateLeader => self.partition(&[leader.into_iter().collect()]),
            Fault::Repair => self.repair(),
            Fault::Crash => {
                let x = alive[self.rng().random_range(0..alive.len())];
                self.crash(x)
            }
            Fault::CrashLeader => self.crash(leader.unwrap_or(0)),
            Fault::Restart => {
                let x = dead[self.rng().random_range(0..dead.len())];
                self.restart(x)
            }
            Fault::Hold | Fault::Drop => {
                let a = self.rng().random_range(0..n);
                let b = (a + self.rng().random_range(1..n.max(2))) % n;
                if matches!(fault, Fault::Hold) {
                    self.hold(a, b)
                } else {
                    let next = self.rng().random_range(1..=3);
                    self.drop_packets(a, b, next)
                }
            }
            Fault::Release => {
                let (a, b) = held[self.rng().random_range(0..held.len())];
                self.release(a, b)
            }
            Fault::LoseLock => self.lose_lock(),
            Fault::Stop => {
                let x = alive[self.rng().random_range(0..alive.len())];
                self.set_stopped(x, true)
            }
            Fault::Continue => {
                let x = stopped[self.rng().random_range(0..stopped.len())];
                self.set_stopped(x, false)
            }
            Fault::Ban => {
                let x = alive[self.rng().random_range(0..alive.len())];
                let secs = self.rng().random_range(1..=10);
                self.ban(x, secs)
            }
        }
    }
}
