//! REQ_CALL and record migration.
//!
//! ```text
//!  origin O (client asks)      dmaster D                 lmaster L
//!   not dmaster ──REQ_CALL──► (forwards if not dmaster, hop+1)
//!                              no migration: run call ──REPLY_CALL──► O
//!                              migration: own copy's dmaster := L
//!                                         ──REQ_DMASTER(rsn, data, new=O)──► L
//!                                                           copy's dmaster := O
//!   ◄────────────────────────────────────REPLY_DMASTER(rsn, data)─┘
//!   stores rsn+1, dmaster = O, runs the call, answers the client
//! ```
//!
//! When D is L itself it answers with REPLY_DMASTER directly; when O is L,
//! L becomes dmaster on REQ_DMASTER. Packets from another generation are
//! dropped: after a recovery the origin sends its unanswered calls again.

use std::time::Instant;

use ctdb_legacy_proto::{
    call as callfn, record_flags, Header, LtdbHeader, Operation, Packet as LPacket, ReplyCall, ReplyDmaster,
    ReplyError, ReqCall, ReqDmaster,
};
use ctdb_proto::Endpoint;
use tracing::{debug, warn};

use super::work::{Ran, Work};
use super::{slot, split, Databased, OriginCall};

/// A call forwarded this many times is sent to the lmaster instead (which
/// always knows the dmaster); far more means a loop, answered with an error.
const HOPS_TO_LMASTER: u32 = 8;
const MAX_HOPS: u32 = 64;

/// Flags the new dmaster keeps of a migrated record's header.
const KEEP_ON_MIGRATE: u32 =
    !(record_flags::MIGRATED_WITH_DATA | record_flags::VACUUM_MIGRATED | record_flags::RO_FLAGS);

impl Databased {
    /// A client's REQ_CALL arrived through the gateway.
    pub(crate) fn client_call(&mut self, now: Instant, gw: Endpoint, reqid: u64, c: ReqCall) {
        let Some(db) = self.dbs.get(&c.db_id) else {
            warn!("databased: REQ_CALL for unknown database 0x{:08x}; failing it", c.db_id);
            self.reply_to_client(Some((gw, reqid)), ReplyCall { status: -1, data: Vec::new() });
            return;
        };
        if !matches!(c.callid, callfn::NULL_FUNC | callfn::FETCH_FUNC | callfn::FETCH_WITH_HEADER_FUNC) {
            warn!("databased: REQ_CALL with unknown call function 0x{:08x} on {}; failing it", c.callid, db.name);
            self.reply_to_client(Some((gw, reqid)), ReplyCall { status: -1, data: Vec::new() });
            return;
        }
        if db.kind != crate::store::DbKind::Volatile {
            warn!("databased: REQ_CALL on non-volatile database {}; failing it", db.name);
            self.reply_to_client(Some((gw, reqid)), ReplyCall { status: -1, data: Vec::new() });
            return;
        }
        // WANT_READONLY only means something on a read-only database.
        let readonly = c.flags & callfn::WANT_READONLY != 0 && db.readonly;
        let flags = if readonly { c.flags } else { c.flags & !callfn::WANT_READONLY };
        let id = self.new_call_id();
        self.calls.insert(
            id,
            OriginCall {
                reply_to: Some((gw, reqid)),
                db_id: c.db_id,
                key: c.key,
                callid: c.callid,
                flags,
                in_flight: false,
                readonly,
            },
        );
        self.submit(now, Work::Client(id));
    }

    /// Start a migration of `key` to this node on the daemon's own behalf
    /// (vacuuming); no client waits for it.
    pub(crate) fn own_migration(&mut self, now: Instant, db_id: u32, key: Vec<u8>) {
        let id = self.new_call_id();
        let call = OriginCall {
            reply_to: None,
            db_id,
            key,
            callid: callfn::NULL_FUNC,
            flags: callfn::IMMEDIATE_MIGRATION,
            in_flight: false,
            readonly: false,
        };
        self.calls.insert(id, call);
        self.submit(now, Work::Client(id));
    }

    fn new_call_id(&mut self) -> u32 {
        loop {
            let id = self.next_call;
            self.next_call = self.next_call.wrapping_add(1).max(1);
            if !self.calls.contains_key(&id) {
                return id;
            }
        }
    }

