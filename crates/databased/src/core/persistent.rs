//! Persistent database transactions: TRANS3_COMMIT.
//!
//! Samba commits a transaction by sending the changed records (each with
//! the header it chose, the `__db_sequence_number__` record among them) to
//! its node's daemon, and when the answer is an error it decides by
//! re-reading the sequence number from its *local* file: old + 1 means the
//! transaction is in, old means it must be sent again. So this node's copy
//! may reach old + 1 only once every other active node has the
//! transaction:
//!
//! ```text
//!  client ─TRANS3_COMMIT─► committer ──batch──► every other active node
//!                                    ◄─Committed(ok)─ (one TDB transaction each)
//!          all ok: the committer stores it (one TDB transaction), answers 0
//!          else:   answers -1 without storing it; if some node may have
//!                  stored it, asks for a recovery, which makes the highest
//!                  sequence number every node's
//! ```
//!
//! Storing on every node at once and answering when all are done would be
//! faster by one local transaction, but a commit refused by one node would
//! leave the committer at old + 1: its client counts the transaction as
//! done while another client, reading old on the refusing node, commits a
//! different old + 1 there.
//!
//! Refused while a recovery runs and when a commit on the same database is
//! still going on. A batch that arrives while this node finishes the very
//! recovery the committer has already left waits for the thaw.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ctdb_legacy_proto::{RecBuffer, ReplyControl, Wire};
use ctdb_proto::{DbMsg, Endpoint};
use tracing::warn;

use super::attach::fail;
use super::{slot, Databased};
use crate::store::DbKind;

/// Internal srvid of commit batches.
pub(crate) const COMMIT_DATA: u64 = 0xDB00_0000_0000_0004;

#[derive(Debug, Default)]
pub(crate) struct Commits {
    next_id: u32,
    running: HashMap<u32, Commit>,
    /// Batches of the generation this node is still finishing the recovery
    /// to (the committer thawed first): stored at the thaw.
    early: Vec<EarlyBatch>,
}

#[derive(Debug)]
struct Commit {
    db_id: u32,
    reply_to: (Endpoint, u64),
    /// The records, stored here once every other node has them.
    records: Vec<(Vec<u8>, Vec<u8>)>,
    waiting: BTreeSet<u32>,
    ok: bool,
    /// Some other node said it stored the transaction.
    stored_elsewhere: bool,
    deadline: Instant,
}

#[derive(Debug)]
struct EarlyBatch {
    from: u32,
    commit_id: u32,
    generation: u32,
    batch: RecBuffer,
}

impl Commits {
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.running.values().map(|c| c.deadline).min()
    }
}

impl Databased {
    /// TRANS3_COMMIT from a client.
    pub(crate) fn trans3_commit(
        &mut self,
        now: Instant,
        gw: Endpoint,
        reqid: u64,
        data: &[u8],
    ) -> Option<ReplyControl> {
        let b = match RecBuffer::from_bytes(data) {
            Ok(b) => b,
            Err(e) => {
                warn!("databased: malformed TRANS3_COMMIT: {e}");
                return Some(fail("malformed record buffer"));
            }
        };
        let Some(db) = self.dbs.get(&b.db_id) else {
            warn!("databased: TRANS3_COMMIT for unknown database 0x{:08x}", b.db_id);
            return Some(fail("unknown database"));
        };
        if db.kind == DbKind::Volatile {
            warn!("databased: TRANS3_COMMIT on volatile database {}", db.name);
            return Some(fail("not a persistent database"));
        }
        if self.frozen.is_some() || self.state.as_ref().is_none_or(|s| s.recmode != 0) {
            return Some(fail("recovery active"));
        }
        if !self.commit_allowed(b.db_id) {
            return Some(fail("database frozen"));
        }
        if self.commits.running.values().any(|c| c.db_id == b.db_id) {
            return Some(fail("a commit on this database is running"));
        }
        let others: Vec<u32> = self.active_nodes().into_iter().filter(|&n| n != self.pnn).collect();
        let db_id = b.db_id;
        if others.is_empty() {
            return Some(self.store_commit_here(db_id, &Self::commit_records(&b)));
        }
        self.commits.next_id = self.commits.next_id.wrapping_add(1);
        let id = self.commits.next_id;
        let timeout = Duration::from_secs(u64::from(self.tunable(slot::CONTROL_TIMEOUT, 60).max(1)));
        let records = Self::commit_records(&b);
        let frame = self.batch_frame(COMMIT_DATA, id, b);
        for &n in &others {
            self.send_frame_bytes(n, frame.clone());
        }
        self.commits.running.insert(
            id,
            Commit {
                db_id,
                reply_to: (gw, reqid),
                records,
                waiting: others.into_iter().collect(),
                ok: true,
                stored_elsewhere: false,
                deadline: now + timeout,
            },
        );
        None
    }

    fn commit_records(b: &RecBuffer) -> Vec<(Vec<u8>, Vec<u8>)> {
        b.records.iter().map(|r| (r.key.clone(), r.data.clone())).collect()
    }

