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
    // A replicated database: volatile-style file, every record on every
    // node through the same transactions.
    run(&c, 1, &["attach", "prep.tdb", "replicated"]);
    for p in 0..3 {
        wait_for(T, "prep.tdb attached everywhere", || run(&c, p, &["getdbmap"]).contains("name:prep.tdb")).unwrap();
        let status = run(&c, p, &["getdbstatus", "prep.tdb"]);
        assert!(status.contains("REPLICATED: yes") && status.contains("PERSISTENT: no"), "{status}");
    }
    run(&c, 1, &["pstore", "prep.tdb", "everywhere", "yes"]);
    for p in 0..3 {
        assert_eq!(run(&c, p, &["pfetch", "prep.tdb", "everywhere"]), "yes\n", "replicated on node {p}");
        let own = run(&c, p, &["cattdb", "prep.tdb"]);
        assert!(own.contains("key(10) = \"everywhere\""), "node {p}'s own file: {own}");
    }
    // Our own tool too: pstore through node 2, read by Debian's on node 0.
    let o = c.ctdb(2, &["pstore", "ptest.tdb", "ours", "stored by ctdb-rs's tool"]);
    assert!(o.status.success(), "our pstore: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(run(&c, 0, &["pfetch", "ptest.tdb", "ours"]), "stored by ctdb-rs's tool\n");
    let o = c.ctdb(1, &["pfetch", "ptest.tdb", "ours"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "stored by ctdb-rs's tool\n");
    assert_eq!(run(&c, 1, &["getdbseqnum", "ptest.tdb"]), "0x4\n");
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
    // Only the stale copy is rewritten.
    let said = "persistent prec.tdb: node 0's copy (seqnum 3) to nodes [2], kept on nodes [0, 1]";
    assert!((0..3).any(|p| c.log(p).contains(said)), "no recovery logged: {said}");
    for p in 0..3 {
        assert_eq!(run(&c, p, &["getdbseqnum", "prec.tdb"]), "0x3\n", "seqnum on node {p}");
        assert_eq!(run(&c, p, &["pfetch", "prec.tdb", "k"]), "new\n", "value on node {p}");
        assert_eq!(run(&c, p, &["pfetch", "prec.tdb", "other"]), "x\n", "value on node {p}");
    }
}

/// Debian's `ctdb backupdb`, `wipedb` and `restoredb` against ctdb-rs: the
/// freeze, transaction, wipe and push controls on every node.
#[test]
fn backup_wipe_restore_through_debian_ctdb() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 44, 1), &[]).unwrap();
    c.wait_ready(T).unwrap();
    run(&c, 0, &["attach", "pback.tdb", "persistent"]);
    for p in 0..3 {
        wait_for(T, "pback.tdb attached everywhere", || run(&c, p, &["getdbmap"]).contains("name:pback.tdb")).unwrap();
    }
    let file = c.dir().join("pback-in.txt");
    let lines: String = (0..500).map(|i| format!("\"k{i:03}\" \"v{i}\"\n")).collect();
    std::fs::write(&file, lines).unwrap();
    run(&c, 0, &["ptrans", "pback.tdb", &file.display().to_string()]);
    let backup = c.dir().join("pback.backup");
    let out = run(&c, 1, &["backupdb", "pback.tdb", &backup.display().to_string()]);
    assert_eq!(out, format!("Database backed up to {}\n", backup.display()));

    assert_eq!(run(&c, 2, &["wipedb", "pback.tdb"]), "Database pback.tdb wiped\n");
    for p in 0..3 {
        assert_eq!(run(&c, p, &["catdb", "pback.tdb"]), "Dumped 0 records\n", "wiped on node {p}");
        assert_eq!(run(&c, p, &["getdbseqnum", "pback.tdb"]), "0x0\n");
    }
    // The database is usable again after the thaw.
    run(&c, 1, &["pstore", "pback.tdb", "after-wipe", "yes"]);
    assert_eq!(run(&c, 2, &["pfetch", "pback.tdb", "after-wipe"]), "yes\n");

    let out = run(&c, 0, &["restoredb", &backup.display().to_string()]);
    assert!(out.starts_with("Restoring database pback.tdb from backup @ "), "{out}");
    assert!(out.ends_with("Database pback.tdb restored\n"), "{out}");
    for p in 0..3 {
        // 500 records and the sequence number record, as backed up; the
        // record stored after the wipe is gone.
        assert!(run(&c, p, &["catdb", "pback.tdb"]).ends_with("Dumped 501 records\n"), "catdb on node {p}");
        assert_eq!(run(&c, p, &["getdbseqnum", "pback.tdb"]), "0x1\n", "seqnum on node {p}");
        assert_eq!(run(&c, p, &["pfetch", "pback.tdb", "k123"]), "v123\n", "node {p}");
        assert_eq!(run(&c, p, &["pfetch", "pback.tdb", "after-wipe"]), "\n", "node {p}");
        assert!(run(&c, p, &["getdbstatus", "pback.tdb"]).contains("HEALTH: OK"));
    }
    // Every node committed the same restore: a recovery now keeps every
    // copy instead of rewriting them, and the contents stay.
    run(&c, 0, &["recover"]);
    wait_for(T, "a recovery that kept the restored copies", || {
        (0..3).any(|p| {
            c.log(p).contains("persistent pback.tdb: node 0's copy (seqnum 1) to nodes [], kept on nodes [0, 1, 2]")
        })
    })
    .unwrap();
    c.wait_ready(T).unwrap();
    for p in 0..3 {
        assert!(run(&c, p, &["catdb", "pback.tdb"]).ends_with("Dumped 501 records\n"), "catdb on node {p}");
    }
    // Transactions go on after the restore.
    run(&c, 2, &["pstore", "pback.tdb", "k123", "changed"]);
    for p in 0..3 {
        assert_eq!(run(&c, p, &["pfetch", "pback.tdb", "k123"]), "changed\n");
        assert_eq!(run(&c, p, &["getdbseqnum", "pback.tdb"]), "0x2\n");
    }
}

