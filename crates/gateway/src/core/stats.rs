//! The gateway's share of the STATISTICS counters (clients, and legacy
//! packets received from other nodes by kind); the transport counts every
//! packet on the node links.

use std::time::SystemTime;

use ctdb_legacy_proto::{Packet as LPacket, Statistics};
use ctdb_proto::TransportStats;

use super::control::timeval;

/// Counters since start or the last STATISTICS_RESET.
#[derive(Debug, Clone)]
pub struct Counters {
    stats: Statistics,
}

impl Counters {
    pub(super) fn new(start: SystemTime) -> Counters {
        let mut c = Counters { stats: Statistics::default() };
        c.reset(start);
        c
    }

    pub(super) fn reset(&mut self, wall: SystemTime) {
        self.stats = Statistics::default();
        self.stats.statistics_start_time = timeval(wall);
    }

    pub(super) fn client_packet_recv(&mut self, p: &LPacket) {
        let s = &mut self.stats;
        s.client_packets_recv = s.client_packets_recv.wrapping_add(1);
        match p {
            LPacket::ReqCall(_) => s.client.req_call = s.client.req_call.wrapping_add(1),
            LPacket::ReqMessage(_) => s.client.req_message = s.client.req_message.wrapping_add(1),
            LPacket::ReqControl(_) => s.client.req_control = s.client.req_control.wrapping_add(1),
            LPacket::ReqTunnel(_) => s.client.req_tunnel = s.client.req_tunnel.wrapping_add(1),
            _ => {}
        }
    }

    pub(super) fn client_packet_sent(&mut self) {
        self.stats.client_packets_sent = self.stats.client_packets_sent.wrapping_add(1);
    }

    pub(super) fn node_packet_recv(&mut self, p: &LPacket) {
        let n = &mut self.stats.node;
        match p {
            LPacket::ReqMessage(_) => n.req_message = n.req_message.wrapping_add(1),
            LPacket::ReqControl(_) => n.req_control = n.req_control.wrapping_add(1),
            LPacket::ReplyControl(_) => n.reply_control = n.reply_control.wrapping_add(1),
            _ => {}
        }
    }

    pub(super) fn control_timeout(&mut self) {
        self.stats.timeouts.control = self.stats.timeouts.control.wrapping_add(1);
    }

    /// The full STATISTICS record: ours plus the transport's link counters.
    pub(super) fn statistics(&self, num_clients: u32, t: &TransportStats, wall: SystemTime) -> Statistics {
        let mut s = self.stats;
        s.num_clients = num_clients;
        s.node_packets_sent = t.node_packets_sent;
        s.node_packets_recv = t.node_packets_recv;
        s.keepalive_packets_sent = t.keepalive_packets_sent;
        s.keepalive_packets_recv = t.keepalive_packets_recv;
        s.statistics_current_time = timeval(wall);
        s
    }
}
