//! Freeze, database recovery and thaw.
//!
//! ```text
//!  clusterd Recover ─► every participant freezes (whole-file locks, so smbd
//!                      waits) and answers DbFrozen; clusterd acks
//!  leader's clusterd ─DbRecoverAll─► leader's databased (the coordinator):
//!    1. ListRequest → every participant lists its databases and how current
//!       its copies are (data generation and epoch); copies of the highest
//!       epoch are the valid ones, every other copy is stale
//!    2. AttachAll   → every participant attaches the union (late joiners
//!                     get every database before they take part)
//!    3. RecoverOne  → for every database, every participant recovers its
//!                     share, the keys whose new lmaster it is, all in
//!                     parallel:
//!         Pull → each participant reads its copy once, cuts it into the
//!                shares and streams each share to its node in bounded
//!                batches (nothing if its copy is stale)
//!         merge: highest rsn wins (ties: the copy held by its dmaster);
//!                deletions stay tombstones, vacuumed later
//!         push → every participant stages every record (the lmaster's
//!                copy is the dmaster's, one rsn ahead)
//!    4. Apply       → every participant replaces each database's contents
//!                     with what it staged
//!    5. DbRecoverDone → clusterd broadcasts Recovered → everyone thaws
//! ```
//!
//! A node left out of a recovery (stopped, banned, cut off) keeps an old
//! epoch, and a node that sees itself inactive marks its data stale; its
//! copy is ignored and replaced when it comes back, so records deleted
//! meanwhile cannot return (Samba bug 14294). Steps of a recovery that was
//! given up for a newer one are ignored.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use ctdb_legacy_proto::{record_flags, Header, LtdbHeader, RecBuffer, RecData, Wire};
use ctdb_proto::{DbDesc, DbMsg, Endpoint, Msg};
use tracing::{info, warn};

use super::attach::flags_kind;
use super::traverse::batches;
use super::{lmaster_of, Databased, Freeze};
use crate::store::DbKind;

/// Internal srvid of recovery pull batches.
pub(crate) const PULL_DATA: u64 = 0xDB00_0000_0000_0002;
/// Internal srvid of recovery push batches.
pub(crate) const PUSH_DATA: u64 = 0xDB00_0000_0000_0003;

#[derive(Debug, Default)]
pub(crate) struct RecoveryState {
    coord: Option<Coord>,
    /// Recovering node: one job per database (its own share).
    jobs: HashMap<u32, Job>,
    /// Participant: records staged per database for the recovery to
    /// `staged_generation`, applied at Apply.
    staged: HashMap<u32, Vec<RecData>>,
    staged_generation: u32,
    /// Participant: its copy of a database cut into shares, sent as the
    /// recovering nodes ask.
    shares: HashMap<u32, BTreeMap<u32, Vec<RecData>>>,
    /// Participant: epoch its copies will have if this recovery completes.
    next_epoch: Option<(u32, u64)>,
}

#[derive(Debug)]
enum Phase {
    Listing,
    Attaching,
    Recovering,
    Applying,
}

#[derive(Debug)]
struct Coord {
    generation: u32,
    participants: Vec<u32>,
    vnnmap: Vec<u32>,
    phase: Phase,
    waiting: BTreeSet<u32>,
    dbs: BTreeMap<u32, DbDesc>,
    /// (database, share) pairs not recovered yet.
    remaining: BTreeSet<(u32, u32)>,
    /// Data generation and epoch each participant reported.
    copies: BTreeMap<u32, (u32, u64)>,
    /// Persistent databases: the node with the highest sequence number.
    newest: BTreeMap<u32, (u64, u32)>,
    /// Persistent databases: each participant's sequence number.
    seqnums: BTreeMap<(u32, u32), u64>,
    /// Persistent (database, node) copies not to be trusted by their
    /// sequence number.
    untrusted: BTreeSet<(u32, u32)>,
    /// Persistent (database, node) copies already the newest, kept.
    keep: BTreeSet<(u32, u32)>,
    /// Persistent (database, node): digest of the bulk transactions since
    /// the last recovery (absent: none).
    digests: BTreeMap<(u32, u32), u64>,
    valid_generation: u32,
    ok: bool,
    started: Instant,
    records: u64,
}

