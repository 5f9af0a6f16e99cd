//! The address commands end to end: a 3-node ctdb-rs cluster with failover
//! on, started with `ctdb-local` on 127.0.61.1–3, public addresses
//! 127.0.61.101–104 on every node and .105 on node 2 only (on `lo`; no
//! event script is enabled, so nothing touches the host's interfaces, and
//! every address stays in 127.0.0.0/8). Our `ctdb` and Debian's
//! `/usr/bin/ctdb` run against it: every read command must print the same
//! bytes and exit the same way, and every write command's effect, made by
//! one tool, must be seen by both (setifacelink, tickles, addip/delip,
//! moveip), errors included.
//!
//! `ctdb-local` and `ctdbd` are looked up next to our `ctdb` (the README's
//! test command builds every binary first); the test is skipped, with a
//! message, when they or Debian's tool are missing.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{local_binary, Cluster, DEBIAN_CTDB, OURS};
use serde_json::Value;

/// Node 0's address; node N has this plus N.
const BASE: &str = "127.0.61.1";
/// Public addresses every node may host.
const SHARED: [&str; 4] = ["127.0.61.101", "127.0.61.102", "127.0.61.103", "127.0.61.104"];
/// Only node 2 may host this one.
const NODE2_ONLY: &str = "127.0.61.105";
/// Added and deleted by addip / delip.
const EXTRA: &str = "127.0.61.106";
const NODES: [u32; 3] = [0, 1, 2];
const SETTLE: Duration = Duration::from_secs(30);

impl Cluster {
    /// Three nodes with failover on, the public addresses on `lo`.
    fn start(local: PathBuf) -> Cluster {
        let c = Cluster::setup(
            local,
            "ctdb-cli-ip",
            &[
                "-n",
                "3",
                "--base-addr",
                BASE,
                "--option",
                "cluster:leader timeout=2",
                "--option",
                "failover:disabled=false",
            ],
        );
        for n in NODES {
            let mut list: String = SHARED.iter().map(|a| format!("{a}/32 lo\n")).collect();
            if n == 2 {
                list.push_str(&format!("{NODE2_ONLY}/32 lo\n"));
            }
            std::fs::write(c.node_dir(n).join("public_addresses"), list).unwrap_or_else(|e| panic!("{e}"));
        }
        c.local_cmd(&["start", "all"]);
        c
    }

    /// `ctdb --json ip all` as node `n` sees it: address → holder.
    fn holders(&self, n: u32) -> Option<Vec<(String, Option<u64>)>> {
        let r = self.run(OURS, n, &["-t", "3", "--json", "ip", "all"]);
        if r.code != 0 {
            return None;
        }
        let v: Value = serde_json::from_str(&r.stdout).ok()?;
        v["ips"]
            .as_array()?
            .iter()
            .map(|ip| Some((ip["address"].as_str()?.to_string(), ip["holder"].as_u64())))
            .collect()
    }

