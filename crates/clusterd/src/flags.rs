//! Node states: this node's own flags (disabled, stopped, banned) and
//! capabilities, told to every other node; the other nodes' as they tell
//! them.
//!
//! Each node is the authority on its own flags; DISCONNECTED is the one
//! flag every node decides for itself about the others. A change that makes
//! a node (in)active leads the leader to recover, and a node that becomes
//! inactive stops leading.

use std::time::{Duration, Instant};

use ctdb_proto::{Endpoint, Msg};
use tracing::{info, warn};

use crate::{caps, node_flags, Clusterd};

impl Clusterd {
    /// Whether node `pnn` has capability bits `cap` (as it last told us;
    /// until then assumed, as a fresh CTDB node has them by default).
    pub fn has_capability(&self, pnn: u32, cap: u32) -> bool {
        if pnn == self.state.pnn {
            return self.state.capabilities & cap != 0;
        }
        self.node_caps.get(pnn as usize).is_some_and(|c| c & cap != 0)
    }

    /// Tell node `to` (or every connected node) our flags, capabilities
    /// and links.
    pub(crate) fn announce_node_state(&mut self, to: u32) {
        let me = self.state.pnn;
        let links = self
            .state
            .nodes
            .iter()
            .filter(|n| n.pnn != me && n.flags & (node_flags::DISCONNECTED | node_flags::DELETED) == 0)
            .map(|n| n.pnn)
            .collect();
        let msg = Msg::NodeState { pnn: me, flags: self.own_flags(), capabilities: self.state.capabilities, links };
        self.send(to, msg);
    }

    /// Our own flags.
    pub(crate) fn own_flags(&self) -> u32 {
        self.state.nodes.get(self.state.pnn as usize).map_or(0, |n| n.flags)
    }

    /// Change our own flags; returns whether anything changed.
    pub(crate) fn set_own_flags(&mut self, now: Instant, set: u32, clear: u32) -> bool {
        let me = self.state.pnn as usize;
        let Some(node) = self.state.nodes.get_mut(me) else { return false };
        let old = node.flags;
        node.flags = (old | set) & !clear;
        let new = node.flags;
        if new == old {
            return false;
        }
        info!("Node flags changed from 0x{old:x} to 0x{new:x}");
        self.dirty = true;
        self.announce_node_state(Endpoint::BROADCAST_OTHERS);
        self.flags_changed(now, self.state.pnn, old, new);
        true
    }

    /// Another node told us its state.
    pub(crate) fn on_node_state(&mut self, now: Instant, pnn: u32, flags: u32, capabilities: u32, links: Vec<u32>) {
        if pnn == self.state.pnn {
            return;
        }
        if let Some(l) = self.node_links.get_mut(pnn as usize) {
            *l = Some(links);
        }
        self.mesh_tick(now);
        let Some(node) = self.state.nodes.get_mut(pnn as usize) else {
            warn!("clusterd: state of unknown node {pnn}");
            return;
        };
        // Its own view, except for our view of the link to it.
        let old = node.flags;
        let new = (flags & !node_flags::DISCONNECTED) | (old & (node_flags::DISCONNECTED | node_flags::DELETED));
        node.flags = new;
        if let Some(c) = self.node_caps.get_mut(pnn as usize) {
            *c = capabilities;
        }
        if new != old {
            self.dirty = true;
            self.flags_changed(now, pnn, old, new);
        }
    }

    /// Consequences of a flag change of node `pnn`.
    fn flags_changed(&mut self, now: Instant, pnn: u32, old: u32, new: u32) {
        let was_active = old & node_flags::INACTIVE == 0;
        let is_active = new & node_flags::INACTIVE == 0;
        if was_active == is_active {
            return;
        }
        if pnn == self.state.pnn && !is_active {
            // An inactive node takes no part in the database: like CTDB it
            // reports recovery mode and no valid generation (keeping the
            // last vnnmap, as CTDB shows it) until a recovery takes it back.
            self.state.recmode = 1;
            self.state.generation = crate::INVALID_GENERATION;
            if self.is_leader() {
                self.step_down(now, "this node became inactive");
            }
            return;
        }
        if pnn == self.state.pnn && is_active {
            if let Some(leader) = self.state.leader.filter(|&l| l != pnn) {
                self.send(leader, Msg::RecoverRequest);
            }
        }
        if self.is_leader() {
            self.start_recovery(now, if is_active { "node became active" } else { "node became inactive" });
        }
    }

    /// `ctdb ban SECS` (0 = unban).
    pub(crate) fn ban(&mut self, now: Instant, secs: u32) {
        if secs == 0 {
            info!("Unbanning this node");
            self.ban_until = None;
            self.set_own_flags(now, 0, node_flags::BANNED);
        } else {
            warn!("Banning this node for {secs} seconds");
            self.ban_until = Some(now + Duration::from_secs(u64::from(secs)));
            self.set_own_flags(now, node_flags::BANNED, 0);
        }
    }

    /// Timer: a ban ran out.
    pub(crate) fn ban_tick(&mut self, now: Instant) {
        if self.ban_until.is_some_and(|t| now >= t) {
            info!("Banning timed out");
            self.ban_until = None;
            self.set_own_flags(now, 0, node_flags::BANNED);
        }
    }

    /// `setleaderrole` / `setlmasterrole`.
    pub(crate) fn set_capability(&mut self, now: Instant, mask: u32, on: bool) {
        let old = self.state.capabilities;
        self.state.capabilities = if on { old | mask } else { old & !mask };
        if self.state.capabilities == old {
            return;
        }
        info!("Capabilities changed from 0x{old:x} to 0x{:x}", self.state.capabilities);
        self.dirty = true;
        self.election.set_can_lead(self.state.capabilities & caps::RECMASTER != 0);
        self.announce_node_state(Endpoint::BROADCAST_OTHERS);
        if mask & caps::RECMASTER != 0 && !on && self.is_leader() {
            self.step_down(now, "leader capability switched off");
        } else if mask & caps::LMASTER != 0 && self.is_leader() {
            self.start_recovery(now, "lmaster capability changed");
        } else if mask & caps::LMASTER != 0 {
            if let Some(leader) = self.state.leader {
                self.send(leader, Msg::RecoverRequest);
            }
        }
    }
}
