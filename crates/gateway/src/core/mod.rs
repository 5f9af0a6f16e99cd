//! The gateway's sans-IO core.
//!
//! Inputs: client connect / packet / disconnect (from the shell, with the
//! wall-clock time some replies carry), internal packets (from the
//! transport), timer expiry. Outputs: [`Action`]s, drained with
//! [`Gateway::poll_action`] after every input.

mod control;
mod message;
mod stats;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use ctdb_legacy_proto::{
    flags, pnn, srvid, Frame, Header, Operation, Packet as LPacket, ReplyControl, CTDB_MAGIC, CTDB_PROTOCOL,
};
use ctdb_proto::{Body, ClusterState, Endpoint, Flags, Msg, Packet, ServiceId};
use tracing::{debug, warn};

pub use stats::Counters;

use control::failure;

/// A client connection, numbered by the shell.
pub type ClientId = u64;

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write these legacy bytes to the client (already padded).
    ToClient {
        /// Which client.
        client: ClientId,
        /// A whole packet.
        bytes: Vec<u8>,
    },
    /// Close the client's connection; its registrations are already gone.
    Disconnect {
        /// Which client.
        client: ClientId,
        /// For the log line.
        reason: String,
    },
    /// Send an internal packet through the transport.
    Send(Packet),
    /// Change the daemon's log level (SET_DEBUG).
    SetDebug(i32),
}

/// Where a control came from, so its reply can find its way back.
#[derive(Debug, Clone, PartialEq)]
enum Origin {
    /// A client of this node.
    Client(ClientId),
    /// The gateway of another node forwarded it (reply by internal reqid).
    Remote { from: Endpoint, reqid: u64 },
}

/// A control being served: who asked, the legacy header to answer, and
/// when it arrived (wall clock, for replies that carry a time).
#[derive(Debug, Clone)]
struct Request {
    origin: Origin,
    header: Header,
    opcode: ctdb_legacy_proto::Opcode,
    wall: SystemTime,
}

/// A control waiting for another service or node.
#[derive(Debug)]
struct Pending {
    req: Request,
    deadline: Instant,
    /// The node a forwarded control went to (`None`: a local service).
    to_node: Option<u32>,
}

#[derive(Debug)]
struct Client {
    pid: i32,
    srvids: Vec<u64>,
    /// TCP_CLIENT registrations (smbd's client connections), removed
    /// through failoverd when this client goes.
    tcp_conns: Vec<ctdb_legacy_proto::Connection>,
}

/// The gateway core of one node.
pub struct Gateway {
    pnn: u32,
    state: Option<ClusterState>,
    clients: HashMap<ClientId, Client>,
    pending: HashMap<u64, Pending>,
    next_reqid: u64,
    debug_level: i32,
    start: SystemTime,
    counters: Counters,
    actions: VecDeque<Action>,
    /// Takeover-run requests that arrived while no node led.
    pending_takeover: Vec<ctdb_legacy_proto::SrvidMessage>,
    /// Whether failoverd runs on this node.
    failover: bool,
    /// Requests by srvid message that failoverd answers (takeover runs,
    /// disabling takeover runs), by our request id: who hears the answer.
    takeover_waiters: HashMap<u64, ctdb_legacy_proto::SrvidMessage>,
    /// srvids databased takes records on (DB_PUSH_START), by database.
    push_srvids: HashMap<u32, u64>,
}

impl Gateway {
    /// A core for node `pnn`, started at `start` (wall clock), logging at
    /// `debug_level`.
    pub fn new(pnn: u32, start: SystemTime, debug_level: i32) -> Gateway {
        Gateway {
            pnn,
            state: None,
            clients: HashMap::new(),
            pending: HashMap::new(),
            next_reqid: 1,
            debug_level,
            start,
            counters: Counters::new(start),
            actions: VecDeque::new(),
            pending_takeover: Vec::new(),
            push_srvids: HashMap::new(),
            failover: false,
            takeover_waiters: HashMap::new(),
        }
    }

