//! Deterministic simulation of the databased core.
//!
//! Three (sometimes four) [`Databased`] cores run over in-memory stores and
//! a simulated network: per-link FIFO, random delays, random interleaving
//! between links, simulated time driving every timer. The test plays
//! clusterd (cluster state, node flags, recoveries exactly as clusterd runs
//! them: startrecovery → DbFrozen from every participant → DbRecoverAll to
//! the leader's databased → DbRecoverDone → new generation in NORMAL mode)
//! and smbd (REQ_CALL with immediate migration through the gateway, then a
//! write under the chain lock straight into the node's store, header kept;
//! deletes are header-only writes followed by SCHEDULE_FOR_DELETION).
//!
//! Random steps: client writes and deletes on a handful of keys, DB_VACUUM,
//! crash (core and store dropped, packets to and from it lost), restart,
//! stop, continue, recovery. Checked throughout:
//!
//! - a value is never lost while its dmaster stays up: smbd on the dmaster
//!   always reads the last value written (unless the node holding it
//!   crashed or was stopped since), and so does every completed recovery;
//! - a key's rsn never goes backwards on its dmaster;
//! - at most one in-sync node claims to be a key's dmaster; after each
//!   recovery exactly one does (the key's lmaster), every copy holds the
//!   last value and every header names a participant;
//! - deleted records never come back, also when a node was stopped while
//!   they were deleted and vacuumed, and rejoined (Samba bug 14294).
//!
//! `CTDB_DBSIM_SEED=<n>` replays one seed with a trace; `CTDB_DBSIM_SEEDS`
//! sets how many seeds the default run covers.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use ctdb_databased::store::{MemBackend, SharedMem};
use ctdb_databased::{lmaster_of, Databased, INVALID_GENERATION};
use ctdb_legacy_proto::{
    call as callfn, flags as nflags, CString, DbVacuum, Frame, KeyData, LtdbHeader, Opcode, Packet as LPacket, ReqCall,
    ReqControl, Wire,
};
use ctdb_proto::{Body, ClusterState, Endpoint, Flags, Msg, NodeInfo, Packet, ServiceId};

const DB_NAME: &str = "sim_locking.tdb";
const NKEYS: usize = 5;
const DEFAULT_SEEDS: u64 = 1000;
/// Random steps per seed.
const STEPS: usize = 90;
/// Client operations in flight at most.
const MAX_OPS: usize = 6;

// ---- randomness ----

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so neighbouring seeds diverge at once.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// xorshift64*.
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            (self.next() >> 11) % n
        }
    }

    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        if v.is_empty() {
            None
        } else {
            Some(v[self.below(v.len() as u64) as usize])
        }
    }
}

// ---- the model ----

struct Node {
    core: Option<Databased>,
    backend: MemBackend,
    /// Bumped at crash and restart; packets of an older incarnation are lost.
    inc: u32,
    stopped: bool,
    /// The database's store, once attached (kept for the invariant checks).
    store: Option<SharedMem>,
    /// Took part in the last completed recovery and has not been stopped,
    /// crashed or restarted since: its store is authoritative.
    synced: bool,
    /// What this node's clusterd believes.
    view_generation: u32,
    view_vnnmap: Vec<u32>,
    view_recmode: u32,
    /// The core's poll_timeout in simulated µs, refreshed after every call
    /// into it.
    timer_us: Option<u64>,
}

impl Node {
    fn alive(&self) -> bool {
        self.core.is_some()
    }
    fn current(&self) -> bool {
        self.alive() && self.synced && !self.stopped
    }
}

struct Ev {
    src_inc: u32,
    dst_inc: u32,
    p: Packet,
}

/// What a key must read as.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// The last value written (empty: deleted or never written).
    Value(Vec<u8>),
    /// The node that held the last value crashed or was stopped.
    Unknown,
}

#[derive(Debug)]
enum OpState {
    /// REQ_CALL sent, reply awaited.
    Calling,
    /// Migration answered; smbd wants the chain lock.
    WantLock,
    /// smbd holds the chain lock and is about to write.
    Holding(LtdbHeader),
    /// The call failed (database not attached here yet): attach, then ask
    /// again a little later.
    Retry,
}

#[derive(Debug)]
struct ClientOp {
    node: u32,
    key: usize,
    delete: bool,
    reqid: u64,
    state: OpState,
    wake_us: u64,
    calls: u32,
}

struct Recovery {
    generation: u32,
    participants: Vec<u32>,
    vnnmap: Vec<u32>,
    leader: u32,
    waiting: BTreeSet<u32>,
    recovering: bool,
    started_us: u64,
}

#[derive(Default, Debug, Clone, Copy)]
struct Stats {
    writes: u64,
    deletes: u64,
    recoveries: u64,
    abandoned: u64,
    crashes: u64,
    stops: u64,
    recalls: u64,
    failed_calls: u64,
    checked_reads: u64,
    events: u64,
}

struct Sim {
    seed: u64,
    rng: Rng,
    t0: Instant,
    now_us: u64,
    nodes: Vec<Node>,
    queue: BTreeMap<(u64, u64), Ev>,
    seq: u64,
    fifo: HashMap<(u32, u32, u16, u16), u64>,
    tunables: Vec<u32>,
    db_id: u32,
    keys: Vec<Vec<u8>>,
    leader: u32,
    last_completed: u32,
    rec: Option<Recovery>,
    need_recovery: bool,
    /// Membership changes start recoveries (off in scripted scenarios).
    auto_recover: bool,
    ops: BTreeMap<u64, ClientOp>,
    next_id: u64,
    /// Control replies: reqid → (node, status).
    control_replies: BTreeMap<u64, i32>,
    expect: Vec<Expect>,
    max_rsn: Vec<u64>,
    values: u64,
    trace: Option<VecDeque<String>>,
    stats: Stats,
}

type Res = Result<(), String>;

macro_rules! trace {
    ($sim:expr, $($arg:tt)*) => {
        if $sim.trace.is_some() {
            let line = format!("{:>9}us {}", $sim.now_us, format!($($arg)*));
            if let Some(t) = $sim.trace.as_mut() {
                t.push_back(line);
                if t.len() > 20_000 {
                    t.pop_front();
                }
            }
        }
    };
}

