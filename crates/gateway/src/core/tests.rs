//! Gateway core: exact actions for each input.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use ctdb_legacy_proto::{
    ctrl_flags, pnn, srvid, Frame, NodeMap, Opcode, Packet as LPacket, PidSrvid, ReplyControl, ReqControl, ReqMessage,
    Wire,
};
use ctdb_proto::{Body, ClusterState, Endpoint, Flags, Msg, NodeInfo, Packet, ServiceId};

use super::*;

const ME: u32 = 0;

fn state(disconnected: &[u32]) -> ClusterState {
    ClusterState {
        pnn: ME,
        nodes: (0..3u32)
            .map(|p| NodeInfo {
                pnn: p,
                addr: Some(IpAddr::from([127, 0, 0, p as u8 + 1])),
                flags: if disconnected.contains(&p) { 0x03 } else { 0 },
            })
            .collect(),
        runstate: 5,
        capabilities: 0x3_0003,
        generation: 1,
        vnnmap: vec![],
        recmode: 0,
        leader: None,
        tunables: ctdb_config::Tunables::defaults().as_array().to_vec(),
        cluster_lock: None,
        last_recovery: (0, 0, 0, 0),
    }
}

fn gateway(disconnected: &[u32]) -> Gateway {
    let mut g = Gateway::new(ME, SystemTime::UNIX_EPOCH, 3);
    let p = Packet::new(
        Endpoint::new(ME, ServiceId::GATEWAY),
        Endpoint::new(ME, ServiceId::CLUSTERD),
        0,
        Body::Msg(Msg::ClusterState(state(disconnected))),
    );
    g.internal(Instant::now(), SystemTime::now(), p);
    g
}

fn control(dest: u32, opcode: Opcode, srvid: u64, flags: u32, data: Vec<u8>, reqid: u32) -> Vec<u8> {
    Frame::new(LPacket::ReqControl(ReqControl { opcode, srvid, client_id: 0, flags, data }), dest, ME, reqid)
        .encode(true)
}

fn drain(g: &mut Gateway) -> Vec<Action> {
    std::iter::from_fn(|| g.poll_action()).collect()
}

fn reply_of(a: &Action) -> (ClientId, u32, ReplyControl) {
    let Action::ToClient { client, bytes } = a else { panic!("not a client write: {a:?}") };
    let f = Frame::decode(bytes).unwrap();
    let LPacket::ReplyControl(r) = f.packet else { panic!("not a reply: {f:?}") };
    (*client, f.header.reqid, r)
}

fn message_of(a: &Action) -> (ClientId, u64, Vec<u8>) {
    let Action::ToClient { client, bytes } = a else { panic!("not a client write: {a:?}") };
    let LPacket::ReqMessage(m) = Frame::decode(bytes).unwrap().packet else { panic!("not a message") };
    (*client, m.srvid, m.data)
}

fn now() -> (Instant, SystemTime) {
    (Instant::now(), SystemTime::now())
}

#[test]
fn get_pnn_and_ping_are_answered_in_status() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    g.client_connected(2, 200);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(pnn::CURRENT_NODE, Opcode::GET_PNN, 0, 0, vec![], 7));
    g.client_packet(n, w, 1, &control(ME, Opcode::PING, 0, 0, vec![], 8));
    let out = drain(&mut g);
    assert_eq!(reply_of(&out[0]), (1, 7, ReplyControl { status: ME as i32, data: vec![], errmsg: None }));
    assert_eq!(reply_of(&out[1]).2.status, 2, "PING status = connected clients");
}

#[test]
fn ping_with_data_is_refused_like_ctdbd() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(ME, Opcode::PING, 0, 0, vec![1, 2, 3, 4], 9));
    assert_eq!(reply_of(&drain(&mut g)[0]).2.status, -1);
}

#[test]
fn nodemap_reports_flags_and_port_4379() {
    let mut g = gateway(&[2]);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(ME, Opcode::GET_NODEMAP, 0, 0, vec![], 1));
    let r = reply_of(&drain(&mut g)[0]).2;
    let map = NodeMap::from_bytes(&r.data).unwrap();
    let flags: Vec<u32> = map.nodes.iter().map(|n| n.flags).collect();
    assert_eq!(flags, vec![0, 0, 3]);
    assert_eq!(map.nodes[1].addr.0, "127.0.0.2:4379".parse().unwrap());
}