    /// The stored header and data of `key`, or the header CTDB assumes for
    /// a record this node has never seen: dmaster = lmaster, rsn 0.
    fn current(&mut self, db_id: u32, key: &[u8]) -> Result<(LtdbHeader, Vec<u8>, bool), String> {
        let lmaster = self.lmaster(key);
        let db = self.dbs.get_mut(&db_id).ok_or("database gone")?;
        let value = db.store.fetch(key).map_err(|e| e.to_string())?;
        match value.as_deref().and_then(split) {
            Some((h, d)) => Ok((h, d.to_vec(), true)),
            None => Ok((
                LtdbHeader { rsn: 0, dmaster: lmaster, reserved1: 0, flags: record_flags::AUTOMATIC },
                Vec::new(),
                false,
            )),
        }
    }

    fn lock(&mut self, db_id: u32, key: &[u8]) -> Result<bool, String> {
        let db = self.dbs.get_mut(&db_id).ok_or("database gone")?;
        let ok = db.store.try_lock(key).map_err(|e| e.to_string())?;
        if ok {
            db.stats.lock_calls += 1;
        }
        Ok(ok)
    }

    fn unlock(&mut self, db_id: u32, key: &[u8]) {
        if let Some(db) = self.dbs.get_mut(&db_id) {
            db.store.unlock(key);
        }
    }

    fn put(&mut self, db_id: u32, key: &[u8], h: &LtdbHeader, data: &[u8]) -> Result<(), String> {
        let db = self.dbs.get_mut(&db_id).ok_or("database gone")?;
        db.store.store(key, &h.join(data)).map_err(|e| e.to_string())
    }

    /// Run a call function on a record this node is dmaster of. Creates
    /// the record (header only) if it did not exist.
    fn execute(
        &mut self,
        db_id: u32,
        key: &[u8],
        callid: u32,
        mut h: LtdbHeader,
        data: &[u8],
        exists: bool,
    ) -> Result<Vec<u8>, String> {
        if !exists {
            h.dmaster = self.pnn;
            h.flags &= !record_flags::AUTOMATIC;
            self.put(db_id, key, &h, data)?;
        }
        Ok(match callid {
            callfn::FETCH_FUNC => data.to_vec(),
            callfn::FETCH_WITH_HEADER_FUNC => h.join(data),
            _ => Vec::new(),
        })
    }

    pub(super) fn run_client_call(&mut self, now: Instant, id: u32) -> Ran {
        let Some(c) = self.calls.get(&id).cloned() else { return Ran::Done };
        match self.lock(c.db_id, &c.key) {
            Ok(true) => {}
            Ok(false) => return Ran::Busy(Work::Client(id)),
            Err(e) => {
                self.fail_call(now, id, &e);
                return Ran::Done;
            }
        }
        let cur = self.current(c.db_id, &c.key);
        let (h, data, exists) = match cur {
            Ok(x) => x,
            Err(e) => {
                self.unlock(c.db_id, &c.key);
                self.fail_call(now, id, &e);
                return Ran::Done;
            }
        };
        if h.dmaster == self.pnn {
            if self.is_revoking(c.db_id, &c.key, h.flags) {
                self.unlock(c.db_id, &c.key);
                self.defer_for_revoke(c.db_id, &c.key, Work::Client(id));
                return Ran::Done;
            }
            if !c.readonly && h.flags & (record_flags::RO_HAVE_DELEGATIONS | record_flags::RO_HAVE_READONLY) != 0 {
                // Someone holds a read-only copy: revoke it before this
                // node's client may change the record.
                self.start_revoke(c.db_id, &c.key, h, &data, Work::Client(id));
                self.unlock(c.db_id, &c.key);
                return Ran::Done;
            }
            let result = self.execute(c.db_id, &c.key, c.callid, h, &data, exists);
            self.unlock(c.db_id, &c.key);
            match result {
                Ok(out) => self.finish_call(now, id, ReplyCall { status: 0, data: out }),
                Err(e) => self.fail_call(now, id, &e),
            }
            return Ran::Done;
        }
        self.unlock(c.db_id, &c.key);
        // Another call for this record is already on its way: wait for it
        // instead of sending a second one (FetchCollapse).
        let k = (c.db_id, c.key.clone());
        if self.tunable(slot::FETCH_COLLAPSE, 1) != 0 {
            if let Some(&first) = self.inflight.get(&k) {
                if first != id {
                    self.collapsed.entry(first).or_default().push(id);
                    return Ran::Done;
                }
            }
        }
        self.inflight.insert(k, id);
        if let Some(call) = self.calls.get_mut(&id) {
            call.in_flight = true;
        }
        if let Some(db) = self.dbs.get_mut(&c.db_id) {
            db.stats.remote_call(&c.key);
        }
        // A read-only request asks for the record with its header, which
        // carries the delegation (as ctdbd does).
        let callid = if c.readonly { callfn::FETCH_WITH_HEADER_FUNC } else { c.callid };
        let req = ReqCall { flags: c.flags, db_id: c.db_id, callid, hopcount: 0, key: c.key, calldata: Vec::new() };
        let hdr = self.lheader(Operation::REQ_CALL, h.dmaster, self.pnn, id);
        self.send_frame(h.dmaster, hdr, LPacket::ReqCall(req));
        Ran::Done
    }

