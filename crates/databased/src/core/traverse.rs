//! Cluster-wide traverse (TRAVERSE_START / TRAVERSE_START_EXT).
//!
//! The node a client asks becomes the traverse's origin: it asks every
//! active node (itself included) for the records it is dmaster of; each
//! reads its copy in one pass without holding locks afterwards and streams
//! the records back in bounded batches; the origin relays them to the
//! client's srvid as `rec_data` messages and ends with the empty marker.
//! Migrations go on meanwhile: a node's scan holds no lock once it has
//! read its copy.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ctdb_legacy_proto::{Header, LtdbHeader, RecBuffer, RecData, ReplyControl, Wire, LTDB_HEADER_LEN};
use ctdb_proto::DbMsg;
use tracing::warn;

use super::attach::fail;
use super::{slot, Databased};

/// Internal srvid of traverse batches between databased instances.
pub(crate) const TRAVERSE_DATA: u64 = 0xDB00_0000_0000_0001;
/// Records per batch.
pub(crate) const BATCH_RECORDS: usize = 1000;
/// Bytes per batch (about).
pub(crate) const BATCH_BYTES: usize = 512 * 1024;

#[derive(Debug, Default)]
pub(crate) struct TraverseState {
    active: HashMap<u32, Traverse>,
    next_id: u32,
}

#[derive(Debug)]
struct Traverse {
    client_reqid: u32,
    srvid: u64,
    waiting: BTreeSet<u32>,
    deadline: Instant,
}

impl TraverseState {
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.active.values().map(|t| t.deadline).min()
    }
}

/// Cut records into batches of bounded size.
pub(crate) fn batches(db_id: u32, records: Vec<RecData>) -> Vec<RecBuffer> {
    let mut out = Vec::new();
    let mut cur = RecBuffer { db_id, records: Vec::new() };
    let mut bytes = 0;
    for r in records {
        bytes += r.wire_len();
        cur.records.push(r);
        if cur.records.len() >= BATCH_RECORDS || bytes >= BATCH_BYTES {
            out.push(std::mem::replace(&mut cur, RecBuffer { db_id, records: Vec::new() }));
            bytes = 0;
        }
    }
    if !cur.records.is_empty() {
        out.push(cur);
    }
    out
}

impl Databased {
    pub(crate) fn traverse_start(
        &mut self,
        now: Instant,
        db_id: u32,
        client_reqid: u32,
        srvid: u64,
        with_empty: bool,
    ) -> ReplyControl {
        if !self.dbs.contains_key(&db_id) {
            warn!("databased: traverse of unknown database 0x{db_id:08x}");
            return fail("unknown database");
        }
        self.traverse.next_id = self.traverse.next_id.wrapping_add(1);
        let id = self.traverse.next_id;
        // A persistent or replicated database has every record on every
        // node: its traverse is this node's copy alone (as in CTDB).
        let local_only = self.dbs.get(&db_id).is_some_and(|d| d.kind != crate::store::DbKind::Volatile);
        let mut nodes = if local_only { Vec::new() } else { self.active_nodes() };
        if !nodes.contains(&self.pnn) {
            nodes.push(self.pnn);
        }
        let timeout = Duration::from_secs(u64::from(self.tunable(slot::TRAVERSE_TIMEOUT, 20).max(1)));
        self.traverse.active.insert(
            id,
            Traverse { client_reqid, srvid, waiting: nodes.iter().copied().collect(), deadline: now + timeout },
        );
        for node in nodes {
            if node == self.pnn {
                self.traverse_local(self.pnn, db_id, id, with_empty);
            } else {
                self.send_db(node, DbMsg::TraverseAll { db_id, traverse_id: id, with_empty });
            }
        }
        ReplyControl { status: 0, data: Vec::new(), errmsg: None }
    }

