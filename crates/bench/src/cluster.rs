//! The two local clusters under test: Samba's ctdbd (Debian's package) and
//! ours (started with `ctdb-local`), each on its own loopback addresses and
//! in its own directory.
//!
//! A [`Cluster`] is a guard: it exists before the first daemon is started
//! and stops every daemon it started when dropped — after a failed
//! workload, a panic, or Ctrl-C — and only those (pids of the processes it
//! spawned, or read from the pid files of its own directory).

use std::fmt;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::Client;
use ctdb_legacy_proto::{pnn, recmode, runstate};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::procfs;
use crate::workload::Nodes;

/// Samba's daemon, as Debian installs it.
pub const SAMBA_CTDBD: &str = "/usr/sbin/ctdbd";
/// Samba's tool, used to shut its daemons down in order.
const SAMBA_CTDB: &str = "/usr/bin/ctdb";
/// Samba's helpers; test mode needs their paths in the environment.
const SAMBA_HELPERS: &str = "/usr/libexec/ctdb";
/// The node port both daemons use.
const NODE_PORT: u16 = 4379;
/// Samba's "no generation yet" (INVALID_GENERATION).
const INVALID_GENERATION: u32 = 1;
/// How long a stopped daemon gets to exit before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Which daemon a cluster runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// ctdb-rs, this workspace's `ctdbd`.
    CtdbRs,
    /// Samba's ctdbd from Debian's `ctdb` package.
    Samba,
}

impl Kind {
    /// JSON key and `--daemons` value.
    pub fn key(self) -> &'static str {
        match self {
            Kind::CtdbRs => "ctdb-rs",
            Kind::Samba => "samba",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::CtdbRs => "ctdb-rs",
            Kind::Samba => "Samba",
        })
    }
}

/// A running local cluster; stops its daemons when dropped.
pub struct Cluster {
    kind: Kind,
    dir: PathBuf,
    addrs: Vec<Ipv4Addr>,
    /// Samba: the daemons, spawned in the foreground (`-i`) so that they
    /// are our children and their pids are known without a pid file.
    children: Vec<Child>,
    /// ctdb-rs: the `ctdb-local` that started the cluster and stops it.
    local: Option<PathBuf>,
    /// Each node's daemon pid, known once the cluster is ready.
    pids: Vec<i32>,
    /// Samba: each node's event daemon, (pid, its ctdbd's pid).
    eventds: Vec<(i32, i32)>,
    stopped: bool,
}

impl Cluster {
    /// Start `n` Samba daemons on `base`, `base+1`, … in `dir`, laid out
    /// like CTDB's `local_daemons.sh` (one CTDB_BASE per node, a file
    /// cluster lock, failover off, test mode). Returns at once; see
    /// [`Cluster::wait_ready`].
    pub fn start_samba(dir: &Path, n: usize, base: Ipv4Addr) -> Result<Cluster> {
        if !Path::new(SAMBA_CTDBD).exists() {
            bail!("{SAMBA_CTDBD} not found: install Debian's ctdb package (apt-get install ctdb)");
        }
        let addrs = addresses(base, n)?;
        check_free(&addrs)?;
        let mut cluster = Cluster::new(Kind::Samba, dir, addrs.clone(), None);
        let nodes: String = addrs.iter().map(|a| format!("{a}\n")).collect();
        for (i, addr) in addrs.iter().enumerate() {
            let b = cluster.node_dir(i);
            for sub in ["run", "var/volatile", "var/persistent", "var/state", "events/legacy"] {
                std::fs::create_dir_all(b.join(sub)).with_context(|| format!("creating {}", b.join(sub).display()))?;
            }
            std::fs::write(b.join("nodes"), &nodes)?;
            let conf = format!(
                "[logging]\n\tlocation = file:{b}/log.ctdb\n\tlog level = NOTICE\n\
                 [cluster]\n\tnode address = {addr}\n\tcluster lock = {d}/cluster.lock\n\
                 [database]\n\tvolatile database directory = {b}/var/volatile\n\
                 \tpersistent database directory = {b}/var/persistent\n\
                 \tstate database directory = {b}/var/state\n\
                 [failover]\n\tdisabled = true\n",
                b = b.display(),
                d = dir.display(),
            );
            std::fs::write(b.join("ctdb.conf"), conf)?;
            // In the foreground (-i) ctdbd logs to stderr.
            let log = File::create(cluster.log_path(i))?;
            let mut cmd = Command::new(SAMBA_CTDBD);
            cmd.arg("-i")
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .env("CTDB_TEST_MODE", "yes")
                .env("CTDB_BASE", &b)
                .env("CTDB_EVENTD", format!("{SAMBA_HELPERS}/ctdb-eventd"))
                .env("CTDB_EVENT_HELPER", format!("{SAMBA_HELPERS}/ctdb-event"))
                .env("CTDB_LOCK_HELPER", format!("{SAMBA_HELPERS}/ctdb_lock_helper"))
                .env("CTDB_RECOVERY_HELPER", format!("{SAMBA_HELPERS}/ctdb_recovery_helper"))
                .env("CTDB_TAKEOVER_HELPER", format!("{SAMBA_HELPERS}/ctdb_takeover_helper"))
                .env("CTDB_CLUSTER_MUTEX_HELPER", format!("{SAMBA_HELPERS}/ctdb_mutex_fcntl_helper"))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            // SAFETY: the closure runs in the forked child before exec and
            // only makes the setsid and prctl system calls, which are
            // async-signal-safe.
            //
            // A session of its own, as a daemon started by a service manager
            // has (and as our ctdbd, which daemonises): Ctrl-C at the
            // terminal reaches only us, we stop the daemons in order, and
            // the scheduler treats both daemons alike (with autogroup each
            // session is its own scheduling group).
            //
            // If the bench dies without running its guards (SIGKILL), the
            // kernel sends the daemon SIGTERM. That signal follows the
            // spawning thread: clusters are started from the main thread.
            unsafe {
                cmd.pre_exec(|| {
                    nix::unistd::setsid()?;
                    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
                    Ok(())
                });
            }
            let child = cmd.spawn().with_context(|| format!("starting {SAMBA_CTDBD}"))?;
            cluster.children.push(child);
        }
        Ok(cluster)
    }

