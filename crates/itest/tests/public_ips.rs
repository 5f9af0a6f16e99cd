//! Public addresses on a ctdb-local cluster (127.0.56.x) with failover on:
//! six addresses of `public_addresses` (on `lo`; no event script is
//! enabled, so nothing touches the host's interfaces) are each held by
//! exactly one node after the takeover run, and Debian's `ctdb ip` agrees
//! on every node; disabling a node moves its addresses to the others,
//! enabling it moves some back, with LCP2's balance (no node holds more
//! than one more than another); `ctdb setifacelink` down moves a node's
//! addresses away and up brings some back; `ctdb ipinfo` and `ctdb ifaces`
//! show holder and links; `ctdb addtickle`/`gettickles`/`deltickle` see
//! one connection list on every node; `ctdb ipreallocate` waits for a
//! takeover run; `ctdb addip`/`delip` add and remove an address;
//! `ctdb shutdown` hands a node's addresses over before its
//! daemon exits.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::Output;
use std::time::Duration;

use ctdb_itest::{wait_for, Cluster, LEADER_TIMEOUT_OPTION};

const ADDRESSES: [&str; 6] = ["192.0.2.101", "192.0.2.102", "192.0.2.103", "192.0.2.104", "192.0.2.105", "192.0.2.106"];

fn ctdb(c: &Cluster, pnn: u32, args: &[&str]) -> Output {
    c.run_debian(pnn, Duration::from_secs(30), args)
}

/// `ctdb ip` on node `pnn`: address → holder (-1 unassigned).
fn ips(c: &Cluster, pnn: u32) -> Option<BTreeMap<String, i64>> {
    let o = ctdb(c, pnn, &["ip"]);
    if !o.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = text.lines();
    if lines.next()? != format!("Public IPs on node {pnn}") {
        return None;
    }
    lines
        .map(|l| {
            let (a, h) = l.split_once(' ')?;
            Some((a.to_string(), h.trim().parse().ok()?))
        })
        .collect()
}

/// Every node's view, when they all agree and every address is held.
fn agreed(c: &Cluster) -> Option<BTreeMap<String, i64>> {
    let first = ips(c, 0)?;
    let all_held = first.len() == ADDRESSES.len() && first.values().all(|h| *h >= 0);
    (all_held && (1..c.n).all(|p| ips(c, p).as_ref() == Some(&first))).then_some(first)
}

fn counts(m: &BTreeMap<String, i64>, n: u32) -> Vec<usize> {
    (0..n).map(|p| m.values().filter(|h| **h == i64::from(p)).count()).collect()
}

