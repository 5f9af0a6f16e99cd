//! Measuring one failover on the network-namespace bed ([`crate::netns`],
//! after `shared/testing/netns-failover.md` §5), for the failover tests and
//! for `ctdb-bench`'s failover workload alike; it works the same for
//! ctdb-rs's `ctdbd` and Debian's ([`BedConfig::daemon`]).
//!
//! One measurement:
//!
//! 1. [`ready_bed`]: a bed with the test servers and every daemon started
//!    ([`start_ready`] for a bed made by the caller), every node OK, the
//!    allocation consistent, every node naming the same leader; the victim
//!    is the node holding the lowest address that is not the leader (the
//!    recipe's `NSFO_VICTIM=follower`) or the leader itself ([`Victim`]),
//!    `vip` the lowest address it holds.
//! 2. [`tickled_connection`]: an idle client connection to `vip`, answered
//!    by the victim and registered there with `ctdb addtickle` (as smbd
//!    registers its clients with its own node); ready once every node lists
//!    it in `ctdb gettickles` (Samba replicates tickle lists every
//!    TickleUpdateInterval, 20 s by default).
//! 3. [`measure`]: a [`Prober`] opening a **new** connection to `vip` every
//!    50 ms (each given 1 s), a delay of the caller's choosing (a random one
//!    from [`random_delay`] keeps the fault from always landing at the same
//!    point of the daemons' periodic timers), the fault, then the time from the fault to the
//!    first new connection answered by another node, and the time until the
//!    idle connection is reset (the new owner's tickle ACK) — or that it
//!    was not, within the bounds.
//!
//! Every wait is bounded and polls a caller's `stop` function, so an
//! interrupted caller gets its bed back (and drops it) within about a
//! second, except while a `ctdb` tool run or a daemon start is under way
//! (each bounded by the bed itself).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::{watch_connection, watch_exit, Attempt, Bed, BedConfig, Fate, Prober, SERVER_PORT};

/// Pace of the prober's new connections.
pub const PROBE_EVERY: Duration = Duration::from_millis(50);

/// Time each new connection gets to connect and send its banner.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long an idle connection may still take to be reset after the first
/// new connection reached another node; past that it counts as not reset.
pub const IDLE_GRACE: Duration = Duration::from_secs(10);

/// How long the victim's daemon may take to exit after `ctdb shutdown`.
const EXIT_BOUND: Duration = Duration::from_secs(30);

/// How often the waits here look at the caller's `stop`.
const POLL: Duration = Duration::from_millis(200);

/// Lines of each node's log in a diagnosis.
const LOG_TAIL: usize = 40;

/// A duration for output: seconds with three decimals (`1.234 s`).
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Which node a fault hits.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Victim {
    /// The node holding the lowest address that is not held by the leader.
    Follower,
    /// The leader (it hosts addresses too).
    Leader,
}

/// A fault made to the victim (a node hosting `vip`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// `kill -9` of the victim's daemon (its kernel stays up, and with it
    /// its addresses on `eth1` and its test server).
    Kill,
    /// Both of the victim's switch ports down (a pulled cable); a cut
    /// leader is also fenced from the cluster lock right after
    /// ([`Bed::fence_node`], recipe §6), as a cluster file system would.
    CutLinks,
    /// `ctdb shutdown` of the victim (the daemon's graceful stop, as
    /// SIGTERM).
    Shutdown,
}

impl Fault {
    /// What is done, for output.
    pub fn describe(self) -> &'static str {
        match self {
            Fault::Kill => "kill -9 of the hosting node's daemon",
            Fault::CutLinks => "the hosting node's links cut",
            Fault::Shutdown => "ctdb shutdown of the hosting node",
        }
    }
}

/// A bed ready for a fault; dropping it tears the bed down.
pub struct Ready {
    /// The bed.
    pub bed: Bed,
    /// The leader every node named.
    pub leader: u32,
    /// The node the fault is made to.
    pub victim: u32,
    /// The victim's address that the client uses.
    pub vip: Ipv4Addr,
    /// The allocation when the bed became ready.
    pub allocation: BTreeMap<Ipv4Addr, u32>,
    /// From starting the first daemon until the bed was ready (every node
    /// OK, allocation consistent, one leader).
    pub ready_after: Duration,
}

