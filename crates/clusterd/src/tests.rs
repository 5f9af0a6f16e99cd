//! clusterd core: exact outputs for each input.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use ctdb_cluster_lock::LockReply;
use ctdb_config::Tunables;
use ctdb_proto::{Body, ClusterState, Endpoint, Msg, Packet, ServiceId};

use super::*;

const TIMEOUT: Duration = Duration::from_secs(5);

fn core_at(t0: Instant, pnn: u32, lock: bool) -> Clusterd {
    core_with(t0, pnn, lock, false)
}

fn core_with(t0: Instant, pnn: u32, lock: bool, databases: bool) -> Clusterd {
    let ip = |n: u8| Some(IpAddr::from([127, 0, 0, n]));
    Clusterd::new(
        t0,
        ClusterdConfig {
            databases,
            pnn,
            nodes: vec![ip(1), None, ip(3)],
            tunables: Tunables::defaults(),
            cluster_lock: lock.then(|| "/tmp/lock".into()),
            capabilities: 0x3_0003,
            start_flags: 0,
            leader_timeout: TIMEOUT,
            seed: 7,
            wall_start: SystemTime::UNIX_EPOCH,
        },
    )
}

fn drain(c: &mut Clusterd) -> Vec<Packet> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn msgs(out: &[Packet]) -> Vec<(Endpoint, Msg)> {
    out.iter()
        .filter_map(|p| match &p.body {
            Body::Msg(Msg::ClusterState(_)) => None,
            Body::Msg(m) => Some((p.header.dst, m.clone())),
            _ => None,
        })
        .collect()
}

fn states(out: &[Packet]) -> Vec<(ServiceId, ClusterState)> {
    out.iter()
        .filter_map(|p| match &p.body {
            Body::Msg(Msg::ClusterState(s)) => Some((p.header.dst.service, s.clone())),
            _ => None,
        })
        .collect()
}

fn from(node: u32, msg: Msg) -> Packet {
    Packet::new(Endpoint::new(0, ServiceId::CLUSTERD), Endpoint::new(node, ServiceId::CLUSTERD), 0, Body::Msg(msg))
}

fn from_transport(msg: Msg) -> Packet {
    Packet::new(Endpoint::new(0, ServiceId::CLUSTERD), Endpoint::new(0, ServiceId::TRANSPORT), 0, Body::Msg(msg))
}

#[test]
fn other_nodes_start_disconnected_and_deleted_slots_are_deleted() {
    let c = core_at(Instant::now(), 0, true);
    let flags: Vec<u32> = c.state().nodes.iter().map(|n| n.flags).collect();
    assert_eq!(flags, vec![0, node_flags::DELETED, node_flags::DISCONNECTED | node_flags::UNHEALTHY]);
    assert_eq!(c.state().generation, INVALID_GENERATION);
    assert_eq!(c.state().recmode, 1, "in recovery until the first recovery");
    assert_eq!(c.state().leader, None);
}

#[test]
fn activation_waits_in_first_recovery_and_publishes() {
    let t0 = Instant::now();
    let mut c = core_at(t0, 0, true);
    c.activate(t0);
    let out = states(&drain(&mut c));
    let dsts: Vec<ServiceId> = out.iter().map(|(d, _)| *d).collect();
    let all = [ServiceId::GATEWAY, ServiceId::TRANSPORT, ServiceId::DATABASED, ServiceId::EVENTD, ServiceId::FAILOVERD];
    assert_eq!(dsts, all.to_vec());
    assert_eq!(out[0].1.runstate, Runstate::FirstRecovery as u32);
    assert_eq!(c.poll_lock(), None, "no race before the leader timeout");
    assert_eq!(c.poll_timeout(), Some(t0 + TIMEOUT));
}

