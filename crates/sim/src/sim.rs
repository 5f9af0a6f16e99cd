//! The simulator: N clusterd cores, the network, the lock, one clock.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use ctdb_cluster_lock::LockReply;
use ctdb_clusterd::{caps, node_flags, Clusterd, ClusterdConfig, LockAction};
use ctdb_config::Tunables;
use ctdb_proto::{Body, Endpoint, Msg, Packet, ServiceId};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::invariants::{self, Invariant};
use crate::lock::{ClusterLock, LockConfig, LockEvent, LockStats, Owner};
use crate::net::{Net, NetConfig, NetStats};
use crate::trace::Trace;

/// Everything a simulation starts from besides its seed.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of nodes (pnn 0..nodes).
    pub nodes: usize,
    /// Whether a cluster lock is configured.
    pub with_lock: bool,
    /// `[cluster] leader timeout`.
    pub leader_timeout: Duration,
    /// The network's delays.
    pub net: NetConfig,
    /// The lock's delays and failure rate.
    pub lock: LockConfig,
    /// Keep this many trace lines (0: only the hash); for failure reports.
    pub trace_lines: usize,
}

impl SimConfig {
    /// `nodes` nodes with Samba's default leader timeout (5 s).
    pub fn new(nodes: usize, with_lock: bool) -> SimConfig {
        SimConfig {
            nodes,
            with_lock,
            leader_timeout: Duration::from_secs(5),
            net: NetConfig::default(),
            lock: LockConfig::default(),
            trace_lines: 0,
        }
    }
}

/// An invariant did not hold.
#[derive(Debug, Clone)]
pub struct Violation {
    /// Virtual time since the start.
    pub at: Duration,
    /// Steps taken when it was found.
    pub step: u64,
    /// Which invariant (or "liveness", "livelock").
    pub invariant: &'static str,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} violated at t={:.6}s (step {}): {}",
            self.invariant,
            self.at.as_secs_f64(),
            self.step,
            self.message
        )
    }
}

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Partitions (any split into groups).
    pub partitions: u64,
    /// Repairs of every partition and held link.
    pub repairs: u64,
    /// Node crashes.
    pub crashes: u64,
    /// Node restarts.
    pub restarts: u64,
    /// Links held.
    pub holds: u64,
    /// Links released.
    pub releases: u64,
    /// Drop faults (each loses what is in flight on one link and the next
    /// packets one way).
    pub drops: u64,
    /// Lock files removed under their holder.
    pub lock_losses: u64,
    /// Administrator actions: stop, continue, ban, unban.
    pub admin: u64,
}

impl FaultStats {
    /// All faults.
    pub fn total(&self) -> u64 {
        self.partitions
            + self.repairs
            + self.crashes
            + self.restarts
            + self.holds
            + self.releases
            + self.drops
            + self.lock_losses
            + self.admin
    }

    /// Add another run's counts.
    pub fn add(&mut self, o: &FaultStats) {
        self.partitions += o.partitions;
        self.repairs += o.repairs;
        self.crashes += o.crashes;
        self.restarts += o.restarts;
        self.holds += o.holds;
        self.releases += o.releases;
        self.drops += o.drops;
        self.lock_losses += o.lock_losses;
        self.admin += o.admin;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Net,
    Lock,
    Timer(u32),
}

struct Node {
    core: Option<Clusterd>,
    life: u64,
}

/// The simulation of one cluster.
///
/// Single-threaded and deterministic: all randomness comes from one
/// [`StdRng`] seeded from `seed`, time is virtual, and every queue is
/// ordered by (time, insertion number). Ties between sources go network,
/// lock, then node timers by pnn.
pub struct Sim {
    seed: u64,
    cfg: SimConfig,
    /// Real `Instant` captured once; the cores see `base + now`.
    base: Instant,
    now: Duration,
    rng: StdRng,
    nodes: Vec<Node>,
    net: Net,
    lock: ClusterLock,
    invariants: Vec<Box<dyn Invariant>>,
    issued: BTreeSet<u32>,
    trace: Trace,
    faults: FaultStats,
    steps: u64,
    local_notes: u64,
    /// Steps taken at the current instant, to catch a core whose timer
    /// never moves forward.
    same_instant: u64,
}

/// Steps at one virtual instant after which the run counts as livelocked.
const LIVELOCK_STEPS: u64 = 100_000;

fn node_addr(pnn: usize) -> Option<IpAddr> {
    Some(IpAddr::from([127, 0, 0, pnn as u8 + 1]))
}

impl Sim {
    /// `n` nodes, a cluster lock if `with_lock`, default delays. Every node
    /// starts at time 0 and the links come up a moment later.
    pub fn new(seed: u64, n: usize, with_lock: bool) -> Sim {
        Sim::with_config(seed, SimConfig::new(n, with_lock))
    }

