//! Reading and checking every configuration source before anything starts.

use std::net::IpAddr;

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use ctdb_cluster_lock::helper_command;
use ctdb_config::{is_local_address, CtdbConf, NodesFile, Paths, Tunables};

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
}

/// Load paths, ctdb.conf, the nodes file and the tunables; find our pnn.
pub fn load() -> Result<Loaded> {
    let paths = Paths::from_env().context("bad environment")?;
    let conf_path = paths.ctdb_conf();
    let conf = CtdbConf::load(&conf_path, &paths)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("Failed to load configuration file {}", conf_path.display()))?;
    conf.validate_dirs().map_err(|e| anyhow!("{e}"))?;
    let nodes_path = paths.nodes_file();
    let nodes_file = NodesFile::load(&nodes_path)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("Failed to read nodes file \"{}\"", nodes_path.display()))?;
    let nodes: Vec<Option<IpAddr>> = nodes_file.nodes.iter().map(|n| n.addr).collect();
    let pnn = nodes_file.own_pnn(conf.cluster.node_address, is_local_address).ok_or_else(|| {
        match conf.cluster.node_address {
            Some(a) => anyhow!("node address {a} is not in the nodes file {}", nodes_path.display()),
            None => anyhow!("no address of the nodes file {} is local to this host", nodes_path.display()),
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
            Some(cmd)
        }
    };
    Ok(Loaded { paths, conf, nodes, pnn, tunables, tunable_warnings, lock_command })
}

/// The fcntl helper for a `cluster lock = PATH`: `CTDB_CLUSTER_MUTEX_HELPER`
/// as in Samba; else ours, installed beside `ctdbd`; else Samba's.
fn default_lock_helper() -> PathBuf {
    if let Some(p) = std::env::var_os("CTDB_CLUSTER_MUTEX_HELPER") {
        return PathBuf::from(p);
    }
    let ours = std::env::current_exe().ok().and_then(|e| Some(e.parent()?.join("ctdb_mutex_fcntl_helper")));
    match ours {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("/usr/libexec/ctdb/ctdb_mutex_fcntl_helper"),
    }
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
