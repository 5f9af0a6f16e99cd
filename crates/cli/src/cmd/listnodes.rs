//! `ctdb listnodes`: the nodes file, no daemon needed.

use std::net::IpAddr;

use serde::Serialize;

use ctdb_config::{ConfigError, NodesFile, Paths};

use super::Ctx;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};

/// One node of the nodes file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedNode {
    /// Its pnn (position in the file).
    pub pnn: u32,
    /// Its address.
    pub address: IpAddr,
}

/// `ctdb listnodes`: the non-deleted nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeList {
    /// Nodes in pnn order, deleted slots left out.
    pub nodes: Vec<ListedNode>,
}

impl NodeList {
    /// The non-deleted nodes of a nodes file.
    pub fn from_file(file: &NodesFile) -> NodeList {
        NodeList {
            nodes: file.nodes.iter().filter_map(|n| n.addr.map(|address| ListedNode { pnn: n.pnn, address })).collect(),
        }
    }
}

impl Render for NodeList {
    fn text(&self, _cx: &RenderCx) -> String {
        self.nodes.iter().map(|n| format!("{}\n", n.address)).collect()
    }

    fn machine(&self, cx: &RenderCx) -> String {
        // No header line for listnodes (observed).
        self.nodes.iter().map(|n| cx.row([n.pnn.to_string(), n.address.to_string()])).collect()
    }
}

/// Reads the nodes file with Samba's tool's messages:
/// `Invalid IP address X` then `Failed to read nodes file "PATH"`.
pub fn load(paths: &Paths) -> Result<NodesFile, CliError> {
    let path = paths.nodes_file();
    NodesFile::load(&path).map_err(|e| {
        let failed = format!("Failed to read nodes file \"{}\"\n", path.display());
        match e {
            ConfigError::InvalidNode { text, .. } => {
                CliError::stderr(format!("Invalid IP address {text}\n{failed}"), 1)
            }
            _ => CliError::stderr(failed, 1),
        }
    })
}

/// Runs the command.
pub fn run(cx: &Ctx, args: &[String], paths: &Paths) -> Result<Reply, CliError> {
    super::no_args("listnodes", args)?;
    let file = load(paths)?;
    Ok(cx.reply(&NodeList::from_file(&file)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;
    use std::path::Path;

    fn list(text: &str) -> NodeList {
        match NodesFile::parse(text, Path::new("nodes")) {
            Ok(f) => NodeList::from_file(&f),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn three_nodes() {
        let cx = RenderCx::new(Zone::Utc);
        let r = list("127.0.7.1\n127.0.7.2\n127.0.7.3\n");
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/B_listnodes.txt"));
        assert_eq!(r.machine(&cx), include_str!("../../tests/expected/B_listnodes_X.txt"));
    }

    #[test]
    fn deleted_slots_are_skipped_but_keep_their_pnn() {
        let cx = RenderCx::new(Zone::Utc);
        let r = list("127.0.8.1\n#\n127.0.8.3\n");
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/E_listnodes.txt"));
        assert_eq!(r.machine(&cx), include_str!("../../tests/expected/E_listnodes_X.txt"));
        let r = list("127.0.0.1\n\n#\n  127.0.0.3  \n# comment\n::1\n");
        assert_eq!(r.machine(&cx.with_sep(";")), ";0;127.0.0.1;\n;2;127.0.0.3;\n;4;::1;\n");
    }
}