impl Ready {
    /// The victim's banner (`nodeI`).
    pub fn banner(&self) -> String {
        format!("node{}", self.victim)
    }

    /// Every node's view and the ends of their logs, for error messages.
    pub fn diagnosis(&self) -> String {
        format!("{}{}", self.bed.describe(), self.bed.log_tails(LOG_TAIL))
    }

    /// For tests: panic with `what` and the [`Ready::diagnosis`].
    pub fn fail(&self, what: &str) -> ! {
        panic!("{what}\n{}", self.diagnosis())
    }
}

/// Poll `cond` every 20 ms until it holds; fail after `timeout` or once
/// `stop` says so.
fn wait_until(timeout: Duration, what: &str, stop: &dyn Fn() -> bool, mut cond: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    loop {
        if cond() {
            return Ok(());
        }
        if stop() {
            bail!("interrupted while waiting for {what}");
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Make a bed from `cfg`, start the test servers and every daemon, and wait
/// (up to `timeout`) until it is ready ([`start_ready`]).
pub fn ready_bed(cfg: BedConfig, who: Victim, timeout: Duration, stop: &dyn Fn() -> bool) -> Result<Ready> {
    let mut bed = Bed::new(cfg)
        .context("cannot build the netns failover bed (needs root, `ip netns`, ethtool, iptables, Debian's ctdb)")?;
    bed.start_servers()?;
    start_ready(bed, who, timeout, stop)
}

/// Start every daemon of `bed` and wait (up to `timeout`) until it is
/// ready: every node OK in every node's view, the allocation consistent
/// ([`Bed::consistent_allocation`]), every node naming the same leader, and
/// a `who` hosting an address.
pub fn start_ready(bed: Bed, who: Victim, timeout: Duration, stop: &dyn Fn() -> bool) -> Result<Ready> {
    let started = Instant::now();
    bed.start_all()?;
    let all: Vec<u32> = (0..bed.n()).collect();
    let mut found: Option<(BTreeMap<Ipv4Addr, u32>, u32)> = None;
    let waited = wait_until(timeout, "every node OK, the allocation consistent and one leader", stop, || {
        let Some(alloc) = bed.consistent_allocation(&all) else { return false };
        if !all.iter().all(|&i| bed.ctdb(i, &["nodestatus", "all"]).is_ok_and(|o| o.status.success())) {
            return false;
        }
        let leaders: Vec<Option<u32>> = all.iter().map(|&i| bed.leader(i)).collect();
        match leaders[0] {
            Some(l) if leaders.iter().all(|x| *x == Some(l)) => {
                found = Some((alloc, l));
                true
            }
            _ => false,
        }
    });
    if let Err(e) = waited {
        return Err(e.context(format!("bed {}\n{}{}", bed.id(), bed.describe(), bed.log_tails(LOG_TAIL))));
    }
    let ready_after = started.elapsed();
    let (allocation, leader) = found.context("allocation vanished")?;
    let wanted = |h: u32| (h == leader) == (who == Victim::Leader);
    let Some((vip, victim)) = allocation.iter().find(|(_, h)| wanted(**h)).map(|(a, h)| (*a, *h)) else {
        bail!("no {who:?} (leader: node {leader}) hosts an address: {allocation:?}");
    };
    Ok(Ready { bed, leader, victim, vip, allocation, ready_after })
}

/// An idle client connection to the victim's address, answered by the
/// victim and registered there with `ctdb addtickle`; returned with the
/// time it took until every node listed it (`ctdb gettickles`), at most
/// `timeout`.
pub fn tickled_connection(r: &Ready, timeout: Duration, stop: &dyn Fn() -> bool) -> Result<(TcpStream, Duration)> {
    let (conn, banner) = r.bed.client_open(r.vip, SERVER_PORT, Duration::from_secs(3))?;
    if banner != r.banner() {
        bail!("the idle connection to {} reached {banner}, not the victim node {}", r.vip, r.victim);
    }
    let client: SocketAddr = conn.local_addr()?;
    let server = format!("{}:{SERVER_PORT}", r.vip);
    let o = r.bed.ctdb(r.victim, &["addtickle", &client.to_string(), &server])?;
    if !o.status.success() {
        bail!("ctdb addtickle {client} {server} on node {}: {}", r.victim, String::from_utf8_lossy(&o.stderr).trim());
    }
    let t = Instant::now();
    wait_until(timeout, "every node listing the tickle", stop, || {
        (0..r.bed.n()).all(|i| r.bed.knows_tickle(i, client, r.vip, SERVER_PORT))
    })
    .with_context(|| r.diagnosis())?;
    Ok((conn, t.elapsed()))
}

/// What one fault did, as the client saw it.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// The fault.
    pub fault: Fault,
    /// From the fault to the end of the first new connection answered by
    /// another node.
    pub new_connection: Duration,
    /// Who answered it (`nodeI`).
    pub answered_by: String,
    /// How the idle connection ended.
    pub idle_fate: Fate,
    /// From the fault until the idle connection was reset or closed; `None`
    /// when it was still open (or failed otherwise) [`IDLE_GRACE`] after
    /// the new connection.
    pub idle_ended: Option<Duration>,
    /// `ctdb shutdown` only: how long the tool took.
    pub tool_returned: Option<Duration>,
    /// `ctdb shutdown` only: from the fault until the victim's daemon had
    /// exited (`None`: still running after 30 s).
    pub daemon_exited: Option<Duration>,
    /// New connections that started after the fault.
    pub attempts: usize,
    /// Of those, answered by the victim.
    pub answered_by_victim: usize,
    /// Of those, failed (refused, timed out, reset).
    pub failed: usize,
}

impl Measurement {
    /// How the idle connection ended, and when (`Reset after 0.412 s`).
    pub fn idle(&self) -> String {
        let after = self.idle_ended.map(|d| format!(" after {}", secs(d))).unwrap_or_default();
        format!("{:?}{after}", self.idle_fate)
    }

    /// One line for logs.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "new connection answered by {} after {}; idle connection {}; {} attempts after the fault, \
             {} answered by the victim, {} failed",
            self.answered_by,
            secs(self.new_connection),
            self.idle(),
            self.attempts,
            self.answered_by_victim,
            self.failed
        );
        if let Some(t) = self.tool_returned {
            out.push_str(&format!("; ctdb shutdown returned after {}", secs(t)));
        }
        if self.fault == Fault::Shutdown {
            match self.daemon_exited {
                Some(d) => out.push_str(&format!("; daemon exited after {}", secs(d))),
                None => out.push_str("; daemon still running 30 s later"),
            }
        }
        out
    }
}

