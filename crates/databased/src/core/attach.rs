//! Attaching and detaching databases.
//!
//! A client's first attach of a name opens (creates) the local file and is
//! broadcast to every other connected node, which attaches it too; so a
//! database attached anywhere exists everywhere, and recovery attaches it
//! on nodes that join later. Attaches from clients wait while a recovery
//! runs or before the node has started up (as CTDB does), and are answered
//! when it is over.

use std::time::Instant;

use ctdb_legacy_proto::{db_flags, flags as nflags, ReplyControl, Wire};
use ctdb_proto::{DbDesc, DbMsg, Endpoint};
use tracing::{info, warn};

use super::{slot, Databased, Db, DbStats};
use crate::store::DbKind;

/// A DB_ATTACH from a client, answered after the recovery.
#[derive(Debug, Clone)]
pub(crate) struct Deferred {
    pub gw: Endpoint,
    pub reqid: u64,
    pub name: String,
    pub kind: DbKind,
    /// DeferredAttachTO after it arrived: then it fails.
    pub deadline: Instant,
}

/// Legacy db flags of a kind.
pub(crate) fn kind_flags(kind: DbKind) -> u8 {
    match kind {
        DbKind::Volatile => 0,
        DbKind::Persistent => db_flags::PERSISTENT,
        DbKind::Replicated => db_flags::REPLICATED,
    }
}

/// Kind from legacy db flags.
pub(crate) fn flags_kind(flags: u8) -> DbKind {
    if flags & db_flags::PERSISTENT != 0 {
        DbKind::Persistent
    } else if flags & db_flags::REPLICATED != 0 {
        DbKind::Replicated
    } else {
        DbKind::Volatile
    }
}

impl Db {
    /// Legacy db flags (GET_DBMAP).
    pub fn legacy_flags(&self) -> u8 {
        let mut f = kind_flags(self.kind);
        if self.readonly {
            f |= db_flags::READONLY;
        }
        if self.sticky {
            f |= db_flags::STICKY;
        }
        f
    }

    pub(crate) fn desc(&self) -> DbDesc {
        DbDesc { db_id: self.id, name: self.name.clone(), flags: self.legacy_flags() }
    }
}

impl Databased {
    /// DB_ATTACH / DB_ATTACH_PERSISTENT / DB_ATTACH_REPLICATED from a client.
    pub(crate) fn client_attach(&mut self, now: Instant, gw: Endpoint, reqid: u64, name: String, kind: DbKind) {
        let ready =
            self.state.as_ref().is_some_and(|s| s.recmode == 0 && s.runstate >= ctdb_legacy_proto::runstate::STARTUP);
        let known = self.dbs.values().any(|d| d.name == name);
        if !known && (!ready || self.frozen.is_some()) {
            info!("databased: attach of {name} deferred until recovery is over");
            let secs = self.tunable("DeferredAttachTO", 120);
            let deadline = now + std::time::Duration::from_secs(u64::from(secs));
            self.deferred_attach.push(Deferred { gw, reqid, name, kind, deadline });
            return;
        }
        let r = self.attach_checked(now, &name, kind);
        self.reply_control(gw, reqid, r);
    }

    fn attach_checked(&mut self, now: Instant, name: &str, kind: DbKind) -> ReplyControl {
        let inactive = self
            .state
            .as_ref()
            .and_then(|s| s.nodes.get(self.pnn as usize))
            .is_some_and(|n| n.flags & nflags::INACTIVE != 0);
        if inactive {
            warn!("databased: attach of {name} refused: this node is inactive");
            return fail("node is inactive");
        }
        if let Some(db) = self.dbs.values().find(|d| d.name == name) {
            if db.kind != kind {
                warn!("databased: attach of {name} as {kind:?} refused: attached as {:?}", db.kind);
                return fail("database attached with other flags");
            }
            return ok(db.id.to_bytes());
        }
        if self.tunable(slot::ALLOW_CLIENT_DB_ATTACH, 1) == 0 {
            warn!("databased: attach of {name} refused: AllowClientDBAttach=0");
            return fail("client attaches are not allowed");
        }
        match self.attach_local(now, name, kind) {
            Ok(id) => {
                let desc = self.dbs.get(&id).map(Db::desc);
                if let Some(desc) = desc {
                    for node in self.connected_others() {
                        self.send_db(node, DbMsg::Attach(desc.clone()));
                    }
                }
                ok(id.to_bytes())
            }
            Err(e) => {
                warn!("databased: attach of {name} failed: {e}");
                fail(&e)
            }
        }
    }

    /// Other nodes whose links are up.
    pub(crate) fn connected_others(&self) -> Vec<u32> {
        self.state.as_ref().map_or_else(Vec::new, |s| {
            s.nodes
                .iter()
                .filter(|n| n.pnn != self.pnn && n.flags & (nflags::DISCONNECTED | nflags::DELETED) == 0)
                .map(|n| n.pnn)
                .collect()
        })
    }

