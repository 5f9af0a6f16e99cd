//! The databased core: sans-IO apart from the local stores it is given.
//!
//! Inputs are internal packets (from the local gateway: database controls
//! and clients' REQ_CALLs as legacy frames; from other nodes' databased:
//! migration traffic as legacy frames and coordination as [`DbMsg`]; from
//! clusterd: the cluster state and recovery steps) and timer ticks. Outputs
//! are internal packets, drained with [`Databased::poll_output`].
//!
//! Record access follows CTDB: every record has an lmaster (fixed by the
//! key's hash and the vnnmap) that always knows which node is the record's
//! dmaster (holds the current copy). A call for a record this node is not
//! dmaster of goes to the dmaster it believes in; a node that is not the
//! dmaster forwards it; the dmaster answers, or, to migrate, hands the
//! record to the lmaster (REQ_DMASTER), which passes it on to the new
//! dmaster (REPLY_DMASTER). See `call.rs`.

mod attach;
mod call;
mod controls;
mod db_freeze;
mod persistent;
mod readonly;
mod recovery;
mod sticky;
mod traverse;
mod vacuum;
mod work;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ctdb_legacy_proto::{
    flags as nflags, Frame, Header, LtdbHeader, Operation, Packet as LPacket, ReplyCall, ReplyControl, CTDB_MAGIC,
    CTDB_PROTOCOL,
};
use ctdb_proto::{Body, ClusterState, DbMsg, Endpoint, Flags, Msg, Packet, ServiceId};
use tracing::{debug, warn};

use crate::store::{Backend, DbKind, Store};

pub use work::{LockAction, Work, ESCALATE_AFTER};

/// Generation before the first recovery.
pub const INVALID_GENERATION: u32 = 1;

/// Data generation of a node whose copies no recovery may use (0 is never
/// a generation).
pub(crate) const STALE_DATA: u32 = 0;

/// Tunables the core reads, by name (their slots come from the config
/// crate's table).
pub(crate) mod slot {
    pub const CONTROL_TIMEOUT: &str = "ControlTimeout";
    pub const TRAVERSE_TIMEOUT: &str = "TraverseTimeout";
    pub const SEQNUM_INTERVAL: &str = "SeqnumInterval";
    pub const VACUUM_INTERVAL: &str = "VacuumInterval";
    pub const FETCH_COLLAPSE: &str = "FetchCollapse";
    pub const ALLOW_CLIENT_DB_ATTACH: &str = "AllowClientDBAttach";
    pub const VACUUM_FAST_PATH_COUNT: &str = "VacuumFastPathCount";
}

/// One attached database.
pub struct Db {
    /// Database id (jenkins hash of the name with its NUL).
    pub id: u32,
    /// Name, e.g. `locking.tdb`.
    pub name: String,
    /// Volatile, persistent or replicated.
    pub kind: DbKind,
    /// Path of the local file.
    pub path: PathBuf,
    pub(crate) store: Box<dyn Store>,
    /// Attach order (GET_DBMAP lists the newest first).
    pub(crate) attached_at: u64,
    pub(crate) readonly: bool,
    pub(crate) sticky: bool,
    pub(crate) seqnum_enabled: bool,
    pub(crate) last_seqnum: i32,
    /// Sticky records and until when they are sticky.
    pub(crate) sticky_keys: HashMap<Vec<u8>, Instant>,
    /// Sticky records pinned to this node, and until when.
    pub(crate) pinned: HashMap<Vec<u8>, Instant>,
    /// Keys Samba scheduled for deletion (SCHEDULE_FOR_DELETION).
    pub(crate) delete_queue: BTreeMap<Vec<u8>, ()>,
    pub(crate) stats: DbStats,
    /// Why a persistent database is unhealthy (DB_GET_HEALTH); `None` when
    /// healthy.
    pub(crate) unhealthy: Option<String>,
    /// A persistent database changed here other than by a replicated
    /// commit since the last recovery (a `wipedb`/`restoredb` transaction,
    /// a commit that failed to apply): the next recovery rewrites it even
    /// if its sequence number is the newest.
    pub(crate) bulk_changed: bool,
    /// Digest of the bulk transactions (DB_TRANSACTION_COMMIT) this copy
    /// went through since the last recovery; 0 for none. Nodes that
    /// committed the same ones hold the same contents.
    pub(crate) bulk_digest: u64,
    /// Set while the database alone is frozen (DB_FREEZE: `ctdb wipedb`,
    /// `restoredb`).
    pub(crate) freeze: Option<db_freeze::DbFreeze>,
}