    /// Public-address controls go to failoverd (without it: no public
    /// addresses, empty lists).
    pub fn with_failover(mut self, on: bool) -> Gateway {
        self.failover = on;
        self
    }

    /// Number of connected clients.
    pub fn num_clients(&self) -> usize {
        self.clients.len()
    }

    /// A client connected; `pid` from SO_PEERCRED.
    pub fn client_connected(&mut self, client: ClientId, pid: i32) {
        self.clients.insert(client, Client { pid, srvids: Vec::new(), tcp_conns: Vec::new() });
    }

    /// A client went away: forget its registrations. Replies still pending
    /// for it are dropped when they arrive.
    pub fn client_gone(&mut self, client: ClientId) {
        let Some(cl) = self.clients.remove(&client) else { return };
        // The connections smbd told us about end with its process.
        for conn in cl.tcp_conns {
            let canonical =
                |a: &ctdb_legacy_proto::SockAddr| std::net::SocketAddr::new(a.ip().to_canonical(), a.port());
            let msg =
                ctdb_proto::FailoverMsg::ClientGone { client: canonical(&conn.src), server: canonical(&conn.dst) };
            let p = Packet::new(
                Endpoint::new(self.pnn, ServiceId::FAILOVERD),
                self.endpoint(),
                0,
                Body::Msg(Msg::Failover(msg)),
            );
            self.actions.push_back(Action::Send(p));
        }
    }

