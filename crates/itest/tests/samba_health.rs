//! Debian's shipped event scripts on a ctdb-local cluster (127.0.55.x):
//! 00.ctdb, 01.reclock, 05.system, 49.winbind's monitor and 50.samba's
//! monitor pass on a healthy node; with clustered smbd on node 0
//! (clustered-samba recipe), killing that smbd makes node 0 UNHEALTHY in
//! `ctdb status` on every node within MonitorInterval plus a few seconds,
//! and starting it again makes it OK.
//!
//! 50.samba is enabled with Debian's `ctdb event script enable` once the
//! node runs: its startup event would restart the host's smbd service.
//! script.options points its port check at the test smbd's port and skips
//! the share check (the host's smb.conf shares are not ours). 49.winbind
//! runs as shipped on node 0: its startup starts the host's winbind
//! service (stopped again at the end) and its monitor pings it.

use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ctdb_itest::samba::{smbd_installed, Mode, SambaNode, SambaNodes};
use ctdb_itest::{wait_for, Cluster};

const UNHEALTHY: u32 = 0x02;
const MONITOR_INTERVAL: u64 = 2;

fn ctdb(c: &Cluster, pnn: u32, args: &[&str]) -> Output {
    c.run_debian(pnn, Duration::from_secs(60), args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Node 0's line of `ctdb status` on node `by`, e.g. `pnn:0 127.0.55.1 OK (THIS NODE)`.
fn status_line(c: &Cluster, by: u32) -> String {
    let o = ctdb(c, by, &["status"]);
    String::from_utf8_lossy(&o.stdout).lines().find(|l| l.starts_with("pnn:0 ")).unwrap_or_default().to_string()
}

fn node0_everywhere(c: &Cluster, unhealthy: bool) -> bool {
    (0..c.n).all(|by| c.flags(by, 0).is_some_and(|f| (f & UNHEALTHY != 0) == unhealthy))
}

/// 49.winbind's startup started the host's winbind service: stop it.
struct StopWinbind;

impl Drop for StopWinbind {
    fn drop(&mut self) {
        let _ = Command::new("timeout").args(["30", "service", "winbind", "stop"]).output();
    }
}

#[test]
fn shipped_scripts_monitor_and_a_dead_smbd_makes_the_node_unhealthy() {
    assert!(smbd_installed(), "smbd is missing: the README test command installs samba");
    let c = Cluster::setup(2, Ipv4Addr::new(127, 0, 55, 1), &[&format!("MonitorInterval={MONITOR_INTERVAL}")]).unwrap();
    let _winbind = StopWinbind;
    for p in 0..c.n {
        let scripts: &[&str] = if p == 0 {
            &["00.ctdb", "01.reclock", "05.system", "49.winbind"]
        } else {
            &["00.ctdb", "01.reclock", "05.system"]
        };
        for s in scripts {
            let o = ctdb(&c, p, &["event", "script", "enable", "legacy", s]);
            assert!(o.status.success(), "enable {s}: {}", text(&o));
        }
    }
    c.local(&["start", "all"]).unwrap();
    c.wait_ready(Duration::from_secs(30)).unwrap();

    // smbd on node 0 only.
    let work = tempfile::Builder::new().prefix("ctdb-samba-health").tempdir().unwrap();
    let node0 = SambaNode { socket: c.socket(0), addr: Ipv4Addr::new(127, 0, 55, 11) };
    let s = SambaNodes::start_mode(work.path(), vec![node0], Mode::VolatileOnly).unwrap();
    std::fs::write(
        c.node_dir(0).join("script.options"),
        "CTDB_SAMBA_CHECK_PORTS=445\nCTDB_SAMBA_SKIP_SHARE_CHECK=yes\n",
    )
    .unwrap();
    let o = ctdb(&c, 0, &["event", "script", "enable", "legacy", "50.samba"]);
    assert!(o.status.success(), "enable 50.samba: {}", text(&o));

    // The node's own monitor passes with every shipped script enabled.
    wait_for(Duration::from_secs(60), "a passing monitor with 50.samba", || {
        let o = ctdb(&c, 0, &["scriptstatus"]);
        let t = String::from_utf8_lossy(&o.stdout).into_owned();
        t.lines().any(|l| l.starts_with("50.samba") && l.contains(" OK "))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", text(&ctdb(&c, 0, &["scriptstatus"]))));
    let st = text(&ctdb(&c, 0, &["scriptstatus"]));
    for sname in ["00.ctdb", "01.reclock", "05.system", "49.winbind", "50.samba"] {
        assert!(st.lines().any(|l| l.starts_with(sname) && l.contains(" OK ")), "{sname} not OK:\n{st}");
    }
    assert!(node0_everywhere(&c, false), "node 0 unhealthy with smbd running:\n{st}");

    // smbd killed: UNHEALTHY everywhere within MonitorInterval + a few s.
    let pid = s.smbd_pid(0).expect("smbd pid");
    let t0 = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_for(Duration::from_secs(MONITOR_INTERVAL + 20), "node 0 UNHEALTHY everywhere", || node0_everywhere(&c, true))
        .unwrap_or_else(|e| panic!("{e}\n{}", text(&ctdb(&c, 0, &["scriptstatus"]))));
    let took = t0.elapsed();
    eprintln!("smbd killed: node 0 UNHEALTHY on every node after {took:?} (MonitorInterval {MONITOR_INTERVAL} s)");
    for by in 0..c.n {
        let line = status_line(&c, by);
        assert!(line.contains("UNHEALTHY"), "ctdb status on node {by}: {line}");
    }
    let st = text(&ctdb(&c, 0, &["scriptstatus"]));
    assert!(st.lines().any(|l| l.starts_with("50.samba") && l.contains("ERROR")), "{st}");

    // smbd back: OK again.
    s.restart_smbd(0).unwrap();
    let t1 = Instant::now();
    wait_for(Duration::from_secs(MONITOR_INTERVAL + 20), "node 0 healthy again", || node0_everywhere(&c, false))
        .unwrap();
    eprintln!("smbd restarted: node 0 OK on every node after {:?}", t1.elapsed());
    for by in 0..c.n {
        let line = status_line(&c, by);
        assert!(line.contains(" OK"), "ctdb status on node {by}: {line}");
    }
    drop(s);
}