    /// REQ_CALL from another node.
    pub(super) fn run_remote_call(&mut self, now: Instant, hdr: Header, mut call: ReqCall) -> Ran {
        if hdr.generation != self.generation {
            debug!("databased: dropping REQ_CALL of generation {} (now {})", hdr.generation, self.generation);
            return Ran::Done;
        }
        let origin = hdr.srcnode;
        if !self.dbs.contains_key(&call.db_id) {
            self.error_to(origin, hdr.reqid, &format!("unknown database 0x{:08x}", call.db_id));
            return Ran::Done;
        }
        if origin == self.pnn {
            // Our own call came back to us: we are the dmaster after all.
            if let Some(c) = self.calls.get_mut(&hdr.reqid) {
                c.in_flight = false;
                self.inflight.retain(|_, v| *v != hdr.reqid);
                return self.run_client_call(now, hdr.reqid);
            }
            return Ran::Done;
        }
        match self.lock(call.db_id, &call.key) {
            Ok(true) => {}
            Ok(false) => return Ran::Busy(Work::Remote { hdr, call }),
            Err(e) => {
                self.error_to(origin, hdr.reqid, &e);
                return Ran::Done;
            }
        }
        let (h, data, exists) = match self.current(call.db_id, &call.key) {
            Ok(x) => x,
            Err(e) => {
                self.unlock(call.db_id, &call.key);
                self.error_to(origin, hdr.reqid, &e);
                return Ran::Done;
            }
        };
        let lmaster = self.lmaster(&call.key);
        if call.flags & callfn::WANT_READONLY != 0 && !self.dbs.get(&call.db_id).is_some_and(|d| d.readonly) {
            call.flags &= !callfn::WANT_READONLY;
        }
        if h.dmaster == self.pnn {
            let (db_id, key) = (call.db_id, call.key.clone());
            if self.is_revoking(db_id, &key, h.flags) {
                self.unlock(db_id, &key);
                self.defer_for_revoke(db_id, &key, Work::Remote { hdr, call });
                return Ran::Done;
            }
            let wants_ro = call.flags & callfn::WANT_READONLY != 0;
            if !wants_ro && h.flags & (record_flags::RO_HAVE_DELEGATIONS | record_flags::RO_HAVE_READONLY) != 0 {
                self.start_revoke(db_id, &key, h, &data, Work::Remote { hdr, call });
                self.unlock(db_id, &key);
                return Ran::Done;
            }
            if wants_ro && call.callid == callfn::FETCH_WITH_HEADER_FUNC {
                let mut h = h;
                if !exists {
                    let _ = self.execute(db_id, &key, callfn::NULL_FUNC, h, &data, false);
                    h.dmaster = self.pnn;
                    h.flags &= !record_flags::AUTOMATIC;
                }
                let copy = self.delegate(db_id, &key, h, &data);
                self.unlock(db_id, &key);
                let rh = self.lheader(Operation::REPLY_CALL, origin, self.pnn, hdr.reqid);
                self.send_frame(origin, rh, LPacket::ReplyCall(ReplyCall { status: 0, data: copy.join(&data) }));
                return Ran::Done;
            }
        }
        if h.dmaster != self.pnn {
            self.unlock(call.db_id, &call.key);
            if call.hopcount >= MAX_HOPS {
                warn!("databased: REQ_CALL from node {origin} exceeded {MAX_HOPS} hops; failing it");
                self.error_to(origin, hdr.reqid, "too many hops");
                return Ran::Done;
            }
            let target = if call.hopcount >= HOPS_TO_LMASTER && lmaster != self.pnn { lmaster } else { h.dmaster };
            if let Some(db) = self.dbs.get_mut(&call.db_id) {
                db.stats.hop(call.hopcount + 1);
            }
            let mut fwd = call;
            fwd.hopcount += 1;
            let mut fh = hdr;
            fh.destnode = target;
            self.send_frame(target, fh, LPacket::ReqCall(fwd));
            return Ran::Done;
        }
        let migrate = call.flags & callfn::IMMEDIATE_MIGRATION != 0;
        if migrate {
            self.note_hops(now, call.db_id, &call.key, call.hopcount);
            if let Some(until) = self.pinned_until(now, call.db_id, &call.key) {
                // A sticky record stays here a little while after arriving.
                self.unlock(call.db_id, &call.key);
                self.wait_for_pindown(until, Work::Remote { hdr, call });
                return Ran::Done;
            }
        }
        if !migrate {
            let r = self.execute(call.db_id, &call.key, call.callid, h, &data, exists);
            self.unlock(call.db_id, &call.key);
            match r {
                Ok(out) => {
                    let rh = self.lheader(Operation::REPLY_CALL, origin, self.pnn, hdr.reqid);
                    self.send_frame(origin, rh, LPacket::ReplyCall(ReplyCall { status: 0, data: out }));
                }
                Err(e) => self.error_to(origin, hdr.reqid, &e),
            }
            return Ran::Done;
        }
        // Hand the record over. Our copy keeps the data but names the node
        // that knows where it went, so a stray request finds it.
        let mut flags = h.flags & !record_flags::AUTOMATIC;
        if !data.is_empty() {
            flags |= record_flags::MIGRATED_WITH_DATA;
        }
        let next_hop = if lmaster == self.pnn { origin } else { lmaster };
        let kept = LtdbHeader { rsn: h.rsn, dmaster: next_hop, reserved1: 0, flags };
        let stored = self.put(call.db_id, &call.key, &kept, &data);
        self.unlock(call.db_id, &call.key);
        if let Err(e) = stored {
            self.error_to(origin, hdr.reqid, &e);
            return Ran::Done;
        }
        if lmaster == self.pnn {
            let m = ReplyDmaster { db_id: call.db_id, rsn: h.rsn, key: call.key, data, record_flags: flags };
            let rh = self.lheader(Operation::REPLY_DMASTER, origin, self.pnn, hdr.reqid);
            self.send_frame(origin, rh, LPacket::ReplyDmaster(m));
        } else {
            let m =
                ReqDmaster { db_id: call.db_id, rsn: h.rsn, dmaster: origin, key: call.key, data, record_flags: flags };
            let rh = self.lheader(Operation::REQ_DMASTER, lmaster, self.pnn, hdr.reqid);
            self.send_frame(lmaster, rh, LPacket::ReqDmaster(m));
        }
        Ran::Done
    }

