//! One database frozen on its own, for `ctdb wipedb` and `ctdb restoredb`
//! (and any tool speaking ctdbd's recovery controls): DB_FREEZE / DB_THAW,
//! the freeze transaction (DB_TRANSACTION_START / _COMMIT / _CANCEL),
//! WIPE_DATABASE, DB_PULL and DB_PUSH_START / DB_PUSH_CONFIRM.
//!
//! A frozen database's whole-file lock is held, so neither smbd nor this
//! daemon's own work changes it; work for it waits and runs at the thaw.
//! The transaction is staged in memory: the wipe and the pushed records are
//! applied at DB_TRANSACTION_COMMIT in one TDB transaction, so a node that
//! dies meanwhile keeps the old contents, never half of the new. A recovery
//! ends every such freeze (its own freeze and data replace them).

use std::time::{Duration, Instant};

use ctdb_legacy_proto::{
    record_flags, Frame, LtdbHeader, Operation, Packet as LPacket, PullDbExt, RecBuffer, RecData, ReplyControl,
    ReqMessage, TransDb, Wire, LTDB_HEADER_LEN,
};
use ctdb_proto::{Body, Endpoint, Packet, ServiceId};
use tracing::{info, warn};

use super::attach::{fail, ok};
use super::{Databased, Db};
use crate::store::DbKind;

/// How often a freeze waiting for the whole-file lock tries again.
const FREEZE_RETRY: Duration = Duration::from_millis(1);

/// The state of a database frozen with DB_FREEZE.
#[derive(Debug, Default)]
pub(crate) struct DbFreeze {
    /// Whether we hold the whole-file lock (else we keep trying).
    locked: bool,
    /// DB_FREEZE requests answered once the lock is held.
    waiters: Vec<(Endpoint, u64)>,
    /// The freeze transaction, staged until it commits.
    transaction: Option<Staged>,
    /// A DB_PUSH in progress.
    push: Option<Push>,
}

#[derive(Debug)]
struct Staged {
    tid: u32,
    wipe: bool,
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug)]
struct Push {
    srvid: u64,
    records: u32,
    failed: bool,
}

/// Whether the database is frozen and its lock held (what the
/// transaction, wipe and push controls require).
fn frozen(db: &Db) -> bool {
    db.freeze.as_ref().is_some_and(|f| f.locked)
}

/// The staged transaction of `db` if it is `tid`'s.
fn transaction(db: &mut Db, tid: u32) -> Result<&mut Staged, ReplyControl> {
    if !frozen(db) {
        return Err(fail(&format!("{} is not frozen", db.name)));
    }
    match db.freeze.as_mut().and_then(|f| f.transaction.as_mut()) {
        Some(t) if t.tid == tid => Ok(t),
        Some(t) => Err(fail(&format!("transaction 0x{tid:08x} on {} is not the running 0x{:08x}", db.name, t.tid))),
        None => Err(fail(&format!("no transaction started on {}", db.name))),
    }
}

impl Databased {
    /// Whether work on `db_id` must wait: a recovery or DB_FREEZE.
    pub(crate) fn db_frozen(&self, db_id: u32) -> bool {
        self.frozen.is_some() || self.dbs.get(&db_id).is_some_and(|d| d.freeze.is_some())
    }

    /// DB_FREEZE: answered once the whole-file lock is held.
    pub(crate) fn db_freeze(&mut self, now: Instant, gw: Endpoint, reqid: u64, db_id: u32) -> Option<ReplyControl> {
        let Some(db) = self.dbs.get_mut(&db_id) else {
            return Some(fail(&format!("freeze of unknown database 0x{db_id:08x}")));
        };
        match &mut db.freeze {
            Some(f) if f.locked => return Some(ok(Vec::new())),
            Some(f) => f.waiters.push((gw, reqid)),
            None => {
                info!("databased: freezing {} on its own", db.name);
                db.freeze = Some(DbFreeze { waiters: vec![(gw, reqid)], ..Default::default() });
                // Work queued for its chain locks waits for the thaw now.
                let queue = std::mem::take(&mut self.lockq);
                for w in queue {
                    if self.work_db(&w) == Some(db_id) {
                        self.held.push(w);
                    } else {
                        self.lockq.push_back(w);
                    }
                }
            }
        }
        self.retry_db_freezes(now);
        None
    }