#[test]
fn after_leader_timeout_the_node_races_for_the_lock_and_leads_when_it_wins() {
    let t0 = Instant::now();
    let mut c = core_at(t0, 0, true);
    c.activate(t0);
    drain(&mut c);
    c.handle_timeout(t0 + TIMEOUT);
    assert_eq!(c.poll_lock(), Some(LockAction::Take));
    assert_eq!(c.poll_timeout(), None, "nothing to do while the helper answers");
    c.lock_reply(t0 + TIMEOUT, LockReply::Held);
    assert!(c.is_leader());
    let m = msgs(&drain(&mut c));
    assert_eq!(
        m[0],
        (Endpoint::new(Endpoint::BROADCAST_CONNECTED, ServiceId::CLUSTERD), Msg::Leader { pnn: 0, generation: 1 })
    );
    let Msg::Recover { generation, vnnmap } = &m[1].1 else { panic!("{m:?}") };
    assert_eq!(m[1].0, Endpoint::new(0, ServiceId::CLUSTERD), "only active nodes take part");
    assert_eq!(vnnmap, &vec![0]);
    // Recovery completes with our own ack.
    let g = *generation;
    c.dispatch(t0 + TIMEOUT, from(0, Msg::RecoverAck { generation: g }));
    let m = msgs(&drain(&mut c));
    assert_eq!(m, vec![(Endpoint::new(0, ServiceId::CLUSTERD), Msg::Recovered { generation: g, vnnmap: vec![0] })]);
    c.dispatch(t0 + TIMEOUT, from(0, Msg::Recovered { generation: g, vnnmap: vec![0] }));
    let st = states(&drain(&mut c)).pop().unwrap().1;
    assert_eq!((st.generation, st.recmode, st.runstate, st.leader), (g, 0, Runstate::Running as u32, Some(0)));
    // The leader announces itself every second.
    assert_eq!(c.poll_timeout(), Some(t0 + TIMEOUT + election::BROADCAST_INTERVAL));
}

#[test]
fn contention_means_wait_for_the_broadcast_and_follow_it() {
    let t0 = Instant::now();
    let mut c = core_at(t0, 2, true);
    c.activate(t0);
    c.handle_timeout(t0 + TIMEOUT);
    assert_eq!(c.poll_lock(), Some(LockAction::Take));
    c.lock_reply(t0 + TIMEOUT, LockReply::Contended);
    assert!(!c.is_leader());
    assert_eq!(c.poll_timeout(), Some(t0 + TIMEOUT + election::LOCK_RETRY), "retry after one interval");
    c.dispatch(t0 + TIMEOUT, from(0, Msg::Leader { pnn: 0, generation: 1 }));
    assert_eq!(c.state().leader, Some(0));
    let m = msgs(&drain(&mut c));
    assert!(m.contains(&(Endpoint::new(2, ServiceId::GATEWAY), Msg::Leader { pnn: 0, generation: 1 })), "{m:?}");
}

#[test]
fn losing_the_lock_steps_down_at_once() {
    let t0 = Instant::now();
    let mut c = core_at(t0, 0, true);
    c.activate(t0);
    c.handle_timeout(t0 + TIMEOUT);
    c.poll_lock();
    c.lock_reply(t0 + TIMEOUT, LockReply::Held);
    drain(&mut c);
    c.lock_lost(t0 + TIMEOUT * 2);
    assert!(!c.is_leader());
    let m = msgs(&drain(&mut c));
    assert!(m.contains(&(
        Endpoint::new(Endpoint::BROADCAST_CONNECTED, ServiceId::CLUSTERD),
        Msg::Leader { pnn: u32::MAX, generation: 1 }
    )));
    assert_eq!(c.poll_lock(), None, "the helper already exited: nothing to release");
}

#[test]
fn leader_disconnect_makes_followers_race_at_once() {
    let t0 = Instant::now();
    let mut c = core_at(t0, 2, true);
    c.activate(t0);
    c.dispatch(t0, from_transport(Msg::PeerUp { pnn: 0 }));
    c.dispatch(t0, from(0, Msg::Leader { pnn: 0, generation: 1 }));
    drain(&mut c);
    let t1 = t0 + Duration::from_secs(2);
    c.dispatch(t1, from_transport(Msg::PeerDown { pnn: 0 }));
    assert_eq!(c.state().leader, None);
    assert_eq!(c.poll_timeout(), Some(t1));
    c.handle_timeout(t1);
    assert_eq!(c.poll_lock(), Some(LockAction::Take));
}

