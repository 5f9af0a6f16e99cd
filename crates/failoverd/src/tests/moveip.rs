//! `ctdb moveip`: RELEASE_IP on the nodes that lose the address, TAKEOVER_IP
//! on the node that gains it, and the messages local clients get.

use std::time::{Duration, Instant};

use ctdb_legacy_proto::{srvid, Opcode};
use ctdb_proto::FailoverMsg;

use super::*;

/// The holder of 10.0.0.1 (node 1) gets RELEASE_IP for node 2: releaseip
/// runs, the control is answered once it is over, smbd hears RELEASE_IP,
/// and node 1 names node 2 as the holder.
#[test]
fn release_ip_on_the_holder_runs_releaseip_and_answers_when_done() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 2], now);
    control(&mut c, now, 5, Opcode::RELEASE_IP, public_ip(2, A1));
    let o = out(&mut c);
    assert!(o.replies.is_empty(), "answered only when the event is over: {o:?}");
    assert_eq!(o.events.len(), 1);
    let (e, reqid) = o.events[0].clone();
    assert_eq!(e, "releaseip eth1 10.0.0.1 24");
    event_done(&mut c, now, reqid, 0);
    let o = out(&mut c);
    assert_eq!(o.replies, vec![(5, 0)]);
    assert_eq!(o.client_msgs, vec![(srvid::RELEASE_IP, A1.to_string())]);
    assert!(o.events.is_empty(), "nothing else to run: {o:?}");
    assert!(view(&mut c, now).contains(&(addr(A1), 2)));
}

/// A node that does not host the address only notes the new holder
/// (CTDB's redundant release) and answers at once, without an event or
/// a client message.
#[test]
fn redundant_release_notes_the_new_holder() {
    let now = Instant::now();
    let mut c = hosting(1, [0, 1, 2], now);
    control(&mut c, now, 6, Opcode::RELEASE_IP, public_ip(2, A1));
    let o = out(&mut c);
    assert_eq!(o.replies, vec![(6, 0)]);
    assert!(o.events.is_empty() && o.client_msgs.is_empty(), "{o:?}");
    assert!(view(&mut c, now).contains(&(addr(A1), 2)));
    // An address nobody configured: answered 0 (as CTDB).
    control(&mut c, now, 7, Opcode::RELEASE_IP, public_ip(2, "10.9.9.9"));
    assert_eq!(out(&mut c).replies, vec![(7, 0)]);
    // Garbage: an error, not a panic.
    control(&mut c, now, 8, Opcode::RELEASE_IP, vec![1, 2]);
    assert_eq!(out(&mut c).replies, vec![(8, -1)]);
}

/// TAKEOVER_IP on node 2: takeip, the answer when it is over, TAKE_IP to
/// smbd, gratuitous ARPs, and Moved to every connected node (itself
/// included) so all name node 2.
#[test]
fn takeover_ip_runs_takeip_and_tells_every_node() {
    let now = Instant::now();
    let mut c = hosting(2, [0, 2, 1], now);
    control(&mut c, now, 9, Opcode::TAKEOVER_IP, public_ip(2, A1));
    let o = out(&mut c);
    assert!(o.replies.is_empty());
    let (e, reqid) = o.events[0].clone();
    assert_eq!(e, "takeip eth1 10.0.0.1 24");
    event_done(&mut c, now, reqid, 0);
    let o = out(&mut c);
    assert_eq!(o.replies, vec![(9, 0)]);
    assert_eq!(o.client_msgs, vec![(srvid::TAKE_IP, A1.to_string())]);
    let moved: Vec<u32> =
        o.failover.iter().filter(|(_, m)| *m == FailoverMsg::Moved { addr: addr(A1) }).map(|(n, _)| *n).collect();
    assert_eq!(moved, vec![0, 1, 2]);
    assert!(view(&mut c, now).contains(&(addr(A1), 2)));
    c.handle_timeout(now);
    let arps: Vec<_> = std::iter::from_fn(|| c.poll_arp()).collect();
    assert!(arps.contains(&(addr(A1), "eth1".into())), "announced at once: {arps:?}");
    // Taking it again is redundant: 0 at once, no event.
    control(&mut c, now, 10, Opcode::TAKEOVER_IP, public_ip(2, A1));
    let o = out(&mut c);
    assert_eq!(o.replies, vec![(10, 0)]);
    assert!(o.events.is_empty());
}