fn tunables() -> Vec<u32> {
    let mut t = ctdb_config::Tunables::default().as_array().to_vec();
    let mut set = |name: &str, v: u32| {
        let def = ctdb_config::Tunables::def(name).expect("known tunable");
        t[def.slot] = v;
    };
    // Vacuum often, and do a full run every few, so deletions are cleaned
    // up within a seed's simulated time.
    set("VacuumInterval", 1);
    set("VacuumFastPathCount", 3);
    set("ControlTimeout", 5);
    t
}

fn shared(backend: &MemBackend) -> Option<SharedMem> {
    let map = backend.stores.lock().unwrap_or_else(|p| p.into_inner());
    map.get(DB_NAME).cloned()
}

/// A node's record of `key`.
fn record(backend: &MemBackend, key: &[u8]) -> Option<(LtdbHeader, Vec<u8>)> {
    let s = shared(backend)?;
    let g = s.0.lock().unwrap_or_else(|p| p.into_inner());
    let v = g.records.get(key)?;
    LtdbHeader::split(v).ok().map(|(h, d)| (h, d.to_vec()))
}

/// DB_ATTACH's argument: the name and its NUL.
fn db_name() -> Vec<u8> {
    CString(DB_NAME.to_string()).to_bytes()
}

/// rsn and dmaster of a stored value (little-endian ltdb header), decoded
/// by hand: the wire decoder is slow in a debug build and this runs after
/// every event (`quick_header_matches` checks the two agree).
fn quick_header(v: &[u8]) -> Option<(u64, u32)> {
    if v.len() < ctdb_legacy_proto::LTDB_HEADER_LEN {
        return None;
    }
    let rsn = u64::from_le_bytes(v[0..8].try_into().ok()?);
    let dmaster = u32::from_le_bytes(v[8..12].try_into().ok()?);
    Some((rsn, dmaster))
}

#[test]
fn quick_header_matches() {
    let h = LtdbHeader { rsn: 0x0102_0304_0506_0708, dmaster: 7, reserved1: 0, flags: 0x10000 };
    let v = h.join(b"data");
    assert_eq!(quick_header(&v), Some((h.rsn, h.dmaster)));
    assert_eq!(quick_header(&v[..10]), None);
}

fn show(v: &[u8]) -> String {
    if v.is_empty() {
        "<empty>".to_string()
    } else {
        String::from_utf8_lossy(v).into_owned()
    }
}

impl Sim {
    fn new(seed: u64, verbose: bool) -> Sim {
        let mut rng = Rng::new(seed);
        let n = if rng.chance(25) { 4 } else { 3 };
        let t0 = Instant::now();
        let nodes = (0..n).map(Sim::fresh_node).collect();
        Sim {
            seed,
            rng,
            t0,
            now_us: 0,
            nodes,
            queue: BTreeMap::new(),
            seq: 0,
            fifo: HashMap::new(),
            tunables: tunables(),
            db_id: ctdb_databased::hash::db_id(DB_NAME),
            keys: (0..NKEYS).map(|i| format!("key-{i}").into_bytes()).collect(),
            leader: 0,
            last_completed: INVALID_GENERATION,
            rec: None,
            need_recovery: false,
            auto_recover: true,
            ops: BTreeMap::new(),
            next_id: 1,
            control_replies: BTreeMap::new(),
            expect: vec![Expect::Value(Vec::new()); NKEYS],
            max_rsn: vec![0; NKEYS],
            values: 0,
            trace: verbose.then(VecDeque::new),
            stats: Stats::default(),
        }
    }

    fn fresh_node(pnn: u32) -> Node {
        let backend = MemBackend::default();
        Node {
            core: Some(Databased::new(pnn, Box::new(backend.clone()))),
            backend,
            inc: 0,
            store: None,
            stopped: false,
            synced: false,
            view_generation: INVALID_GENERATION,
            view_vnnmap: Vec::new(),
            view_recmode: 1,
            timer_us: None,
        }
    }

    fn now(&self) -> Instant {
        self.t0 + Duration::from_micros(self.now_us)
    }

