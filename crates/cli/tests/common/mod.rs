//! Shared by the CLI's integration tests (`mod common;` in each): running a
//! `ctdb` tool against a daemon and comparing ours with Debian's
//! ([`run`], [`same`]), a ctdb-rs cluster made with `ctdb-local`
//! ([`Cluster`]), and a 1-node Debian ctdbd in test mode ([`Daemon`]).
//!
//! Each test file uses a part of it, so what one leaves unused is not
//! dead code.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Our `ctdb`.
pub const OURS: &str = env!("CARGO_BIN_EXE_ctdb");
/// Debian's `ctdb`.
pub const DEBIAN_CTDB: &str = "/usr/bin/ctdb";
/// Debian's `ctdbd`.
pub const CTDBD: &str = "/usr/sbin/ctdbd";
/// Debian's ctdbd helpers.
const HELPERS: &str = "/usr/libexec/ctdb";

/// What one run printed.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    /// Success without a word.
    pub fn silent() -> Run {
        Run { stdout: String::new(), stderr: String::new(), code: 0 }
    }
}

/// Runs `bin` against the daemon whose `CTDB_BASE` is `base` (its socket
/// `run/ctdbd.socket`), in UTC, with `input` on standard input (`None`:
/// none). Debian's tool signals its whole process group when `-T`
/// expires, so each run gets its own.
pub fn run(bin: &str, base: &Path, args: &[&str], input: Option<&str>) -> Run {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("CTDB_TEST_MODE")
        .env_remove("CTDB_TIMEOUT")
        .env("CTDB_SOCKET", base.join("run/ctdbd.socket"))
        .env("CTDB_BASE", base)
        .env("TZ", "UTC")
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        // A tool that does not read its input may close it early.
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("wait {bin}: {e}"));
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// Ours, then Debian's tool, against the daemon of `base` with the same
/// arguments and input: the same bytes and exit code; returns ours. `at`
/// (e.g. ` on node 1`) follows the command in the failure message.
#[track_caller]
pub fn same(base: &Path, args: &[&str], input: Option<&str>, at: &str) -> Run {
    let ours = run(OURS, base, args, input);
    let theirs = run(DEBIAN_CTDB, base, args, input);
    assert_eq!(ours, theirs, "ctdb {args:?}{at}: ours vs Debian's");
    ours
}

/// `ctdb-local` next to our `ctdb`, if it and `ctdbd` were built.
pub fn local_binary() -> Option<PathBuf> {
    let dir = Path::new(OURS).parent()?;
    let local = dir.join("ctdb-local");
    (local.exists() && dir.join("ctdbd").exists()).then_some(local)
}

/// A ctdb-rs cluster made with `ctdb-local` in a temporary directory,
/// stopped on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    local: PathBuf,
    /// Whether Debian's tool is installed.
    pub debian: bool,
}

