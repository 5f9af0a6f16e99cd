//! Holding takeover runs off for a while, and asking the leader to let a
//! node take addresses from others.
//!
//! * DISABLE_TAKEOVER_RUNS (`ctdb reloadips`, sent to every connected
//!   node, answered): for `secs` seconds the leader starts no takeover run
//!   and every node skips its address checks; 0 allows them again. As in
//!   CTDB a run already going on cannot be paused: the answer is −EAGAIN.
//!   Runs asked for meanwhile (`ctdb ipreallocate`, flag changes, a
//!   recovery) wait and start once the pause is over, so their requesters
//!   get their answer then.
//! * DISABLE_IP_CHECK (`ctdb moveip` of CTDB 4.17, not answered): the same
//!   pause, but it also ends as soon as the move is done (the new holder's
//!   [`ctdb_proto::FailoverMsg::Moved`]). CTDB keeps it for its whole
//!   timeout (twice the tool's `-t`, 20 s by default), during which no
//!   failure is failed over; ending it with the move leaves the same
//!   result (the address on the target node, every node agreeing) without
//!   that window.
//! * REBALANCE_NODE (`ctdb addip`, and this node's own `ctdb reloadips`
//!   when it gained addresses): the leader lets that node take addresses
//!   from others at its next run (LCP2's forced rebalance) and runs one.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::core::Failoverd;

/// errno EAGAIN, negated as CTDB answers it.
const EAGAIN: i32 = 11;

impl Failoverd {
    /// Whether takeover runs and address checks are held off now.
    pub(crate) fn runs_paused(&self, now: Instant) -> bool {
        [self.runs_disabled_until, self.move_pause_until].into_iter().flatten().any(|t| now < t)
    }

    /// DISABLE_TAKEOVER_RUNS: 0 on success, −EAGAIN while this node's
    /// takeover run is going on.
    pub(crate) fn disable_takeover_runs(&mut self, now: Instant, secs: u32) -> i32 {
        if secs == 0 {
            if self.runs_disabled_until.take().is_some() {
                info!("failoverd: takeover runs enabled again");
            }
            self.maybe_run(now);
            return 0;
        }
        if self.run_in_progress() {
            warn!("failoverd: cannot disable takeover runs: one is in progress");
            return -EAGAIN;
        }
        info!("failoverd: takeover runs disabled for {secs} s");
        self.runs_disabled_until = Some(now + Duration::from_secs(u64::from(secs)));
        0
    }

    /// DISABLE_IP_CHECK (`ctdb moveip`).
    pub(crate) fn disable_ip_check(&mut self, now: Instant, secs: u32) {
        if secs == 0 {
            self.end_move_pause(now);
            return;
        }
        if self.run_in_progress() {
            // CTDB cannot pause a run under way either; the move may then
            // be undone by it.
            warn!("failoverd: cannot pause takeover runs for a move: one is in progress");
            return;
        }
        info!("failoverd: takeover runs and address checks paused for a move (at most {secs} s)");
        self.move_pause_until = Some(now + Duration::from_secs(u64::from(secs)));
    }

    /// The move is done (or given up): runs may start again.
    pub(crate) fn end_move_pause(&mut self, now: Instant) {
        if self.move_pause_until.take().is_some() {
            info!("failoverd: move done; takeover runs and address checks resume");
            self.maybe_run(now);
        }
    }

    /// Pauses whose time is up end.
    pub(crate) fn pause_tick(&mut self, now: Instant) {
        let mut ended = false;
        if self.runs_disabled_until.is_some_and(|t| now >= t) {
            self.runs_disabled_until = None;
            info!("failoverd: takeover runs enabled again after timeout");
            ended = true;
        }
        if self.move_pause_until.is_some_and(|t| now >= t) {
            self.move_pause_until = None;
            info!("failoverd: move pause over after timeout");
            ended = true;
        }
        if ended {
            self.maybe_run(now);
        }
    }

    /// REBALANCE_NODE: only the leader acts on it (the tool sends it to
    /// every node).
    pub(crate) fn rebalance_node(&mut self, now: Instant, pnn: u32) {
        if !self.is_leader() {
            return;
        }
        info!("failoverd: node {pnn} may take addresses from other nodes at the next takeover run");
        if !self.force_rebalance.contains(&pnn) {
            self.force_rebalance.push(pnn);
        }
        self.request_run(now);
    }
}
