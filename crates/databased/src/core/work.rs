//! Record work and the chain-lock queue.
//!
//! Every operation on a record (a client call, a forwarded call, a record
//! arriving or leaving) first takes the record's chain lock without
//! waiting. When smbd holds it, the work joins a queue that is retried on a
//! short timer with back-off, so the event loop never blocks on a lock.
//! Work for one key runs in arrival order: a later request never overtakes
//! an earlier one for the same record, so none is starved by newcomers.
//!
//! Polling alone could lose to an smbd that keeps taking the lock again, so
//! a record still busy after [`ESCALATE_AFTER`] gets a lock helper process
//! (`ctdb_lock_helper`, started by the shell) that queues for the lock in
//! the kernel like any locker. When it holds the lock, the core marks the
//! chain as locked in its own handle, runs the record's queued work, and
//! lets the helper go.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ctdb_legacy_proto::{Header, ReplyDmaster, ReqCall, ReqDmaster};
use tracing::debug;

use super::Databased;

/// One operation on one record.
#[derive(Debug, Clone)]
pub enum Work {
    /// A client call this node is the origin of (by call id).
    Client(u32),
    /// REQ_CALL from another node (header srcnode = origin, reqid = its
    /// call id).
    Remote {
        /// Legacy header as received.
        hdr: Header,
        /// The call.
        call: ReqCall,
    },
    /// REQ_DMASTER at the lmaster.
    ReqDmaster {
        /// Legacy header as received.
        hdr: Header,
        /// The record.
        m: ReqDmaster,
    },
    /// REPLY_DMASTER at the new dmaster.
    ReplyDmaster {
        /// Legacy header as received.
        hdr: Header,
        /// The record.
        m: ReplyDmaster,
    },
    /// The dmaster `from` revokes our read-only copy.
    Revoke {
        /// The dmaster.
        from: u32,
        /// Database id.
        db_id: u32,
        /// Record key.
        key: Vec<u8>,
    },
    /// Every read-only copy is revoked: clear the flags.
    RevokeFinish {
        /// Database id.
        db_id: u32,
        /// Record key.
        key: Vec<u8>,
    },
}

/// Result of trying to run work.
pub(crate) enum Ran {
    /// Done (or dropped with a log line).
    Done,
    /// The chain lock is busy: queue it.
    Busy(Work),
}

const MAX_BACKOFF: Duration = Duration::from_millis(5);
/// How long a record may stay busy before a lock helper waits for it.
pub const ESCALATE_AFTER: Duration = Duration::from_millis(2);

/// What the shell must do for lock helpers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAction {
    /// Start `ctdb_lock_helper PATH FLAGS KEY` and report with
    /// [`Databased::lock_result`] under `id`.
    Spawn {
        /// Helper id.
        id: u64,
        /// The TDB file.
        path: PathBuf,
        /// Its open flags.
        flags: i32,
        /// The record key.
        key: Vec<u8>,
    },
    /// Let helper `id` go (the shell has processd send it SIGTERM, on
    /// which it unlocks and exits).
    Release {
        /// Helper id.
        id: u64,
    },
}

/// Lock helpers asked for and running.
#[derive(Debug, Default)]
pub(crate) struct Helpers {
    /// Whether the shell can start helpers.
    pub enabled: bool,
    /// Since when each busy record has been waiting.
    busy_since: HashMap<(u32, Vec<u8>), Instant>,
    /// Running helpers by id.
    running: HashMap<u64, (u32, Vec<u8>)>,
    next_id: u64,
    actions: std::collections::VecDeque<LockAction>,
    /// Helpers that got a lock (for statistics and tests).
    pub granted: u64,
}

