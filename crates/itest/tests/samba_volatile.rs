//! Unmodified Debian smbd (`clustering = yes`, volatile-only mode) on every
//! node of a 3-node cluster: files, share modes (locking.tdb) and byte-range
//! locks (brlock.tdb) are shared across nodes through the daemon, smbd's
//! volatile databases are attached cluster-wide, and each smbd is a client
//! of its own node's daemon only (`shared/testing/clustered-samba.md`).
//!
//! `samba_volatile_debian_reference` runs the same checks against Debian's
//! ctdbd, to prove the harness itself (`--ignored`).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ctdb_itest::samba::{self, SambaNodes};
use ctdb_itest::Cluster;

/// Checks a–e on running smbds.
fn run_checks(s: &SambaNodes) {
    let step = |what: &str, t: Instant| eprintln!("samba check {what}: ok in {:?}", t.elapsed());

    // a. The same file through two nodes.
    let t = Instant::now();
    s.check_put_get(0, 1).unwrap();
    s.check_put_get(2, 0).unwrap();
    step("a (put through one node, get through another)", t);

    // b. Share modes across nodes, both directions; and the whole deny
    //    matrix (node 0 against node 1).
    let t = Instant::now();
    s.check_share_modes(0, 1).unwrap();
    s.check_share_modes(1, 2).unwrap();
    s.check_torture(0, 1, "smb2.deny.deny2").unwrap();
    step("b (share modes, smb2.deny.deny2)", t);

    // c. Byte-range locks across nodes.
    let t = Instant::now();
    let out = s.check_torture(0, 1, "smb2.lock.overlap").unwrap();
    assert!(
        out.contains("a different session cannot set overlapping exclusive locks"),
        "smb2.lock.overlap did not check the cross-session conflict:\n{out}"
    );
    s.check_torture(2, 1, "smb2.lock.overlap").unwrap();
    step("c (smb2.lock.overlap)", t);

    // d. smbd's volatile databases are attached, visible through every node.
    let t = Instant::now();
    s.check_dbmap(&["locking.tdb", "brlock.tdb", "g_lock.tdb"]).unwrap();
    step("d (getdbmap)", t);

    // e. Each smbd talks to its own node's daemon only.
    let t = Instant::now();
    s.check_wiring().unwrap();
    step("e (process-exists wiring)", t);
}

#[test]
fn samba_volatile_against_ctdb_rs() {
    if !samba::smbd_installed() {
        println!("skipping: {} is not installed", samba::SMBD);
        return;
    }
    let start = Instant::now();
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 30, 1), &[]).unwrap();
    eprintln!("ctdb-rs cluster ready after {:?}", start.elapsed());
    let work = tempfile::Builder::new().prefix("ctdb-samba").tempdir().unwrap();
    let s = SambaNodes::start(work.path(), samba::cluster_nodes(&c, Ipv4Addr::new(127, 0, 31, 1))).unwrap();
    run_checks(&s);
    drop(s);
    eprintln!("whole run {:?}", start.elapsed());
}

/// The same checks against Debian's ctdbd (test mode, 127.0.32.x for both
/// ctdbd and smbd: different ports). Proves the harness; run with
/// `cargo test -p ctdb-itest --test samba_volatile -- --ignored --nocapture`.
#[test]
#[ignore = "reference run against Debian's ctdbd; proves the harness"]
fn samba_volatile_debian_reference() {
    if !samba::smbd_installed() || !std::path::Path::new(samba::CTDBD).exists() {
        println!("skipping: {} or {} is not installed", samba::SMBD, samba::CTDBD);
        return;
    }
    let start = Instant::now();
    let base = Ipv4Addr::new(127, 0, 32, 1);
    let r = samba::ReferenceCluster::start(3, base).unwrap();
    let healthy = r.wait_healthy(Duration::from_secs(60)).unwrap();
    eprintln!("Debian ctdbd healthy after {:?}", healthy);
    let work = tempfile::Builder::new().prefix("ctdb-samba").tempdir().unwrap();
    let s = SambaNodes::start(work.path(), r.samba_nodes(base)).unwrap();
    run_checks(&s);
    drop(s);
    eprintln!("whole run {:?}", start.elapsed());
}