    /// Take the whole-file lock of databases waiting for DB_FREEZE.
    pub(crate) fn retry_db_freezes(&mut self, now: Instant) {
        let mut answered = Vec::new();
        let mut waiting = false;
        for db in self.dbs.values_mut() {
            let Some(f) = &mut db.freeze else { continue };
            if f.locked {
                continue;
            }
            match db.store.try_lock_all() {
                Ok(true) => {
                    f.locked = true;
                    answered.extend(f.waiters.drain(..).map(|w| (w, ok(Vec::new()))));
                }
                Ok(false) => waiting = true,
                Err(e) => {
                    warn!("databased: cannot freeze {}: {e}", db.name);
                    let r = fail(&format!("cannot lock {}: {e}", db.name));
                    answered.extend(f.waiters.drain(..).map(|w| (w, r.clone())));
                    db.freeze = None;
                }
            }
        }
        self.db_freeze_retry_at = waiting.then_some(now + FREEZE_RETRY);
        for ((gw, reqid), r) in answered {
            self.reply_control(gw, reqid, r);
        }
    }

    /// DB_THAW: release the lock, drop what was not committed, run the work
    /// that waited.
    pub(crate) fn db_thaw(&mut self, now: Instant, db_id: u32) -> ReplyControl {
        let Some(db) = self.dbs.get_mut(&db_id) else {
            return fail(&format!("thaw of unknown database 0x{db_id:08x}"));
        };
        let name = db.name.clone();
        self.end_db_freeze(db_id, "thawed");
        info!("databased: {name} thawed");
        if self.frozen.is_none() {
            let held = std::mem::take(&mut self.held);
            for w in held {
                if self.work_db(&w) == Some(db_id) {
                    self.submit(now, w);
                } else {
                    self.held.push(w);
                }
            }
        }
        ok(Vec::new())
    }

    /// End `db_id`'s freeze, whatever state it is in: unlock, fail
    /// waiting DB_FREEZEs, forget an uncommitted transaction.
    pub(crate) fn end_db_freeze(&mut self, db_id: u32, why: &str) {
        let Some(db) = self.dbs.get_mut(&db_id) else { return };
        let Some(f) = db.freeze.take() else { return };
        if f.locked {
            db.store.unlock_all();
        }
        if let Some(t) = &f.transaction {
            warn!("databased: transaction 0x{:08x} on {} dropped uncommitted ({why})", t.tid, db.name);
        }
        let name = db.name.clone();
        for (gw, reqid) in f.waiters {
            self.reply_control(gw, reqid, fail(&format!("freeze of {name} abandoned ({why})")));
        }
    }

    /// A recovery ended: it replaced every database's contents, so no
    /// DB_FREEZE outlives it.
    pub(crate) fn end_all_db_freezes(&mut self) {
        let ids: Vec<u32> = self.dbs.values().filter(|d| d.freeze.is_some()).map(|d| d.id).collect();
        for id in ids {
            self.end_db_freeze(id, "a recovery ran");
        }
    }

    /// DB_TRANSACTION_START {db, tid}: a new staged transaction (an earlier
    /// uncommitted one is dropped, as ctdbd does).
    pub(crate) fn db_transaction_start(&mut self, d: &[u8]) -> ReplyControl {
        let Ok(t) = TransDb::from_bytes(d) else { return fail("malformed transdb") };
        let Some(db) = self.dbs.get_mut(&t.db_id) else { return fail("unknown database") };
        if !frozen(db) {
            return fail(&format!("{} not frozen, cannot start a transaction", db.name));
        }
        if let Some(f) = &mut db.freeze {
            f.transaction = Some(Staged { tid: t.tid, wipe: false, records: Vec::new() });
        }
        ok(Vec::new())
    }

    /// DB_TRANSACTION_CANCEL {db}.
    pub(crate) fn db_transaction_cancel(&mut self, d: &[u8]) -> ReplyControl {
        let Ok(db_id) = u32::from_bytes(d) else { return fail("needs a db_id") };
        let Some(db) = self.dbs.get_mut(&db_id) else { return fail("unknown database") };
        if let Some(f) = &mut db.freeze {
            f.transaction = None;
        }
        ok(Vec::new())
    }

