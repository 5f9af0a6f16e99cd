//! `ctdb reloadips` on one node: RELOAD_PUBLIC_IPS.

use std::time::Instant;

use ctdb_legacy_proto::Opcode;

use super::*;

fn listed(addrs: &[&str]) -> Vec<Address> {
    addrs.iter().map(|a| Address { addr: addr(a), mask_bits: 24, ifaces: vec!["eth1".into()] }).collect()
}

/// The file lost 10.0.0.3 (not hosted here: forgotten at once) and gained
/// 10.0.0.4: the control is answered after the shell read the file, and
/// the leader is asked to let this node take some.
#[test]
fn reload_adds_and_deletes_addresses_and_asks_for_a_rebalance() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 0], now);
    control(&mut c, now, 3, Opcode::RELOAD_PUBLIC_IPS, Vec::new());
    assert!(out(&mut c).replies.is_empty(), "answered after the file is read");
    assert!(c.reload_wanted());
    assert!(!c.reload_wanted(), "asked once");
    c.reloaded(now, Ok(listed(&[A1, A2, "10.0.0.4"])));
    let o = out(&mut c);
    assert_eq!(o.replies, vec![(3, 0)]);
    assert!(o.failover.contains(&(0, FailoverMsg::Rebalance { pnn: 1 })), "{o:?}");
    let known: Vec<IpAddr> = view(&mut c, now).iter().map(|(a, _)| *a).collect();
    assert_eq!(known, vec![addr(A1), addr(A2), addr("10.0.0.4")]);
}

/// A hosted address dropped from the file is released first (the next
/// run moves it), then forgotten.
#[test]
fn a_hosted_address_dropped_from_the_file_is_released_then_forgotten() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 0], now);
    control(&mut c, now, 3, Opcode::RELOAD_PUBLIC_IPS, Vec::new());
    assert!(c.reload_wanted());
    c.reloaded(now, Ok(listed(&[A2, A3])));
    let o = out(&mut c);
    assert_eq!(o.replies, vec![(3, 0)]);
    assert!(o.failover.contains(&(0, FailoverMsg::RunRequest)), "it can host less: {o:?}");
    assert!(view(&mut c, now).iter().any(|(a, _)| *a == addr(A1)), "still known while hosted");
    let holders = vec![(addr(A1), Some(0)), (addr(A2), Some(0)), (addr(A3), Some(0))];
    from_node(&mut c, now, 0, FailoverMsg::Assign { run: 2, holders, release_only: true });
    let (events, _) = run_events(&mut c, now);
    assert_eq!(events, vec!["releaseip eth1 10.0.0.1 24"]);
    assert!(!view(&mut c, now).iter().any(|(a, _)| *a == addr(A1)), "forgotten once released");
}

/// A file that cannot be read fails the control, and changes nothing.
#[test]
fn a_bad_file_fails_the_reload() {
    let now = Instant::now();
    let mut c = hosting(1, [1, 0, 0], now);
    control(&mut c, now, 3, Opcode::RELOAD_PUBLIC_IPS, Vec::new());
    c.reloaded(now, Err("line 2: bad address".into()));
    assert_eq!(out(&mut c).replies, vec![(3, -1)]);
    assert_eq!(view(&mut c, now).len(), 3);
}
