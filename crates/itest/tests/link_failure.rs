//! A dead or frozen node is noticed within KeepaliveInterval × KeepaliveLimit
//! (+1 s) when those tunables are set, within about a second with ctdb-rs's
//! defaults, and comes back when it returns.

use std::net::Ipv4Addr;
use std::time::Duration;

use ctdb_itest::Cluster;

const INTERVAL: u64 = 1;
const LIMIT: u64 = 2;

fn disconnected(c: &Cluster, by: u32, of: u32) -> bool {
    c.flags(by, of).is_some_and(|f| f & 1 != 0)
}

#[test]
fn kill9_and_freeze_are_detected_and_restart_reconnects() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 11, 1), &["KeepaliveInterval=1", "KeepaliveLimit=2"]).unwrap();
    let bound = Duration::from_secs(INTERVAL * LIMIT + 1);

    // kill -9: the kernel closes the sockets, peers see EOF at once.
    c.kill9(1).unwrap();
    for by in [0, 2] {
        let t = ctdb_itest::wait_for(bound, "node 1 DISCONNECTED after kill -9", || disconnected(&c, by, 1)).unwrap();
        eprintln!("kill -9: node {by} saw node 1 DISCONNECTED after {t:?} (bound {bound:?})");
    }
    c.local(&["start", "1"]).unwrap();
    let t = c.wait_all_connected(Duration::from_secs(10)).unwrap();
    eprintln!("restarted node 1 connected everywhere {t:?} after ctdbd returned");

    // SIGSTOP: like a hard hang or a reboot without FIN — the connection
    // stays open and only the keepalive limit can tell.
    let pid = nix::unistd::Pid::from_raw(c.pid(2).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let waited =
        ctdb_itest::wait_for(bound, "frozen node 2 DISCONNECTED", || disconnected(&c, 0, 2) && disconnected(&c, 1, 2));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let waited = waited.unwrap();
    eprintln!("SIGSTOP: nodes 0 and 1 saw node 2 DISCONNECTED after {waited:?} (bound {bound:?})");
    // The last packet before the freeze may be up to one interval old, so
    // silence is declared between (limit − 1) and limit intervals after it.
    assert!(
        waited >= Duration::from_secs(INTERVAL * (LIMIT - 1)) - Duration::from_millis(100),
        "declared dead too early: {waited:?}"
    );
    // Thawed, it notices its dead links, redials, and is connected again.
    let t = c.wait_all_connected(Duration::from_secs(10)).unwrap();
    eprintln!("thawed node 2 connected everywhere after {t:?}");
}

/// With ctdb-rs's defaults (keepalives every 200 ms, dead after 5 silent
/// intervals) a frozen node is declared dead within about a second: at
/// least 0.75 s (the last packet may be an interval old), at most 2 s
/// (1 s, plus room for polling `ctdb status` on a busy machine; Samba's
/// defaults take 25 s).
#[test]
fn a_frozen_node_is_declared_dead_within_about_a_second_by_default() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 57, 1), &[]).unwrap();
    let pid = nix::unistd::Pid::from_raw(c.pid(2).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let waited = ctdb_itest::wait_for(Duration::from_secs(5), "frozen node 2 DISCONNECTED", || {
        disconnected(&c, 0, 2) && disconnected(&c, 1, 2)
    });
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let waited = waited.unwrap();
    eprintln!("SIGSTOP, defaults: nodes 0 and 1 saw node 2 DISCONNECTED after {waited:?}");
    assert!(waited >= Duration::from_millis(750), "declared dead too early: {waited:?}");
    assert!(waited <= Duration::from_secs(2), "declared dead too late: {waited:?}");
    let t = c.wait_all_connected(Duration::from_secs(10)).unwrap();
    eprintln!("thawed node 2 connected everywhere after {t:?}");
}
