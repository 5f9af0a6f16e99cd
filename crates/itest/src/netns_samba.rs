//! Unmodified Debian smbd on the nodes of a network-namespace failover bed
//! ([`Bed`]): one clustered smbd per node namespace, configured by the
//! clustered-samba recipe (`shared/testing/clustered-samba.md`, the config
//! text is [`samba::smb_conf`]), each talking to its own node's daemon
//! through that node's socket, and SMB clients in the bed's client
//! namespace that reach the smbds through the public addresses.
//!
//! Differences from the loopback setup of [`samba`](crate::samba):
//!
//! * smbd runs inside its node's namespace (`ip netns exec NODE smbd -D`),
//!   so the bed's `Drop` kills it with everything else there.
//! * It listens on every address of the namespace (`bind interfaces only =
//!   no`, no `interfaces` line): the public addresses come and go on `eth1`
//!   after smbd has started, and a wildcard listener accepts connections to
//!   an address that appears later.
//! * Every database is clustered ([`Mode::Clustered`]): the account is
//!   created once, through node 0; every node knows it.
//!
//! Per SMB connection smbd sends `TCP_CLIENT` (server = the public address
//! the client connected to) to its node's daemon: that is what `ctdb
//! gettickles` lists and what the new holder of a moved address tickles.
//!
//! Interactive clients ([`SmbSession`]) are `smbclient` processes in the
//! client namespace whose stdin the test holds, so a session stays open
//! across a failover and its TCP connection can be watched with `ss`
//! ([`BedSamba::client_conn_state`]).
//!
//! Every command runs with a time limit; every wait has a deadline.

use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::{Bed, CLIENT_ADDR};
use crate::samba::{self, Listen, Mode, PASSWORD, SHARE, SMBD, USER};
use crate::wait_for;

/// The SMB port smbd listens on (`smb ports = 445`).
pub const SMB_PORT: u16 = 445;

/// How long one smbd may take from `smbd -D` until it lists the share.
pub const SMBD_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Time limit of one client command run to completion.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// One clustered smbd in each node namespace of a bed. Dropping it stops
/// the smbds (the bed's own `Drop` kills whatever is left in its
/// namespaces).
pub struct BedSamba<'a> {
    bed: &'a Bed,
    dir: PathBuf,
}