    /// Waits until every node sees the same holders and `check` holds.
    #[track_caller]
    fn wait_holders(&self, what: &str, check: impl Fn(&[(String, Option<u64>)]) -> bool) -> Vec<(String, Option<u64>)> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let views: Vec<_> = NODES.iter().map(|&n| self.holders(n)).collect();
            if let Some(Some(first)) = views.first() {
                if views.iter().all(|v| v.as_ref() == Some(first)) && check(first) {
                    return first.clone();
                }
            }
            assert!(Instant::now() < deadline, "{what}: not reached within {SETTLE:?}; views {views:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until `check` holds for our tool's output of `args` on node `n`.
    #[track_caller]
    fn wait_output(&self, what: &str, n: u32, args: &[&str], check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let r = self.run(OURS, n, args);
            if r.code == 0 && check(&r.stdout) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: not reached within {SETTLE:?}; last {r:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Every address held by some node.
fn all_held(h: &[(String, Option<u64>)]) -> bool {
    h.len() == SHARED.len() + 1 && h.iter().all(|(_, p)| p.is_some())
}

/// The holder of `addr`.
fn holder(h: &[(String, Option<u64>)], addr: &str) -> Option<u64> {
    h.iter().find(|(a, _)| a == addr).and_then(|(_, p)| *p)
}

#[test]
fn address_commands_match_debians_tool() {
    let Some(local) = local_binary() else {
        eprintln!("skipping: ctdb-local or ctdbd not built next to {OURS} (build all binaries first)");
        return;
    };
    if !Path::new(DEBIAN_CTDB).exists() {
        eprintln!("skipping: {DEBIAN_CTDB} (Debian's ctdb) is not installed");
        return;
    }
    let c = Cluster::start(local);
    let h = c.wait_holders("every address held", all_held);
    assert_eq!(holder(&h, NODE2_ONLY), Some(2), "{h:?}");

    // Read commands, on every node.
    for n in NODES {
        for args in [
            &["ip"][..],
            &["ip", "all"],
            &["-v", "ip"],
            &["-v", "ip", "all"],
            &["-X", "ip"],
            &["-X", "-v", "ip", "all"],
            &["-x", ";", "-Y", "ip", "-v"],
            &["-n", "2", "ip"],
            &["ipinfo", SHARED[0]],
            &["ipinfo", NODE2_ONLY],
            &["-n", "2", "ipinfo", NODE2_ONLY],
            &["ifaces"],
            &["-X", "ifaces"],
            &["-n", "1", "ifaces"],
            &["gettickles", SHARED[1]],
            &["-X", "gettickles", SHARED[1], "445"],
        ] {
            c.same(n, args);
        }
    }
    let r = c.same(0, &["ipinfo", NODE2_ONLY]);
    assert_eq!((r.stdout.as_str(), r.code), ("Node 0 does not know about IP 127.0.61.105\n", 1));
    for args in [
        &["ip", "bogus"][..],
        &["ipinfo"],
        &["ipinfo", "127.0.61"],
        &["ipinfo", "127.0.61.199"],
        &["gettickles"],
        &["gettickles", "127.0.61.199"],
        &["gettickles", SHARED[0], "x"],
        &["ifaces", "x"],
    ] {
        c.same(0, args);
    }

    // setifacelink: ours takes node 1's link down, its addresses move;
    // Debian's brings it up, node 1 holds some again.
    for args in [
        &["setifacelink", "eth9", "down"][..],
        &["setifacelink", "lo", "sideways"],
        &["setifacelink", "abcdefghijklmnopq", "down"],
        &["setifacelink", "lo"],
    ] {
        c.same(0, args);
    }
    c.silent(OURS, 1, &["setifacelink", "lo", "down"]);
    c.wait_holders("node 1's addresses moved after its link went down", |h| {
        all_held(h) && h.iter().all(|(_, p)| *p != Some(1))
    });
    c.wait_output("node 1's link down", 1, &["ifaces"], |o| o.contains("name:lo link:down references:0"));
    for args in
        [&["-n", "1", "ifaces"][..], &["-n", "1", "-X", "ifaces"], &["-v", "ip", "all"], &["-n", "1", "-v", "ip"]]
    {
        c.same(0, args);
    }
    c.silent(DEBIAN_CTDB, 1, &["setifacelink", "lo", "up"]);
    c.wait_holders("node 1 holding addresses after its link came up", |h| {
        all_held(h) && h.iter().any(|(_, p)| *p == Some(1))
    });
    c.wait_output("node 1's link up", 1, &["ifaces"], |o| o.contains("name:lo link:up"));

    // Tickles: added by one tool, listed alike by both on every node,
    // deleted by the other; then the same from standard input.
    let conn = ["127.0.61.200:50123", "127.0.61.101:445"];
    let listed = format!("SRC: {}   DST: {}\n", conn[0], conn[1]);
    c.silent(OURS, 0, &["addtickle", conn[0], conn[1]]);
    for n in NODES {
        c.wait_output("the tickle on every node", n, &["gettickles", SHARED[0]], |o| o.contains(&listed));
        c.same(n, &["gettickles", SHARED[0]]);
        c.same(n, &["-X", "gettickles", SHARED[0]]);
    }
    c.silent(DEBIAN_CTDB, 1, &["deltickle", conn[0], conn[1]]);
    for n in NODES {
        c.wait_output("the tickle gone", n, &["gettickles", SHARED[0]], |o| o.contains("Num connections: 0"));
    }
    let two = "# two connections\n127.0.61.201:40001 127.0.61.102:445\n\n127.0.61.202:40002 127.0.61.102:445\n";
    let r = c.run_with(OURS, 0, &["addtickle"], two);
    assert_eq!((r.stderr.as_str(), r.code), ("", 0), "addtickle from stdin");
    c.wait_output("two tickles", 0, &["gettickles", SHARED[1]], |o| o.contains("Num connections: 2"));
    c.same(0, &["gettickles", SHARED[1]]);
    let r = c.run_with(DEBIAN_CTDB, 0, &["deltickle"], two);
    assert_eq!((r.stderr.as_str(), r.code), ("", 0), "Debian's deltickle from stdin");
    c.wait_output("no tickles", 0, &["gettickles", SHARED[1]], |o| o.contains("Num connections: 0"));
    c.same_with(0, &["addtickle"], "garbage\n");
    c.same(0, &["addtickle", "127.0.61.200", conn[1]]);
    c.same(0, &["deltickle", conn[0]]);

    // addip / delip: ours adds on node 0 (only node 0 knows it, so node 0
    // holds it), both see it the same, Debian's deletes it; and back.
    let with_mask = format!("{EXTRA}/32");
    c.silent(OURS, 0, &["addip", &with_mask, "lo"]);
    c.wait_output("node 0 holding the added address", 0, &["ip"], |o| o.contains(&format!("{EXTRA} 0\n")));
    c.same(0, &["-v", "ip"]);
    let r = c.same(0, &["addip", &with_mask, "lo"]);
    assert_eq!((r.stderr.as_str(), r.code), ("Node already knows about IP 127.0.61.106\n", 0));
    c.silent(DEBIAN_CTDB, 0, &["delip", EXTRA]);
    c.wait_output("node 0 forgetting the address", 0, &["ip"], |o| !o.contains(EXTRA));
    let r = c.same(0, &["delip", EXTRA]);
    assert_eq!((r.stderr.as_str(), r.code), ("Node does not know about IP address 127.0.61.106\n", 0));
    c.silent(DEBIAN_CTDB, 0, &["addip", &with_mask, "lo"]);
    c.wait_output("node 0 holding the address Debian's tool added", 0, &["ip"], |o| {
        o.contains(&format!("{EXTRA} 0\n"))
    });
    c.silent(OURS, 0, &["delip", EXTRA]);
    c.wait_output("node 0 forgetting it again", 0, &["ip"], |o| !o.contains(EXTRA));
    for args in [&["addip", EXTRA, "lo"][..], &["addip", &with_mask], &["delip", "x"]] {
        c.same(0, args);
    }

    // moveip: ours moves an address to another node, Debian's moves it on.
    let h = c.wait_holders("settled before moveip", all_held);
    let from = holder(&h, SHARED[2]).unwrap_or_else(|| panic!("{h:?}"));
    let to = (from + 1) % 3;
    let next = (to + 1) % 3;
    c.silent(OURS, 0, &["moveip", SHARED[2], &to.to_string()]);
    c.wait_holders("the address on its new node", |h| holder(h, SHARED[2]) == Some(to));
    c.silent(DEBIAN_CTDB, 0, &["moveip", SHARED[2], &next.to_string()]);
    c.wait_holders("the address moved on by Debian's tool", |h| holder(h, SHARED[2]) == Some(next));
    for args in [
        &["moveip", SHARED[2]][..],
        &["moveip", "x", "1"],
        &["moveip", SHARED[2], "x"],
        &["-n", "1", "moveip", SHARED[2], "0"],
    ] {
        c.same(0, args);
    }

    // gratarp and reloadips: the same outcome from both tools.
    c.same(0, &["gratarp", SHARED[0], "lo"]);
    c.same(0, &["gratarp", "x", "lo"]);
    c.same(0, &["-t", "3", "reloadips"]);
    for args in [&["reloadips", "7"][..], &["reloadips", "x"], &["-n", "1", "reloadips"]] {
        c.same(0, args);
    }
}
