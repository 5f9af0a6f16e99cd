//! Volatile databases on a ctdb-rs cluster, through Debian's `ctdb` tool and
//! through clients that access records the way smbd does (local TDB file,
//! chain lock, migration by REQ_CALL): migration, catdb, deletion and
//! vacuuming, recovery keeping every record's last value, no resurrection
//! of deleted records after `ctdb stop` / `continue` (Samba bug 14294), and
//! malformed calls answered with errors.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ctdb_client::record::VolatileDb;
use ctdb_client::Client;
use ctdb_itest::{block_on, debian_ctdb, wait_for, Cluster};
use ctdb_legacy_proto::{call, pnn, Frame, Packet, ReqCall};

const T: Duration = Duration::from_secs(10);

fn run(c: &Cluster, pnn: u32, args: &[&str]) -> String {
    let samba = debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: the README test command installs it");
    let o = c.run_ctdb(&samba, pnn, args);
    assert!(o.status.success(), "ctdb {args:?} on node {pnn}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `tdbdump` of a node's copy of `db`.
fn tdbdump(c: &Cluster, pnn: u32, db: &str) -> String {
    let path = c.node_dir(pnn).join(format!("var/volatile/{db}.{pnn}"));
    let o = Command::new("tdbdump").arg(&path).output().expect("tdbdump (tdb-tools) is installed");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Records of a `catdb` listing: key → data, as the tool prints them.
fn catdb(c: &Cluster, pnn: u32, db: &str) -> BTreeMap<String, String> {
    let out = run(c, pnn, &["catdb", db]);
    let mut recs = BTreeMap::new();
    let mut key = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("key(") {
            key = rest.split_once(" = ").map(|(_, k)| k.trim_matches('"').to_string());
        } else if let Some(rest) = line.strip_prefix("data(") {
            if let (Some(k), Some((_, d))) = (key.take(), rest.split_once(" = ")) {
                recs.insert(k, d.trim_matches('"').to_string());
            }
        }
    }
    recs
}

#[test]
fn writekey_readkey_migrate_and_vacuum_removes_deleted_records() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 33, 1), &["VacuumInterval=1"]).unwrap();
    c.wait_ready(T).unwrap();
    run(&c, 0, &["attach", "vtest.tdb"]);
    for p in 0..3 {
        wait_for(T, "vtest.tdb attached everywhere", || run(&c, p, &["getdbmap"]).contains("name:vtest.tdb")).unwrap();
    }
    run(&c, 0, &["writekey", "vtest.tdb", "greeting", "hello-world"]);
    assert_eq!(run(&c, 2, &["readkey", "vtest.tdb", "greeting"]), "Data: size:11 ptr:[hello-world]\n");
    // Node 2 read it through the daemon: the record now lives there.
    let cat = run(&c, 1, &["catdb", "vtest.tdb"]);
    assert!(cat.contains("key(8) = \"greeting\"\ndmaster: 2\n"), "{cat}");
    assert!(cat.contains("data(11) = \"hello-world\"\n"), "{cat}");
    assert!(cat.ends_with("Dumped 1 records\n"), "{cat}");
    assert!(tdbdump(&c, 2, "vtest.tdb").contains("greeting"));

    // Delete through node 1 (migrates it there), then vacuuming removes
    // every node's copy of the file's record.
    run(&c, 1, &["deletekey", "vtest.tdb", "greeting"]);
    assert_eq!(run(&c, 0, &["readkey", "vtest.tdb", "greeting"]), "Data: size:0 ptr:[]\n");
    run(&c, 0, &["deletekey", "vtest.tdb", "greeting"]);
    let took = wait_for(Duration::from_secs(20), "the deleted record vacuumed from every node's file", || {
        (0..3).all(|p| !tdbdump(&c, p, "vtest.tdb").contains("greeting"))
    })
    .unwrap();
    eprintln!("vacuumed from every node after {took:?}");
    assert!(run(&c, 2, &["catdb", "vtest.tdb"]).ends_with("Dumped 0 records\n"));
}

/// Write `value(key)` for every key through node `pnn`, smbd-style.
fn write_all(c: &Cluster, pnn: u32, keys: &[String], value: impl Fn(&str) -> String) {
    block_on(async {
        let client = Client::connect(&c.socket(pnn)).await.unwrap();
        let mut db = VolatileDb::attach(&client, "rtest.tdb", T).await.unwrap();
        for k in keys {
            let mut l = db.fetch_locked(&client, k.as_bytes(), T).await.unwrap();
            l.store(value(k).as_bytes()).unwrap();
        }
        client.close().await;
    })
}

