//! `ctdb-local`: run a cluster of ctdb-rs daemons on one machine, shaped like
//! CTDB's own `tests/local_daemons.sh`.
//!
//! ```text
//! ctdb-local DIR setup -n 3 [--tunable KeepaliveInterval=1 …] [--option 'cluster:leader timeout=2' …]
//!                          [--base-addr 127.0.5.1] [--no-cluster-lock]
//! ctdb-local DIR start all|PNN
//! ctdb-local DIR stop all|PNN
//! ctdb-local DIR onnode all|PNN COMMAND…
//! ctdb-local DIR print-socket PNN
//! ctdb-local DIR print-log PNN
//! ```
//!
//! Node N (from 0) gets address 127.0.0.(N+1) (or `--base-addr` + N) and the directory
//! `DIR/node.N`, used as its `CTDB_BASE` in test mode, so its socket is
//! `DIR/node.N/run/ctdbd.socket` and its log `DIR/node.N/log.ctdb`. The
//! cluster lock is the file `DIR/shared/cluster.lock`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ctdb-local", about = "Run a local ctdb-rs cluster on 127.0.0.x")]
struct Cli {
    /// Directory holding the cluster's configuration and state.
    dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write the configuration of an N-node cluster.
    Setup {
        /// Number of nodes.
        #[arg(short = 'n', default_value_t = 3)]
        nodes: u32,
        /// Extra `Name=Value` lines for every node's ctdb.tunables.
        #[arg(long = "tunable")]
        tunables: Vec<String>,
        /// Leave `cluster lock` unset.
        #[arg(long)]
        no_cluster_lock: bool,
        /// Address of node 0; node N gets this address plus N
        /// (default 127.0.0.1). Lets several clusters share one machine.
        #[arg(long, default_value = "127.0.0.1")]
        base_addr: std::net::Ipv4Addr,
        /// Extra ctdb.conf setting `SECTION:KEY=VALUE` for every node, e.g.
        /// `--option "cluster:leader timeout=2"`.
        #[arg(long = "option")]
        options: Vec<String>,
    },
    /// Start the daemon of one node, or all of them.
    Start {
        /// `all` or a pnn.
        which: String,
    },
    /// Stop the daemon of one node, or all of them.
    Stop {
        /// `all` or a pnn.
        which: String,
    },
    /// Run a command with a node's CTDB_BASE and CTDB_SOCKET.
    Onnode {
        /// `all` or a pnn.
        which: String,
        /// Print `>> NODE: pnn <<` before each node's output.
        #[arg(short = 'v')]
        verbose: bool,
        /// The command.
        #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Print a node's socket path.
    PrintSocket {
        /// The pnn.
        pnn: u32,
    },
    /// Print a node's log.
    PrintLog {
        /// `all` or a pnn.
        which: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("ctdb-local: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn node_dir(dir: &Path, pnn: u32) -> PathBuf {
    dir.join(format!("node.{pnn}"))
}

fn socket(dir: &Path, pnn: u32) -> PathBuf {
    node_dir(dir, pnn).join("run/ctdbd.socket")
}

fn num_nodes(dir: &Path) -> Result<u32> {
    let text = std::fs::read_to_string(dir.join("nodes"))
        .with_context(|| format!("{} is not set up (run `ctdb-local {} setup`)", dir.display(), dir.display()))?;
    Ok(text.lines().filter(|l| !l.trim().is_empty()).count() as u32)
}

fn which_nodes(dir: &Path, which: &str) -> Result<Vec<u32>> {
    let n = num_nodes(dir)?;
    if which == "all" {
        return Ok((0..n).collect());
    }
    let mut out = Vec::new();
    for part in which.split(',') {
        let p: u32 = part.parse().with_context(|| format!("bad node {part:?}: expected all or a pnn"))?;
        if p >= n {
            bail!("node {p} does not exist (cluster has {n} nodes)");
        }
        out.push(p);
    }
    Ok(out)
}

/// Directory of this executable: `ctdbd` and `ctdb` are looked up there
/// first, so a cluster built by cargo uses the binaries built with it.
fn bin_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(Path::to_path_buf)
}

fn path_with_bin_dir() -> std::ffi::OsString {
    let mut parts: Vec<PathBuf> = bin_dir().into_iter().collect();
    if let Some(p) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(parts).unwrap_or_default()
}

fn node_command(dir: &Path, pnn: u32, program: &str) -> Command {
    let mut c = Command::new(program);
    c.env("CTDB_TEST_MODE", "yes")
        .env("CTDB_BASE", node_dir(dir, pnn))
        .env("CTDB_SOCKET", socket(dir, pnn))
        .env("PATH", path_with_bin_dir());
    c
}

fn run(cli: Cli) -> Result<u8> {
    let dir = std::path::absolute(&cli.dir).context("resolving DIR")?;
    match cli.cmd {
        Cmd::Setup { nodes, tunables, no_cluster_lock, base_addr, options } => {
            setup(&dir, &SetupOpts { nodes, tunables, no_cluster_lock, base: base_addr, options }).map(|_| 0)
        }
        Cmd::Start { which } => {
            for pnn in which_nodes(&dir, &which)? {
                let status = node_command(&dir, pnn, "ctdbd").status().context("running ctdbd")?;
                if !status.success() {
                    bail!(
                        "ctdbd for node {pnn} failed to start ({status}); see {}",
                        node_dir(&dir, pnn).join("log.ctdb").display()
                    );
                }
            }
            Ok(0)
        }
        Cmd::Stop { which } => {
            for pnn in which_nodes(&dir, &which)? {
                stop(&dir, pnn)?;
            }
            Ok(0)
        }
        Cmd::Onnode { which, verbose, command } => {
            let mut rc = 0u8;
            for pnn in which_nodes(&dir, &which)? {
                if verbose {
                    println!(">> NODE: {pnn} <<");
                }
                let status = node_command(&dir, pnn, &command[0])
                    .args(&command[1..])
                    .status()
                    .with_context(|| format!("running {}", command[0]))?;
                if !status.success() {
                    rc = status.code().unwrap_or(1).clamp(1, 255) as u8;
                }
            }
            Ok(rc)
        }
        Cmd::PrintSocket { pnn } => {
            println!("{}", socket(&dir, pnn).display());
            Ok(0)
        }
        Cmd::PrintLog { which } => {
            for pnn in which_nodes(&dir, &which)? {
                let log = node_dir(&dir, pnn).join("log.ctdb");
                let text = std::fs::read_to_string(&log).with_context(|| format!("reading {}", log.display()))?;
                print!("{text}");
            }
            Ok(0)
        }
    }
}

/// Everything `setup` takes.
struct SetupOpts {
    nodes: u32,
    tunables: Vec<String>,
    no_cluster_lock: bool,
    base: std::net::Ipv4Addr,
    options: Vec<String>,
}

fn setup(dir: &Path, o: &SetupOpts) -> Result<()> {
    let first = o.base.octets()[3];
    if o.nodes == 0 || u32::from(first) + o.nodes > 255 {
        bail!("{} nodes do not fit after {}", o.nodes, o.base);
    }
    let addr = |pnn: u32| std::net::Ipv4Addr::from(u32::from(o.base) + pnn);
    let nodes: String = (0..o.nodes).map(|i| format!("{}\n", addr(i))).collect();
    std::fs::create_dir_all(dir.join("shared"))?;
    std::fs::write(dir.join("nodes"), &nodes)?;
    for tunable in &o.tunables {
        if !tunable.contains('=') {
            bail!("--tunable takes Name=Value, got {tunable:?}");
        }
    }
    let mut extra = Vec::new();
    for opt in &o.options {
        let parsed = opt.split_once(':').and_then(|(sec, kv)| {
            let (k, v) = kv.split_once('=')?;
            Some((sec.trim().to_string(), k.trim().to_string(), v.trim().to_string()))
        });
        match parsed {
            Some(t) => extra.push(t),
            None => bail!("--option takes SECTION:KEY=VALUE, got {opt:?}"),
        }
    }
    for pnn in 0..o.nodes {
        let nd = node_dir(dir, pnn);
        // events/legacy: the node's enabled event scripts; share/: where
        // shipped scripts live in test mode (`ctdb event script list`).
        for sub in ["run", "var/volatile", "var/persistent", "var/state", "events/legacy", "share/events/legacy"] {
            std::fs::create_dir_all(nd.join(sub))?;
        }
        link_shipped_scripts(&nd)?;
        std::fs::write(nd.join("nodes"), &nodes)?;
        let s = |p: &Path| p.display().to_string();
        let mut conf: Vec<(String, Vec<(String, String)>)> = vec![
            (
                "logging".into(),
                vec![
                    ("location".into(), format!("file:{}", s(&nd.join("log.ctdb")))),
                    ("log level".into(), "NOTICE".into()),
                ],
            ),
            ("cluster".into(), vec![("node address".into(), addr(pnn).to_string())]),
            (
                "database".into(),
                vec![
                    ("volatile database directory".into(), s(&nd.join("var/volatile"))),
                    ("persistent database directory".into(), s(&nd.join("var/persistent"))),
                    ("state database directory".into(), s(&nd.join("var/state"))),
                ],
            ),
            ("failover".into(), vec![("disabled".into(), "true".into())]),
        ];
        if !o.no_cluster_lock {
            conf[1].1.push(("cluster lock".into(), s(&dir.join("shared/cluster.lock"))));
        }
        for (sec, key, value) in &extra {
            let idx = match conf.iter().position(|(n, _)| n == sec) {
                Some(i) => i,
                None => {
                    conf.push((sec.clone(), Vec::new()));
                    conf.len() - 1
                }
            };
            let keys = &mut conf[idx].1;
            match keys.iter_mut().find(|(k, _)| k == key) {
                Some(kv) => kv.1 = value.clone(),
                None => keys.push((key.clone(), value.clone())),
            }
        }
        let mut text = String::new();
        for (sec, keys) in &conf {
            text.push_str(&format!("[{sec}]\n"));
            for (k, v) in keys {
                text.push_str(&format!("\t{k} = {v}\n"));
            }
            text.push('\n');
        }
        std::fs::write(nd.join("ctdb.conf"), text)?;
        let mut t = String::new();
        for line in &o.tunables {
            t.push_str(line);
            t.push('\n');
        }
        std::fs::write(nd.join("ctdb.tunables"), t)?;
    }
    Ok(())
}

/// Running, as opposed to gone or a zombie waiting for whoever reaps
/// orphans (that may be slow in a container, and a zombie holds nothing).
fn alive(pid: nix::unistd::Pid) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn stop(dir: &Path, pnn: u32) -> Result<()> {
    let pidfile = node_dir(dir, pnn).join("run/ctdbd.pid");
    let Ok(text) = std::fs::read_to_string(&pidfile) else {
        return Ok(()); // not running
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        bail!("bad pid file {}", pidfile.display());
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    use nix::sys::signal::{kill, Signal};
    if kill(pid, Signal::SIGTERM).is_err() {
        // Stale pid file of a daemon killed hard.
        let _ = std::fs::remove_file(&pidfile);
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        if Instant::now() > deadline {
            let _ = kill(pid, Signal::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(&pidfile);
    Ok(())
}

/// Debian's shell library and shipped event scripts, where scripts look
/// for them in test mode: `$CTDB_BASE/functions` and
/// `$CTDB_BASE/share/events/legacy/` (the datadir), so that `ctdb event
/// script enable legacy 50.samba` works as on an installed node. None is
/// enabled. Skipped when Debian's ctdb package is not installed.
fn link_shipped_scripts(nd: &Path) -> Result<()> {
    let functions = Path::new("/etc/ctdb/functions");
    if functions.exists() && !nd.join("functions").exists() {
        std::os::unix::fs::symlink(functions, nd.join("functions"))?;
    }
    let shipped = Path::new("/usr/share/ctdb/events/legacy");
    let Ok(entries) = std::fs::read_dir(shipped) else { return Ok(()) };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().ends_with(".script") {
            continue;
        }
        let link = nd.join("share/events/legacy").join(&name);
        if !link.exists() {
            std::os::unix::fs::symlink(e.path(), link)?;
        }
    }
    Ok(())
}
