//! The recovery framework, driven by the leader.
//!
//! ```text
//!  leader: new generation, vnnmap of active nodes
//!     ──Recover{g}──► every active node: recovery mode ACTIVE, freeze
//!     ◄─RecoverAck{g}─
//!     (all acked) ──Recovered{g}──► every active node: adopt g and the
//!                                   vnnmap, thaw, recovery mode NORMAL
//! ```
//!
//! A recovery runs when a node becomes leader, when membership changes, and
//! on request (`ctdb recover`, a node that missed one). One that does not
//! finish within RecoverTimeout is started again with a new generation.
//! Inactive nodes (disconnected, banned, stopped) are left out. With
//! databases, each node's ack waits until its databased has frozen
//! (`DbFrozen`), and once all have acked the leader's databased recovers
//! the databases (`DbRecoverAll` … `DbRecoverDone`) before `Recovered`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctdb_proto::{Msg, ServiceId};
use tracing::{info, warn};

use crate::election::BROADCAST_INTERVAL;
use crate::{caps, Clusterd, Runstate, INVALID_GENERATION};

/// The leader's recovery in progress, if any, and the one this node takes
/// part in as a follower.
#[derive(Debug, Default)]
pub struct Recovery {
    run: Option<Run>,
    /// Follower: leader and generation of the recovery we acked and whose
    /// end we wait for.
    joined: Option<(u32, u32)>,
    /// Follower: sender and generation of the last Recover we ignored (its
    /// sender was not our leader then).
    ignored: Option<(u32, u32)>,
    /// Follower: the ack held back until databased has frozen.
    ack_after_freeze: Option<(u32, u32)>,
}

#[derive(Debug)]
struct Run {
    generation: u32,
    vnnmap: Vec<u32>,
    participants: Vec<u32>,
    waiting: BTreeSet<u32>,
    started: Instant,
    deadline: Instant,
    /// Every node acked; databased recovers the databases.
    databases_recovering: bool,
}

impl Recovery {
    /// Whether this (leader) node is running a recovery.
    pub fn in_progress(&self) -> bool {
        self.run.is_some()
    }

    /// Forget the recovery (the node stopped leading).
    pub(crate) fn abandon(&mut self) {
        self.run = None;
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.run.as_ref().map(|r| r.deadline)
    }

    /// Follower: whether we wait for the end of a recovery of `leader`,
    /// which is still at `leader_generation` (so has not finished it).
    pub(crate) fn in_unfinished_recovery_of(&self, leader: u32, leader_generation: u32) -> bool {
        matches!(self.joined, Some((l, g)) if l == leader && g != leader_generation)
    }

    /// Follower: whether we ignored a Recover of `leader`, which is still
    /// at `leader_generation` (so still runs that recovery, without us).
    pub(crate) fn ignored_unfinished_recovery_of(&self, leader: u32, leader_generation: u32) -> bool {
        matches!(self.ignored, Some((l, g)) if l == leader && g != leader_generation)
    }
}

fn wall_pair(t: SystemTime) -> (i64, i64) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() as i64, i64::from(d.subsec_micros()))
}

/// How long a recovery waits for its participants to link to each other.
const MESH_WAIT: Duration = Duration::from_secs(1);

impl Clusterd {
    fn notify_recovery(&mut self, event: &str, generation: u32) {
        for svc in [ServiceId::EVENTD, ServiceId::DATABASED] {
            self.send_local(svc, Msg::RecoveryEvent { event: event.to_string(), generation });
        }
    }

    fn wall(&self, now: Instant) -> SystemTime {
        self.wall_start + now.saturating_duration_since(self.instant_start)
    }

    fn new_generation(&mut self) -> u32 {
        loop {
            let g = self.next_random();
            // 0 and 1 (INVALID) are never used; a new one must differ.
            if g > INVALID_GENERATION && g != self.state.generation {
                return g;
            }
        }
    }