fn delete_all(c: &Cluster, pnn: u32, keys: &[String]) {
    block_on(async {
        let client = Client::connect(&c.socket(pnn)).await.unwrap();
        let mut db = VolatileDb::attach(&client, "rtest.tdb", T).await.unwrap();
        for k in keys {
            let l = db.fetch_locked(&client, k.as_bytes(), T).await.unwrap();
            l.delete(&client).await.unwrap();
        }
        client.close().await;
    })
}

fn generation(c: &Cluster, pnn: u32) -> String {
    run(c, pnn, &["status"]).lines().find(|l| l.starts_with("Generation:")).unwrap_or_default().to_string()
}

/// Compare record sets, reporting a short summary rather than 10,000 keys.
fn assert_same(got: &BTreeMap<String, String>, want: &BTreeMap<String, String>, what: &str) {
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let wrong: Vec<(&String, &String, &String)> =
        want.iter().filter_map(|(k, v)| got.get(k).filter(|g| *g != v).map(|g| (k, v, g))).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && wrong.is_empty(),
        "{what}: {} records, {} missing (first {:?}), {} unexpected (first {:?}), {} with the wrong value (first {:?})",
        got.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
        wrong.len(),
        wrong.iter().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn recovery_keeps_last_values_and_stop_continue_does_not_resurrect_deletes() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 34, 1), &["VacuumInterval=1"]).unwrap();
    c.wait_ready(T).unwrap();
    const N: usize = 10_000;
    let keys: Vec<String> = (0..N).map(|i| format!("key-{i:05}")).collect();
    // Every key written first through one node, then through another: the
    // second write migrates the record. Clients on all three nodes.
    let t0 = std::time::Instant::now();
    for p in 0..3u32 {
        let mine: Vec<String> =
            keys.iter().enumerate().filter(|(i, _)| *i % 3 == p as usize).map(|(_, k)| k.clone()).collect();
        write_all(&c, p, &mine, |k| format!("first-{k}"));
    }
    for p in 0..3u32 {
        let mine: Vec<String> =
            keys.iter().enumerate().filter(|(i, _)| (*i + 1) % 3 == p as usize).map(|(_, k)| k.clone()).collect();
        write_all(&c, p, &mine, |k| format!("last-{k}-{p}"));
    }
    eprintln!("{} writes (half of them migrations) in {:?}", 2 * N, t0.elapsed());
    let expected: BTreeMap<String, String> =
        keys.iter().enumerate().map(|(i, k)| (k.clone(), format!("last-{k}-{}", (i + 1) % 3))).collect();

    let before = generation(&c, 0);
    run(&c, 0, &["recover"]);
    wait_for(T, "a new generation after ctdb recover", || generation(&c, 0) != before).unwrap();
    c.wait_ready(T).unwrap();
    for p in 0..3 {
        assert_same(&catdb(&c, p, "rtest.tdb"), &expected, &format!("records through node {p} after recovery"));
    }
    // And each reads back through any node by migration.
    block_on(async {
        let client = Client::connect(&c.socket(2)).await.unwrap();
        let mut db = VolatileDb::attach(&client, "rtest.tdb", T).await.unwrap();
        for k in keys.iter().step_by(97) {
            let l = db.fetch_locked(&client, k.as_bytes(), T).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&l.data), expected[k]);
        }
    });

    // Node 2 stops while records are deleted and vacuumed away elsewhere;
    // when it continues, its old copies must not bring them back.
    run(&c, 2, &["stop"]);
    wait_for(T, "node 2 stopped everywhere", || run(&c, 0, &["status"]).contains("STOPPED|INACTIVE")).unwrap();
    c.wait_ready(T).ok();
    wait_for(T, "recovery without node 2", || run(&c, 0, &["status"]).contains("Size:2\n")).unwrap();
    let doomed: Vec<String> = keys.iter().step_by(50).cloned().collect();
    delete_all(&c, 0, &doomed);
    wait_for(Duration::from_secs(30), "deleted records vacuumed from nodes 0 and 1", || {
        let d0 = tdbdump(&c, 0, "rtest.tdb");
        let d1 = tdbdump(&c, 1, "rtest.tdb");
        doomed.iter().all(|k| !d0.contains(k.as_str()) && !d1.contains(k.as_str()))
    })
    .unwrap();
    let stale = tdbdump(&c, 2, "rtest.tdb");
    assert!(doomed.iter().any(|k| stale.contains(k.as_str())), "node 2 still has old copies (the risk under test)");
    run(&c, 2, &["continue"]);
    wait_for(T, "node 2 back in the vnnmap", || run(&c, 0, &["status"]).contains("Size:3\n")).unwrap();
    c.wait_ready(T).unwrap();
    let mut want = expected.clone();
    for k in &doomed {
        want.remove(k);
    }
    for p in 0..3 {
        let got = catdb(&c, p, "rtest.tdb");
        let back: Vec<&String> = doomed.iter().filter(|k| got.contains_key(*k)).collect();
        assert!(back.is_empty(), "deleted records came back through node {p}: {back:?}");
        assert_same(&got, &want, &format!("records through node {p} after continue"));
    }
}

