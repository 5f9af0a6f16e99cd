//! Messages by srvid: delivered to every registration on the target nodes.

use ctdb_legacy_proto::{
    pnn, srvid, DisableMessage, Frame, Operation, Packet as LPacket, ReqMessage, SrvidMessage, Wire,
};
use ctdb_proto::{Body, Endpoint, Msg, Packet, ServiceId};
use tracing::{debug, warn};

use super::{Action, Gateway};

impl Gateway {
    /// A client sent a message to `destnode`.
    pub(super) fn message(&mut self, destnode: u32, srvid: u64, data: Vec<u8>) {
        let dest = self.resolve(destnode);
        let broadcast = matches!(dest, pnn::BROADCAST_ALL | pnn::BROADCAST_ACTIVE | pnn::BROADCAST_CONNECTED);
        if dest == self.pnn || broadcast {
            self.deliver(srvid, &data);
        }
        if dest == self.pnn {
            return;
        }
        let node = if broadcast { Endpoint::BROADCAST_OTHERS } else { dest };
        if !broadcast && !self.connected(node) {
            debug!("gateway: message for srvid 0x{srvid:016x} to disconnected node {node} dropped");
            return;
        }
        let mut header = self.reply_header(Operation::REQ_MESSAGE, node, 0);
        header.destnode = node;
        let bytes = Frame { header, packet: LPacket::ReqMessage(ReqMessage { srvid, data }) }.encode(true);
        self.actions.push_back(Action::Send(Packet::new(
            Endpoint::new(node, ServiceId::GATEWAY),
            self.endpoint(),
            0,
            Body::Legacy(bytes),
        )));
    }

    /// Deliver to every local registration of `srvid` (duplicates each get
    /// a copy) and to every registration of CTDB_SRVID_ALL.
    pub(super) fn deliver(&mut self, id: u64, data: &[u8]) {
        if self.push_srvids.values().any(|s| *s == id) {
            // Records of a DB_PUSH (`ctdb restoredb`): databased's.
            let header = self.reply_header(Operation::REQ_MESSAGE, self.pnn, 0);
            let bytes = Frame { header, packet: LPacket::ReqMessage(ReqMessage { srvid: id, data: data.to_vec() }) }
                .encode(true);
            let db = Endpoint::new(self.pnn, ServiceId::DATABASED);
            self.actions.push_back(Action::Send(Packet::new(db, self.endpoint(), 0, Body::Legacy(bytes))));
            return;
        }
        match id {
            srvid::TAKEOVER_RUN => self.takeover_run(data),
            srvid::DISABLE_RECOVERIES => self.disable_recoveries(data),
            srvid::DISABLE_TAKEOVER_RUNS | srvid::DISABLE_IP_CHECK | srvid::REBALANCE_NODE => {
                self.failover_message(id, data)
            }
            _ => {}
        }
        let mut targets: Vec<u64> = Vec::new();
        for (cid, cl) in &self.clients {
            let n = cl.srvids.iter().filter(|s| **s == id || **s == srvid::ALL).count();
            targets.extend(std::iter::repeat_n(*cid, n));
        }
        if targets.is_empty() {
            debug!("gateway: no registration for srvid 0x{id:016x}; message dropped");
            return;
        }
        targets.sort_unstable();
        let header = self.reply_header(Operation::REQ_MESSAGE, 0, 0);
        let bytes =
            Frame { header, packet: LPacket::ReqMessage(ReqMessage { srvid: id, data: data.to_vec() }) }.encode(true);
        for client in targets {
            self.counters.client_packet_sent();
            self.actions.push_back(Action::ToClient { client, bytes: bytes.clone() });
        }
    }
}