    /// Send the records this node is dmaster of to the traverse's origin.
    pub(crate) fn traverse_local(&mut self, origin: u32, db_id: u32, traverse_id: u32, with_empty: bool) {
        let pnn = self.pnn;
        let mut records = Vec::new();
        if let Some(db) = self.dbs.get_mut(&db_id) {
            let whole = db.kind != crate::store::DbKind::Volatile;
            let r = db.store.for_each(&mut |k, v| {
                if let Ok((h, data)) = LtdbHeader::split(v) {
                    if (whole || h.dmaster == pnn) && (with_empty || !data.is_empty()) {
                        records.push(RecData { reqid: traverse_id, key: k.to_vec(), data: v.to_vec() });
                    }
                }
                true
            });
            if let Err(e) = r {
                warn!("databased: traverse of {}: {e}", db.name);
            }
        }
        let n = records.len() as u64;
        if origin == self.pnn {
            for r in records {
                self.relay_traverse_record(traverse_id, r);
            }
            self.traverse_done(Instant::now(), self.pnn, traverse_id, n);
            return;
        }
        for b in batches(db_id, records) {
            self.send_batch(origin, TRAVERSE_DATA, traverse_id, b);
        }
        self.send_db(origin, DbMsg::TraverseDone { traverse_id, records: n });
    }

    /// A batch of records as a legacy REQ_MESSAGE to databased on `node`.
    pub(crate) fn send_batch(&mut self, node: u32, srvid: u64, tag: u32, b: RecBuffer) {
        let f = self.batch_frame(srvid, tag, b);
        self.send_frame_bytes(node, f);
    }

    /// A batch as an encoded legacy REQ_MESSAGE frame (the same bytes can
    /// go to several nodes: receivers ignore destnode).
    pub(crate) fn batch_frame(&self, srvid: u64, tag: u32, b: RecBuffer) -> Vec<u8> {
        let h = self.lheader(
            ctdb_legacy_proto::Operation::REQ_MESSAGE,
            ctdb_legacy_proto::pnn::BROADCAST_ALL,
            self.pnn,
            tag,
        );
        let m = ctdb_legacy_proto::ReqMessage { srvid, data: b.to_bytes() };
        ctdb_legacy_proto::Frame { header: h, packet: ctdb_legacy_proto::Packet::ReqMessage(m) }.encode(true)
    }

    /// A batch arrived from another node.
    pub(crate) fn batch(&mut self, now: Instant, from: u32, h: &Header, srvid: u64, data: &[u8]) {
        let b = match RecBuffer::from_bytes(data) {
            Ok(b) => b,
            Err(e) => {
                warn!("databased: node {from} sent a malformed record batch: {e}");
                return;
            }
        };
        match srvid {
            TRAVERSE_DATA => {
                for r in b.records {
                    self.relay_traverse_record(h.reqid, r);
                }
            }
            super::recovery::PULL_DATA => self.pull_batch(now, from, h, b),
            super::recovery::PUSH_DATA => self.push_batch(now, from, h, b),
            super::persistent::COMMIT_DATA => self.commit_batch(from, h.reqid, h.generation, b),
            other => warn!("databased: batch for unknown port 0x{other:016x} from node {from}"),
        }
    }

    fn relay_traverse_record(&mut self, traverse_id: u32, mut r: RecData) {
        let Some(t) = self.traverse.active.get(&traverse_id) else { return };
        if r.data.len() < LTDB_HEADER_LEN {
            return;
        }
        r.reqid = t.client_reqid;
        let srvid = t.srvid;
        self.message_to_clients(srvid, r.to_bytes());
    }

    pub(crate) fn traverse_done(&mut self, _now: Instant, from: u32, traverse_id: u32, _records: u64) {
        let Some(t) = self.traverse.active.get_mut(&traverse_id) else { return };
        t.waiting.remove(&from);
        if t.waiting.is_empty() {
            self.end_traverse(traverse_id);
        }
    }

    fn end_traverse(&mut self, traverse_id: u32) {
        if let Some(t) = self.traverse.active.remove(&traverse_id) {
            let end = RecData { reqid: t.client_reqid, key: Vec::new(), data: Vec::new() };
            self.message_to_clients(t.srvid, end.to_bytes());
        }
    }

    pub(crate) fn traverse_kill(&mut self, client_reqid: u32, srvid: u64) -> ReplyControl {
        self.traverse.active.retain(|_, t| !(t.client_reqid == client_reqid && t.srvid == srvid));
        ReplyControl { status: 0, data: Vec::new(), errmsg: None }
    }

    pub(crate) fn traverse_tick(&mut self, now: Instant) {
        let late: Vec<u32> =
            self.traverse.active.iter().filter(|(_, t)| t.deadline <= now).map(|(id, _)| *id).collect();
        for id in late {
            if let Some(t) = self.traverse.active.get(&id) {
                warn!("databased: traverse {id} timed out waiting for nodes {:?}; ending it", t.waiting);
            }
            self.end_traverse(id);
        }
    }
}
