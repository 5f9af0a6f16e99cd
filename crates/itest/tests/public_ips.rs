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
//!
//! Two more clusters put their addresses on `lo` for real (127.0.157.x and
//! 127.0.158.x, /32, through a tiny takeip/releaseip script; removed again
//! when the test ends): `ctdb moveip`, `ctdb reloadips` and `ctdb gratarp`
//! with Debian's tool, the RELEASE_IP / TAKE_IP messages smbd listens to,
//! an address deleted behind the daemon's back being put back within one
//! check interval, and a stopped node releasing everything.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ctdb_itest::{block_on, wait_for, Cluster, LEADER_TIMEOUT_OPTION};
use ctdb_legacy_proto::srvid;

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
    agreed_on(c, ADDRESSES.len())
}

/// Every node's view, when they all agree and all `n` addresses are held.
fn agreed_on(c: &Cluster, n: usize) -> Option<BTreeMap<String, i64>> {
    let first = ips(c, 0)?;
    let all_held = first.len() == n && first.values().all(|h| *h >= 0);
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

/// takeip / releaseip that really add and remove the address (as
/// `10.interface` does, without its other duties).
const LO_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
takeip) ip addr add "$3/$4" dev "$2" ;;
releaseip) ip addr del "$3/$4" dev "$2" ;;
esac
exit 0
"#;

/// Whether `addr` is on `lo` (as its own /32).
fn on_lo(addr: &str) -> bool {
    let o = Command::new("ip").args(["-o", "-4", "addr", "show", "dev", "lo"]).output().expect("running ip");
    String::from_utf8_lossy(&o.stdout).contains(&format!("inet {addr}/32 "))
}

fn del_from_lo(addr: &str) {
    let _ = Command::new("ip").args(["addr", "del", &format!("{addr}/32"), "dev", "lo"]).output();
}

/// The test's addresses leave `lo` when it ends, however it ends (and any
/// left by an earlier run go before it starts).
struct LoAddresses(Vec<String>);

impl LoAddresses {
    fn new(addrs: &[&str]) -> LoAddresses {
        let g = LoAddresses(addrs.iter().map(|a| a.to_string()).collect());
        for a in &g.0 {
            del_from_lo(a);
        }
        g
    }
}

impl Drop for LoAddresses {
    fn drop(&mut self) {
        for a in &self.0 {
            del_from_lo(a);
        }
    }
}

fn write_public_addresses(c: &Cluster, addrs: &[&str]) {
    let list: String = addrs.iter().map(|a| format!("{a}/32 lo\n")).collect();
    for p in 0..c.n {
        std::fs::write(c.node_dir(p).join("public_addresses"), &list).unwrap();
    }
}

