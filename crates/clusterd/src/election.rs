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
/// After contention, how long to wait for the holder's broadcast before
/// trying again.
pub const LOCK_RETRY: Duration = Duration::from_secs(1);
/// After a leader yields, how long to give its helper to let go of the lock.
pub const YIELD_GRACE: Duration = Duration::from_millis(100);

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

    /// Race again after `delay` (capped by the leader timeout) unless a
    /// leader is heard from meanwhile.
    pub(crate) fn retry_soon(&mut self, now: Instant, delay: Duration) {
        let delay = delay.min(self.leader_timeout);
        self.last_heard = (now + delay).checked_sub(self.leader_timeout).unwrap_or(now);
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
                // Contention means a holder exists: a leader announces
                // itself at once, so wait one retry interval (not a whole
                // leader timeout) for its broadcast, then try again. This
                // catches a lock that was still being let go (a yielding
                // leader's helper revoking an etcd lease).
                self.election.lock = LockState::Idle;
                self.election.retry_soon(now, LOCK_RETRY);
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
                // It lets go of the lock right after saying so: race
                // shortly instead of waiting out a leader timeout.
                self.election.retry_soon(now, YIELD_GRACE);
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
        if !self.election.lock_configured && self.state.leader.is_some_and(|cur| cur < from) {
            // Without a lock the lower of two leaders wins: the higher one
            // steps down when it hears it (above). Following the higher one
            // meanwhile made this node ignore the lower one's Recover (which
            // then waited RecoverTimeout for us) or its Recovered (leaving us
            // in recovery mode for good).
            return;
        }
        if self.state.leader != Some(from) {
            info!("Leader is node {from}");
            self.state.leader = Some(from);
            self.dirty = true;
        }
        self.election.last_heard = now;
        // We missed the last recovery (joined late, a message was lost, or
        // we followed another node when it ran): ask the leader for one. In
        // recovery mode that is so unless we are in the leader's unfinished
        // recovery; an inactive node is in recovery mode by design and left
        // out of recoveries, so it does not ask. In normal mode a leader
        // still in the recovery we ignored broadcasts our own (old)
        // generation: only what we ignored tells.
        let missed = if self.state.recmode == 0 {
            generation != self.state.generation
        } else {
            !self.recovery.in_unfinished_recovery_of(from, generation) && self.own_flags() & node_flags::INACTIVE == 0
        } || self.recovery.ignored_unfinished_recovery_of(from, generation);
        if missed && !self.recovery.in_progress() {
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

#[cfg(test)]
mod tests {
    //! Followers and leaders that disagree for a moment about who leads,
    //! found by the simulation (`ctdb-sim`): seeds 4602717445737915391 and
    //! 6849123177853896617 with `CTDB_SIM_LOCK=0`, and 16897646832132207309
    //! with `CTDB_SIM_LOCK=0 CTDB_SIM_DROPS=1`.

    use std::net::IpAddr;
    use std::time::{Duration, Instant, SystemTime};

    use ctdb_config::Tunables;
    use ctdb_proto::{Body, Endpoint, Msg, Packet, ServiceId};

    use super::{LockAction, BROADCAST_INTERVAL};
    use crate::{Clusterd, ClusterdConfig};

    /// Node 2 of five, no cluster lock, linked to every other node.
    fn follower(t0: Instant) -> Clusterd {
        node2(t0, false)
    }

    /// Node 2 of five, linked to every other node.
    fn node2(t0: Instant, lock: bool) -> Clusterd {
        let mut c = Clusterd::new(
            t0,
            ClusterdConfig {
                databases: false,
                pnn: 2,
                nodes: (1..=5).map(|n| Some(IpAddr::from([127, 0, 0, n]))).collect(),
                tunables: Tunables::defaults(),
                cluster_lock: lock.then(|| "/cluster/lock".into()),
                capabilities: crate::caps::RECMASTER | crate::caps::LMASTER,
                start_flags: 0,
                leader_timeout: Duration::from_secs(5),
                seed: 7,
                wall_start: SystemTime::UNIX_EPOCH,
            },
        );
        c.activate(t0);
        for pnn in [0, 1, 3, 4] {
            let up = Msg::PeerUp { pnn };
            c.dispatch(t0, Packet::new(ep(2), Endpoint::new(2, ServiceId::TRANSPORT), 0, Body::Msg(up)));
        }
        // A full mesh: every peer linked to every other.
        for pnn in [0, 1, 3, 4] {
            let links = (0..5).filter(|&n| n != pnn).collect();
            let caps = crate::caps::RECMASTER | crate::caps::LMASTER;
            c.dispatch(t0, from(pnn, Msg::NodeState { pnn, flags: 0, capabilities: caps, links }));
        }
        drain(&mut c);
        c
    }

    fn ep(node: u32) -> Endpoint {
        Endpoint::new(node, ServiceId::CLUSTERD)
    }

    fn from(node: u32, msg: Msg) -> Packet {
        Packet::new(ep(2), ep(node), 0, Body::Msg(msg))
    }

    fn drain(c: &mut Clusterd) -> Vec<(u32, Msg)> {
        std::iter::from_fn(|| c.poll_output())
            .filter(|p| p.header.dst.service == ServiceId::CLUSTERD)
            .filter_map(|p| match p.body {
                Body::Msg(m) => Some((p.header.dst.node, m)),
                _ => None,
            })
            .collect()
    }

    /// Two partitions, each with its leader, heal. Node 2 hears node 0's
    /// broadcast, then node 4's (which has not yet heard node 0 and stepped
    /// down), then node 0's recovery. It must take part in node 0's
    /// recovery: ignoring it left node 0 waiting RecoverTimeout for our
    /// answer.
    #[test]
    fn without_a_lock_a_follower_keeps_the_lower_of_two_leaders() {
        let t0 = Instant::now();
        let mut c = follower(t0);
        c.dispatch(t0, from(0, Msg::Leader { pnn: 0, generation: 10 }));
        c.dispatch(t0, from(4, Msg::Leader { pnn: 4, generation: 40 }));
        assert_eq!(c.state().leader, Some(0), "node 4 will step down for node 0");
        drain(&mut c);
        c.dispatch(t0, from(0, Msg::Recover { generation: 11, vnnmap: vec![0, 1, 2, 3, 4] }));
        assert_eq!(drain(&mut c), vec![(0, Msg::RecoverAck { generation: 11 })]);
    }

    /// Node 2 acked node 0's recovery; a broadcast of the stepping-down
    /// node 1 arrives before node 0's end of recovery. Following node 1
    /// made node 2 ignore that end and stay in recovery mode for good (a
    /// follower in recovery mode never asks for another).
    #[test]
    fn without_a_lock_a_higher_leaders_broadcast_does_not_lose_the_end_of_recovery() {
        let t0 = Instant::now();
        let mut c = follower(t0);
        c.dispatch(t0, from(0, Msg::Leader { pnn: 0, generation: 10 }));
        c.dispatch(t0, from(0, Msg::Recover { generation: 11, vnnmap: vec![0, 1, 2] }));
        c.dispatch(t0, from(1, Msg::Leader { pnn: 1, generation: 20 }));
        c.dispatch(t0, from(1, Msg::Leader { pnn: u32::MAX, generation: 20 }));
        c.dispatch(t0, from(0, Msg::Recovered { generation: 11, vnnmap: vec![0, 1, 2] }));
        let st = c.state();
        assert_eq!((st.leader, st.generation, st.recmode), (Some(0), 11, 0));
    }

    /// With a lock: node 2 acked new leader 3's recovery, then a broadcast
    /// node 1 sent before losing the lock arrives late, then node 1's
    /// step-down, then node 3's end of recovery (ignored: node 2 follows
    /// nobody). Node 3 leads on, at the new generation. Node 2 sat in
    /// recovery mode for good, since only a node in normal mode asked for a
    /// recovery; it must ask.
    #[test]
    fn a_follower_left_in_recovery_mode_asks_its_leader_for_a_recovery() {
        let t0 = Instant::now();
        let mut c = node2(t0, true);
        c.dispatch(t0, from(3, Msg::Leader { pnn: 3, generation: 10 }));
        c.dispatch(t0, from(3, Msg::Recover { generation: 11, vnnmap: vec![0, 1, 2, 3, 4] }));
        c.dispatch(t0, from(1, Msg::Leader { pnn: 1, generation: 10 }));
        c.dispatch(t0, from(1, Msg::Leader { pnn: u32::MAX, generation: 10 }));
        c.dispatch(t0, from(3, Msg::Recovered { generation: 11, vnnmap: vec![0, 1, 2, 3, 4] }));
        drain(&mut c);
        c.dispatch(t0 + Duration::from_secs(1), from(3, Msg::Leader { pnn: 3, generation: 11 }));
        assert_eq!((c.state().leader, c.state().recmode), (Some(3), 1));
        assert_eq!(drain(&mut c), vec![(3, Msg::RecoverRequest)]);
    }

    /// Node 2 is in recovery mode for its leader's recovery: the broadcasts
    /// during it (old generation) are no reason to ask for another.
    #[test]
    fn a_follower_in_its_leaders_recovery_does_not_ask_for_another() {
        let t0 = Instant::now();
        let mut c = node2(t0, true);
        c.dispatch(t0, from(3, Msg::Leader { pnn: 3, generation: 10 }));
        c.dispatch(t0, from(3, Msg::Recover { generation: 11, vnnmap: vec![0, 1, 2, 3, 4] }));
        drain(&mut c);
        c.dispatch(t0 + Duration::from_secs(1), from(3, Msg::Leader { pnn: 3, generation: 10 }));
        assert_eq!(drain(&mut c), vec![]);
    }

    /// The leader's side: a node that missed the recovery in progress (it
    /// followed another node when the Recover came) asks for one. Right
    /// after the start the Recover may still be on its way, so the request
    /// is ignored; a second later the recovery starts over instead of
    /// waiting RecoverTimeout for a node that will never answer.
    #[test]
    fn a_leader_asked_during_a_recovery_older_than_a_broadcast_starts_over() {
        let t0 = Instant::now();
        let mut c = node2(t0, true);
        let t1 = t0 + Duration::from_secs(5);
        c.handle_timeout(t1);
        assert_eq!(c.poll_lock(), Some(LockAction::Take));
        c.lock_reply(t1, ctdb_cluster_lock::LockReply::Held);
        let first = drain(&mut c);
        let generation = |out: &[(u32, Msg)]| {
            out.iter().find_map(|(_, m)| match m {
                Msg::Recover { generation, .. } => Some(*generation),
                _ => None,
            })
        };
        let g1 = generation(&first).expect("recovery on becoming leader");
        c.dispatch(t1 + Duration::from_millis(100), from(3, Msg::RecoverRequest));
        assert_eq!(generation(&drain(&mut c)), None, "just started: the Recover may be in flight");
        c.dispatch(t1 + BROADCAST_INTERVAL, from(3, Msg::RecoverRequest));
        let g2 = generation(&drain(&mut c)).expect("a recovery older than a broadcast starts over");
        assert_ne!(g1, g2);
    }

    /// Without a lock (seed 3260947031665931178, `CTDB_SIM_LOCK=0`): node 2
    /// still follows node 0, which crashed behind a partition, so it
    /// ignores node 1's broadcast and recovery. Its link to node 0 then
    /// times out and it follows node 1 — in normal mode, at the generation
    /// node 1 broadcasts while its recovery runs, so nothing told node 2 it
    /// missed that recovery, and node 1 waited RecoverTimeout for it.
    #[test]
    fn a_follower_that_ignored_a_recover_asks_once_it_follows_that_node() {
        let t0 = Instant::now();
        let mut c = follower(t0);
        c.dispatch(t0, from(0, Msg::Leader { pnn: 0, generation: 9 }));
        c.dispatch(t0, from(0, Msg::Recover { generation: 10, vnnmap: vec![0, 1, 2, 3, 4] }));
        c.dispatch(t0, from(0, Msg::Recovered { generation: 10, vnnmap: vec![0, 1, 2, 3, 4] }));
        c.dispatch(t0, from(1, Msg::Leader { pnn: 1, generation: 10 }));
        c.dispatch(t0, from(1, Msg::Recover { generation: 11, vnnmap: vec![1, 2, 3, 4] }));
        let down = Msg::PeerDown { pnn: 0 };
        c.dispatch(t0, Packet::new(ep(2), Endpoint::new(2, ServiceId::TRANSPORT), 0, Body::Msg(down)));
        drain(&mut c);
        c.dispatch(t0 + Duration::from_secs(1), from(1, Msg::Leader { pnn: 1, generation: 10 }));
        assert_eq!((c.state().leader, c.state().recmode, c.state().generation), (Some(1), 0, 10));
        assert_eq!(drain(&mut c), vec![(1, Msg::RecoverRequest)]);
    }

    /// The same with a lock: a late broadcast of the node that just lost
    /// the lock lands between the new leader's broadcast and its Recover.
    #[test]
    fn with_a_lock_a_recover_ignored_during_a_late_broadcast_is_asked_for_again() {
        let t0 = Instant::now();
        let mut c = node2(t0, true);
        c.dispatch(t0, from(3, Msg::Leader { pnn: 3, generation: 9 }));
        c.dispatch(t0, from(3, Msg::Recover { generation: 10, vnnmap: vec![0, 1, 2, 3, 4] }));
        c.dispatch(t0, from(3, Msg::Recovered { generation: 10, vnnmap: vec![0, 1, 2, 3, 4] }));
        c.dispatch(t0, from(1, Msg::Leader { pnn: 1, generation: 10 }));
        c.dispatch(t0, from(3, Msg::Leader { pnn: 3, generation: 10 }));
        c.dispatch(t0, from(1, Msg::Recover { generation: 11, vnnmap: vec![0, 1, 2, 3, 4] }));
        c.dispatch(t0, from(3, Msg::Leader { pnn: u32::MAX, generation: 10 }));
        drain(&mut c);
        c.dispatch(t0 + Duration::from_secs(1), from(1, Msg::Leader { pnn: 1, generation: 10 }));
        assert_eq!(drain(&mut c), vec![(1, Msg::RecoverRequest)]);
    }
}