/// One share of one database being recovered by this node.
#[derive(Debug)]
struct Job {
    generation: u32,
    coord: u32,
    kind: DbKind,
    participants: Vec<u32>,
    vnnmap: Vec<u32>,
    pulls: BTreeSet<u32>,
    pushes: BTreeSet<u32>,
    /// key → (header, data, whether the sender was the copy's dmaster).
    merged: HashMap<Vec<u8>, (LtdbHeader, Vec<u8>, bool)>,
    kept: u64,
}

impl Databased {
    // ---- freeze / thaw ----

    /// Freeze every database for the recovery to `generation` (0: this node
    /// became inactive). Work arriving meanwhile is held.
    pub(crate) fn freeze(&mut self, now: Instant, generation: u32) {
        // Whatever an earlier, abandoned recovery cut, pulled or staged is
        // not for this one.
        self.recovery.shares.clear();
        self.recovery.staged.clear();
        self.recovery.jobs.clear();
        self.recovery.next_epoch = None;
        self.abort_commits(generation);
        match &mut self.frozen {
            Some(f) => {
                f.generation = generation;
                f.reported = false;
            }
            None => {
                info!("databased: freezing databases (generation {generation})");
                self.frozen = Some(Freeze { generation, locked: Vec::new(), reported: false });
                self.held.extend(std::mem::take(&mut self.lockq));
                // Recovery ends every delegation; calls waiting for a
                // revocation wait for the thaw instead.
                let revoking = self.revocations.take_deferred();
                self.held.extend(revoking);
                self.lock_retry_at = None;
            }
        }
        self.try_freeze(now);
    }

    /// Take the whole-file lock of every database not locked yet; report
    /// to clusterd once all are.
    pub(crate) fn try_freeze(&mut self, now: Instant) {
        let Some(f) = &mut self.frozen else { return };
        let mut all = true;
        for (id, db) in self.dbs.iter_mut() {
            if f.locked.contains(id) {
                continue;
            }
            match db.store.try_lock_all() {
                Ok(true) => f.locked.push(*id),
                Ok(false) => all = false,
                Err(e) => {
                    // A store that cannot be locked cannot be recovered
                    // either; do not hold the cluster up for it.
                    warn!("databased: cannot freeze {}: {e}", db.name);
                    f.locked.push(*id);
                }
            }
        }
        if !all {
            self.lock_retry_at = Some(now + std::time::Duration::from_millis(1));
            return;
        }
        if !f.reported {
            f.reported = true;
            let g = f.generation;
            if g != 0 {
                self.send_clusterd(Msg::DbFrozen { generation: g });
            }
        }
    }

    /// The recovery is over (the cluster state shows the new generation in
    /// NORMAL mode): unlock, adopt the generation, carry on.
    pub(crate) fn thaw(&mut self, now: Instant) {
        let Some(f) = self.frozen.take() else { return };
        self.end_all_db_freezes();
        for id in &f.locked {
            if let Some(db) = self.dbs.get_mut(id) {
                db.store.unlock_all();
            }
        }
        self.generation = f.generation;
        // Our copies are those of this recovery only if we took part in it
        // to the end (we learnt its epoch); otherwise they are stale.
        match self.recovery.next_epoch.take() {
            Some((g, epoch)) if g == f.generation => {
                self.data_generation = f.generation;
                self.data_epoch = epoch;
            }
            _ => self.data_generation = super::STALE_DATA,
        }
        self.recovery = RecoveryState::default();
        info!("databased: databases thawed at generation {}", f.generation);
        for w in std::mem::take(&mut self.held) {
            self.submit(now, w);
        }
        self.resend_calls(now);
        self.release_deferred_attaches(now);
        self.store_early_commits();
    }

    // ---- coordinator ----

