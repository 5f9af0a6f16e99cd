//! Read-only delegations (SET_DB_READONLY).
//!
//! On a read-only-enabled database a client may ask for a record with
//! WANT_READONLY: instead of migrating it, the dmaster hands out a read-only
//! copy (flag RO_HAVE_READONLY, stored on the asking node, where smbd reads
//! it locally) and marks its own copy RO_HAVE_DELEGATIONS. Any other access
//! that needs the record (a write migration, a plain call) first revokes
//! every delegation:
//!
//! ```text
//!  dmaster: copy |= RO_REVOKING_READONLY, calls for the record wait
//!     ──Revoke(key)──► every other active node: a read-only copy becomes an
//!                      ordinary copy naming the dmaster
//!     ◄──Revoked────── all answered: RO flags cleared, waiting calls run
//! ```
//!
//! A recovery ends every delegation (it strips the RO flags).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use ctdb_legacy_proto::record_flags as rf;
use ctdb_proto::DbMsg;
use tracing::{debug, warn};

use super::work::{Ran, Work};
use super::{split, Databased};

/// Revocations in progress on this node (as dmaster), by record.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    active: HashMap<(u32, Vec<u8>), Revocation>,
}

#[derive(Debug, Default)]
struct Revocation {
    waiting: BTreeSet<u32>,
    deferred: Vec<Work>,
}

impl Revocations {
    /// Forget every revocation (recovery); the calls that waited.
    pub(crate) fn take_deferred(&mut self) -> Vec<Work> {
        self.active.drain().flat_map(|(_, r)| r.deferred).collect()
    }
}

impl Databased {
    /// Whether a revocation of `key` runs here (its header carries
    /// RO_REVOKING_READONLY and we track it).
    pub(crate) fn is_revoking(&self, db_id: u32, key: &[u8], flags: u32) -> bool {
        flags & rf::RO_REVOKING_READONLY != 0 && self.revocations.active.contains_key(&(db_id, key.to_vec()))
    }

    /// `w` waits for the revocation of `key` to finish.
    pub(crate) fn defer_for_revoke(&mut self, db_id: u32, key: &[u8], w: Work) {
        self.revocations.active.entry((db_id, key.to_vec())).or_default().deferred.push(w);
    }

    /// Hand out a read-only copy of a record this node is dmaster of (the
    /// chain lock is held by the caller): the copy's header, stored here
    /// with RO_HAVE_DELEGATIONS first if this is the first delegation.
    pub(crate) fn delegate(
        &mut self,
        db_id: u32,
        key: &[u8],
        mut h: ctdb_legacy_proto::LtdbHeader,
        data: &[u8],
    ) -> ctdb_legacy_proto::LtdbHeader {
        if h.flags & rf::RO_HAVE_DELEGATIONS == 0 {
            // As ctdbd: the dmaster's copy moves 3 ahead and the read-only
            // copies carry rsn + 1, so a recovery prefers the dmaster's.
            h.rsn += 3;
            h.flags |= rf::RO_HAVE_DELEGATIONS;
            if let Some(db) = self.dbs.get_mut(&db_id) {
                if let Err(e) = db.store.store(key, &h.join(data)) {
                    warn!("databased: marking a delegated record of {}: {e}", db.name);
                }
            }
        }
        if let Some(db) = self.dbs.get_mut(&db_id) {
            db.stats.ro_delegations += 1;
        }
        let mut copy = h;
        copy.rsn -= 2;
        copy.flags = (copy.flags | rf::RO_HAVE_READONLY) & !rf::RO_HAVE_DELEGATIONS;
        copy
    }

    /// Start revoking `key`'s delegations (the chain lock is held by the
    /// caller, the header is the record's current one); `w` waits for it.
    pub(crate) fn start_revoke(
        &mut self,
        db_id: u32,
        key: &[u8],
        mut h: ctdb_legacy_proto::LtdbHeader,
        data: &[u8],
        w: Work,
    ) {
        h.flags |= rf::RO_REVOKING_READONLY;
        if let Some(db) = self.dbs.get_mut(&db_id) {
            if let Err(e) = db.store.store(key, &h.join(data)) {
                warn!("databased: marking a record of {} as revoking: {e}", db.name);
            }
        }
        let others: BTreeSet<u32> = self.active_nodes().into_iter().filter(|&n| n != self.pnn).collect();
        debug!("databased: revoking read-only copies of a record of 0x{db_id:08x} on {others:?}");
        let k = (db_id, key.to_vec());
        let r = self.revocations.active.entry(k).or_default();
        r.waiting = others.clone();
        r.deferred.push(w);
        if others.is_empty() {
            self.submit(Instant::now(), Work::RevokeFinish { db_id, key: key.to_vec() });
            return;
        }
        for n in others {
            self.send_db(n, DbMsg::Revoke { db_id, key: key.to_vec() });
        }
    }

    /// Another node (the dmaster) revokes our read-only copy.
    pub(crate) fn run_revoke(&mut self, from: u32, db_id: u32, key: Vec<u8>) -> Ran {
        let Some(db) = self.dbs.get_mut(&db_id) else {
            self.send_db(from, DbMsg::Revoked { db_id, key });
            return Ran::Done;
        };
        match db.store.try_lock(&key) {
            Ok(true) => {}
            Ok(false) => return Ran::Busy(Work::Revoke { from, db_id, key }),
            Err(e) => {
                warn!("databased: revoke: {e}");
                self.send_db(from, DbMsg::Revoked { db_id, key });
                return Ran::Done;
            }
        }
        if let Some(v) = db.store.fetch(&key).ok().flatten() {
            if let Some((mut h, data)) = split(&v) {
                if h.flags & rf::RO_HAVE_READONLY != 0 {
                    h.flags &= !rf::RO_FLAGS;
                    h.dmaster = from;
                    if let Err(e) = db.store.store(&key, &h.join(data)) {
                        warn!("databased: dropping a read-only copy in {}: {e}", db.name);
                    }
                }
            }
        }
        db.store.unlock(&key);
        self.send_db(from, DbMsg::Revoked { db_id, key });
        Ran::Done
    }

    /// A node dropped its read-only copy.
    pub(crate) fn revoked(&mut self, now: Instant, from: u32, db_id: u32, key: Vec<u8>) {
        let k = (db_id, key);
        let Some(r) = self.revocations.active.get_mut(&k) else { return };
        r.waiting.remove(&from);
        if r.waiting.is_empty() {
            self.submit(now, Work::RevokeFinish { db_id, key: k.1 });
        }
    }

    /// Every copy is revoked: clear the flags and let the calls go on.
    pub(crate) fn run_revoke_finish(&mut self, now: Instant, db_id: u32, key: Vec<u8>) -> Ran {
        if let Some(db) = self.dbs.get_mut(&db_id) {
            match db.store.try_lock(&key) {
                Ok(false) => return Ran::Busy(Work::RevokeFinish { db_id, key }),
                Err(e) => warn!("databased: revoke: {e}"),
                Ok(true) => {
                    if let Some(v) = db.store.fetch(&key).ok().flatten() {
                        if let Some((mut h, data)) = split(&v) {
                            h.flags &= !rf::RO_FLAGS;
                            if let Err(e) = db.store.store(&key, &h.join(data)) {
                                warn!("databased: clearing read-only flags in {}: {e}", db.name);
                            }
                        }
                    }
                    db.store.unlock(&key);
                }
            }
            db.stats.ro_revokes += 1;
        }
        let deferred = self.revocations.active.remove(&(db_id, key)).map(|r| r.deferred).unwrap_or_default();
        for w in deferred {
            self.submit(now, w);
        }
        Ran::Done
    }
}