impl Db {
    /// A recovery left this copy equal to the others: nothing changed in
    /// bulk since, no digest of bulk transactions to compare.
    pub(crate) fn same_as_cluster(&mut self) {
        self.bulk_changed = false;
        self.bulk_digest = 0;
    }
}

/// Per-database counters (GET_DB_STATISTICS).
#[derive(Debug, Default, Clone)]
pub struct DbStats {
    /// Chain locks taken.
    pub lock_calls: u32,
    /// Chain-lock attempts that found the lock busy and were queued.
    pub lock_waits: u32,
    /// Requests waiting for a chain lock now.
    pub lock_pending: u32,
    /// Hop counts of forwarded calls, in power-of-two buckets.
    pub hop_buckets: [u32; 16],
    /// Calls that had to go to another node, by key (bounded).
    pub remote_calls: HashMap<Vec<u8>, u32>,
    /// Vacuum runs.
    pub vacuum_runs: u32,
    /// Read-only copies handed out.
    pub ro_delegations: u32,
    /// Revocations of read-only copies.
    pub ro_revokes: u32,
}

impl DbStats {
    pub(crate) fn hop(&mut self, hops: u32) {
        let b = (32 - hops.leading_zeros()).min(15) as usize;
        self.hop_buckets[b] += 1;
    }

    pub(crate) fn remote_call(&mut self, key: &[u8]) {
        // Bounded: a workload touching many keys resets the table rather
        // than growing it without limit.
        if self.remote_calls.len() >= 4096 && !self.remote_calls.contains_key(key) {
            self.remote_calls.clear();
        }
        *self.remote_calls.entry(key.to_vec()).or_insert(0) += 1;
    }

    /// The (up to) ten hottest keys, hottest first.
    pub fn hot_keys(&self) -> Vec<(Vec<u8>, u32)> {
        let mut v: Vec<(Vec<u8>, u32)> = self.remote_calls.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(10);
        v
    }
}

/// A client call being served by this node (the call's origin).
#[derive(Debug, Clone)]
pub(crate) struct OriginCall {
    /// Gateway endpoint and its reqid, to route the reply; `None` for the
    /// daemon's own calls (vacuuming pulls records to the lmaster).
    pub reply_to: Option<(Endpoint, u64)>,
    pub db_id: u32,
    pub key: Vec<u8>,
    pub callid: u32,
    pub flags: u32,
    /// Sent to another node and not answered yet.
    pub in_flight: bool,
    /// The client wants a read-only copy (WANT_READONLY on a read-only
    /// database): the remote call is FETCH_WITH_HEADER.
    pub readonly: bool,
}

/// Whole-database freeze for a recovery.
#[derive(Debug, Clone)]
pub(crate) struct Freeze {
    /// Recovery generation (0: frozen because this node is inactive).
    pub generation: u32,
    /// Databases whose whole-file lock we hold.
    pub locked: Vec<u32>,
    /// Whether clusterd was told.
    pub reported: bool,
}