#[test]
fn control_for_another_node_is_forwarded_and_the_reply_routed_back() {
    let mut g = gateway(&[]);
    g.client_connected(5, 100);
    let (n, w) = now();
    g.client_packet(n, w, 5, &control(2, Opcode::GET_RUNSTATE, 0, 0, vec![], 33));
    let out = drain(&mut g);
    let Action::Send(p) = &out[0] else { panic!("{out:?}") };
    assert_eq!(p.header.dst, Endpoint::new(2, ServiceId::GATEWAY));
    let Body::Legacy(fwd) = &p.body else { panic!() };
    // The remote node answers (here: another core standing in for it).
    let mut remote = Gateway::new(2, SystemTime::UNIX_EPOCH, 3);
    let mut st = state(&[]);
    st.pnn = 2;
    remote.internal(
        n,
        w,
        Packet::new(
            Endpoint::new(2, ServiceId::GATEWAY),
            Endpoint::new(2, ServiceId::CLUSTERD),
            0,
            Body::Msg(Msg::ClusterState(st)),
        ),
    );
    remote.internal(n, w, Packet::new(p.header.dst, p.header.src, p.header.reqid, Body::Legacy(fwd.clone())));
    let rout = drain(&mut remote);
    let Action::Send(reply) = &rout[0] else { panic!("{rout:?}") };
    assert!(reply.header.flags.contains(Flags::REPLY));
    assert_eq!(reply.header.dst, Endpoint::new(ME, ServiceId::GATEWAY));
    g.internal(n, w, reply.clone());
    let (client, reqid, r) = reply_of(&drain(&mut g)[0]);
    assert_eq!((client, reqid, r.status), (5, 33, 0));
    assert_eq!(u32::from_bytes(&r.data).unwrap(), 5, "RUNNING");
}

#[test]
fn control_to_disconnected_node_fails_with_ctdbs_text() {
    let mut g = gateway(&[1]);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(1, Opcode::GET_RUNSTATE, 0, 0, vec![], 2));
    let r = reply_of(&drain(&mut g)[0]).2;
    assert_eq!((r.status, r.errmsg.as_deref()), (-1, Some("ctdb_control to disconnected node")));
}

/// A control forwarded to a node whose link then goes down fails at once
/// (CTDB's text), not after ControlTimeout: Debian's tool may hold a record
/// lock while it waits, and a recovery's freeze would wait with it.
#[test]
fn forwarded_control_fails_when_its_node_disconnects() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(1, Opcode::PROCESS_EXISTS, 0, 0, 42i32.to_le_bytes().to_vec(), 2));
    g.client_packet(n, w, 1, &control(2, Opcode::GET_RUNSTATE, 0, 0, vec![], 3));
    drain(&mut g);
    let p = Packet::new(
        Endpoint::new(ME, ServiceId::GATEWAY),
        Endpoint::new(ME, ServiceId::CLUSTERD),
        0,
        Body::Msg(Msg::ClusterState(state(&[1]))),
    );
    g.internal(n, w, p);
    let out = drain(&mut g);
    assert_eq!(out.len(), 1, "only the control to node 1 is answered: {out:?}");
    let (_, reqid, r) = reply_of(&out[0]);
    assert_eq!((reqid, r.status, r.errmsg.as_deref()), (2, -1, Some("node is disconnected")));
    assert!(g.poll_timeout().is_some(), "the control to node 2 still waits");
}

#[test]
fn forwarded_control_times_out_after_control_timeout() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(1, Opcode::GET_RUNSTATE, 0, 0, vec![], 2));
    drain(&mut g);
    let deadline = g.poll_timeout().unwrap();
    assert_eq!(deadline, n + Duration::from_secs(60), "ControlTimeout default 60 s");
    g.handle_timeout(deadline);
    let r = reply_of(&drain(&mut g)[0]).2;
    assert_eq!((r.status, r.errmsg.as_deref()), (-1, Some("ctdb_control timed out")));
    assert_eq!(g.poll_timeout(), None);
}

