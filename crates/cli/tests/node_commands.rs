//! The node-state commands end to end: a 3-node ctdb-rs cluster started
//! with `ctdb-local` on 127.0.23.1–4, our `ctdb` and Debian's
//! `/usr/bin/ctdb` run against it, and every effect checked on every node
//! (flags in `status`, ban expiry, leadership moving, the vnnmap, the
//! generation, a node added by `reloadnodes` joining).
//!
//! Where the outcome is deterministic both tools must print the same bytes
//! and exit the same way. `ctdb-local` and `ctdbd` are looked up next to
//! our `ctdb` (the README's test command builds every binary first); the
//! test is skipped, with a message, when they are missing. Debian's tool is
//! optional: without it only ours runs.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{local_binary, Cluster, DEBIAN_CTDB, OURS};
use serde_json::Value;

/// Node 0's address; node N has this plus N.
const BASE: &str = "127.0.23.1";
/// Nodes in the cluster at the start; a fourth joins through reloadnodes.
const NODES: u32 = 3;

impl Cluster {
    /// Sets up four nodes but starts three, whose nodes files list only
    /// three: the fourth is for `reloadnodes`.
    fn start(local: PathBuf) -> Cluster {
        let cluster = Cluster::setup(
            local,
            "ctdb-cli-nodes",
            &["-n", "4", "--base-addr", BASE, "--option", "cluster:leader timeout=2"],
        );
        let three = cluster.nodes_text(NODES, None);
        for n in 0..NODES {
            cluster.write_nodes(n, &three);
            cluster.local_cmd(&["start", &n.to_string()]);
        }
        cluster
    }

    /// Nodes-file text for `count` nodes; `deleted` becomes a `#` line.
    fn nodes_text(&self, count: u32, deleted: Option<u32>) -> String {
        (0..count)
            .map(|n| if Some(n) == deleted { format!("#{}\n", addr(n)) } else { format!("{}\n", addr(n)) })
            .collect()
    }

    fn write_nodes(&self, n: u32, text: &str) {
        std::fs::write(self.node_dir(n).join("nodes"), text).unwrap_or_else(|e| panic!("nodes file: {e}"));
    }

    /// Debian's tool (ours when it is not installed) on node `n`; must
    /// succeed silently.
    #[track_caller]
    fn debian_ok(&self, n: u32, args: &[&str]) {
        self.silent(if self.debian { DEBIAN_CTDB } else { OURS }, n, args);
    }

    /// `ctdb --json status` on node `n` (`None` while it cannot answer).
    fn status(&self, n: u32) -> Option<Value> {
        let r = self.run(OURS, n, &["-t", "3", "--json", "status"]);
        if r.code != 0 {
            return None;
        }
        serde_json::from_str(&r.stdout).ok()
    }