    pub(crate) fn recover_all(&mut self, now: Instant, generation: u32, participants: Vec<u32>, vnnmap: Vec<u32>) {
        info!("databased: recovering databases for generation {generation}, nodes {participants:?}");
        let waiting: BTreeSet<u32> = participants.iter().copied().collect();
        self.recovery.coord = Some(Coord {
            generation,
            participants: participants.clone(),
            vnnmap,
            phase: Phase::Listing,
            waiting,
            dbs: BTreeMap::new(),
            remaining: BTreeSet::new(),
            copies: BTreeMap::new(),
            newest: BTreeMap::new(),
            seqnums: BTreeMap::new(),
            untrusted: BTreeSet::new(),
            keep: BTreeSet::new(),
            digests: BTreeMap::new(),
            valid_generation: super::STALE_DATA,
            ok: true,
            started: now,
            records: 0,
        });
        for p in participants {
            self.send_db(p, DbMsg::ListRequest { generation });
        }
    }

    fn coord_for(&mut self, generation: u32) -> Option<&mut Coord> {
        self.recovery.coord.as_mut().filter(|c| c.generation == generation)
    }

    fn coord_next(&mut self, now: Instant) {
        let Some(c) = &mut self.recovery.coord else { return };
        if !c.waiting.is_empty() {
            return;
        }
        if matches!(c.phase, Phase::Recovering) && !c.remaining.is_empty() {
            return;
        }
        info!(
            "databased: recovery to {}: {:?} done after {} ms",
            c.generation,
            c.phase,
            now.saturating_duration_since(c.started).as_millis()
        );
        match c.phase {
            Phase::Listing => {
                // The newest copies are those of the highest epoch among
                // nodes whose copies are not known stale (a node marks its
                // own copy stale, data generation 0, when it becomes
                // inactive). The new epoch is above every one seen, stale
                // nodes' included, so it orders after all of them.
                let max_epoch = c.copies.values().map(|(_, e)| *e).max().unwrap_or(0);
                let best = c.copies.values().filter(|(g, _)| *g != super::STALE_DATA).map(|(_, e)| *e).max();
                c.valid_generation = best
                    .and_then(|b| c.copies.values().find(|(g, e)| *e == b && *g != super::STALE_DATA))
                    .map_or(u32::MAX, |(g, _)| *g);
                let stale: Vec<u32> =
                    c.copies.iter().filter(|(_, (g, _))| *g != c.valid_generation).map(|(n, _)| *n).collect();
                if !stale.is_empty() {
                    info!("databased: copies of nodes {stale:?} are out of date and will be replaced");
                }
                c.phase = Phase::Attaching;
                c.waiting = c.participants.iter().copied().collect();
                let (g, dbs, parts) =
                    (c.generation, c.dbs.values().cloned().collect::<Vec<_>>(), c.participants.clone());
                for p in parts {
                    self.send_db(p, DbMsg::AttachAll { generation: g, dbs: dbs.clone(), epoch: max_epoch + 1 });
                }
            }
            Phase::Attaching => {
                c.phase = Phase::Recovering;
                // Volatile and replicated databases: every participant
                // recovers its share. Persistent ones: the node with the
                // highest sequence number sends its whole copy.
                let ids: Vec<u32> =
                    c.dbs.values().filter(|d| flags_kind(d.flags) != DbKind::Persistent).map(|d| d.db_id).collect();
                let shares: Vec<u32> = c.participants.clone();
                c.remaining = ids.iter().flat_map(|&db| shares.iter().map(move |&p| (db, p))).collect();
                let persistent: Vec<(u32, u32)> = c
                    .dbs
                    .values()
                    .filter(|d| flags_kind(d.flags) == DbKind::Persistent)
                    .map(|d| (d.db_id, c.newest.get(&d.db_id).map_or(c.participants[0], |(_, n)| *n)))
                    .collect();
                let generation = c.generation;
                let mut pushes = Vec::new();
                for &(db_id, source) in &persistent {
                    // The copies that need it: all but the source's own and
                    // those already at the newest sequence number (when
                    // neither side was changed in bulk and the node took
                    // part in the last recovery).
                    let newest = c.newest.get(&db_id).map_or(0, |(s, _)| *s);
                    let trusted = |n: u32| {
                        !c.untrusted.contains(&(db_id, n))
                            && c.copies.get(&n).is_some_and(|(g, _)| *g == c.valid_generation)
                    };
                    let targets: Vec<u32> = shares
                        .iter()
                        .copied()
                        .filter(|&p| {
                            p != source
                                && !(trusted(source)
                                    && trusted(p)
                                    && c.seqnums.get(&(db_id, p)) == Some(&newest)
                                    && c.digests.get(&(db_id, p)) == c.digests.get(&(db_id, source)))
                        })
                        .collect();
                    let kept: Vec<u32> = shares.iter().copied().filter(|p| !targets.contains(p)).collect();
                    let name = c.dbs.get(&db_id).map_or("?", |d| d.name.as_str());
                    info!(
                        "databased: persistent {name}: node {source}'s copy (seqnum {newest}) to nodes {targets:?}, \
                         kept on nodes {kept:?}"
                    );
                    for &p in &kept {
                        c.keep.insert((db_id, p));
                    }
                    if !targets.is_empty() {
                        c.remaining.insert((db_id, source));
                        pushes.push((source, DbMsg::PushCopy { generation, db_id, participants: targets }));
                    }
                }
                for (source, m) in pushes {
                    self.send_db(source, m);
                }
                let Some(c) = &mut self.recovery.coord else { return };
                let (g, valid, vnnmap) = (c.generation, c.valid_generation, c.vnnmap.clone());
                if c.remaining.is_empty() {
                    self.coord_apply();
                    return;
                }
                let order = self_last(&shares, self.pnn);
                for db_id in ids {
                    for &p in &order {
                        let m = DbMsg::RecoverOne {
                            generation: g,
                            valid_generation: valid,
                            db_id,
                            participants: shares.clone(),
                            vnnmap: vnnmap.clone(),
                        };
                        self.send_db(p, m);
                    }
                }
            }
            Phase::Recovering => {
                if c.remaining.is_empty() {
                    self.coord_apply();
                }
            }
            Phase::Applying => self.coord_finish(now),
        }
    }