    /// Set up and start an `n`-node ctdb-rs cluster on `base`, `base+1`, …
    /// in `dir` with `ctdb-local` from `bin_dir` (which starts the `ctdbd`
    /// beside it). Returns once the daemons have started serving; see
    /// [`Cluster::wait_ready`].
    pub fn start_ours(dir: &Path, n: usize, base: Ipv4Addr, bin_dir: &Path) -> Result<Cluster> {
        let local = bin_dir.join("ctdb-local");
        let addrs = addresses(base, n)?;
        check_free(&addrs)?;
        let cluster = Cluster::new(Kind::CtdbRs, dir, addrs, Some(local.clone()));
        cluster.local(&["setup", "-n", &n.to_string(), "--base-addr", &base.to_string()])?;
        cluster.local(&["start", "all"])?;
        Ok(cluster)
    }

    fn new(kind: Kind, dir: &Path, addrs: Vec<Ipv4Addr>, local: Option<PathBuf>) -> Cluster {
        Cluster {
            kind,
            dir: dir.to_path_buf(),
            addrs,
            children: Vec::new(),
            local,
            pids: Vec::new(),
            eventds: Vec::new(),
            stopped: false,
        }
    }

    /// Which daemon.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Node addresses, in pnn order.
    pub fn addrs(&self) -> &[Ipv4Addr] {
        &self.addrs
    }

    /// What workloads see: the client socket of every node.
    pub fn nodes(&self) -> Nodes {
        Nodes { sockets: (0..self.addrs.len()).map(|i| self.socket(i)).collect() }
    }

    /// Each node's daemon pid (empty before [`Cluster::wait_ready`]).
    pub fn pids(&self) -> &[i32] {
        &self.pids
    }

    fn node_dir(&self, pnn: usize) -> PathBuf {
        self.dir.join(format!("node.{pnn}"))
    }

    fn socket(&self, pnn: usize) -> PathBuf {
        self.node_dir(pnn).join("run/ctdbd.socket")
    }

    fn log_path(&self, pnn: usize) -> PathBuf {
        self.node_dir(pnn).join("log.ctdb")
    }