#[test]
fn without_a_lock_the_lowest_active_node_leads() {
    let t0 = Instant::now();
    let mut n2 = core_at(t0, 2, false);
    n2.activate(t0);
    n2.dispatch(t0, from_transport(Msg::PeerUp { pnn: 0 }));
    n2.handle_timeout(t0 + TIMEOUT);
    assert!(!n2.is_leader(), "node 0 is lower and connected");
    assert_eq!(n2.poll_lock(), None);
    let mut n0 = core_at(t0, 0, false);
    n0.activate(t0);
    n0.handle_timeout(t0 + TIMEOUT);
    assert!(n0.is_leader());
    // Two leaders after a healed partition: the higher one yields.
    let mut n2 = core_at(t0, 2, false);
    n2.activate(t0);
    n2.handle_timeout(t0 + TIMEOUT);
    assert!(n2.is_leader(), "alone, node 2 leads");
    n2.dispatch(t0 + TIMEOUT * 2, from(0, Msg::Leader { pnn: 0, generation: 9 }));
    assert_eq!(n2.state().leader, Some(0));
}

#[test]
fn set_tunable_replies_with_legacy_status_and_publishes_new_value() {
    let t0 = Instant::now();
    let mut c = core_at(t0, 0, true);
    let req = |name: &str, value| {
        Packet::new(
            Endpoint::new(0, ServiceId::CLUSTERD),
            Endpoint::new(0, ServiceId::GATEWAY),
            42,
            Body::Msg(Msg::SetTunable { name: name.into(), value }),
        )
    };
    c.dispatch(t0, req("keepaliveinterval", 2));
    let out = drain(&mut c);
    assert_eq!(states(&out)[0].1.tunables[4], 2, "KeepaliveInterval is slot 4");
    let reply = out.iter().find(|p| matches!(p.body, Body::Msg(Msg::Status { .. }))).unwrap();
    assert_eq!(reply.body, Body::Msg(Msg::Status { status: 0 }));
    assert_eq!((reply.header.reqid, reply.header.dst.service), (42, ServiceId::GATEWAY));
    c.dispatch(t0, req("NoSuchTunable", 1));
    assert!(drain(&mut c).iter().any(|p| p.body == Body::Msg(Msg::Status { status: -1 })));
    c.dispatch(t0, req("EventScriptUnhealthyOnTimeout", 1));
    assert!(drain(&mut c).iter().any(|p| p.body == Body::Msg(Msg::Status { status: 1 })));
}

fn leader_of_three(t0: Instant) -> Clusterd {
    let mut c = core_at(t0, 0, true);
    c.activate(t0);
    c.dispatch(t0, from_transport(Msg::PeerUp { pnn: 2 }));
    c.handle_timeout(t0 + TIMEOUT);
    c.poll_lock();
    c.lock_reply(t0 + TIMEOUT, LockReply::Held);
    drain(&mut c);
    c
}

#[test]
fn own_flags_are_announced_to_the_others_and_a_new_peer() {
    let t0 = Instant::now();
    let mut c = core_at(t0, 2, true);
    c.activate(t0);
    drain(&mut c);
    c.dispatch(t0, from_transport(Msg::PeerUp { pnn: 0 }));
    let m = msgs(&drain(&mut c));
    assert!(
        m.contains(&(
            Endpoint::new(Endpoint::BROADCAST_OTHERS, ServiceId::CLUSTERD),
            Msg::NodeState { pnn: 2, flags: 0, capabilities: 0x3_0003, links: vec![0] }
        )),
        "{m:?}"
    );
    c.dispatch(t0, from(2, Msg::SetOwnFlags { set: node_flags::PERMANENTLY_DISABLED, clear: 0 }));
    let m = msgs(&drain(&mut c));
    assert!(m.contains(&(
        Endpoint::new(Endpoint::BROADCAST_OTHERS, ServiceId::CLUSTERD),
        Msg::NodeState { pnn: 2, flags: node_flags::PERMANENTLY_DISABLED, capabilities: 0x3_0003, links: vec![0] }
    )));
}

