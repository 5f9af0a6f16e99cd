//! `ctdb reloadnodes`: make every connected node re-read its nodes file
//! after nodes were added, deleted (`#` lines) or undeleted.
//!
//! ```text
//! GET_NODEMAP (local)
//! read $CTDB_BASE/nodes
//! GET_NODES_FILE -> each connected node; must equal the local file
//! compare the nodemap with the file: NEW / DELETED / UNDELETED, refusals
//! nothing changed? "No change in nodes file, skipping unnecessary reload"
//! DISABLE_RECOVERIES {pnn, srvid, 2 × -t} -> each connected node, wait -t for their pnns
//! RELOAD_NODES_FILE -> all connected nodes at once
//! DISABLE_RECOVERIES {…, 0} (recoveries allowed again)
//! ```
//!
//! As observed with Debian's `ctdb` 4.17: the `Node N is …` lines go to
//! standard output, every other message (including `No change in nodes
//! file, …`) to standard error; extra arguments are ignored; `-n` naming
//! another node is refused; a DISABLE_RECOVERIES wait that runs out is
//! not an error; a node that fails RELOAD_NODES_FILE is named
//! (`Node N failed to reload nodes`, then `You MUST fix failed nodes
//! manually!`) and the command still succeeds.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Serialize;

use ctdb_config::{NodesFile, Paths};
use ctdb_legacy_proto::{flags, srvid, NodeAndFlags, NodeMap, Opcode, SockAddr};

use super::hold_off::hold_off;
use super::listnodes;
use super::Ctx;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// The port nodes listen on, which nodemaps carry.
const CTDB_PORT: u16 = 4379;

/// What happens to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Change {
    /// A slot past the end of the current nodemap.
    New,
    /// Now a `#` line.
    Deleted,
    /// Was deleted, has an address again.
    Undeleted,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Change::New => "NEW",
            Change::Deleted => "DELETED",
            Change::Undeleted => "UNDELETED",
        }
    }
}

/// One changed node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeChange {
    /// Its pnn.
    pub pnn: u32,
    /// What happens to it.
    pub change: Change,
}

/// `ctdb reloadnodes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReloadNodes {
    /// The changes found, in pnn order.
    pub changes: Vec<NodeChange>,
    /// Whether the nodes were told to reload.
    pub reloaded: bool,
    /// Nodes that failed RELOAD_NODES_FILE.
    pub failed: Vec<u32>,
}

impl Render for ReloadNodes {
    fn text(&self, _cx: &RenderCx) -> String {
        change_lines(&self.changes)
    }
}

/// `Node 3 is NEW` lines.
fn change_lines(changes: &[NodeChange]) -> String {
    changes.iter().map(|c| format!("Node {} is {}\n", c.pnn, c.change.word())).collect()
}

/// The nodes file as the nodemap ctdbd builds from it: a deleted slot is
/// 0.0.0.0 with the DELETED flag.
pub fn file_nodemap(file: &NodesFile) -> NodeMap {
    let nodes = file
        .nodes
        .iter()
        .map(|n| {
            let (ip, flags) = match n.addr {
                Some(ip) => (ip, 0),
                None => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), flags::DELETED),
            };
            NodeAndFlags { pnn: n.pnn, flags, addr: SockAddr(SocketAddr::new(ip, CTDB_PORT)) }
        })
        .collect();
    NodeMap { nodes }
}

/// Same nodes, flags and addresses (ports aside).
fn same_nodes(a: &NodeMap, b: &NodeMap) -> bool {
    a.nodes.len() == b.nodes.len()
        && a.nodes.iter().zip(&b.nodes).all(|(x, y)| x.pnn == y.pnn && x.flags == y.flags && x.addr.ip() == y.addr.ip())
}

/// The comparison of the running nodemap with the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Changes, in pnn order (NEW ones only when nothing was refused).
    pub changes: Vec<NodeChange>,
    /// Warnings and refusals for standard error, in order.
    pub messages: String,
    /// A change that must not be made was found.
    pub refused: bool,
}