#[test]
fn broadcast_control_needs_noreply() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(pnn::BROADCAST_CONNECTED, Opcode::GET_RUNSTATE, 0, 0, vec![], 2));
    assert_eq!(reply_of(&drain(&mut g)[0]).2.status, -1);
    g.client_packet(
        n,
        w,
        1,
        &control(pnn::BROADCAST_CONNECTED, Opcode::STATISTICS_RESET, 0, ctrl_flags::NOREPLY, vec![], 3),
    );
    let out = drain(&mut g);
    assert!(out.iter().all(|a| !matches!(a, Action::ToClient { .. })), "no reply to NOREPLY: {out:?}");
    assert!(out.iter().any(|a| matches!(a, Action::Send(p) if p.header.dst.node == Endpoint::BROADCAST_OTHERS)));
}

#[test]
fn set_tunable_is_asked_of_clusterd_and_its_status_returned() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    let data = ctdb_legacy_proto::TunableSet { value: 9, name: "MonitorInterval".into() }.to_bytes();
    g.client_packet(n, w, 1, &control(ME, Opcode::SET_TUNABLE, 0, 0, data, 4));
    let out = drain(&mut g);
    let Action::Send(req) = &out[0] else { panic!("{out:?}") };
    assert_eq!(req.header.dst, Endpoint::new(ME, ServiceId::CLUSTERD));
    assert_eq!(req.body, Body::Msg(Msg::SetTunable { name: "MonitorInterval".into(), value: 9 }));
    let mut rep = Packet::new(req.header.src, req.header.dst, req.header.reqid, Body::Msg(Msg::Status { status: 1 }));
    rep.header.flags = Flags::REPLY;
    g.internal(n, w, rep);
    let (_, reqid, r) = reply_of(&drain(&mut g)[0]);
    assert_eq!((reqid, r.status), (4, 1));
}

#[test]
fn get_tunable_unknown_name_is_einval() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    let name = |s: &str| ctdb_legacy_proto::StringN(s.to_string()).to_bytes();
    g.client_packet(n, w, 1, &control(ME, Opcode::GET_TUNABLE, 0, 0, name("keepaliveLIMIT"), 1));
    g.client_packet(n, w, 1, &control(ME, Opcode::GET_TUNABLE, 0, 0, name("Bogus"), 2));
    let out = drain(&mut g);
    let r = reply_of(&out[0]).2;
    assert_eq!((r.status, u32::from_bytes(&r.data).unwrap()), (0, 5));
    assert_eq!(reply_of(&out[1]).2.status, -22);
}

#[test]
fn process_exists_and_check_pid_srvid_look_at_connected_clients() {
    let mut g = gateway(&[]);
    g.client_connected(1, 4242);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(ME, Opcode::REGISTER_SRVID, 0xABC, 0, vec![], 1));
    g.client_packet(n, w, 1, &control(ME, Opcode::PROCESS_EXISTS, 0, 0, 4242i32.to_bytes(), 2));
    g.client_packet(n, w, 1, &control(ME, Opcode::PROCESS_EXISTS, 0, 0, 1i32.to_bytes(), 3));
    g.client_packet(
        n,
        w,
        1,
        &control(ME, Opcode::CHECK_PID_SRVID, 0, 0, PidSrvid { pid: 4242, srvid: 0xABC }.to_bytes(), 4),
    );
    g.client_packet(
        n,
        w,
        1,
        &control(ME, Opcode::CHECK_PID_SRVID, 0, 0, PidSrvid { pid: 4242, srvid: 0xABD }.to_bytes(), 5),
    );
    let st: Vec<i32> = drain(&mut g).iter().map(|a| reply_of(a).2.status).collect();
    assert_eq!(st, vec![0, 0, -1, 0, -1]);
}