impl Gateway {
    /// Follow DB_PUSH_START / its end, so that the records sent to the
    /// push's srvid reach databased.
    pub(super) fn track_push(&mut self, c: &ctdb_legacy_proto::ReqControl) {
        use ctdb_legacy_proto::Opcode;
        match c.opcode {
            Opcode::DB_PUSH_START => {
                if let Ok(p) = ctdb_legacy_proto::PullDbExt::from_bytes(&c.data) {
                    self.push_srvids.insert(p.db_id, p.srvid);
                }
            }
            Opcode::DB_PUSH_CONFIRM | Opcode::DB_THAW | Opcode::DB_TRANSACTION_CANCEL => {
                if let Some(id) = c.data.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                    self.push_srvids.remove(&u32::from_ne_bytes(id));
                }
            }
            _ => {}
        }
    }

    /// A takeover run request (`ctdb ipreallocate`, and the end of
    /// `disable`, `stop`, `ban`, …): the leader answers the requester's
    /// srvid with its pnn (success) or −1, once failoverd has run a
    /// takeover run (at once when failover is disabled: nothing to move).
    fn takeover_run(&mut self, data: &[u8]) {
        let m = match SrvidMessage::from_bytes(data) {
            Ok(m) if m.srvid != 0 => m,
            Ok(_) => return,
            Err(e) => {
                debug!("gateway: malformed takeover run request: {e}");
                return;
            }
        };
        match self.state.as_ref().map(|s| s.leader) {
            Some(Some(l)) if l == self.pnn => self.answer_takeover_run(m),
            Some(Some(_)) => {}
            // No leader right now (the old one just stepped down, e.g. it
            // was banned): keep the request; whichever node leads next
            // answers it, instead of the tool waiting out its timeout.
            _ => {
                if self.pending_takeover.len() >= MAX_PENDING_TAKEOVER {
                    self.pending_takeover.remove(0);
                }
                self.pending_takeover.push(m);
            }
        }
    }

    /// The leader answers: without failoverd at once (nothing to move),
    /// with it once failoverd has run a takeover run.
    fn answer_takeover_run(&mut self, m: SrvidMessage) {
        if self.failover {
            let reqid = self.new_reqid();
            self.takeover_waiters.insert(reqid, m);
            let p = Packet::new(
                Endpoint::new(self.pnn, ServiceId::FAILOVERD),
                self.endpoint(),
                reqid,
                Body::Msg(ctdb_proto::Msg::TakeoverRunRequest),
            );
            self.actions.push_back(Action::Send(p));
            return;
        }
        self.message(m.pnn, m.srvid, (self.pnn as i32).to_le_bytes().to_vec());
    }

    /// failoverd's answer to a request made by srvid message (a takeover
    /// run, disabling takeover runs): the requester hears our pnn
    /// (success), failoverd's negative errno, or −1.
    pub(super) fn takeover_run_done(&mut self, reqid: u64, status: i32) -> bool {
        let Some(m) = self.takeover_waiters.remove(&reqid) else { return false };
        let answer = match status {
            0 => self.pnn as i32,
            s if s < 0 => s,
            _ => -1,
        };
        self.message(m.pnn, m.srvid, answer.to_le_bytes().to_vec());
        true
    }

    /// The failover messages every node's failoverd acts on:
    /// DISABLE_TAKEOVER_RUNS (`ctdb reloadips`; answered to the sender's
    /// srvid with our pnn, or −EAGAIN while our takeover run goes on),
    /// DISABLE_IP_CHECK (`ctdb moveip`, u32 seconds, no answer) and
    /// REBALANCE_NODE (`ctdb addip`, u32 pnn; the leader's business).
    /// Without failoverd there is nothing to hold off: the disable is
    /// answered at once, as CTDB's recovery daemon does.
    fn failover_message(&mut self, id: u64, data: &[u8]) {
        let msg = if id == srvid::DISABLE_TAKEOVER_RUNS {
            let m = match DisableMessage::from_bytes(data) {
                Ok(m) => m,
                Err(e) => {
                    warn!("gateway: malformed disable-takeover-runs message: {e}");
                    return;
                }
            };
            if !self.failover {
                if m.srvid != 0 {
                    self.message(m.pnn, m.srvid, (self.pnn as i32).to_le_bytes().to_vec());
                }
                return;
            }
            let reqid = self.new_reqid();
            if m.srvid != 0 {
                self.takeover_waiters.insert(reqid, SrvidMessage { pnn: m.pnn, srvid: m.srvid });
            }
            (reqid, Msg::DisableTakeoverRuns { secs: m.timeout })
        } else {
            let Some(value) = data.try_into().ok().map(u32::from_ne_bytes) else {
                warn!("gateway: srvid 0x{id:016x} message of {} bytes, expected 4; ignored", data.len());
                return;
            };
            if !self.failover {
                return;
            }
            if id == srvid::DISABLE_IP_CHECK {
                (0, Msg::DisableIpCheck { secs: value })
            } else {
                (0, Msg::RebalanceNode { pnn: value })
            }
        };
        let p = Packet::new(Endpoint::new(self.pnn, ServiceId::FAILOVERD), self.endpoint(), msg.0, Body::Msg(msg.1));
        self.actions.push_back(Action::Send(p));
    }

    /// The cluster state changed: a node that now leads answers the
    /// takeover runs asked for while there was no leader; once anyone
    /// leads, they are its business.
    pub(super) fn takeover_runs_after_election(&mut self) {
        let leader = self.state.as_ref().and_then(|s| s.leader);
        match leader {
            Some(l) if l == self.pnn => {
                for m in std::mem::take(&mut self.pending_takeover) {
                    self.answer_takeover_run(m);
                }
            }
            Some(_) => self.pending_takeover.clear(),
            None => {}
        }
    }
}

/// Takeover-run requests kept while no node leads.
const MAX_PENDING_TAKEOVER: usize = 16;

impl Gateway {
    /// `ctdb reloadnodes` holds recoveries off on every node for a while:
    /// clusterd is told, and the requester gets our pnn (= success).
    fn disable_recoveries(&mut self, data: &[u8]) {
        match DisableMessage::from_bytes(data) {
            Ok(m) => {
                let msg = Msg::DisableRecoveries { secs: m.timeout };
                self.actions.push_back(Action::Send(Packet::new(
                    Endpoint::new(self.pnn, ServiceId::CLUSTERD),
                    self.endpoint(),
                    0,
                    Body::Msg(msg),
                )));
                if m.srvid != 0 {
                    self.message(m.pnn, m.srvid, (self.pnn as i32).to_le_bytes().to_vec());
                }
            }
            Err(e) => debug!("gateway: malformed disable-recoveries request: {e}"),
        }
    }
}
