//! Leadership: the leader is the node holding the cluster lock.
//!
//! ```text
//!            heard no leader for `leader timeout`
//!  Follower ───────────────────────────────────► ExpectLock (helper running)
//!     ▲   ▲                                         │ '0'        │ '1' / '2' / '3'
//!     │   └─────────── wait another timeout ◄───────┼────────────┘
//!     │                                             ▼
//!     └──── lock lost / shutdown / lower leader ── Leader: broadcast every 1 s,
//!           (no-lock mode only)                   run recoveries
//! ```
//!
//! Nodes never race at start-up before `leader timeout` has passed without a
//! broadcast, so a running cluster's leader is found, not fought. Losing the
//! lock (the helper exits) makes the leader step down at once. When the
//! leader's link dies the others race at once: the lock decides, so racing
//! early is safe and makes failover faster.

use std::time::{Duration, Instant};

use ctdb_cluster_lock::LockReply;
use ctdb_proto::Msg;
use tracing::{info, warn};

use crate::{node_flags, Clusterd};

/// How often a leader announces itself.
pub const BROADCAST_INTERVAL: Duration = Duration::from_secs(1);

/// What the shell must do with the cluster lock helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockAction {
    /// Start the helper and report its first byte with
    /// [`Clusterd::lock_reply`], its later exit with [`Clusterd::lock_lost`].
    Take,
    /// Stop the helper (SIGTERM), releasing the lock. No report follows.
    Release,
}

/// Where this node stands with the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Not holding, not trying.
    Idle,
    /// A Take is outstanding.
    ExpectLock,
    /// Holding the lock.
    Held,
}

/// The election state of one node.
#[derive(Debug)]
pub struct Election {
    can_lead: bool,
    lock_configured: bool,
    leader_timeout: Duration,
    started: bool,
    /// When a leader was last heard from (or the wait began).
    last_heard: Instant,
    lock: LockState,
    next_broadcast: Instant,
}

impl Election {
    /// Election state of a node.
    pub fn new(now: Instant, can_lead: bool, lock_configured: bool, leader_timeout: Duration) -> Election {
        Election {
            can_lead,
            lock_configured,
            leader_timeout,
            started: false,
            last_heard: now,
            lock: LockState::Idle,
            next_broadcast: now,
        }
    }

    /// Begin waiting for a leader broadcast.
    pub fn start(&mut self, now: Instant) {
        self.started = true;
        self.last_heard = now;
    }

    /// The lock state.
    pub fn lock(&self) -> LockState {
        self.lock
    }

    /// Leader capability switched (`setleaderrole`).
    pub(crate) fn set_can_lead(&mut self, can_lead: bool) {
        self.can_lead = can_lead;
    }

    pub(crate) fn poll_timeout(&self, leader: bool) -> Option<Instant> {
        if !self.started {
            return None;
        }
        if leader {
            return Some(self.next_broadcast);
        }
        if self.can_lead && self.lock == LockState::Idle {
            return Some(self.last_heard + self.leader_timeout);
        }
        None
    }
}

impl Clusterd {
    /// Timer: broadcast if leading, race if no leader was heard for long.
    pub(crate) fn election_tick(&mut self, now: Instant) {
        if !self.election.started {
            return;
        }
        if self.is_leader() {
            if now >= self.election.next_broadcast {
                self.broadcast_leader(now);
            }
            return;
        }
        let e = &self.election;
        if !e.can_lead || e.lock != LockState::Idle || now < e.last_heard + e.leader_timeout {
            return;
        }
        if self.own_flags() & node_flags::INACTIVE != 0 {
            // A banned or stopped node does not lead.
            self.election.last_heard = now;
            return;
        }
        if self.election.lock_configured {
            info!("Leader broadcast timeout; trying to take the cluster lock");
            self.election.lock = LockState::ExpectLock;
            self.lock_out.push_back(LockAction::Take);
        } else if self.lowest_candidate() == Some(self.state.pnn) {
            self.become_leader(now);
        } else {
            // A lower node should lead; give it another timeout.
            self.election.last_heard = now;
        }
    }

    /// Without a lock: the lowest connected active leader-capable node leads.
    fn lowest_candidate(&self) -> Option<u32> {
        self.state
            .nodes
            .iter()
            .filter(|n| n.flags & node_flags::INACTIVE == 0 && self.has_capability(n.pnn, crate::caps::RECMASTER))
            .map(|n| n.pnn)
            .min()
    }