/// A node that joins is linked to the leader before it is to the others:
/// the recovery waits (a bounded while) for the links between them, since
/// databased's recovery sends between every pair of participants.
#[test]
fn a_recovery_waits_for_a_joining_node_to_link_to_the_others() {
    let t0 = Instant::now();
    let ip = |n: u8| Some(IpAddr::from([127, 0, 0, n]));
    let mut c = Clusterd::new(
        t0,
        ClusterdConfig {
            databases: false,
            pnn: 0,
            nodes: vec![ip(1), ip(2), ip(3)],
            tunables: Tunables::defaults(),
            cluster_lock: Some("/tmp/lock".into()),
            capabilities: 0x3_0003,
            start_flags: 0,
            leader_timeout: TIMEOUT,
            seed: 7,
            wall_start: SystemTime::UNIX_EPOCH,
        },
    );
    c.activate(t0);
    c.dispatch(t0, from_transport(Msg::PeerUp { pnn: 2 }));
    c.handle_timeout(t0 + TIMEOUT);
    c.poll_lock();
    c.lock_reply(t0 + TIMEOUT, LockReply::Held);
    let t0 = t0 + TIMEOUT;
    let state = |links: Vec<u32>, pnn: u32| Msg::NodeState { pnn, flags: 0, capabilities: 0x3_0003, links };
    c.dispatch(t0, from(2, state(vec![0], 2)));
    drain(&mut c);
    let recovers = |c: &mut Clusterd| msgs(&drain(c)).iter().filter(|(_, m)| matches!(m, Msg::Recover { .. })).count();
    // Node 1 joins: linked to us, not yet to node 2.
    c.dispatch(t0, from_transport(Msg::PeerUp { pnn: 1 }));
    c.dispatch(t0, from(1, state(vec![0], 1)));
    assert_eq!(recovers(&mut c), 0, "recovered before node 1 and node 2 were linked");
    c.dispatch(t0, from(2, state(vec![0, 1], 2)));
    assert_eq!(recovers(&mut c), 0, "node 1 has not told of its link yet");
    c.dispatch(t0, from(1, state(vec![0, 2], 1)));
    assert_eq!(recovers(&mut c), 3, "one Recover to each participant once they are linked");

    // A link that never comes: recover anyway after the wait.
    let t1 = t0 + Duration::from_secs(5);
    c.dispatch(t1, from_transport(Msg::PeerDown { pnn: 2 }));
    c.dispatch(t1, from(1, state(vec![0], 1)));
    assert_eq!(recovers(&mut c), 2, "node 2 left: nodes 0 and 1 recover at once");
    c.dispatch(t1, from_transport(Msg::PeerUp { pnn: 2 }));
    c.dispatch(t1, from(2, state(vec![0], 2)));
    assert_eq!(recovers(&mut c), 0);
    let due = c.poll_timeout().expect("a timer for the wait");
    assert!(due <= t1 + Duration::from_secs(1), "{:?}", due - t1);
    c.handle_timeout(t1 + Duration::from_secs(1));
    assert_eq!(recovers(&mut c), 3, "no recovery after the wait");
}

#[test]
fn a_node_that_becomes_inactive_is_recovered_out_by_the_leader() {
    let t0 = Instant::now();
    let mut c = leader_of_three(t0);
    c.dispatch(t0, from(2, Msg::NodeState { pnn: 2, flags: node_flags::STOPPED, capabilities: 3, links: vec![0] }));
    let m = msgs(&drain(&mut c));
    let recovers: Vec<&Endpoint> = m.iter().filter(|(_, m)| matches!(m, Msg::Recover { .. })).map(|(d, _)| d).collect();
    assert_eq!(recovers, vec![&Endpoint::new(0, ServiceId::CLUSTERD)], "only active node 0 takes part");
    assert_eq!(c.state().nodes[2].flags, node_flags::STOPPED);
}