/// Compares the running nodemap with the nodes file, slot by slot, with
/// Samba's rules: an address may not change, a node may only be deleted
/// while disconnected, a slot may not vanish; slots past the end are new.
pub fn compare(running: &NodeMap, file: &NodeMap) -> Comparison {
    let mut out = Comparison::default();
    for (i, node) in running.nodes.iter().enumerate() {
        let Some(entry) = file.nodes.get(i) else {
            out.messages.push_str(&format!("Node {} ({}) missing from nodes file\n", node.pnn, node.addr.ip()));
            out.refused = true;
            continue;
        };
        let was_deleted = node.flags & flags::DELETED != 0;
        let now_deleted = entry.flags & flags::DELETED != 0;
        let disconnected = node.flags & flags::DISCONNECTED != 0;
        match (was_deleted, now_deleted) {
            (true, true) => {}
            (false, false) => {
                if node.addr.ip() != entry.addr.ip() {
                    out.messages.push_str(&format!(
                        "Node {} has changed IP address (was {}, now {})\n",
                        node.pnn,
                        node.addr.ip(),
                        entry.addr.ip()
                    ));
                    out.refused = true;
                } else if disconnected {
                    out.messages.push_str(&format!(
                        "WARNING: Node {} is disconnected. You MUST fix this node manually!\n",
                        node.pnn
                    ));
                }
            }
            (false, true) => {
                out.changes.push(NodeChange { pnn: node.pnn, change: Change::Deleted });
                if !disconnected {
                    out.messages.push_str(&format!("ERROR: Node {} is still connected\n", node.pnn));
                    out.refused = true;
                }
            }
            (true, false) => out.changes.push(NodeChange { pnn: node.pnn, change: Change::Undeleted }),
        }
    }
    if out.refused {
        out.messages.push_str("ERROR: Nodes will not be reloaded due to previous error\n");
        return out;
    }
    for entry in file.nodes.iter().skip(running.nodes.len()) {
        out.changes.push(NodeChange { pnn: entry.pnn, change: Change::New });
    }
    out
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, paths: &Paths) -> Result<Reply, CliError> {
    let local = session.local_pnn();
    let running = session.nodemap_from(local).await?.clone();
    let file = file_nodemap(&listnodes::load(paths)?);
    let connected: Vec<u32> =
        running.nodes.iter().filter(|n| n.flags & flags::DISCONNECTED == 0).map(|n| n.pnn).collect();
    for &p in &connected {
        let data = session
            .control_ok_to(p, Opcode::GET_NODES_FILE, Vec::new())
            .await
            .map_err(|e| e.then_line(format!("ERROR: Failed to get nodes file from node {p}")))?;
        let remote = Session::<L>::decode::<NodeMap>(Opcode::GET_NODES_FILE, p, &data)?;
        if !same_nodes(&file, &remote) {
            return Err(CliError::line(format!("ERROR: Nodes file on node {p} differs from current node ({local})")));
        }
    }
    let cmp = compare(&running, &file);
    if cmp.refused {
        return Err(CliError::Message { stdout: change_lines(&cmp.changes), stderr: cmp.messages, exit: 1 });
    }
    let mut stderr = cmp.messages;
    let mut result = ReloadNodes { changes: cmp.changes, reloaded: false, failed: Vec::new() };
    if result.changes.is_empty() {
        stderr.push_str("No change in nodes file, skipping unnecessary reload\n");
        return Ok(cx.reply(&result).with_stderr(stderr));
    }
    // Samba's tool doubles -t in C int arithmetic and sends it as u32.
    let hold = (cx.options.timelimit.wrapping_mul(2)) as u32;
    if let Err(code) = hold_off(session, srvid::DISABLE_RECOVERIES, hold, &connected).await {
        let text = format!("{stderr}Failed to disable recoveries\n");
        return Err(CliError::Message { stdout: change_lines(&result.changes), stderr: text, exit: code });
    }
    let replies = session.control_multi(&connected, Opcode::RELOAD_NODES_FILE, Vec::new()).await;
    for (p, r) in connected.iter().zip(&replies) {
        if !matches!(r, Ok(reply) if reply.status == 0) {
            stderr.push_str(&format!("Node {p} failed to reload nodes\n"));
            result.failed.push(*p);
        }
    }
    if !result.failed.is_empty() {
        stderr.push_str("You MUST fix failed nodes manually!\n");
    }
    result.reloaded = true;
    if let Err(code) = hold_off(session, srvid::DISABLE_RECOVERIES, 0, &connected).await {
        let text = format!("{stderr}Failed to enable recoveries\n");
        return Err(CliError::Message { stdout: change_lines(&result.changes), stderr: text, exit: code });
    }
    let reply = cx.reply(&result);
    Ok(if stderr.is_empty() { reply } else { reply.with_stderr(stderr) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file(text: &str) -> NodeMap {
        match NodesFile::parse(text, Path::new("nodes")) {
            Ok(f) => file_nodemap(&f),
            Err(e) => panic!("{e}"),
        }
    }

    /// A running nodemap from `(address or "#", flags)` pairs.
    fn running(nodes: &[(&str, u32)]) -> NodeMap {
        let mut text = String::new();
        for (a, _) in nodes {
            text.push_str(a);
            text.push('\n');
        }
        let mut map = file(&text);
        for (n, (_, f)) in map.nodes.iter_mut().zip(nodes) {
            n.flags = *f;
        }
        map
    }

    #[test]
    fn new_deleted_undeleted() {
        // Texts from Debian's ctdb 4.17 against Debian's ctdbd.
        let run = running(&[("127.0.27.1", 0), ("127.0.27.2", 0), ("127.0.27.3", 0)]);
        let cmp = compare(&run, &file("127.0.27.1\n127.0.27.2\n127.0.27.3\n127.0.27.4\n"));
        assert_eq!(change_lines(&cmp.changes), "Node 3 is NEW\n");
        assert!(!cmp.refused);
        let run = running(&[("127.0.27.1", 0), ("127.0.27.2", 0), ("127.0.27.3", 0), ("127.0.27.4", 0x03)]);
        let cmp = compare(&run, &file("127.0.27.1\n127.0.27.2\n127.0.27.3\n#127.0.27.4\n"));
        assert_eq!(change_lines(&cmp.changes), "Node 3 is DELETED\n");
        assert_eq!(cmp.messages, "");
        let run = running(&[("127.0.27.1", 0), ("127.0.27.2", 0), ("127.0.27.3", 0), ("#", 0x11)]);
        let cmp = compare(&run, &file("127.0.27.1\n127.0.27.2\n127.0.27.3\n127.0.27.4\n"));
        assert_eq!(change_lines(&cmp.changes), "Node 3 is UNDELETED\n");
        // A new deleted slot is NEW too.
        let run = running(&[("127.0.27.1", 0)]);
        let cmp = compare(&run, &file("127.0.27.1\n#\n"));
        assert_eq!(change_lines(&cmp.changes), "Node 1 is NEW\n");
    }

    #[test]
    fn refusals() {
        let run = running(&[("127.0.27.1", 0), ("127.0.27.2", 0), ("127.0.27.3", 0), ("127.0.27.4", 0x03)]);
        let cmp = compare(&run, &file("127.0.27.1\n#127.0.27.2\n127.0.27.3\n127.0.27.4\n"));
        assert!(cmp.refused);
        assert_eq!(change_lines(&cmp.changes), "Node 1 is DELETED\n");
        assert_eq!(
            cmp.messages,
            "ERROR: Node 1 is still connected\n\
             WARNING: Node 3 is disconnected. You MUST fix this node manually!\n\
             ERROR: Nodes will not be reloaded due to previous error\n"
        );
        let cmp = compare(&run, &file("127.0.27.1\n127.0.27.9\n127.0.27.3\n127.0.27.4\n"));
        assert_eq!(
            cmp.messages,
            "Node 1 has changed IP address (was 127.0.27.2, now 127.0.27.9)\n\
             WARNING: Node 3 is disconnected. You MUST fix this node manually!\n\
             ERROR: Nodes will not be reloaded due to previous error\n"
        );
        let cmp = compare(&run, &file("127.0.27.1\n127.0.27.2\n127.0.27.3\n"));
        assert_eq!(
            cmp.messages,
            "Node 3 (127.0.27.4) missing from nodes file\nERROR: Nodes will not be reloaded due to previous error\n"
        );
        assert!(cmp.changes.is_empty());
    }

    #[test]
    fn unchanged_warns_about_disconnected_nodes() {
        let run = running(&[("127.0.27.1", 0), ("127.0.27.2", 0x03)]);
        let cmp = compare(&run, &file("127.0.27.1\n127.0.27.2\n"));
        assert!(cmp.changes.is_empty() && !cmp.refused);
        assert_eq!(cmp.messages, "WARNING: Node 1 is disconnected. You MUST fix this node manually!\n");
    }

    #[test]
    fn deleted_slots_compare_as_zero_addresses() {
        let a = file("127.0.0.1\n#\n");
        let b = file("127.0.0.1\n# a comment\n");
        assert!(same_nodes(&a, &b));
        assert_eq!(a.nodes[1].flags, flags::DELETED);
        assert!(!same_nodes(&a, &file("127.0.0.1\n127.0.0.2\n")));
    }
}