#[test]
fn malformed_and_unknown_calls_get_errors_and_the_daemon_keeps_serving() {
    let c = Cluster::start(2, Ipv4Addr::new(127, 0, 35, 1), &["AllowClientDBAttach=1"]).unwrap();
    c.wait_ready(T).unwrap();
    run(&c, 0, &["attach", "mtest.tdb"]);
    block_on(async {
        let client = Client::connect(&c.socket(0)).await.unwrap();
        // Unknown db_id.
        let req = |db_id| ReqCall {
            flags: call::IMMEDIATE_MIGRATION,
            db_id,
            callid: call::NULL_FUNC,
            hopcount: 0,
            key: b"k".to_vec(),
            calldata: Vec::new(),
        };
        let r = client.call(req(0xdead_beef), T).await.unwrap();
        assert_eq!(r.status, -1);
        // Unknown call function on a real database.
        let mut bad = req(ctdb_databased_id("mtest.tdb"));
        bad.callid = 0x1234;
        assert_eq!(client.call(bad, T).await.unwrap().status, -1);
        // Key length past the end of the packet: header fine, body not.
        let mut frame = Frame::new(Packet::ReqCall(req(ctdb_databased_id("mtest.tdb"))), pnn::CURRENT_NODE, 0, 0);
        frame.header.reqid = 4242;
        let mut bytes = frame.encode(true);
        // keylen lives at offset 32 + 16.
        bytes[48..52].copy_from_slice(&1000u32.to_le_bytes());
        let reply = raw_request(&c.socket(0), &bytes);
        match reply.packet {
            Packet::ReplyCall(r) => assert_eq!(r.status, -1),
            other => panic!("expected REPLY_CALL, got {other:?}"),
        }
        // A good call still works on the same connection.
        assert_eq!(client.call(req(ctdb_databased_id("mtest.tdb")), T).await.unwrap().status, 0);
    });
    // Detached database: the call on its old id fails too.
    run(&c, 0, &["setvar", "AllowClientDBAttach", "0"]);
    run(&c, 1, &["setvar", "AllowClientDBAttach", "0"]);
    run(&c, 0, &["detach", "mtest.tdb"]);
    wait_for(T, "detached everywhere", || (0..2).all(|p| !run(&c, p, &["getdbmap"]).contains("mtest.tdb"))).unwrap();
    block_on(async {
        let client = Client::connect(&c.socket(1)).await.unwrap();
        let req = ReqCall {
            flags: 0,
            db_id: ctdb_databased_id("mtest.tdb"),
            callid: call::FETCH_FUNC,
            hopcount: 0,
            key: b"k".to_vec(),
            calldata: Vec::new(),
        };
        assert_eq!(client.call(req, T).await.unwrap().status, -1);
    });
    let log = c.log(0);
    assert!(log.contains("REQ_CALL for unknown database 0xdeadbeef"), "log: {log}");
    assert!(log.contains("malformed REQ_CALL"), "log: {log}");
    assert!(run(&c, 0, &["status"]).contains("Recovery mode:NORMAL (0)"));
    assert!(Path::new(&c.socket(0)).exists());
}

/// db_id of a name (jenkins hash of the name with its NUL).
fn ctdb_databased_id(name: &str) -> u32 {
    let mut v = name.as_bytes().to_vec();
    v.push(0);
    ctdb_tdb::jenkins_hash(&v)
}

/// Send raw bytes on a fresh connection and read one packet back.
fn raw_request(socket: &Path, bytes: &[u8]) -> Frame {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(bytes).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let n = u32::from_le_bytes(len) as usize;
    let mut rest = vec![0u8; n - 4];
    s.read_exact(&mut rest).unwrap();
    let mut all = len.to_vec();
    all.extend_from_slice(&rest);
    Frame::decode(&all).unwrap()
}

/// Whether a `ctdb_lock_helper` for `file` is running.
fn lock_helper_running(file: &Path) -> bool {
    let want = file.display().to_string();
    std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|e| {
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let s = String::from_utf8_lossy(&cmd);
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // Zombies are gone (nothing reaps them in some sandboxes).
        let zombie = state.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z'));
        !zombie && s.contains("ctdb_lock_helper") && s.contains(&want)
    })
}