    fn n(&self) -> u32 {
        self.nodes.len() as u32
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn fail(&self, msg: String) -> Res {
        Err(format!("{msg} (at {}us)", self.now_us))
    }

    // ---- network ----

    /// Queue `p` for delivery after a random delay, behind earlier packets
    /// on the same link.
    fn send(&mut self, p: Packet) {
        let (s, d) = (p.header.src, p.header.dst);
        let (Some(src), Some(dst)) = (self.nodes.get(s.node as usize), self.nodes.get(d.node as usize)) else {
            panic!("packet to or from an unknown node: {:?}", p.header);
        };
        let (src_inc, dst_inc) = (src.inc, dst.inc);
        let link = if s.node != d.node { (s.node, d.node, 0, 0) } else { (s.node, d.node, s.service.0, d.service.0) };
        let delay = match self.rng.below(100) {
            0..=59 => self.rng.below(300),
            60..=94 => 300 + self.rng.below(2000),
            _ => 2000 + self.rng.below(15_000),
        };
        let last = self.fifo.get(&link).copied().unwrap_or(0);
        let at = (self.now_us + delay).max(last);
        self.fifo.insert(link, at);
        self.seq += 1;
        self.queue.insert((at, self.seq), Ev { src_inc, dst_inc, p });
    }

    fn drain(&mut self, node: u32) {
        while let Some(p) = self.nodes[node as usize].core.as_mut().and_then(|c| c.poll_output()) {
            if p.header.src.node != node {
                panic!("node {node} sent a packet as {:?}", p.header.src);
            }
            self.send(p);
        }
        let t0 = self.t0;
        let n = &mut self.nodes[node as usize];
        n.timer_us = n.core.as_ref().and_then(|c| c.poll_timeout()).map(|t| {
            let ns = t.saturating_duration_since(t0).as_nanos();
            ns.div_ceil(1000) as u64
        });
    }

    fn send_core(&mut self, node: u32, from: ServiceId, reqid: u64, body: Body) {
        let p = Packet::new(Endpoint::new(node, ServiceId::DATABASED), Endpoint::new(node, from), reqid, body);
        self.send(p);
    }

    fn cluster_state(&self, node: u32) -> ClusterState {
        let me = &self.nodes[node as usize];
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut flags = 0;
                if !n.alive() {
                    flags |= nflags::DISCONNECTED;
                }
                if n.stopped {
                    flags |= nflags::STOPPED;
                }
                NodeInfo { pnn: i as u32, addr: None, flags }
            })
            .collect();
        ClusterState {
            pnn: node,
            nodes,
            runstate: ctdb_legacy_proto::runstate::RUNNING,
            capabilities: 0x30003,
            generation: me.view_generation,
            vnnmap: me.view_vnnmap.clone(),
            recmode: me.view_recmode,
            leader: Some(self.leader),
            tunables: self.tunables.clone(),
            cluster_lock: None,
            last_recovery: (0, 0, 0, 0),
        }
    }

    fn send_state(&mut self, node: u32) {
        if !self.nodes[node as usize].alive() {
            return;
        }
        let st = self.cluster_state(node);
        self.send_core(node, ServiceId::CLUSTERD, 0, Body::Msg(Msg::ClusterState(st)));
    }

    fn broadcast_state(&mut self) {
        for n in 0..self.n() {
            self.send_state(n);
        }
    }

    // ---- running ----

    /// When the next thing happens: a packet, a core timer or a client.
    fn next_time(&self) -> Option<u64> {
        let mut next = self.queue.keys().next().map(|k| k.0);
        let mut consider = |t: u64| {
            if next.is_none_or(|n| t < n) {
                next = Some(t);
            }
        };
        for n in &self.nodes {
            if let (Some(t), true) = (n.timer_us, n.alive()) {
                consider(t);
            }
        }
        for o in self.ops.values() {
            if !matches!(o.state, OpState::Calling) {
                consider(o.wake_us);
            }
        }
        next
    }

    fn run_until(&mut self, end_us: u64) -> Res {
        let mut spins = 0u32;
        while let Some(t) = self.next_time() {
            if t > end_us {
                break;
            }
            let before = self.now_us;
            self.now_us = self.now_us.max(t);
            if self.now_us == before {
                spins += 1;
                if spins > 100_000 {
                    return self.fail("no progress: the same instant keeps coming back".into());
                }
            } else {
                spins = 0;
            }
            self.step_once()?;
            self.check_always()?;
        }
        self.now_us = self.now_us.max(end_us);
        Ok(())
    }

    /// Handle everything due now: timers first, then one packet, then clients.
    fn step_once(&mut self) -> Res {
        let now = self.now();
        for i in 0..self.n() {
            let n = &self.nodes[i as usize];
            if n.alive() && n.timer_us.is_some_and(|t| t <= self.now_us) {
                if let Some(c) = self.nodes[i as usize].core.as_mut() {
                    c.handle_timeout(now);
                }
                self.drain(i);
            }
        }
        let due = self.queue.keys().next().is_some_and(|k| k.0 <= self.now_us);
        if due {
            if let Some((_, ev)) = self.queue.pop_first() {
                self.stats.events += 1;
                self.deliver(ev)?;
            }
        }
        let ids: Vec<u64> = self
            .ops
            .iter()
            .filter(|(_, o)| !matches!(o.state, OpState::Calling) && o.wake_us <= self.now_us)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.client_step(id)?;
        }
        Ok(())
    }

    fn deliver(&mut self, ev: Ev) -> Res {
        let (s, d) = (ev.p.header.src, ev.p.header.dst);
        let src_ok = self.nodes[s.node as usize].inc == ev.src_inc && self.nodes[s.node as usize].alive();
        let dst_ok = self.nodes[d.node as usize].inc == ev.dst_inc && self.nodes[d.node as usize].alive();
        if !src_ok || !dst_ok {
            return Ok(());
        }
        match d.service {
            ServiceId::DATABASED => {
                if self.trace.is_some() {
                    let what = describe(&ev.p);
                    trace!(self, "{} -> {}: {}", s.node, d.node, what);
                }
                let now = self.now();
                if let Some(c) = self.nodes[d.node as usize].core.as_mut() {
                    c.dispatch(now, ev.p);
                }
                self.drain(d.node);
                Ok(())
            }
            ServiceId::CLUSTERD => match ev.p.body {
                Body::Msg(m) => self.clusterd(d.node, m),
                other => self.fail(format!("clusterd on {} got {other:?}", d.node)),
            },
            ServiceId::GATEWAY => self.gateway(d.node, ev.p),
            other => self.fail(format!("packet to unexpected service {other:?}")),
        }
    }

    // ---- fake clusterd ----

    fn clusterd(&mut self, node: u32, m: Msg) -> Res {
        trace!(self, "clusterd {node} <- {m:?}");
        match m {
            Msg::DbFrozen { generation } => {
                let Some(r) = &mut self.rec else { return Ok(()) };
                if r.generation != generation || r.recovering {
                    return Ok(());
                }
                r.waiting.remove(&node);
                if r.waiting.is_empty() {
                    r.recovering = true;
                    let m = Msg::DbRecoverAll {
                        generation,
                        participants: r.participants.clone(),
                        vnnmap: r.vnnmap.clone(),
                    };
                    let leader = r.leader;
                    self.send_core(leader, ServiceId::CLUSTERD, 0, Body::Msg(m));
                }
                Ok(())
            }
            Msg::DbRecoverDone { generation, ok } => {
                let Some(r) = &self.rec else { return Ok(()) };
                if r.generation != generation || !r.recovering || node != r.leader {
                    return Ok(());
                }
                if !ok {
                    return self.fail(format!("database recovery to generation {generation} failed"));
                }
                self.recovery_done()
            }
            other => self.fail(format!("clusterd on {node}: unexpected {other:?}")),
        }
    }

    fn start_recovery(&mut self) {
        if let Some(r) = self.rec.take() {
            trace!(self, "recovery to {} abandoned", r.generation);
            self.stats.abandoned += 1;
        }
        let participants: Vec<u32> =
            (0..self.n()).filter(|&i| self.nodes[i as usize].alive() && !self.nodes[i as usize].stopped).collect();
        assert!(!participants.is_empty(), "no node left to recover");
        let generation = loop {
            let g = self.rng.next() as u32;
            if g > INVALID_GENERATION && g != self.last_completed {
                break g;
            }
        };
        // Any participant may lead, a just-restarted one too: the database
        // recovery must not depend on the leader's own history.
        let leader = participants[self.rng.below(participants.len() as u64) as usize];
        self.leader = leader;
        trace!(self, "recovery to {generation} starts: participants {participants:?}, leader {leader}");
        for &p in &participants {
            // clusterd enters recovery mode and tells databased; which of
            // the two it sees first varies.
            self.nodes[p as usize].view_recmode = 1;
            let state_first = self.rng.chance(50);
            if state_first {
                self.send_state(p);
            }
            let ev = Msg::RecoveryEvent { event: "startrecovery".into(), generation };
            self.send_core(p, ServiceId::CLUSTERD, 0, Body::Msg(ev));
            if !state_first {
                self.send_state(p);
            }
        }
        self.rec = Some(Recovery {
            generation,
            vnnmap: participants.clone(),
            waiting: participants.iter().copied().collect(),
            leader,
            participants,
            recovering: false,
            started_us: self.now_us,
        });
        self.need_recovery = false;
    }

    fn recovery_done(&mut self) -> Res {
        let Some(r) = self.rec.take() else { return Ok(()) };
        trace!(self, "recovery to {} done", r.generation);
        self.stats.recoveries += 1;
        for i in 0..self.n() {
            let node = &mut self.nodes[i as usize];
            if r.participants.contains(&i) {
                node.synced = true;
                node.view_generation = r.generation;
                node.view_vnnmap = r.vnnmap.clone();
                node.view_recmode = 0;
            } else {
                node.synced = false;
            }
        }
        self.last_completed = r.generation;
        self.check_after_recovery(&r)?;
        for &p in &r.participants {
            self.send_state(p);
        }
        Ok(())
    }

    /// A membership change: clusterd starts a recovery now or soon.
    fn membership_changed(&mut self) {
        self.broadcast_state();
        if !self.auto_recover {
            self.need_recovery = true;
            return;
        }
        if self.rec.is_some() || self.rng.chance(50) {
            self.start_recovery();
        } else {
            self.need_recovery = true;
        }
    }

    // ---- fake smbd ----

    fn client_call(&mut self, id: u64) {
        let reqid = self.new_id();
        let (node, key) = {
            let Some(op) = self.ops.get_mut(&id) else { return };
            op.reqid = reqid;
            op.state = OpState::Calling;
            op.calls += 1;
            (op.node, op.key)
        };
        let call = ReqCall {
            flags: callfn::IMMEDIATE_MIGRATION,
            db_id: self.db_id,
            callid: callfn::NULL_FUNC,
            hopcount: 0,
            key: self.keys[key].clone(),
            calldata: Vec::new(),
        };
        let bytes = Frame::new(LPacket::ReqCall(call), node, node, reqid as u32).encode(true);
        self.send_core(node, ServiceId::GATEWAY, reqid, Body::Legacy(bytes));
    }

    fn control(&mut self, node: u32, opcode: Opcode, data: Vec<u8>) -> u64 {
        let reqid = self.new_id();
        let c = ReqControl { opcode, srvid: 0, client_id: 0, flags: 0, data };
        let bytes = Frame::new(LPacket::ReqControl(c), node, node, reqid as u32).encode(true);
        self.send_core(node, ServiceId::GATEWAY, reqid, Body::Legacy(bytes));
        reqid
    }

    fn gateway(&mut self, node: u32, p: Packet) -> Res {
        if !p.header.flags.contains(Flags::REPLY) {
            // Messages for clients (traverse data): nobody listens here.
            return Ok(());
        }
        let Body::Legacy(bytes) = p.body else { return self.fail(format!("gateway {node}: non-legacy reply")) };
        let frame = match Frame::decode(&bytes) {
            Ok(f) => f,
            Err(e) => return self.fail(format!("gateway {node}: undecodable reply: {e}")),
        };
        let reqid = p.header.reqid;
        match frame.packet {
            LPacket::ReplyCall(r) => {
                let Some((&id, _)) = self.ops.iter().find(|(_, o)| o.reqid == reqid && o.node == node) else {
                    return self.fail(format!("gateway {node}: REPLY_CALL for unknown reqid {reqid}"));
                };
                trace!(self, "client op {id} on {node}: call answered, status {}", r.status);
                if r.status != 0 {
                    // As smbd: (re)attach the database, then try again.
                    self.stats.failed_calls += 1;
                    self.control(node, Opcode::DB_ATTACH, db_name());
                    let wake = self.now_us + 1000;
                    if let Some(op) = self.ops.get_mut(&id) {
                        op.state = OpState::Retry;
                        op.wake_us = wake;
                        if op.calls > 1000 {
                            return self.fail(format!("client op {id} on {node} failed 1000 times"));
                        }
                    }
                    return Ok(());
                }
                if let Some(op) = self.ops.get_mut(&id) {
                    op.state = OpState::WantLock;
                    op.wake_us = self.now_us;
                }
                Ok(())
            }
            LPacket::ReplyControl(r) => {
                trace!(self, "control {reqid} on {node}: status {} {:?}", r.status, r.errmsg);
                let status =
                    if r.status == 0 && r.data.len() == 4 && self.db_id.to_bytes() != r.data { -100 } else { r.status };
                self.control_replies.insert(reqid, status);
                Ok(())
            }
            other => self.fail(format!("gateway {node}: unexpected reply {:?}", other.operation())),
        }
    }

    fn start_op(&mut self, delete: bool) {
        if self.ops.len() >= MAX_OPS {
            return;
        }
        let candidates: Vec<u32> = (0..self.n()).filter(|&i| self.nodes[i as usize].current()).collect();
        let Some(node) = self.rng.pick(&candidates) else { return };
        let key = self.rng.below(NKEYS as u64) as usize;
        self.start_op_on(node, key, delete);
    }

    fn start_op_on(&mut self, node: u32, key: usize, delete: bool) {
        let id = self.new_id();
        trace!(self, "client op {id}: {} key {key} on node {node}", if delete { "delete" } else { "write" });
        self.ops.insert(id, ClientOp { node, key, delete, reqid: 0, state: OpState::Calling, wake_us: 0, calls: 0 });
        self.client_call(id);
    }

    /// smbd's side after the migration: take the chain lock (waiting while
    /// the database is frozen), check this node is the dmaster (else ask
    /// again), read, write, release.
    fn client_step(&mut self, id: u64) -> Res {
        let Some(op) = self.ops.get(&id) else { return Ok(()) };
        let (node, key_i, delete) = (op.node, op.key, op.delete);
        let key = self.keys[key_i].clone();
        if matches!(op.state, OpState::Retry) {
            self.client_call(id);
            return Ok(());
        }
        let Some(store) = shared(&self.nodes[node as usize].backend) else {
            return self.fail(format!("node {node} has no store for client op {id}"));
        };
        match op.state {
            OpState::Calling | OpState::Retry => Ok(()),
            OpState::WantLock => {
                let mut g = store.0.lock().unwrap_or_else(|p| p.into_inner());
                if g.all_locked || g.held.contains(&key) || g.locked.contains(&key) {
                    drop(g);
                    if let Some(op) = self.ops.get_mut(&id) {
                        op.wake_us = self.now_us + 300;
                    }
                    return Ok(());
                }
                let rec = g.records.get(&key).and_then(|v| LtdbHeader::split(v).ok().map(|(h, d)| (h, d.to_vec())));
                match rec {
                    Some((h, data)) if h.dmaster == node => {
                        g.held.insert(key.clone());
                        drop(g);
                        if self.nodes[node as usize].current() {
                            if let Expect::Value(v) = &self.expect[key_i] {
                                self.stats.checked_reads += 1;
                                if *v != data {
                                    return self.fail(format!(
                                        "value lost: node {node} is dmaster of key {key_i} (rsn {}) and reads {}, \
                                         expected {}",
                                        h.rsn,
                                        show(&data),
                                        show(v)
                                    ));
                                }
                            }
                        }
                        let hold = if self.rng.chance(50) { 0 } else { self.rng.below(3000) };
                        trace!(self, "client op {id}: locked key {key_i} on {node} (rsn {}), holds {hold}us", h.rsn);
                        if let Some(op) = self.ops.get_mut(&id) {
                            op.state = OpState::Holding(h);
                            op.wake_us = self.now_us + hold;
                        }
                        Ok(())
                    }
                    other => {
                        drop(g);
                        trace!(
                            self,
                            "client op {id}: key {key_i} on {node} not ours ({:?}); asking again",
                            other.map(|(h, _)| h.dmaster)
                        );
                        self.stats.recalls += 1;
                        if self.ops.get(&id).is_some_and(|o| o.calls > 200) {
                            return self.fail(format!("client op {id} asked 200 times without getting key {key_i}"));
                        }
                        self.client_call(id);
                        Ok(())
                    }
                }
            }
            OpState::Holding(h) => {
                self.values += 1;
                let data = if delete { Vec::new() } else { format!("s{}-v{}", self.seed, self.values).into_bytes() };
                {
                    let mut g = store.0.lock().unwrap_or_else(|p| p.into_inner());
                    g.records.insert(key.clone(), h.join(&data));
                    g.seqnum += 1;
                    g.held.remove(&key);
                }
                let current = self.nodes[node as usize].current();
                trace!(self, "client op {id}: node {node} wrote key {key_i} = {} (current {current})", show(&data));
                self.expect[key_i] = if current { Expect::Value(data) } else { Expect::Unknown };
                if !current {
                    self.max_rsn[key_i] = 0;
                }
                self.ops.remove(&id);
                if delete {
                    self.stats.deletes += 1;
                    let kd = KeyData { db_id: self.db_id, header: h, key };
                    self.control(node, Opcode::SCHEDULE_FOR_DELETION, kd.to_bytes());
                    if self.rng.chance(30) {
                        let full = self.rng.chance(50);
                        let v = DbVacuum { db_id: self.db_id, full_vacuum_run: full };
                        self.control(node, Opcode::DB_VACUUM, v.to_bytes());
                    }
                } else {
                    self.stats.writes += 1;
                }
                Ok(())
            }
        }
    }

    // ---- faults ----

    /// `node` is about to crash or leave: keys whose last value would not
    /// survive a recovery among the other in-sync nodes become unknown.
    /// Those nodes' copies are merged as recovery does (highest rsn wins,
    /// the dmaster's copy on a tie); records in flight are lost (a frozen
    /// node drops them after the recovery).
    fn forget_values_of(&mut self, node: u32) {
        for k in 0..NKEYS {
            let mut best: Option<(u64, bool)> = None;
            let mut winners: Vec<Vec<u8>> = Vec::new();
            for (i, n) in self.nodes.iter().enumerate() {
                if i as u32 == node || !n.current() {
                    continue;
                }
                let Some((h, data)) = record(&n.backend, &self.keys[k]) else { continue };
                let rank = (h.rsn, h.dmaster == i as u32);
                if best.is_none_or(|b| rank > b) {
                    best = Some(rank);
                    winners.clear();
                }
                if best == Some(rank) {
                    winners.push(data);
                }
            }
            // The rsn the next recovery continues from.
            self.max_rsn[k] = self.max_rsn[k].min(best.map_or(0, |b| b.0));
            let Expect::Value(v) = &self.expect[k] else { continue };
            let survives = if winners.is_empty() { v.is_empty() } else { winners.iter().all(|w| w == v) };
            if !survives {
                trace!(self, "key {k}: its value {} goes with node {node}", show(v));
                self.expect[k] = Expect::Unknown;
                self.max_rsn[k] = 0;
            }
        }
    }

    fn crash(&mut self, node: u32) {
        trace!(self, "CRASH node {node}");
        self.stats.crashes += 1;
        self.forget_values_of(node);
        let n = &mut self.nodes[node as usize];
        n.core = None;
        n.backend = MemBackend::default();
        n.store = None;
        n.inc += 1;
        n.stopped = false;
        n.synced = false;
        self.ops.retain(|_, o| o.node != node);
        self.membership_changed();
    }

    fn restart(&mut self, node: u32) {
        trace!(self, "RESTART node {node}");
        let inc = self.nodes[node as usize].inc + 1;
        let mut fresh = Sim::fresh_node(node);
        fresh.inc = inc;
        self.nodes[node as usize] = fresh;
        self.membership_changed();
    }

    fn stop(&mut self, node: u32) {
        trace!(self, "STOP node {node}");
        self.stats.stops += 1;
        self.forget_values_of(node);
        let n = &mut self.nodes[node as usize];
        n.stopped = true;
        n.synced = false;
        self.membership_changed();
    }

    fn cont(&mut self, node: u32) {
        trace!(self, "CONTINUE node {node}");
        self.nodes[node as usize].stopped = false;
        self.membership_changed();
    }

    // ---- invariants ----

    /// Checked after every event.
    fn check_always(&mut self) -> Res {
        // (rsn, dmaster) per node and key; plain loops and arrays, as this
        // runs after every event in a debug build.
        let mut heads = [[None; NKEYS]; 4];
        let mut present = [false; NKEYS];
        for (node, head) in self.nodes.iter_mut().zip(heads.iter_mut()) {
            if !node.current() {
                continue;
            }
            if node.store.is_none() {
                node.store = shared(&node.backend);
            }
            let Some(store) = &node.store else { continue };
            let g = store.0.lock().unwrap_or_else(|p| p.into_inner());
            for ((key, h), p) in self.keys.iter().zip(head.iter_mut()).zip(present.iter_mut()) {
                if let Some(v) = g.records.get(key) {
                    *p = true;
                    *h = quick_header(v);
                }
            }
        }
        for (max, p) in self.max_rsn.iter_mut().zip(present) {
            if !p {
                // Vacuumed away everywhere: the next copy starts over.
                *max = 0;
            }
        }
        if self.rec.is_some() {
            // While a recovery runs, nodes may hold the result of an
            // abandoned one, or of this one in part (all frozen); the
            // completed recovery is checked on its own.
            return Ok(());
        }
        for k in 0..NKEYS {
            let mut claim: Option<(u32, u64)> = None;
            for (i, h) in heads.iter().enumerate() {
                let Some((rsn, dmaster)) = h[k] else { continue };
                if dmaster != i as u32 {
                    continue;
                }
                if let Some(other) = claim {
                    return self.fail(format!(
                        "key {k}: nodes {other:?} and {:?} (node, rsn) both claim to be its dmaster",
                        (i, rsn)
                    ));
                }
                claim = Some((i as u32, rsn));
            }
            if let Some((node, rsn)) = claim {
                self.check_rsn(k, node, rsn)?;
            }
        }
        Ok(())
    }

    fn check_rsn(&mut self, k: usize, node: u32, rsn: u64) -> Res {
        if rsn < self.max_rsn[k] {
            return self.fail(format!(
                "rsn went backwards: node {node} is dmaster of key {k} with rsn {rsn}, seen {} before",
                self.max_rsn[k]
            ));
        }
        self.max_rsn[k] = rsn;
        Ok(())
    }

    /// Checked when a recovery completes (every participant still frozen).
    fn check_after_recovery(&mut self, r: &Recovery) -> Res {
        for k in 0..NKEYS {
            let key = self.keys[k].clone();
            let mut copies = Vec::new();
            for &p in &r.participants {
                if let Some((h, data)) = record(&self.nodes[p as usize].backend, &key) {
                    copies.push((p, h, data));
                }
            }
            for (p, h, _) in &copies {
                if !r.participants.contains(&h.dmaster) {
                    return self.fail(format!(
                        "after recovery to {}: node {p}'s copy of key {k} names dmaster {}, not a participant",
                        r.generation, h.dmaster
                    ));
                }
            }
            // Every participant may keep a copy (they all point at the
            // lmaster); exactly one, the lmaster's, is the dmaster's.
            let claims: Vec<u32> = copies.iter().filter(|(p, h, _)| h.dmaster == *p).map(|c| c.0).collect();
            let with_data = copies.iter().any(|c| !c.2.is_empty());
            if claims.len() > 1 || (with_data && claims.len() != 1) {
                return self.fail(format!(
                    "after recovery to {}: key {k} has copies on {:?} (node, dmaster), dmaster claims {claims:?}",
                    r.generation,
                    copies.iter().map(|c| (c.0, c.1.dmaster)).collect::<Vec<_>>(),
                ));
            }
            if let Some(&p) = claims.first() {
                let lm = lmaster_of(&r.vnnmap, &key);
                if lm != Some(p) {
                    return self.fail(format!("after recovery: node {p} is dmaster of key {k}, its lmaster is {lm:?}"));
                }
                let rsn = copies.iter().find(|c| c.0 == p).map_or(0, |c| c.1.rsn);
                self.check_rsn(k, p, rsn)?;
            }
            if let Expect::Value(v) = &self.expect[k] {
                for (p, h, data) in &copies {
                    if data != v {
                        let what = if v.is_empty() { "deleted record came back" } else { "value lost" };
                        return self.fail(format!(
                            "{what}: after recovery to {} node {p}'s copy of key {k} (dmaster {}, rsn {}) reads {}, \
                             expected {}",
                            r.generation,
                            h.dmaster,
                            h.rsn,
                            show(data),
                            show(v)
                        ));
                    }
                }
                if !v.is_empty() && claims.is_empty() {
                    return self.fail(format!(
                        "value lost: after recovery to {} no node has key {k}, expected {}",
                        r.generation,
                        show(v)
                    ));
                }
            }
        }
        Ok(())
    }

    // ---- the scenario ----

    /// The first recovery, and smbd attaching the database on every node
    /// (before it, sometimes: the attach then waits for the recovery).
    fn setup(&mut self) -> Res {
        self.broadcast_state();
        let early = self.rng.chance(50);
        let attach =
            |s: &mut Sim| -> Vec<u64> { (0..s.n()).map(|i| s.control(i, Opcode::DB_ATTACH, db_name())).collect() };
        let mut reqids = if early { attach(self) } else { Vec::new() };
        self.start_recovery();
        let end = self.now_us + 5_000_000;
        self.run_until_cond(end, |s| s.rec.is_none())?;
        if self.rec.is_some() {
            return self.fail("first recovery did not finish".into());
        }
        if !early {
            reqids = attach(self);
        }
        let end = self.now_us + 5_000_000;
        self.run_until_cond(end, |s| reqids.iter().all(|r| s.control_replies.contains_key(r)))?;
        for r in &reqids {
            match self.control_replies.get(r) {
                Some(0) => {}
                other => return self.fail(format!("DB_ATTACH answered {other:?}")),
            }
        }
        Ok(())
    }

    fn run_until_cond(&mut self, end_us: u64, cond: impl Fn(&Sim) -> bool) -> Res {
        while !cond(self) && self.now_us < end_us {
            let next = self.next_time().unwrap_or(end_us).min(end_us);
            self.run_until(next)?;
        }
        Ok(())
    }

    fn random_step(&mut self) -> Res {
        let alive_active: Vec<u32> =
            (0..self.n()).filter(|&i| self.nodes[i as usize].alive() && !self.nodes[i as usize].stopped).collect();
        let crashed: Vec<u32> = (0..self.n()).filter(|&i| !self.nodes[i as usize].alive()).collect();
        let stopped: Vec<u32> = (0..self.n()).filter(|&i| self.nodes[i as usize].stopped).collect();
        let current: Vec<u32> = (0..self.n()).filter(|&i| self.nodes[i as usize].current()).collect();
        match self.rng.below(100) {
            0..=44 => self.start_op(false),
            45..=59 => self.start_op(true),
            60..=64 => {
                if let Some(node) = self.rng.pick(&current) {
                    let full = self.rng.chance(50);
                    let v = DbVacuum { db_id: self.db_id, full_vacuum_run: full };
                    trace!(self, "DB_VACUUM on {node} (full {full})");
                    self.control(node, Opcode::DB_VACUUM, v.to_bytes());
                }
            }
            65..=68 => {
                if alive_active.len() > 1 {
                    if let Some(node) = self.rng.pick(&alive_active) {
                        self.crash(node);
                    }
                }
            }
            69..=72 => {
                if let Some(node) = self.rng.pick(&crashed) {
                    self.restart(node);
                }
            }
            73..=76 => {
                if alive_active.len() > 1 {
                    if let Some(node) = self.rng.pick(&alive_active) {
                        self.stop(node);
                    }
                }
            }
            77..=80 => {
                if let Some(node) = self.rng.pick(&stopped) {
                    self.cont(node);
                }
            }
            81..=85 => {
                if self.rec.is_none() {
                    trace!(self, "recovery requested");
                    self.start_recovery();
                }
            }
            _ => {
                let idle = 100_000 + self.rng.below(1_400_000);
                let end = self.now_us + idle;
                return self.run_until(end);
            }
        }
        if self.need_recovery && self.rec.is_none() && self.rng.chance(30) {
            self.start_recovery();
        }
        if let Some(r) = &self.rec {
            if self.now_us > r.started_us + 30_000_000 {
                return self.fail(format!("recovery to {} has not finished in 30 s", r.generation));
            }
        }
        let end = self.now_us + self.rng.below(4000);
        self.run_until(end)
    }

    /// Bring every node back, recover, and let every client finish.
    fn finish(&mut self) -> Res {
        for i in 0..self.n() {
            if self.nodes[i as usize].stopped {
                self.cont(i);
            } else if !self.nodes[i as usize].alive() && self.rng.chance(50) {
                self.restart(i);
            }
        }
        if self.rec.is_none() {
            self.start_recovery();
        }
        let end = self.now_us + 60_000_000;
        self.run_until_cond(end, |s| {
            s.rec.is_none()
                && s.ops.is_empty()
                && s.nodes.iter().all(|n| n.core.as_ref().is_none_or(|c| c.pending_calls() == 0))
        })?;
        if let Some(r) = &self.rec {
            return self.fail(format!("final recovery to {} did not finish", r.generation));
        }
        if !self.ops.is_empty() {
            let stuck: Vec<String> = self.ops.iter().map(|(id, o)| format!("{id}: {o:?}")).collect();
            return self.fail(format!("client operations never finished: {stuck:?}"));
        }
        // One more recovery: everything must survive it unchanged.
        self.start_recovery();
        let end = self.now_us + 10_000_000;
        self.run_until_cond(end, |s| s.rec.is_none())?;
        if self.rec.is_some() {
            return self.fail("last recovery did not finish".into());
        }
        Ok(())
    }

    fn run(&mut self) -> Res {
        self.setup()?;
        for _ in 0..STEPS {
            self.random_step()?;
        }
        self.finish()
    }
}