/// Refusals: a TAKEOVER_IP naming another node, one for an address whose
/// interfaces are all down, and one while an event for the address runs;
/// a failed takeip answers −1.
#[test]
fn takeover_ip_refusals_and_failures() {
    let now = Instant::now();
    let mut c = hosting(2, [0, 0, 1], now);
    control(&mut c, now, 1, Opcode::TAKEOVER_IP, public_ip(1, A1));
    assert_eq!(out(&mut c).replies, vec![(1, -1)]);
    control(&mut c, now, 2, Opcode::TAKEOVER_IP, public_ip(2, A1));
    let (_, reqid) = out(&mut c).events[0].clone();
    control(&mut c, now, 3, Opcode::RELEASE_IP, public_ip(1, A1));
    control(&mut c, now, 4, Opcode::TAKEOVER_IP, public_ip(2, A1));
    let o = out(&mut c);
    // The release is redundant (not hosted yet): noted, answered 0; the
    // second take finds the first in flight.
    assert_eq!(o.replies, vec![(3, 0), (4, -1)]);
    event_done(&mut c, now, reqid, 1);
    let o = out(&mut c);
    assert_eq!(o.replies, vec![(2, -1)], "takeip failed");
    assert!(o.failover.is_empty(), "no Moved for a failed move");
    // Link down: no usable interface.
    let iface = ctdb_legacy_proto::Iface { name: "eth1".into(), link_state: 0, references: 0 };
    control(&mut c, now, 5, Opcode::SET_IFACE_LINK_STATE, ctdb_legacy_proto::Wire::to_bytes(&iface));
    out(&mut c);
    control(&mut c, now, 6, Opcode::TAKEOVER_IP, public_ip(2, A3));
    assert_eq!(out(&mut c).replies, vec![(6, -1)]);
}

/// The whole move as Debian's tool does it, on three cores: the pause on
/// the leader, RELEASE_IP to nodes 0 and 1 (1 holds the address),
/// TAKEOVER_IP to node 2; afterwards every node names node 2, and the
/// leader's pause is over (a run asked for meanwhile starts) without
/// waiting for the pause's timeout.
#[test]
fn a_whole_move_leaves_every_node_agreeing_and_ends_the_pause() {
    let now = Instant::now();
    let mut nodes = [hosting(0, [1, 0, 2], now), hosting(1, [1, 0, 2], now), hosting(2, [1, 0, 2], now)];
    // The leader's first run (started by its first cluster state) ends
    // with the same allocation.
    let held = [Some(1), Some(0), Some(2)];
    for n in 0..3 {
        let known = [A1, A2, A3].iter().zip(held).map(|(a, h)| (addr(a), h)).collect();
        let available = [A1, A2, A3].iter().map(|a| addr(a)).collect();
        from_node(&mut nodes[0], now, n, FailoverMsg::Ips { run: 1, known, available });
    }
    finish_runs(&mut nodes[0], now, &held);
    assert!(!nodes[0].run_in_progress());
    for c in &mut nodes {
        let p = from_svc(c, ctdb_proto::ServiceId::GATEWAY, 0, ctdb_proto::Msg::DisableIpCheck { secs: 20 });
        c.dispatch(now, p);
    }
    // ipreallocate while paused: the leader waits.
    let p = from_svc(&nodes[0], ctdb_proto::ServiceId::GATEWAY, 77, ctdb_proto::Msg::TakeoverRunRequest);
    nodes[0].dispatch(now, p);
    assert!(out(&mut nodes[0]).failover.is_empty(), "no run while paused");
    for c in nodes.iter_mut().take(2) {
        control(c, now, 1, Opcode::RELEASE_IP, public_ip(2, A1));
    }
    let (events, o) = run_events(&mut nodes[1], now);
    assert_eq!(events, vec!["releaseip eth1 10.0.0.1 24"]);
    assert_eq!(o.replies, vec![(1, 0)]);
    assert_eq!(out(&mut nodes[0]).replies, vec![(1, 0)]);
    control(&mut nodes[2], now, 2, Opcode::TAKEOVER_IP, public_ip(2, A1));
    let (events, o) = run_events(&mut nodes[2], now);
    assert_eq!(events, vec!["takeip eth1 10.0.0.1 24"]);
    assert_eq!(o.replies, vec![(2, 0)]);
    let later = now + Duration::from_millis(10);
    for (n, m) in o.failover {
        from_node(&mut nodes[n as usize], later, 2, m);
    }
    let asked: Vec<u32> = out(&mut nodes[0])
        .failover
        .iter()
        .filter(|(_, m)| matches!(m, FailoverMsg::IpsRequest { .. }))
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(asked, vec![0, 1, 2], "the waiting run starts once the move is done");
    for (i, c) in nodes.iter_mut().enumerate() {
        assert!(view(c, later).contains(&(addr(A1), 2)), "node {i}");
    }
}

