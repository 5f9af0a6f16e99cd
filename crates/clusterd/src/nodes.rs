//! Reloading the nodes file (`ctdb reloadnodes`): nodes may be added at the
//! end, deleted (only while disconnected) and undeleted; an address never
//! changes under a pnn.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ctdb_proto::{Msg, ServiceId};
use tracing::{info, warn};

use crate::{caps, node_flags, Clusterd};

impl Clusterd {
    /// Apply a freshly read nodes file. Returns the legacy status: 0 done,
    /// −1 refused (nothing changed).
    pub fn reload_nodes(&mut self, now: Instant, new: Vec<Option<IpAddr>>) -> i32 {
        let me = self.state.pnn;
        if new.get(me as usize).copied().flatten() != self.state.nodes.get(me as usize).and_then(|n| n.addr) {
            warn!("Reload of nodes file refused: this node's own entry changed");
            return -1;
        }
        for (i, node) in self.state.nodes.iter().enumerate() {
            let now_addr = new.get(i).copied().flatten();
            match (node.addr, now_addr) {
                (Some(a), Some(b)) if a != b => {
                    warn!("Reload of nodes file refused: node {i} changed address from {a} to {b}");
                    return -1;
                }
                (Some(_), None) if node.flags & node_flags::DISCONNECTED == 0 => {
                    warn!("Reload of nodes file refused: node {i} is deleted but still connected");
                    return -1;
                }
                _ => {}
            }
        }
        let mut changed = false;
        for (i, addr) in new.iter().enumerate() {
            let pnn = i as u32;
            match self.state.nodes.get_mut(i) {
                Some(node) if node.addr == *addr => {}
                Some(node) => {
                    info!("Node {pnn} is {}", if addr.is_some() { "UNDELETED" } else { "DELETED" });
                    node.addr = *addr;
                    node.flags = if addr.is_some() {
                        node_flags::DISCONNECTED | node_flags::UNHEALTHY
                    } else {
                        node_flags::DELETED
                    };
                    changed = true;
                }
                None => {
                    info!("Node {pnn} is NEW");
                    let flags = if addr.is_some() {
                        node_flags::DISCONNECTED | node_flags::UNHEALTHY
                    } else {
                        node_flags::DELETED
                    };
                    self.state.nodes.push(ctdb_proto::NodeInfo { pnn, addr: *addr, flags });
                    self.node_caps.push(caps::RECMASTER | caps::LMASTER);
                    changed = true;
                }
            }
        }
        if !changed {
            return 0;
        }
        self.dirty = true;
        let nodes: Vec<Option<IpAddr>> = self.state.nodes.iter().map(|n| n.addr).collect();
        self.send_local(ServiceId::TRANSPORT, Msg::NodesChanged { nodes });
        if self.is_leader() {
            self.start_recovery(now, "nodes file reloaded");
        }
        0
    }

    /// `ctdb reloadnodes` holds recoveries off while every node reloads.
    pub(crate) fn disable_recoveries(&mut self, now: Instant, secs: u32) {
        if secs == 0 {
            self.recoveries_disabled_until = None;
            self.release_deferred_recovery(now);
        } else {
            info!("Disabling recoveries for {secs} seconds");
            self.recoveries_disabled_until = Some(now + Duration::from_secs(u64::from(secs)));
        }
    }

    /// Whether recoveries are held off now.
    pub(crate) fn recoveries_disabled(&self, now: Instant) -> bool {
        self.recoveries_disabled_until.is_some_and(|t| now < t)
    }

    /// Timer / re-enable: run the recovery that was asked for meanwhile.
    pub(crate) fn release_deferred_recovery(&mut self, now: Instant) {
        if self.recoveries_disabled(now) {
            return;
        }
        self.recoveries_disabled_until = None;
        if std::mem::take(&mut self.recovery_deferred) {
            self.start_recovery(now, "deferred while recoveries were disabled");
        }
    }
}