#[test]
fn every_address_has_one_holder_and_disabled_nodes_hold_none() {
    let c =
        Cluster::setup_with(3, Ipv4Addr::new(127, 0, 56, 1), &[], &[LEADER_TIMEOUT_OPTION, "failover:disabled=false"])
            .unwrap();
    let list: String = ADDRESSES.iter().map(|a| format!("{a}/24 lo\n")).collect();
    for p in 0..c.n {
        std::fs::write(c.node_dir(p).join("public_addresses"), &list).unwrap();
    }
    c.local(&["start", "all"]).unwrap();
    c.wait_ready(Duration::from_secs(30)).unwrap();

    // Nodes that reach RUNNING after the first run ask for another: the
    // allocation ends balanced.
    let balanced = |m: &BTreeMap<String, i64>| {
        let n = counts(m, c.n);
        n.iter().max().unwrap() - n.iter().min().unwrap() <= 1
    };
    wait_for(Duration::from_secs(20), "every address held, every node agreeing, LCP2 balance", || {
        agreed(&c).is_some_and(|m| balanced(&m))
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", (0..c.n).map(|p| ips(&c, p)).collect::<Vec<_>>()));
    let m = agreed(&c).unwrap();
    eprintln!("allocation {m:?}, per node {:?}", counts(&m, c.n));
    let o = ctdb(&c, 0, &["ip", "-v"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.lines().skip(1).all(|l| l.contains("configured[lo]")), "{text}");
    let o = ctdb(&c, 1, &["ifaces"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("name:lo link:up references:"), "{o:?}");

    // Node 1 disabled: the others hold everything.
    let o = ctdb(&c, 1, &["disable"]);
    assert!(o.status.success(), "{o:?}");
    wait_for(Duration::from_secs(20), "node 1's addresses moved", || {
        agreed(&c).is_some_and(|m| counts(&m, c.n)[1] == 0)
    })
    .unwrap();
    let m = agreed(&c).unwrap();
    let n = counts(&m, c.n);
    eprintln!("node 1 disabled: per node {n:?}");
    assert_eq!(n, vec![3, 0, 3]);

    // Enabled again: balance comes back.
    let o = ctdb(&c, 1, &["enable"]);
    assert!(o.status.success(), "{o:?}");
    wait_for(Duration::from_secs(20), "node 1 holding addresses again, LCP2 balance", || {
        agreed(&c).is_some_and(|m| counts(&m, c.n)[1] > 0 && balanced(&m))
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", (0..c.n).map(|p| ips(&c, p)).collect::<Vec<_>>()));
    eprintln!("node 1 enabled: per node {:?}", counts(&agreed(&c).unwrap(), c.n));

    // `ctdb ipreallocate` runs a takeover run and waits for it.
    let o = ctdb(&c, 1, &["ipreallocate"]);
    assert!(o.status.success(), "{o:?}");
    // Run on whichever node leads.
    let runs_done = || {
        let done = |l: &str| l.contains("failoverd: takeover run") && l.ends_with(" done");
        (0..c.n).map(|p| c.log(p).lines().filter(|l| done(l)).count()).sum::<usize>()
    };
    let before = runs_done();
    let o = ctdb(&c, 2, &["ipreallocate"]);
    assert!(o.status.success(), "{o:?}");
    assert!(runs_done() > before, "ipreallocate returned before a takeover run was done");

    // ipinfo names the holder and the interface.
    let o = ctdb(&c, 0, &["ipinfo", ADDRESSES[0]]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains(&format!("Public IP[{}]", ADDRESSES[0])), "{o:?}");
    assert!(text.contains("Interface[1]: Name:lo Link:up"), "{text}");

    // Node 2's link down: it can host nothing, its addresses move; up: back.
    let o = ctdb(&c, 2, &["setifacelink", "lo", "down"]);
    assert!(o.status.success(), "{o:?}");
    wait_for(Duration::from_secs(20), "node 2's addresses moved after its link went down", || {
        agreed(&c).is_some_and(|m| counts(&m, c.n)[2] == 0)
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", (0..c.n).map(|p| ips(&c, p)).collect::<Vec<_>>()));
    let o = ctdb(&c, 2, &["ifaces"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("name:lo link:down references:0"), "{o:?}");
    let o = ctdb(&c, 2, &["setifacelink", "lo", "up"]);
    assert!(o.status.success(), "{o:?}");
    wait_for(Duration::from_secs(20), "node 2 holding addresses after its link came up", || {
        agreed(&c).is_some_and(|m| counts(&m, c.n)[2] > 0 && balanced(&m))
    })
    .unwrap();

    // Tickles: a connection added on node 0 is known on every node (the
    // next holder resets it), and deleting it removes it everywhere.
    let conn = ["198.51.100.200:50123", &format!("{}:445", ADDRESSES[0])];
    let o = ctdb(&c, 0, &["addtickle", conn[0], conn[1]]);
    assert!(o.status.success(), "{o:?}");
    let listed = |p: u32| {
        let o = ctdb(&c, p, &["gettickles", ADDRESSES[0]]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    wait_for(Duration::from_secs(5), "the tickle on every node", || {
        (0..c.n).all(|p| listed(p).contains(&format!("SRC: {}   DST: {}", conn[0], conn[1])))
    })
    .unwrap_or_else(|e| panic!("{e}: {}", listed(1)));
    assert!(listed(2).contains("Num connections: 1"), "{}", listed(2));
    let o = ctdb(&c, 1, &["deltickle", conn[0], conn[1]]);
    assert!(o.status.success(), "{o:?}");
    wait_for(Duration::from_secs(5), "the tickle gone everywhere", || {
        (0..c.n).all(|p| listed(p).contains("Num connections: 0"))
    })
    .unwrap_or_else(|e| panic!("{e}: {}", listed(0)));
    let o = ctdb(&c, 0, &["gettickles", "192.0.2.99"]);
    assert_eq!(o.status.code(), Some(1), "unknown address: {o:?}");

    // addip on node 0: only node 0 knows the address, so node 0 holds it;
    // delip: node 0 releases and forgets it.
    let extra = "192.0.2.107";
    let o = ctdb(&c, 0, &["addip", &format!("{extra}/24"), "lo"]);
    assert!(o.status.success(), "{o:?}");
    wait_for(Duration::from_secs(10), "node 0 holding the added address", || {
        ips(&c, 0).is_some_and(|m| m.get(extra) == Some(&0))
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", ips(&c, 0)));
    let o = ctdb(&c, 0, &["addip", &format!("{extra}/24"), "lo"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("already knows"), "{o:?}");
    let o = ctdb(&c, 0, &["delip", extra]);
    assert!(o.status.success(), "{o:?}");
    wait_for(Duration::from_secs(10), "node 0 forgetting the deleted address", || {
        ips(&c, 0).is_some_and(|m| !m.contains_key(extra))
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", ips(&c, 0)));

    // `ctdb shutdown` of node 2: its addresses are held elsewhere before
    // its daemon exits (Debian's tool returns once the daemon is gone).
    let o = ctdb(&c, 2, &["shutdown"]);
    assert!(o.status.success(), "{o:?}");
    let (v0, v1) = (ips(&c, 0).unwrap(), ips(&c, 1).unwrap());
    assert_eq!(v0, v1);
    assert!(v0.values().all(|h| *h == 0 || *h == 1), "node 2 exited still holding addresses: {v0:?}");
    let log = c.log(2);
    assert!(log.contains("failoverd: public addresses handed over; stopping"), "{log}");
}
