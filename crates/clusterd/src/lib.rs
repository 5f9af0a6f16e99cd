//! clusterd: membership, node flags, leadership with the cluster lock,
//! the recovery framework, runstate and the tunables of one node.
//!
//! The core ([`Clusterd`]) is sans-IO. Inputs:
//! - packets from the transport ([`Clusterd::dispatch`]): `PeerUp`/`PeerDown`
//!   from the transport; `Leader`, `Recover`, `RecoverAck`, `Recovered`,
//!   `RecoverRequest` from other clusterds; `SetTunable`, `RecoverRequest`
//!   from the gateway;
//! - the cluster lock helper's answers ([`Clusterd::lock_reply`],
//!   [`Clusterd::lock_lost`]);
//! - timer expiry ([`Clusterd::handle_timeout`]).
//!
//! Actions, drained after every input: packets ([`Clusterd::poll_output`])
//! and lock requests ([`Clusterd::poll_lock`]). Then the shell sleeps until
//! [`Clusterd::poll_timeout`].
//!
//! ```text
//!  transport ──PeerUp/PeerDown──► clusterd ──ClusterState──► gateway, transport
//!  gateway   ──SetTunable───────►          ──Status────────► gateway
//!  clusterd  ◄──Leader / Recover / RecoverAck / Recovered──► clusterd (other nodes)
//!  shell     ──lock_reply / lock_lost──►   ──LockAction::Take/Release──► shell
//! ```
//!
//! Leadership (see [`election`]): the leader is the node that holds the
//! cluster lock. A node that has heard no leader for `leader timeout`
//! seconds races for the lock; the winner broadcasts itself every second
//! and runs a recovery (see [`recovery`]). Without a configured lock the
//! lowest connected leader-capable node leads (loudly warned about: a
//! partition can then have two leaders until it heals).

mod banning;
pub mod election;
mod flags;
mod nodes;
pub mod recovery;
mod runstate;
pub mod shell;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use ctdb_cluster_lock::LockReply;
use ctdb_config::{SetOutcome, Tunables};
use ctdb_proto::{Body, ClusterState, Endpoint, Flags, Msg, NodeInfo, Packet, ServiceId};
use tracing::{info, warn};

pub use election::{Election, LockAction, LockState};
pub use recovery::Recovery;
pub use runstate::Runstate;

/// Capability bits.
pub use ctdb_legacy_proto::caps;
/// Node flag bits (the legacy protocol's values, which clients see).
pub use ctdb_legacy_proto::flags as node_flags;

/// vnnmap generation meaning "no recovery has established one".
pub const INVALID_GENERATION: u32 = 1;

/// Tunable slots clusterd reads.
const SLOT_RECOVER_TIMEOUT: usize = 6;

/// What clusterd starts from.
#[derive(Debug, Clone)]
pub struct ClusterdConfig {
    /// This node.
    pub pnn: u32,
    /// Every slot of the nodes file (`None` = deleted).
    pub nodes: Vec<Option<IpAddr>>,
    /// Tunables after ctdb.tunables was applied.
    pub tunables: Tunables,
    /// `[cluster] cluster lock`, as written.
    pub cluster_lock: Option<String>,
    /// Capability bits (leader / lmaster capability and feature bits).
    pub capabilities: u32,
    /// Flags this node starts with (`start as stopped` / `disabled`).
    pub start_flags: u32,
    /// `[cluster] leader timeout`.
    pub leader_timeout: Duration,
    /// Seed for generation numbers (the core never reads the OS RNG, so a
    /// simulation can replay a run).
    pub seed: u64,
    /// Wall-clock time at the `now` given to [`Clusterd::new`] (the core
    /// never reads the clock; recovery times are reported in wall time).
    pub wall_start: SystemTime,
    /// Whether a databased runs beside this clusterd: recovery then waits
    /// for it to freeze (before the ack) and, on the leader, to recover the
    /// databases (before `Recovered`).
    pub databases: bool,
}

/// The clusterd core.
pub struct Clusterd {
    tunables: Tunables,
    state: ClusterState,
    election: Election,
    recovery: Recovery,
    rng: u64,
    out: VecDeque<Packet>,
    lock_out: VecDeque<LockAction>,
    dirty: bool,
    instant_start: Instant,
    wall_start: SystemTime,
    /// Capabilities of every node as it last told us (own: in `state`).
    node_caps: Vec<u32>,
    /// The links of every other node as it last told us (`None`: not yet).
    node_links: Vec<Option<Vec<u32>>>,
    /// Leader: a recovery waits until then for its participants to be
    /// linked to each other (a node that just joined is still dialling).
    mesh_wait: Option<Instant>,
    /// When our ban ends.
    ban_until: Option<Instant>,
    /// Leader: who made recoveries fail.
    ban_credits: banning::BanCredits,
    /// Recoveries held off until then (`ctdb reloadnodes`).
    recoveries_disabled_until: Option<Instant>,
    /// A recovery was wanted while they were held off.
    recovery_deferred: bool,
    /// Whether databased takes part in recoveries.
    databases: bool,
}

