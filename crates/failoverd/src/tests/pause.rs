//! Pausing takeover runs (DISABLE_TAKEOVER_RUNS, DISABLE_IP_CHECK) and
//! REBALANCE_NODE on the leader.

use std::time::{Duration, Instant};

use ctdb_proto::{FailoverMsg, Msg, ServiceId};

use super::*;

/// Leader 0 with a settled cluster (its first run done).
fn leader(now: Instant) -> Failoverd {
    let mut c = core(0);
    set_state(&mut c, now, state(0, [0; 3], 0));
    finish_runs(&mut c, now, &[None; 3]);
    assert!(!c.run_in_progress());
    c
}

fn run_started(c: &mut Failoverd) -> bool {
    out(c).failover.iter().any(|(_, m)| matches!(m, FailoverMsg::IpsRequest { .. }))
}

fn gw(c: &mut Failoverd, now: Instant, reqid: u64, m: Msg) {
    let p = from_svc(c, ServiceId::GATEWAY, reqid, m);
    c.dispatch(now, p);
}

/// Runs asked for while disabled wait, and start when the tool enables
/// them again (timeout 0).
#[test]
fn disabled_runs_wait_until_enabled() {
    let now = Instant::now();
    let mut c = leader(now);
    gw(&mut c, now, 1, Msg::DisableTakeoverRuns { secs: 20 });
    assert_eq!(out(&mut c).statuses, vec![(1, 0)]);
    gw(&mut c, now, 2, Msg::TakeoverRunRequest);
    // A flag change too.
    set_state(&mut c, now, state(0, [0, 0x04, 0], 0));
    assert!(!run_started(&mut c), "no run while disabled");
    gw(&mut c, now, 3, Msg::DisableTakeoverRuns { secs: 0 });
    let o = out(&mut c);
    assert_eq!(o.statuses, vec![(3, 0)]);
    assert!(o.failover.iter().any(|(_, m)| matches!(m, FailoverMsg::IpsRequest { .. })), "{o:?}");
}

/// A disable runs out by itself.
#[test]
fn disabled_runs_start_after_the_timeout() {
    let now = Instant::now();
    let mut c = leader(now);
    gw(&mut c, now, 1, Msg::DisableTakeoverRuns { secs: 5 });
    gw(&mut c, now, 2, Msg::TakeoverRunRequest);
    out(&mut c);
    let due = c.poll_timeout().unwrap();
    assert!(due <= now + Duration::from_secs(5));
    c.handle_timeout(now + Duration::from_secs(4));
    assert!(!run_started(&mut c));
    c.handle_timeout(now + Duration::from_secs(5));
    assert!(run_started(&mut c));
}

/// As CTDB: a run under way cannot be paused (−EAGAIN), neither by
/// DISABLE_TAKEOVER_RUNS nor by DISABLE_IP_CHECK.
#[test]
fn a_run_in_progress_cannot_be_paused() {
    let now = Instant::now();
    let mut c = leader(now);
    gw(&mut c, now, 2, Msg::TakeoverRunRequest);
    assert!(run_started(&mut c));
    gw(&mut c, now, 3, Msg::DisableTakeoverRuns { secs: 20 });
    assert_eq!(out(&mut c).statuses, vec![(3, -11)]);
    gw(&mut c, now, 0, Msg::DisableIpCheck { secs: 20 });
    assert!(!c.runs_paused(now));
}

/// DISABLE_IP_CHECK pauses like DISABLE_TAKEOVER_RUNS, without an answer.
#[test]
fn ip_check_disable_pauses_runs_without_answer() {
    let now = Instant::now();
    let mut c = leader(now);
    gw(&mut c, now, 0, Msg::DisableIpCheck { secs: 20 });
    assert!(out(&mut c).statuses.is_empty());
    assert!(c.runs_paused(now));
    gw(&mut c, now, 2, Msg::TakeoverRunRequest);
    assert!(!run_started(&mut c));
    c.handle_timeout(now + Duration::from_secs(20));
    assert!(run_started(&mut c), "over after its timeout");
}

/// REBALANCE_NODE on the leader: a run starts, its allocation may move
/// addresses onto that node, and the request is cleared once the run is
/// done; other nodes ignore it.
#[test]
fn rebalance_node_runs_with_the_node_forced() {
    let now = Instant::now();
    let mut n1 = core(1);
    set_state(&mut n1, now, state(1, [0; 3], 0));
    out(&mut n1);
    gw(&mut n1, now, 0, Msg::RebalanceNode { pnn: 2 });
    assert!(n1.force_rebalance.is_empty(), "not the leader");
    let mut c = leader(now);
    gw(&mut c, now, 0, Msg::RebalanceNode { pnn: 2 });
    assert_eq!(c.force_rebalance, vec![2]);
    let run = out(&mut c)
        .failover
        .iter()
        .find_map(|(_, m)| match m {
            FailoverMsg::IpsRequest { run } => Some(*run),
            _ => None,
        })
        .expect("a run");
    // Nodes 0 and 1 hold everything; node 2 can host all.
    let all = || vec![addr(A1), addr(A2), addr(A3)];
    let known = vec![(addr(A1), Some(0)), (addr(A2), Some(1)), (addr(A3), Some(0))];
    for n in 0..3 {
        from_node(&mut c, now, n, FailoverMsg::Ips { run, known: known.clone(), available: all() });
    }
    let holders = out(&mut c)
        .failover
        .into_iter()
        .find_map(|(_, m)| match m {
            FailoverMsg::Assign { holders, .. } => Some(holders),
            _ => None,
        })
        .expect("an assignment");
    assert!(holders.iter().any(|(_, h)| *h == Some(2)), "node 2 gets an address: {holders:?}");
    for step in 0..2 {
        for n in 0..3 {
            from_node(&mut c, now, n, FailoverMsg::Assigned { run, ok: true });
        }
        if step == 0 {
            out(&mut c);
        }
    }
    assert!(c.force_rebalance.is_empty(), "cleared after the run");
}
