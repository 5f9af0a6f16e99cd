//! The address check: what this node hosts against what is on the host's
//! interfaces.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ctdb_proto::{Msg, ServiceId};

use super::*;

fn on_host(addrs: &[&str]) -> BTreeMap<IpAddr, String> {
    addrs.iter().map(|a| (addr(a), "eth1".to_string())).collect()
}

/// An address seen on its interface after the takeip and then removed
/// behind the daemon's back is added again (takeip) within one check
/// interval (RecoverInterval, 1 s by default), with gratuitous ARPs.
#[test]
fn an_address_removed_behind_the_daemons_back_is_added_again() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 1], now);
    assert!(c.ip_check_due(), "checked right after the takeips");
    c.ip_check(now, &on_host(&[A1, A3]));
    assert!(out(&mut c).events.is_empty(), "all there");
    // The periodic check comes one interval later.
    assert_eq!(c.ip_check_interval(), Duration::from_secs(1));
    let t = now + Duration::from_secs(1);
    assert!(c.poll_timeout().is_some_and(|d| d <= t));
    c.handle_timeout(t);
    assert!(c.ip_check_due());
    c.ip_check(t, &on_host(&[A1]));
    let (events, o) = run_events(&mut c, t);
    assert_eq!(events, vec!["takeip eth1 10.0.0.3 24"]);
    assert_eq!(o.client_msgs, vec![(ctdb_legacy_proto::srvid::TAKE_IP, A3.to_string())]);
    c.handle_timeout(t);
    let arps: Vec<_> = std::iter::from_fn(|| c.poll_arp()).collect();
    assert!(arps.contains(&(addr(A3), "eth1".into())), "announced again: {arps:?}");
}

/// An address whose takeip passed but never showed up (a test cluster
/// whose scripts do not add addresses) is reported, not retaken in a loop;
/// so is nothing while the check is paused.
#[test]
fn an_address_never_seen_is_only_reported() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 0], now);
    for _ in 0..3 {
        c.ip_check(now, &on_host(&[]));
        assert!(out(&mut c).events.is_empty());
    }
    // Seen, then paused for a move: gone, but not touched while paused.
    c.ip_check(now, &on_host(&[A1]));
    let p = from_svc(&c, ServiceId::GATEWAY, 0, Msg::DisableIpCheck { secs: 20 });
    c.dispatch(now, p);
    c.ip_check(now, &on_host(&[]));
    assert!(out(&mut c).events.is_empty(), "paused");
}

/// Outside test mode, a public address found on this node that it does
/// not hold is released; one it holds but had no record of is adopted.
/// In test mode (nodes share the host's interfaces) both are left alone.
#[test]
fn foreign_addresses_are_released_outside_test_mode() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 2], now);
    c.ip_check(now, &on_host(&[A1, A2]));
    assert!(out(&mut c).events.is_empty(), "test mode (the default): left alone");
    c.set_check_foreign_addresses(true);
    c.ip_check(now, &on_host(&[A1, A2]));
    let (events, o) = run_events(&mut c, now);
    assert_eq!(events, vec!["releaseip eth1 10.0.0.2 24"]);
    assert_eq!(o.client_msgs, vec![(ctdb_legacy_proto::srvid::RELEASE_IP, A2.to_string())]);
}