#[test]
fn messages_go_to_every_registration_and_srvid_all() {
    let mut g = gateway(&[]);
    for c in 1..=3 {
        g.client_connected(c, 100 + c as i32);
    }
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(ME, Opcode::REGISTER_SRVID, 0x77, 0, vec![], 1));
    g.client_packet(n, w, 1, &control(ME, Opcode::REGISTER_SRVID, 0x77, 0, vec![], 2));
    g.client_packet(n, w, 2, &control(ME, Opcode::REGISTER_SRVID, srvid::ALL, 0, vec![], 1));
    drain(&mut g);
    let msg =
        Frame::new(LPacket::ReqMessage(ReqMessage { srvid: 0x77, data: b"hi".to_vec() }), ME, ME, 0).encode(false);
    g.client_packet(n, w, 3, &msg);
    let got: Vec<_> = drain(&mut g).iter().map(message_of).collect();
    assert_eq!(got, vec![(1, 0x77, b"hi".to_vec()), (1, 0x77, b"hi".to_vec()), (2, 0x77, b"hi".to_vec())]);

    // Gone clients get nothing.
    g.client_gone(1);
    g.client_packet(n, w, 3, &msg);
    let got: Vec<_> = drain(&mut g).iter().map(message_of).collect();
    assert_eq!(got, vec![(2, 0x77, b"hi".to_vec())]);
}

#[test]
fn broadcast_message_is_delivered_here_and_forwarded_once_to_the_others() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(ME, Opcode::REGISTER_SRVID, 0x5, 0, vec![], 1));
    drain(&mut g);
    let msg = Frame::new(LPacket::ReqMessage(ReqMessage { srvid: 0x5, data: vec![] }), pnn::BROADCAST_ALL, ME, 0)
        .encode(true);
    g.client_packet(n, w, 1, &msg);
    let out = drain(&mut g);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(message_of(&out[0]).0, 1, "the sender's own registration receives its broadcast");
    let Action::Send(p) = &out[1] else { panic!() };
    assert_eq!(p.header.dst, Endpoint::new(Endpoint::BROADCAST_OTHERS, ServiceId::GATEWAY));
}

#[test]
fn malformed_packet_disconnects_only_that_client() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    g.client_connected(2, 200);
    let (n, w) = now();
    let mut bad = control(ME, Opcode::PING, 0, 0, vec![], 1);
    bad[4] = 0; // magic
    g.client_packet(n, w, 1, &bad);
    let out = drain(&mut g);
    assert!(matches!(&out[..], [Action::Disconnect { client: 1, .. }]), "{out:?}");
    assert_eq!(g.num_clients(), 1);
    g.client_packet(n, w, 2, &control(ME, Opcode::PING, 0, 0, vec![], 1));
    assert_eq!(reply_of(&drain(&mut g)[0]).2.status, 1);
}

#[test]
fn unknown_control_is_an_error_not_fatal() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(ME, Opcode(9999), 0, 0, vec![], 1));
    assert_eq!(reply_of(&drain(&mut g)[0]).2.status, -1);
    assert_eq!(g.num_clients(), 1);
}

#[test]
fn takeover_run_asked_while_nobody_leads_is_answered_by_the_next_leader() {
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    let (n, w) = now();
    let req = ctdb_legacy_proto::SrvidMessage { pnn: 2, srvid: 0xCE01_0000_0001_0001 }.to_bytes();
    let msg =
        Frame::new(LPacket::ReqMessage(ReqMessage { srvid: srvid::TAKEOVER_RUN, data: req }), ME, ME, 0).encode(true);
    g.client_packet(n, w, 1, &msg);
    assert!(drain(&mut g).is_empty(), "no leader: no answer yet");
    let mut st = state(&[]);
    st.leader = Some(ME);
    g.internal(
        n,
        w,
        Packet::new(
            Endpoint::new(ME, ServiceId::GATEWAY),
            Endpoint::new(ME, ServiceId::CLUSTERD),
            0,
            Body::Msg(Msg::ClusterState(st)),
        ),
    );
    let out = drain(&mut g);
    let Some(Action::Send(p)) = out.first() else { panic!("{out:?}") };
    assert_eq!(p.header.dst, Endpoint::new(2, ServiceId::GATEWAY), "the answer goes to the requester's node");
    let Body::Legacy(bytes) = &p.body else { panic!() };
    let LPacket::ReqMessage(m) = Frame::decode(bytes).unwrap().packet else { panic!() };
    assert_eq!((m.srvid, m.data), (0xCE01_0000_0001_0001, (ME as i32).to_le_bytes().to_vec()));
}