impl Databased {
    /// (db, key) a piece of work is about; `None` for a client call whose
    /// state is gone.
    fn work_key<'a>(&'a self, w: &'a Work) -> Option<(u32, &'a [u8])> {
        match w {
            Work::Client(id) => self.calls.get(id).map(|c| (c.db_id, c.key.as_slice())),
            Work::Remote { call, .. } => Some((call.db_id, &call.key)),
            Work::ReqDmaster { m, .. } => Some((m.db_id, &m.key)),
            Work::ReplyDmaster { m, .. } => Some((m.db_id, &m.key)),
            Work::Revoke { db_id, key, .. } | Work::RevokeFinish { db_id, key } => Some((*db_id, key)),
        }
    }

    /// The database a piece of work is about.
    pub(crate) fn work_db(&self, w: &Work) -> Option<u32> {
        self.work_key(w).map(|(db, _)| db)
    }

    /// [`Databased::work_key`], owned (for keeping beyond the work).
    fn owned_key(&self, w: &Work) -> Option<(u32, Vec<u8>)> {
        self.work_key(w).map(|(db, k)| (db, k.to_vec()))
    }

    /// Run `w` now, or queue it behind earlier work for the same record, or
    /// hold it while frozen.
    pub(crate) fn submit(&mut self, now: Instant, w: Work) {
        if self.frozen.is_some() || self.work_db(&w).is_some_and(|db| self.db_frozen(db)) {
            self.held.push(w);
            return;
        }
        if let Some(k) = self.work_key(&w) {
            if self.lockq.iter().any(|q| self.work_key(q) == Some(k)) {
                self.lockq.push_back(w);
                return;
            }
        }
        self.run_or_queue(now, w);
    }

    fn run_or_queue(&mut self, now: Instant, w: Work) {
        if let Ran::Busy(w) = self.run(now, w) {
            if let Some((db, _)) = self.work_key(&w) {
                if let Some(d) = self.dbs.get_mut(&db) {
                    d.stats.lock_waits += 1;
                    d.stats.lock_pending += 1;
                }
            }
            self.lockq.push_back(w);
            self.schedule_lock_retry(now, true);
        }
    }

    fn run(&mut self, now: Instant, w: Work) -> Ran {
        match w {
            Work::Client(id) => self.run_client_call(now, id),
            Work::Remote { hdr, call } => self.run_remote_call(now, hdr, call),
            Work::ReqDmaster { hdr, m } => self.run_req_dmaster(now, hdr, m),
            Work::ReplyDmaster { hdr, m } => self.run_reply_dmaster(now, hdr, m),
            Work::Revoke { from, db_id, key } => self.run_revoke(from, db_id, key),
            Work::RevokeFinish { db_id, key } => self.run_revoke_finish(now, db_id, key),
        }
    }

    fn schedule_lock_retry(&mut self, now: Instant, fresh: bool) {
        if fresh && self.lock_retry_at.is_none() {
            self.lock_backoff = Duration::from_micros(100);
        }
        if self.lock_retry_at.is_none() {
            self.lock_retry_at = Some(now + self.lock_backoff);
        }
    }

    /// Retry queued work in order; per record only the oldest runs.
    pub(crate) fn retry_locks(&mut self, now: Instant) {
        if self.frozen.is_some() {
            return;
        }
        let queue = std::mem::take(&mut self.lockq);
        let mut blocked: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut progressed = false;
        for w in queue {
            let key = self.owned_key(&w);
            if let Some(k) = &key {
                if blocked.contains(k) {
                    self.lockq.push_back(w);
                    continue;
                }
                if let Some(d) = self.dbs.get_mut(&k.0) {
                    d.stats.lock_pending = d.stats.lock_pending.saturating_sub(1);
                }
            }
            match self.run(now, w) {
                Ran::Done => {
                    progressed = true;
                    if let Some(k) = &key {
                        self.helpers.busy_since.remove(k);
                    }
                }
                Ran::Busy(w) => {
                    if let Some(k) = key {
                        if let Some(d) = self.dbs.get_mut(&k.0) {
                            d.stats.lock_pending += 1;
                        }
                        self.maybe_escalate(now, &k);
                        blocked.push(k);
                    }
                    self.lockq.push_back(w);
                }
            }
        }
        if !self.lockq.is_empty() {
            self.lock_backoff =
                if progressed { Duration::from_micros(100) } else { (self.lock_backoff * 2).min(MAX_BACKOFF) };
            debug!("databased: {} requests wait for chain locks", self.lockq.len());
            self.schedule_lock_retry(now, false);
        }
    }
}

impl Databased {
    /// Allow (or not) lock helper processes; the shell knows whether it
    /// has the helper binary.
    pub fn enable_lock_helpers(&mut self, on: bool) {
        self.helpers.enabled = on;
    }

    /// Next thing the shell must do for lock helpers.
    pub fn poll_lock_action(&mut self) -> Option<LockAction> {
        self.helpers.actions.pop_front()
    }

    /// Helpers granted a lock so far.
    pub fn lock_helpers_granted(&self) -> u64 {
        self.helpers.granted
    }

    fn maybe_escalate(&mut self, now: Instant, k: &(u32, Vec<u8>)) {
        let since = *self.helpers.busy_since.entry(k.clone()).or_insert(now);
        if !self.helpers.enabled || now.saturating_duration_since(since) < ESCALATE_AFTER {
            return;
        }
        if self.helpers.running.values().any(|r| r == k) {
            return;
        }
        let Some((path, flags)) = self.dbs.get(&k.0).and_then(|d| d.store.lock_source()) else { return };
        self.helpers.next_id += 1;
        let id = self.helpers.next_id;
        debug!("databased: record busy for {:?}; lock helper {id} waits for it", now.saturating_duration_since(since));
        self.helpers.running.insert(id, k.clone());
        self.helpers.actions.push_back(LockAction::Spawn { id, path, flags, key: k.1.clone() });
    }

    /// The shell's report on helper `id`: it holds the lock (`ok`), or it
    /// failed (then polling goes on).
    pub fn lock_result(&mut self, now: Instant, id: u64, ok: bool) {
        let Some(k) = self.helpers.running.get(&id).cloned() else { return };
        if !ok {
            tracing::warn!("databased: lock helper {id} failed; retrying without it");
            self.helpers.running.remove(&id);
            self.helpers.busy_since.remove(&k);
            self.helpers.actions.push_back(LockAction::Release { id });
            return;
        }
        self.helpers.granted += 1;
        let marked = self.frozen.is_none() && self.dbs.get_mut(&k.0).is_some_and(|d| d.store.mark_locked(&k.1).is_ok());
        if marked {
            // Run this record's queued work, in order, under the helper's
            // lock; the rest of the queue stays as it is.
            let queue = std::mem::take(&mut self.lockq);
            for w in queue {
                if self.work_key(&w) == Some((k.0, k.1.as_slice())) {
                    if let Some(d) = self.dbs.get_mut(&k.0) {
                        d.stats.lock_pending = d.stats.lock_pending.saturating_sub(1);
                    }
                    if let Ran::Busy(w) = self.run(now, w) {
                        self.lockq.push_back(w);
                    }
                } else {
                    self.lockq.push_back(w);
                }
            }
            if let Some(d) = self.dbs.get_mut(&k.0) {
                d.store.unmark_locked(&k.1);
            }
            self.helpers.busy_since.remove(&k);
        }
        self.helpers.running.remove(&id);
        self.helpers.actions.push_back(LockAction::Release { id });
    }
}