    /// REQ_DMASTER at the lmaster: note the new dmaster and pass the record
    /// on (or keep it, if we are the new dmaster).
    pub(super) fn run_req_dmaster(&mut self, now: Instant, hdr: Header, m: ReqDmaster) -> Ran {
        if hdr.generation != self.generation {
            debug!("databased: dropping REQ_DMASTER of generation {}", hdr.generation);
            return Ran::Done;
        }
        if !self.dbs.contains_key(&m.db_id) {
            warn!("databased: REQ_DMASTER for unknown database 0x{:08x}", m.db_id);
            self.error_to(m.dmaster, hdr.reqid, "unknown database");
            return Ran::Done;
        }
        match self.lock(m.db_id, &m.key) {
            Ok(true) => {}
            Ok(false) => return Ran::Busy(Work::ReqDmaster { hdr, m }),
            Err(e) => {
                warn!("databased: REQ_DMASTER: {e}");
                return Ran::Done;
            }
        }
        if let Ok((h, _, true)) = self.current(m.db_id, &m.key) {
            if h.rsn > m.rsn {
                warn!("databased: REQ_DMASTER brings rsn {} older than our copy's {}", m.rsn, h.rsn);
            }
        }
        if m.dmaster == self.pnn {
            self.take_record(now, hdr.reqid, m.db_id, &m.key, m.rsn, &m.data, m.record_flags);
            return Ran::Done;
        }
        let h = LtdbHeader { rsn: m.rsn, dmaster: m.dmaster, reserved1: 0, flags: m.record_flags };
        let r = self.put(m.db_id, &m.key, &h, &m.data);
        self.unlock(m.db_id, &m.key);
        if let Err(e) = r {
            warn!("databased: REQ_DMASTER store: {e}");
        }
        let dest = m.dmaster;
        let reply = ReplyDmaster { db_id: m.db_id, rsn: m.rsn, key: m.key, data: m.data, record_flags: m.record_flags };
        let rh = self.lheader(Operation::REPLY_DMASTER, dest, self.pnn, hdr.reqid);
        self.send_frame(dest, rh, LPacket::ReplyDmaster(reply));
        Ran::Done
    }

