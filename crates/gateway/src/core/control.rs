//! Controls: answered here from the ClusterState view, handed to another
//! service, or forwarded to another node's gateway.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ctdb_config::{Tunables, TUNABLES};
use ctdb_legacy_proto::{
    caps, ctrl_flags, flags as nflags, pnn, BanState, CString, Frame, IfaceList, NodeAndFlags, NodeMap, Opcode,
    Packet as LPacket, PidSrvid, ReplyControl, ReqControl, SockAddr, StringN, Timeval, TunableList, Uptime, VarList,
    VnnMap, Wire,
};
use ctdb_proto::{Body, Endpoint, Msg, Packet, ServiceId};
use tracing::{info, warn};

use super::{Action, Gateway, Origin, Pending, Request};

/// The controls databased answers (databases, records, traverse).
/// Controls failoverd answers.
const FAILOVER_CONTROLS: &[Opcode] = &[
    Opcode::GET_PUBLIC_IPS,
    Opcode::GET_PUBLIC_IP_INFO,
    Opcode::GET_IFACES,
    Opcode::SET_IFACE_LINK_STATE,
    Opcode::TCP_CLIENT,
    Opcode::TCP_ADD,
    Opcode::TCP_ADD_DELAYED_UPDATE,
    Opcode::TCP_REMOVE,
    Opcode::GET_TCP_TICKLE_LIST,
    Opcode::SET_TCP_TICKLE_LIST,
    Opcode::ADD_PUBLIC_IP,
    Opcode::DEL_PUBLIC_IP,
    Opcode::RELEASE_IP,
    Opcode::TAKEOVER_IP,
    Opcode::RELOAD_PUBLIC_IPS,
    Opcode::SEND_GRATUITOUS_ARP,
];

const DB_CONTROLS: &[Opcode] = &[
    Opcode::GETDBPATH,
    Opcode::GET_DBMAP,
    Opcode::GET_DBNAME,
    Opcode::DB_ATTACH,
    Opcode::DB_ATTACH_PERSISTENT,
    Opcode::DB_ATTACH_REPLICATED,
    Opcode::ENABLE_SEQNUM,
    Opcode::DB_OPEN_FLAGS,
    Opcode::SET_DB_READONLY,
    Opcode::SET_DB_STICKY,
    Opcode::DB_DETACH,
    Opcode::GET_DB_STATISTICS,
    Opcode::DB_GET_HEALTH,
    Opcode::DB_SET_HEALTHY,
    Opcode::GET_DB_SEQNUM,
    Opcode::SCHEDULE_FOR_DELETION,
    Opcode::TRAVERSE_START,
    Opcode::TRAVERSE_START_EXT,
    Opcode::TRAVERSE_KILL,
    Opcode::DB_VACUUM,
    Opcode::TRANS3_COMMIT,
    Opcode::DB_FREEZE,
    Opcode::DB_THAW,
    Opcode::DB_TRANSACTION_START,
    Opcode::DB_TRANSACTION_COMMIT,
    Opcode::DB_TRANSACTION_CANCEL,
    Opcode::WIPE_DATABASE,
    Opcode::DB_PULL,
    Opcode::DB_PUSH_START,
    Opcode::DB_PUSH_CONFIRM,
];

/// Answer of a control handled here.
enum Answer {
    /// Reply now.
    Now(ReplyControl),
    /// The reply comes later (a service was asked); nothing to send yet.
    Later,
}

fn ok(data: Vec<u8>) -> Answer {
    Answer::Now(ReplyControl { status: 0, data, errmsg: None })
}

fn status(status: i32) -> Answer {
    Answer::Now(ReplyControl { status, data: Vec::new(), errmsg: None })
}

pub(super) fn failure(msg: &str) -> ReplyControl {
    ReplyControl { status: -1, data: Vec::new(), errmsg: Some(msg.to_string()) }
}

fn fail(msg: &str) -> Answer {
    Answer::Now(failure(msg))
}

pub(super) fn timeval(t: SystemTime) -> Timeval {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timeval { sec: d.as_secs() as i64, usec: i64::from(d.subsec_micros()) }
}