#[test]
fn a_record_smbd_keeps_locked_is_waited_for_by_a_lock_helper_and_served_when_released() {
    let c = Cluster::start(2, Ipv4Addr::new(127, 0, 36, 1), &[]).unwrap();
    c.wait_ready(T).unwrap();
    // Node 1 masters the record.
    block_on(async {
        let client = Client::connect(&c.socket(1)).await.unwrap();
        let mut db = VolatileDb::attach(&client, "ltest.tdb", T).await.unwrap();
        db.fetch_locked(&client, b"busy", T).await.unwrap().store(b"v1").unwrap();
    });
    let file = c.node_dir(1).join("var/volatile/ltest.tdb.1");
    let r =
        c.control(1, ctdb_legacy_proto::Opcode::DB_OPEN_FLAGS, ctdb_databased_id("ltest.tdb").to_le_bytes().to_vec());
    let flags = i32::from_le_bytes(r.unwrap().data.try_into().expect("4-byte flags"));
    // "smbd" on node 1 holds the record's chain lock.
    let holder_bin = ctdb_itest::bin("tdb-hold-chainlock");
    let mut holder = Command::new(holder_bin)
        .arg(&file)
        .arg(flags.to_string())
        .args(["--lock", "busy"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Read;
        let mut b = [0u8; 6];
        holder.stdout.as_mut().unwrap().read_exact(&mut b).unwrap();
        assert_eq!(&b, b"locked");
    }
    // A client on node 0 wants the record: node 1 must wait for smbd.
    let sock = c.socket(0);
    let t0 = std::time::Instant::now();
    let waiter = std::thread::spawn(move || {
        block_on(async {
            let client = Client::connect(&sock).await.unwrap();
            let mut db = VolatileDb::attach(&client, "ltest.tdb", T).await.unwrap();
            let l = db.fetch_locked(&client, b"busy", Duration::from_secs(30)).await.unwrap();
            (String::from_utf8_lossy(&l.data).into_owned(), std::time::Instant::now())
        })
    });
    wait_for(T, "a lock helper waiting for the busy record on node 1", || lock_helper_running(&file)).unwrap();
    // The daemon still answers everything else meanwhile.
    assert!(run(&c, 1, &["status"]).contains("Recovery mode:NORMAL (0)"));
    assert!(!waiter.is_finished(), "the record was served while smbd held its lock");
    let released = std::time::Instant::now();
    drop(holder.stdin.take());
    let _ = holder.wait();
    let (value, served) = waiter.join().unwrap();
    assert_eq!(value, "v1");
    eprintln!(
        "served {:?} after smbd let go (held {:?})",
        served.saturating_duration_since(released),
        released.saturating_duration_since(t0)
    );
    wait_for(T, "the lock helper exited", || !lock_helper_running(&file)).unwrap();
}

#[test]
fn read_only_copies_are_delegated_and_revoked_before_a_write() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 37, 1), &[]).unwrap();
    c.wait_ready(T).unwrap();
    run(&c, 0, &["attach", "ro.tdb"]);
    for p in 0..3 {
        wait_for(T, "ro.tdb attached", || run(&c, p, &["getdbmap"]).contains("name:ro.tdb")).unwrap();
        run(&c, p, &["setdbreadonly", "ro.tdb"]);
    }
    assert!(run(&c, 1, &["getdbmap"]).contains("name:ro.tdb path:"), "listed");
    assert!(run(&c, 1, &["getdbmap"]).contains(" READONLY"), "READONLY flag shown");
    run(&c, 0, &["writekey", "ro.tdb", "k1", "original"]);
    // A read-only fetch through node 1 leaves a delegated copy there; the
    // record stays mastered by node 0.
    assert_eq!(run(&c, 1, &["readkey", "ro.tdb", "k1", "readonly"]), "Data: size:8 ptr:[original]\n");
    let on0 = run(&c, 0, &["cattdb", "ro.tdb"]);
    assert!(on0.contains("dmaster: 0\nrsn: 3\nflags: 0x01000000 RO_HAVE_DELEGATIONS\n"), "{on0}");
    let on1 = run(&c, 1, &["cattdb", "ro.tdb"]);
    assert!(on1.contains("dmaster: 0\nrsn: 1\nflags: 0x02000000 RO_HAVE_READONLY\n"), "{on1}");
    // A write through node 1 revokes the delegation first.
    run(&c, 1, &["writekey", "ro.tdb", "k1", "changed"]);
    assert_eq!(run(&c, 2, &["readkey", "ro.tdb", "k1"]), "Data: size:7 ptr:[changed]\n");
    for p in 0..3 {
        let cat = run(&c, p, &["cattdb", "ro.tdb"]);
        assert!(!cat.contains("RO_HAVE"), "node {p} still has read-only flags: {cat}");
    }
    let stats = run(&c, 0, &["dbstatistics", "ro.tdb"]);
    assert!(stats.contains(" db_ro_delegations                  1\n"), "{stats}");
    assert!(stats.contains(" db_ro_revokes                      1\n"), "{stats}");
}
