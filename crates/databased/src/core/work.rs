//! Record work and the chain-lock queue.
//!
//! Every operation on a record (a client call, a forwarded call, a record
//! arriving or leaving) first takes the record's chain lock without
//! waiting. When smbd holds it, the work joins a queue that is retried on a
//! short timer with back-off, so the event loop never blocks on a lock.
//! Work for one key runs in arrival order: a later request never overtakes
//! an earlier one for the same record, so none is starved by newcomers.

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
}

/// Result of trying to run work.
pub(crate) enum Ran {
    /// Done (or dropped with a log line).
    Done,
    /// The chain lock is busy: queue it.
    Busy(Work),
}

const MAX_BACKOFF: Duration = Duration::from_millis(5);

impl Databased {
    /// (db, key) a piece of work is about; `None` for a client call whose
    /// state is gone.
    fn work_key(&self, w: &Work) -> Option<(u32, Vec<u8>)> {
        match w {
            Work::Client(id) => self.calls.get(id).map(|c| (c.db_id, c.key.clone())),
            Work::Remote { call, .. } => Some((call.db_id, call.key.clone())),
            Work::ReqDmaster { m, .. } => Some((m.db_id, m.key.clone())),
            Work::ReplyDmaster { m, .. } => Some((m.db_id, m.key.clone())),
        }
    }

    /// Run `w` now, or queue it behind earlier work for the same record, or
    /// hold it while frozen.
    pub(crate) fn submit(&mut self, now: Instant, w: Work) {
        if self.frozen.is_some() {
            self.held.push(w);
            return;
        }
        if let Some(k) = self.work_key(&w) {
            if self.lockq.iter().any(|q| self.work_key(q).as_ref() == Some(&k)) {
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
            let key = self.work_key(&w);
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
                Ran::Done => progressed = true,
                Ran::Busy(w) => {
                    if let Some(k) = key {
                        if let Some(d) = self.dbs.get_mut(&k.0) {
                            d.stats.lock_pending += 1;
                        }
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