    /// One whole legacy packet from a client (exactly `length` bytes).
    pub fn client_packet(&mut self, now: Instant, wall: SystemTime, client: ClientId, bytes: &[u8]) {
        if !self.clients.contains_key(&client) {
            return;
        }
        let frame = match Frame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                // A REQ_CALL whose header is sound but whose body is not
                // (say, a key length past the end): the framing is intact,
                // so answer it with an error and keep the connection.
                if let Ok(h) = Header::decode_checked(bytes) {
                    if h.operation == Operation::REQ_CALL {
                        warn!("gateway: client {client}: malformed REQ_CALL ({e}); failing it");
                        let reply = Frame {
                            header: self.reply_header(Operation::REPLY_CALL, h.srcnode, h.reqid),
                            packet: LPacket::ReplyCall(ctdb_legacy_proto::ReplyCall { status: -1, data: Vec::new() }),
                        };
                        self.counters.client_packet_sent();
                        self.actions.push_back(Action::ToClient { client, bytes: reply.encode(true) });
                        return;
                    }
                }
                warn!("gateway: client {client}: malformed packet ({e}); dropping connection");
                self.drop_client(client, format!("malformed packet: {e}"));
                return;
            }
        };
        self.counters.client_packet_recv(&frame.packet);
        match frame.packet {
            LPacket::ReqControl(c) => {
                let req = Request { origin: Origin::Client(client), header: frame.header, opcode: c.opcode, wall };
                self.control(now, req, c)
            }
            LPacket::ReqMessage(m) => self.message(frame.header.destnode, m.srvid, m.data),
            LPacket::ReqCall(c) => {
                // Record calls are databased's; it always answers (an
                // error for an unknown database), so no deadline.
                let req = Request {
                    origin: Origin::Client(client),
                    header: frame.header,
                    opcode: ctdb_legacy_proto::Opcode(0),
                    wall,
                };
                let bytes = Frame { header: frame.header, packet: LPacket::ReqCall(c) }.encode(true);
                self.ask_databased(now, req, bytes, None);
            }
            _ => {
                warn!(
                    "gateway: client {client}: unexpected operation {:?}; dropping connection",
                    frame.header.operation
                );
                self.drop_client(client, "unexpected operation".into());
            }
        }
    }

    fn drop_client(&mut self, client: ClientId, reason: String) {
        self.clients.remove(&client);
        self.actions.push_back(Action::Disconnect { client, reason });
    }

    /// Earliest deadline of a pending control.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Expire pending controls whose deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<u64> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        for id in expired {
            if let Some(Pending { req, .. }) = self.pending.remove(&id) {
                warn!("gateway: control {} timed out", control::opname(req.opcode));
                self.counters.control_timeout();
                self.reply(&req, failure("ctdb_control timed out"));
            }
        }
    }

    /// Controls forwarded to a node whose link went down fail now, as in
    /// CTDB, rather than at ControlTimeout: a client may hold a record
    /// lock while it waits (Debian's tool checking a g_lock holder), and a
    /// recovery's freeze would wait for it.
    fn cancel_controls_to_disconnected(&mut self) {
        let gone: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.to_node.is_some_and(|n| !self.connected(n)))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(Pending { req, to_node, .. }) = self.pending.remove(&id) {
                debug!(
                    "gateway: control {} to node {to_node:?} failed: node disconnected",
                    control::opname(req.opcode)
                );
                self.reply(&req, failure("node is disconnected"));
            }
        }
    }

    /// Next action, until `None`.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// One packet from the transport.
    pub fn internal(&mut self, now: Instant, wall: SystemTime, p: Packet) {
        let is_reply = p.header.flags.contains(Flags::REPLY);
        match p.body {
            Body::Msg(Msg::ClusterState(st)) => {
                self.state = Some(st);
                self.cancel_controls_to_disconnected();
                self.takeover_runs_after_election();
            }
            // The leader's announcement, for clients waiting on the LEADER
            // srvid (`ctdb status`, `ctdb leader`): a u32 pnn.
            Body::Msg(Msg::Leader { pnn: leader, .. }) => self.deliver(srvid::LEADER, &leader.to_le_bytes()),
            Body::Msg(msg) if is_reply => self.service_reply(p.header.reqid, msg),
            Body::Legacy(bytes) if is_reply => self.remote_reply(p.header.reqid, &bytes),
            Body::Legacy(bytes) => self.remote_request(now, wall, p.header.src, p.header.reqid, &bytes),
            other => debug!("gateway: unexpected internal packet {other:?}"),
        }
    }

    /// A legacy packet forwarded by another node's gateway: a control to
    /// answer here, or a message to deliver here.
    fn remote_request(&mut self, now: Instant, wall: SystemTime, from: Endpoint, reqid: u64, bytes: &[u8]) {
        let frame = match Frame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                warn!("gateway: node {} forwarded a malformed packet: {e}", from.node);
                return;
            }
        };
        self.counters.node_packet_recv(&frame.packet);
        match frame.packet {
            LPacket::ReqControl(c) => {
                let mut header = frame.header;
                header.destnode = self.pnn;
                let req = Request { origin: Origin::Remote { from, reqid }, header, opcode: c.opcode, wall };
                self.control(now, req, c);
            }
            LPacket::ReqMessage(m) => self.deliver(m.srvid, &m.data),
            _ => warn!("gateway: node {} forwarded an unexpected {:?}", from.node, frame.header.operation),
        }
    }

    /// A reply from another node to a control we forwarded.
    fn remote_reply(&mut self, reqid: u64, bytes: &[u8]) {
        let Some(Pending { req, .. }) = self.pending.remove(&reqid) else {
            debug!("gateway: late reply {reqid} dropped");
            return;
        };
        match Frame::decode(bytes) {
            Ok(Frame { packet: LPacket::ReplyControl(r), .. }) => self.reply(&req, r),
            Ok(Frame { packet: LPacket::ReplyCall(r), .. }) => self.reply_call(&req, r),
            Ok(_) | Err(_) => {
                warn!("gateway: malformed reply to {} from another node", control::opname(req.opcode));
                self.reply(&req, failure("malformed reply"));
            }
        }
    }

    fn new_reqid(&mut self) -> u64 {
        let id = self.next_reqid;
        self.next_reqid += 1;
        id
    }

    fn control_timeout(&self) -> Duration {
        // ControlTimeout is tunable slot 2 (seconds).
        let secs = self.state.as_ref().and_then(|s| s.tunables.get(2).copied()).unwrap_or(60);
        Duration::from_secs(u64::from(secs.max(1)))
    }

    /// Send a reply to wherever the request came from.
    fn reply(&mut self, req: &Request, r: ReplyControl) {
        let frame = Frame {
            header: self.reply_header(Operation::REPLY_CONTROL, req.header.srcnode, req.header.reqid),
            packet: LPacket::ReplyControl(r),
        };
        match &req.origin {
            Origin::Client(client) => {
                if !self.clients.contains_key(client) {
                    return;
                }
                self.counters.client_packet_sent();
                self.actions.push_back(Action::ToClient { client: *client, bytes: frame.encode(true) });
            }
            Origin::Remote { from, reqid } => {
                let mut p = Packet::new(*from, self.endpoint(), *reqid, Body::Legacy(frame.encode(true)));
                p.header.flags = Flags::REPLY;
                self.actions.push_back(Action::Send(p));
            }
        }
    }

    /// Answer a client's REQ_CALL.
    fn reply_call(&mut self, req: &Request, r: ctdb_legacy_proto::ReplyCall) {
        let Origin::Client(client) = req.origin else { return };
        if !self.clients.contains_key(&client) {
            return;
        }
        let frame = Frame {
            header: self.reply_header(Operation::REPLY_CALL, req.header.srcnode, req.header.reqid),
            packet: LPacket::ReplyCall(r),
        };
        self.counters.client_packet_sent();
        self.actions.push_back(Action::ToClient { client, bytes: frame.encode(true) });
    }

    /// Pass a legacy request to databased; its reply comes back as a
    /// legacy frame flagged REPLY. `deadline` None: wait as long as it takes.
    fn ask_databased(&mut self, now: Instant, req: Request, bytes: Vec<u8>, deadline: Option<Instant>) {
        self.ask_legacy(now, ServiceId::DATABASED, req, bytes, deadline)
    }

    /// Pass a legacy request to a local service that answers with a legacy
    /// frame flagged REPLY.
    fn ask_legacy(&mut self, now: Instant, svc: ServiceId, req: Request, bytes: Vec<u8>, deadline: Option<Instant>) {
        let reqid = self.new_reqid();
        let p = Packet::new(Endpoint::new(self.pnn, svc), self.endpoint(), reqid, Body::Legacy(bytes));
        self.actions.push_back(Action::Send(p));
        // A call may wait for a recovery or a busy record for long; the
        // far deadline only guards against a lost reply.
        let deadline = deadline.unwrap_or(now + Duration::from_secs(24 * 3600));
        self.pending.insert(reqid, Pending { req, deadline, to_node: None });
    }

    fn reply_header(&self, op: Operation, destnode: u32, reqid: u32) -> Header {
        Header {
            length: 0,
            magic: CTDB_MAGIC,
            version: CTDB_PROTOCOL,
            generation: self.state.as_ref().map_or(1, |s| s.generation),
            operation: op,
            destnode,
            srcnode: self.pnn,
            reqid,
        }
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.pnn, ServiceId::GATEWAY)
    }

    /// Whether `node` is a non-deleted node whose link is up (or us).
    fn connected(&self, node: u32) -> bool {
        if node == self.pnn {
            return true;
        }
        self.state
            .as_ref()
            .and_then(|s| s.nodes.get(node as usize))
            .is_some_and(|n| n.flags & (flags::DISCONNECTED | flags::DELETED) == 0)
    }

    fn resolve(&self, destnode: u32) -> u32 {
        if destnode == pnn::CURRENT_NODE {
            self.pnn
        } else {
            destnode
        }
    }
}

#[cfg(test)]
mod tests;