    /// Waits until every node in `nodes` agrees on a leader and a
    /// generation in normal recovery mode and `check` holds for each
    /// status; returns node 0's status.
    #[track_caller]
    fn wait_for(&self, what: &str, nodes: &[u32], timeout: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let last = nodes.iter().map(|&n| self.status(n)).collect::<Vec<_>>();
            let settled = last.iter().all(|s| {
                s.as_ref().is_some_and(|s| {
                    s["cluster"]["recovery_mode_name"] == "NORMAL"
                        && !s["cluster"]["leader"].is_null()
                        && !s["cluster"]["generation"].is_null()
                        && check(s)
                })
            });
            let agreed = last.windows(2).all(|w| match (&w[0], &w[1]) {
                (Some(a), Some(b)) => {
                    a["cluster"]["leader"] == b["cluster"]["leader"]
                        && a["cluster"]["generation"] == b["cluster"]["generation"]
                }
                _ => false,
            });
            if settled && agreed {
                if let Some(Some(s)) = last.into_iter().next() {
                    return s;
                }
                unreachable!("settled implies a status");
            }
            if Instant::now() > deadline {
                let logs: String = nodes
                    .iter()
                    .map(|n| {
                        let log = std::fs::read_to_string(self.node_dir(*n).join("log.ctdb")).unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(15).collect();
                        format!("--- node {n}\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
                    })
                    .collect();
                panic!("{what}: not reached within {timeout:?}; last statuses: {last:#?}\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Cluster {
    /// Waits until node `n`'s own status satisfies `check`, however
    /// settled the cluster is.
    #[track_caller]
    fn wait_seen(&self, n: u32, what: &str, check: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let s = self.status(n);
            if s.as_ref().is_some_and(&check) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: not reached within {SETTLE:?}; last status: {s:#?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Node `n`'s address.
fn addr(n: u32) -> String {
    let base: std::net::Ipv4Addr = BASE.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    std::net::Ipv4Addr::from(u32::from(base) + n).to_string()
}

/// The state text of node `pnn` in a status.
fn state(status: &Value, pnn: u32) -> String {
    status["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["pnn"] == pnn))
        .and_then(|n| n["state"].as_str())
        .unwrap_or("MISSING")
        .to_string()
}

fn leader(status: &Value) -> Option<u64> {
    status["cluster"]["leader"].as_u64()
}

fn generation(status: &Value) -> Option<u64> {
    status["cluster"]["generation"].as_u64()
}

fn vnnmap(status: &Value) -> Vec<u64> {
    status["cluster"]["vnnmap"].as_array().map(|v| v.iter().filter_map(Value::as_u64).collect()).unwrap_or_default()
}

const ALL: [u32; 3] = [0, 1, 2];
const SETTLE: Duration = Duration::from_secs(60);

#[test]
fn node_state_commands_change_the_cluster() {
    let Some(local) = local_binary() else {
        eprintln!("skipping: ctdb-local or ctdbd not built next to {OURS} (build all binaries first)");
        return;
    };
    let c = Cluster::start(local);
    let s = c.wait_for("3 nodes up", &ALL, SETTLE, |s| ALL.iter().all(|&p| state(s, p) == "OK"));
    assert_eq!(s["node_count"], 3);

    // getreclock: the shared lock file ctdb-local configures.
    let lock = c.same(0, &["getreclock"]);
    assert_eq!(lock.stdout, format!("{}\n", c.dir().join("shared/cluster.lock").display()));
    c.same(1, &["-n", "2", "getreclock"]);

    // disable / enable, each done by one tool and checked on every node.
    c.silent(OURS, 0, &["-n", "1", "disable"]);
    c.wait_for("node 1 disabled", &ALL, SETTLE, |s| state(s, 1) == "DISABLED");
    assert_eq!(c.same(0, &["-n", "1", "disable"]).stderr, "Node 1 is already disabled\n");
    c.debian_ok(2, &["-n", "1", "enable"]);
    c.wait_for("node 1 enabled", &ALL, SETTLE, |s| state(s, 1) == "OK");
    assert_eq!(c.same(1, &["enable"]).stderr, "Node 1 is not disabled\n");

    // stop / continue: a stopped node leaves the vnnmap.
    c.silent(OURS, 1, &["-n", "2", "stop"]);
    // An inactive node reports recovery mode for itself, so only the
    // others are asked to agree; the stopped node must see itself stopped.
    c.wait_for("node 2 stopped", &[0, 1], SETTLE, |s| state(s, 2) == "STOPPED|INACTIVE" && !vnnmap(s).contains(&2));
    c.wait_seen(2, "node 2 sees itself stopped", |s| state(s, 2) == "STOPPED|INACTIVE");
    assert_eq!(c.same(0, &["-n", "2", "stop"]).stderr, "Node 2 is already stopped\n");
    c.silent(OURS, 0, &["-n", "2", "continue"]);
    c.wait_for("node 2 continued", &ALL, SETTLE, |s| state(s, 2) == "OK" && vnnmap(s).contains(&2));
    assert_eq!(c.same(2, &["continue"]).stderr, "Node 2 is not stopped\n");

    // ban: shown on every node, and lifted by itself after its period.
    c.same(0, &["ban", "0"]);
    c.same(0, &["ban", "abc"]);
    c.same(0, &["ban"]);
    let banned_at = Instant::now();
    c.silent(OURS, 0, &["-n", "1", "ban", "3"]);
    c.wait_for("node 1 banned", &[0, 2], SETTLE, |s| state(s, 1) == "BANNED|INACTIVE");
    c.wait_for("node 1's ban expired", &ALL, SETTLE, |s| state(s, 1) == "OK");
    let took = banned_at.elapsed();
    eprintln!("a 3 s ban of node 1 was lifted everywhere after {took:?}");
    assert!(took >= Duration::from_secs(3), "ban lifted after {took:?}");
    c.debian_ok(0, &["-n", "1", "ban", "100"]);
    c.wait_for("node 1 banned again", &[0, 2], SETTLE, |s| state(s, 1) == "BANNED|INACTIVE");
    // Checked under the long ban: a loaded machine can poll past all of a
    // 3 s one.
    c.wait_seen(1, "node 1 sees itself banned", |s| state(s, 1) == "BANNED|INACTIVE");
    assert_eq!(c.same(2, &["-n", "1", "ban", "3"]).stderr, "Node 1 is already banned\n");
    c.silent(OURS, 0, &["-n", "1", "unban"]);
    c.wait_for("node 1 unbanned", &ALL, SETTLE, |s| state(s, 1) == "OK");
    assert_eq!(c.same(0, &["-n", "1", "unban"]).stderr, "Node 1 is not banned\n");

    // Refusals and usage are the same bytes.
    c.same(0, &["-n", "5", "disable"]);
    c.same(0, &["disable", "x"]);
    c.same(0, &["sync", "x"]);
    c.same(0, &["setleaderrole", "ON"]);

    // ipreallocate / sync: the leader answers.
    c.silent(OURS, 1, &["ipreallocate"]);
    c.silent(OURS, 2, &["sync"]);
    c.debian_ok(0, &["ipreallocate"]);

    // recover: a new generation, agreed by every node.
    let before = generation(&c.wait_for("settled", &ALL, SETTLE, |_| true));
    c.silent(OURS, 1, &["recover"]);
    let after = c.wait_for("recovered", &ALL, SETTLE, |s| generation(s) != before);
    c.debian_ok(0, &["-n", "2", "recover"]);
    c.wait_for("recovered again", &ALL, SETTLE, |s| generation(s) != generation(&after));

    // setleaderrole off on the leader: leadership moves and stays away.
    let s = c.wait_for("settled", &ALL, SETTLE, |_| true);
    let Some(old) = leader(&s) else { unreachable!("wait_for checks the leader") };
    let old_pnn = old.to_string();
    c.silent(OURS, 0, &["-n", &old_pnn, "setleaderrole", "off"]);
    let caps = c.same(0, &["-n", &old_pnn, "getcapabilities"]);
    assert_eq!(caps.stdout, "LEADER: NO\nLMASTER: YES\n");
    c.wait_for("leadership moved", &ALL, SETTLE, |s| leader(s).is_some_and(|l| l != old));
    c.debian_ok(0, &["-n", &old_pnn, "setleaderrole", "on"]);
    assert_eq!(c.same(0, &["-n", &old_pnn, "getcapabilities"]).stdout, "LEADER: YES\nLMASTER: YES\n");

    // setlmasterrole off: the node leaves the vnnmap; on: it comes back.
    c.silent(OURS, 0, &["-n", "2", "setlmasterrole", "off"]);
    c.wait_for("node 2 out of the vnnmap", &ALL, SETTLE, |s| vnnmap(s) == vec![0, 1]);
    c.silent(OURS, 0, &["-n", "2", "setlmasterrole", "on"]);
    c.debian_ok(0, &["recover"]);
    c.wait_for("node 2 back in the vnnmap", &ALL, SETTLE, |s| vnnmap(s).len() == 3);

    // reloadnodes: nothing to do; refusals; then a fourth node joins.
    let r = c.same(0, &["reloadnodes"]);
    assert_eq!((r.stderr.as_str(), r.code), ("No change in nodes file, skipping unnecessary reload\n", 0));
    c.same(0, &["-n", "1", "reloadnodes"]);
    let four = c.nodes_text(4, None);
    let deleted_1 = c.nodes_text(4, Some(1));
    for n in ALL {
        c.write_nodes(n, &deleted_1);
    }
    let r = c.same(0, &["reloadnodes"]);
    assert_eq!(r.code, 1, "deleting a connected node must be refused: {r:?}");
    c.write_nodes(1, &c.nodes_text(3, None));
    let r = c.same(0, &["reloadnodes"]);
    assert_eq!(r.stderr, "ERROR: Nodes file on node 1 differs from current node (0)\n");
    for n in ALL {
        c.write_nodes(n, &four);
    }
    let r = c.run(OURS, 0, &["reloadnodes"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str(), r.code), ("Node 3 is NEW\n", "", 0));
    let s = c.wait_for("node 3 known", &ALL, SETTLE, |s| s["node_count"] == 4);
    assert_eq!(state(&s, 3), "DISCONNECTED|UNHEALTHY|INACTIVE");
    // The others know it; our tool and Debian's say the same about it now.
    let r = c.same(1, &["reloadnodes"]);
    assert_eq!(
        r.stderr,
        "WARNING: Node 3 is disconnected. You MUST fix this node manually!\n\
         No change in nodes file, skipping unnecessary reload\n"
    );
    c.local_cmd(&["start", "3"]);
    let everyone = [0, 1, 2, 3];
    c.wait_for("node 3 joined", &everyone, SETTLE, |s| {
        everyone.iter().all(|&p| state(s, p) == "OK") && vnnmap(s).len() == 4
    });
    let r = c.same(3, &["reloadnodes"]);
    assert_eq!(r.stderr, "No change in nodes file, skipping unnecessary reload\n");
}