/// smbd ends its connections to a released address (RELEASE_IP), and its
/// departure removes them (ClientGone, from the gateway): other
/// nodes are not told, so the new holder still resets the client. A
/// removal while the address is hosted, or `ctdb deltickle`, is told.
#[test]
fn a_departed_smbd_after_a_release_is_forgotten_only_here() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 0], now);
    let conn = |port: u16| {
        ctdb_legacy_proto::Connection {
            src: ctdb_legacy_proto::SockAddr(format!("192.168.9.9:{port}").parse().unwrap()),
            dst: ctdb_legacy_proto::SockAddr("10.0.0.1:445".parse().unwrap()),
        }
        .to_bytes()
    };
    let told = |c: &mut Failoverd| {
        out(c).failover.iter().filter(|(_, m)| matches!(m, FailoverMsg::Conn { add: false, .. })).count()
    };
    // What the gateway sends when the smbd that reported the connection
    // disconnects.
    let noreply_remove = |c: &mut Failoverd, port: u16| {
        let client = format!("192.168.9.9:{port}").parse().unwrap();
        let server = "10.0.0.1:445".parse().unwrap();
        let pnn = c.cfg.pnn;
        let to = ctdb_proto::Endpoint::new(pnn, ctdb_proto::ServiceId::FAILOVERD);
        let from = ctdb_proto::Endpoint::new(pnn, ctdb_proto::ServiceId::GATEWAY);
        let m = ctdb_proto::Msg::Failover(FailoverMsg::ClientGone { client, server });
        c.dispatch(now, ctdb_proto::Packet::new(to, from, 0, ctdb_proto::Body::Msg(m)));
    };
    for port in [1000, 1001, 1002, 1003] {
        control(&mut c, now, 1, Opcode::TCP_CLIENT, conn(port));
    }
    out(&mut c);
    noreply_remove(&mut c, 1000);
    assert_eq!(told(&mut c), 2, "smbd left while the address is hosted here: nodes 0 and 2 told");
    control(&mut c, now, 2, Opcode::RELEASE_IP, public_ip(2, A1));
    let (_, reqid) = out(&mut c).events[0].clone();
    noreply_remove(&mut c, 1001);
    assert_eq!(told(&mut c), 0, "left during the releaseip: the new holder keeps it");
    event_done(&mut c, now, reqid, 0);
    out(&mut c);
    noreply_remove(&mut c, 1002);
    assert_eq!(told(&mut c), 0, "left after the release (RELEASE_IP)");
    control(&mut c, now, 3, Opcode::TCP_REMOVE, conn(1003));
    assert_eq!(told(&mut c), 2, "ctdb deltickle");
}
