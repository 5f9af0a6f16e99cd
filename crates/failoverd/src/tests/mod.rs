//! The failover features around takeover runs, by hand on single cores:
//! `ctdb moveip` (RELEASE_IP / TAKEOVER_IP), pausing runs, `ctdb
//! reloadips`, `ctdb gratarp`, releasing everything when a node may host
//! nothing, and the address check.

mod gratarp;
mod ipcheck;
mod moveip;
mod pause;
mod release_all;
mod reload;

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ctdb_legacy_proto::{
    Frame, Opcode, Packet as LPacket, PublicIp, PublicIpList, ReplyControl, ReqControl, SockAddr, Wire,
};
use ctdb_proto::{Body, ClusterState, Endpoint, FailoverMsg, Flags, Msg, NodeInfo, Packet, ServiceId};

use crate::core::{Address, Failoverd, FailoverdConfig};

pub(super) fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) const A1: &str = "10.0.0.1";
pub(super) const A2: &str = "10.0.0.2";
pub(super) const A3: &str = "10.0.0.3";

/// Node `pnn` with 10.0.0.1-3 on eth1.
pub(super) fn core(pnn: u32) -> Failoverd {
    let addresses =
        [A1, A2, A3].iter().map(|a| Address { addr: addr(a), mask_bits: 24, ifaces: vec!["eth1".into()] }).collect();
    Failoverd::new(FailoverdConfig { pnn, addresses })
}

/// Three nodes, node 0 leading, generation 7.
pub(super) fn state(pnn: u32, flags: [u32; 3], recmode: u32) -> ClusterState {
    ClusterState {
        pnn,
        nodes: (0..3).map(|p| NodeInfo { pnn: p, addr: None, flags: flags[p as usize] }).collect(),
        runstate: 5,
        capabilities: 0,
        generation: 7,
        vnnmap: vec![0, 1, 2],
        recmode,
        leader: Some(0),
        tunables: ctdb_config::Tunables::defaults().as_array().to_vec(),
        cluster_lock: None,
        last_recovery: (0, 0, 0, 0),
    }
}

pub(super) fn from_svc(c: &Failoverd, svc: ServiceId, reqid: u64, m: Msg) -> Packet {
    let pnn = c.cfg.pnn;
    Packet::new(Endpoint::new(pnn, ServiceId::FAILOVERD), Endpoint::new(pnn, svc), reqid, Body::Msg(m))
}

pub(super) fn set_state(c: &mut Failoverd, now: Instant, st: ClusterState) {
    let p = from_svc(c, ServiceId::CLUSTERD, 0, Msg::ClusterState(st));
    c.dispatch(now, p);
}

/// A failoverd message from node `node`.
pub(super) fn from_node(c: &mut Failoverd, now: Instant, node: u32, m: FailoverMsg) {
    let to = Endpoint::new(c.cfg.pnn, ServiceId::FAILOVERD);
    c.dispatch(now, Packet::new(to, Endpoint::new(node, ServiceId::FAILOVERD), 0, Body::Msg(Msg::Failover(m))));
}

/// A legacy control from the local gateway, request `reqid`.
pub(super) fn control(c: &mut Failoverd, now: Instant, reqid: u64, opcode: Opcode, data: Vec<u8>) {
    let pnn = c.cfg.pnn;
    let frame =
        Frame::new(LPacket::ReqControl(ReqControl { opcode, srvid: 0, client_id: 0, flags: 0, data }), pnn, pnn, 0);
    let p = Packet::new(
        Endpoint::new(pnn, ServiceId::FAILOVERD),
        Endpoint::new(pnn, ServiceId::GATEWAY),
        reqid,
        Body::Legacy(frame.encode(true)),
    );
    c.dispatch(now, p);
}

pub(super) fn public_ip(pnn: u32, a: &str) -> Vec<u8> {
    PublicIp { pnn, addr: SockAddr(SocketAddr::new(addr(a), 0)) }.to_bytes()
}

/// What a core sent, sorted by kind.
#[derive(Debug, Default)]
pub(super) struct Out {
    /// Events asked of eventd: text and reqid.
    pub events: Vec<(String, u64)>,
    /// Control replies to the gateway: reqid and status.
    pub replies: Vec<(u64, i32)>,
    /// Status replies (typed): reqid and status.
    pub statuses: Vec<(u64, i32)>,
    /// Messages for local clients: srvid and text.
    pub client_msgs: Vec<(u64, String)>,
    /// failoverd messages: destination node and message.
    pub failover: Vec<(u32, FailoverMsg)>,
}

