//! Monitoring by event scripts on a ctdb-local cluster (127.0.52.x): a
//! failing monitor makes the node UNHEALTHY on every node and a pass heals
//! it; a monitor that hangs makes it UNHEALTHY within 2 × MonitorInterval +
//! EventScriptTimeout with ctdb-rs defaults, its whole process group is
//! killed, and the `[event] debug script` ran with the hung pid first.
//! Stopping the daemon runs the shutdown event; notify.sh hears init,
//! setup, startup, healthy and unhealthy.

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use ctdb_itest::{wait_for, Cluster, LEADER_TIMEOUT_OPTION};

const UNHEALTHY: u32 = 0x02;
const MONITOR_INTERVAL: u64 = 2;
const SCRIPT_TIMEOUT: u64 = 3;

/// A monitor script: passes, fails while `$CTDB_BASE/fail` exists, hangs
/// (with a child of its own) while `$CTDB_BASE/hang` exists; counts runs.
const SCRIPT: &str = r#"#!/bin/sh
[ "$1" = shutdown ] && echo "$1" > "$CTDB_BASE/shutdown.ran"
[ "$1" = monitor ] || exit 0
echo run >> "$CTDB_BASE/monitor.runs"
if [ -e "$CTDB_BASE/fail" ]; then
    echo "simulated failure"
    exit 1
fi
if [ -e "$CTDB_BASE/hang" ]; then
    sleep 1000 &
    echo $! > "$CTDB_BASE/child.pid"
    echo $$ > "$CTDB_BASE/hung.pid"
    sleep 1000
fi
exit 0
"#;

const DEBUG: &str = r#"#!/bin/sh
echo "$@" > "$CTDB_BASE/debug.out"
"#;

const NOTIFY: &str = r#"#!/bin/sh
echo "$1" >> "$CTDB_BASE/notify.log"
"#;

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => false,
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn runs(c: &Cluster) -> usize {
    std::fs::read_to_string(c.node_dir(0).join("monitor.runs")).map_or(0, |s| s.lines().count())
}

fn unhealthy_everywhere(c: &Cluster, yes: bool) -> bool {
    (0..c.n).all(|by| c.flags(by, 0).is_some_and(|f| (f & UNHEALTHY != 0) == yes))
}

#[test]
fn failing_and_hung_monitors_make_the_node_unhealthy() {
    let tunables = [format!("MonitorInterval={MONITOR_INTERVAL}"), format!("EventScriptTimeout={SCRIPT_TIMEOUT}")];
    let tunables: Vec<&str> = tunables.iter().map(String::as_str).collect();
    let c = Cluster::setup_with(
        3,
        Ipv4Addr::new(127, 0, 52, 1),
        &tunables,
        &[LEADER_TIMEOUT_OPTION, "event:debug script=debug.sh"],
    )
    .unwrap();
    for p in 0..3 {
        write_exec(&c.node_dir(p).join("debug.sh"), DEBUG);
    }
    write_exec(&c.node_dir(0).join("events/legacy/50.test.script"), SCRIPT);
    write_exec(&c.node_dir(0).join("notify.sh"), NOTIFY);
    c.local(&["start", "all"]).unwrap();
    c.wait_ready(Duration::from_secs(30)).unwrap();
    let n0 = c.node_dir(0);

    // Monitors run (startup first) and pass.
    wait_for(Duration::from_secs(20), "two monitors on node 0", || runs(&c) >= 2).unwrap();
    assert!(unhealthy_everywhere(&c, false));

    // A failure: UNHEALTHY at once, seen by every node.
    std::fs::write(n0.join("fail"), "").unwrap();
    let t = wait_for(Duration::from_secs(MONITOR_INTERVAL + 10), "node 0 UNHEALTHY everywhere", || {
        unhealthy_everywhere(&c, true)
    })
    .unwrap();
    eprintln!("failing monitor: UNHEALTHY everywhere after {t:?} (MonitorInterval {MONITOR_INTERVAL} s)");
    std::fs::remove_file(n0.join("fail")).unwrap();
    let t = wait_for(Duration::from_secs(15), "node 0 healthy again", || unhealthy_everywhere(&c, false)).unwrap();
    eprintln!("passing monitor: healthy again after {t:?}");
    // notify.sh heard the node's events, in order.
    let notified = || std::fs::read_to_string(n0.join("notify.log")).unwrap_or_default();
    wait_for(Duration::from_secs(5), "notify.sh told healthy again", || notified().ends_with("unhealthy\nhealthy\n"))
        .unwrap_or_else(|e| panic!("{e}: {:?}", notified()));
    assert_eq!(notified(), "init\nsetup\nstartup\nhealthy\nunhealthy\nhealthy\n");

    // A hang: UNHEALTHY within 2 × MonitorInterval + EventScriptTimeout.
    let bound = Duration::from_secs(2 * MONITOR_INTERVAL + SCRIPT_TIMEOUT);
    let t0 = Instant::now();
    std::fs::write(n0.join("hang"), "").unwrap();
    wait_for(bound + Duration::from_secs(10), "node 0 UNHEALTHY after a hang", || unhealthy_everywhere(&c, true))
        .unwrap();
    let took = t0.elapsed();
    eprintln!("hung monitor: UNHEALTHY everywhere after {took:?} (bound {bound:?})");
    // Polling the three nodes adds a little; the bound is the daemon's.
    assert!(took <= bound + Duration::from_secs(1), "UNHEALTHY after {took:?}, bound {bound:?}");

    // The debug script ran with the hung pid, and the whole group is gone.
    let hung = std::fs::read_to_string(n0.join("hung.pid")).unwrap();
    let child = std::fs::read_to_string(n0.join("child.pid")).unwrap();
    wait_for(Duration::from_secs(SCRIPT_TIMEOUT + 5), "hung script and its child killed", || {
        !alive(&hung) && !alive(&child)
    })
    .unwrap();
    let debug = std::fs::read_to_string(n0.join("debug.out")).unwrap();
    assert_eq!(debug.trim(), format!("{} monitor", hung.trim()));
    let log = c.log(0);
    assert!(log.contains("monitor event failed - disabling node"), "{log}");

    std::fs::remove_file(n0.join("hang")).unwrap();
    wait_for(Duration::from_secs(20), "node 0 healthy after the hang", || unhealthy_everywhere(&c, false)).unwrap();

    // Stopping the daemon runs the shutdown event first.
    c.local(&["stop", "0"]).unwrap();
    let ran = std::fs::read_to_string(n0.join("shutdown.ran")).unwrap_or_default();
    assert_eq!(ran.trim(), "shutdown", "the shutdown event did not run before the daemon exited");
}
