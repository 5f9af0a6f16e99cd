//! `ctdb_etcd_lock` against a real etcd (Debian's `etcd-server`, started
//! here on 127.0.0.1 with free ports and a temporary data directory), plus
//! the answers that need no etcd: unreachable or silent endpoints, bad
//! configuration.
//!
//! Each test starts its own etcd, so tests can run in parallel; the
//! [`Etcd`] guard kills it (by pid) however the test ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

const HELPER: &str = env!("CARGO_BIN_EXE_ctdb_etcd_lock");
const ETCD: &str = "/usr/bin/etcd";

/// Debian's etcd, or `None` (after saying why) where it cannot be had.
fn etcd_binary() -> Option<&'static Path> {
    if Path::new(ETCD).exists() {
        return Some(Path::new(ETCD));
    }
    let installable = Command::new("apt-cache")
        .args(["show", "etcd-server"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    assert!(
        !installable,
        "{ETCD} is missing: ./scripts/test installs Debian's etcd-server (apt-get install etcd-server)"
    );
    eprintln!("SKIPPED: {ETCD} is missing and apt cannot install etcd-server on this machine");
    None
}

/// A single-member etcd on 127.0.0.1, killed when dropped.
struct Etcd {
    child: Child,
    /// `127.0.0.1:PORT` of its client URL.
    endpoint: String,
    dir: tempfile::TempDir,
}

impl Etcd {
    /// Start one and wait (≤ 20 s) until it reports itself healthy; `None`
    /// if etcd cannot be had here (see [`etcd_binary`]).
    fn start() -> Option<Etcd> {
        let bin = etcd_binary()?;
        // Free ports are found by binding port 0 and letting go; another
        // process may grab one before etcd binds it, so a start that dies
        // at once is tried again with new ports.
        let mut last = String::new();
        for _ in 0..3 {
            match Etcd::try_start(bin) {
                Ok(e) => return Some(e),
                Err(e) => last = format!("{e:#}"),
            }
        }
        panic!("etcd did not start: {last}");
    }

    fn try_start(bin: &Path) -> Result<Etcd> {
        let dir = tempfile::Builder::new().prefix("ctdb-etcd-test").tempdir()?;
        let (client, peer) = (free_port()?, free_port()?);
        let curl = format!("http://127.0.0.1:{client}");
        let purl = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log"))?;
        let child = Command::new(bin)
            .args(["--name", "t", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &curl, "--advertise-client-urls", &curl])
            .args(["--listen-peer-urls", &purl, "--initial-advertise-peer-urls", &purl])
            .args(["--initial-cluster", &format!("t={purl}")])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawning etcd")?;
        let mut e = Etcd { child, endpoint: format!("127.0.0.1:{client}"), dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = e.child.try_wait()? {
                bail!("etcd exited with {st}: {}", e.log());
            }
            if healthy(&e.endpoint) {
                return Ok(e);
            }
            if Instant::now() > deadline {
                bail!("etcd not healthy after 20 s: {}", e.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }

    /// A helper configuration file for this etcd.
    fn config(&self, extra: &str) -> PathBuf {
        let p = self.dir.path().join(format!("etcd-{}.conf", rand_suffix()));
        std::fs::write(&p, format!("endpoints = {}\ntimeout = 2\n{extra}", self.endpoint)).expect("config file");
        p
    }

    /// Run `f` with a client of this etcd.
    fn with_client<T, F>(&self, f: impl FnOnce(etcd_client::Client) -> F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async {
            let c = etcd_client::Client::connect([self.endpoint.as_str()], None).await?;
            tokio::time::timeout(Duration::from_secs(5), f(c)).await.context("etcd request timed out")?
        })
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig);
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        // Child::kill is SIGKILL to this pid, which also ends a stopped etcd.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// etcd's own `/health` on its client port says `"health":"true"`.
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

/// A running `ctdb_etcd_lock`, killed (by pid) when dropped.
struct Helper {
    child: Child,
    /// Bytes from its stdout; `None` at end of file.
    out: mpsc::Receiver<Option<u8>>,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Helper {
    fn spawn(args: &[&str]) -> Helper {
        Helper::spawn_cmd(Command::new(HELPER).args(args))
    }

    fn spawn_cmd(cmd: &mut Command) -> Helper {
        let dir = tempfile::tempdir().expect("tempdir");
        let stderr = dir.path().join("stderr");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawning the helper");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let (tx, out) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = [0u8; 1];
            loop {
                match stdout.read(&mut b) {
                    Ok(1) => {
                        if tx.send(Some(b[0])).is_err() {
                            return;
                        }
                    }
                    _ => {
                        let _ = tx.send(None);
                        return;
                    }
                }
            }
        });
        Helper { child, out, stderr, _dir: dir }
    }

    /// The first byte, within `timeout`; `None` for end of file.
    fn answer(&self, timeout: Duration) -> Option<u8> {
        self.out.recv_timeout(timeout).unwrap_or_else(|_| panic!("no answer within {timeout:?}: {}", self.stderr()))
    }

    /// Wait for end of file on stdout (= lock lost, for the parent); the
    /// time it took.
    fn wait_eof(&self, timeout: Duration) -> Duration {
        let start = Instant::now();
        match self.out.recv_timeout(timeout) {
            Ok(None) => start.elapsed(),
            Ok(Some(b)) => panic!("unexpected byte {b:?} after the answer"),
            Err(_) => panic!("stdout still open after {timeout:?}: {}", self.stderr()),
        }
    }

    /// Wait for the process to end.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st;
            }
            assert!(start.elapsed() < timeout, "helper still running after {timeout:?}: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).expect("kill");
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ANSWER: Duration = Duration::from_secs(5);

/// Take the lock with `conf` and expect `want`.
fn take(conf: &Path, want: u8) -> Helper {
    let h = Helper::spawn(&["-v", "-c", conf.to_str().expect("utf-8 path")]);
    assert_eq!(h.answer(ANSWER), Some(want), "stderr: {}", h.stderr());
    h
}

/// Run takers one after another until one gets '0'.
fn take_until_held(conf: &Path, within: Duration) -> Helper {
    let start = Instant::now();
    loop {
        let h = Helper::spawn(&["-c", conf.to_str().expect("utf-8 path")]);
        match h.answer(ANSWER) {
            Some(b'0') => return h,
            Some(b'1') => {}
            other => panic!("unexpected answer {other:?}: {}", h.stderr()),
        }
        assert!(start.elapsed() < within, "lock still held by someone after {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn first_holds_second_contends_and_sigterm_frees_the_lock_at_once() {
    let Some(etcd) = Etcd::start() else { return };
    // A long TTL: only revoking the lease can free the lock quickly.
    let conf = etcd.config("lock_ttl = 30\nlock_refresh = 2\n");
    let mut first = take(&conf, b'0');
    let mut second = take(&conf, b'1');
    assert!(second.wait_exit(Duration::from_secs(3)).success(), "contention is a clean exit");
    assert!(second.stderr().contains("is held by"), "{}", second.stderr());

    let t0 = Instant::now();
    first.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(first.wait_exit(Duration::from_secs(3)).success());
    assert!(first.stderr().contains("lease revoked"), "{}", first.stderr());
    let _third = take(&conf, b'0');
    let handover = t0.elapsed();
    assert!(handover < Duration::from_secs(5), "handover took {handover:?}");
    eprintln!("SIGTERM to the holder: the next taker held the lock after {handover:?} (TTL 30 s)");
}

#[test]
fn sigkill_of_the_holder_frees_the_lock_after_its_ttl() {
    let Some(etcd) = Etcd::start() else { return };
    let conf = etcd.config("lock_ttl = 3\nlock_refresh = 1\n");
    let first = take(&conf, b'0');
    let t0 = Instant::now();
    first.signal(nix::sys::signal::Signal::SIGKILL);
    // Nobody revoked the lease: the lock stays taken until it expires.
    let _early = take(&conf, b'1');
    let _next = take_until_held(&conf, Duration::from_secs(3 + 3));
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_secs(1), "freed before the lease could expire: {waited:?}");
    eprintln!("SIGKILL of the holder: a new taker held the lock after {waited:?} (TTL 3 s)");
}

#[test]
fn deleting_the_key_makes_the_holder_exit_within_the_refresh_interval() {
    let Some(etcd) = Etcd::start() else { return };
    let conf = etcd.config("lock_ttl = 30\nlock_refresh = 1\ncluster_name = del\n");
    let mut holder = take(&conf, b'0');
    etcd.with_client(|mut c| async move { Ok(c.delete("_ctdb/del", None).await?) }).unwrap();
    let t0 = Instant::now();
    let noticed = holder.wait_eof(Duration::from_secs(1 + 2));
    let st = holder.wait_exit(Duration::from_secs(3));
    assert!(!st.success(), "losing the lock is a failure exit");
    assert!(holder.stderr().contains("key _ctdb/del was deleted"), "{}", holder.stderr());
    let _next = take(&conf, b'0');
    eprintln!(
        "key deleted: the holder reported the lock lost after {noticed:?} (refresh 1 s), exited after {:?}",
        t0.elapsed()
    );
}

#[test]
fn a_key_recreated_by_someone_else_fences_the_holder() {
    let Some(etcd) = Etcd::start() else { return };
    let conf = etcd.config("lock_ttl = 30\nlock_refresh = 1\n");
    let mut holder = take(&conf, b'0');
    // Same key, same value even, but a new create revision and no lease:
    // someone else's now.
    etcd.with_client(|mut c| async move {
        let v = c.get("_ctdb/ctdb", None).await?.kvs().first().map(|kv| kv.value().to_vec()).context("no key")?;
        c.delete("_ctdb/ctdb", None).await?;
        c.put("_ctdb/ctdb", v, None).await?;
        Ok(())
    })
    .unwrap();
    holder.wait_eof(Duration::from_secs(1 + 2));
    assert!(!holder.wait_exit(Duration::from_secs(3)).success());
    assert!(holder.stderr().contains("was replaced"), "{}", holder.stderr());
    // Revoking the old lease on the way out must not delete the new key.
    let taker = take(&conf, b'1');
    assert!(taker.stderr().contains("without a lease"), "{}", taker.stderr());
}

#[test]
fn a_dead_parent_releases_the_lock_at_once() {
    let Some(etcd) = Etcd::start() else { return };
    let conf = etcd.config("lock_ttl = 30\nlock_refresh = 2\n");
    // sh is the helper's parent here (the `; :` keeps it from exec'ing).
    let mut parent = Helper::spawn_cmd(Command::new("sh").args(["-c", "\"$0\" -v -c \"$1\"; :", HELPER]).arg(&conf));
    assert_eq!(parent.answer(ANSWER), Some(b'0'), "{}", parent.stderr());
    let t0 = Instant::now();
    parent.signal(nix::sys::signal::Signal::SIGKILL);
    parent.wait_exit(Duration::from_secs(3));
    // End of file once the orphaned helper is gone too.
    parent.wait_eof(Duration::from_secs(5));
    let _next = take(&conf, b'0');
    assert!(parent.stderr().contains("lease revoked"), "{}", parent.stderr());
    eprintln!("parent killed: the next taker held the lock after {:?} (TTL 30 s)", t0.elapsed());
}

#[test]
fn a_silent_etcd_makes_the_holder_give_up_before_its_lease_could_expire() {
    let Some(etcd) = Etcd::start() else { return };
    let conf = etcd.config("lock_ttl = 4\nlock_refresh = 1\n");
    let mut holder = take(&conf, b'0');
    // A stopped etcd answers nothing, like one behind a partition.
    etcd.signal(nix::sys::signal::Signal::SIGSTOP);
    let noticed = holder.wait_eof(Duration::from_secs(4 + 2));
    etcd.signal(nix::sys::signal::Signal::SIGCONT);
    assert!(!holder.wait_exit(Duration::from_secs(5)).success());
    assert!(holder.stderr().contains("could not be renewed before it expires"), "{}", holder.stderr());
    // The lease was renewed at most 1 s before the stop; it can expire no
    // earlier than 4 s after that renewal, and the holder must be gone by then.
    assert!(noticed < Duration::from_secs(4), "gave up only after {noticed:?}");
    eprintln!("etcd stopped: the holder gave up the lock after {noticed:?} (TTL 4 s, refresh 1 s)");
}

#[test]
fn unreachable_etcd_answers_2() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etcd");
    // A port nobody listens on: refused at once.
    let port = free_port().unwrap();
    std::fs::write(&conf, format!("port = {port}\ntimeout = 2\n")).unwrap();
    let t0 = Instant::now();
    let mut h = take(&conf, b'2');
    assert!(!h.wait_exit(Duration::from_secs(3)).success());
    eprintln!("refused: '2' after {:?}", t0.elapsed());

    // A listener that never speaks: '2' once the timeout passes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    std::fs::write(&conf, format!("endpoints = {}\ntimeout = 2\n", silent.local_addr().unwrap())).unwrap();
    let t0 = Instant::now();
    let h = take(&conf, b'2');
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1900) && took < Duration::from_secs(4), "'2' after {took:?}");
    assert!(h.stderr().contains("did not answer") || h.stderr().contains("timed out"), "{}", h.stderr());
    eprintln!("silent: '2' after {took:?} (timeout 2 s)");
}

#[test]
fn bad_configuration_or_arguments_answer_3_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etcd");
    std::fs::write(&conf, "lock_ttl = 9\nlock_refresh = soon\n").unwrap();
    let mut h = take(&conf, b'3');
    assert!(!h.wait_exit(Duration::from_secs(3)).success());
    assert!(
        h.stderr().contains(&format!("{}:2: lock_refresh: expected whole seconds", conf.display())),
        "{}",
        h.stderr()
    );

    let h = Helper::spawn(&["-c", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(h.answer(ANSWER), Some(b'3'));
    assert!(h.stderr().contains("cannot read"), "{}", h.stderr());

    // Without -c: $CTDB_BASE/etcd.
    std::fs::write(&conf, "port = none\n").unwrap();
    let h = Helper::spawn_cmd(Command::new(HELPER).env("CTDB_BASE", dir.path()));
    assert_eq!(h.answer(ANSWER), Some(b'3'));
    assert!(h.stderr().contains(&format!("{}:1: port", conf.display())), "{}", h.stderr());

    let h = Helper::spawn(&["--bogus"]);
    assert_eq!(h.answer(ANSWER), Some(b'3'));
    assert!(h.stderr().contains("usage:"), "{}", h.stderr());
}