/// Start the prober on the victim's address (running for `run_for`) and
/// wait until the victim has answered it, so it works and the client's
/// neighbour entry points at the victim.
pub fn start_prober(r: &Ready, run_for: Duration, stop: &dyn Fn() -> bool) -> Result<Prober> {
    let mut p = r.bed.start_prober(r.vip, SERVER_PORT, PROBE_EVERY, PROBE_TIMEOUT, run_for)?;
    let banner = r.banner();
    let deadline = Instant::now() + Duration::from_secs(10);
    if first_until(&mut p, deadline, stop, |a| a.answered_by(&banner))?.is_none() {
        bail!("the victim never answered the prober: {:?}\n{}", p.attempts(), r.diagnosis());
    }
    Ok(p)
}

/// A delay drawn uniformly from `[0, max)`. Waiting it before a fault
/// decorrelates the fault from the daemons' timers: every step before it
/// (start, first recovery, Samba's 20 s tickle update) is in step with
/// them, so a fixed-time fault would land at the same phase of, say, a 5 s
/// keepalive tick in every run and measure one corner of the range.
pub fn random_delay(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS; its hash of the time is as good
    // a uniform draw as a delay needs.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(unit)
}

/// [`Prober::first`], looking at `stop` every [`POLL`].
fn first_until(
    p: &mut Prober,
    deadline: Instant,
    stop: &dyn Fn() -> bool,
    pred: impl Fn(&Attempt) -> bool,
) -> Result<Option<Attempt>> {
    loop {
        let step = (Instant::now() + POLL).min(deadline);
        if let Some(a) = p.first(step, &pred) {
            return Ok(Some(a));
        }
        if stop() {
            bail!("interrupted");
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
    }
}

/// Make `fault` to `r`'s victim, with a tickled idle connection and a
/// prober running, `delay` after the prober is running, and measure (see
/// the module documentation). Fails when no other node answers for the
/// address within `bound` of the fault.
pub fn measure(
    r: &Ready,
    fault: Fault,
    idle: TcpStream,
    delay: Duration,
    bound: Duration,
    stop: &dyn Fn() -> bool,
) -> Result<Measurement> {
    // A second handle on the idle connection, to end its watcher early.
    let idle_handle = idle.try_clone().context("cloning the idle connection")?;
    let watch = watch_connection(idle, delay + bound + IDLE_GRACE);
    let exit = match fault {
        Fault::Shutdown => {
            let pid = r.bed.pid(r.victim).context("the victim's daemon is not running")?;
            Some(watch_exit(pid, EXIT_BOUND))
        }
        _ => None,
    };
    let mut p = start_prober(r, delay + bound + IDLE_GRACE, stop)?;
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if stop() {
            bail!("interrupted");
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()).min(POLL));
    }

    let t0 = Instant::now();
    let mut tool_returned = None;
    match fault {
        Fault::Kill => r.bed.kill_node(r.victim)?,
        Fault::CutLinks => {
            r.bed.cut_node(r.victim)?;
            if r.victim == r.leader {
                r.bed.fence_node(r.victim)?;
            }
        }
        Fault::Shutdown => {
            let o = r.bed.ctdb(r.victim, &["shutdown"])?;
            tool_returned = Some(t0.elapsed());
            if !o.status.success() {
                bail!("ctdb shutdown on node {}: {}", r.victim, String::from_utf8_lossy(&o.stderr).trim());
            }
        }
    }
    let banner = r.banner();
    let first =
        first_until(&mut p, t0 + bound, stop, |a| a.end >= t0 && a.outcome.as_ref().is_ok_and(|b| *b != banner))?;
    let Some(first) = first else {
        bail!("no other node answered for {} within {bound:?} of {}\n{}", r.vip, fault.describe(), r.diagnosis());
    };
    let new_connection = first.end - t0;

    // The idle connection: reset (or closed) by now, or within the grace.
    let give_up = (Instant::now().max(first.end) + IDLE_GRACE).min(t0 + bound + IDLE_GRACE);
    while !watch.is_finished() && Instant::now() < give_up && !stop() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (idle_fate, idle_ended) = if watch.is_finished() {
        let (at, fate) = watch.join().map_err(|_| anyhow::anyhow!("the idle connection's watcher panicked"))?;
        let ended = matches!(fate, Fate::Reset | Fate::Closed).then(|| at.saturating_duration_since(t0));
        (fate, ended)
    } else {
        // Wake the watcher (its read ends), and do not wait for it.
        let _ = idle_handle.shutdown(Shutdown::Both);
        (Fate::Open, None)
    };
    let daemon_exited = match exit {
        Some(h) => {
            // Bounded by the watcher itself (EXIT_BOUND).
            while !h.is_finished() && !stop() {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !h.is_finished() {
                bail!("interrupted");
            }
            h.join().map_err(|_| anyhow::anyhow!("the exit watcher panicked"))?.map(|at| at - t0)
        }
        None => None,
    };
    let attempts = p.finish();
    let after: Vec<&Attempt> = attempts.iter().filter(|a| a.start >= t0).collect();
    Ok(Measurement {
        fault,
        new_connection,
        answered_by: first.outcome.clone().unwrap_or_default(),
        idle_fate,
        idle_ended,
        tool_returned,
        daemon_exited,
        attempts: after.len(),
        answered_by_victim: after.iter().filter(|a| a.answered_by(&banner)).count(),
        failed: after.iter().filter(|a| a.outcome.is_err()).count(),
    })
}