    /// A simulation from an explicit configuration.
    pub fn with_config(seed: u64, cfg: SimConfig) -> Sim {
        let n = cfg.nodes;
        let mut sim = Sim {
            seed,
            base: Instant::now(),
            now: Duration::ZERO,
            rng: StdRng::seed_from_u64(seed),
            nodes: (0..n).map(|_| Node { core: None, life: 0 }).collect(),
            net: Net::new(n, cfg.net.clone()),
            lock: ClusterLock::new(cfg.lock.clone()),
            invariants: invariants::standard(),
            issued: BTreeSet::new(),
            trace: Trace::new(cfg.trace_lines),
            faults: FaultStats::default(),
            steps: 0,
            local_notes: 0,
            same_instant: 0,
            cfg,
        };
        for pnn in 0..n as u32 {
            sim.start_core(pnn);
        }
        // Every link comes up through the normal connect path.
        let (now, rng) = (sim.now, &mut sim.rng);
        sim.net.repair(now, rng);
        sim
    }

    /// The seed this run replays from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of node slots.
    pub fn n(&self) -> usize {
        self.nodes.len()
    }

    /// Virtual time since the start.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Whether a cluster lock is configured.
    pub fn with_lock(&self) -> bool {
        self.cfg.with_lock
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Node `pnn`'s core, if it is alive.
    pub fn core(&self, pnn: u32) -> Option<&Clusterd> {
        self.nodes.get(pnn as usize)?.core.as_ref()
    }

    /// Node `pnn`'s current life, if it is alive.
    pub fn owner(&self, pnn: u32) -> Option<Owner> {
        let node = self.nodes.get(pnn as usize)?;
        node.core.as_ref().map(|_| Owner { node: pnn, life: node.life })
    }

    /// Every live node with its core, by pnn.
    pub fn live(&self) -> impl Iterator<Item = (Owner, &Clusterd)> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.core.as_ref().map(|c| (Owner { node: i as u32, life: n.life }, c)))
    }

    /// Who holds the simulated cluster lock.
    pub fn lock_holder(&self) -> Option<Owner> {
        self.lock.holder()
    }

    /// Every generation a leader has started a recovery to.
    pub fn issued_generations(&self) -> &BTreeSet<u32> {
        &self.issued
    }

    /// The network (links, reachability, counters).
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Network counters.
    pub fn net_stats(&self) -> NetStats {
        self.net.stats()
    }

    /// Lock counters.
    pub fn lock_stats(&self) -> LockStats {
        self.lock.stats()
    }

    /// Fault counters.
    pub fn fault_stats(&self) -> FaultStats {
        self.faults
    }

    /// Packets to local services (gateway, transport) the cores emitted;
    /// the simulation only counts them.
    pub fn local_notes(&self) -> u64 {
        self.local_notes
    }

    /// Hash of every event so far: equal for two runs of one seed.
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    /// The kept trace lines (see [`SimConfig::trace_lines`]).
    pub fn trace_lines(&self) -> Vec<String> {
        self.trace.lines()
    }

    /// Process the next event (a packet or link notice, a lock answer, or
    /// a core's timer), then check every invariant. `Ok(false)`: nothing
    /// is scheduled any more.
    pub fn step(&mut self) -> Result<bool, Violation> {
        let Some((at, src)) = self.next_event() else { return Ok(false) };
        self.advance(at)?;
        match src {
            Source::Net => {
                let (now, rng) = (self.now, &mut self.rng);
                self.net.handle_timeout(now, rng);
                while let Some((to, p)) = self.net.poll_output() {
                    self.deliver(to, p);
                }
            }
            Source::Lock => {
                let (now, rng) = (self.now, &mut self.rng);
                self.lock.handle_timeout(now, rng);
                while let Some((who, ev)) = self.lock.poll_output() {
                    self.lock_event(who, ev);
                }
            }
            Source::Timer(pnn) => {
                self.trace.event(self.now, 3, pnn, 0, || format!("n{pnn} timer"));
                let t = self.instant();
                if let Some(core) = self.nodes[pnn as usize].core.as_mut() {
                    core.handle_timeout(t);
                }
                self.drain(pnn);
            }
        }
        self.check()?;
        Ok(true)
    }

