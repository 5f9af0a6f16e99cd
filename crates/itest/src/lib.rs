//! Harness for tests that run real daemons: a local cluster made with
//! `ctdb-local`, our `ctdb`, Debian's `/usr/bin/ctdb`, and the client
//! library.
//!
//! Binaries are taken from the cargo target directory this test runs from,
//! so the test command must build them first (`cargo build --workspace
//! --bins`, which the README's test command does).
//!
//! Every cluster lives in its own temporary directory on its own loopback
//! /24-ish range (`base`), so test files can run in parallel; dropping a
//! [`Cluster`] stops every daemon it started, also when a test fails.

pub mod failover_measure;
pub mod netns;
pub mod netns_samba;
pub mod samba;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::Client;
use ctdb_legacy_proto::{pnn, NodeMap, Opcode, VnnMap, Wire};

/// Test clusters elect faster than the 5 s default.
pub const LEADER_TIMEOUT_OPTION: &str = "cluster:leader timeout=2";

/// Where cargo put the binaries of this build.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>
    exe.parent().and_then(Path::parent).map(Path::to_path_buf).expect("target directory")
}

/// Path of one of our binaries; panics with a hint if it was not built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.exists(), "{} not built: run `cargo build --workspace --bins` first", p.display());
    p
}

/// Debian's `ctdb` tool, if installed.
pub fn debian_ctdb() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/ctdb");
    p.exists().then_some(p)
}

/// Poll `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Result<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A local cluster of ctdb-rs daemons.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// Number of nodes.
    pub n: u32,
    /// Address of node 0.
    pub base: Ipv4Addr,
}

impl Cluster {
    /// Set up (not start) an `n`-node cluster on `base`, `base+1`, … with
    /// extra ctdb.tunables lines and the test default `leader timeout = 2`.
    pub fn setup(n: u32, base: Ipv4Addr, tunables: &[&str]) -> Result<Cluster> {
        Cluster::setup_with(n, base, tunables, &[LEADER_TIMEOUT_OPTION])
    }