    fn coord_apply(&mut self) {
        let Some(c) = &mut self.recovery.coord else { return };
        c.phase = Phase::Applying;
        c.waiting = c.participants.iter().copied().collect();
        let dbs: Vec<u32> = c.dbs.keys().copied().collect();
        let (g, parts) = (c.generation, self_last(&c.participants, self.pnn));
        let keeps: Vec<(u32, Vec<u32>)> =
            parts.iter().map(|&p| (p, c.keep.iter().filter(|(_, n)| *n == p).map(|(d, _)| *d).collect())).collect();
        for (p, keep) in keeps {
            self.send_db(p, DbMsg::Apply { generation: g, dbs: dbs.clone(), keep });
        }
    }

    fn coord_finish(&mut self, now: Instant) {
        let Some(c) = self.recovery.coord.take() else { return };
        info!(
            "databased: database recovery for generation {} {} in {} ms ({} databases, {} records)",
            c.generation,
            if c.ok { "done" } else { "FAILED" },
            now.saturating_duration_since(c.started).as_millis(),
            c.dbs.len(),
            c.records
        );
        self.send_clusterd(Msg::DbRecoverDone { generation: c.generation, ok: c.ok });
    }

    pub(crate) fn recovery_msg(&mut self, now: Instant, from: Endpoint, m: DbMsg) {
        let node = from.node;
        match m {
            DbMsg::ListRequest { generation } => {
                let dbs = self.dbs.values().map(|d| d.desc()).collect();
                let (data_generation, epoch) = (self.data_generation, self.data_epoch);
                let seqnums = self
                    .dbs
                    .values_mut()
                    .filter(|d| d.kind == DbKind::Persistent)
                    .map(|d| (d.id, super::controls::read_seqnum_record(d)))
                    .collect();
                let untrusted = self
                    .dbs
                    .values()
                    .filter(|d| d.kind == DbKind::Persistent && (d.bulk_changed || d.unhealthy.is_some()))
                    .map(|d| d.id)
                    .collect();
                let digests = self
                    .dbs
                    .values()
                    .filter(|d| d.kind == DbKind::Persistent && d.bulk_digest != 0)
                    .map(|d| (d.id, d.bulk_digest))
                    .collect();
                let m = DbMsg::List { generation, dbs, data_generation, epoch, seqnums, untrusted, digests };
                self.send_db(node, m);
            }
            DbMsg::List { generation, dbs, data_generation, epoch, seqnums, untrusted, digests } => {
                if let Some(c) = self.coord_for(generation) {
                    if matches!(c.phase, Phase::Listing) && c.waiting.remove(&node) {
                        c.copies.insert(node, (data_generation, epoch));
                        // Highest sequence number wins; on a tie the lower
                        // pnn (answers arrive in any order).
                        for db_id in untrusted {
                            c.untrusted.insert((db_id, node));
                        }
                        for (db_id, digest) in digests {
                            c.digests.insert((db_id, node), digest);
                        }
                        for (db_id, seq) in seqnums {
                            c.seqnums.insert((db_id, node), seq);
                            let e = c.newest.entry(db_id).or_insert((seq, node));
                            if seq > e.0 || (seq == e.0 && node < e.1) {
                                *e = (seq, node);
                            }
                        }
                        for d in dbs {
                            c.dbs.entry(d.db_id).or_insert(d);
                        }
                        self.coord_next(now);
                    }
                }
            }
            DbMsg::AttachAll { generation, dbs, epoch } => {
                let mut ok = true;
                for d in dbs {
                    if let Err(e) = self.attach_local(now, &d.name, flags_kind(d.flags)) {
                        warn!("databased: recovery attach of {}: {e}", d.name);
                        ok = false;
                    }
                }
                // Newly attached stores must be frozen like the rest.
                self.try_freeze(now);
                if self.frozen_for(generation) {
                    self.recovery.next_epoch = Some((generation, epoch));
                }
                self.send_db(node, DbMsg::AttachedAll { generation, ok });
            }
            DbMsg::AttachedAll { generation, ok } => {
                if let Some(c) = self.coord_for(generation) {
                    if matches!(c.phase, Phase::Attaching) && c.waiting.remove(&node) {
                        c.ok &= ok;
                        self.coord_next(now);
                    }
                }
            }
            DbMsg::RecoveredOne { generation, db_id, ok, records } => {
                if let Some(c) = self.coord_for(generation) {
                    if c.remaining.remove(&(db_id, node)) {
                        c.ok &= ok;
                        c.records += records;
                        if !c.remaining.iter().any(|(d, _)| *d == db_id) {
                            let name = c.dbs.get(&db_id).map(|d| d.name.clone()).unwrap_or_default();
                            info!("databased: recovered {name}");
                        }
                        self.coord_next(now);
                    }
                }
            }
            DbMsg::Applied { generation, ok, records: _ } => {
                if let Some(c) = self.coord_for(generation) {
                    if matches!(c.phase, Phase::Applying) && c.waiting.remove(&node) {
                        c.ok &= ok;
                        self.coord_next(now);
                    }
                }
            }
            // Steps of a recovery that was given up for a newer one may
            // still arrive: they must not touch what the newer one does.
            DbMsg::RecoverOne { generation, .. }
            | DbMsg::Pull { generation, .. }
            | DbMsg::PushDone { generation, .. }
            | DbMsg::Apply { generation, .. }
            | DbMsg::PushCopy { generation, .. }
                if !self.frozen_for(generation) =>
            {
                info!("databased: ignoring a step of the abandoned recovery to generation {generation}");
            }
            DbMsg::RecoverOne { generation, valid_generation, db_id, participants, vnnmap } => {
                self.start_job(node, generation, valid_generation, db_id, participants, vnnmap)
            }
            DbMsg::Pull { generation, valid_generation, db_id, vnnmap } => {
                self.pull_local(node, generation, valid_generation, db_id, &vnnmap)
            }
            DbMsg::PullDone { generation, db_id, records: _, stale } => {
                if stale {
                    info!("databased: node {node}'s copy of 0x{db_id:08x} is out of date; ignored");
                }
                self.pull_done(now, node, generation, db_id)
            }
            DbMsg::PushDone { generation, db_id, records: _ } => {
                let staged = self.recovery.staged.get(&db_id).map_or(0, |v| v.len() as u64);
                self.send_db(node, DbMsg::Pushed { generation, db_id, records: staged });
            }
            DbMsg::Pushed { generation, db_id, records: _ } => self.pushed(node, generation, db_id),
            DbMsg::Apply { generation, dbs, keep } => self.apply(node, generation, dbs, keep),
            DbMsg::PushCopy { generation, db_id, participants } => {
                self.push_copy(node, generation, db_id, participants)
            }
            other => warn!("databased: unexpected {other:?} from node {node}"),
        }
    }