pub(super) fn out(c: &mut Failoverd) -> Out {
    let mut o = Out::default();
    while let Some(p) = c.poll_output() {
        let (dst, reqid) = (p.header.dst, p.header.reqid);
        match p.body {
            Body::Msg(Msg::EventRun { event, args, .. }) => o.events.push((format!("{event} {args}"), reqid)),
            Body::Msg(Msg::Status { status }) => o.statuses.push((reqid, status)),
            Body::Msg(Msg::Failover(m)) => o.failover.push((dst.node, m)),
            Body::Legacy(bytes) => match Frame::decode(&bytes).unwrap().packet {
                LPacket::ReplyControl(r) => o.replies.push((reqid, r.status)),
                LPacket::ReqMessage(m) => {
                    assert_eq!(
                        dst,
                        Endpoint::new(c.cfg.pnn, ServiceId::GATEWAY),
                        "client messages go to the local gateway"
                    );
                    assert_eq!(m.data.last(), Some(&0), "NUL-terminated");
                    let text = String::from_utf8_lossy(&m.data[..m.data.len() - 1]).into_owned();
                    o.client_msgs.push((m.srvid, text));
                }
                other => panic!("unexpected legacy packet {other:?}"),
            },
            other => panic!("unexpected output {other:?}"),
        }
    }
    o
}

/// eventd answers request `reqid`.
pub(super) fn event_done(c: &mut Failoverd, now: Instant, reqid: u64, result: i32) {
    let mut p = from_svc(c, ServiceId::EVENTD, reqid, Msg::EventDone { result });
    p.header.flags = Flags::REPLY;
    c.dispatch(now, p);
}

/// Run every event the core asks for, each passing; the events in order,
/// with everything else it sent meanwhile.
pub(super) fn run_events(c: &mut Failoverd, now: Instant) -> (Vec<String>, Out) {
    let mut all = Out::default();
    let mut events = Vec::new();
    loop {
        let mut o = out(c);
        let next = o.events.pop();
        assert!(o.events.is_empty(), "one event at a time");
        all.replies.extend(o.replies);
        all.statuses.extend(o.statuses);
        all.client_msgs.extend(o.client_msgs);
        all.failover.extend(o.failover);
        let Some((e, reqid)) = next else { return (events, all) };
        events.push(e);
        event_done(c, now, reqid, 0);
    }
}

/// Node `pnn`, running, told by leader 0 that 10.0.0.1-3 are held by
/// `holders`; its takeip events done.
pub(super) fn hosting(pnn: u32, holders: [u32; 3], now: Instant) -> Failoverd {
    let mut c = core(pnn);
    set_state(&mut c, now, state(pnn, [0; 3], 0));
    let list = [A1, A2, A3].iter().zip(holders).map(|(a, h)| (addr(a), Some(h))).collect();
    from_node(&mut c, now, 0, FailoverMsg::Assign { run: 1, holders: list, release_only: false });
    let (events, _) = run_events(&mut c, now);
    let mine = holders.iter().filter(|h| **h == pnn).count();
    assert_eq!(events.len(), mine + 1, "{events:?}");
    c
}

/// GET_PUBLIC_IPS as this node answers it: address → holder.
pub(super) fn view(c: &mut Failoverd, now: Instant) -> Vec<(IpAddr, u32)> {
    let pnn = c.cfg.pnn;
    let frame = Frame::new(
        LPacket::ReqControl(ReqControl {
            opcode: Opcode::GET_PUBLIC_IPS,
            srvid: 0,
            client_id: 0,
            flags: 0,
            data: Vec::new(),
        }),
        pnn,
        pnn,
        0,
    );
    let p = Packet::new(
        Endpoint::new(pnn, ServiceId::FAILOVERD),
        Endpoint::new(pnn, ServiceId::GATEWAY),
        999,
        Body::Legacy(frame.encode(true)),
    );
    c.dispatch(now, p);
    let reply = std::iter::from_fn(|| c.poll_output())
        .find_map(|p| match p.body {
            Body::Legacy(b) if p.header.reqid == 999 => match Frame::decode(&b).unwrap().packet {
                LPacket::ReplyControl(r) => Some(r),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or(ReplyControl { status: -1, data: Vec::new(), errmsg: None });
    let list = PublicIpList::from_bytes(&reply.data).unwrap();
    list.ips.iter().map(|i| (i.addr.ip(), i.pnn)).collect()
}

/// Play the other nodes (and the leader's own loop-back) until no run is
/// left: they answer with `holders` for 10.0.0.1-3 and every address
/// available, and pass every step.
pub(super) fn finish_runs(c: &mut Failoverd, now: Instant, holders: &[Option<u32>; 3]) {
    loop {
        let o = out(c);
        let busy = !o.failover.is_empty() || !o.events.is_empty();
        for (e, reqid) in o.events {
            let _ = e;
            event_done(c, now, reqid, 0);
        }
        for (n, m) in o.failover {
            match m {
                _ if n == 0 => from_node(c, now, 0, m),
                FailoverMsg::IpsRequest { run } => {
                    let known = [A1, A2, A3].iter().zip(holders).map(|(a, h)| (addr(a), *h)).collect();
                    let available = [A1, A2, A3].iter().map(|a| addr(a)).collect();
                    from_node(c, now, n, FailoverMsg::Ips { run, known, available });
                }
                FailoverMsg::Assign { run, .. } => from_node(c, now, n, FailoverMsg::Assigned { run, ok: true }),
                _ => {}
            }
        }
        if !busy {
            return;
        }
    }
}
