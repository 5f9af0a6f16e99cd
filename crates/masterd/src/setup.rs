//! Reading and checking every configuration source before anything starts.

use std::net::IpAddr;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ctdb_cluster_lock::helper_command;
use ctdb_config::{is_local_address, CtdbConf, NodesFile, NodesSource, Paths, Tunables};

/// Everything the daemon starts from.
#[derive(Debug)]
pub struct Loaded {
    /// Where files live.
    pub paths: Paths,
    /// ctdb.conf.
    pub conf: CtdbConf,
    /// The nodes file, one entry per pnn (`None` = deleted).
    pub nodes: Vec<Option<IpAddr>>,
    /// This node.
    pub pnn: u32,
    /// Tunables after ctdb.tunables.
    pub tunables: Tunables,
    /// Problems in ctdb.tunables (logged once logging is up; CTDB ignores
    /// bad lines there and so do we).
    pub tunable_warnings: Vec<String>,
    /// The cluster lock helper's command line, if a lock is configured.
    pub lock_command: Option<(PathBuf, Vec<String>)>,
    /// Where the node list comes from.
    pub nodes_source: NodesSource,
}

/// Load paths, ctdb.conf, the nodes file and the tunables; find our pnn.
pub fn load() -> Result<Loaded> {
    let paths = Paths::from_env().context("bad environment")?;
    let conf_path = paths.ctdb_conf();
    let conf = CtdbConf::load(&conf_path, &paths)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("Failed to load configuration file {}", conf_path.display()))?;
    conf.validate_dirs().map_err(|e| anyhow!("{e}"))?;
    let nodes_source = NodesSource::from_conf(&conf, &paths);
    let nodes_file = read_nodes(&nodes_source)
        .with_context(|| format!("Failed to read nodes from \"{}\"", nodes_source.describe()))?;
    let nodes: Vec<Option<IpAddr>> = nodes_file.nodes.iter().map(|n| n.addr).collect();
    let pnn = nodes_file.own_pnn(conf.cluster.node_address, is_local_address).ok_or_else(|| {
        match conf.cluster.node_address {
            Some(a) => anyhow!("node address {a} is not in the node list {}", nodes_source.describe()),
            None => anyhow!("no address of the node list {} is local to this host", nodes_source.describe()),
        }
    })?;
    let mut tunables = Tunables::defaults();
    let tunable_warnings = tunables.load_file(&paths.tunables_file());
    let lock_value = conf.cluster.cluster_lock.clone().or_else(|| conf.cluster.recovery_lock.clone());
    let lock_command = match lock_value {
        None => None,
        Some(v) => {
            let cmd = helper_command(&v, &default_lock_helper())
                .ok_or_else(|| anyhow!("[cluster] cluster lock: empty helper command {v:?}"))?;
            if !is_executable(&cmd.0) {
                bail!("[cluster] cluster lock: helper {} does not exist or is not executable", cmd.0.display());
            }
            let mut cmd = cmd;
            if !v.starts_with('!') && Some(&cmd.0) == own_fcntl_helper().as_ref() {
                // Our helper also watches for the daemon's pings, so a
                // wedged daemon cannot sit on the lock; Samba's helper is
                // given exactly what Samba gives it.
                cmd.1.extend([FCNTL_RECHECK_INTERVAL.to_string(), FCNTL_PING_TIMEOUT.to_string()]);
            }
            Some(cmd)
        }
    };
    Ok(Loaded { paths, conf, nodes, pnn, tunables, tunable_warnings, lock_command, nodes_source })
}

/// How long `nodes list = !command` may take at start-up.
const NODES_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Read the node list at start-up (before any runtime exists, so plainly
/// blocking, but bounded: a hanging command is killed).
fn read_nodes(source: &NodesSource) -> Result<NodesFile> {
    match source {
        NodesSource::File(path) => NodesFile::load(path).map_err(|e| anyhow!("{e}")),
        NodesSource::Command(program, args) => {
            let mut child = Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .with_context(|| format!("cannot run {}", program.display()))?;
            let mut stdout = child.stdout.take().context("no stdout pipe")?;
            // Read in a thread so a command that fills the pipe and one that
            // hangs are both handled by the one deadline below.
            let reader = std::thread::spawn(move || {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut stdout, &mut text).map(|_| text)
            });
            let deadline = Instant::now() + NODES_COMMAND_TIMEOUT;
            let status = loop {
                if let Some(st) = child.try_wait()? {
                    break st;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("{} did not finish within {NODES_COMMAND_TIMEOUT:?}", program.display());
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            if !status.success() {
                bail!("{} failed: {status}", program.display());
            }
            let text = reader.join().map_err(|_| anyhow!("reader thread failed"))??;
            NodesFile::parse(&text, Path::new(&source.describe())).map_err(|e| anyhow!("{e}"))
        }
    }
}

/// Seconds between our fcntl helper's re-checks of the lock file. Each
/// costs a stat and a lock test; every second so that a leader whose
/// cluster file system has expelled it lets the others lead within about
/// a second (Samba's default is 5).
const FCNTL_RECHECK_INTERVAL: u32 = 1;
/// Seconds without a ping after which our fcntl helper lets go.
const FCNTL_PING_TIMEOUT: u32 = 10;

/// Our fcntl helper, installed beside `ctdbd`, if it is there.
fn own_fcntl_helper() -> Option<PathBuf> {
    let p = std::env::current_exe().ok()?.parent()?.join("ctdb_mutex_fcntl_helper");
    p.exists().then_some(p)
}

/// The fcntl helper for a `cluster lock = PATH`: `CTDB_CLUSTER_MUTEX_HELPER`
/// as in Samba; else ours; else Samba's.
fn default_lock_helper() -> PathBuf {
    if let Some(p) = std::env::var_os("CTDB_CLUSTER_MUTEX_HELPER") {
        return PathBuf::from(p);
    }
    own_fcntl_helper().unwrap_or_else(|| PathBuf::from("/usr/libexec/ctdb/ctdb_mutex_fcntl_helper"))
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
