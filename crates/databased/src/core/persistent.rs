//! Persistent database transactions: TRANS3_COMMIT.
//!
//! Samba commits a transaction by sending the changed records (each with
//! the header it chose, the `__db_sequence_number__` record among them) to
//! its node's daemon. The daemon sends them to every active node (itself
//! included) in one batch; each stores them in one local TDB transaction
//! and answers; the client is answered once every node has them, -1 if any
//! failed or ControlTimeout passed. Refused while a recovery runs and when
//! a commit on the same database is still going on.

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
}

#[derive(Debug)]
struct Commit {
    db_id: u32,
    reply_to: (Endpoint, u64),
    waiting: BTreeSet<u32>,
    ok: bool,
    deadline: Instant,
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
        let nodes = self.active_nodes();
        self.commits.next_id = self.commits.next_id.wrapping_add(1);
        let id = self.commits.next_id;
        let timeout = Duration::from_secs(u64::from(self.tunable(slot::CONTROL_TIMEOUT, 60).max(1)));
        self.commits.running.insert(
            id,
            Commit {
                db_id: b.db_id,
                reply_to: (gw, reqid),
                waiting: nodes.iter().copied().collect(),
                ok: true,
                deadline: now + timeout,
            },
        );
        let frame = self.batch_frame(COMMIT_DATA, id, b);
        // The other nodes' copies first: our own store runs on this thread,
        // and their transactions should run while it does, not after.
        for n in super::recovery::self_last(&nodes, self.pnn) {
            self.send_frame_bytes(n, frame.clone());
        }
        None
    }

    /// Participant: store a commit's records in one local transaction.
    pub(crate) fn commit_batch(&mut self, from: u32, commit_id: u32, generation: u32, b: RecBuffer) {
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

    pub(crate) fn committed(&mut self, from: u32, commit_id: u32, ok: bool) {
        let Some(c) = self.commits.running.get_mut(&commit_id) else { return };
        if !c.waiting.remove(&from) {
            return;
        }
        c.ok &= ok;
        if c.waiting.is_empty() {
            if let Some(c) = self.commits.running.remove(&commit_id) {
                let r = if c.ok {
                    ReplyControl { status: 0, data: Vec::new(), errmsg: None }
                } else {
                    fail("commit failed on a node")
                };
                self.reply_control(c.reply_to.0, c.reply_to.1, r);
            }
        }
    }

    /// A recovery starts: every running commit fails now (the committer
    /// re-reads the sequence number after the recovery and either finds
    /// its transaction there or sends it again), rather than waiting for
    /// nodes that may be gone.
    pub(crate) fn abort_commits(&mut self) {
        for (_, c) in std::mem::take(&mut self.commits.running) {
            warn!("databased: commit on 0x{:08x} failed: recovery started", c.db_id);
            self.reply_control(c.reply_to.0, c.reply_to.1, fail("recovery started"));
        }
    }

    /// Commits that took longer than ControlTimeout fail.
    pub(crate) fn commit_tick(&mut self, now: Instant) {
        let late: Vec<u32> =
            self.commits.running.iter().filter(|(_, c)| c.deadline <= now).map(|(id, _)| *id).collect();
        for id in late {
            if let Some(c) = self.commits.running.remove(&id) {
                warn!("databased: commit on 0x{:08x} timed out waiting for nodes {:?}", c.db_id, c.waiting);
                self.reply_control(c.reply_to.0, c.reply_to.1, fail("commit timed out"));
            }
        }
    }
}