    /// Run every event up to `now + d`, then move the clock there.
    pub fn run_for(&mut self, d: Duration) -> Result<(), Violation> {
        self.run_until(self.now + d)
    }

    /// Run every event due at or before `t`, then move the clock to `t`.
    pub fn run_until(&mut self, t: Duration) -> Result<(), Violation> {
        while let Some((at, _)) = self.next_event() {
            if at > t {
                break;
            }
            self.step()?;
        }
        self.advance(t.max(self.now))
    }

    /// Split the nodes into `groups` (a node in no group joins an extra
    /// one); nodes talk only within their group.
    pub fn partition(&mut self, groups: &[Vec<u32>]) -> Result<(), Violation> {
        self.faults.partitions += 1;
        self.fault(1, 0, || format!("PARTITION {groups:?}"));
        let (now, rng) = (self.now, &mut self.rng);
        self.net.partition(now, rng, groups);
        self.check()
    }

    /// Heal every partition and held link.
    pub fn repair(&mut self) -> Result<(), Violation> {
        self.faults.repairs += 1;
        self.fault(2, 0, || "REPAIR".to_string());
        let (now, rng) = (self.now, &mut self.rng);
        self.net.repair(now, rng);
        self.check()
    }

    /// Cut the single link between `a` and `b`.
    pub fn hold(&mut self, a: u32, b: u32) -> Result<(), Violation> {
        self.faults.holds += 1;
        self.fault(3, a << 16 | b, || format!("HOLD n{a}-n{b}"));
        let (now, rng) = (self.now, &mut self.rng);
        self.net.hold(now, rng, a, b);
        self.check()
    }

    /// Undo [`Sim::hold`].
    pub fn release(&mut self, a: u32, b: u32) -> Result<(), Violation> {
        self.faults.releases += 1;
        self.fault(4, a << 16 | b, || format!("RELEASE n{a}-n{b}"));
        let (now, rng) = (self.now, &mut self.rng);
        self.net.release(now, rng, a, b);
        self.check()
    }

    /// Lose what is in flight between `a` and `b`, and the next `next`
    /// packets `a` sends to `b`.
    pub fn drop_packets(&mut self, a: u32, b: u32, next: u32) -> Result<(), Violation> {
        self.faults.drops += 1;
        let n = self.net.drop_in_flight(a, b);
        self.net.drop_next(a, b, next);
        self.fault(5, a << 16 | b, || format!("DROP n{a}-n{b}: {n} in flight and the next {next} n{a}->n{b}"));
        self.check()
    }

    /// Node `x` dies: its core is dropped, its lock (if any) freed, its
    /// links go down for the others.
    pub fn crash(&mut self, x: u32) -> Result<(), Violation> {
        let Some(who) = self.owner(x) else { return Ok(()) };
        self.faults.crashes += 1;
        self.fault(6, x, || format!("CRASH n{x}"));
        self.nodes[x as usize].core = None;
        self.nodes[x as usize].life += 1;
        self.lock.crash(who);
        let (now, rng) = (self.now, &mut self.rng);
        self.net.crash(now, rng, x);
        self.check()
    }

    /// Node `x` comes back: a fresh core from the same configuration (new
    /// seed), activated; links come up to the nodes it can reach.
    pub fn restart(&mut self, x: u32) -> Result<(), Violation> {
        if self.nodes.get(x as usize).is_none_or(|n| n.core.is_some()) {
            return Ok(());
        }
        self.faults.restarts += 1;
        self.fault(7, x, || format!("RESTART n{x}"));
        self.nodes[x as usize].life += 1;
        self.start_core(x);
        let (now, rng) = (self.now, &mut self.rng);
        self.net.restart(now, rng, x);
        self.check()
    }

    /// The lock file is removed under its holder: the lock is free and the
    /// holder's helper exits (lock_lost).
    pub fn lose_lock(&mut self) -> Result<(), Violation> {
        let Some(who) = self.lock.lose() else { return Ok(()) };
        self.faults.lock_losses += 1;
        self.fault(8, who.node, || format!("LOCK LOST by n{}", who.node));
        while let Some((who, ev)) = self.lock.poll_output() {
            self.lock_event(who, ev);
        }
        self.check()
    }