fn describe(p: &Packet) -> String {
    match &p.body {
        Body::Msg(Msg::Db(m)) => {
            let s = format!("{m:?}");
            if s.len() > 160 {
                format!("{}…", &s[..160])
            } else {
                s
            }
        }
        Body::Msg(Msg::ClusterState(st)) => format!(
            "ClusterState gen {} recmode {} vnnmap {:?} flags {:?}",
            st.generation,
            st.recmode,
            st.vnnmap,
            st.nodes.iter().map(|n| n.flags).collect::<Vec<_>>()
        ),
        Body::Msg(m) => format!("{m:?}"),
        Body::Legacy(b) => match Frame::decode(b) {
            Ok(f) => {
                let h = &f.header;
                let what = match &f.packet {
                    LPacket::ReqCall(c) => format!("REQ_CALL key {} hop {}", show(&c.key), c.hopcount),
                    LPacket::ReqDmaster(m) => {
                        format!(
                            "REQ_DMASTER key {} rsn {} new {} data {}",
                            show(&m.key),
                            m.rsn,
                            m.dmaster,
                            show(&m.data)
                        )
                    }
                    LPacket::ReplyDmaster(m) => {
                        format!("REPLY_DMASTER key {} rsn {} data {}", show(&m.key), m.rsn, show(&m.data))
                    }
                    LPacket::ReqMessage(m) => {
                        let recs = match ctdb_legacy_proto::RecBuffer::from_bytes(&m.data) {
                            Ok(b) => b
                                .records
                                .iter()
                                .map(|r| match r.split_header() {
                                    Ok((h, d)) => format!("{}:rsn{}/dm{}/{}", show(&r.key), h.rsn, h.dmaster, show(d)),
                                    Err(_) => show(&r.key),
                                })
                                .collect::<Vec<_>>()
                                .join(" "),
                            Err(e) => format!("bad batch: {e}"),
                        };
                        format!("REQ_MESSAGE srvid {:x}: {recs}", m.srvid)
                    }
                    other => format!("{:?}", other.operation()),
                };
                format!("[gen {} reqid {}] {what}", h.generation, h.reqid)
            }
            Err(e) => format!("undecodable legacy frame: {e}"),
        },
        Body::Keepalive => "keepalive".into(),
    }
}