    // ---- recovering one share of one database ----

    fn start_job(
        &mut self,
        coord: u32,
        generation: u32,
        valid_generation: u32,
        db_id: u32,
        participants: Vec<u32>,
        vnnmap: Vec<u32>,
    ) {
        let Some(db) = self.dbs.get(&db_id) else {
            warn!("databased: asked to recover unknown database 0x{db_id:08x}");
            self.send_db(coord, DbMsg::RecoveredOne { generation, db_id, ok: false, records: 0 });
            return;
        };
        let kind = db.kind;
        self.recovery.jobs.insert(
            db_id,
            Job {
                generation,
                coord,
                kind,
                participants: participants.clone(),
                vnnmap: vnnmap.clone(),
                pulls: participants.iter().copied().collect(),
                pushes: BTreeSet::new(),
                merged: HashMap::new(),
                kept: 0,
            },
        );
        for p in self_last(&participants, self.pnn) {
            self.send_db(p, DbMsg::Pull { generation, valid_generation, db_id, vnnmap: vnnmap.clone() });
        }
    }

    /// Participant: send recovering node `to` its share of this node's
    /// copy. The copy is read once and cut into every share on the first
    /// request.
    fn pull_local(&mut self, to: u32, generation: u32, valid_generation: u32, db_id: u32, vnnmap: &[u32]) {
        if self.data_generation != valid_generation {
            self.send_db(to, DbMsg::PullDone { generation, db_id, records: 0, stale: true });
            return;
        }
        if !self.recovery.shares.contains_key(&db_id) {
            let mut shares: BTreeMap<u32, Vec<RecData>> = BTreeMap::new();
            if let Some(db) = self.dbs.get_mut(&db_id) {
                let r = db.store.for_each(&mut |k, v| {
                    if v.len() >= ctdb_legacy_proto::LTDB_HEADER_LEN {
                        let share = lmaster_of(vnnmap, k).unwrap_or(0);
                        shares.entry(share).or_default().push(RecData {
                            reqid: generation,
                            key: k.to_vec(),
                            data: v.to_vec(),
                        });
                    }
                    true
                });
                if let Err(e) = r {
                    warn!("databased: reading {} for recovery: {e}", db.name);
                }
            }
            self.recovery.shares.insert(db_id, shares);
        }
        let records = self.recovery.shares.get_mut(&db_id).and_then(|s| s.remove(&to)).unwrap_or_default();
        let n = records.len() as u64;
        for b in batches(db_id, records) {
            self.send_batch(to, PULL_DATA, generation, b);
        }
        self.send_db(to, DbMsg::PullDone { generation, db_id, records: n, stale: false });
    }