impl Gateway {
    pub(super) fn control(&mut self, now: Instant, req: Request, c: ReqControl) {
        let noreply = c.flags & ctrl_flags::NOREPLY != 0;
        let dest = self.resolve(req.header.destnode);
        if matches!(dest, pnn::BROADCAST_ALL | pnn::BROADCAST_ACTIVE | pnn::BROADCAST_CONNECTED) {
            if !noreply {
                // CTDB only accepts broadcast controls without replies:
                // there is no way to return several replies to one request.
                self.reply(&req, failure("broadcast control requires NOREPLY"));
                return;
            }
            if matches!(req.origin, Origin::Client(_)) {
                self.forward(now, Endpoint::BROADCAST_OTHERS, &req, &c, true);
            }
            self.local_control(now, req, c, true);
            return;
        }
        if dest != self.pnn {
            if !self.connected(dest) {
                self.reply(&req, failure("ctdb_control to disconnected node"));
                return;
            }
            self.forward(now, dest, &req, &c, noreply);
            return;
        }
        self.local_control(now, req, c, noreply);
    }

    /// Send the control to the gateway of `node` (or of every other node);
    /// unless NOREPLY, remember who waits for the answer.
    fn forward(&mut self, now: Instant, node: u32, req: &Request, c: &ReqControl, noreply: bool) {
        let mut h = req.header;
        h.destnode = node;
        let bytes = Frame { header: h, packet: LPacket::ReqControl(c.clone()) }.encode(true);
        let reqid = if noreply { 0 } else { self.new_reqid() };
        let p = Packet::new(Endpoint::new(node, ServiceId::GATEWAY), self.endpoint(), reqid, Body::Legacy(bytes));
        self.actions.push_back(Action::Send(p));
        if !noreply {
            let deadline = now + self.control_timeout();
            let to_node = (node != Endpoint::BROADCAST_OTHERS).then_some(node);
            self.pending.insert(reqid, Pending { req: req.clone(), deadline, to_node });
        }
    }

    fn local_control(&mut self, now: Instant, req: Request, c: ReqControl, noreply: bool) {
        // A NOREPLY control that waits for a service is still carried out;
        // its late reply finds no pending entry and is dropped.
        if let Answer::Now(r) = self.answer(now, &req, &c) {
            if r.status == -1 && r.errmsg.is_none() {
                warn!("gateway: control {} failed", opname(c.opcode));
            }
            if !noreply {
                self.reply(&req, r);
            }
        }
    }

    /// Ask a local service; the reply arrives through `service_reply`.
    fn ask(&mut self, now: Instant, req: &Request, svc: ServiceId, msg: Msg) -> Answer {
        let reqid = self.new_reqid();
        let p = Packet::new(Endpoint::new(self.pnn, svc), self.endpoint(), reqid, Body::Msg(msg));
        self.actions.push_back(Action::Send(p));
        let deadline = now + self.control_timeout();
        self.pending.insert(reqid, Pending { req: req.clone(), deadline, to_node: None });
        Answer::Later
    }

    /// A service answered a request of ours.
    pub(super) fn service_reply(&mut self, reqid: u64, msg: Msg) {
        if let Msg::Status { status } = msg {
            if self.takeover_run_done(reqid, status) {
                return;
            }
        }
        let Some(Pending { req, .. }) = self.pending.remove(&reqid) else { return };
        let r = match msg {
            Msg::Status { status } => ReplyControl { status, data: Vec::new(), errmsg: None },
            Msg::NodesFile { nodes } => {
                let infos: Vec<ctdb_proto::NodeInfo> = nodes
                    .iter()
                    .enumerate()
                    .map(|(i, a)| ctdb_proto::NodeInfo {
                        pnn: i as u32,
                        addr: *a,
                        flags: if a.is_some() { 0 } else { nflags::DELETED },
                    })
                    .collect();
                ReplyControl { status: 0, data: nodemap(&infos, true).to_bytes(), errmsg: None }
            }
            Msg::Stats(t) => {
                let num_clients = self.clients.len() as u32;
                let st = self.counters.statistics(num_clients, &t, req.wall);
                ReplyControl { status: 0, data: st.to_bytes(), errmsg: None }
            }
            other => {
                warn!("gateway: unexpected reply {other:?} to {}", opname(req.opcode));
                ReplyControl { status: -1, data: Vec::new(), errmsg: None }
            }
        };
        self.reply(&req, r);
    }

