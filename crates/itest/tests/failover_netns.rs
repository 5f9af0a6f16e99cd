//! Public-address failover on the network-namespace bed
//! (`ctdb_itest::netns`, after `shared/testing/netns-failover.md`): three
//! ctdb-rs nodes, each in its own namespace, running Debian's
//! `10.interface` event script on a real (veth) public interface.
//!
//! Each of the six public addresses is on exactly one node's `eth1`, Debian's
//! `ctdb ip` agrees on every node and with the interfaces, and a client on
//! the public segment reaches each address on the node `ctdb ip` names;
//! `ctdb disable` moves a node's addresses off its interface onto the
//! others, `ctdb enable` brings some back with LCP2's balance (no node holds
//! more than one more than another). On the way the bed's own helpers are
//! checked: the private network, cutting and uncutting a node's switch
//! ports, and stopping and killing a daemon.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ctdb_itest::netns::{node_addr, Bed, BedConfig, PRIV_IFACE, PUBLIC_ADDRESSES, PUB_IFACE, SERVER_PORT};
use ctdb_itest::wait_for;

/// Addresses per node.
fn counts(m: &BTreeMap<Ipv4Addr, u32>, n: u32) -> Vec<usize> {
    (0..n).map(|p| m.values().filter(|h| **h == p).count()).collect()
}

/// LCP2's balance: no node holds more than one more than another.
fn balanced(m: &BTreeMap<Ipv4Addr, u32>, n: u32) -> bool {
    let c = counts(m, n);
    c.iter().max().unwrap() - c.iter().min().unwrap() <= 1
}

/// Every node reports every node OK (`ctdb nodestatus all` exits 0).
fn all_ok(bed: &Bed) -> bool {
    (0..bed.n()).all(|i| bed.ctdb(i, &["nodestatus", "all"]).is_ok_and(|o| o.status.success()))
}

/// The client reaches every address on the node the allocation names.
fn client_reaches_holders(bed: &Bed, m: &BTreeMap<Ipv4Addr, u32>) {
    for (a, h) in m {
        let banner = bed.connect(&bed.client_ns(), *a, SERVER_PORT, Duration::from_secs(3));
        assert_eq!(banner.as_deref().ok(), Some(format!("node{h}").as_str()), "client to {a}: {banner:?}");
    }
}

#[test]
fn each_address_on_one_interface_and_disable_enable_move_them() {
    let start = Instant::now();
    let mut bed = Bed::new(BedConfig::default())
        .expect("cannot build the netns failover bed (needs root, `ip netns`, ethtool, iptables, Debian's ctdb)");
    let n = bed.n();
    eprintln!("bed {} made in {:?}", bed.id(), start.elapsed());

    // The private network: every node reaches every other's test server.
    bed.start_servers().unwrap();
    for i in 0..n {
        for j in (0..n).filter(|&j| j != i) {
            wait_for(Duration::from_secs(10), "private network", || {
                bed.connect(&bed.node_ns(i), node_addr(j), SERVER_PORT, Duration::from_secs(1)).ok()
                    == Some(format!("node{j}"))
            })
            .unwrap_or_else(|e| panic!("node {i} → node {j}: {e}"));
        }
    }

    // A cut node has no carrier and cannot be reached; uncut, it can.
    bed.cut_node(2).unwrap();
    assert!(!bed.has_carrier(2, PRIV_IFACE).unwrap() && !bed.has_carrier(2, PUB_IFACE).unwrap());
    let cut = bed.connect(&bed.node_ns(0), node_addr(2), SERVER_PORT, Duration::from_millis(500));
    assert!(cut.is_err(), "cut node 2 still answered: {cut:?}");
    bed.uncut_node(2).unwrap();
    wait_for(Duration::from_secs(10), "uncut node 2 reachable", || {
        bed.connect(&bed.node_ns(0), node_addr(2), SERVER_PORT, Duration::from_secs(1)).is_ok()
    })
    .unwrap();
    assert!(bed.has_carrier(2, PRIV_IFACE).unwrap() && bed.has_carrier(2, PUB_IFACE).unwrap());
    eprintln!("network checked at {:?}", start.elapsed());

    // Start: every address on exactly one eth1, `ctdb ip` agreeing.
    let t = Instant::now();
    bed.start_all().unwrap();
    let all: Vec<u32> = (0..n).collect();
    let healthy = wait_for(Duration::from_secs(90), "every node OK, allocation consistent and balanced", || {
        bed.consistent_allocation(&all).is_some_and(|m| balanced(&m, n)) && all_ok(&bed)
    });
    healthy.unwrap_or_else(|e| panic!("{e}\n{}", bed.describe()));
    let m = bed.consistent_allocation(&all).expect("allocation still consistent");
    eprintln!("healthy {:?} after start: per node {:?}", t.elapsed(), counts(&m, n));
    for i in 0..n {
        let on = bed.public_on(i).unwrap();
        assert!(on.iter().all(|a| m[a] == i), "node {i}'s eth1 {on:?} vs {m:?}");
    }
    assert_eq!(m.len(), PUBLIC_ADDRESSES.len());
    client_reaches_holders(&bed, &m);

    // Disable node 1: its addresses leave its eth1 for the others'.
    let o = bed.ctdb(1, &["disable"]).unwrap();
    assert!(o.status.success(), "ctdb disable: {o:?}");
    let t = Instant::now();
    wait_for(Duration::from_secs(30), "node 1's addresses moved off its interface", || {
        bed.consistent_allocation(&all).is_some_and(|m| counts(&m, n)[1] == 0)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", bed.describe()));
    let m = bed.consistent_allocation(&all).unwrap();
    eprintln!("node 1 disabled: moved in {:?}, per node {:?}", t.elapsed(), counts(&m, n));
    assert_eq!(counts(&m, n), vec![3, 0, 3]);
    assert!(bed.public_on(1).unwrap().is_empty());
    client_reaches_holders(&bed, &m);

    // Enable it: some come back, balanced again.
    let o = bed.ctdb(1, &["enable"]).unwrap();
    assert!(o.status.success(), "ctdb enable: {o:?}");
    let t = Instant::now();
    wait_for(Duration::from_secs(30), "node 1 holding addresses again, balanced", || {
        bed.consistent_allocation(&all).is_some_and(|m| counts(&m, n)[1] > 0 && balanced(&m, n))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", bed.describe()));
    let m = bed.consistent_allocation(&all).unwrap();
    eprintln!("node 1 enabled: moved back in {:?}, per node {:?}", t.elapsed(), counts(&m, n));
    client_reaches_holders(&bed, &m);

    // The bed's stop and kill: a stopped daemon ran its shutdown event
    // (10.interface drops the node's addresses) and is gone; a killed one
    // is gone.
    bed.stop_node(2, Duration::from_secs(30)).unwrap();
    assert!(bed.pid(2).is_none());
    assert!(bed.public_on(2).unwrap().is_empty(), "stopped node 2 still has {:?}", bed.public_on(2));
    bed.kill_node(0).unwrap();
    assert!(bed.pid(0).is_none());
    eprintln!("total {:?}", start.elapsed());
}