    pub(crate) fn pull_batch(&mut self, _now: Instant, from: u32, h: &Header, b: RecBuffer) {
        let Some(job) = self.recovery.jobs.get_mut(&b.db_id) else { return };
        if job.generation != h.reqid || !job.pulls.contains(&from) {
            return;
        }
        for r in b.records {
            let Ok((hdr, data)) = LtdbHeader::split(&r.data) else { continue };
            let held_by_dmaster = hdr.dmaster == from;
            let better = match job.merged.get(&r.key) {
                None => true,
                Some((old, _, old_by_dm)) => hdr.rsn > old.rsn || (hdr.rsn == old.rsn && held_by_dmaster && !old_by_dm),
            };
            if better {
                job.merged.insert(r.key, (hdr, data.to_vec(), held_by_dmaster));
            }
        }
    }

    fn pull_done(&mut self, _now: Instant, from: u32, generation: u32, db_id: u32) {
        let Some(job) = self.recovery.jobs.get_mut(&db_id) else { return };
        if job.generation != generation || !job.pulls.remove(&from) || !job.pulls.is_empty() {
            return;
        }
        // Every copy of this share is in: send the winners to everyone.
        let replicated = job.kind == DbKind::Replicated;
        let mut winners = Vec::with_capacity(job.merged.len());
        for (key, (mut hdr, data, _)) in job.merged.drain() {
            if data.is_empty() && replicated {
                // The newest copy is a deletion: the record is gone.
                continue;
            }
            // A volatile deletion stays a tombstone (vacuuming removes it):
            // if this recovery is abandoned after only some nodes applied
            // it, the next one must still see the deletion, or an older
            // copy on a node that did not apply it would come back.
            hdr.flags &= !(record_flags::RO_FLAGS | record_flags::MIGRATED_WITH_DATA | record_flags::VACUUM_MIGRATED);
            // Every participant gets every record, as in CTDB: a node that
            // leaves later takes no record with it. The batches are the
            // same for everyone (encoded once): a volatile record names
            // its new lmaster as dmaster, and that node stores it one rsn
            // ahead (see `apply`); a replicated record's copies are each
            // their node's own.
            hdr.dmaster = if replicated { REPLICATED_DMASTER } else { lmaster_of(&job.vnnmap, &key).unwrap_or(0) };
            winners.push(RecData::with_header(generation, key, &hdr, &data));
        }
        job.kept = winners.len() as u64;
        job.pushes = job.participants.iter().copied().collect();
        let n = winners.len() as u64;
        let nodes = self_last(&job.participants, self.pnn);
        let frames: Vec<Vec<u8>> =
            batches(db_id, winners).into_iter().map(|b| self.batch_frame(PUSH_DATA, generation, b)).collect();
        for node in nodes {
            for f in &frames {
                self.send_frame_bytes(node, f.clone());
            }
            self.send_db(node, DbMsg::PushDone { generation, db_id, records: n });
        }
    }