/// A started cluster whose takeip/releaseip put `addrs` on `lo`, settled:
/// every address held, every node agreeing, every address on `lo`.
fn real_address_cluster(n: u32, base: Ipv4Addr, addrs: &[&str]) -> Cluster {
    let c = Cluster::setup_with(n, base, &[], &[LEADER_TIMEOUT_OPTION, "failover:disabled=false"]).unwrap();
    write_public_addresses(&c, addrs);
    for p in 0..c.n {
        let script = c.node_dir(p).join("events/legacy/10.lo.script");
        std::fs::write(&script, LO_SCRIPT).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    c.local(&["start", "all"]).unwrap();
    c.wait_ready(Duration::from_secs(30)).unwrap();
    wait_for(Duration::from_secs(20), "every address held, agreed and on lo", || {
        agreed_on(&c, addrs.len()).is_some() && addrs.iter().all(|a| on_lo(a))
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", (0..c.n).map(|p| ips(&c, p)).collect::<Vec<_>>()));
    c
}

/// A client of node `pnn` registered for RELEASE_IP and TAKE_IP, as smbd
/// is: every message it gets comes out of the channel as (srvid, text).
fn smbd_like_listener(c: &Cluster, pnn: u32) -> mpsc::Receiver<(u64, String)> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let socket = c.socket(pnn);
    std::thread::spawn(move || {
        block_on(async move {
            let cl = ctdb_client::Client::connect(&socket).await.expect("connect");
            cl.register_srvid(srvid::RELEASE_IP).await.expect("register RELEASE_IP");
            cl.register_srvid(srvid::TAKE_IP).await.expect("register TAKE_IP");
            let _ = ready_tx.send(());
            while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(120), cl.next_message()).await {
                let text = String::from_utf8_lossy(&m.data).into_owned();
                if tx.send((m.srvid, text)).is_err() {
                    break;
                }
            }
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).expect("listener registered");
    rx
}

/// `ctdb moveip` (Debian's tool) moves one address: the old holder
/// releases it and the target takes it (one host, so it is on `lo`
/// again), every node names the target, smbd on the old holder hears
/// RELEASE_IP and on the target TAKE_IP, and nothing moves it back by
/// itself; takeover runs are not held off for the tool's 20 s afterwards
/// (`ctdb ipreallocate` right after returns at once). Then `ctdb reloadips`
/// takes a removed address away and places a new one, and `ctdb gratarp`
/// is accepted.
#[test]
fn moveip_reloadips_and_gratarp_with_debians_tool() {
    let addrs = ["127.0.157.101", "127.0.157.102", "127.0.157.103", "127.0.157.104", "127.0.157.105", "127.0.157.106"];
    let _lo = LoAddresses::new(&[&addrs[..], &["127.0.157.107"]].concat());
    let c = real_address_cluster(3, Ipv4Addr::new(127, 0, 57, 1), &addrs);
    let m = agreed_on(&c, addrs.len()).unwrap();
    let (x, from) = m.iter().next().map(|(a, h)| (a.clone(), *h as u32)).unwrap();
    let to = (from + 1) % c.n;
    let (old, new) = (smbd_like_listener(&c, from), smbd_like_listener(&c, to));

    let started = Instant::now();
    let o = ctdb(&c, 2, &["moveip", &x, &to.to_string()]);
    assert!(o.status.success(), "{o:?}");
    eprintln!("moveip {x} from node {from} to node {to}: {:?}", started.elapsed());
    let msg = |rx: &mpsc::Receiver<(u64, String)>| rx.recv_timeout(Duration::from_secs(5)).expect("a message");
    assert_eq!(msg(&old), (srvid::RELEASE_IP, format!("{x}\0")), "smbd on the old holder");
    assert_eq!(msg(&new), (srvid::TAKE_IP, format!("{x}\0")), "smbd on the new holder");
    assert!(on_lo(&x));
    let holder_everywhere = |h: i64| agreed_on(&c, addrs.len()).is_some_and(|m| m.get(&x) == Some(&h));
    wait_for(Duration::from_secs(5), "every node naming the new holder", || holder_everywhere(i64::from(to)))
        .unwrap_or_else(|e| panic!("{e}\n{:?}", (0..c.n).map(|p| ips(&c, p)).collect::<Vec<_>>()));
    // It stays there: no run undoes the move by itself.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(holder_everywhere(i64::from(to)), "{:?}", ips(&c, 0));
    }
    // Samba's tool paused runs for 2 × -t (20 s); here the pause ended
    // with the move.
    let started = Instant::now();
    let o = ctdb(&c, 0, &["ipreallocate"]);
    assert!(o.status.success(), "{o:?}");
    let took = started.elapsed();
    eprintln!("ipreallocate right after moveip: {took:?}");
    assert!(took < Duration::from_secs(10), "takeover runs still paused after the move: {took:?}");

    // reloadips: the last address goes, a seventh comes.
    let removed = addrs[5];
    let added = "127.0.157.107";
    let mut listed: Vec<&str> = addrs[..5].to_vec();
    listed.push(added);
    write_public_addresses(&c, &listed);
    let started = Instant::now();
    let o = ctdb(&c, 0, &["reloadips", "all"]);
    assert!(o.status.success(), "{o:?}");
    eprintln!("reloadips: {:?}", started.elapsed());
    wait_for(Duration::from_secs(10), "the new address placed, the removed one gone", || {
        agreed_on(&c, listed.len()).is_some_and(|m| m.contains_key(added) && !m.contains_key(removed))
            && on_lo(added)
            && !on_lo(removed)
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", (0..c.n).map(|p| ips(&c, p)).collect::<Vec<_>>()));

    // gratarp: accepted (lo has no ARP; the log shows the request).
    let o = ctdb(&c, 1, &["gratarp", added, "lo"]);
    assert!(o.status.success(), "{o:?}");
    assert!(c.log(1).contains(&format!("gratuitous ARP for {added} on lo")), "{}", c.log(1));

    // Moving to a node that does not know the address fails as in CTDB
    // (five tries 3 s apart; last, since like CTDB's its pause of
    // takeover runs then lasts its whole 20 s).
    let o = ctdb(&c, 0, &["moveip", "127.0.157.199", "1"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("CANNOT host"), "{o:?}");
}

/// The address check: an address deleted from `lo` behind the daemon's
/// back is put back by its holder within one check interval
/// (RecoverInterval, 1 s); a stopped node releases all its addresses and
/// the others take them.
#[test]
fn an_address_removed_behind_the_daemons_back_is_put_back_and_stopped_nodes_release_all() {
    let addrs = ["127.0.158.101", "127.0.158.102", "127.0.158.103"];
    let _lo = LoAddresses::new(&addrs);
    let c = real_address_cluster(3, Ipv4Addr::new(127, 0, 58, 1), &addrs);
    let m = agreed_on(&c, addrs.len()).unwrap();
    let (x, holder) = m.iter().next().map(|(a, h)| (a.clone(), *h as u32)).unwrap();
    let out = Command::new("ip").args(["addr", "del", &format!("{x}/32"), "dev", "lo"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let removed = Instant::now();
    wait_for(Duration::from_secs(5), "the address back on lo", || on_lo(&x)).unwrap();
    let back = removed.elapsed();
    eprintln!("{x} deleted from lo behind node {holder}'s back was back after {back:?}");
    assert!(back < Duration::from_millis(2500), "check interval 1 s, took {back:?}");
    let log = c.log(holder);
    assert!(
        log.contains(&format!("public address {x} is assigned to this node but no longer on interface lo")),
        "{log}"
    );
    assert!(agreed_on(&c, addrs.len()).is_some_and(|m| m.get(&x) == Some(&i64::from(holder))));

    // Node `holder` stopped: it lets go of everything, the others take it.
    let o = ctdb(&c, holder, &["stop"]);
    assert!(o.status.success(), "{o:?}");
    let others: Vec<u32> = (0..c.n).filter(|p| *p != holder).collect();
    wait_for(Duration::from_secs(20), "the stopped node's addresses on the others", || {
        let Some(first) = ips(&c, others[0]) else { return false };
        first.len() == addrs.len()
            && first.values().all(|h| *h >= 0 && *h != i64::from(holder))
            && others.iter().all(|p| ips(&c, *p).as_ref() == Some(&first))
            && addrs.iter().all(|a| on_lo(a))
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", (0..c.n).map(|p| ips(&c, p)).collect::<Vec<_>>()));
    let log = c.log(holder);
    assert!(log.contains("this node is stopped; releasing all its public addresses"), "{log}");
    let o = ctdb(&c, holder, &["continue"]);
    assert!(o.status.success(), "{o:?}");
}
