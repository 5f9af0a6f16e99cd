//! Debian's own `ctdb` tool (Samba 4.17) against a 3-node ctdb-rs cluster:
//! every command of the foundation issue, with values checked.

use std::net::Ipv4Addr;

use ctdb_itest::{debian_ctdb, wait_for, Cluster};

fn text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn debian_ctdb_runs_every_foundation_command_against_ctdb_rs() {
    let ctdb =
        debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: run the README test command, which installs it");
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 10, 1), &["KeepaliveInterval=1", "KeepaliveLimit=3"]).unwrap();
    let run = |pnn: u32, args: &[&str]| {
        let o = c.run_ctdb(&ctdb, pnn, args);
        (o.status.code(), text(&o), String::from_utf8_lossy(&o.stderr).into_owned())
    };

    for pnn in 0..3 {
        assert_eq!(run(pnn, &["pnn"]).1, format!("{pnn}\n"));
    }

    // status: nodes, generation, vnnmap, recovery mode and leader, the
    // same on every node.
    let generation = c.agreed_generation(&[0, 1, 2]).expect("one generation");
    let leader = c.leader(1).expect("a leader");
    let (rc, out, _) = run(1, &["status"]);
    assert_eq!(rc, Some(0));
    assert_eq!(
        out,
        format!(
            "Number of nodes:3\npnn:0 127.0.10.1       OK\npnn:1 127.0.10.2       OK (THIS NODE)\n\
             pnn:2 127.0.10.3       OK\nGeneration:{generation}\nSize:3\nhash:0 lmaster:0\nhash:1 lmaster:1\n\
             hash:2 lmaster:2\nRecovery mode:NORMAL (0)\nLeader:{leader}\n"
        )
    );
    for pnn in [0, 2] {
        assert!(run(pnn, &["status"]).1.ends_with(&format!("Leader:{leader}\n")));
    }
    assert_eq!(run(2, &["leader"]).1, format!("{leader}\n"));

    let (rc, out, _) = run(0, &["-X", "status"]);
    assert_eq!(rc, Some(0));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "|Node|IP|Disconnected|Unknown|Banned|Disabled|Unhealthy|Stopped|Inactive|PartiallyOnline|ThisNode|"
    );
    assert_eq!(lines.len(), 4, "{out}");
    for (i, row) in lines[1..].iter().enumerate() {
        let cols: Vec<&str> = row.trim_matches('|').split('|').collect();
        assert_eq!(cols.len(), 11, "{row}");
        assert_eq!(cols[0], i.to_string());
        assert_eq!(cols[1], format!("127.0.10.{}", i + 1));
        assert_eq!(&cols[2..10], &["0"; 8]);
        assert_eq!(cols[10], if i == 0 { "Y" } else { "N" });
    }

    let (rc, out, _) = run(2, &["nodestatus"]);
    assert_eq!((rc, out.as_str()), (Some(0), "pnn:2 127.0.10.3       OK (THIS NODE)\n"));
    let (rc, out, _) = run(2, &["nodestatus", "all"]);
    assert_eq!(rc, Some(0));
    assert!(out.starts_with("Number of nodes:3\n"), "{out}");

    assert_eq!(run(0, &["listnodes"]).1, "127.0.10.1\n127.0.10.2\n127.0.10.3\n");

    let (rc, out, _) = run(1, &["ping"]);
    assert_eq!(rc, Some(0));
    assert!(out.starts_with("response from 1 time="), "{out}");
    assert!(out.ends_with("clients)\n"), "{out}");

    let (rc, out, _) = run(0, &["uptime"]);
    assert_eq!(rc, Some(0));
    assert!(out.starts_with("Current time of node 0        :"), "{out}");
    assert!(out.contains("Ctdbd start time              : (000 00:00:"), "{out}");

    assert_eq!(run(0, &["runstate"]).1, "RUNNING\n");
    assert_eq!(run(0, &["runstate", "startup", "running"]).1, "RUNNING\n");
    assert_eq!(run(0, &["getcapabilities"]).1, "LEADER: YES\nLMASTER: YES\n");

    // Tunables: values from ctdb.tunables, set on one node seen there only.
    assert_eq!(run(1, &["getvar", "KeepaliveInterval"]).1, "KeepaliveInterval          = 1\n");
    assert_eq!(run(1, &["getvar", "monitorinterval"]).1, "monitorinterval            = 15\n");
    let (rc, _, _) = run(1, &["setvar", "MonitorInterval", "7"]);
    assert_eq!(rc, Some(0));
    assert_eq!(run(1, &["getvar", "MonitorInterval"]).1, "MonitorInterval            = 7\n");
    assert_eq!(run(0, &["getvar", "MonitorInterval"]).1, "MonitorInterval            = 15\n");
    // Samba's tool prints this one on stdout.
    let (rc, out, _) = run(1, &["getvar", "NoSuchThing"]);
    assert_eq!((rc, out.as_str()), (Some(1), "No such tunable NoSuchThing\n"));
    let (rc, out, _) = run(1, &["listvars"]);
    assert_eq!(rc, Some(0));
    let vars: Vec<&str> = out.lines().collect();
    assert_eq!(vars.len(), 49, "{out}");
    assert_eq!(vars[0], "SeqnumInterval             = 1000");
    assert!(vars.contains(&"MonitorInterval            = 7"));

    let (rc, out, _) = run(0, &["statistics"]);
    assert_eq!(rc, Some(0));
    assert!(out.starts_with("CTDB version 1\n"), "{out}");
    assert!(out.contains(" num_clients"), "{out}");
    let (rc, out, _) = run(0, &["-X", "statistics"]);
    assert_eq!(rc, Some(0));
    assert!(out.starts_with("CTDB version|Current time of statistics|"), "{out}");
    assert_eq!(run(0, &["statisticsreset"]).0, Some(0));

    assert_eq!(run(0, &["getdebug"]).1, "NOTICE\n");
    assert_eq!(run(0, &["setdebug", "INFO"]).0, Some(0));
    assert_eq!(run(0, &["getdebug"]).1, "INFO\n");
    assert_eq!(run(1, &["getdebug"]).1, "NOTICE\n");

    let pid0 = c.pid(0).unwrap();
    assert_eq!(run(0, &["getpid"]).1, format!("{pid0}\n"));

    // process-exists: a connected client's pid exists, the daemon's own
    // pid is not a client.
    let socket = c.socket(0);
    let client = ctdb_itest::block_on(ctdb_client::Client::connect(&socket)).unwrap();
    let me = std::process::id();
    let (rc, out, _) = run(0, &["process-exists", &me.to_string()]);
    assert_eq!((rc, out), (Some(0), format!("PID {me} exists\n")));
    let (rc, out, _) = run(0, &["process-exists", &pid0.to_string()]);
    assert_eq!((rc, out), (Some(1), format!("PID {pid0} does not exist\n")));
    drop(client);

    // shutdown: node 2 goes away, the others see it disconnected.
    let (rc, _, _) = run(2, &["shutdown"]);
    assert_eq!(rc, Some(0));
    wait_for(std::time::Duration::from_secs(5), "node 2 pid file removed", || c.pid(2).is_none()).unwrap();
    wait_for(std::time::Duration::from_secs(5), "node 2 disconnected", || c.flags(0, 2).is_some_and(|f| f & 1 != 0))
        .unwrap();
    let (_, out, _) = run(0, &["-t", "3", "status"]);
    assert!(out.contains("pnn:2 127.0.10.3       DISCONNECTED|UNHEALTHY|INACTIVE\n"), "{out}");
}