    /// Leader: begin a recovery of every active node.
    pub(crate) fn start_recovery(&mut self, now: Instant, why: &str) {
        if !self.is_leader() {
            return;
        }
        if self.recoveries_disabled(now) {
            info!("Recovery ({why}) deferred: recoveries are disabled");
            self.recovery_deferred = true;
            return;
        }
        let participants = self.active_nodes();
        if let Some((a, b)) = self.missing_link(&participants) {
            let deadline = *self.mesh_wait.get_or_insert(now + MESH_WAIT);
            if now < deadline {
                info!("Recovery ({why}) waits for nodes {a} and {b} to be linked");
                return;
            }
            warn!("Nodes {a} and {b} are still not linked after {MESH_WAIT:?}; recovering anyway");
        }
        self.mesh_wait = None;
        let generation = self.new_generation();
        // Only lmaster-capable nodes hold hash slots (`lmaster capability`,
        // `setlmasterrole`).
        let vnnmap: Vec<u32> =
            participants.iter().copied().filter(|&p| self.has_capability(p, caps::LMASTER)).collect();
        info!("Starting recovery to generation {generation} ({why}), nodes {participants:?}");
        for &p in &participants {
            self.send(p, Msg::Recover { generation, vnnmap: vnnmap.clone() });
        }
        let deadline = now + self.recover_timeout();
        self.recovery.run = Some(Run {
            generation,
            vnnmap,
            waiting: participants.iter().copied().collect(),
            participants,
            started: now,
            deadline,
            databases_recovering: false,
        });
    }

    /// Two participants (neither of them us) that have not told us of a
    /// link between them.
    fn missing_link(&self, participants: &[u32]) -> Option<(u32, u32)> {
        let me = self.state.pnn;
        let others: Vec<u32> = participants.iter().copied().filter(|&p| p != me).collect();
        others.iter().find_map(|&a| {
            let links = self.node_links.get(a as usize).and_then(Option::as_ref);
            others.iter().find(|&&b| b != a && !links.is_some_and(|l| l.contains(&b))).map(|&b| (a, b))
        })
    }

    /// Leader: a recovery waiting for links starts once they are there (or
    /// at the deadline).
    pub(crate) fn mesh_tick(&mut self, now: Instant) {
        let Some(deadline) = self.mesh_wait else { return };
        if !self.is_leader() {
            self.mesh_wait = None;
            return;
        }
        if now >= deadline || self.missing_link(&self.active_nodes()).is_none() {
            self.start_recovery(now, "nodes linked");
        }
    }

    /// Leader timer: a recovery that took too long is started again.
    pub(crate) fn recovery_tick(&mut self, now: Instant) {
        let Some(run) = &self.recovery.run else { return };
        if now < run.deadline {
            return;
        }
        warn!("Recovery to generation {} timed out waiting for nodes {:?}; restarting", run.generation, run.waiting);
        let culprits: Vec<u32> = run.waiting.iter().copied().collect();
        self.recovery.run = None;
        for pnn in culprits {
            self.culprit(now, pnn);
        }
        self.start_recovery(now, "previous recovery timed out");
    }

    /// Any node: the leader starts a recovery.
    pub(crate) fn on_recover(&mut self, now: Instant, from: u32, generation: u32, _vnnmap: Vec<u32>) {
        if self.state.leader != Some(from) {
            warn!("Ignoring recovery to generation {generation} from node {from}, which is not the leader");
            self.recovery.ignored = Some((from, generation));
            return;
        }
        if self.state.recmode != 1 {
            self.state.recmode = 1;
            self.dirty = true;
        }
        let (s, u) = wall_pair(self.wall(now));
        self.state.last_recovery.0 = s;
        self.state.last_recovery.1 = u;
        self.dirty = true;
        self.recovery.joined = Some((from, generation));
        if self.recovery.ignored.is_some_and(|(l, _)| l == from) {
            self.recovery.ignored = None;
        }
        // The startrecovery notification: databased freezes, and with
        // databases the ack waits until it has (DbFrozen).
        self.notify_recovery("startrecovery", generation);
        if self.databases {
            self.recovery.ack_after_freeze = Some((from, generation));
        } else {
            self.send(from, Msg::RecoverAck { generation });
        }
    }