    /// REPLY_DMASTER: the record is ours now.
    pub(super) fn run_reply_dmaster(&mut self, now: Instant, hdr: Header, m: ReplyDmaster) -> Ran {
        if hdr.generation != self.generation {
            debug!("databased: dropping REPLY_DMASTER of generation {}", hdr.generation);
            return Ran::Done;
        }
        if !self.dbs.contains_key(&m.db_id) {
            warn!("databased: REPLY_DMASTER for unknown database 0x{:08x}", m.db_id);
            return Ran::Done;
        }
        match self.lock(m.db_id, &m.key) {
            Ok(true) => {}
            Ok(false) => return Ran::Busy(Work::ReplyDmaster { hdr, m }),
            Err(e) => {
                warn!("databased: REPLY_DMASTER: {e}");
                return Ran::Done;
            }
        }
        self.take_record(now, hdr.reqid, m.db_id, &m.key, m.rsn, &m.data, m.record_flags);
        Ran::Done
    }

    /// A migrated record arrived (the chain lock is held): this node is its
    /// dmaster now (rsn + 1); unlock, pin it if sticky, and run call
    /// `call_id` and the calls that waited for it.
    #[allow(clippy::too_many_arguments)]
    fn take_record(&mut self, now: Instant, call_id: u32, db_id: u32, key: &[u8], rsn: u64, data: &[u8], flags: u32) {
        let h = LtdbHeader { rsn: rsn + 1, dmaster: self.pnn, reserved1: 0, flags: flags & KEEP_ON_MIGRATE };
        if let Err(e) = self.put(db_id, key, &h, data) {
            warn!("databased: storing migrated record: {e}");
        }
        if data.is_empty() {
            // A deleted record arrived: vacuuming may remove it here.
            if let Some(db) = self.dbs.get_mut(&db_id) {
                db.delete_queue.insert(key.to_vec(), ());
            }
        }
        self.unlock(db_id, key);
        self.pin_if_sticky(now, db_id, key);
        self.migration_arrived(now, call_id);
    }

    /// The record of call `id` is here: run the call (and the calls that
    /// waited for it) locally.
    fn migration_arrived(&mut self, now: Instant, id: u32) {
        let waiting = self.collapsed.remove(&id).unwrap_or_default();
        if let Some(c) = self.calls.get_mut(&id) {
            c.in_flight = false;
            let k = (c.db_id, c.key.clone());
            if self.inflight.get(&k) == Some(&id) {
                self.inflight.remove(&k);
            }
            self.submit(now, Work::Client(id));
        }
        for w in waiting {
            self.submit(now, Work::Client(w));
        }
    }

    /// REPLY_CALL from the dmaster.
    pub(crate) fn reply_call(&mut self, now: Instant, hdr: &Header, r: ReplyCall) {
        if hdr.generation != self.generation {
            return;
        }
        let r = match self.calls.get(&hdr.reqid).cloned() {
            Some(c) if c.readonly && r.status == 0 => self.readonly_reply(&c, r),
            _ => r,
        };
        let waiting = self.collapsed.remove(&hdr.reqid).unwrap_or_default();
        self.finish_call(now, hdr.reqid, r);
        for w in waiting {
            if let Some(c) = self.calls.get_mut(&w) {
                c.in_flight = false;
            }
            self.submit(now, Work::Client(w));
        }
    }