/// smbd's TCP_CLIENT (NOREPLY) goes to failoverd; when that smbd goes,
/// failoverd is told to forget the connection (ClientGone). Without
/// failoverd it is simply accepted.
#[test]
fn tcp_client_registrations_are_removed_when_the_client_goes() {
    let conn = ctdb_legacy_proto::Connection {
        src: ctdb_legacy_proto::SockAddr("198.51.100.200:50000".parse().unwrap()),
        dst: ctdb_legacy_proto::SockAddr("198.51.100.101:445".parse().unwrap()),
    }
    .to_bytes();
    let to_failoverd = |out: &[Action]| -> Vec<Opcode> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send(p) if p.header.dst.service == ServiceId::FAILOVERD => match &p.body {
                    Body::Legacy(b) => match Frame::decode(b) {
                        Ok(Frame { packet: LPacket::ReqControl(c), .. }) => Some(c.opcode),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            })
            .collect()
    };
    let mut g = gateway(&[]).with_failover(true);
    g.client_connected(1, 100);
    let (n, w) = now();
    g.client_packet(n, w, 1, &control(ME, Opcode::TCP_CLIENT, 0, ctrl_flags::NOREPLY, conn.clone(), 2));
    let out = drain(&mut g);
    assert_eq!(to_failoverd(&out), vec![Opcode::TCP_CLIENT]);
    assert!(out.iter().all(|a| !matches!(a, Action::ToClient { .. })), "no reply to NOREPLY");
    g.client_gone(1);
    let gone: Vec<Msg> = to_failoverd_msgs(&drain(&mut g)).into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        gone,
        vec![Msg::Failover(ctdb_proto::FailoverMsg::ClientGone {
            client: "198.51.100.200:50000".parse().unwrap(),
            server: "198.51.100.101:445".parse().unwrap(),
        })]
    );

    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    g.client_packet(n, w, 1, &control(ME, Opcode::TCP_CLIENT, 0, 0, conn, 3));
    assert_eq!(reply_of(&drain(&mut g)[0]).2.status, 0, "accepted without failoverd");
}

/// A client's srvid message to this node.
fn srvid_message(id: u64, data: Vec<u8>) -> Vec<u8> {
    Frame::new(LPacket::ReqMessage(ReqMessage { srvid: id, data }), ME, ME, 0).encode(true)
}

