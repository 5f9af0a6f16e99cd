//! Vacuuming: removing deleted (header-only) records from every node.
//!
//! A deleted record must disappear from every copy at once, or an older
//! copy with data could win a later recovery. The lmaster coordinates:
//!
//! ```text
//!  dmaster ≠ lmaster: VacuumFetch → the lmaster migrates the tombstone
//!                     to itself (then it is both)
//!  lmaster = dmaster: TryDelete(key, rsn) → every other active node drops
//!                     its copy unless it is newer or busy, answers the
//!                     keys it kept → the lmaster deletes the rest if the
//!                     tombstone is unchanged
//! ```
//!
//! Fast runs handle the keys Samba scheduled (SCHEDULE_FOR_DELETION); every
//! VacuumFastPathCount-th run is a full scan. Each record is locked only
//! for its own check (non-blocking), never the whole database.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ctdb_legacy_proto::LTDB_HEADER_LEN;
use ctdb_proto::{ClusterState, DbMsg};
use tracing::{debug, info};

use super::{slot, split, Databased};
use crate::store::DbKind;

#[derive(Debug, Default)]
pub(crate) struct VacuumState {
    next_run: Option<Instant>,
    runs: u32,
    pending: HashMap<u32, PendingDelete>,
}

#[derive(Debug)]
struct PendingDelete {
    records: Vec<(Vec<u8>, u64)>,
    waiting: BTreeSet<u32>,
    kept: BTreeSet<Vec<u8>>,
    deadline: Instant,
}

impl VacuumState {
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let p = self.pending.values().map(|p| p.deadline).min();
        [self.next_run, p].into_iter().flatten().min()
    }

    pub(crate) fn ensure_scheduled(&mut self, now: Instant, st: &ClusterState) {
        if self.next_run.is_none() {
            let secs = super::tunable_in(Some(st), slot::VACUUM_INTERVAL).unwrap_or(10).max(1);
            self.next_run = Some(now + Duration::from_secs(u64::from(secs)));
        }
    }
}