fn run_seed(seed: u64, verbose: bool) -> Result<Stats, String> {
    let mut sim = Sim::new(seed, verbose);
    let r = catch_unwind(AssertUnwindSafe(|| sim.run()));
    let r = match r {
        Ok(r) => r,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {msg}"))
        }
    };
    if let Some(t) = &sim.trace {
        for line in t {
            eprintln!("{line}");
        }
    }
    r.map(|()| sim.stats)
}

/// Samba bug 14294, scripted: a node holding an old copy of a record is
/// stopped; meanwhile the record is deleted and vacuumed away on the
/// active nodes, and the node continues before any recovery has completed
/// without it. Its copy must not come back.
fn stopped_node_scenario(seed: u64, verbose: bool) -> Res {
    let mut sim = Sim::new(seed, verbose);
    sim.nodes.truncate(3);
    let r = catch_unwind(AssertUnwindSafe(|| -> Res {
        sim.setup()?;
        let k = 0;
        let lm = lmaster_of(&[0, 1, 2], &sim.keys[k]).expect("vnnmap");
        // The stopped node: not the lmaster (which does the vacuuming).
        let old = (lm + 1) % 3;
        let last = (lm + 2) % 3;
        for node in [old, lm, last] {
            sim.start_op_on(node, k, false);
            let end = sim.now_us + 2_000_000;
            sim.run_until_cond(end, |s| s.ops.is_empty())?;
        }
        let has_data =
            |s: &Sim, n: u32| record(&s.nodes[n as usize].backend, &s.keys[k]).is_some_and(|r| !r.1.is_empty());
        if !has_data(&sim, old) {
            return sim.fail(format!("node {old} kept no copy of the record"));
        }
        sim.auto_recover = false;
        sim.stop(old);
        sim.run_until(sim.now_us + 10_000)?;
        sim.start_op_on(last, k, true);
        let end = sim.now_us + 2_000_000;
        sim.run_until_cond(end, |s| s.ops.is_empty())?;
        // Vacuuming runs every second (a full run every third).
        let end = sim.now_us + 8_000_000;
        sim.run_until_cond(end, |s| {
            [lm, last].iter().all(|&n| record(&s.nodes[n as usize].backend, &s.keys[k]).is_none())
        })?;
        if [lm, last].iter().any(|&n| record(&sim.nodes[n as usize].backend, &sim.keys[k]).is_some()) {
            return sim.fail("the deleted record was not vacuumed on the active nodes".into());
        }
        if !has_data(&sim, old) {
            return sim.fail(format!("stopped node {old} lost its old copy"));
        }
        sim.cont(old);
        sim.start_recovery();
        let end = sim.now_us + 5_000_000;
        sim.run_until_cond(end, |s| s.rec.is_none())?;
        if sim.rec.is_some() {
            return sim.fail("recovery did not finish".into());
        }
        // check_after_recovery has compared every copy with "deleted".
        if (0..3).any(|n| has_data(&sim, n)) {
            return sim.fail("the deleted record came back".into());
        }
        Ok(())
    }));
    if let Some(t) = &sim.trace {
        for line in t {
            eprintln!("{line}");
        }
    }
    r.unwrap_or_else(|_| Err("panicked".into()))
}