    /// The committer's own copy, last: the answer to the client.
    fn store_commit_here(&mut self, db_id: u32, records: &[(Vec<u8>, Vec<u8>)]) -> ReplyControl {
        if self.frozen.is_some() || !self.commit_allowed(db_id) {
            return fail("database frozen");
        }
        match self.dbs.get_mut(&db_id) {
            Some(db) if db.kind != DbKind::Volatile => match db.store.store_all(records) {
                Ok(()) => ReplyControl { status: 0, data: Vec::new(), errmsg: None },
                Err(e) => {
                    warn!("databased: storing a transaction of {}: {e}", db.name);
                    db.bulk_changed = true;
                    fail("commit failed on this node")
                }
            },
            _ => fail("unknown database"),
        }
    }

    /// A commit failed after some node may have stored it: the copies may
    /// differ at one sequence number until a recovery makes the newest
    /// everyone's.
    fn commit_left_copies_apart(&mut self, db_id: u32) {
        warn!("databased: a failed commit on 0x{db_id:08x} may be stored on some nodes only; asking for a recovery");
        self.send_clusterd(ctdb_proto::Msg::RecoverRequest);
    }

    /// Participant: store a commit's records in one local transaction.
    pub(crate) fn commit_batch(&mut self, from: u32, commit_id: u32, generation: u32, b: RecBuffer) {
        if self.frozen.as_ref().is_some_and(|f| f.generation == generation && generation != 0) {
            // The committer has thawed after this recovery and we are
            // about to: refusing would fail a commit for nothing.
            self.commits.early.push(EarlyBatch { from, commit_id, generation, batch: b });
            return;
        }
        let records: Vec<(Vec<u8>, Vec<u8>)> = b.records.into_iter().map(|r| (r.key, r.data)).collect();
        if generation != self.generation {
            // Sent before a recovery that has ended here since: the
            // committer was told it failed, and the recovery decided what
            // every node holds. Storing it now would set this node apart.
            warn!("databased: transaction on 0x{:08x} from node {from} of generation {generation} refused", b.db_id);
            self.send_db(from, DbMsg::Committed { db_id: b.db_id, commit_id, ok: false });
            return;
        }
        if self.frozen.is_some() || !self.commit_allowed(b.db_id) {
            // A recovery (or `ctdb wipedb`) owns the file now; the
            // committer re-reads the sequence number and tries again.
            warn!("databased: transaction on 0x{:08x} from node {from} refused: database frozen", b.db_id);
            self.send_db(from, DbMsg::Committed { db_id: b.db_id, commit_id, ok: false });
            return;
        }
        let ok = match self.dbs.get_mut(&b.db_id) {
            Some(db) if db.kind != DbKind::Volatile => match db.store.store_all(&records) {
                Ok(()) => true,
                Err(e) => {
                    // Other nodes may have it: this copy is no longer known
                    // to match theirs at any sequence number.
                    warn!("databased: storing a transaction of {}: {e}", db.name);
                    db.bulk_changed = true;
                    false
                }
            },
            _ => false,
        };
        self.send_db(from, DbMsg::Committed { db_id: b.db_id, commit_id, ok });
    }

    /// Another node's answer to one of our commits.
    pub(crate) fn committed(&mut self, from: u32, commit_id: u32, ok: bool) {
        let Some(c) = self.commits.running.get_mut(&commit_id) else { return };
        if !c.waiting.remove(&from) {
            return;
        }
        c.ok &= ok;
        c.stored_elsewhere |= ok;
        if !c.waiting.is_empty() {
            return;
        }
        let Some(c) = self.commits.running.remove(&commit_id) else { return };
        let r = if c.ok { self.store_commit_here(c.db_id, &c.records) } else { fail("commit failed on a node") };
        if r.status != 0 && c.stored_elsewhere {
            self.commit_left_copies_apart(c.db_id);
        }
        self.reply_control(c.reply_to.0, c.reply_to.1, r);
    }

    /// A recovery starts: every running commit fails now (the committer
    /// re-reads the sequence number after the recovery and either finds
    /// its transaction there or sends it again), rather than waiting for
    /// nodes that may be gone.
    pub(crate) fn abort_commits(&mut self, generation: u32) {
        // Early batches of another generation than the one now recovered
        // to: that recovery was given up.
        let (keep, refuse): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.commits.early).into_iter().partition(|e| e.generation == generation);
        self.commits.early = keep;
        for e in refuse {
            self.send_db(e.from, DbMsg::Committed { db_id: e.batch.db_id, commit_id: e.commit_id, ok: false });
        }
        for (_, c) in std::mem::take(&mut self.commits.running) {
            warn!("databased: commit on 0x{:08x} failed: recovery started", c.db_id);
            self.reply_control(c.reply_to.0, c.reply_to.1, fail("recovery started"));
        }
    }

    /// The recovery to `generation` is over here too: store the batches
    /// that came early.
    pub(crate) fn store_early_commits(&mut self) {
        for e in std::mem::take(&mut self.commits.early) {
            self.commit_batch(e.from, e.commit_id, e.generation, e.batch);
        }
    }

    /// Commits that took longer than ControlTimeout fail.
    pub(crate) fn commit_tick(&mut self, now: Instant) {
        let late: Vec<u32> =
            self.commits.running.iter().filter(|(_, c)| c.deadline <= now).map(|(id, _)| *id).collect();
        for id in late {
            if let Some(c) = self.commits.running.remove(&id) {
                warn!("databased: commit on 0x{:08x} timed out waiting for nodes {:?}", c.db_id, c.waiting);
                // The silent nodes may have stored it.
                self.commit_left_copies_apart(c.db_id);
                self.reply_control(c.reply_to.0, c.reply_to.1, fail("commit timed out"));
            }
        }
    }
}