    /// Open the local store of `name` (no broadcast). Returns its id.
    pub(crate) fn attach_local(&mut self, _now: Instant, name: &str, kind: DbKind) -> Result<u32, String> {
        if name.is_empty() || name.contains('/') || name.len() > 255 {
            return Err(format!("invalid database name {name:?}"));
        }
        let id = crate::hash::db_id(name);
        if let Some(db) = self.dbs.get(&id) {
            if db.name != name {
                return Err(format!("database id 0x{id:08x} of {name} is taken by {}", db.name));
            }
            return Ok(id);
        }
        let opened = self.backend.open(name, kind, self.pnn).map_err(|e| e.to_string())?;
        let (mut store, path) = (opened.store, opened.path);
        let unhealthy = opened.moved_aside.map(|(_, reason)| reason);
        if let Some(why) = &unhealthy {
            // Healthy again once a recovery has brought the other nodes'
            // copy (or an operator says so with DB_SET_HEALTHY).
            warn!("databased: {name} is unhealthy until the next recovery: {why}");
            self.backend.record_health(name, self.pnn, Some(why));
        }
        if let Some(f) = &mut self.frozen {
            // Attached during a recovery (recovery attaches missing ones):
            // frozen like the others (try_freeze retries it otherwise).
            if store.try_lock_all().unwrap_or(false) {
                f.locked.push(id);
            }
        }
        info!("databased: attached {name} (0x{id:08x}) at {}", path.display());
        self.attach_counter += 1;
        self.dbs.insert(
            id,
            Db {
                id,
                name: name.to_string(),
                kind,
                path,
                store,
                attached_at: self.attach_counter,
                readonly: false,
                sticky: false,
                seqnum_enabled: false,
                last_seqnum: 0,
                sticky_keys: Default::default(),
                pinned: Default::default(),
                delete_queue: Default::default(),
                stats: DbStats::default(),
                unhealthy,
                freeze: None,
                bulk_changed: false,
                bulk_digest: 0,
            },
        );
        Ok(id)
    }

    /// Attach every persistent database this node has a file for, before
    /// the first recovery: a node's copy may be the newest (or the only)
    /// one, whoever attaches the database later.
    pub(crate) fn attach_existing_persistent(&mut self, now: Instant) {
        for name in self.backend.existing_persistent(self.pnn) {
            match self.attach_local(now, &name, DbKind::Persistent) {
                Ok(_) => info!("databased: found persistent database {name}"),
                Err(e) => warn!("databased: cannot attach persistent database {name} found on disk: {e}"),
            }
        }
    }

    /// Another node attached a database.
    pub(crate) fn remote_attach(&mut self, now: Instant, desc: DbDesc) {
        let kind = flags_kind(desc.flags);
        if let Err(e) = self.attach_local(now, &desc.name, kind) {
            warn!("databased: attach of {} announced by another node failed: {e}", desc.name);
        }
    }

    /// Answer the attaches that waited for the recovery.
    pub(crate) fn release_deferred_attaches(&mut self, now: Instant) {
        for d in std::mem::take(&mut self.deferred_attach) {
            let r = self.attach_checked(now, &d.name, d.kind);
            self.reply_control(d.gw, d.reqid, r);
        }
    }

    /// Earliest deadline of a deferred attach.
    pub(crate) fn deferred_attach_timeout(&self) -> Option<Instant> {
        self.deferred_attach.iter().map(|d| d.deadline).min()
    }

    /// Attaches that waited DeferredAttachTO fail (the client is told, not
    /// left waiting).
    pub(crate) fn expire_deferred_attaches(&mut self, now: Instant) {
        let (late, keep): (Vec<Deferred>, Vec<Deferred>) =
            std::mem::take(&mut self.deferred_attach).into_iter().partition(|d| d.deadline <= now);
        self.deferred_attach = keep;
        for d in late {
            warn!("databased: attach of {} waited DeferredAttachTO for the recovery to end; failing it", d.name);
            self.reply_control(d.gw, d.reqid, fail("attach deferred too long"));
        }
    }

    /// Drop a volatile database here (DB_DETACH and its broadcast).
    pub(crate) fn detach_local(&mut self, db_id: u32) {
        let Some(db) = self.dbs.get(&db_id) else { return };
        if db.kind != DbKind::Volatile {
            warn!("databased: refusing to detach non-volatile database {}", db.name);
            return;
        }
        if let Some(db) = self.dbs.remove(&db_id) {
            info!("databased: detached {}", db.name);
        }
        self.lockq.retain(|w| !matches!(w, super::Work::Remote { call, .. } if call.db_id == db_id));
    }
}

/// A successful control reply carrying `data`.
pub(crate) fn ok(data: Vec<u8>) -> ReplyControl {
    ReplyControl { status: 0, data, errmsg: None }
}

pub(crate) fn fail(msg: &str) -> ReplyControl {
    ReplyControl { status: -1, data: Vec::new(), errmsg: Some(msg.to_string()) }
}
