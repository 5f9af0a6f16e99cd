use std::net::IpAddr;
use std::time::Instant;

use ctdb_config::Tunables;
use ctdb_proto::{Body, ClusterState, Endpoint, Msg, Packet, ServiceId};
use ctdb_service::Service;

use super::*;

fn core() -> Clusterd {
    let ip = |n: u8| Some(IpAddr::from([127, 0, 0, n]));
    Clusterd::new(ClusterdConfig {
        pnn: 0,
        nodes: vec![ip(1), None, ip(3)],
        tunables: Tunables::defaults(),
        cluster_lock: Some("/tmp/lock".into()),
        capabilities: 0x3_0003,
        start_flags: 0,
    })
}

fn drain(c: &mut Clusterd) -> Vec<Packet> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn states(out: &[Packet]) -> Vec<(ServiceId, ClusterState)> {
    out.iter()
        .filter_map(|p| match &p.body {
            Body::Msg(Msg::ClusterState(s)) => Some((p.header.dst.service, s.clone())),
            _ => None,
        })
        .collect()
}

fn from_transport(msg: Msg) -> Packet {
    Packet::new(Endpoint::new(0, ServiceId::CLUSTERD), Endpoint::new(0, ServiceId::TRANSPORT), 0, Body::Msg(msg))
}

#[test]
fn other_nodes_start_disconnected_and_deleted_slots_are_deleted() {
    let c = core();
    let flags: Vec<u32> = c.state().nodes.iter().map(|n| n.flags).collect();
    assert_eq!(flags, vec![0, node_flags::DELETED, node_flags::DISCONNECTED | node_flags::UNHEALTHY]);
    assert_eq!(c.state().generation, INVALID_GENERATION);
    assert_eq!(c.state().leader, None);
}

#[test]
fn activation_reaches_running_and_publishes_to_gateway_and_transport() {
    let mut c = core();
    c.activate(Instant::now());
    let out = states(&drain(&mut c));
    let dsts: Vec<ServiceId> = out.iter().map(|(d, _)| *d).collect();
    assert_eq!(dsts, vec![ServiceId::GATEWAY, ServiceId::TRANSPORT]);
    assert_eq!(out[0].1.runstate, Runstate::Running as u32);
}

#[test]
fn peer_up_and_down_toggle_disconnected_and_publish() {
    let mut c = core();
    c.dispatch(Instant::now(), from_transport(Msg::PeerUp { pnn: 2 }));
    let out = states(&drain(&mut c));
    assert_eq!(out[0].1.nodes[2].flags, 0);
    c.dispatch(Instant::now(), from_transport(Msg::PeerDown { pnn: 2 }));
    let out = states(&drain(&mut c));
    assert_eq!(out[0].1.nodes[2].flags, node_flags::DISCONNECTED | node_flags::UNHEALTHY);
}

#[test]
fn set_tunable_replies_with_legacy_status_and_publishes_new_value() {
    let mut c = core();
    let req = |name: &str, value| {
        let mut p = Packet::new(
            Endpoint::new(0, ServiceId::CLUSTERD),
            Endpoint::new(0, ServiceId::GATEWAY),
            42,
            Body::Msg(Msg::SetTunable { name: name.into(), value }),
        );
        p.header.reqid = 42;
        p
    };
    c.dispatch(Instant::now(), req("keepaliveinterval", 2));
    let out = drain(&mut c);
    let st = states(&out);
    assert_eq!(st[0].1.tunables[4], 2, "KeepaliveInterval is slot 4");
    let reply = out.last().unwrap();
    assert_eq!(reply.body, Body::Msg(Msg::Status { status: 0 }));
    assert_eq!(reply.header.reqid, 42);
    assert_eq!(reply.header.dst.service, ServiceId::GATEWAY);

    c.dispatch(Instant::now(), req("NoSuchTunable", 1));
    assert_eq!(drain(&mut c).last().unwrap().body, Body::Msg(Msg::Status { status: -1 }));
    c.dispatch(Instant::now(), req("EventScriptUnhealthyOnTimeout", 1));
    assert_eq!(drain(&mut c).last().unwrap().body, Body::Msg(Msg::Status { status: 1 }));
}