    /// `ctdb stop` (`on`) or `ctdb continue` on node `x`, as its gateway
    /// asks its clusterd.
    pub fn set_stopped(&mut self, x: u32, on: bool) -> Result<(), Violation> {
        let (set, clear) = if on { (node_flags::STOPPED, 0) } else { (0, node_flags::STOPPED) };
        self.admin(x, if on { "STOP" } else { "CONTINUE" }, Msg::SetOwnFlags { set, clear })
    }

    /// `ctdb ban SECS` on node `x` (0: unban).
    pub fn ban(&mut self, x: u32, secs: u32) -> Result<(), Violation> {
        self.admin(x, if secs > 0 { "BAN" } else { "UNBAN" }, Msg::Ban { secs })
    }

    /// Node `x`'s own flags as it sees them (0 if it is down).
    pub fn own_flags(&self, x: u32) -> u32 {
        self.core(x).and_then(|c| c.state().nodes.get(x as usize)).map_or(0, |n| n.flags)
    }

    fn admin(&mut self, x: u32, what: &str, msg: Msg) -> Result<(), Violation> {
        if self.owner(x).is_none() {
            return Ok(());
        }
        self.faults.admin += 1;
        self.fault(9, x, || format!("{what} n{x}: {msg:?}"));
        let p =
            Packet::new(Endpoint::new(x, ServiceId::CLUSTERD), Endpoint::new(x, ServiceId::GATEWAY), 0, Body::Msg(msg));
        self.deliver(x, p);
        self.check()
    }

    /// Make lock helpers fail with probability `p`.
    pub fn set_lock_flaky(&mut self, p: f64) {
        self.lock.set_flaky(p);
    }

    /// End every fault: repair the network, release held links, restart
    /// every crashed node, continue stopped and unban banned ones (also
    /// those clusterd banned itself), make the lock reliable.
    pub fn heal(&mut self) -> Result<(), Violation> {
        self.set_lock_flaky(0.0);
        self.repair()?;
        for x in 0..self.n() as u32 {
            self.restart(x)?;
            if self.own_flags(x) & node_flags::STOPPED != 0 {
                self.set_stopped(x, false)?;
            }
            if self.own_flags(x) & node_flags::BANNED != 0 {
                self.ban(x, 0)?;
            }
        }
        Ok(())
    }

    /// A random number from the simulation's one generator (for schedules).
    pub(crate) fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// When the next event is due, if any.
    pub(crate) fn next_event_at(&self) -> Option<Duration> {
        self.next_event().map(|(t, _)| t)
    }

    fn instant(&self) -> Instant {
        self.base + self.now
    }

    fn next_event(&self) -> Option<(Duration, Source)> {
        let mut best: Option<(Duration, Source)> = None;
        let mut consider = |t: Duration, s: Source| {
            if best.is_none_or(|(bt, _)| t < bt) {
                best = Some((t, s));
            }
        };
        if let Some(t) = self.net.poll_timeout() {
            consider(t, Source::Net);
        }
        if let Some(t) = self.lock.poll_timeout() {
            consider(t, Source::Lock);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(t) = node.core.as_ref().and_then(|c| c.poll_timeout()) {
                // A timer already due fires now: time never goes back.
                consider(t.saturating_duration_since(self.base).max(self.now), Source::Timer(i as u32));
            }
        }
        best
    }

    fn advance(&mut self, t: Duration) -> Result<(), Violation> {
        if t > self.now {
            self.now = t;
            self.same_instant = 0;
            return Ok(());
        }
        self.same_instant += 1;
        if self.same_instant > LIVELOCK_STEPS {
            return Err(self.violation("livelock", format!("{LIVELOCK_STEPS} steps without time moving on")));
        }
        Ok(())
    }

    fn start_core(&mut self, pnn: u32) {
        let seed = self.rng.random::<u64>();
        let cfg = ClusterdConfig {
            databases: false,
            pnn,
            nodes: (0..self.n()).map(node_addr).collect(),
            tunables: Tunables::defaults(),
            cluster_lock: self.cfg.with_lock.then(|| "/cluster/.ctdb/reclock".to_string()),
            capabilities: caps::RECMASTER | caps::LMASTER,
            start_flags: 0,
            leader_timeout: self.cfg.leader_timeout,
            seed,
            wall_start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + self.now,
        };
        let now = self.instant();
        let mut core = Clusterd::new(now, cfg);
        core.activate(now);
        self.nodes[pnn as usize].core = Some(core);
        self.trace.event(self.now, 9, pnn, seed, || format!("n{pnn} started (core seed {seed})"));
        self.drain(pnn);
    }