    /// The last lines of every node's log, for error messages.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for pnn in 0..self.addrs.len() {
            let path = self.log_path(pnn);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {} node {pnn}: {} (last {lines} lines)\n", self.kind, path.display()));
            for l in &all[all.len().saturating_sub(lines)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    fn local(&self, args: &[&str]) -> Result<()> {
        let Some(local) = &self.local else { bail!("not a ctdb-local cluster") };
        let out = Command::new(local)
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", local.display()))?;
        if !out.status.success() {
            bail!(
                "ctdb-local {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Wait (at most `timeout`) until every node sees every node connected
    /// and healthy (node flags 0), is RUNNING, in recovery mode NORMAL and
    /// has a valid generation: what `ctdb status` shows as all OK after the
    /// first recovery. Both daemons are then in their steady state. Then
    /// learn the pids.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            self.check_alive()?;
            let last = match self.probe().await {
                Ok(()) => break,
                Err(e) => e,
            };
            if start.elapsed() > timeout {
                bail!(
                    "{} cluster not ready within {timeout:?} (last check: {last:#})\n{}",
                    self.kind,
                    self.log_tails(15)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.learn_pids()?;
        Ok(start.elapsed())
    }

    async fn probe(&self) -> Result<()> {
        const T: Duration = Duration::from_secs(2);
        let n = self.addrs.len();
        for i in 0..n {
            let c = tokio::time::timeout(T, Client::connect_with_timeout(&self.socket(i), T))
                .await
                .with_context(|| format!("node {i}: connect timed out"))?
                .with_context(|| format!("node {i}"))?;
            let map = c.get_nodemap(pnn::CURRENT_NODE, T).await.with_context(|| format!("node {i}: nodemap"))?;
            if map.nodes.len() != n {
                bail!("node {i} knows {} nodes, not {n}", map.nodes.len());
            }
            if let Some(bad) = map.nodes.iter().find(|nf| nf.flags != 0) {
                bail!("node {i} sees node {} with flags {:#x}", bad.pnn, bad.flags);
            }
            let rs = c.get_runstate(pnn::CURRENT_NODE, T).await?;
            if rs != runstate::RUNNING {
                bail!("node {i} runstate {}", runstate::name(rs));
            }
            if c.get_recmode(pnn::CURRENT_NODE, T).await? != recmode::NORMAL {
                bail!("node {i} is in recovery");
            }
            if c.get_vnnmap(pnn::CURRENT_NODE, T).await?.generation == INVALID_GENERATION {
                bail!("node {i} has no generation yet");
            }
            c.close().await;
        }
        Ok(())
    }

    fn learn_pids(&mut self) -> Result<()> {
        self.pids.clear();
        for i in 0..self.addrs.len() {
            let pid = match self.kind {
                Kind::Samba => i32::try_from(self.children[i].id()).context("pid out of range")?,
                Kind::CtdbRs => read_pid(&self.node_dir(i).join("run/ctdbd.pid"))?,
            };
            self.pids.push(pid);
            if self.kind == Kind::Samba {
                // Read now: the file may be gone once the daemon stops.
                if let Ok(e) = read_pid(&self.node_dir(i).join("run/eventd.pid")) {
                    self.eventds.push((e, pid));
                }
            }
        }
        Ok(())
    }

    /// Fail if any daemon has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        let mut dead = Vec::new();
        for (i, c) in self.children.iter_mut().enumerate() {
            if let Ok(Some(status)) = c.try_wait() {
                dead.push(format!("node {i} exited ({status})"));
            }
        }
        if self.kind == Kind::CtdbRs {
            for (i, &pid) in self.pids.iter().enumerate() {
                if !procfs::alive(pid) {
                    dead.push(format!("node {i} (pid {pid}) is gone"));
                }
            }
        }
        if !dead.is_empty() {
            bail!("{} daemon died: {}\n{}", self.kind, dead.join(", "), self.log_tails(15));
        }
        Ok(())
    }

    /// CPU time used so far by all the cluster's daemons together,
    /// with that of the child processes they started and waited for:
    /// Samba's ctdbd forks a child for every persistent write
    /// (UPDATE_RECORD) and runs lock helpers, ours runs lock helpers; that
    /// work is the daemon's. (Their context switches are gone with them.)
    pub fn cpu_time(&self) -> Result<Duration> {
        self.pids.iter().map(|&p| Ok(procfs::cpu_time(p)? + procfs::children_cpu_time(p)?)).sum()
    }

    /// Context switches so far of all the cluster's daemons together.
    pub fn context_switches(&self) -> Result<u64> {
        self.pids.iter().map(|&p| procfs::context_switches(p)).sum()
    }

    /// Resident and peak memory of each node's daemon.
    pub fn memory(&self) -> Result<Vec<procfs::Memory>> {
        self.pids.iter().map(|&p| procfs::memory(p)).collect()
    }

    /// Stop every daemon this cluster started. Idempotent; also run on drop.
    pub fn stop(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        match self.kind {
            Kind::CtdbRs => {
                // ctdb-local signals the pids in its own pid files: the
                // daemons it started for us.
                if self.local.is_some() {
                    self.local(&["stop", "all"])?;
                }
                Ok(())
            }
            Kind::Samba => self.stop_samba(),
        }
    }

    fn stop_samba(&mut self) -> Result<()> {
        // SHUTDOWN first, as `ctdb shutdown` sends it: the daemon then stops
        // its recovery daemon, cluster-lock helper and event daemon itself.
        // On SIGTERM alone the lock helper lingers for seconds.
        let mut tools = Vec::new();
        for (i, c) in self.children.iter_mut().enumerate() {
            if !matches!(c.try_wait(), Ok(None)) {
                continue;
            }
            let tool = Command::new(SAMBA_CTDB)
                .args(["-T", "5", "shutdown"])
                .env("CTDB_SOCKET", self.dir.join(format!("node.{i}/run/ctdbd.socket")))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // The tool signals its whole process group when -T expires.
                .process_group(0)
                .spawn();
            if let Ok(t) = tool {
                tools.push(t);
            }
        }
        let tools_deadline = Instant::now() + STOP_GRACE / 2;
        for mut t in tools {
            while matches!(t.try_wait(), Ok(None)) && Instant::now() < tools_deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = t.kill();
            let _ = t.wait();
        }
        // Then make sure: SIGTERM to what still runs, SIGKILL after the grace.
        let term_at = Instant::now() + STOP_GRACE / 2;
        let deadline = term_at + STOP_GRACE;
        let mut stuck = Vec::new();
        for c in &mut self.children {
            let mut termed = false;
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        if !termed && Instant::now() >= term_at {
                            if let Ok(pid) = i32::try_from(c.id()) {
                                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                            }
                            termed = true;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        stuck.push(c.id());
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                }
            }
        }
        // The event daemon notices its parent's death only on its next
        // check; end it now, but only if it still is the one our daemon
        // started (its command line names that daemon's pid).
        for &(eventd, parent) in &self.eventds {
            let cmd = procfs::cmdline(eventd);
            let ours = cmd.first().is_some_and(|c| c.ends_with("ctdb-eventd"))
                && cmd.windows(2).any(|w| w[0] == "-P" && w[1] == parent.to_string());
            if ours {
                let _ = kill(Pid::from_raw(eventd), Signal::SIGTERM);
            }
        }
        if !stuck.is_empty() {
            bail!("Samba ctdbd {stuck:?} ignored SHUTDOWN and SIGTERM for {STOP_GRACE:?} and was killed");
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("ctdb-bench: stopping the {} cluster: {e:#}", self.kind);
        }
    }
}

/// `n` consecutive addresses from `base`.
fn addresses(base: Ipv4Addr, n: usize) -> Result<Vec<Ipv4Addr>> {
    if !base.is_loopback() {
        bail!("{base} is not a loopback address: the bench only uses 127.0.0.0/8");
    }
    let first = u32::from(base);
    let n32 = u32::try_from(n).context("too many nodes")?;
    if n == 0 || first.checked_add(n32).map_or(true, |end| !Ipv4Addr::from(end - 1).is_loopback()) {
        bail!("{n} nodes do not fit in 127.0.0.0/8 after {base}");
    }
    Ok((0..n32).map(|i| Ipv4Addr::from(first + i)).collect())
}

/// Fail early, with a clear message, if a node address is taken (most
/// likely by a cluster an earlier, killed run left behind).
fn check_free(addrs: &[Ipv4Addr]) -> Result<()> {
    for a in addrs {
        let sa = SocketAddrV4::new(*a, NODE_PORT);
        if let Err(e) = TcpListener::bind(sa) {
            bail!("{sa} is not free ({e}): is a cluster from an earlier run still up?");
        }
    }
    Ok(())
}

fn read_pid(path: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.trim().parse().with_context(|| format!("bad pid in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_stay_in_loopback() {
        assert_eq!(
            addresses(Ipv4Addr::new(127, 0, 40, 1), 3).unwrap(),
            vec![Ipv4Addr::new(127, 0, 40, 1), Ipv4Addr::new(127, 0, 40, 2), Ipv4Addr::new(127, 0, 40, 3)]
        );
        assert!(addresses(Ipv4Addr::new(10, 0, 0, 1), 3).is_err());
        assert!(addresses(Ipv4Addr::new(127, 255, 255, 254), 3).is_err());
        assert!(addresses(Ipv4Addr::new(127, 0, 0, 1), 0).is_err());
    }
}
