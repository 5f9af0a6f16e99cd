//! Database controls passed on by the gateway.

use std::time::Instant;

use ctdb_legacy_proto::{
    ctrl_flags, CString, DbIdPadded, DbLockCounters, DbStatistics, DbVacuum, Dbid, DbidMap, HotKey, KeyData, Opcode,
    ReplyControl, ReqControl, TraverseStart, TraverseStartExt, Wire,
};
use ctdb_proto::{DbMsg, Endpoint};
use tracing::{info, warn};

use super::attach::{fail, ok};
use super::Databased;
use crate::store::DbKind;

fn done() -> ReplyControl {
    ok(Vec::new())
}

impl Databased {
    pub(crate) fn control(&mut self, now: Instant, gw: Endpoint, reqid: u64, srcnode: u32, c: ReqControl) {
        let noreply = c.flags & ctrl_flags::NOREPLY != 0;
        let d = c.data.as_slice();
        let r = match c.opcode {
            Opcode::DB_ATTACH | Opcode::DB_ATTACH_PERSISTENT | Opcode::DB_ATTACH_REPLICATED => {
                let kind = match c.opcode {
                    Opcode::DB_ATTACH => DbKind::Volatile,
                    Opcode::DB_ATTACH_PERSISTENT => DbKind::Persistent,
                    _ => DbKind::Replicated,
                };
                match CString::from_bytes(d) {
                    Ok(name) => {
                        self.client_attach(now, gw, reqid, name.0, kind);
                        return;
                    }
                    Err(_) => fail("DB_ATTACH needs a NUL-terminated name"),
                }
            }
            Opcode::GET_DBMAP => {
                let mut dbs: Vec<&super::Db> = self.dbs.values().collect();
                dbs.sort_by_key(|d| std::cmp::Reverse(d.attached_at));
                ok(DbidMap { dbs: dbs.iter().map(|d| Dbid { db_id: d.id, flags: d.legacy_flags() }).collect() }
                    .to_bytes())
            }
            Opcode::GETDBPATH => self.with_db(d, |db| ok(CString(db.path.display().to_string()).to_bytes())),
            Opcode::GET_DBNAME => self.with_db(d, |db| ok(CString(db.name.clone()).to_bytes())),
            Opcode::DB_OPEN_FLAGS => self.with_db(d, |db| ok(db.store.flags().to_bytes())),
            // Healthy is an empty reply; unhealthy the reason.
            Opcode::DB_GET_HEALTH => {
                self.with_db(d, |db| ok(db.unhealthy.clone().map(|r| CString(r).to_bytes()).unwrap_or_default()))
            }
            Opcode::DB_SET_HEALTHY => match u32::from_bytes(d) {
                Ok(id) => match self.dbs.get(&id).map(|db| db.name.clone()) {
                    Some(name) => {
                        self.set_healthy(id, &name);
                        done()
                    }
                    None => fail("unknown database"),
                },
                Err(_) => fail("needs a 4-byte db_id"),
            },
            Opcode::DB_FREEZE => match u32::from_bytes(d) {
                Ok(id) => match self.db_freeze(now, gw, reqid, id) {
                    Some(r) => r,
                    None => return,
                },
                Err(_) => fail("needs a 4-byte db_id"),
            },
            Opcode::DB_THAW => match u32::from_bytes(d) {
                Ok(id) => self.db_thaw(now, id),
                Err(_) => fail("needs a 4-byte db_id"),
            },
            Opcode::DB_TRANSACTION_START => self.db_transaction_start(d),
            Opcode::DB_TRANSACTION_COMMIT => self.db_transaction_commit(d),
            Opcode::DB_TRANSACTION_CANCEL => self.db_transaction_cancel(d),
            Opcode::WIPE_DATABASE => self.wipe_database(d),
            Opcode::DB_PUSH_START => self.db_push_start(d),
            Opcode::DB_PUSH_CONFIRM => self.db_push_confirm(d),
            Opcode::DB_PULL => self.db_pull(d, srcnode),
            Opcode::ENABLE_SEQNUM => self.with_db_mut(d, |db| {
                if !db.seqnum_enabled {
                    db.store.enable_seqnum();
                    db.seqnum_enabled = true;
                    db.last_seqnum = db.store.seqnum();
                }
                done()
            }),
            Opcode::SET_DB_READONLY => self.with_db_mut(d, |db| {
                if db.kind != DbKind::Volatile {
                    return fail("READONLY can be set only on volatile DB");
                }
                db.readonly = true;
                done()
            }),
            Opcode::SET_DB_STICKY => self.with_db_mut(d, |db| {
                if db.kind != DbKind::Volatile {
                    return fail("STICKY can be set only on volatile DB");
                }
                db.sticky = true;
                done()
            }),
            Opcode::DB_DETACH => match u32::from_bytes(d) {
                Ok(db_id) => self.detach(now, db_id),
                Err(_) => fail("DB_DETACH needs a db_id"),
            },
            Opcode::GET_DB_STATISTICS => self.with_db(d, db_statistics),
            Opcode::GET_DB_SEQNUM => match DbIdPadded::from_bytes(d) {
                Ok(p) => match self.dbs.get_mut(&p.db_id) {
                    Some(db) => ok(read_seqnum_record(db).to_bytes()),
                    None => fail("unknown database"),
                },
                Err(_) => fail("GET_DB_SEQNUM needs 8 bytes"),
            },
            Opcode::SCHEDULE_FOR_DELETION => match KeyData::from_bytes(d) {
                Ok(k) => match self.dbs.get_mut(&k.db_id) {
                    Some(db) => {
                        db.delete_queue.insert(k.key, ());
                        done()
                    }
                    None => {
                        warn!("databased: SCHEDULE_FOR_DELETION for unknown database 0x{:08x}", k.db_id);
                        fail("unknown database")
                    }
                },
                Err(_) => {
                    warn!("databased: malformed SCHEDULE_FOR_DELETION");
                    fail("malformed key_data")
                }
            },
            Opcode::TRAVERSE_START => match TraverseStart::from_bytes(d) {
                Ok(t) => self.traverse_start(now, t.db_id, t.reqid, t.srvid, false),
                Err(_) => fail("malformed TRAVERSE_START"),
            },
            Opcode::TRAVERSE_START_EXT => match TraverseStartExt::from_bytes(d) {
                Ok(t) => self.traverse_start(now, t.db_id, t.reqid, t.srvid, t.withemptyrecords),
                Err(_) => fail("malformed TRAVERSE_START_EXT"),
            },
            Opcode::TRAVERSE_KILL => match TraverseStart::from_bytes(d) {
                Ok(t) => self.traverse_kill(t.reqid, t.srvid),
                Err(_) => fail("malformed TRAVERSE_KILL"),
            },
            Opcode::TRANS3_COMMIT => match self.trans3_commit(now, gw, reqid, d) {
                Some(r) => r,
                None => return,
            },
            Opcode::DB_VACUUM => match DbVacuum::from_bytes(d) {
                Ok(v) if self.dbs.contains_key(&v.db_id) => {
                    self.vacuum_db(now, v.db_id, v.full_vacuum_run);
                    done()
                }
                Ok(_) => fail("unknown database"),
                Err(_) => fail("malformed DB_VACUUM"),
            },
            other => {
                warn!("databased: control {} not handled here", other.0);
                fail("not supported")
            }
        };
        if r.status != 0 {
            if let Some(m) = &r.errmsg {
                warn!("databased: control {} failed: {m}", c.opcode.0);
            }
        }
        if !noreply {
            self.reply_control(gw, reqid, r);
        }
    }