    /// One packet (or link notice) for node `to`'s clusterd.
    fn deliver(&mut self, to: u32, p: Packet) {
        let from = p.header.src.node;
        let h = crate::trace::packet_hash(&p);
        self.trace.event(self.now, 1, to << 16 | (from & 0xffff), h, || {
            let what = match &p.body {
                Body::Msg(m) => format!("{m:?}"),
                other => format!("{other:?}"),
            };
            if p.header.src.service == ServiceId::TRANSPORT {
                format!("n{to} <- transport {what}")
            } else {
                format!("n{to} <- n{from} {what}")
            }
        });
        let t = self.instant();
        if let Some(core) = self.nodes[to as usize].core.as_mut() {
            core.dispatch(t, p);
        }
        self.drain(to);
    }

    fn lock_event(&mut self, who: Owner, ev: LockEvent) {
        let code = match ev {
            LockEvent::Reply(LockReply::Held) => 0,
            LockEvent::Reply(LockReply::Contended) => 1,
            LockEvent::Reply(LockReply::Timeout) => 2,
            LockEvent::Reply(LockReply::Error) => 3,
            LockEvent::Lost => 4,
        };
        self.trace.event(self.now, 2, who.node, code, || format!("n{} <- lock {ev:?}", who.node));
        if self.owner(who.node) != Some(who) {
            return;
        }
        let t = self.instant();
        if let Some(core) = self.nodes[who.node as usize].core.as_mut() {
            match ev {
                LockEvent::Reply(r) => core.lock_reply(t, r),
                LockEvent::Lost => core.lock_lost(t),
            }
        }
        self.drain(who.node);
    }

    /// Take everything the core of `pnn` wants done: packets onto the
    /// network, lock actions to the lock.
    fn drain(&mut self, pnn: u32) {
        let life = self.nodes[pnn as usize].life;
        let Some(core) = self.nodes[pnn as usize].core.as_mut() else { return };
        let before = self.trace.summary_of(pnn);
        while let Some(p) = core.poll_output() {
            if p.header.dst.service != ServiceId::CLUSTERD {
                // ClusterState and Leader notices for the node's own
                // gateway and transport: nothing here consumes them.
                self.local_notes += 1;
                continue;
            }
            if let Body::Msg(Msg::Recover { generation, .. }) = &p.body {
                self.issued.insert(*generation);
            }
            self.net.send(self.now, &mut self.rng, pnn, p);
        }
        let who = Owner { node: pnn, life };
        while let Some(a) = core.poll_lock() {
            self.trace.event(self.now, 4, pnn, a as u64, || format!("n{pnn} lock {a:?}"));
            match a {
                LockAction::Take => self.lock.take(self.now, &mut self.rng, who),
                LockAction::Release => self.lock.release(self.now, &mut self.rng, who),
            }
        }
        if self.trace.keeps_lines() {
            let st = core.state();
            let after = format!(
                "n{pnn} leader={:?} gen={} recmode={} runstate={} (lock holder {:?})",
                st.leader,
                st.generation,
                st.recmode,
                st.runstate,
                self.lock.holder().map(|o| o.node)
            );
            if before.as_deref() != Some(after.as_str()) {
                self.trace.set_summary(pnn, after.clone());
                self.trace.line(|| format!("{:>12.6}   {after}", self.now.as_secs_f64()));
            }
        }
    }

    fn fault(&mut self, code: u64, arg: u32, line: impl FnOnce() -> String) {
        self.trace.event(self.now, 10 + code, arg, 0, line);
    }

    fn check(&mut self) -> Result<(), Violation> {
        self.steps += 1;
        let mut invs = std::mem::take(&mut self.invariants);
        let mut result = Ok(());
        for inv in invs.iter_mut() {
            if let Err(message) = inv.check(self) {
                result = Err(self.violation(inv.name(), message));
                break;
            }
        }
        self.invariants = invs;
        result
    }

    pub(crate) fn violation(&self, invariant: &'static str, message: String) -> Violation {
        Violation { at: self.now, step: self.steps, invariant, message }
    }
}