    pub(crate) fn on_lock_reply(&mut self, now: Instant, reply: LockReply) {
        if self.election.lock != LockState::ExpectLock {
            // A late answer after we gave up: make sure we do not hold it.
            if reply == LockReply::Held {
                self.lock_out.push_back(LockAction::Release);
            }
            return;
        }
        match reply {
            LockReply::Held => {
                self.election.lock = LockState::Held;
                info!("Took cluster lock, leader={}", self.state.pnn);
                self.become_leader(now);
            }
            other => {
                if other != LockReply::Contended {
                    warn!("Unable to take cluster lock: {other:?}");
                }
                // Contention means a leader exists: wait for its broadcast.
                self.election.lock = LockState::Idle;
                self.election.last_heard = now;
            }
        }
    }

    pub(crate) fn on_lock_lost(&mut self, now: Instant) {
        if self.election.lock != LockState::Held {
            return;
        }
        warn!("Cluster lock lost");
        self.election.lock = LockState::Idle;
        if self.is_leader() {
            self.step_down(now, "cluster lock lost");
        }
    }

    fn become_leader(&mut self, now: Instant) {
        info!("Node {} is the leader", self.state.pnn);
        self.state.leader = Some(self.state.pnn);
        self.dirty = true;
        self.broadcast_leader(now);
        self.start_recovery(now, "new leader");
    }

    /// Stop leading: release the lock, tell everyone, wait a timeout before
    /// racing again.
    pub(crate) fn step_down(&mut self, now: Instant, why: &str) {
        warn!("Stepping down as leader: {why}");
        self.state.leader = None;
        self.dirty = true;
        if self.election.lock == LockState::Held {
            self.election.lock = LockState::Idle;
            self.lock_out.push_back(LockAction::Release);
        }
        self.recovery.abandon();
        self.election.last_heard = now;
        let generation = self.state.generation;
        self.send(ctdb_proto::Endpoint::BROADCAST_CONNECTED, Msg::Leader { pnn: u32::MAX, generation });
    }

    fn broadcast_leader(&mut self, now: Instant) {
        self.election.next_broadcast = now + super::election::BROADCAST_INTERVAL;
        let msg = Msg::Leader { pnn: self.state.pnn, generation: self.state.generation };
        // Every clusterd, this one included; it hands the announcement on
        // to its gateway for clients waiting on the LEADER srvid.
        self.send(ctdb_proto::Endpoint::BROADCAST_CONNECTED, msg);
    }

    /// A Leader broadcast from node `from`.
    pub(crate) fn on_leader(&mut self, now: Instant, from: u32, leader: u32, generation: u32) {
        let me = self.state.pnn;
        // Clients registered for LEADER on this node hear every broadcast.
        self.send_local(ctdb_proto::ServiceId::GATEWAY, Msg::Leader { pnn: leader, generation });
        if from == me {
            return;
        }
        if leader == u32::MAX {
            if self.state.leader == Some(from) {
                info!("Node {from} stopped leading");
                self.state.leader = None;
                self.dirty = true;
            }
            return;
        }
        if self.is_leader() {
            if self.election.lock == LockState::Held {
                // With a working lock this cannot happen; keep the lock and
                // say so loudly.
                warn!("Node {from} claims leadership while this node holds the cluster lock");
                return;
            }
            if from < me {
                self.step_down(now, "a lower-numbered node leads (no cluster lock)");
            } else {
                return;
            }
        }
        if self.state.leader != Some(from) {
            info!("Leader is node {from}");
            self.state.leader = Some(from);
            self.dirty = true;
        }
        self.election.last_heard = now;
        if self.election.lock == LockState::ExpectLock {
            // Someone else leads; our pending attempt will be contended.
        }
        if generation != self.state.generation && !self.recovery.in_progress() && self.state.recmode == 0 {
            // We missed the last recovery (joined late, or a message was
            // lost): ask the leader for one.
            self.send(from, Msg::RecoverRequest);
        }
    }

    /// A link came up or went down.
    pub(crate) fn on_membership_change(&mut self, now: Instant, pnn: u32, up: bool) {
        if !up && self.state.leader == Some(pnn) {
            info!("Leader node {pnn} disconnected");
            self.state.leader = None;
            self.dirty = true;
            // Race now rather than after a whole timeout: the lock decides.
            self.election.last_heard = now.checked_sub(self.election.leader_timeout).unwrap_or(now);
        }
        if self.is_leader() {
            if up {
                // Tell the newcomer at once who leads.
                self.broadcast_leader(now);
            }
            self.start_recovery(now, if up { "node joined" } else { "node left" });
        }
    }
}