    fn with_db(&mut self, d: &[u8], f: impl FnOnce(&super::Db) -> ReplyControl) -> ReplyControl {
        match u32::from_bytes(d) {
            Ok(id) => match self.dbs.get(&id) {
                Some(db) => f(db),
                None => fail(&format!("unknown database 0x{id:08x}")),
            },
            Err(_) => fail("needs a 4-byte db_id"),
        }
    }

    fn with_db_mut(&mut self, d: &[u8], f: impl FnOnce(&mut super::Db) -> ReplyControl) -> ReplyControl {
        match u32::from_bytes(d) {
            Ok(id) => match self.dbs.get_mut(&id) {
                Some(db) => f(db),
                None => fail(&format!("unknown database 0x{id:08x}")),
            },
            Err(_) => fail("needs a 4-byte db_id"),
        }
    }

    fn detach(&mut self, now: Instant, db_id: u32) -> ReplyControl {
        let Some(db) = self.dbs.get(&db_id) else { return fail("unknown database") };
        if db.kind != DbKind::Volatile {
            return fail("Only volatile databases can be detached");
        }
        if self.tunable(super::slot::ALLOW_CLIENT_DB_ATTACH, 1) != 0 {
            return fail("AllowClientDBAttach must be 0 to detach");
        }
        info!("databased: detaching {} on every node", db.name);
        self.fail_calls_on(now, db_id);
        self.detach_local(db_id);
        for node in self.connected_others() {
            self.send_db(node, DbMsg::Detach { db_id });
        }
        done()
    }
}

/// `__db_sequence_number__` of a persistent database (0 if absent or not 8
/// bytes; always 0 for the others).
pub(crate) fn read_seqnum_record(db: &mut super::Db) -> u64 {
    if db.kind != DbKind::Persistent {
        return 0;
    }
    let key = b"__db_sequence_number__\0";
    let Ok(Some(v)) = db.store.fetch(key) else { return 0 };
    match super::split(&v) {
        Some((_, data)) if data.len() == 8 => u64::from_ne_bytes(data.try_into().unwrap_or([0; 8])),
        _ => 0,
    }
}

fn db_statistics(db: &super::Db) -> ReplyControl {
    let s = &db.stats;
    let mut hot: [HotKey; ctdb_legacy_proto::MAX_HOT_KEYS] = Default::default();
    let keys = s.hot_keys();
    for (slot, (k, c)) in hot.iter_mut().zip(keys.iter()) {
        slot.count = *c;
        slot.key = k.clone();
    }
    let st = DbStatistics {
        locks: DbLockCounters {
            num_calls: s.lock_calls,
            num_current: 0,
            num_pending: s.lock_pending,
            num_failed: 0,
            ..Default::default()
        },
        db_ro_delegations: s.ro_delegations,
        db_ro_revokes: s.ro_revokes,
        hop_count_bucket: s.hop_buckets,
        // ctdbd always sends 10 slots.
        num_hot_keys: ctdb_legacy_proto::MAX_HOT_KEYS as u32,
        hot_keys: hot,
        ..Default::default()
    };
    ok(st.to_bytes())
}