impl<'a> BedSamba<'a> {
    /// Write every node's smb.conf under `DIR/samba` of the bed, create
    /// the account through node 0, start smbd in every node namespace and
    /// wait until each lists the share. The bed's daemons must be up.
    pub fn start(bed: &'a Bed) -> Result<BedSamba<'a>> {
        let s = BedSamba { bed, dir: bed.dir().join("samba") };
        s.write_files()?;
        let t = Instant::now();
        s.add_account()?;
        eprintln!("bed samba: account created through node 0 in {:?}", t.elapsed());
        for i in 0..bed.n() {
            let t = Instant::now();
            s.start_smbd(i)?;
            eprintln!("bed samba: node {i}: smbd (pid {:?}) lists the share after {:?}", s.smbd_pid(i), t.elapsed());
        }
        Ok(s)
    }

    /// The bed.
    pub fn bed(&self) -> &Bed {
        self.bed
    }

    /// The Samba work directory (`DIR/samba` of the bed).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Node I's Samba directory (smb.conf, lock/state/… directories, log).
    pub fn node_dir(&self, i: u32) -> PathBuf {
        self.dir.join(format!("node.{i}"))
    }

    /// Node I's smb.conf (absolute: smbd passes it on to samba-dcerpcd).
    pub fn conf(&self, i: u32) -> PathBuf {
        self.node_dir(i).join("smb.conf")
    }

    /// The directory behind `[share]` (the same on every node).
    pub fn share_dir(&self) -> PathBuf {
        self.dir.join("share")
    }

    /// The clients' configuration.
    pub fn client_conf(&self) -> PathBuf {
        self.dir.join("client.conf")
    }

    /// Node I's parent smbd, from its pid file, while it runs.
    pub fn smbd_pid(&self, i: u32) -> Option<i32> {
        samba::read_pid(&self.node_dir(i).join("pid/smbd.pid")).filter(|&p| samba::alive(p))
    }

    /// The last `lines` lines of node I's smbd log.
    pub fn log_tail(&self, i: u32, lines: usize) -> String {
        samba::tail(&self.node_dir(i).join("log/smbd.log"), lines)
    }

    /// Every node's smbd log tail, for failure messages.
    pub fn logs(&self) -> String {
        (0..self.bed.n()).map(|i| format!("--- smbd log node {i} ---\n{}\n", self.log_tail(i, 30))).collect()
    }

    fn write_files(&self) -> Result<()> {
        let share = self.share_dir();
        fs::create_dir_all(&share)?;
        fs::set_permissions(&share, fs::Permissions::from_mode(0o1777))?;
        fs::create_dir_all(self.dir.join("tmp"))?;
        fs::write(self.client_conf(), "[global]\n    client min protocol = SMB2_02\n")?;
        for i in 0..self.bed.n() {
            let d = self.node_dir(i);
            for sub in ["lock", "state", "cache", "private", "pid", "ncalrpc", "log"] {
                fs::create_dir_all(d.join(sub))?;
            }
            let conf = samba::smb_conf(&d, &self.bed.socket(i), Listen::Any, &share, Mode::Clustered);
            fs::write(self.conf(i), conf)?;
        }
        Ok(())
    }

    /// Run a command with a time limit (output through files, see
    /// [`samba::run_bounded`]).
    pub fn run(&self, cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Result<Output> {
        samba::run_bounded(cmd, stdin, timeout, &self.dir.join("tmp"))
    }

    /// `ip netns exec NS ARGS…`, bounded.
    fn run_in(&self, ns: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).args(args);
        self.run(&mut cmd, stdin, COMMAND_TIMEOUT)
    }

    /// `smbpasswd -a` through node 0: passdb.tdb is a clustered persistent
    /// database, so one account serves every node. It only talks to the
    /// daemon's Unix socket, so it runs in node 0's namespace for symmetry
    /// only.
    fn add_account(&self) -> Result<()> {
        let conf = self.conf(0);
        let conf = conf.to_str().context("smb.conf path")?;
        let input = format!("{PASSWORD}\n{PASSWORD}\n");
        let out =
            self.run_in(&self.bed.node_ns(0), &["smbpasswd", "-c", conf, "-a", "-s", USER], Some(input.as_bytes()))?;
        if !out.status.success() {
            bail!("smbpasswd through node 0 failed: {}\n{}", samba::show(&out), self.logs());
        }
        Ok(())
    }

    /// Start node I's smbd in its namespace and wait until it lists the
    /// share (asked from inside the namespace, on 127.0.0.1: the node may
    /// host no public address).
    pub fn start_smbd(&self, i: u32) -> Result<()> {
        let conf = self.conf(i);
        let conf = conf.to_str().context("smb.conf path")?;
        // -D: smbd daemonizes into a session of its own (it kills its
        // process group on exit, which then is not ours).
        let out = self.run_in(&self.bed.node_ns(i), &[SMBD, "-D", "-s", conf], None)?;
        if !out.status.success() {
            bail!("smbd -D on node {i} failed: {}\n{}", samba::show(&out), self.logs());
        }
        let mut last = String::new();
        let r = wait_for(SMBD_START_TIMEOUT, &format!("smbd on node {i} to list the share"), || {
            match self.list_shares(i) {
                Ok(shares) if shares.iter().any(|s| s == SHARE) => true,
                Ok(shares) => {
                    last = format!("listed {shares:?}");
                    false
                }
                Err(e) => {
                    last = format!("{e:#}");
                    false
                }
            }
        });
        if let Err(e) = r {
            bail!("{e}; last attempt: {last}\n{}", self.logs());
        }
        Ok(())
    }

    /// The disk shares `smbclient -L //127.0.0.1` lists inside node I's
    /// namespace.
    pub fn list_shares(&self, i: u32) -> Result<Vec<String>> {
        let conf = self.client_conf();
        let conf = conf.to_str().context("client.conf path")?;
        let user = format!("{USER}%{PASSWORD}");
        let out = self.run_in(
            &self.bed.node_ns(i),
            &["smbclient", "-s", conf, "-U", &user, "-g", "-L", "//127.0.0.1"],
            None,
        )?;
        if !out.status.success() {
            bail!("smbclient -L on node {i}: {}", samba::show(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Disk|"))
            .map(|l| l.split('|').next().unwrap_or_default().to_string())
            .collect())
    }

    /// From the client namespace: `smbclient //ADDR/share -U user%pass -c
    /// COMMAND`, run to completion.
    pub fn client_cmd(&self, addr: Ipv4Addr, command: &str) -> Result<Output> {
        let conf = self.client_conf();
        let conf = conf.to_str().context("client.conf path")?;
        let user = format!("{USER}%{PASSWORD}");
        let unc = format!("//{addr}/{SHARE}");
        self.run_in(&self.bed.client_ns(), &["smbclient", "-s", conf, "-U", &user, &unc, "-c", command], None)
    }

    /// From the client namespace, an interactive `smbclient //ADDR/share`
    /// whose stdin the caller holds; returned once a first `ls` has
    /// answered (so it is logged on and its TCP connection is known).
    pub fn open_session(&self, addr: Ipv4Addr, timeout: Duration) -> Result<SmbSession> {
        SmbSession::open(self, addr, timeout)
    }

    /// The state (`ss`'s name: `ESTAB`, `CLOSE-WAIT`, …) of the client
    /// namespace's TCP socket `client` → `server`; `None` once it is gone
    /// (reset, or closed on both sides).
    pub fn client_conn_state(&self, client: SocketAddrV4, server: SocketAddrV4) -> Result<Option<String>> {
        let rows = ss(self.bed, &self.bed.client_ns())?;
        Ok(rows.into_iter().find(|r| r.local == client && r.peer == server).map(|r| r.state))
    }

    /// The nodes whose namespace holds the connection `client` →
    /// `server` (as smbd's side: local `server`, peer `client`),
    /// established.
    pub fn serving_nodes(&self, client: SocketAddrV4, server: SocketAddrV4) -> Result<Vec<u32>> {
        let mut nodes = Vec::new();
        for i in 0..self.bed.n() {
            let rows = ss(self.bed, &self.bed.node_ns(i))?;
            if rows.iter().any(|r| r.local == server && r.peer == client && r.state == "ESTAB") {
                nodes.push(i);
            }
        }
        Ok(nodes)
    }

    fn stop(&self) {
        for i in 0..self.bed.n() {
            let pid_dir = self.node_dir(i).join("pid");
            for name in ["smbd.pid", "samba-dcerpcd.pid"] {
                if let Some(pid) = samba::read_pid(&pid_dir.join(name)) {
                    samba::terminate(pid, Duration::from_secs(10));
                }
            }
        }
    }
}

impl Drop for BedSamba<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One row of `ss -Htan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockRow {
    /// `ESTAB`, `CLOSE-WAIT`, `LISTEN`, …
    pub state: String,
    /// Local address and port.
    pub local: SocketAddrV4,
    /// Peer address and port.
    pub peer: SocketAddrV4,
}

/// The IPv4 TCP sockets of namespace `ns` (`ss -Htan`).
fn ss(bed: &Bed, ns: &str) -> Result<Vec<SockRow>> {
    let out = bed.exec(ns, &["ss", "-Htan"])?;
    if !out.status.success() {
        bail!("ss in {ns}: {}", samba::show(&out));
    }
    Ok(parse_ss(&String::from_utf8_lossy(&out.stdout)))
}

/// `ss -Htan` lines: state, Recv-Q, Send-Q, local, peer (IPv4 rows only).
fn parse_ss(text: &str) -> Vec<SockRow> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(SockRow {
                state: f.first()?.to_string(),
                local: f.get(3)?.parse().ok()?,
                peer: f.get(4)?.parse().ok()?,
            })
        })
        .collect()
}

/// An interactive `smbclient //ADDR/share` in the bed's client namespace:
/// commands go to its stdin when the test says so, its output is collected
/// in a file. Dropping it kills the process.
///
/// The session is *quiet*: while idle, smbclient sends nothing on its
/// connection. Left alone, smbclient sends an SMB echo after every 5 s
/// without input (its readline replacement calls back when its poll of
/// stdin times out), and an echo on a connection whose address has moved
/// draws a reset from the new holder by itself. A feeder thread therefore
/// writes an empty line (which smbclient skips without any SMB traffic)
/// every second, so a reset seen on an idle session came from the server
/// side (the old node closing, or the new holder's tickle ACK), not from
/// the client's own probing.
pub struct SmbSession {
    child: Child,
    stdin: Arc<Mutex<Option<ChildStdin>>>,
    stop: Arc<AtomicBool>,
    feeder: Option<JoinHandle<()>>,
    out: PathBuf,
    /// The client's end of its TCP connection (198.51.100.200:PORT).
    pub local: SocketAddrV4,
    /// The server's end (the public address, port 445).
    pub server: SocketAddrV4,
}

impl SmbSession {
    fn open(s: &BedSamba<'_>, addr: Ipv4Addr, timeout: Duration) -> Result<SmbSession> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let out = s.dir.join("tmp").join(format!("session-{seq}-{addr}.out"));
        let file = fs::File::create(&out)?;
        // stdin is a pipe, not a terminal, so smbclient reads commands
        // without readline: it polls the descriptor, then fgets(3) one
        // line; a buffered stdin would swallow a second line that came
        // with the first and leave it unseen until more input arrives, so
        // stdbuf makes stdin unbuffered (and stdout, which a file would
        // otherwise buffer until exit).
        let child = Command::new("ip")
            .args(["netns", "exec", &s.bed.client_ns(), "stdbuf", "-i0", "-o0", "-e0", "smbclient", "-s"])
            .arg(s.client_conf())
            .arg("-U")
            .arg(format!("{USER}%{PASSWORD}"))
            .arg(format!("//{addr}/{SHARE}"))
            .stdin(Stdio::piped())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .context("starting smbclient in the client namespace")?;
        let server = SocketAddrV4::new(addr, SMB_PORT);
        let mut sess = SmbSession {
            child,
            stdin: Arc::new(Mutex::new(None)),
            stop: Arc::new(AtomicBool::new(false)),
            feeder: None,
            out,
            local: SocketAddrV4::new(CLIENT_ADDR, 0),
            server,
        };
        *lock(&sess.stdin) = sess.child.stdin.take();
        let (stdin, stop) = (sess.stdin.clone(), sess.stop.clone());
        sess.feeder = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(w) = lock(&stdin).as_mut() {
                    // An error means smbclient has gone: nothing to keep
                    // quiet any more.
                    let _ = w.write_all(b"\n").and_then(|()| w.flush());
                }
                // Pacing, well inside smbclient's 5 s idle timeout (Drop
                // unparks it to stop at once).
                std::thread::park_timeout(Duration::from_secs(1));
            }
        }));
        sess.command("ls", timeout).with_context(|| format!("first ls through //{addr}/{SHARE}"))?;
        // `ip netns exec` and stdbuf exec, so the child is smbclient
        // itself; its one established connection to the address is the
        // session's.
        let pid = sess.child.id();
        let out = s.bed.exec(&s.bed.client_ns(), &["ss", "-Htnp", "state", "established"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mine = format!("pid={pid},");
        let local = text
            .lines()
            .filter(|l| l.contains(&mine))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let local: SocketAddrV4 = f.get(2)?.parse().ok()?;
                let peer: SocketAddrV4 = f.get(3)?.parse().ok()?;
                (peer == server).then_some(local)
            })
            .next()
            .with_context(|| format!("no established connection of smbclient (pid {pid}) to {server}:\n{text}"))?;
        sess.local = local;
        Ok(sess)
    }

    /// Everything smbclient has printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Send one command line without waiting for its answer; an error if
    /// smbclient has exited (its stdin is closed).
    pub fn send(&mut self, line: &str) -> Result<()> {
        let mut guard = lock(&self.stdin);
        let stdin = guard.as_mut().context("stdin closed")?;
        stdin.write_all(format!("{line}\n").as_bytes())?;
        stdin.flush()?;
        Ok(())
    }

    /// Send `line` and wait until its answer is complete: for `ls`, the
    /// closing `blocks available` line; an error naming what smbclient
    /// printed if it reports an `NT_STATUS_` error or exits instead.
    pub fn command(&mut self, line: &str, timeout: Duration) -> Result<String> {
        let before = self.output().len();
        self.send(line)?;
        let mut answer = String::new();
        let mut exited = None;
        let path = self.out.clone();
        let child = &mut self.child;
        wait_for(timeout, &format!("smbclient's answer to {line:?}"), || {
            let all = fs::read_to_string(&path).unwrap_or_default();
            answer = all.get(before..).unwrap_or_default().to_string();
            exited = child.try_wait().ok().flatten();
            answer.contains("blocks available") || answer.contains("NT_STATUS_") || exited.is_some()
        })
        .map_err(|e| anyhow::anyhow!("{e}; smbclient printed:\n{}", self.output()))?;
        if !answer.contains("blocks available") {
            bail!("{line:?} failed (smbclient exit: {exited:?}):\n{answer}");
        }
        Ok(answer)
    }

    /// Whether smbclient has exited, and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// smbclient's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SmbSession {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(f) = self.feeder.take() {
            f.thread().unpark();
            let _ = f.join();
        }
    }
}

/// A mutex's guard, also after a panic elsewhere poisoned it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ss() {
        let rows = parse_ss(
            "LISTEN 0      50           0.0.0.0:445        0.0.0.0:*\n\
             ESTAB  0      0     198.51.100.101:445 198.51.100.200:41234\n\
             CLOSE-WAIT 1  0     198.51.100.200:41234 198.51.100.101:445\n\
             LISTEN 0      50              [::]:445           [::]:*\n",
        );
        // Listening sockets (peer `*`) are not connections: left out.
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].state, "ESTAB");
        assert_eq!(rows[0].local, "198.51.100.101:445".parse().unwrap());
        assert_eq!(rows[1].state, "CLOSE-WAIT");
        assert_eq!(rows[1].peer, "198.51.100.101:445".parse().unwrap());
    }
}