    /// Set up with extra ctdb.conf settings (`SECTION:KEY=VALUE`).
    pub fn setup_with(n: u32, base: Ipv4Addr, tunables: &[&str], options: &[&str]) -> Result<Cluster> {
        let dir = tempfile::Builder::new().prefix("ctdb-itest").tempdir()?;
        let c = Cluster { dir, n, base };
        let mut args = vec!["setup".to_string(), "-n".into(), n.to_string(), "--base-addr".into(), base.to_string()];
        for t in tunables {
            args.push("--tunable".into());
            args.push(t.to_string());
        }
        for o in options {
            args.push("--option".into());
            args.push(o.to_string());
        }
        c.local(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(c)
    }

    /// Set up and start, then wait until the cluster is ready: every node
    /// connected, recovered, at one generation.
    pub fn start(n: u32, base: Ipv4Addr, tunables: &[&str]) -> Result<Cluster> {
        let c = Cluster::setup(n, base, tunables)?;
        c.local(&["start", "all"])?;
        c.wait_ready(Duration::from_secs(30))?;
        Ok(c)
    }

    /// A control to node `pnn` through its own socket (2 s timeout).
    pub fn control(&self, pnn: u32, opcode: Opcode, data: Vec<u8>) -> Result<ctdb_legacy_proto::ReplyControl> {
        let socket = self.socket(pnn);
        block_on(async move {
            let c = Client::connect(&socket).await?;
            Ok(c.control(pnn::CURRENT_NODE, opcode, 0, 0, data, Duration::from_secs(2)).await?)
        })
    }

    /// Recovery mode and generation as node `pnn` reports them.
    pub fn recmode_generation(&self, pnn: u32) -> Option<(i32, u32)> {
        let recmode = self.control(pnn, Opcode::GET_RECMODE, Vec::new()).ok()?.status;
        let vnnmap = self.control(pnn, Opcode::GETVNNMAP, Vec::new()).ok()?;
        Some((recmode, VnnMap::from_bytes(&vnnmap.data).ok()?.generation))
    }

    /// Every running node in normal mode at one valid generation.
    pub fn agreed_generation(&self, nodes: &[u32]) -> Option<u32> {
        let views: Vec<(i32, u32)> = nodes.iter().map(|&p| self.recmode_generation(p)).collect::<Option<_>>()?;
        let g = views.first()?.1;
        views.iter().all(|&(mode, gen)| mode == 0 && gen == g && gen != 1).then_some(g)
    }

    /// Wait until every node sees every node connected, and all are
    /// recovered at one generation.
    pub fn wait_ready(&self, timeout: Duration) -> Result<Duration> {
        let all: Vec<u32> = (0..self.n).collect();
        wait_for(timeout, "cluster connected and recovered", || {
            (0..self.n).all(|by| (0..self.n).all(|of| self.flags(by, of) == Some(0)))
                && self.agreed_generation(&all).is_some()
        })
    }

    /// The leader as node `pnn` hears it: register for the LEADER srvid and
    /// wait (≤ 3 s) for the next broadcast.
    pub fn leader(&self, pnn: u32) -> Option<u32> {
        let socket = self.socket(pnn);
        block_on(async move {
            let c = Client::connect(&socket).await.ok()?;
            c.register_srvid(ctdb_legacy_proto::srvid::LEADER).await.ok()?;
            let m = tokio::time::timeout(Duration::from_secs(3), c.next_message()).await.ok()??;
            let b: [u8; 4] = m.data.get(..4)?.try_into().ok()?;
            Some(u32::from_le_bytes(b)).filter(|&l| l != u32::MAX)
        })
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A node's CTDB_BASE.
    pub fn node_dir(&self, pnn: u32) -> PathBuf {
        self.dir().join(format!("node.{pnn}"))
    }

    /// A node's socket.
    pub fn socket(&self, pnn: u32) -> PathBuf {
        self.node_dir(pnn).join("run/ctdbd.socket")
    }

    /// A node's log text.
    pub fn log(&self, pnn: u32) -> String {
        std::fs::read_to_string(self.node_dir(pnn).join("log.ctdb")).unwrap_or_default()
    }

    /// A node's daemon pid, from its pid file.
    pub fn pid(&self, pnn: u32) -> Option<i32> {
        std::fs::read_to_string(self.node_dir(pnn).join("run/ctdbd.pid")).ok()?.trim().parse().ok()
    }

    /// Run `ctdb-local DIR args…`; error unless it succeeds.
    pub fn local(&self, args: &[&str]) -> Result<Output> {
        let out = Command::new(bin("ctdb-local")).arg(self.dir()).args(args).output()?;
        if !out.status.success() {
            bail!(
                "ctdb-local {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out)
    }

    /// Run a `ctdb` binary against node `pnn`'s socket.
    pub fn run_ctdb(&self, ctdb: &Path, pnn: u32, args: &[&str]) -> Output {
        Command::new(ctdb)
            .env("CTDB_SOCKET", self.socket(pnn))
            .env("CTDB_BASE", self.node_dir(pnn))
            .env("CTDB_TEST_MODE", "yes")
            .args(args)
            .output()
            .expect("running ctdb")
    }

    /// Debian's `ctdb` against node `pnn`, killed after `limit` (a hung
    /// tool fails its test instead of hanging it).
    pub fn run_debian(&self, pnn: u32, limit: Duration, args: &[&str]) -> Output {
        let tool = debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: the README test command installs it");
        Command::new("timeout")
            .args(["-s", "KILL", &limit.as_secs().max(1).to_string()])
            .arg(tool)
            .args(args)
            .env("CTDB_SOCKET", self.socket(pnn))
            .env("CTDB_BASE", self.node_dir(pnn))
            .env("CTDB_TEST_MODE", "yes")
            .output()
            .expect("running timeout and ctdb")
    }

    /// Our `ctdb` against node `pnn`.
    pub fn ctdb(&self, pnn: u32, args: &[&str]) -> Output {
        self.run_ctdb(&bin("ctdb"), pnn, args)
    }

    /// The nodemap as node `pnn` reports it (client library, 2 s timeout).
    pub fn nodemap(&self, pnn: u32) -> Result<NodeMap> {
        let socket = self.socket(pnn);
        block_on(async move {
            let c = Client::connect(&socket).await?;
            let r = c.control(pnn::CURRENT_NODE, Opcode::GET_NODEMAP, 0, 0, Vec::new(), Duration::from_secs(2)).await?;
            if r.status != 0 {
                bail!("GET_NODEMAP failed: {}", r.status);
            }
            Ok(NodeMap::from_bytes(&r.data)?)
        })
    }

    /// Flags of `of` as seen by `by`.
    pub fn flags(&self, by: u32, of: u32) -> Option<u32> {
        self.nodemap(by).ok()?.nodes.iter().find(|n| n.pnn == of).map(|n| n.flags)
    }

    /// Wait until every node reports every node with flags 0.
    pub fn wait_all_connected(&self, timeout: Duration) -> Result<Duration> {
        wait_for(timeout, "all nodes connected", || {
            (0..self.n).all(|by| (0..self.n).all(|of| self.flags(by, of) == Some(0)))
        })
    }

    /// `kill -9` a node's daemon.
    pub fn kill9(&self, pnn: u32) -> Result<()> {
        let pid = self.pid(pnn).context("no pid file")?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL)?;
        // Dead means gone or a zombie: whoever reaps orphans here (pid 1
        // of a container) may take its time, and a zombie holds nothing.
        wait_for(Duration::from_secs(5), "killed daemon to die", || {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            }
        })?;
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(bin("ctdb-local")).arg(self.dir()).args(["stop", "all"]).output();
        // For a post-mortem: CTDB_ITEST_KEEP=1 leaves the directory (logs,
        // databases) behind and says where.
        if std::env::var_os("CTDB_ITEST_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("itest: cluster directory kept at {}", self.dir().display());
        }
    }
}

/// Clients registered for the LEADER srvid on some nodes, to time leader
/// changes by the broadcasts themselves rather than by polling.
pub struct LeaderWatch {
    clients: Vec<(u32, Client)>,
}

impl LeaderWatch {
    /// Register on each of `nodes`.
    pub fn new(c: &Cluster, nodes: &[u32]) -> Result<LeaderWatch> {
        let mut clients = Vec::new();
        for &p in nodes {
            let socket = c.socket(p);
            let cl = block_on(async move {
                let cl = Client::connect(&socket).await?;
                cl.register_srvid(ctdb_legacy_proto::srvid::LEADER).await?;
                anyhow::Ok(cl)
            })?;
            clients.push((p, cl));
        }
        Ok(LeaderWatch { clients })
    }

    /// Wait until every watched node has announced a leader for which
    /// `accept` holds, all the same one; returns it.
    pub fn wait(&self, timeout: Duration, accept: impl Fn(u32) -> bool) -> Result<u32> {
        let deadline = tokio::time::Instant::now() + timeout;
        block_on(async {
            let mut seen: Vec<Option<u32>> = vec![None; self.clients.len()];
            loop {
                for (i, (pnn, cl)) in self.clients.iter().enumerate() {
                    while let Some(m) = cl.try_next_message() {
                        let l = m.data.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
                        seen[i] = l.filter(|&l| l != u32::MAX && accept(l));
                        let _ = pnn;
                    }
                }
                if let Some(Some(first)) = seen.first() {
                    if seen.iter().all(|s| *s == Some(*first)) {
                        return Ok(*first);
                    }
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("no agreed leader within {timeout:?}: {seen:?}");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    }
}

/// Run a future on the test process's runtime (tests are synchronous). One
/// shared multi-thread runtime, so a client made in one call keeps its
/// background reader running for the next.
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("tokio runtime")
    })
    .block_on(f)
}
