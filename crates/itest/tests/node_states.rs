//! Node state commands of Samba's `ctdb` tool against ctdb-rs: each one's
//! flag shows in `ctdb status` on every node, bans expire, and the leader
//! and lmaster roles move as the capabilities change.

use std::net::Ipv4Addr;
use std::time::Duration;

use ctdb_itest::{debian_ctdb, wait_for, Cluster};

#[test]
fn disable_stop_ban_and_roles_show_on_every_node() {
    let samba = debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: the README test command installs it");
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 20, 1), &[]).unwrap();
    let run = |pnn: u32, args: &[&str]| {
        let o = c.run_ctdb(&samba, pnn, args);
        assert!(o.status.success(), "ctdb {args:?} on node {pnn}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let line_everywhere = |line: &str| {
        wait_for(Duration::from_secs(5), line, || (0..3).all(|p| run(p, &["-t", "3", "status"]).contains(line)))
            .unwrap();
    };

    // getreclock: the configured lock file.
    let lock = c.dir().join("shared/cluster.lock").display().to_string();
    assert_eq!(run(0, &["getreclock"]), format!("{lock}\n"));

    // disable / enable (the tool waits for the flag, then a takeover run
    // answered by the leader).
    run(1, &["disable"]);
    line_everywhere("pnn:1 127.0.20.2       DISABLED");
    let o = c.run_ctdb(&samba, 1, &["disable"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("Node 1 is already disabled"));
    run(1, &["enable"]);
    line_everywhere("pnn:1 127.0.20.2       OK");

    // stop / continue: a stopped node is inactive, out of the vnnmap.
    run(2, &["stop"]);
    line_everywhere("pnn:2 127.0.20.3       STOPPED|INACTIVE");
    let s = run(0, &["status"]);
    assert!(s.contains("Size:2\nhash:0 lmaster:0\nhash:1 lmaster:1\n"), "{s}");
    let s = run(2, &["-t", "2", "status"]);
    assert!(s.contains("Generation:INVALID\n") && s.contains("Recovery mode:RECOVERY (1)\n"), "{s}");
    run(2, &["continue"]);
    line_everywhere("pnn:2 127.0.20.3       OK");
    wait_for(Duration::from_secs(5), "node 2 back in the vnnmap", || run(0, &["status"]).contains("Size:3\n")).unwrap();

    // ban for 6 s: banned everywhere, then unbanned by itself.
    run(1, &["ban", "6"]);
    line_everywhere("pnn:1 127.0.20.2       BANNED|INACTIVE");
    wait_for(Duration::from_secs(12), "ban expired everywhere", || {
        (0..3).all(|p| run(p, &["-t", "3", "status"]).contains("pnn:1 127.0.20.2       OK"))
    })
    .unwrap();
    // ban / unban by hand.
    run(1, &["ban", "100"]);
    line_everywhere("pnn:1 127.0.20.2       BANNED|INACTIVE");
    run(1, &["unban"]);
    line_everywhere("pnn:1 127.0.20.2       OK");
    c.wait_ready(Duration::from_secs(10)).unwrap();

    // Leader role: switch it off on the leader; another node takes over.
    let leader = c.leader(0).unwrap();
    run(leader, &["setleaderrole", "off"]);
    assert_eq!(run(leader, &["getcapabilities"]), "LEADER: NO\nLMASTER: YES\n");
    wait_for(Duration::from_secs(10), "a new leader", || c.leader(0).is_some_and(|l| l != leader)).unwrap();
    run(leader, &["setleaderrole", "on"]);

    // lmaster role: the node leaves the vnnmap.
    run(0, &["setlmasterrole", "off"]);
    wait_for(Duration::from_secs(5), "node 0 out of the vnnmap", || {
        run(1, &["status"]).contains("Size:2\nhash:0 lmaster:1\nhash:1 lmaster:2\n")
    })
    .unwrap();
    assert_eq!(run(0, &["getcapabilities"]), "LEADER: YES\nLMASTER: NO\n");
}
