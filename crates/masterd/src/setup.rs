//! Reading and checking every configuration source before anything starts.

use std::net::IpAddr;

use anyhow::{anyhow, Context, Result};
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
    Ok(Loaded { paths, conf, nodes, pnn, tunables, tunable_warnings })
}