    /// WIPE_DATABASE {db, tid}: inside the freeze transaction.
    pub(crate) fn wipe_database(&mut self, d: &[u8]) -> ReplyControl {
        let Ok(w) = TransDb::from_bytes(d) else { return fail("malformed transdb") };
        let Some(db) = self.dbs.get_mut(&w.db_id) else { return fail("unknown database") };
        match transaction(db, w.tid) {
            Ok(t) => {
                t.wipe = true;
                t.records.clear();
                ok(Vec::new())
            }
            Err(r) => r,
        }
    }

    /// DB_TRANSACTION_COMMIT {db, tid}: apply the staged transaction in one
    /// local TDB transaction.
    pub(crate) fn db_transaction_commit(&mut self, d: &[u8]) -> ReplyControl {
        let Ok(c) = TransDb::from_bytes(d) else { return fail("malformed transdb") };
        let Some(db) = self.dbs.get_mut(&c.db_id) else { return fail("unknown database") };
        if let Err(r) = transaction(db, c.tid) {
            return r;
        }
        let Some(t) = db.freeze.as_mut().and_then(|f| f.transaction.take()) else {
            return fail("no transaction started");
        };
        if let Err(e) = db.store.replace_all(t.wipe, &t.records) {
            warn!("databased: committing transaction 0x{:08x} on {}: {e}", t.tid, db.name);
            db.bulk_changed = true;
            return fail(&format!("commit failed: {e}"));
        }
        db.bulk_digest = bulk_digest(db.bulk_digest, &t);
        if t.wipe {
            db.delete_queue.clear();
            db.sticky_keys.clear();
            db.pinned.clear();
        }
        info!(
            "databased: transaction 0x{:08x} on {} committed ({}{} records)",
            t.tid,
            db.name,
            if t.wipe { "wiped, " } else { "" },
            t.records.len()
        );
        let name = db.name.clone();
        self.set_healthy(c.db_id, &name);
        ok(Vec::new())
    }

    /// Mark a database healthy (DB_SET_HEALTHY, a committed recovery).
    pub(crate) fn set_healthy(&mut self, db_id: u32, name: &str) {
        let Some(db) = self.dbs.get_mut(&db_id) else { return };
        if db.unhealthy.take().is_some() {
            info!("databased: {name} is healthy again");
            self.backend.record_health(name, self.pnn, None);
        }
    }

    /// DB_PUSH_START {db, lmaster, srvid}: records arrive as messages to
    /// `srvid` (the gateway passes them here) until DB_PUSH_CONFIRM.
    pub(crate) fn db_push_start(&mut self, d: &[u8]) -> ReplyControl {
        let Ok(p) = PullDbExt::from_bytes(d) else { return fail("malformed pulldb_ext") };
        let Some(db) = self.dbs.get_mut(&p.db_id) else { return fail("unknown database") };
        if !frozen(db) {
            return fail(&format!("{} not frozen, cannot push", db.name));
        }
        if let Some(f) = &mut db.freeze {
            if f.push.is_some() {
                warn!("databased: push to {} started again; the earlier one is dropped", db.name);
            }
            f.push = Some(Push { srvid: p.srvid, records: 0, failed: false });
        }
        ok(Vec::new())
    }

    /// A batch of pushed records (a message to a push's srvid).
    pub(crate) fn push_message(&mut self, srvid: u64, data: &[u8]) {
        let Some(db) = self
            .dbs
            .values_mut()
            .find(|d| d.freeze.as_ref().and_then(|f| f.push.as_ref()).is_some_and(|p| p.srvid == srvid && !p.failed))
        else {
            warn!("databased: records for push port 0x{srvid:016x} with no push running; dropped");
            return;
        };
        let Some(f) = db.freeze.as_mut() else { return };
        let Some(push) = f.push.as_mut() else { return };
        let b = match RecBuffer::from_bytes(data) {
            Ok(b) => b,
            Err(e) => {
                warn!("databased: malformed pushed records for {}: {e}", db.name);
                push.failed = true;
                return;
            }
        };
        let mut records = Vec::with_capacity(b.records.len());
        for r in b.records {
            let Some(value) = without_ro_flags(r.data) else {
                warn!("databased: pushed record for {} too short for a header", db.name);
                push.failed = true;
                return;
            };
            records.push((r.key, value));
        }
        push.records = push.records.saturating_add(records.len() as u32);
        match f.transaction.as_mut() {
            Some(t) => t.records.extend(records),
            None => {
                // No transaction: stored at once, as ctdbd does.
                db.bulk_changed = true;
                if let Err(e) = db.store.replace_all(false, &records) {
                    warn!("databased: storing pushed records for {}: {e}", db.name);
                    push.failed = true;
                }
            }
        }
    }

