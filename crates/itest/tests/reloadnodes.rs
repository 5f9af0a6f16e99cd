//! `ctdb reloadnodes` (Samba's tool) on a running ctdb-rs cluster: a node
//! added at the end joins; a stopped node marked deleted disappears.

use std::net::Ipv4Addr;
use std::time::Duration;

use ctdb_itest::{debian_ctdb, wait_for, Cluster};

#[test]
fn reloadnodes_adds_and_deletes_nodes() {
    let samba = debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: the README test command installs it");
    let c = Cluster::setup(4, Ipv4Addr::new(127, 0, 22, 1), &[]).unwrap();
    let all = std::fs::read_to_string(c.dir().join("nodes")).unwrap();
    let three: String = all.lines().take(3).map(|l| format!("{l}\n")).collect();
    let write_nodes = |text: &str| {
        for p in 0..4 {
            std::fs::write(c.node_dir(p).join("nodes"), text).unwrap();
        }
    };
    write_nodes(&three);
    for p in 0..3 {
        c.local(&["start", &p.to_string()]).unwrap();
    }
    wait_for(Duration::from_secs(20), "3 nodes recovered", || c.agreed_generation(&[0, 1, 2]).is_some()).unwrap();
    let run = |pnn: u32, args: &[&str]| c.run_ctdb(&samba, pnn, args);
    // The tool prints some of these on stderr, some on stdout.
    let said = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };

    let o = run(0, &["reloadnodes"]);
    assert!(o.status.success());
    assert_eq!(said(&o), "No change in nodes file, skipping unnecessary reload\n");

    // Add node 3.
    write_nodes(&all);
    let o = run(0, &["reloadnodes"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(said(&o), "Node 3 is NEW\n");
    let s = String::from_utf8_lossy(&run(1, &["status"]).stdout).into_owned();
    assert!(s.contains("pnn:3 127.0.22.4       DISCONNECTED|UNHEALTHY|INACTIVE\n"), "{s}");
    c.local(&["start", "3"]).unwrap();
    c.wait_ready(Duration::from_secs(20)).unwrap();

    // Delete node 3 again: it must be disconnected first.
    let deleted: String =
        all.lines().enumerate().map(|(i, l)| if i == 3 { "#\n".into() } else { format!("{l}\n") }).collect();
    write_nodes(&deleted);
    let o = run(0, &["reloadnodes"]);
    assert!(!o.status.success(), "a connected node cannot be deleted");
    c.local(&["stop", "3"]).unwrap();
    wait_for(Duration::from_secs(5), "node 3 disconnected", || c.flags(0, 3).is_some_and(|f| f & 1 != 0)).unwrap();
    let o = run(0, &["reloadnodes"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(said(&o), "Node 3 is DELETED\n");
    let s = String::from_utf8_lossy(&run(2, &["status"]).stdout).into_owned();
    assert!(s.starts_with("Number of nodes:4 (including 1 deleted nodes)\n") && !s.contains("pnn:3"), "{s}");
    wait_for(Duration::from_secs(10), "recovered without node 3", || c.agreed_generation(&[0, 1, 2]).is_some())
        .unwrap();
}