impl Clusterd {
    /// A core for `cfg`: every other node starts disconnected.
    pub fn new(now: Instant, cfg: ClusterdConfig) -> Clusterd {
        let nodes = cfg
            .nodes
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                let pnn = i as u32;
                let flags = match addr {
                    None => node_flags::DELETED,
                    Some(_) if pnn == cfg.pnn => cfg.start_flags,
                    Some(_) => node_flags::DISCONNECTED | node_flags::UNHEALTHY,
                };
                NodeInfo { pnn, addr: *addr, flags }
            })
            .collect();
        let state = ClusterState {
            pnn: cfg.pnn,
            nodes,
            runstate: Runstate::Init as u32,
            capabilities: cfg.capabilities,
            generation: INVALID_GENERATION,
            vnnmap: Vec::new(),
            // Like CTDB, a node is in recovery until its first recovery.
            recmode: 1,
            leader: None,
            tunables: cfg.tunables.as_array().to_vec(),
            cluster_lock: cfg.cluster_lock.clone(),
            last_recovery: (0, 0, 0, 0),
        };
        let can_lead = cfg.capabilities & caps::RECMASTER != 0;
        let election = Election::new(now, can_lead, cfg.cluster_lock.is_some(), cfg.leader_timeout);
        Clusterd {
            tunables: cfg.tunables,
            state,
            election,
            recovery: Recovery::default(),
            rng: cfg.seed | 1,
            out: VecDeque::new(),
            lock_out: VecDeque::new(),
            dirty: true,
            instant_start: now,
            wall_start: cfg.wall_start,
            node_caps: vec![caps::RECMASTER | caps::LMASTER; cfg.nodes.len()],
            node_links: vec![None; cfg.nodes.len()],
            mesh_wait: None,
            ban_until: None,
            ban_credits: banning::BanCredits::default(),
            recoveries_disabled_until: None,
            recovery_deferred: false,
            databases: cfg.databases,
        }
    }

    /// The current snapshot.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// This node's pnn.
    pub fn pnn(&self) -> u32 {
        self.state.pnn
    }

    /// Whether this node currently acts as leader.
    pub fn is_leader(&self) -> bool {
        self.state.leader == Some(self.state.pnn)
    }

    /// The cluster lock helper answered a Take.
    pub fn lock_reply(&mut self, now: Instant, reply: LockReply) {
        self.on_lock_reply(now, reply);
        self.after_input(now);
    }

    /// The cluster lock helper exited after reporting the lock held.
    pub fn lock_lost(&mut self, now: Instant) {
        self.on_lock_lost(now);
        self.after_input(now);
    }

    /// Next lock request for the shell.
    pub fn poll_lock(&mut self) -> Option<LockAction> {
        self.lock_out.pop_front()
    }

    /// Connected, non-inactive nodes (this one included when active).
    pub fn active_nodes(&self) -> Vec<u32> {
        self.state.nodes.iter().filter(|n| n.flags & node_flags::INACTIVE == 0).map(|n| n.pnn).collect()
    }

    fn next_random(&mut self) -> u32 {
        // xorshift64*: enough for generation numbers, reproducible from
        // the configured seed.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    fn recover_timeout(&self) -> Duration {
        let secs = self.state.tunables.get(SLOT_RECOVER_TIMEOUT).copied().unwrap_or(30);
        Duration::from_secs(u64::from(secs.max(1)))
    }

    fn send(&mut self, node: u32, msg: Msg) {
        let me = Endpoint::new(self.state.pnn, ServiceId::CLUSTERD);
        self.out.push_back(Packet::new(Endpoint::new(node, ServiceId::CLUSTERD), me, 0, Body::Msg(msg)));
    }

    fn send_local(&mut self, svc: ServiceId, msg: Msg) {
        let me = Endpoint::new(self.state.pnn, ServiceId::CLUSTERD);
        self.out.push_back(Packet::new(Endpoint::new(self.state.pnn, svc), me, 0, Body::Msg(msg)));
    }

    /// After every input: publish the snapshot if it changed.
    fn after_input(&mut self, _now: Instant) {
        if self.dirty {
            self.dirty = false;
            for svc in [
                ServiceId::GATEWAY,
                ServiceId::TRANSPORT,
                ServiceId::DATABASED,
                ServiceId::EVENTD,
                ServiceId::FAILOVERD,
            ] {
                self.send_local(svc, Msg::ClusterState(self.state.clone()));
            }
        }
    }

    fn set_runstate(&mut self, rs: Runstate) {
        if (rs as u32) > self.state.runstate {
            info!("Set runstate to {} ({})", rs.name(), rs as u32);
            self.state.runstate = rs as u32;
            self.dirty = true;
        }
    }

    fn set_connected(&mut self, now: Instant, pnn: u32, up: bool) {
        let Some(node) = self.state.nodes.get_mut(pnn as usize) else {
            warn!("clusterd: link event for unknown node {pnn}");
            return;
        };
        let down = node_flags::DISCONNECTED | node_flags::UNHEALTHY;
        // Until node flags are exchanged a connected peer is reported
        // healthy; its own view wins once it can tell us.
        node.flags = if up { node.flags & !down } else { node.flags | down };
        self.dirty = true;
        if !up {
            if let Some(l) = self.node_links.get_mut(pnn as usize) {
                *l = None;
            }
        }
        // The peer's view of us starts from what we tell it now; the
        // others learn our links changed.
        self.announce_node_state(Endpoint::BROADCAST_OTHERS);
        self.on_membership_change(now, pnn, up);
    }

    /// Answer `req` (also used by the shell for requests that needed I/O).
    pub fn reply(&mut self, req: &Packet, msg: Msg) {
        let mut p = Packet::new(req.header.src, req.header.dst, req.header.reqid, Body::Msg(msg));
        p.header.flags = Flags::REPLY;
        self.out.push_back(p);
    }

    /// Answer a gateway's request with success; requests from other
    /// clusterds (a leader banning us) expect no answer.
    fn ack(&mut self, req: &Packet) {
        if req.header.src.service == ServiceId::GATEWAY {
            self.reply(req, Msg::Status { status: 0 });
        }
    }

    fn set_tunable(&mut self, p: &Packet, name: &str, value: u32) {
        let status = match self.tunables.set(name, value) {
            Ok(SetOutcome::Set) => 0,
            Ok(SetOutcome::Obsolete) => 1,
            Err(_) => -1,
        };
        if status >= 0 {
            info!("clusterd: tunable {name} set to {value}");
            self.state.tunables = self.tunables.as_array().to_vec();
            self.dirty = true;
        }
        self.reply(p, Msg::Status { status });
    }
}