    /// The answer to a read-only request carries the record's header: keep
    /// a delegated copy here (smbd reads it locally) and give the client
    /// what its call function asked for.
    fn readonly_reply(&mut self, c: &OriginCall, r: ReplyCall) -> ReplyCall {
        let Some((h, data)) = split(&r.data) else { return r };
        let pnn = self.pnn;
        if h.flags & record_flags::RO_HAVE_READONLY != 0 {
            if let Some(db) = self.dbs.get_mut(&c.db_id) {
                // Only a cache: skip it if smbd holds the lock right now.
                if matches!(db.store.try_lock(&c.key), Ok(true)) {
                    let newer = match db.store.fetch(&c.key).ok().flatten().as_deref().and_then(split) {
                        Some((old, _)) => old.dmaster != pnn && old.rsn < h.rsn,
                        None => true,
                    };
                    if newer {
                        if let Err(e) = db.store.store(&c.key, &r.data) {
                            warn!("databased: storing a read-only copy in {}: {e}", db.name);
                        }
                    }
                    db.store.unlock(&c.key);
                }
            }
        }
        let out = match c.callid {
            callfn::FETCH_FUNC => data.to_vec(),
            callfn::FETCH_WITH_HEADER_FUNC => r.data.clone(),
            _ => Vec::new(),
        };
        ReplyCall { status: 0, data: out }
    }

    /// REPLY_ERROR: the call failed elsewhere.
    pub(crate) fn reply_error(&mut self, now: Instant, hdr: &Header, e: ReplyError) {
        let msg = String::from_utf8_lossy(&e.msg).trim_end_matches('\0').to_string();
        warn!("databased: node {} failed call {}: {msg}", hdr.srcnode, hdr.reqid);
        let waiting = self.collapsed.remove(&hdr.reqid).unwrap_or_default();
        self.finish_call(now, hdr.reqid, ReplyCall { status: -1, data: Vec::new() });
        for w in waiting {
            if let Some(c) = self.calls.get_mut(&w) {
                c.in_flight = false;
            }
            self.submit(now, Work::Client(w));
        }
    }

    fn error_to(&mut self, node: u32, reqid: u32, msg: &str) {
        warn!("databased: call {reqid} from node {node} failed: {msg}");
        let mut bytes = msg.as_bytes().to_vec();
        bytes.push(0);
        let h = self.lheader(Operation::REPLY_ERROR, node, self.pnn, reqid);
        self.send_frame(node, h, LPacket::ReplyError(ReplyError { status: -1, msg: bytes }));
    }

    fn finish_call(&mut self, _now: Instant, id: u32, r: ReplyCall) {
        let Some(c) = self.calls.remove(&id) else { return };
        let k = (c.db_id, c.key.clone());
        if self.inflight.get(&k) == Some(&id) {
            self.inflight.remove(&k);
        }
        self.reply_to_client(c.reply_to, r);
    }

    fn fail_call(&mut self, now: Instant, id: u32, why: &str) {
        if let Some(c) = self.calls.get(&id) {
            warn!("databased: call on database 0x{:08x} failed: {why}", c.db_id);
        }
        self.finish_call(now, id, ReplyCall { status: -1, data: Vec::new() });
    }

    /// After a recovery: calls that were on their way are sent again under
    /// the new generation (their packets were dropped).
    pub(crate) fn resend_calls(&mut self, now: Instant) {
        self.inflight.clear();
        let mut ids: Vec<u32> = self.calls.iter().filter(|(_, c)| c.in_flight).map(|(id, _)| *id).collect();
        for waiting in self.collapsed.drain().flat_map(|(_, v)| v) {
            ids.push(waiting);
        }
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if let Some(c) = self.calls.get_mut(&id) {
                c.in_flight = false;
            }
            self.submit(now, Work::Client(id));
        }
    }

    /// Calls whose client's database went away fail.
    pub(crate) fn fail_calls_on(&mut self, now: Instant, db_id: u32) {
        let ids: Vec<u32> = self.calls.iter().filter(|(_, c)| c.db_id == db_id).map(|(id, _)| *id).collect();
        for id in ids {
            self.fail_call(now, id, "database detached");
        }
    }
}