impl Cluster {
    /// `ctdb-local DIR setup ARGS…` in a new temporary directory named
    /// after `prefix`; nothing started.
    pub fn setup(local: PathBuf, prefix: &str, args: &[&str]) -> Cluster {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap_or_else(|e| panic!("{e}"));
        let c = Cluster { dir, local, debian: Path::new(DEBIAN_CTDB).exists() };
        c.local_cmd(&[&["setup"][..], args].concat());
        c
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Node `n`'s CTDB_BASE.
    pub fn node_dir(&self, n: u32) -> PathBuf {
        self.dir().join(format!("node.{n}"))
    }

    /// Runs `ctdb-local DIR ARGS…`, which must succeed.
    pub fn local_cmd(&self, args: &[&str]) {
        let out = Command::new(&self.local)
            .arg(self.dir())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("ctdb-local: {e}"));
        assert!(
            out.status.success(),
            "ctdb-local {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `bin` on node `n` (see [`run`]).
    pub fn run(&self, bin: &str, n: u32, args: &[&str]) -> Run {
        run(bin, &self.node_dir(n), args, None)
    }

    /// `bin` on node `n` with `input` on standard input.
    pub fn run_with(&self, bin: &str, n: u32, args: &[&str], input: &str) -> Run {
        run(bin, &self.node_dir(n), args, Some(input))
    }

    /// `bin` on node `n` must succeed without a word.
    #[track_caller]
    pub fn silent(&self, bin: &str, n: u32, args: &[&str]) {
        assert_eq!(self.run(bin, n, args), Run::silent(), "{bin} {args:?} on node {n}");
    }

    /// Both tools on node `n`: same bytes and exit code; returns ours. Only
    /// ours runs when Debian's tool is not installed.
    #[track_caller]
    pub fn same(&self, n: u32, args: &[&str]) -> Run {
        if self.debian {
            same(&self.node_dir(n), args, None, &format!(" on node {n}"))
        } else {
            self.run(OURS, n, args)
        }
    }

    /// [`Cluster::same`] with `input` on standard input.
    #[track_caller]
    pub fn same_with(&self, n: u32, args: &[&str], input: &str) -> Run {
        if self.debian {
            same(&self.node_dir(n), args, Some(input), &format!(" on node {n}"))
        } else {
            self.run_with(OURS, n, args, input)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Best effort: a failure here must not hide the test's own panic.
        let _ = Command::new(&self.local).arg(self.dir()).args(["stop", "all"]).stdin(Stdio::null()).output();
    }
}

/// A 1-node Debian ctdbd in test mode in a temporary directory; shut down
/// (and, failing that, killed by the pids it wrote) on drop.
pub struct Daemon {
    dir: tempfile::TempDir,
    /// The node's address.
    pub ip: String,
}

impl Daemon {
    /// Starts ctdbd in a new temporary directory named after `prefix`, on
    /// `ip` (one of the test's own, so that other clusters on this machine
    /// do not collide with it), failover disabled; then waits (polling
    /// every `every`, at most 90 s) until `ready` says yes. `ready` gives
    /// its verdict and what it saw, for the failure message.
    pub fn start(prefix: &str, ip: String, every: Duration, ready: impl Fn(&Daemon) -> (bool, String)) -> Daemon {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let b = dir.path();
        for d in ["run", "var/volatile", "var/persistent", "var/state", "events/legacy"] {
            std::fs::create_dir_all(b.join(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
        }
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
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (yes, seen) = ready(&daemon);
            if yes {
                return daemon;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(daemon.base().join("log.ctdb")).unwrap_or_default();
                panic!("ctdbd not ready in time: {seen}\n{log}");
            }
            std::thread::sleep(every);
        }
    }

    /// Its CTDB_BASE.
    pub fn base(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Its socket.
    pub fn socket(&self) -> PathBuf {
        self.base().join("run/ctdbd.socket")
    }

    /// `bin` against it (see [`run`]).
    pub fn run(&self, bin: &str, args: &[&str]) -> Run {
        run(bin, &self.base(), args, None)
    }

    /// A file of its directory, as an argument.
    pub fn file(&self, name: &str) -> String {
        self.base().join(name).display().to_string()
    }

    /// The pid in `run/NAME`, if any.
    fn read_pid(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.base().join("run").join(name))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// The daemon's pid, from its pid file.
    pub fn pid(&self) -> Option<String> {
        self.read_pid("ctdbd.pid")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.pid();
        let eventd = self.read_pid("eventd.pid");
        if pid.is_some() {
            let _ = Command::new(DEBIAN_CTDB)
                .args(["-T", "20", "shutdown"])
                .env("CTDB_SOCKET", self.socket())
                .process_group(0)
                .output();
        }
        // Whatever is still there after the shutdown: the daemon and its
        // event daemon, by the pids they wrote (nothing else is touched).
        for p in [pid, eventd].into_iter().flatten() {
            if Path::new(&format!("/proc/{p}")).exists() {
                let _ = Command::new("kill").args(["-9", &p]).status();
            }
        }
    }
}