/// The databased core of one node.
pub struct Databased {
    pnn: u32,
    backend: Box<dyn Backend>,
    state: Option<ClusterState>,
    /// Generation calls are tagged with (adopted at thaw).
    generation: u32,
    /// Generation this node's database contents are valid for: set when a
    /// recovery this node took part in completes. A node whose contents are
    /// older (it was stopped, banned or cut off meanwhile) contributes
    /// nothing to the next recovery, so deleted records cannot come back.
    data_generation: u32,
    /// How many recoveries led to this node's contents (generations are
    /// random, so this is what orders them).
    data_epoch: u64,
    pub(crate) dbs: BTreeMap<u32, Db>,
    attach_counter: u64,
    calls: HashMap<u32, OriginCall>,
    next_call: u32,
    /// Collapsing: the call in flight for (db, key), and calls waiting on it.
    inflight: HashMap<(u32, Vec<u8>), u32>,
    collapsed: HashMap<u32, Vec<u32>>,
    /// Work waiting for a chain lock, in arrival order.
    lockq: VecDeque<Work>,
    lock_retry_at: Option<Instant>,
    lock_backoff: Duration,
    /// Set while a recovery runs (or this node is inactive).
    frozen: Option<Freeze>,
    /// Work that arrived while frozen.
    held: Vec<Work>,
    /// When databases waiting for DB_FREEZE try their lock again.
    db_freeze_retry_at: Option<Instant>,
    /// TRANS3_COMMITs being replicated.
    commits: persistent::Commits,
    /// Revocations of read-only delegations in progress.
    revocations: readonly::Revocations,
    /// Migrations of pinned-down sticky records, held until the pin ends.
    pindown_wait: Vec<(Instant, Work)>,
    /// Lock helper processes for records smbd keeps busy.
    helpers: work::Helpers,
    /// DB_ATTACH requests deferred until recovery ends / startup.
    deferred_attach: Vec<attach::Deferred>,
    recovery: recovery::RecoveryState,
    traverse: traverse::TraverseState,
    vacuum: vacuum::VacuumState,
    next_seqnum_check: Option<Instant>,
    out: VecDeque<Packet>,
}

impl Databased {
    /// A core for node `pnn` opening stores through `backend`.
    pub fn new(pnn: u32, backend: Box<dyn Backend>) -> Databased {
        Databased {
            pnn,
            backend,
            state: None,
            generation: INVALID_GENERATION,
            data_generation: INVALID_GENERATION,
            data_epoch: 0,
            dbs: BTreeMap::new(),
            attach_counter: 0,
            calls: HashMap::new(),
            next_call: 1,
            inflight: HashMap::new(),
            collapsed: HashMap::new(),
            lockq: VecDeque::new(),
            lock_retry_at: None,
            lock_backoff: Duration::from_micros(100),
            frozen: None,
            held: Vec::new(),
            db_freeze_retry_at: None,
            commits: persistent::Commits::default(),
            revocations: readonly::Revocations::default(),
            pindown_wait: Vec::new(),
            helpers: work::Helpers::default(),
            deferred_attach: Vec::new(),
            recovery: recovery::RecoveryState::default(),
            traverse: traverse::TraverseState::default(),
            vacuum: vacuum::VacuumState::default(),
            next_seqnum_check: None,
            out: VecDeque::new(),
        }
    }

    /// This node.
    pub fn pnn(&self) -> u32 {
        self.pnn
    }

    /// The attached databases.
    pub fn databases(&self) -> impl Iterator<Item = &Db> {
        self.dbs.values()
    }

    /// Whether the databases are frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// Client calls not answered yet.
    pub fn pending_calls(&self) -> usize {
        self.calls.len()
    }

    /// Next packet to send.
    pub fn poll_output(&mut self) -> Option<Packet> {
        self.out.pop_front()
    }