/// Lifecycle and inputs; the shell ([`shell::ClusterdShell`]) calls these
/// from its [`Service`] implementation, a simulation calls them directly.
impl Clusterd {
    /// Start serving: the start-up runstates, then wait for a leader.
    pub fn activate(&mut self, now: Instant) {
        // eventd runs init and setup on its own as it starts (their
        // failures are logged, not fatal); the node waits in
        // FIRST_RECOVERY for its first recovery.
        for rs in [Runstate::Setup, Runstate::FirstRecovery] {
            self.set_runstate(rs);
        }
        if self.state.cluster_lock.is_none() {
            warn!(
                "Cluster lock not set: leadership falls back to the lowest connected node; \
                 a network partition can then elect two leaders"
            );
        }
        self.election.start(now);
        self.after_input(now);
    }

    /// Stop serving: a leader yields so others need not wait it out.
    pub fn deactivate(&mut self, now: Instant) {
        self.set_runstate(Runstate::Shutdown);
        if self.is_leader() {
            self.step_down(now, "shutting down");
        }
        self.after_input(now);
    }

    /// One packet from the transport.
    pub fn dispatch(&mut self, now: Instant, p: Packet) {
        let Body::Msg(msg) = &p.body else {
            warn!("clusterd: unexpected {:?} packet from {:?}", p.header.kind, p.header.src);
            return;
        };
        let from = p.header.src.node;
        match msg.clone() {
            Msg::PeerUp { pnn } => self.set_connected(now, pnn, true),
            Msg::PeerDown { pnn } => self.set_connected(now, pnn, false),
            Msg::SetTunable { name, value } => self.set_tunable(&p, &name, value),
            Msg::Leader { pnn, generation } => self.on_leader(now, from, pnn, generation),
            Msg::Recover { generation, vnnmap } => self.on_recover(now, from, generation, vnnmap),
            Msg::RecoverAck { generation } => self.on_recover_ack(now, from, generation),
            Msg::Recovered { generation, vnnmap } => self.on_recovered(now, from, generation, vnnmap),
            Msg::RecoverRequest => self.on_recover_request(now),
            Msg::DbFrozen { generation } => self.on_db_frozen(now, generation),
            Msg::DbRecoverDone { generation, ok } => self.on_db_recover_done(now, generation, ok),
            Msg::NodeState { pnn, flags, capabilities, links } => {
                self.on_node_state(now, pnn, flags, capabilities, links)
            }
            Msg::SetOwnFlags { set, clear } => {
                self.set_own_flags(now, set, clear);
                self.ack(&p);
            }
            Msg::Ban { secs } => {
                self.ban(now, secs);
                self.ack(&p);
            }
            Msg::SetCapability { mask, on } => {
                self.set_capability(now, mask, on);
                self.ack(&p);
            }
            Msg::DisableRecoveries { secs } => self.disable_recoveries(now, secs),
            other => warn!("clusterd: unexpected message {other:?}"),
        }
        self.after_input(now);
    }

    /// When [`Clusterd::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deferred = self.recoveries_disabled_until.filter(|_| self.recovery_deferred);
        [
            self.election.poll_timeout(self.is_leader()),
            self.recovery.poll_timeout(),
            self.ban_until,
            deferred,
            self.mesh_wait,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Timers: leader broadcasts, leader timeout, recovery deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ban_tick(now);
        self.release_deferred_recovery(now);
        self.mesh_tick(now);
        self.election_tick(now);
        self.recovery_tick(now);
        self.after_input(now);
    }

    /// Next packet to send.
    pub fn poll_output(&mut self) -> Option<Packet> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests;