#[test]
fn stopped_node_does_not_resurrect_deleted_records() {
    let seeds = match replay_seed() {
        Some(seed) => seed..seed + 1,
        None => 0..50,
    };
    for seed in seeds {
        if let Err(e) = stopped_node_scenario(seed, false) {
            let _ = stopped_node_scenario(seed, true);
            panic!("scenario seed {seed}: {e}");
        }
    }
}

/// The seed to replay (with a trace), from CTDB_DBSIM_SEED.
fn replay_seed() -> Option<u64> {
    let s = std::env::var("CTDB_DBSIM_SEED").ok()?;
    Some(s.trim().parse().expect("CTDB_DBSIM_SEED must be a number"))
}

#[test]
fn simulation() {
    if let Some(seed) = replay_seed() {
        match run_seed(seed, true) {
            Ok(stats) => eprintln!("seed {seed}: ok {stats:?}"),
            Err(e) => panic!("seed {seed} failed: {e}\nreplay with CTDB_DBSIM_SEED={seed}"),
        }
        return;
    }
    let seeds = std::env::var("CTDB_DBSIM_SEEDS").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(DEFAULT_SEEDS);
    let started = Instant::now();
    let mut total = Stats::default();
    let mut failures = Vec::new();
    for seed in 0..seeds {
        match run_seed(seed, false) {
            Ok(s) => {
                total.writes += s.writes;
                total.deletes += s.deletes;
                total.recoveries += s.recoveries;
                total.abandoned += s.abandoned;
                total.crashes += s.crashes;
                total.stops += s.stops;
                total.recalls += s.recalls;
                total.failed_calls += s.failed_calls;
                total.checked_reads += s.checked_reads;
                total.events += s.events;
            }
            Err(e) => {
                eprintln!("seed {seed} failed: {e}\n  replay with CTDB_DBSIM_SEED={seed}");
                failures.push(seed);
                if failures.len() >= 10 {
                    break;
                }
            }
        }
    }
    eprintln!("{seeds} seeds in {:?}: {total:?}", started.elapsed());
    assert!(failures.is_empty(), "failing seeds: {failures:?} (replay with CTDB_DBSIM_SEED=<seed>)");
}