    /// When [`Databased::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.lock_retry_at,
            self.next_seqnum_check,
            self.vacuum.poll_timeout(),
            self.traverse.poll_timeout(),
            self.pindown_timeout(),
            self.deferred_attach_timeout(),
            self.commits.poll_timeout(),
            self.db_freeze_retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Timers: chain-lock retries, freeze retries, seqnum polling,
    /// vacuuming, traverse deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.lock_retry_at.is_some_and(|t| t <= now) {
            self.lock_retry_at = None;
            self.retry_locks(now);
        }
        if self.frozen.as_ref().is_some_and(|f| !f.reported && f.generation != 0) {
            self.try_freeze(now);
        }
        if self.next_seqnum_check.is_some_and(|t| t <= now) {
            self.seqnum_tick(now);
        }
        if self.db_freeze_retry_at.is_some_and(|t| t <= now) {
            self.retry_db_freezes(now);
        }
        self.pindown_tick(now);
        self.expire_deferred_attaches(now);
        self.commit_tick(now);
        self.vacuum_tick(now);
        self.traverse_tick(now);
    }

    /// One packet from the transport.
    pub fn dispatch(&mut self, now: Instant, p: Packet) {
        let from = p.header.src;
        let reqid = p.header.reqid;
        let is_reply = p.header.flags.contains(Flags::REPLY);
        match p.body {
            Body::Msg(Msg::ClusterState(st)) => self.cluster_state(now, st),
            Body::Msg(Msg::RecoveryEvent { event, generation }) => {
                if event == "startrecovery" {
                    self.freeze(now, generation);
                }
            }
            Body::Msg(Msg::DbRecoverAll { generation, participants, vnnmap }) => {
                self.recover_all(now, generation, participants, vnnmap)
            }
            Body::Msg(Msg::Db(m)) => self.db_msg(now, from, m),
            Body::Legacy(bytes) if from.service == ServiceId::GATEWAY && !is_reply => {
                self.gateway_request(now, from, reqid, &bytes)
            }
            Body::Legacy(bytes) => self.node_packet(now, from, &bytes),
            other => debug!("databased: unexpected packet {other:?}"),
        }
    }

    fn db_msg(&mut self, now: Instant, from: Endpoint, m: DbMsg) {
        match m {
            DbMsg::Attach(desc) => self.remote_attach(now, desc),
            DbMsg::Detach { db_id } => self.detach_local(db_id),
            DbMsg::UpdateSeqnum { db_id } => {
                if let Some(db) = self.dbs.get_mut(&db_id) {
                    db.store.enable_seqnum();
                    bump_seqnum(db);
                }
            }
            DbMsg::TraverseAll { db_id, traverse_id, with_empty } => {
                self.traverse_local(from.node, db_id, traverse_id, with_empty)
            }
            DbMsg::TraverseDone { traverse_id, records } => self.traverse_done(now, from.node, traverse_id, records),
            DbMsg::TryDelete { db_id, records } => self.try_delete(from.node, db_id, records),
            DbMsg::TryDeleteResult { db_id, kept } => self.try_delete_result(now, from.node, db_id, kept),
            DbMsg::VacuumFetch { db_id, records } => self.vacuum_fetch(now, db_id, records),
            DbMsg::Revoke { db_id, key } => self.submit(now, Work::Revoke { from: from.node, db_id, key }),
            DbMsg::Revoked { db_id, key } => self.revoked(now, from.node, db_id, key),
            DbMsg::Committed { db_id: _, commit_id, ok } => self.committed(from.node, commit_id, ok),
            other => self.recovery_msg(now, from, other),
        }
    }

    /// A legacy frame from the local gateway: a database control or a
    /// client's REQ_CALL.
    fn gateway_request(&mut self, now: Instant, gw: Endpoint, reqid: u64, bytes: &[u8]) {
        let frame = match Frame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                warn!("databased: malformed request from the gateway: {e}");
                return;
            }
        };
        match frame.packet {
            LPacket::ReqControl(c) => self.control(now, gw, reqid, frame.header.srcnode, c),
            LPacket::ReqCall(c) => self.client_call(now, gw, reqid, c),
            // Records of a DB_PUSH, sent by a tool to the push's srvid.
            LPacket::ReqMessage(m) => self.push_message(m.srvid, &m.data),
            other => warn!("databased: unexpected {:?} from the gateway", other.operation()),
        }
    }

    /// A legacy frame from another node's databased (or our own, for
    /// records sent to ourselves during recovery).
    fn node_packet(&mut self, now: Instant, from: Endpoint, bytes: &[u8]) {
        let frame = match Frame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                warn!("databased: node {} sent a malformed packet: {e}", from.node);
                return;
            }
        };
        let h = frame.header;
        match frame.packet {
            LPacket::ReqCall(c) => self.submit(now, Work::Remote { hdr: h, call: c }),
            LPacket::ReqDmaster(m) => self.submit(now, Work::ReqDmaster { hdr: h, m }),
            LPacket::ReplyDmaster(m) => self.submit(now, Work::ReplyDmaster { hdr: h, m }),
            LPacket::ReplyCall(r) => self.reply_call(now, &h, r),
            LPacket::ReplyError(e) => self.reply_error(now, &h, e),
            LPacket::ReqMessage(m) => self.batch(now, from.node, &h, m.srvid, &m.data),
            other => warn!("databased: unexpected {:?} from node {}", other.operation(), from.node),
        }
    }

    fn cluster_state(&mut self, now: Instant, st: ClusterState) {
        let me_inactive = st.nodes.get(self.pnn as usize).is_some_and(|n| n.flags & nflags::INACTIVE != 0);
        let running = st.runstate >= ctdb_legacy_proto::runstate::STARTUP;
        let normal = st.recmode == 0;
        let thaw_now =
            self.frozen.as_ref().is_some_and(|f| f.generation != 0 && f.generation == st.generation) && normal;
        if self.next_seqnum_check.is_none() {
            self.next_seqnum_check = Some(now + Duration::from_secs(1));
        }
        if self.state.is_none() {
            // First news from clusterd, before any recovery: the persistent
            // databases on disk take part in it whoever attaches them.
            self.attach_existing_persistent(now);
        }
        self.vacuum.ensure_scheduled(now, &st);
        self.state = Some(st);
        if me_inactive {
            // A stopped or banned node serves nobody, and vacuuming on the
            // others no longer asks it: its copies are out of date from now
            // on, even if it comes back before the next recovery completes
            // (else records deleted meanwhile would return, bug 14294).
            self.data_generation = STALE_DATA;
        }
        if thaw_now {
            self.thaw(now);
        } else if me_inactive && self.frozen.is_none() {
            self.freeze(now, 0);
        }
        if normal && running && self.frozen.is_none() {
            self.release_deferred_attaches(now);
        }
    }

    // ---- helpers shared by the modules ----

    pub(crate) fn tunable(&self, name: &str, default: u32) -> u32 {
        tunable_in(self.state.as_ref(), name).unwrap_or(default)
    }

    pub(crate) fn vnnmap(&self) -> &[u32] {
        self.state.as_ref().map_or(&[], |s| s.vnnmap.as_slice())
    }

    /// lmaster of `key` under the current vnnmap (this node when there is
    /// no vnnmap yet).
    pub(crate) fn lmaster(&self, key: &[u8]) -> u32 {
        lmaster_of(self.vnnmap(), key).unwrap_or(self.pnn)
    }

    /// Active nodes (not inactive, not deleted) in pnn order.
    pub(crate) fn active_nodes(&self) -> Vec<u32> {
        self.state.as_ref().map_or_else(Vec::new, |s| {
            s.nodes.iter().filter(|n| n.flags & nflags::INACTIVE == 0).map(|n| n.pnn).collect()
        })
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.pnn, ServiceId::DATABASED)
    }

    /// Send a [`DbMsg`] to databased on `node`.
    pub(crate) fn send_db(&mut self, node: u32, m: DbMsg) {
        let p = Packet::new(Endpoint::new(node, ServiceId::DATABASED), self.endpoint(), 0, Body::Msg(Msg::Db(m)));
        self.out.push_back(p);
    }

    /// Send a message to clusterd on this node.
    pub(crate) fn send_clusterd(&mut self, m: Msg) {
        let p = Packet::new(Endpoint::new(self.pnn, ServiceId::CLUSTERD), self.endpoint(), 0, Body::Msg(m));
        self.out.push_back(p);
    }

    /// Legacy header for a node-to-node packet.
    pub(crate) fn lheader(&self, op: Operation, destnode: u32, srcnode: u32, reqid: u32) -> Header {
        Header {
            length: 0,
            magic: CTDB_MAGIC,
            version: CTDB_PROTOCOL,
            generation: self.generation,
            operation: op,
            destnode,
            srcnode,
            reqid,
        }
    }

    /// Send a legacy frame to databased on `node`.
    pub(crate) fn send_frame(&mut self, node: u32, header: Header, packet: LPacket) {
        let bytes = Frame { header, packet }.encode(true);
        self.send_frame_bytes(node, bytes);
    }

    /// Send an encoded legacy frame to databased on `node`.
    pub(crate) fn send_frame_bytes(&mut self, node: u32, bytes: Vec<u8>) {
        let p = Packet::new(Endpoint::new(node, ServiceId::DATABASED), self.endpoint(), 0, Body::Legacy(bytes));
        self.out.push_back(p);
    }

    /// Answer a control the gateway passed us.
    pub(crate) fn reply_control(&mut self, gw: Endpoint, reqid: u64, r: ReplyControl) {
        let h = self.lheader(Operation::REPLY_CONTROL, 0, self.pnn, 0);
        let bytes = Frame { header: h, packet: LPacket::ReplyControl(r) }.encode(true);
        let mut p = Packet::new(gw, self.endpoint(), reqid, Body::Legacy(bytes));
        p.header.flags = Flags::REPLY;
        self.out.push_back(p);
    }

    /// Answer a client's REQ_CALL through the gateway.
    pub(crate) fn reply_to_client(&mut self, to: Option<(Endpoint, u64)>, r: ReplyCall) {
        let Some((gw, reqid)) = to else { return };
        let h = self.lheader(Operation::REPLY_CALL, 0, self.pnn, 0);
        let bytes = Frame { header: h, packet: LPacket::ReplyCall(r) }.encode(true);
        let mut p = Packet::new(gw, self.endpoint(), reqid, Body::Legacy(bytes));
        p.header.flags = Flags::REPLY;
        self.out.push_back(p);
    }

    /// Deliver a message to local clients registered for `srvid`.
    pub(crate) fn message_to_clients(&mut self, srvid: u64, data: Vec<u8>) {
        let h = self.lheader(Operation::REQ_MESSAGE, self.pnn, self.pnn, 0);
        let bytes = Frame { header: h, packet: LPacket::ReqMessage(ctdb_legacy_proto::ReqMessage { srvid, data }) }
            .encode(true);
        let gw = Endpoint::new(self.pnn, ServiceId::GATEWAY);
        self.out.push_back(Packet::new(gw, self.endpoint(), 0, Body::Legacy(bytes)));
    }

    fn seqnum_tick(&mut self, now: Instant) {
        let interval = Duration::from_millis(u64::from(self.tunable(slot::SEQNUM_INTERVAL, 1000).max(10)));
        self.next_seqnum_check = Some(now + interval);
        let mut changed = Vec::new();
        for db in self.dbs.values_mut() {
            if !db.seqnum_enabled {
                continue;
            }
            let s = db.store.seqnum();
            if s != db.last_seqnum {
                db.last_seqnum = s;
                changed.push(db.id);
            }
        }
        if changed.is_empty() {
            return;
        }
        for node in self.active_nodes() {
            if node == self.pnn {
                continue;
            }
            for &db_id in &changed {
                self.send_db(node, DbMsg::UpdateSeqnum { db_id });
            }
        }
    }
}