    /// databased froze for `generation`: send the ack we held back.
    pub(crate) fn on_db_frozen(&mut self, _now: Instant, generation: u32) {
        match self.recovery.ack_after_freeze {
            Some((leader, g)) if g == generation => {
                self.recovery.ack_after_freeze = None;
                self.send(leader, Msg::RecoverAck { generation });
            }
            _ => {}
        }
    }

    /// Leader: databased finished (or failed) the database recovery.
    pub(crate) fn on_db_recover_done(&mut self, now: Instant, generation: u32, ok: bool) {
        let Some(run) = &self.recovery.run else { return };
        if run.generation != generation || !run.databases_recovering {
            return;
        }
        if !ok {
            warn!("Database recovery to generation {generation} failed; starting again");
            self.recovery.run = None;
            self.start_recovery(now, "database recovery failed");
            return;
        }
        self.finish_recovery();
    }

    /// Leader: tell every participant the recovery is complete.
    fn finish_recovery(&mut self) {
        let Some(run) = self.recovery.run.take() else { return };
        for &p in &run.participants {
            self.send(p, Msg::Recovered { generation: run.generation, vnnmap: run.vnnmap.clone() });
        }
    }

    /// Leader: a node is ready.
    pub(crate) fn on_recover_ack(&mut self, _now: Instant, from: u32, generation: u32) {
        let Some(run) = &mut self.recovery.run else { return };
        if run.generation != generation {
            return;
        }
        run.waiting.remove(&from);
        if !run.waiting.is_empty() || run.databases_recovering {
            return;
        }
        if self.databases {
            // Everyone is frozen: databased now collects and redistributes
            // the records; Recovered goes out when it is done.
            run.databases_recovering = true;
            let (generation, participants, vnnmap) = (run.generation, run.participants.clone(), run.vnnmap.clone());
            let msg = Msg::DbRecoverAll { generation, participants, vnnmap };
            self.send_local(ServiceId::DATABASED, msg);
            return;
        }
        self.finish_recovery();
    }

    /// Any node: the recovery is complete.
    pub(crate) fn on_recovered(&mut self, now: Instant, from: u32, generation: u32, vnnmap: Vec<u32>) {
        if self.state.leader != Some(from) {
            warn!("Ignoring end of recovery from node {from}, which is not the leader");
            return;
        }
        info!("Recovery complete: generation {generation}");
        self.notify_recovery("recovered", generation);
        self.recovery.joined = None;
        self.state.generation = generation;
        self.state.vnnmap = vnnmap;
        self.state.recmode = 0;
        let (s, u) = wall_pair(self.wall(now));
        self.state.last_recovery.2 = s;
        self.state.last_recovery.3 = u;
        self.dirty = true;
        if self.state.runstate == Runstate::FirstRecovery as u32 {
            // Straight on to running: eventd runs the startup event when it
            // sees RUNNING and starts monitoring once it passes (CTDB stays
            // in STARTUP until then).
            self.set_runstate(Runstate::Startup);
            self.set_runstate(Runstate::Running);
        }
    }

    /// Someone asks for a recovery (`ctdb recover`, a node that missed one).
    pub(crate) fn on_recover_request(&mut self, now: Instant) {
        if self.is_leader() {
            match &self.recovery.run {
                None => self.start_recovery(now, "requested"),
                // A node missed this recovery (it followed another node when
                // the Recover came) and would never answer it: start over
                // rather than wait RecoverTimeout. Right after the start the
                // Recover may still be on its way to the asker.
                Some(run) if now >= run.started + BROADCAST_INTERVAL => {
                    self.start_recovery(now, "requested by a node that missed it")
                }
                Some(_) => {}
            }
        } else if let Some(leader) = self.state.leader {
            self.send(leader, Msg::RecoverRequest);
        }
    }
}