/// The typed messages the gateway sent to failoverd: (reqid, message).
fn to_failoverd_msgs(out: &[Action]) -> Vec<(u64, Msg)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Send(p) if p.header.dst == Endpoint::new(ME, ServiceId::FAILOVERD) => match &p.body {
                Body::Msg(m) => Some((p.header.reqid, m.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// DISABLE_TAKEOVER_RUNS (`ctdb reloadips`) goes to failoverd; its answer
/// reaches the requester's srvid as our pnn, or as failoverd's negative
/// errno (−EAGAIN: a run is going on). DISABLE_IP_CHECK and
/// REBALANCE_NODE (u32 payloads) go to failoverd unanswered; a payload of
/// the wrong size is dropped.
#[test]
fn failover_srvid_messages_go_to_failoverd_and_disable_is_answered() {
    let mut g = gateway(&[]).with_failover(true);
    g.client_connected(1, 100);
    let (n, w) = now();
    let reply_srvid = 0xCE01_0000_0001_0002;
    let disable = ctdb_legacy_proto::DisableMessage { pnn: ME, srvid: reply_srvid, timeout: 20 }.to_bytes();
    g.client_packet(n, w, 1, &srvid_message(srvid::DISABLE_TAKEOVER_RUNS, disable));
    let msgs = to_failoverd_msgs(&drain(&mut g));
    assert_eq!(msgs.len(), 1);
    let (reqid, m) = msgs[0].clone();
    assert_eq!(m, Msg::DisableTakeoverRuns { secs: 20 });
    // The requester registered its reply srvid.
    g.client_packet(n, w, 1, &control(ME, Opcode::REGISTER_SRVID, reply_srvid, 0, vec![], 5));
    drain(&mut g);
    for (status, answer) in [(0, ME as i32), (-11, -11)] {
        let reqid = if status == 0 {
            reqid
        } else {
            let disable = ctdb_legacy_proto::DisableMessage { pnn: ME, srvid: reply_srvid, timeout: 20 }.to_bytes();
            g.client_packet(n, w, 1, &srvid_message(srvid::DISABLE_TAKEOVER_RUNS, disable));
            to_failoverd_msgs(&drain(&mut g))[0].0
        };
        let mut p = Packet::new(
            Endpoint::new(ME, ServiceId::GATEWAY),
            Endpoint::new(ME, ServiceId::FAILOVERD),
            reqid,
            Body::Msg(Msg::Status { status }),
        );
        p.header.flags = Flags::REPLY;
        g.internal(n, w, p);
        let out = drain(&mut g);
        assert_eq!(message_of(&out[0]), (1, reply_srvid, answer.to_le_bytes().to_vec()));
    }

    g.client_packet(n, w, 1, &srvid_message(srvid::DISABLE_IP_CHECK, 20u32.to_ne_bytes().to_vec()));
    g.client_packet(n, w, 1, &srvid_message(srvid::REBALANCE_NODE, 2u32.to_ne_bytes().to_vec()));
    g.client_packet(n, w, 1, &srvid_message(srvid::REBALANCE_NODE, vec![1, 2]));
    let msgs: Vec<Msg> = to_failoverd_msgs(&drain(&mut g)).into_iter().map(|(_, m)| m).collect();
    assert_eq!(msgs, vec![Msg::DisableIpCheck { secs: 20 }, Msg::RebalanceNode { pnn: 2 }]);

    // Without failoverd, nothing to hold off: answered at once.
    let mut g = gateway(&[]);
    g.client_connected(1, 100);
    g.client_packet(n, w, 1, &control(ME, Opcode::REGISTER_SRVID, reply_srvid, 0, vec![], 5));
    drain(&mut g);
    let disable = ctdb_legacy_proto::DisableMessage { pnn: ME, srvid: reply_srvid, timeout: 20 }.to_bytes();
    g.client_packet(n, w, 1, &srvid_message(srvid::DISABLE_TAKEOVER_RUNS, disable));
    let out = drain(&mut g);
    assert_eq!(message_of(&out[0]), (1, reply_srvid, (ME as i32).to_le_bytes().to_vec()));
}

/// RELEASE_IP, TAKEOVER_IP, RELOAD_PUBLIC_IPS and SEND_GRATUITOUS_ARP are
/// failoverd's; without it the first three succeed (no public address is
/// known, as CTDB answers for an unknown one).
#[test]
fn moveip_and_reload_controls_go_to_failoverd() {
    let (n, w) = now();
    for op in [Opcode::RELEASE_IP, Opcode::TAKEOVER_IP, Opcode::RELOAD_PUBLIC_IPS, Opcode::SEND_GRATUITOUS_ARP] {
        let mut g = gateway(&[]).with_failover(true);
        g.client_connected(1, 100);
        g.client_packet(n, w, 1, &control(ME, op, 0, 0, vec![0; 24], 2));
        let out = drain(&mut g);
        assert!(
            matches!(&out[..], [Action::Send(p)] if p.header.dst == Endpoint::new(ME, ServiceId::FAILOVERD)),
            "{op:?}: {out:?}"
        );
        let mut g = gateway(&[]);
        g.client_connected(1, 100);
        g.client_packet(n, w, 1, &control(ME, op, 0, 0, vec![0; 24], 2));
        let want = if op == Opcode::SEND_GRATUITOUS_ARP { -1 } else { 0 };
        assert_eq!(reply_of(&drain(&mut g)[0]).2.status, want, "{op:?} without failoverd");
    }
}
