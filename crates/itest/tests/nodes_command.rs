//! `[cluster] nodes list = !command`: the node list comes from a command's
//! output; a command that hangs or fails never blocks the daemon.

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use ctdb_itest::{wait_for, Cluster, LEADER_TIMEOUT_OPTION};
use ctdb_legacy_proto::{NodeMap, Opcode, Wire};

#[test]
fn node_list_from_a_command_and_a_hanging_command_blocks_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("nodes-cmd.sh");
    let list = scratch.path().join("nodes-list");
    std::fs::write(&list, "127.0.24.1\n127.0.24.2\n127.0.24.3\n").unwrap();
    let set_script = |body: &str| {
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    set_script(&format!("cat {}", list.display()));
    let option = format!("cluster:nodes list=!{}", script.display());
    let c = Cluster::setup_with(3, Ipv4Addr::new(127, 0, 24, 1), &[], &[LEADER_TIMEOUT_OPTION, &option]).unwrap();
    // The nodes files say something else: only the command counts.
    for p in 0..3 {
        std::fs::write(c.node_dir(p).join("nodes"), "192.0.2.1\n").unwrap();
    }
    c.local(&["start", "all"]).unwrap();
    c.wait_ready(Duration::from_secs(20)).unwrap();

    let r = c.control(1, Opcode::GET_NODES_FILE, Vec::new()).unwrap();
    let map = NodeMap::from_bytes(&r.data).unwrap();
    assert_eq!(map.nodes.len(), 3);
    assert_eq!(map.nodes[2].addr.0.ip().to_string(), "127.0.24.3");

    // A failing command: the request fails, with a log line.
    set_script("echo broken >&2; exit 3");
    assert_eq!(c.control(1, Opcode::GET_NODES_FILE, Vec::new()).unwrap().status, -1);
    wait_for(Duration::from_secs(5), "log line for the failed command", || {
        c.log(1).contains("failed (exit status: 3)")
    })
    .unwrap();

    // A hanging command: the reload waits for it, nothing else does.
    set_script("sleep 60");
    let t0 = Instant::now();
    assert!(c.control(0, Opcode::RELOAD_NODES_FILE, Vec::new()).is_err(), "the client gives up after 2 s");
    let leader = c.leader(0);
    assert!(leader.is_some(), "leader broadcasts go on while the command hangs");
    assert!(c.control(0, Opcode::PING, Vec::new()).is_ok());
    assert!(t0.elapsed() < Duration::from_secs(8), "nothing waited for the hanging command");
    wait_for(Duration::from_secs(15), "the hanging command killed", || c.log(0).contains("did not finish within"))
        .unwrap();
    c.wait_ready(Duration::from_secs(5)).unwrap();
}