/// Bump a store's sequence number (another node changed the database) and
/// remember the new value so the next poll does not echo it back.
fn bump_seqnum(db: &mut Db) {
    db.store.increment_seqnum();
    db.last_seqnum = db.store.seqnum();
}

/// A tunable's value in a cluster state.
pub(crate) fn tunable_in(st: Option<&ClusterState>, name: &str) -> Option<u32> {
    // Read on every call: look the slot up by exact name in a table built
    // once rather than scanning the tunable list case-insensitively.
    static SLOTS: std::sync::OnceLock<HashMap<&'static str, usize>> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| ctdb_config::TUNABLES.iter().map(|t| (t.name, t.slot)).collect());
    let slot = match slots.get(name) {
        Some(s) => *s,
        None => ctdb_config::Tunables::def(name)?.slot,
    };
    st.and_then(|s| s.tunables.get(slot).copied())
}

/// lmaster of `key` under `vnnmap`.
pub fn lmaster_of(vnnmap: &[u32], key: &[u8]) -> Option<u32> {
    if vnnmap.is_empty() {
        return None;
    }
    let h = crate::hash::jenkins(key);
    vnnmap.get(h as usize % vnnmap.len()).copied()
}

/// The header and data of a stored value; `None` if it is too short to be
/// a record.
pub(crate) fn split(value: &[u8]) -> Option<(LtdbHeader, &[u8])> {
    LtdbHeader::split(value).ok()
}

#[cfg(test)]
mod tests;
