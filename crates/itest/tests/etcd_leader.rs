//! Leadership with the etcd cluster lock on a real 3-node ctdb-rs cluster:
//! every node runs `ctdb_etcd_lock` against one etcd (Debian's
//! `etcd-server`, started here on 127.0.0.1 with free ports), one node
//! leads, and stopping it moves leadership to another node.
//!
//! Skipped, with the reason printed, only where etcd cannot be installed;
//! where apt could install it, a missing etcd is a failure.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ctdb_itest::{bin, Cluster, LeaderWatch, LEADER_TIMEOUT_OPTION};

const ETCD: &str = "/usr/bin/etcd";

/// A single-member etcd on 127.0.0.1, killed (by pid) when dropped.
struct Etcd {
    child: Child,
    endpoint: String,
    dir: tempfile::TempDir,
}

impl Etcd {
    /// Start one and wait until healthy; `None` (after saying why) if etcd
    /// cannot be had on this machine.
    fn start() -> Option<Etcd> {
        if !Path::new(ETCD).exists() {
            let installable = Command::new("apt-cache")
                .args(["show", "etcd-server"])
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
            assert!(!installable, "{ETCD} is missing: ./scripts/test installs Debian's etcd-server");
            eprintln!("SKIPPED: {ETCD} is missing and apt cannot install etcd-server on this machine");
            return None;
        }
        // Free ports come from binding port 0 and letting go, so another
        // process can take one first: a start that fails is tried anew.
        let mut last = String::new();
        for _ in 0..3 {
            match Etcd::try_start() {
                Ok(e) => return Some(e),
                Err(e) => last = e,
            }
        }
        panic!("etcd did not start: {last}");
    }

    fn try_start() -> Result<Etcd, String> {
        let dir = tempfile::Builder::new().prefix("ctdb-itest-etcd").tempdir().map_err(|e| e.to_string())?;
        let port = || TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let (client, peer) = (port().map_err(|e| e.to_string())?, port().map_err(|e| e.to_string())?);
        let (curl, purl) = (format!("http://127.0.0.1:{client}"), format!("http://127.0.0.1:{peer}"));
        let log = std::fs::File::create(dir.path().join("etcd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(ETCD)
            .args(["--name", "t", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &curl, "--advertise-client-urls", &curl])
            .args(["--listen-peer-urls", &purl, "--initial-advertise-peer-urls", &purl])
            .args(["--initial-cluster", &format!("t={purl}")])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawning etcd: {e}"))?;
        let mut e = Etcd { child, endpoint: format!("127.0.0.1:{client}"), dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = e.child.try_wait() {
                return Err(format!("etcd exited with {st}: {}", e.log()));
            }
            if healthy(&e.endpoint) {
                return Ok(e);
            }
            if Instant::now() > deadline {
                return Err(format!("etcd not healthy after 20 s: {}", e.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// etcd's `/health` on its client port says `"health":"true"`.
fn healthy(endpoint: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(endpoint) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}

/// The leader as every node in `nodes` hears it, if they agree.
fn agreed_leader(c: &Cluster, nodes: &[u32]) -> Option<u32> {
    let views: Vec<Option<u32>> = nodes.iter().map(|&p| c.leader(p)).collect();
    let first = (*views.first()?)?;
    views.iter().all(|v| *v == Some(first)).then_some(first)
}

#[test]
fn stopping_the_etcd_lock_holder_moves_leadership() {
    let Some(etcd) = Etcd::start() else { return };
    let conf = etcd.dir.path().join("ctdb-etcd.conf");
    // lock_ttl 3 rather than Samba's 9: a lease that is not revoked (see
    // below) then frees the lock after 3 s.
    std::fs::write(
        &conf,
        format!("endpoints = {}\ncluster_name = itest\nlock_ttl = 3\nlock_refresh = 1\ntimeout = 3\n", etcd.endpoint),
    )
    .unwrap();
    let lock = format!("cluster:cluster lock=!{} -v -c {}", bin("ctdb_etcd_lock").display(), conf.display());
    let c = Cluster::setup_with(3, Ipv4Addr::new(127, 0, 21, 1), &[], &[LEADER_TIMEOUT_OPTION, &lock]).unwrap();
    c.local(&["start", "all"]).unwrap();
    c.wait_ready(Duration::from_secs(30)).unwrap_or_else(|e| {
        panic!("{e:#}\nnode 0 log:\n{}\netcd log:\n{}", c.log(0), etcd.log());
    });
    let old = agreed_leader(&c, &[0, 1, 2]).expect("one leader, the same on every node");
    assert!(c.log(old).contains("ctdb_etcd_lock"), "the leader took the lock with the etcd helper:\n{}", c.log(old));

    let rest: Vec<u32> = (0..3).filter(|&p| p != old).collect();
    let watch = LeaderWatch::new(&c, &rest).unwrap();
    let t0 = Instant::now();
    c.local(&["stop", &old.to_string()]).unwrap();
    let stopped = t0.elapsed();
    // The stopped leader's helper revokes its lease on SIGTERM, so the lock
    // is free at once and a survivor takes it as soon as it sees the
    // leader's link go. If the daemon exits before its helper has revoked
    // (it kills the helper when it drops it), the lease expires after
    // lock_ttl (3 s) and a survivor's next try (every leader timeout, 2 s)
    // gets it: the bound allows for that.
    let new = watch.wait(Duration::from_secs(2 + 3 + 2 + 3), |l| l != old).unwrap_or_else(|e| {
        panic!("{e:#}\nnode {} log:\n{}", rest[0], c.log(rest[0]));
    });
    let moved = t0.elapsed();
    assert!(rest.contains(&new));
    assert_eq!(agreed_leader(&c, &rest), Some(new), "the survivors agree on the new leader");
    let how = if moved < Duration::from_secs(1) {
        "lease revoked by the stopped node's helper"
    } else {
        "the stopped node's helper did not revoke its lease in time; it expired after lock_ttl"
    };
    eprintln!("etcd lock: leader {old} stopped (took {stopped:?}); node {new} leads after {moved:?} ({how})");
}