    fn answer(&mut self, now: Instant, req: &Request, c: &ReqControl) -> Answer {
        if DB_CONTROLS.contains(&c.opcode) {
            self.track_push(c);
            // databased answers DB_PULL to the requester's node: name it
            // (clients do not always fill srcnode in).
            let mut header = req.header;
            header.srcnode = match req.origin {
                Origin::Remote { from, .. } => from.node,
                Origin::Client(_) => self.pnn,
            };
            let bytes = Frame { header, packet: LPacket::ReqControl(c.clone()) }.encode(true);
            if c.flags & ctrl_flags::NOREPLY != 0 {
                // Nobody waits (Samba's SCHEDULE_FOR_DELETION): no pending
                // entry, so no late failure reply either.
                let p =
                    Packet::new(Endpoint::new(self.pnn, ServiceId::DATABASED), self.endpoint(), 0, Body::Legacy(bytes));
                self.actions.push_back(Action::Send(p));
            } else {
                let deadline = now + self.control_timeout();
                self.ask_databased(now, req.clone(), bytes, Some(deadline));
            }
            return Answer::Later;
        }
        if FAILOVER_CONTROLS.contains(&c.opcode) {
            if !self.failover {
                // No failoverd: no public addresses.
                return match c.opcode {
                    Opcode::GET_IFACES => ok(IfaceList { ifaces: Vec::new() }.to_bytes()),
                    Opcode::GET_PUBLIC_IPS => ok(ctdb_legacy_proto::PublicIpList { ips: Vec::new() }.to_bytes()),
                    // smbd's per-connection registration: nothing to track.
                    Opcode::TCP_CLIENT => status(0),
                    // No public address is known here: CTDB answers 0 for
                    // an address it does not know, and a reload finds
                    // nothing to do.
                    Opcode::RELEASE_IP | Opcode::TAKEOVER_IP | Opcode::RELOAD_PUBLIC_IPS => status(0),
                    _ => fail("public IP failover is disabled on this node"),
                };
            }
            if c.opcode == Opcode::TCP_CLIENT {
                // Removed through failoverd when this client disconnects.
                if let Origin::Client(id) = req.origin {
                    if let (Some(cl), Ok(conn)) =
                        (self.clients.get_mut(&id), ctdb_legacy_proto::Connection::from_bytes(&c.data))
                    {
                        cl.tcp_conns.push(conn);
                    }
                }
            }
            let bytes = Frame { header: req.header, packet: LPacket::ReqControl(c.clone()) }.encode(true);
            if c.flags & ctrl_flags::NOREPLY != 0 {
                let p =
                    Packet::new(Endpoint::new(self.pnn, ServiceId::FAILOVERD), self.endpoint(), 0, Body::Legacy(bytes));
                self.actions.push_back(Action::Send(p));
            } else {
                let deadline = now + self.control_timeout();
                self.ask_legacy(now, ServiceId::FAILOVERD, req.clone(), bytes, Some(deadline));
            }
            return Answer::Later;
        }
        let (wall, origin) = (req.wall, &req.origin);
        let Some(st) = self.state.clone() else {
            return fail("daemon not ready");
        };
        let d = c.data.as_slice();
        match c.opcode {
            Opcode::GET_PNN => status(self.pnn as i32),
            Opcode::PING if d.is_empty() => status(self.clients.len() as i32),
            Opcode::GET_PID if d.is_empty() => status(std::process::id() as i32),
            Opcode::GET_RUNSTATE => ok(st.runstate.to_bytes()),
            Opcode::GET_CAPABILITIES => ok(st.capabilities.to_bytes()),
            Opcode::GET_RECMODE => status(st.recmode as i32),
            // Node state changes belong to clusterd; the tool then polls the
            // nodemap until the flag shows.
            Opcode::DISABLE_NODE => {
                self.ask(now, req, ServiceId::CLUSTERD, own_flags_msg(nflags::PERMANENTLY_DISABLED, true))
            }
            Opcode::ENABLE_NODE => {
                self.ask(now, req, ServiceId::CLUSTERD, own_flags_msg(nflags::PERMANENTLY_DISABLED, false))
            }
            Opcode::STOP_NODE => self.ask(now, req, ServiceId::CLUSTERD, own_flags_msg(nflags::STOPPED, true)),
            Opcode::CONTINUE_NODE => self.ask(now, req, ServiceId::CLUSTERD, own_flags_msg(nflags::STOPPED, false)),
            Opcode::SET_BAN_STATE => match BanState::from_bytes(d) {
                Ok(b) if b.pnn == self.pnn => self.ask(now, req, ServiceId::CLUSTERD, Msg::Ban { secs: b.time }),
                Ok(b) => fail(&format!("SET_BAN_STATE for node {} sent to node {}", b.pnn, self.pnn)),
                Err(_) => fail("malformed SET_BAN_STATE"),
            },
            Opcode::SET_RECMASTERROLE | Opcode::SET_LMASTERROLE => match u32::from_bytes(d) {
                Ok(v) => {
                    let mask = if c.opcode == Opcode::SET_RECMASTERROLE { caps::RECMASTER } else { caps::LMASTER };
                    self.ask(now, req, ServiceId::CLUSTERD, Msg::SetCapability { mask, on: v != 0 })
                }
                Err(_) => fail("role needs a 4-byte value"),
            },
            Opcode::SET_RECMODE => match u32::from_bytes(d) {
                // ACTIVE: `ctdb recover` asks for a recovery; the leader runs
                // it and the new generation is the answer the tool waits for.
                Ok(1) => {
                    self.actions.push_back(Action::Send(Packet::new(
                        Endpoint::new(self.pnn, ServiceId::CLUSTERD),
                        self.endpoint(),
                        0,
                        Body::Msg(Msg::RecoverRequest),
                    )));
                    status(0)
                }
                // NORMAL: only the leader's recovery ends recovery mode.
                Ok(0) => status(0),
                _ => fail("SET_RECMODE needs a 4-byte mode 0 or 1"),
            },
            Opcode::GETVNNMAP => ok(VnnMap { generation: st.generation, map: st.vnnmap.clone() }.to_bytes()),
            Opcode::GET_NODEMAP => ok(nodemap(&st.nodes, false).to_bytes()),
            Opcode::GET_NODES_FILE => self.ask(now, req, ServiceId::CLUSTERD, Msg::NodesFileRequest),
            Opcode::RELOAD_NODES_FILE => self.ask(now, req, ServiceId::CLUSTERD, Msg::ReloadNodes),
            Opcode::GET_RECLOCK_FILE => ok(CString(st.cluster_lock.clone().unwrap_or_default()).to_bytes()),
            Opcode::UPTIME => {
                let (s1, u1, s2, u2) = st.last_recovery;
                ok(Uptime {
                    current_time: timeval(wall),
                    ctdbd_start_time: timeval(self.start),
                    last_recovery_started: Timeval { sec: s1, usec: u1 },
                    last_recovery_finished: Timeval { sec: s2, usec: u2 },
                }
                .to_bytes())
            }
            Opcode::GET_DEBUG => ok(self.debug_level.to_bytes()),
            Opcode::SET_DEBUG => match i32::from_bytes(d) {
                Ok(level) => {
                    info!("gateway: debug level set to {level}");
                    self.debug_level = level;
                    self.actions.push_back(Action::SetDebug(level));
                    status(0)
                }
                Err(_) => fail("SET_DEBUG needs a 4-byte level"),
            },
            Opcode::GET_TUNABLE => match StringN::from_bytes(d) {
                Ok(name) => match tunable_slot(name.as_str()) {
                    Some(slot) => ok(st.tunables.get(slot).copied().unwrap_or(0).to_bytes()),
                    None => status(-22),
                },
                Err(_) => status(-22),
            },
            Opcode::LIST_TUNABLES => {
                ok(VarList { names: Tunables::listed_names().map(str::to_string).collect() }.to_bytes())
            }
            Opcode::GET_ALL_TUNABLES => {
                let mut values = [0u32; 62];
                for (v, s) in values.iter_mut().zip(st.tunables.iter()) {
                    *v = *s;
                }
                ok(TunableList { values }.to_bytes())
            }
            Opcode::SET_TUNABLE => match ctdb_legacy_proto::TunableSet::from_bytes(d) {
                Ok(t) => {
                    let msg = Msg::SetTunable { name: t.name.clone(), value: t.value };
                    self.ask(now, req, ServiceId::CLUSTERD, msg)
                }
                Err(_) => fail("malformed SET_TUNABLE"),
            },
            Opcode::STATISTICS => self.ask(now, req, ServiceId::TRANSPORT, Msg::StatsRequest),
            Opcode::STATISTICS_RESET => {
                self.counters.reset(wall);
                self.actions.push_back(Action::Send(Packet::new(
                    Endpoint::new(self.pnn, ServiceId::TRANSPORT),
                    self.endpoint(),
                    0,
                    Body::Msg(Msg::StatsReset),
                )));
                status(0)
            }
            Opcode::REGISTER_SRVID => match origin {
                Origin::Client(id) => {
                    if let Some(cl) = self.clients.get_mut(id) {
                        cl.srvids.push(c.srvid);
                    }
                    status(0)
                }
                Origin::Remote { .. } => fail("srvids are registered on the client's own node"),
            },
            Opcode::DEREGISTER_SRVID => match origin {
                Origin::Client(id) => {
                    let found = self.clients.get_mut(id).and_then(|cl| {
                        let i = cl.srvids.iter().position(|s| *s == c.srvid)?;
                        cl.srvids.remove(i);
                        Some(())
                    });
                    status(if found.is_some() { 0 } else { -1 })
                }
                Origin::Remote { .. } => fail("srvids are deregistered on the client's own node"),
            },
            Opcode::PROCESS_EXISTS => match i32::from_bytes(d) {
                Ok(pid) => {
                    let inactive = st.nodes.get(self.pnn as usize).is_some_and(|n| n.flags & nflags::INACTIVE != 0);
                    let exists = !inactive && self.clients.values().any(|cl| cl.pid == pid);
                    status(if exists { 0 } else { -1 })
                }
                Err(_) => status(-1),
            },
            Opcode::CHECK_PID_SRVID => match PidSrvid::from_bytes(d) {
                Ok(ps) => {
                    let has = self.clients.values().any(|cl| cl.pid == ps.pid && cl.srvids.contains(&ps.srvid));
                    status(if has { 0 } else { -1 })
                }
                Err(_) => status(-1),
            },
            Opcode::SHUTDOWN => {
                info!("gateway: shutdown requested by a client");
                self.actions.push_back(Action::Send(Packet::new(
                    Endpoint::new(self.pnn, ServiceId::MASTERD),
                    self.endpoint(),
                    0,
                    Body::Msg(Msg::Shutdown),
                )));
                status(0)
            }
            other => {
                // Unknown, obsolete, or not implemented yet: an error for
                // the client and a line in the log, never fatal.
                warn!("gateway: control {} ({}) not supported", opname(other), other.0);
                status(-1)
            }
        }
    }
}

