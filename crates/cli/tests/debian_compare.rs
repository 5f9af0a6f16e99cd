//! Our `ctdb` against Debian's `/usr/bin/ctdb`, both talking to a 1-node
//! Debian ctdbd 4.17 started in test mode in a temporary directory.
//!
//! Every command whose output is deterministic must give the same standard
//! output, standard error and exit code; the others (times, counters) must
//! have the same shape. Skipped, with a message, when Debian's ctdbd is not
//! installed.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CTDBD: &str = "/usr/sbin/ctdbd";
const DEBIAN_CTDB: &str = "/usr/bin/ctdb";
const HELPERS: &str = "/usr/libexec/ctdb";
const OURS: &str = env!("CARGO_BIN_EXE_ctdb");

/// What one run printed.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

/// A Debian ctdbd in a temporary directory; killed on drop.
struct Daemon {
    dir: tempfile::TempDir,
    ip: String,
}

impl Daemon {
    fn base(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn socket(&self) -> PathBuf {
        self.base().join("run/ctdbd.socket")
    }

    fn start() -> Daemon {
        let dir =
            tempfile::Builder::new().prefix("ctdb-cli-compare").tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let b = dir.path();
        for d in ["run", "var/volatile", "var/persistent", "var/state", "events/legacy"] {
            std::fs::create_dir_all(b.join(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
        }
        // A loopback address of our own (127.0.0.0/8 is all local), so
        // other clusters on this machine do not collide with ours.
        let pid = std::process::id();
        let ip = format!("127.{}.{}.1", 100 + pid % 100, (pid / 100) % 250);
        std::fs::write(b.join("nodes"), format!("{ip}\n")).unwrap_or_else(|e| panic!("nodes: {e}"));
        let conf = format!(
            "[logging]\n\tlocation = file:{b}/log.ctdb\n\
             [cluster]\n\tnode address = {ip}\n\tcluster lock = {b}/cluster.lock\n\
             [database]\n\tvolatile database directory = {b}/var/volatile\n\
             \tpersistent database directory = {b}/var/persistent\n\
             \tstate database directory = {b}/var/state\n\
             [failover]\n\tdisabled = true\n",
            b = b.display()
        );
        std::fs::write(b.join("ctdb.conf"), conf).unwrap_or_else(|e| panic!("ctdb.conf: {e}"));
        let status = Command::new(CTDBD)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CTDB_TEST_MODE", "yes")
            .env("CTDB_BASE", b)
            .env("CTDB_EVENTD", format!("{HELPERS}/ctdb-eventd"))
            .env("CTDB_EVENT_HELPER", format!("{HELPERS}/ctdb-event"))
            .env("CTDB_LOCK_HELPER", format!("{HELPERS}/ctdb_lock_helper"))
            .env("CTDB_RECOVERY_HELPER", format!("{HELPERS}/ctdb_recovery_helper"))
            .env("CTDB_TAKEOVER_HELPER", format!("{HELPERS}/ctdb_takeover_helper"))
            .env("CTDB_CLUSTER_MUTEX_HELPER", format!("{HELPERS}/ctdb_mutex_fcntl_helper"))
            .stdin(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("start ctdbd: {e}"));
        let daemon = Daemon { dir, ip };
        assert!(status.success(), "ctdbd failed to start: {status}");
        daemon.wait_until_ready();
        daemon
    }

    /// Waits (at most 90 s) until the node is RUNNING, healthy and knows
    /// its leader, so outputs stop changing.
    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let runstate = self.run(DEBIAN_CTDB, &["runstate"]);
            let health = self.run(DEBIAN_CTDB, &["nodestatus"]);
            let leader = self.run(DEBIAN_CTDB, &["-t", "2", "leader"]);
            if runstate.stdout == "RUNNING\n" && health.code == 0 && leader.stdout == "0\n" {
                return;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.base().join("log.ctdb")).unwrap_or_default();
                panic!("ctdbd not ready in time: {runstate:?} {health:?} {leader:?}\n{log}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Runs a tool against this daemon. Debian's tool sends SIGTERM to its
    /// whole process group when -T expires, so each run gets its own group.
    fn run(&self, bin: &str, args: &[&str]) -> Run {
        let out = Command::new(bin)
            .args(args)
            .env_remove("CTDB_TEST_MODE")
            .env_remove("CTDB_TIMEOUT")
            .env("CTDB_SOCKET", self.socket())
            .env("CTDB_BASE", self.base())
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .process_group(0)
            .output()
            .unwrap_or_else(|e| panic!("run {bin}: {e}"));
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.base().join("run/ctdbd.pid"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Ask politely, then make sure: the daemon and its event daemon,
        // by the pids they wrote (nothing else is touched).
        let pid = self.pid();
        let eventd = std::fs::read_to_string(self.base().join("run/eventd.pid")).ok();
        if pid.is_some() {
            let _ = Command::new(DEBIAN_CTDB)
                .args(["-T", "20", "shutdown"])
                .env("CTDB_SOCKET", self.socket())
                .process_group(0)
                .output();
        }
        for p in [pid, eventd].into_iter().flatten() {
            let p = p.trim();
            if !p.is_empty() && Path::new(&format!("/proc/{p}")).exists() {
                let _ = Command::new("kill").args(["-9", p]).status();
            }
        }
    }
}

/// Both tools, same arguments: everything must match.
#[track_caller]
fn same(d: &Daemon, args: &[&str]) -> Run {
    let ours = d.run(OURS, args);
    let theirs = d.run(DEBIAN_CTDB, args);
    assert_eq!(ours, theirs, "ctdb {}", args.join(" "));
    ours
}

/// Both tools, same arguments; outputs compared after `normalize`.
#[track_caller]
fn same_shape(d: &Daemon, args: &[&str], normalize: fn(&str) -> String) {
    let ours = d.run(OURS, args);
    let theirs = d.run(DEBIAN_CTDB, args);
    assert_eq!(
        (normalize(&ours.stdout), ours.stderr.as_str(), ours.code),
        (normalize(&theirs.stdout), theirs.stderr.as_str(), theirs.code),
        "ctdb {}\nours:\n{}\ntheirs:\n{}",
        args.join(" "),
        ours.stdout,
        theirs.stdout
    );
}

/// Digits replaced by `#`, for outputs with times and counters.
fn digits(s: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// Counters padded to a width: collapse runs of blanks as well.
fn digits_and_blanks(s: &str) -> String {
    let d = digits(s);
    let mut out = String::new();
    let mut blank = false;
    for c in d.chars() {
        if c == ' ' {
            if !blank {
                out.push(' ');
            }
            blank = true;
        } else {
            blank = false;
            out.push(c);
        }
    }
    out
}

#[test]
fn our_tool_matches_debians() {
    if !Path::new(CTDBD).exists() || !Path::new(DEBIAN_CTDB).exists() {
        eprintln!("skipping: Debian's ctdbd/ctdb (package ctdb) is not installed");
        return;
    }
    let d = Daemon::start();
    let ip = d.ip.clone();

    // Node state and cluster state.
    let status = same(&d, &["status"]);
    assert!(status.stdout.contains(&format!("pnn:0 {ip}")), "{status:?}");
    same(&d, &["-X", "status"]);
    same(&d, &["-x", ";", "-Y", "status"]);
    same(&d, &["status", "-X"]);
    same(&d, &["-n", "0", "status"]);
    same(&d, &["status", "extra"]);
    same(&d, &["nodestatus"]);
    same(&d, &["nodestatus", "all"]);
    same(&d, &["-X", "nodestatus", "all"]);
    same(&d, &["nodestatus", "0"]);
    // Not compared: `nodestatus 0,0` on a healthy node makes Debian's tool
    // print both lines and then hang until -T expires (it asks GET_IFACES of
    // node 0 twice at once); ours prints the lines and exits 0.
    same(&d, &["nodestatus", "5"]);
    same(&d, &["nodestatus", "bogus"]);
    same(&d, &["nodestatus", "0,-1"]);
    same(&d, &["listnodes"]);
    same(&d, &["-X", "listnodes"]);
    same(&d, &["-x", "ab", "-X", "listnodes"]);
    same(&d, &["-n", "0", "listnodes"]);
    // checktcpport: free, held by a listener (exit 98, what 50.samba
    // reads), bad arguments.
    same(&d, &["checktcpport", "0"]);
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let r = same(&d, &["checktcpport", &port]);
    assert_eq!(r.code, 98, "{r:?}");
    same(&d, &["checktcpport"]);
    same(&d, &["checktcpport", "abc"]);
    same(&d, &["pnn"]);
    same(&d, &["-n", "0", "pnn"]);
    same(&d, &["leader"]);
    same(&d, &["-X", "leader"]);
    same(&d, &["runstate"]);
    same(&d, &["runstate", "startup", "running"]);
    same(&d, &["runstate", "setup"]);
    same(&d, &["runstate", "bogus"]);
    same(&d, &["runstate", "running", "bogus"]);
    same(&d, &["getcapabilities"]);
    same(&d, &["-X", "getcapabilities"]);
    same(&d, &["getpid"]);
    same(&d, &["-n", "5", "ping"]);
    same(&d, &["-t", "0", "ping"]);
    same_shape(&d, &["ping"], digits);
    same_shape(&d, &["-n", "0", "-X", "ping"], digits);
    same_shape(&d, &["uptime"], digits);
    same_shape(&d, &["statistics"], digits_and_blanks);
    same_shape(&d, &["-X", "statistics"], digits);

    // Tunables: each tool sees what the other set.
    same(&d, &["getvar", "MonitorInterval"]);
    same(&d, &["getvar", "monitorinterval"]);
    same(&d, &["getvar", "bogus"]);
    same(&d, &["getvar", "VacuumLimit"]);
    same(&d, &["listvars"]);
    same(&d, &["-X", "listvars"]);
    assert_eq!(d.run(OURS, &["setvar", "MonitorInterval", "0x10"]).code, 0);
    same(&d, &["getvar", "MonitorInterval"]);
    assert_eq!(d.run(DEBIAN_CTDB, &["setvar", "MonitorInterval", "15"]).code, 0);
    assert_eq!(d.run(OURS, &["getvar", "MonitorInterval"]).stdout, format!("{:<26} = 15\n", "MonitorInterval"));
    same(&d, &["setvar", "MonitorInterval", "abc"]);
    same(&d, &["setvar", "bogus", "1"]);
    same(&d, &["setvar", "MonitorInterval"]);

    // Debug level.
    same(&d, &["getdebug"]);
    assert_eq!(d.run(OURS, &["setdebug", "w"]).code, 0);
    same(&d, &["getdebug"]);
    assert_eq!(d.run(OURS, &["setdebug", "7"]).code, 0);
    same(&d, &["getdebug"]);
    same(&d, &["setdebug", "bogus"]);
    same(&d, &["setdebug", "11"]);
    assert_eq!(d.run(DEBIAN_CTDB, &["setdebug", "NOTICE"]).code, 0);
    same(&d, &["getdebug"]);

    // Statistics reset moves the start time for both.
    same(&d, &["statisticsreset"]);
    same(&d, &["statisticsreset", "x"]);

    // process-exists: no such client, and a bad srvid.
    same(&d, &["process-exists", "1"]);
    same(&d, &["process-exists", "1", "0xf100000000000000"]);
    same(&d, &["process-exists", "1", "abc"]);
    same(&d, &["process-exists"]);

    // Options and command errors.
    same(&d, &[]);
    same(&d, &["xpnn"]);
    same(&d, &["-n", "all", "ping"]);
    same(&d, &["-Z", "ping"]);
    same(&d, &["--usage"]);
    same(&d, &["getvar"]);

    // Connect failure (no daemon at that path).
    let ours = {
        let mut c = Command::new(OURS);
        c.arg("ping").env("CTDB_SOCKET", d.base().join("nosock")).env("CTDB_BASE", d.base());
        c.output().unwrap_or_else(|e| panic!("{e}"))
    };
    let theirs = Command::new(DEBIAN_CTDB)
        .arg("ping")
        .env("CTDB_SOCKET", d.base().join("nosock"))
        .env("CTDB_BASE", d.base())
        .process_group(0)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours.stderr, theirs.stderr);
    assert_eq!(ours.status.code(), theirs.status.code());

    // Shutdown with ours: returns once the daemon is gone.
    let pid = d.pid();
    let down = d.run(OURS, &["shutdown"]);
    assert_eq!((down.stdout.as_str(), down.stderr.as_str(), down.code), ("", "", 0));
    if let Some(pid) = pid {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "ctdbd {pid} still running after shutdown");
    }
}
