//! A node that may host nothing releases everything: stopped, banned, or
//! in recovery for longer than RecoveryDropAllIPs.

use std::time::{Duration, Instant};

use ctdb_legacy_proto::{flags, srvid};

use super::*;

fn releases_everything(c: &mut Failoverd, now: Instant) {
    let (mut events, o) = run_events(c, now);
    events.sort();
    assert_eq!(events, vec!["releaseip eth1 10.0.0.1 24", "releaseip eth1 10.0.0.3 24"]);
    let mut msgs = o.client_msgs.clone();
    msgs.sort();
    assert_eq!(msgs, vec![(srvid::RELEASE_IP, A1.to_string()), (srvid::RELEASE_IP, A3.to_string())]);
    let me = c.cfg.pnn;
    assert!(view(c, now).iter().all(|(_, h)| *h != me), "unassigned in its own view");
}

#[test]
fn a_stopped_or_banned_node_releases_everything() {
    for flag in [flags::STOPPED, flags::BANNED] {
        let now = Instant::now();
        let mut c = hosting(1, [1, 0, 1], now);
        set_state(&mut c, now, state(1, [0, flag, 0], 1));
        releases_everything(&mut c, now);
        // Continued: nothing is taken until the leader assigns again.
        set_state(&mut c, now, state(1, [0; 3], 0));
        assert!(out(&mut c).events.is_empty());
        let holders = [A1, A2, A3].iter().map(|a| (addr(a), Some(1))).collect();
        from_node(&mut c, now, 0, FailoverMsg::Assign { run: 2, holders, release_only: false });
        let (events, _) = run_events(&mut c, now);
        assert_eq!(events.len(), 4, "takes all three, then ipreallocated: {events:?}");
    }
}

#[test]
fn a_recovery_longer_than_recovery_drop_all_ips_releases_everything() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 1], now);
    set_state(&mut c, now, state(1, [0; 3], 1));
    assert!(out(&mut c).events.is_empty(), "a recovery alone releases nothing");
    // RecoveryDropAllIPs is 120 s by default.
    let deadline = now + Duration::from_secs(120);
    assert!(c.poll_timeout().is_some_and(|t| t <= deadline));
    c.handle_timeout(now + Duration::from_secs(119));
    assert!(out(&mut c).events.is_empty());
    c.handle_timeout(deadline);
    releases_everything(&mut c, deadline);
    // The recovery ends: the node may host again (the leader's next run).
    set_state(&mut c, deadline, state(1, [0; 3], 0));
    assert!(!c.drop_all);
}