#[test]
fn a_banned_leader_steps_down_and_the_ban_expires() {
    let t0 = Instant::now();
    let mut c = leader_of_three(t0);
    assert!(c.is_leader());
    c.dispatch(t0 + TIMEOUT, from(0, Msg::Ban { secs: 3 }));
    assert!(!c.is_leader());
    assert_eq!(c.poll_lock(), Some(LockAction::Release));
    assert_eq!((c.state().recmode, c.state().generation), (1, INVALID_GENERATION));
    assert_eq!(c.state().nodes[0].flags & node_flags::BANNED, node_flags::BANNED);
    let until = t0 + TIMEOUT + Duration::from_secs(3);
    assert!(c.poll_timeout().is_some_and(|t| t <= until));
    c.handle_timeout(until);
    assert_eq!(c.state().nodes[0].flags & node_flags::BANNED, 0, "unbanned after the ban period");
}

#[test]
fn leader_role_off_steps_down_and_lmaster_role_off_leaves_the_vnnmap() {
    let t0 = Instant::now();
    let mut c = leader_of_three(t0);
    c.dispatch(t0, from(0, Msg::SetCapability { mask: caps::LMASTER, on: false }));
    let m = msgs(&drain(&mut c));
    assert!(m.iter().any(|(_, m)| matches!(m, Msg::Recover { vnnmap, .. } if vnnmap == &vec![2])), "{m:?}");
    c.dispatch(t0, from(0, Msg::SetCapability { mask: caps::RECMASTER, on: false }));
    assert!(!c.is_leader());
    assert_eq!(c.poll_lock(), Some(LockAction::Release));
}

#[test]
fn a_node_that_keeps_failing_recoveries_is_banned() {
    let t0 = Instant::now();
    let mut c = leader_of_three(t0);
    // Node 2 never answers; each RecoverTimeout (30 s) the leader retries.
    // Ban credits reach 2 × 2 nodes after four failures.
    let mut t = t0 + TIMEOUT;
    let mut bans = Vec::new();
    for _ in 0..4 {
        c.dispatch(t, from(0, Msg::RecoverAck { generation: 0 }));
        t += Duration::from_secs(30);
        c.handle_timeout(t);
        bans.extend(msgs(&drain(&mut c)).into_iter().filter(|(_, m)| matches!(m, Msg::Ban { .. })));
    }
    assert_eq!(bans, vec![(Endpoint::new(2, ServiceId::CLUSTERD), Msg::Ban { secs: 300 })]);
}

#[test]
fn reload_nodes_adds_deletes_and_refuses_address_changes() {
    let t0 = Instant::now();
    let mut c = core_at(t0, 0, true);
    let ip = |n: u8| Some(IpAddr::from([127, 0, 0, n]));
    assert_eq!(c.reload_nodes(t0, vec![ip(1), None, ip(9)]), -1, "node 2 changed address");
    c.dispatch(t0, from_transport(Msg::PeerUp { pnn: 2 }));
    assert_eq!(c.reload_nodes(t0, vec![ip(1), None, None]), -1, "node 2 is connected");
    drain(&mut c);
    assert_eq!(c.reload_nodes(t0, vec![ip(1), ip(2), ip(3), ip(4)]), 0);
    let m = msgs(&drain(&mut c));
    assert!(m.contains(&(
        Endpoint::new(0, ServiceId::TRANSPORT),
        Msg::NodesChanged { nodes: vec![ip(1), ip(2), ip(3), ip(4)] }
    )));
    let flags: Vec<u32> = c.state().nodes.iter().map(|n| n.flags).collect();
    assert_eq!(flags, vec![0, 3, 0, 3], "undeleted and new nodes start disconnected");
}

#[test]
fn recoveries_wait_while_disabled() {
    let t0 = Instant::now();
    let mut c = leader_of_three(t0);
    c.dispatch(t0, from(0, Msg::DisableRecoveries { secs: 10 }));
    c.dispatch(t0, from_transport(Msg::PeerDown { pnn: 2 }));
    assert!(!msgs(&drain(&mut c)).iter().any(|(_, m)| matches!(m, Msg::Recover { .. })));
    c.dispatch(t0 + Duration::from_secs(1), from(0, Msg::DisableRecoveries { secs: 0 }));
    assert!(msgs(&drain(&mut c)).iter().any(|(_, m)| matches!(m, Msg::Recover { .. })), "deferred recovery runs");
}