    /// Participant: stage pushed records until Apply.
    pub(crate) fn push_batch(&mut self, _now: Instant, _from: u32, h: &Header, b: RecBuffer) {
        let generation = h.reqid;
        if !self.frozen_for(generation) {
            return;
        }
        if self.recovery.staged_generation != generation {
            self.recovery.staged.clear();
            self.recovery.staged_generation = generation;
        }
        self.recovery.staged.entry(b.db_id).or_default().extend(b.records);
    }

    /// Whether this node is frozen for the recovery to `generation` (and
    /// not for a newer one).
    fn frozen_for(&self, generation: u32) -> bool {
        self.frozen.as_ref().is_some_and(|f| f.generation == generation)
    }

    fn pushed(&mut self, from: u32, generation: u32, db_id: u32) {
        let Some(job) = self.recovery.jobs.get_mut(&db_id) else { return };
        if job.generation != generation || !job.pushes.remove(&from) || !job.pushes.is_empty() {
            return;
        }
        let (coord, records) = (job.coord, job.kept);
        self.recovery.jobs.remove(&db_id);
        self.send_db(coord, DbMsg::RecoveredOne { generation, db_id, ok: true, records });
    }

    /// This node has the newest copy of a persistent database: send all of
    /// it to every participant (staged, applied at Apply).
    fn push_copy(&mut self, coord: u32, generation: u32, db_id: u32, participants: Vec<u32>) {
        let mut records = Vec::new();
        if let Some(db) = self.dbs.get_mut(&db_id) {
            let r = db.store.for_each(&mut |k, v| {
                if v.len() >= ctdb_legacy_proto::LTDB_HEADER_LEN {
                    records.push(RecData { reqid: generation, key: k.to_vec(), data: v.to_vec() });
                }
                true
            });
            if let Err(e) = r {
                warn!("databased: reading {} for recovery: {e}", db.name);
            }
        }
        let n = records.len() as u64;
        let frames: Vec<Vec<u8>> =
            batches(db_id, records).into_iter().map(|b| self.batch_frame(PUSH_DATA, generation, b)).collect();
        let nodes = self_last(&participants, self.pnn);
        self.recovery.jobs.insert(
            db_id,
            Job {
                generation,
                coord,
                kind: DbKind::Persistent,
                participants: participants.clone(),
                vnnmap: Vec::new(),
                pulls: BTreeSet::new(),
                pushes: participants.iter().copied().collect(),
                merged: HashMap::new(),
                kept: n,
            },
        );
        for node in nodes {
            for f in &frames {
                self.send_frame_bytes(node, f.clone());
            }
            self.send_db(node, DbMsg::PushDone { generation, db_id, records: n });
        }
    }