/// A node starting with a corrupt persistent file moves it aside, says so
/// in its log, reports the database unhealthy until the recovery, and gets
/// the other nodes' copy.
#[test]
fn corrupt_persistent_file_at_start_is_moved_aside_and_recovered() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 45, 1), &[]).unwrap();
    c.wait_ready(T).unwrap();
    run(&c, 0, &["attach", "pcorrupt.tdb", "persistent"]);
    for p in 0..3 {
        wait_for(T, "attached everywhere", || run(&c, p, &["getdbmap"]).contains("name:pcorrupt.tdb")).unwrap();
    }
    let file = c.dir().join("pcorrupt-in.txt");
    let lines: String = (0..300).map(|i| format!("\"k{i:03}\" \"{}\"\n", "v".repeat(200))).collect();
    std::fs::write(&file, lines).unwrap();
    run(&c, 0, &["ptrans", "pcorrupt.tdb", &file.display().to_string()]);
    run(&c, 0, &["pstore", "pcorrupt.tdb", "marker", "intact"]);
    let status = run(&c, 2, &["getdbstatus", "pcorrupt.tdb"]);
    let path = status.lines().find_map(|l| l.strip_prefix("path: ")).expect("getdbstatus shows the path").to_string();

    c.kill9(2).unwrap();
    wait_for(T, "node 2 out of the vnnmap", || run(&c, 0, &["status"]).contains("Size:2\n")).unwrap();
    // Hash chain heads (after the 168-byte TDB header) pointing past the
    // end of the file.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[168..168 + 1024].fill(0xEE);
    std::fs::write(&path, &bytes).unwrap();
    // Debian's tdbtool agrees the file is broken.
    let check = std::process::Command::new("tdbtool").args([&path, "check"]).output().unwrap();
    let said = String::from_utf8_lossy(&check.stdout).to_string() + &String::from_utf8_lossy(&check.stderr);
    assert!(!said.contains("Database integrity is OK"), "the test's corruption left a sound file: {said}");

    c.local(&["start", "2"]).unwrap();
    wait_for(Duration::from_secs(20), "node 2 back in the vnnmap", || run(&c, 0, &["status"]).contains("Size:3\n"))
        .unwrap();
    c.wait_ready(T).unwrap();
    let log = c.log(2);
    assert!(log.contains("is corrupt") && log.contains(".corrupted."), "no log line about the corrupt file:\n{log}");
    let dir = std::path::Path::new(&path).parent().unwrap();
    let kept = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("pcorrupt.tdb.2.corrupted."));
    assert!(kept, "the corrupt copy was not kept beside the database");
    for p in 0..3 {
        assert_eq!(run(&c, p, &["pfetch", "pcorrupt.tdb", "marker"]), "intact\n", "node {p}");
        assert_eq!(run(&c, p, &["getdbseqnum", "pcorrupt.tdb"]), "0x2\n", "node {p}");
        assert!(run(&c, p, &["catdb", "pcorrupt.tdb"]).ends_with("Dumped 302 records\n"), "node {p}");
        assert!(run(&c, p, &["getdbstatus", "pcorrupt.tdb"]).contains("HEALTH: OK"), "node {p}");
    }
    let sound = std::process::Command::new("tdbtool").args([&path, "check"]).output().unwrap();
    assert!(String::from_utf8_lossy(&sound.stdout).contains("Database integrity is OK"), "node 2's new copy");
}