#[test]
fn recovery_start_and_end_are_announced_to_eventd_and_databased() {
    let t0 = Instant::now();
    let mut c = leader_of_three(t0);
    c.dispatch(t0, from(0, Msg::Recover { generation: 77, vnnmap: vec![0] }));
    c.dispatch(t0, from(0, Msg::Recovered { generation: 77, vnnmap: vec![0] }));
    let events: Vec<(ServiceId, String)> = drain(&mut c)
        .into_iter()
        .filter_map(|p| match p.body {
            Body::Msg(Msg::RecoveryEvent { event, generation: 77 }) => Some((p.header.dst.service, event)),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        vec![
            (ServiceId::EVENTD, "startrecovery".to_string()),
            (ServiceId::DATABASED, "startrecovery".to_string()),
            (ServiceId::EVENTD, "recovered".to_string()),
            (ServiceId::DATABASED, "recovered".to_string()),
        ]
    );
}

#[test]
fn with_databases_the_ack_waits_for_the_freeze_and_recovered_for_the_database_recovery() {
    let t0 = Instant::now();
    let mut c = core_with(t0, 0, true, true);
    c.activate(t0);
    c.dispatch(t0, from_transport(Msg::PeerUp { pnn: 2 }));
    c.handle_timeout(t0 + TIMEOUT);
    c.poll_lock();
    c.lock_reply(t0 + TIMEOUT, LockReply::Held);
    let m = msgs(&drain(&mut c));
    let Some(generation) = m.iter().find_map(|(_, m)| match m {
        Msg::Recover { generation, .. } => Some(*generation),
        _ => None,
    }) else {
        panic!("no recovery started: {m:?}")
    };
    // Our own Recover: no ack until databased has frozen.
    c.dispatch(t0, from(0, Msg::Recover { generation, vnnmap: vec![0, 2] }));
    let m = msgs(&drain(&mut c));
    assert!(!m.iter().any(|(_, m)| matches!(m, Msg::RecoverAck { .. })), "acked before the freeze: {m:?}");
    let local = |msg| {
        Packet::new(Endpoint::new(0, ServiceId::CLUSTERD), Endpoint::new(0, ServiceId::DATABASED), 0, Body::Msg(msg))
    };
    c.dispatch(t0, local(Msg::DbFrozen { generation }));
    let m = msgs(&drain(&mut c));
    assert!(m.contains(&(Endpoint::new(0, ServiceId::CLUSTERD), Msg::RecoverAck { generation })), "{m:?}");
    // All acks in: databased is asked to recover, Recovered waits for it.
    c.dispatch(t0, from(0, Msg::RecoverAck { generation }));
    c.dispatch(t0, from(2, Msg::RecoverAck { generation }));
    let m = msgs(&drain(&mut c));
    assert!(
        m.iter().any(|(d, m)| *d == Endpoint::new(0, ServiceId::DATABASED)
            && matches!(m, Msg::DbRecoverAll { generation: g, participants, .. } if *g == generation && participants == &vec![0, 2])),
        "{m:?}"
    );
    assert!(!m.iter().any(|(_, m)| matches!(m, Msg::Recovered { .. })));
    // A failed database recovery starts a new recovery.
    c.dispatch(t0, local(Msg::DbRecoverDone { generation, ok: false }));
    let m = msgs(&drain(&mut c));
    let again = m.iter().find_map(|(_, m)| match m {
        Msg::Recover { generation: g, .. } => Some(*g),
        _ => None,
    });
    assert!(again.is_some_and(|g| g != generation), "{m:?}");
    let g2 = again.unwrap_or_default();
    c.dispatch(t0, from(0, Msg::RecoverAck { generation: g2 }));
    c.dispatch(t0, from(2, Msg::RecoverAck { generation: g2 }));
    drain(&mut c);
    c.dispatch(t0, local(Msg::DbRecoverDone { generation: g2, ok: true }));
    let m = msgs(&drain(&mut c));
    let recovered: Vec<&Endpoint> = m
        .iter()
        .filter(|(_, m)| matches!(m, Msg::Recovered { generation: g, .. } if *g == g2))
        .map(|(d, _)| d)
        .collect();
    assert_eq!(recovered.len(), 2, "{m:?}");
}