    /// Participant: every share is staged; replace the databases' contents.
    fn apply(&mut self, coord: u32, generation: u32, dbs: Vec<u32>, keep: Vec<u32>) {
        let t0 = Instant::now();
        let mut staged = if self.recovery.staged_generation == generation {
            std::mem::take(&mut self.recovery.staged)
        } else {
            HashMap::new()
        };
        let pnn = self.pnn;
        let mut ok = true;
        let mut stored = 0u64;
        for db_id in dbs {
            let records = staged.remove(&db_id).unwrap_or_default();
            let Some(db) = self.dbs.get_mut(&db_id) else {
                ok = false;
                continue;
            };
            db.delete_queue.clear();
            db.sticky_keys.clear();
            db.pinned.clear();
            if keep.contains(&db_id) {
                // Already the newest copy (same sequence number as the
                // source's, neither changed in bulk).
                db.same_as_cluster();
                continue;
            }
            if db.kind == DbKind::Persistent {
                // The newest copy, headers as the writers chose them, in one
                // transaction: a node dying now keeps its old copy whole.
                let records: Vec<(Vec<u8>, Vec<u8>)> = records.into_iter().map(|r| (r.key, r.data)).collect();
                match db.store.replace_all(true, &records) {
                    Ok(()) => {
                        stored += records.len() as u64;
                        db.same_as_cluster();
                        let name = db.name.clone();
                        self.set_healthy(db_id, &name);
                    }
                    Err(e) => {
                        warn!("databased: replacing {} for recovery: {e}", db.name);
                        ok = false;
                    }
                }
                continue;
            }
            if let Err(e) = db.store.wipe() {
                warn!("databased: wiping {} for recovery: {e}", db.name);
                ok = false;
            }
            let replicated = db.kind == DbKind::Replicated;
            for mut r in records {
                let Ok((mut h, d)) = r.split_header() else { continue };
                if replicated {
                    h.dmaster = pnn;
                } else if h.dmaster == pnn {
                    // The dmaster's copy is one rsn ahead of the others:
                    // smbd writes without changing the rsn, so were they
                    // equal, a later recovery could not tell the dmaster's
                    // newer data from a stale copy once it is in flight.
                    h.rsn = h.rsn.saturating_add(1);
                    if d.is_empty() {
                        db.delete_queue.insert(r.key.clone(), ());
                    }
                }
                let mut hb = Vec::with_capacity(ctdb_legacy_proto::LTDB_HEADER_LEN);
                h.encode(&mut hb);
                r.data[..ctdb_legacy_proto::LTDB_HEADER_LEN].copy_from_slice(&hb);
                match db.store.store(&r.key, &r.data) {
                    Ok(()) => stored += 1,
                    Err(e) => {
                        warn!("databased: storing a recovered record of {}: {e}", db.name);
                        ok = false;
                    }
                }
            }
        }
        self.recovery.shares.clear();
        release_memory();
        info!("databased: recovery to {generation}: stored {stored} records in {} ms", t0.elapsed().as_millis());
        self.send_db(coord, DbMsg::Applied { generation, ok, records: stored });
    }
}

/// dmaster placeholder in pushed records of a replicated database: each
/// participant stores its own pnn.
const REPLICATED_DMASTER: u32 = u32::MAX;

/// `nodes` with `me` moved to the end: work sent to other nodes leaves
/// before this node starts on its own part (which blocks its event loop).
pub(crate) fn self_last(nodes: &[u32], me: u32) -> Vec<u32> {
    let mut v: Vec<u32> = nodes.iter().copied().filter(|&n| n != me).collect();
    if nodes.contains(&me) {
        v.push(me);
    }
    v
}

/// Give the memory of a large recovery back to the system.
fn release_memory() {
    // SAFETY: malloc_trim only walks glibc's own heap structures.
    unsafe {
        libc::malloc_trim(0);
    }
}
