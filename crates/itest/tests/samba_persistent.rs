//! Unmodified Debian smbd with every database clustered (no `ctdb:NAME.tdb =
//! no` lines) on a 3-node cluster: Samba's persistent databases go through
//! the daemon (DB_ATTACH_PERSISTENT, TRANS3_COMMIT) and are the same on
//! every node (`shared/testing/clustered-samba.md`, check d):
//!
//! - the account smbpasswd creates through node 0 serves every node's smbd;
//! - `net conf setparm` through one node is read back by `net conf getparm`
//!   through another (registry.tdb), and a share added with `net conf
//!   addshare` through node 0 is served by node 2;
//! - a user added with `pdbedit -a` through node 0 (passdb.tdb) logs on
//!   through nodes 1 and 2, and not before, and not with a wrong password;
//! - `ctdb getdbseqnum` of registry.tdb and passdb.tdb agrees on every node,
//!   and each node's own copy of them holds what was written.
//!
//! `samba_persistent_debian_reference` runs the same checks against Debian's
//! ctdbd, to prove the harness itself (`--ignored`).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ctdb_itest::samba::{self, Mode, SambaNodes};
use ctdb_itest::Cluster;

/// An existing Unix account (pdbedit needs one) that is not the harness's
/// account; the SMB account for it is what the test creates.
const PDB_USER: &str = "daemon";
const PDB_PASSWORD: &str = "Pdb-itest-2";

fn run_checks(s: &SambaNodes) {
    assert_eq!(s.mode(), Mode::Clustered);
    let step = |what: &str, t: Instant| eprintln!("samba check {what}: ok in {:?}", t.elapsed());

    // The harness created its account through node 0 only and every smbd
    // has listed the share with it; pdbedit through the other nodes sees it.
    let t = Instant::now();
    for n in 1..s.n() {
        let users = s.pdbedit_list(n).unwrap();
        assert!(users.iter().any(|u| u == samba::USER), "pdbedit -L through node {n}: {users:?}");
    }
    step("account made through node 0 seen through nodes 1, 2", t);

    // 1. The clustered registry.
    let t = Instant::now();
    let value = format!("set-through-node-0-by-{}", std::process::id());
    s.check_registry_param(0, 1, "csmb:probe", &value).unwrap();
    s.check_registry_param(2, 0, "csmb:probe2", "set-through-node-2").unwrap();
    // Overwriting through another node is seen too (not just the first write).
    s.check_registry_param(1, 2, "csmb:probe", "overwritten-through-node-1").unwrap();
    s.check_registry_share(0, 2, "csmbreg").unwrap();
    step("registry (net conf setparm/getparm, addshare)", t);

    // 2. The clustered account database.
    let t = Instant::now();
    assert!(!s.logs_on(1, PDB_USER, PDB_PASSWORD).unwrap(), "{PDB_USER} logs on before pdbedit -a");
    s.pdbedit_add(0, PDB_USER, PDB_PASSWORD).unwrap();
    for n in 1..s.n() {
        let users = s.pdbedit_list(n).unwrap();
        assert!(users.iter().any(|u| u == PDB_USER), "pdbedit -L through node {n} after pdbedit -a: {users:?}");
        assert!(s.logs_on(n, PDB_USER, PDB_PASSWORD).unwrap(), "{PDB_USER} cannot log on through node {n}");
    }
    assert!(!s.logs_on(1, PDB_USER, "wrong-password").unwrap(), "{PDB_USER} logs on with a wrong password");
    step("passdb (pdbedit -a through node 0, logon through nodes 1, 2)", t);

    // 3. Every node has the same copy.
    let t = Instant::now();
    for db in ["registry.tdb", "passdb.tdb"] {
        let seqnum = s.check_seqnums_equal(db).unwrap();
        assert!(seqnum > 0, "{db}: sequence number 0 after writes");
        eprintln!("samba: {db} seqnum {seqnum:#x} on every node");
    }
    s.check_dbmap(&["secrets.tdb", "passdb.tdb", "registry.tdb", "locking.tdb"]).unwrap();
    // Each node's own file holds what was written through another node:
    // the registry value (REG_SZ, UTF-16LE) and the passdb account key.
    let utf16: Vec<u8> = "overwritten-through-node-1".encode_utf16().flat_map(u16::to_le_bytes).collect();
    s.check_replicas("registry.tdb", &utf16).unwrap();
    s.check_replicas("passdb.tdb", format!("USER_{PDB_USER}").as_bytes()).unwrap();
    step("getdbseqnum equal, getdbmap", t);

    let t = Instant::now();
    s.check_wiring().unwrap();
    step("process-exists wiring", t);
}

#[test]
fn samba_persistent_against_ctdb_rs() {
    if !samba::smbd_installed() {
        println!("skipping: {} is not installed", samba::SMBD);
        return;
    }
    let start = Instant::now();
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 47, 1), &[]).unwrap();
    eprintln!("ctdb-rs cluster ready after {:?}", start.elapsed());
    let work = tempfile::Builder::new().prefix("ctdb-samba-p").tempdir().unwrap();
    let s =
        SambaNodes::start_mode(work.path(), samba::cluster_nodes(&c, Ipv4Addr::new(127, 0, 47, 11)), Mode::Clustered)
            .unwrap();
    run_checks(&s);
    drop(s);
    eprintln!("whole run {:?}", start.elapsed());
}

/// The same checks against Debian's ctdbd (test mode, 127.0.48.x for both
/// ctdbd and smbd: different ports). Proves the harness; run with
/// `cargo test -p ctdb-itest --test samba_persistent -- --ignored --nocapture`.
#[test]
#[ignore = "reference run against Debian's ctdbd; proves the harness"]
fn samba_persistent_debian_reference() {
    if !samba::smbd_installed() || !std::path::Path::new(samba::CTDBD).exists() {
        println!("skipping: {} or {} is not installed", samba::SMBD, samba::CTDBD);
        return;
    }
    let start = Instant::now();
    let base = Ipv4Addr::new(127, 0, 48, 1);
    let r = samba::ReferenceCluster::start(3, base).unwrap();
    let healthy = r.wait_healthy(Duration::from_secs(60)).unwrap();
    eprintln!("Debian ctdbd healthy after {:?}", healthy);
    let work = tempfile::Builder::new().prefix("ctdb-samba-p").tempdir().unwrap();
    let s = SambaNodes::start_mode(work.path(), r.samba_nodes(base), Mode::Clustered).unwrap();
    run_checks(&s);
    drop(s);
    eprintln!("whole run {:?}", start.elapsed());
}
