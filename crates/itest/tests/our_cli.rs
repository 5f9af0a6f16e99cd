//! Our `ctdb` against our daemon gives the same output as Samba's `ctdb`
//! against our daemon, command by command (where the output does not carry
//! a clock), and `ctdb-local onnode all ctdb pnn` prints 0, 1, 2.

use std::net::Ipv4Addr;
use std::time::Duration;

use ctdb_itest::{debian_ctdb, wait_for, Cluster};

#[test]
fn our_ctdb_matches_samba_ctdb_on_a_three_node_ctdb_rs_cluster() {
    let samba =
        debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: run the README test command, which installs it");
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 16, 1), &[]).unwrap();

    let out = c.local(&["onnode", "all", "ctdb", "pnn"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n1\n2\n");

    let same = |pnn: u32, args: &[&str]| {
        let ours = c.ctdb(pnn, args);
        let theirs = c.run_ctdb(&samba, pnn, args);
        assert_eq!(
            (String::from_utf8_lossy(&ours.stdout), ours.status.code()),
            (String::from_utf8_lossy(&theirs.stdout), theirs.status.code()),
            "ctdb {args:?} on node {pnn}: ours vs Samba's"
        );
        String::from_utf8_lossy(&ours.stdout).into_owned()
    };

    let status = same(0, &["status"]);
    assert!(status.starts_with("Number of nodes:3\npnn:0 127.0.16.1       OK (THIS NODE)\n"), "{status}");
    same(1, &["-X", "status"]);
    same(2, &["-Y", "status"]);
    same(1, &["nodestatus"]);
    same(1, &["nodestatus", "all"]);
    same(1, &["-X", "nodestatus", "all"]);
    same(0, &["listnodes"]);
    same(0, &["-X", "listnodes"]);
    same(0, &["-x", ";", "-Y", "listnodes"]);
    for pnn in 0..3 {
        same(pnn, &["pnn"]);
    }
    same(2, &["runstate"]);
    same(2, &["runstate", "first_recovery"]);
    same(2, &["getcapabilities"]);
    same(2, &["-X", "getcapabilities"]);
    same(0, &["getvar", "KeepaliveLimit"]);
    same(0, &["getvar", "nosuch"]);
    same(0, &["listvars"]);
    same(0, &["-X", "listvars"]);
    same(0, &["getdebug"]);
    same(0, &["-X", "getdebug"]);
    same(0, &["getpid"]);
    same(0, &["process-exists", "1"]);
    same(0, &["-n", "2", "getpid"]);

    // Ours sets, Samba's reads (and the other way round).
    assert_eq!(c.ctdb(1, &["setvar", "TraverseTimeout", "33"]).status.code(), Some(0));
    assert_eq!(same(1, &["getvar", "TraverseTimeout"]), "TraverseTimeout            = 33\n");
    assert_eq!(c.run_ctdb(&samba, 1, &["setdebug", "DEBUG"]).status.code(), Some(0));
    assert_eq!(same(1, &["getdebug"]), "DEBUG\n");
    assert_eq!(c.ctdb(1, &["setdebug", "warn"]).status.code(), Some(0));
    assert_eq!(same(1, &["getdebug"]), "WARNING\n");

    // Outputs with clocks in them: same shape.
    let ping = String::from_utf8_lossy(&c.ctdb(0, &["ping"]).stdout).into_owned();
    assert!(ping.starts_with("response from 0 time=") && ping.ends_with(" clients)\n"), "{ping}");
    let up = String::from_utf8_lossy(&c.ctdb(0, &["uptime"]).stdout).into_owned();
    assert!(up.starts_with("Current time of node 0        :"), "{up}");
    let stats = String::from_utf8_lossy(&c.ctdb(0, &["statistics"]).stdout).into_owned();
    assert!(stats.starts_with("CTDB version 1\n") && stats.contains(" num_clients "), "{stats}");
    let stats_x = String::from_utf8_lossy(&c.ctdb(0, &["-X", "statistics"]).stdout).into_owned();
    let samba_x = String::from_utf8_lossy(&c.run_ctdb(&samba, 0, &["-X", "statistics"]).stdout).into_owned();
    assert_eq!(stats_x.lines().next(), samba_x.lines().next(), "statistics -X header");
    assert_eq!(c.ctdb(0, &["statisticsreset"]).status.code(), Some(0));

    // JSON output parses and carries the nodes.
    let json = c.ctdb(0, &["--json", "status"]);
    let text = String::from_utf8_lossy(&json.stdout);
    assert!(text.contains("127.0.16.3"), "{text}");

    // Our shutdown stops the node; its peers see it go.
    assert_eq!(c.ctdb(2, &["shutdown"]).status.code(), Some(0));
    wait_for(Duration::from_secs(5), "node 2 gone", || c.pid(2).is_none()).unwrap();
    wait_for(Duration::from_secs(5), "node 2 disconnected on node 0", || c.flags(0, 2).is_some_and(|f| f & 1 != 0))
        .unwrap();
    same(0, &["nodestatus", "all"]);
}