/// The legacy nodemap: every slot, deleted ones as 0.0.0.0 with DELETED.
/// `from_file` reports the file's view (no live flags except DELETED).
fn nodemap(nodes: &[ctdb_proto::NodeInfo], from_file: bool) -> NodeMap {
    let port = ctdb_config::CTDB_PORT;
    NodeMap {
        nodes: nodes
            .iter()
            .map(|n| {
                let ip = n.addr.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
                let flags = if from_file { n.flags & nflags::DELETED } else { n.flags };
                NodeAndFlags { pnn: n.pnn, flags, addr: SockAddr(std::net::SocketAddr::new(ip, port)) }
            })
            .collect(),
    }
}

/// The clusterd request that sets (`on`) or clears one of our own flags.
fn own_flags_msg(flag: u32, on: bool) -> Msg {
    if on {
        Msg::SetOwnFlags { set: flag, clear: 0 }
    } else {
        Msg::SetOwnFlags { set: 0, clear: flag }
    }
}

pub(super) fn opname(op: Opcode) -> String {
    op.name().map(str::to_string).unwrap_or_else(|| format!("opcode {}", op.0))
}

/// Struct slot of a tunable, by case-insensitive name (obsolete ones too:
/// GET_TUNABLE answers them).
fn tunable_slot(name: &str) -> Option<usize> {
    let name = name.trim_end_matches('\0');
    TUNABLES.iter().position(|t| t.name.eq_ignore_ascii_case(name))
}