impl Databased {
    pub(crate) fn vacuum_tick(&mut self, now: Instant) {
        let expired: Vec<u32> =
            self.vacuum.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(db, _)| *db).collect();
        for db in expired {
            debug!("databased: vacuum of 0x{db:08x} gave up waiting for other nodes");
            self.vacuum.pending.remove(&db);
        }
        if self.vacuum.next_run.is_none_or(|t| t > now) {
            return;
        }
        let secs = self.tunable(slot::VACUUM_INTERVAL, 10).max(1);
        self.vacuum.next_run = Some(now + Duration::from_secs(u64::from(secs)));
        if self.frozen.is_some() {
            return;
        }
        self.vacuum.runs = self.vacuum.runs.wrapping_add(1);
        let every = self.tunable(slot::VACUUM_FAST_PATH_COUNT, 60).max(1);
        let full = self.vacuum.runs.is_multiple_of(every);
        let ids: Vec<u32> = self.dbs.values().filter(|d| d.kind == DbKind::Volatile).map(|d| d.id).collect();
        for id in ids {
            self.vacuum_db(now, id, full);
        }
    }

    /// One vacuum run over one database (DB_VACUUM, or the timer).
    pub(crate) fn vacuum_db(&mut self, now: Instant, db_id: u32, full: bool) {
        if self.db_frozen(db_id) {
            return;
        }
        let pnn = self.pnn;
        let vnnmap = self.vnnmap().to_vec();
        let Some(db) = self.dbs.get_mut(&db_id) else { return };
        if db.kind != DbKind::Volatile {
            return;
        }
        db.stats.vacuum_runs += 1;
        let mut candidates: BTreeSet<Vec<u8>> = std::mem::take(&mut db.delete_queue).into_keys().collect();
        if full {
            let _ = db.store.for_each(&mut |k, v| {
                if v.len() == LTDB_HEADER_LEN {
                    candidates.insert(k.to_vec());
                }
                true
            });
        }
        let mut local = Vec::new();
        let mut remote: BTreeMap<u32, Vec<(Vec<u8>, u64)>> = BTreeMap::new();
        for key in candidates {
            match db.store.try_lock(&key) {
                Ok(true) => {}
                _ => {
                    // Busy: smbd is using it; try again next run.
                    db.delete_queue.insert(key, ());
                    continue;
                }
            }
            let v = db.store.fetch(&key).ok().flatten();
            db.store.unlock(&key);
            let Some(v) = v else { continue };
            let Some((h, data)) = split(&v) else { continue };
            if !data.is_empty() || h.dmaster != pnn {
                continue;
            }
            let lmaster = super::lmaster_of(&vnnmap, &key).unwrap_or(pnn);
            if lmaster == pnn {
                local.push((key, h.rsn));
            } else {
                remote.entry(lmaster).or_default().push((key, h.rsn));
            }
        }
        for (lm, records) in remote {
            self.send_db(lm, DbMsg::VacuumFetch { db_id, records });
        }
        if local.is_empty() {
            return;
        }
        if self.vacuum.pending.contains_key(&db_id) {
            // One deletion round per database at a time; the rest waits.
            if let Some(db) = self.dbs.get_mut(&db_id) {
                for (k, _) in local {
                    db.delete_queue.insert(k, ());
                }
            }
            return;
        }
        let others: BTreeSet<u32> = self.active_nodes().into_iter().filter(|&n| n != pnn).collect();
        let timeout = Duration::from_secs(u64::from(self.tunable(slot::CONTROL_TIMEOUT, 60).max(1)));
        let p = PendingDelete {
            records: local.clone(),
            waiting: others.clone(),
            kept: BTreeSet::new(),
            deadline: now + timeout,
        };
        self.vacuum.pending.insert(db_id, p);
        if others.is_empty() {
            self.delete_unkept(db_id);
            return;
        }
        for n in others {
            self.send_db(n, DbMsg::TryDelete { db_id, records: local.clone() });
        }
    }

    /// lmaster: another node's tombstones; fetch them here to vacuum.
    pub(crate) fn vacuum_fetch(&mut self, now: Instant, db_id: u32, records: Vec<(Vec<u8>, u64)>) {
        if !self.dbs.contains_key(&db_id) || self.db_frozen(db_id) {
            return;
        }
        for (key, _) in records {
            self.own_migration(now, db_id, key);
        }
    }

    /// Another node (the lmaster) asks us to drop our copies.
    pub(crate) fn try_delete(&mut self, from: u32, db_id: u32, records: Vec<(Vec<u8>, u64)>) {
        let pnn = self.pnn;
        let mut kept = Vec::new();
        let frozen = self.db_frozen(db_id);
        if let Some(db) = self.dbs.get_mut(&db_id) {
            for (key, rsn) in records {
                if frozen || !matches!(db.store.try_lock(&key), Ok(true)) {
                    kept.push(key);
                    continue;
                }
                let keep = match db.store.fetch(&key).ok().flatten().as_deref().and_then(split) {
                    None => false,
                    Some((h, _)) => h.dmaster == pnn || h.rsn > rsn,
                };
                if keep || db.store.delete(&key).is_err() {
                    kept.push(key.clone());
                }
                db.store.unlock(&key);
            }
        }
        self.send_db(from, DbMsg::TryDeleteResult { db_id, kept });
    }

    pub(crate) fn try_delete_result(&mut self, _now: Instant, from: u32, db_id: u32, kept: Vec<Vec<u8>>) {
        let Some(p) = self.vacuum.pending.get_mut(&db_id) else { return };
        if !p.waiting.remove(&from) {
            return;
        }
        p.kept.extend(kept);
        if p.waiting.is_empty() {
            self.delete_unkept(db_id);
        }
    }

    /// Every other node answered: delete our tombstones that no node kept
    /// a copy of, if they are still unchanged tombstones.
    fn delete_unkept(&mut self, db_id: u32) {
        let Some(p) = self.vacuum.pending.remove(&db_id) else { return };
        let pnn = self.pnn;
        let Some(db) = self.dbs.get_mut(&db_id) else { return };
        let mut deleted = 0;
        for (key, rsn) in p.records {
            if p.kept.contains(&key) {
                db.delete_queue.insert(key, ());
                continue;
            }
            if !matches!(db.store.try_lock(&key), Ok(true)) {
                db.delete_queue.insert(key, ());
                continue;
            }
            let still = match db.store.fetch(&key).ok().flatten().as_deref().and_then(split) {
                Some((h, data)) => data.is_empty() && h.rsn == rsn && h.dmaster == pnn,
                None => false,
            };
            if still && db.store.delete(&key).is_ok() {
                deleted += 1;
            }
            db.store.unlock(&key);
        }
        if deleted > 0 {
            info!("databased: vacuumed {deleted} deleted records of {}", db.name);
        }
    }
}