    /// DB_PUSH_CONFIRM {db}: how many records arrived.
    pub(crate) fn db_push_confirm(&mut self, d: &[u8]) -> ReplyControl {
        let Ok(db_id) = u32::from_bytes(d) else { return fail("needs a db_id") };
        let Some(db) = self.dbs.get_mut(&db_id) else { return fail("unknown database") };
        if !frozen(db) {
            return fail(&format!("{} not frozen", db.name));
        }
        match db.freeze.as_mut().and_then(|f| f.push.take()) {
            Some(p) if p.failed => fail("storing pushed records failed"),
            Some(p) => ok(p.records.to_bytes()),
            None => fail("no push started"),
        }
    }

    /// DB_PULL {db, lmaster, srvid}: every record (header included) to
    /// `srvid` on the requesting node, in batches of RecBufferSizeLimit
    /// bytes; the answer is how many.
    pub(crate) fn db_pull(&mut self, d: &[u8], srcnode: u32) -> ReplyControl {
        let Ok(p) = PullDbExt::from_bytes(d) else { return fail("malformed pulldb_ext") };
        if !self.db_frozen(p.db_id) {
            return fail("database not frozen");
        }
        let limit = self.tunable("RecBufferSizeLimit", 1_000_000).max(1) as usize;
        let Some(db) = self.dbs.get_mut(&p.db_id) else { return fail("unknown database") };
        let mut batches = Vec::new();
        let mut cur = RecBuffer { db_id: p.db_id, records: Vec::new() };
        let mut size = 8usize;
        let mut count = 0u32;
        let r = db.store.for_each(&mut |k, v| {
            let rec = RecData { reqid: 0, key: k.to_vec(), data: v.to_vec() };
            size += rec.wire_len();
            cur.records.push(rec);
            count += 1;
            if size >= limit {
                batches.push(std::mem::replace(&mut cur, RecBuffer { db_id: p.db_id, records: Vec::new() }));
                size = 8;
            }
            true
        });
        if let Err(e) = r {
            return fail(&format!("reading {}: {e}", db.name));
        }
        if !cur.records.is_empty() {
            batches.push(cur);
        }
        for b in batches {
            self.message_to_node(srcnode, p.srvid, b.to_bytes());
        }
        ok(count.to_bytes())
    }

    /// Deliver a message to clients of `node` registered for `srvid`.
    fn message_to_node(&mut self, node: u32, srvid: u64, data: Vec<u8>) {
        if node == self.pnn {
            self.message_to_clients(srvid, data);
            return;
        }
        let h = self.lheader(Operation::REQ_MESSAGE, node, self.pnn, 0);
        let bytes = Frame { header: h, packet: LPacket::ReqMessage(ReqMessage { srvid, data }) }.encode(true);
        let gw = Endpoint::new(node, ServiceId::GATEWAY);
        self.out.push_back(Packet::new(gw, self.endpoint(), 0, Body::Legacy(bytes)));
    }

    /// Whether a database may take a TRANS3_COMMIT batch now.
    pub(crate) fn commit_allowed(&self, db_id: u32) -> bool {
        self.dbs.get(&db_id).is_some_and(|d| d.freeze.is_none() && d.kind != DbKind::Volatile)
    }
}

/// The digest of the bulk transactions a copy went through, `t` added.
/// Every node runs the same binary, so the (fixed-key) std hasher gives
/// every node the same digest for the same transactions; a different one
/// would only cost a rewrite in the next recovery.
fn bulk_digest(before: u64, t: &Staged) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (before, t.tid, t.wipe, &t.records).hash(&mut h);
    h.finish().max(1)
}

/// A pushed value with the read-only bits of its header cleared (every
/// delegation ends with the data it was for).
fn without_ro_flags(mut value: Vec<u8>) -> Option<Vec<u8>> {
    let (mut h, _) = LtdbHeader::split(&value).ok()?;
    h.flags &= !record_flags::RO_FLAGS;
    let mut hb = Vec::with_capacity(LTDB_HEADER_LEN);
    h.encode(&mut hb);
    value[..LTDB_HEADER_LEN].copy_from_slice(&hb);
    Some(value)
}
