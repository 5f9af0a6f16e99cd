//! clusterd: membership, node flags, runstate and the tunables of one node.
//!
//! Inputs (packets from the transport):
//! - `PeerUp` / `PeerDown` from the transport: a node link came up or died;
//! - `SetTunable` from the gateway (SET_TUNABLE);
//!
//! Actions (packets out): a [`ClusterState`] snapshot to the local gateway
//! and transport after every change, and replies to requests.
//!
//! ```text
//!  transport ──PeerUp/PeerDown──► clusterd ──ClusterState──► gateway, transport
//!  gateway   ──SetTunable───────►          ──Status────────► gateway
//! ```
//!
//! Leadership, the cluster lock, recovery and banning come later and will
//! live here too; until then the node reports what is true: no leader, an
//! invalid generation, recovery mode NORMAL.

mod runstate;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use ctdb_config::{SetOutcome, Tunables};
use ctdb_proto::{Body, ClusterState, Endpoint, Flags, Msg, NodeInfo, Packet, ServiceId};
use ctdb_service::{run_loop, BoxFuture, Service, ServiceError, ServiceIo};
use tracing::{info, warn};

pub use runstate::Runstate;

/// Legacy node flag bits clusterd sets.
pub mod node_flags {
    /// No link to the node.
    pub const DISCONNECTED: u32 = 0x01;
    /// The node's monitor failed, or its health is not known yet.
    pub const UNHEALTHY: u32 = 0x02;
    /// `ctdb disable` / `start as disabled`.
    pub const PERMANENTLY_DISABLED: u32 = 0x04;
    /// A deleted slot of the nodes file.
    pub const DELETED: u32 = 0x10;
    /// `ctdb stop` / `start as stopped`.
    pub const STOPPED: u32 = 0x20;
}

/// vnnmap generation meaning "no recovery has established one".
pub const INVALID_GENERATION: u32 = 1;

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
}

/// The clusterd core.
pub struct Clusterd {
    tunables: Tunables,
    state: ClusterState,
    out: VecDeque<Packet>,
}

impl Clusterd {
    /// A core for `cfg`: every other node starts disconnected.
    pub fn new(cfg: ClusterdConfig) -> Clusterd {
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
            recmode: 0,
            leader: None,
            tunables: cfg.tunables.as_array().to_vec(),
            cluster_lock: cfg.cluster_lock,
            last_recovery: (0, 0, 0, 0),
        };
        Clusterd { tunables: cfg.tunables, state, out: VecDeque::new() }
    }

    /// The current snapshot.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    fn publish(&mut self) {
        let me = Endpoint::new(self.state.pnn, ServiceId::CLUSTERD);
        for svc in [ServiceId::GATEWAY, ServiceId::TRANSPORT] {
            let dst = Endpoint::new(self.state.pnn, svc);
            self.out.push_back(Packet::new(dst, me, 0, Body::Msg(Msg::ClusterState(self.state.clone()))));
        }
    }

    fn set_runstate(&mut self, rs: Runstate) {
        if (rs as u32) > self.state.runstate {
            info!("Set runstate to {} ({})", rs.name(), rs as u32);
            self.state.runstate = rs as u32;
        }
    }

    fn set_connected(&mut self, pnn: u32, up: bool) {
        let Some(node) = self.state.nodes.get_mut(pnn as usize) else {
            warn!("clusterd: link event for unknown node {pnn}");
            return;
        };
        let down = node_flags::DISCONNECTED | node_flags::UNHEALTHY;
        // Until node flags are exchanged (leadership issue) a connected peer
        // is reported healthy; its own view wins once it can tell us.
        node.flags = if up { node.flags & !down } else { node.flags | down };
        self.publish();
    }

    fn reply(&mut self, req: &Packet, msg: Msg) {
        let mut p = Packet::new(req.header.src, req.header.dst, req.header.reqid, Body::Msg(msg));
        p.header.flags = Flags::REPLY;
        self.out.push_back(p);
    }
}

impl Service for Clusterd {
    fn id(&self) -> ServiceId {
        ServiceId::CLUSTERD
    }

    fn activate(&mut self, _now: Instant) {
        // No event scripts and no recovery exist yet, so the start-up
        // phases complete at once; each step is still logged as CTDB does.
        for rs in [Runstate::Setup, Runstate::FirstRecovery, Runstate::Startup, Runstate::Running] {
            self.set_runstate(rs);
        }
        if self.state.cluster_lock.is_none() {
            warn!("Cluster lock not set");
        }
        self.publish();
    }

    fn deactivate(&mut self, _now: Instant) {
        self.set_runstate(Runstate::Shutdown);
    }

    fn dispatch(&mut self, _now: Instant, p: Packet) {
        let Body::Msg(msg) = &p.body else {
            warn!("clusterd: unexpected {:?} packet from {:?}", p.header.kind, p.header.src);
            return;
        };
        match msg {
            Msg::PeerUp { pnn } => self.set_connected(*pnn, true),
            Msg::PeerDown { pnn } => self.set_connected(*pnn, false),
            Msg::SetTunable { name, value } => {
                let status = match self.tunables.set(name, *value) {
                    Ok(SetOutcome::Set) => 0,
                    Ok(SetOutcome::Obsolete) => 1,
                    Err(_) => -1,
                };
                if status >= 0 {
                    info!("clusterd: tunable {name} set to {value}");
                    self.state.tunables = self.tunables.as_array().to_vec();
                    self.publish();
                }
                self.reply(&p, Msg::Status { status });
            }
            other => warn!("clusterd: unexpected message {other:?}"),
        }
    }

    fn poll_output(&mut self) -> Option<Packet> {
        self.out.pop_front()
    }

    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(run_loop(self, io))
    }
}

#[cfg(test)]
mod tests;
