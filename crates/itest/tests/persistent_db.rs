//! Persistent databases replicated by TRANS3_COMMIT, through Debian's
//! `ctdb` tool: pstore on one node is read by pfetch on the others, a
//! ptrans of 10,000 records leaves the same sequence number and contents on
//! every node, pdelete removes a record everywhere.

use std::net::Ipv4Addr;
use std::time::Duration;

use ctdb_itest::{debian_ctdb, wait_for, Cluster};

const T: Duration = Duration::from_secs(10);

fn run(c: &Cluster, pnn: u32, args: &[&str]) -> String {
    let samba = debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: the README test command installs it");
    let o = c.run_ctdb(&samba, pnn, args);
    assert!(o.status.success(), "ctdb {args:?} on node {pnn}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn transactions_reach_every_node() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 38, 1), &[]).unwrap();
    c.wait_ready(T).unwrap();
    run(&c, 0, &["attach", "ptest.tdb", "persistent"]);
    for p in 0..3 {
        wait_for(T, "ptest.tdb attached everywhere", || run(&c, p, &["getdbmap"]).contains("name:ptest.tdb")).unwrap();
    }
    assert!(run(&c, 2, &["getdbmap"]).contains(" PERSISTENT"));

    run(&c, 0, &["pstore", "ptest.tdb", "greeting", "hello"]);
    for p in 0..3 {
        assert_eq!(run(&c, p, &["pfetch", "ptest.tdb", "greeting"]), "hello\n", "pfetch on node {p}");
        assert_eq!(run(&c, p, &["getdbseqnum", "ptest.tdb"]), "0x1\n", "seqnum on node {p}");
    }

    let file = c.dir().join("ptrans.txt");
    let lines: String = (0..10_000).map(|i| format!("\"key-{i:05}\" \"value-{i}\"\n")).collect();
    std::fs::write(&file, lines).unwrap();
    run(&c, 1, &["ptrans", "ptest.tdb", &file.display().to_string()]);
    for p in 0..3 {
        assert_eq!(run(&c, p, &["getdbseqnum", "ptest.tdb"]), "0x2\n", "seqnum on node {p}");
        // 10,000 records, greeting and the sequence number record.
        assert!(run(&c, p, &["catdb", "ptest.tdb"]).ends_with("Dumped 10002 records\n"), "catdb on node {p}");
        assert_eq!(run(&c, p, &["pfetch", "ptest.tdb", "key-04321"]), "value-4321\n");
    }

    run(&c, 2, &["pdelete", "ptest.tdb", "greeting"]);
    for p in 0..3 {
        assert_eq!(run(&c, p, &["pfetch", "ptest.tdb", "greeting"]), "\n", "deleted on node {p}");
        assert_eq!(run(&c, p, &["getdbseqnum", "ptest.tdb"]), "0x3\n");
    }
    // A volatile database refuses transactions, as Samba's does.
    run(&c, 0, &["attach", "vol.tdb"]);
    let samba = debian_ctdb().unwrap();
    let o = c.run_ctdb(&samba, 0, &["pstore", "vol.tdb", "k", "v"]);
    assert!(!o.status.success());
}

#[test]
fn a_node_that_missed_commits_gets_the_newest_copy_in_recovery() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 39, 1), &[]).unwrap();
    c.wait_ready(T).unwrap();
    run(&c, 0, &["attach", "prec.tdb", "persistent"]);
    for p in 0..3 {
        wait_for(T, "prec.tdb attached everywhere", || run(&c, p, &["getdbmap"]).contains("name:prec.tdb")).unwrap();
    }
    run(&c, 0, &["pstore", "prec.tdb", "k", "old"]);
    assert_eq!(run(&c, 2, &["pfetch", "prec.tdb", "k"]), "old\n");
    // Node 2 dies; two more commits happen without it.
    c.kill9(2).unwrap();
    wait_for(T, "node 2 out of the vnnmap", || run(&c, 0, &["status"]).contains("Size:2\n")).unwrap();
    c.wait_ready(T).ok();
    run(&c, 1, &["pstore", "prec.tdb", "k", "new"]);
    run(&c, 0, &["pstore", "prec.tdb", "other", "x"]);
    assert_eq!(run(&c, 0, &["getdbseqnum", "prec.tdb"]), "0x3\n");
    // It comes back with its old file (seqnum 1): the recovery gives it
    // the newest copy (seqnum 3).
    c.local(&["start", "2"]).unwrap();
    wait_for(Duration::from_secs(20), "node 2 back in the vnnmap", || run(&c, 0, &["status"]).contains("Size:3\n"))
        .unwrap();
    c.wait_ready(T).unwrap();
    for p in 0..3 {
        assert_eq!(run(&c, p, &["getdbseqnum", "prec.tdb"]), "0x3\n", "seqnum on node {p}");
        assert_eq!(run(&c, p, &["pfetch", "prec.tdb", "k"]), "new\n", "value on node {p}");
        assert_eq!(run(&c, p, &["pfetch", "prec.tdb", "other"]), "x\n", "value on node {p}");
    }
}
