//! `ctdb nodestatus [all|PNN,PNN…]`: node lines like `status`, and an exit
//! code that is the OR of the shown nodes' flags, so scripts can test a
//! node's health.

use serde::Serialize;

use ctdb_legacy_proto::NodeMap;

use super::status::{marked_nodemap, node_count_line, node_table, node_table_header, NodeRow};
use super::{usage, Ctx};
use crate::error::CliError;
use crate::numparse::strtoull;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// Which nodes to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// `all`: every node, with the `Number of nodes` line.
    All,
    /// The listed pnns, in the given order (repeats allowed, as Samba).
    List(Vec<u32>),
}

/// Parses the argument: `all`, or pnns separated by commas (empty items
/// skipped; each read like `strtoul(…, 0)`, so `1x` is 1 and `0x1` is 1;
/// a `-` or no digits is `Invalid node X`).
pub fn parse_selection(arg: &str) -> Result<Selection, CliError> {
    if arg == "all" {
        return Ok(Selection::All);
    }
    let mut pnns = Vec::new();
    for item in arg.split(',').filter(|s| !s.is_empty()) {
        match strtoull(item) {
            // Truncated to 32 bits like the C assignment
            // (`nodestatus 99999999999` asks for node 1215752191).
            Ok(v) => pnns.push(v as u32),
            Err(_) => return Err(CliError::line(format!("Invalid node {item}"))),
        }
    }
    Ok(Selection::List(pnns))
}

/// Every listed pnn must be in the nodemap (deleted slots count).
pub fn check_exist(selection: &Selection, map: &NodeMap) -> Result<(), CliError> {
    if let Selection::List(pnns) = selection {
        for p in pnns {
            if !map.nodes.iter().any(|n| n.pnn == *p) {
                return Err(CliError::line(format!("Node {p} does not exist")));
            }
        }
    }
    Ok(())
}

/// `ctdb nodestatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// `all` was asked for (adds the `Number of nodes` line).
    pub all: bool,
    /// Nodes in the map, deleted ones included.
    pub node_count: usize,
    /// Deleted nodes.
    pub deleted_count: usize,
    /// The shown nodes, in the order asked.
    pub nodes: Vec<NodeRow>,
    /// OR of the shown nodes' flags: the exit code.
    pub flags: u32,
}

impl Render for NodeStatus {
    fn text(&self, _cx: &RenderCx) -> String {
        let mut out = if self.all { node_count_line(self.node_count, self.deleted_count) } else { String::new() };
        for n in &self.nodes {
            out.push_str(&n.text());
        }
        out
    }

    fn machine(&self, cx: &RenderCx) -> String {
        let mut out = node_table_header(cx);
        for n in &self.nodes {
            out.push_str(&n.machine(cx));
        }
        out
    }
}

/// Runs the command. Without an argument the asked node is shown.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let selection = match args {
        [] => Selection::List(vec![session.target()]),
        [arg] => parse_selection(arg)?,
        _ => return Err(usage("nodestatus")),
    };
    let map = session.nodemap().await?;
    check_exist(&selection, &map)?;
    let map = marked_nodemap(session).await?;
    let mut stderr = String::new();
    let shown = |p: u32| match &selection {
        Selection::All => true,
        Selection::List(pnns) => pnns.contains(&p),
    };
    let table = node_table(session, &map, shown, &mut stderr).await?;
    let nodes: Vec<NodeRow> = match &selection {
        Selection::All => table.rows.clone(),
        // Deleted nodes exist but are never shown.
        Selection::List(pnns) => pnns.iter().filter_map(|p| table.rows.iter().find(|r| r.pnn == *p).cloned()).collect(),
    };
    let flags = nodes.iter().fold(0, |acc, n| acc | n.flags);
    let result = NodeStatus {
        all: selection == Selection::All,
        node_count: table.total,
        deleted_count: table.deleted,
        nodes,
        flags,
    };
    // The exit code is the flags word; exit() keeps its low 8 bits, which
    // hold every flag there is.
    let reply = cx.reply(&result).with_exit((flags & 0xff) as i32);
    Ok(if stderr.is_empty() { reply } else { reply.with_stderr(stderr) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::status::node_row;
    use crate::timefmt::Zone;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn selections() {
        assert_eq!(parse_selection("all"), Ok(Selection::All));
        assert_eq!(parse_selection("0,1"), Ok(Selection::List(vec![0, 1])));
        assert_eq!(parse_selection("0,,1"), Ok(Selection::List(vec![0, 1])));
        assert_eq!(parse_selection(",0"), Ok(Selection::List(vec![0])));
        assert_eq!(parse_selection("0,1,0"), Ok(Selection::List(vec![0, 1, 0])));
        assert_eq!(parse_selection("1x"), Ok(Selection::List(vec![1])));
        assert_eq!(parse_selection("0x1"), Ok(Selection::List(vec![1])));
        assert_eq!(parse_selection("010"), Ok(Selection::List(vec![8])));
        assert_eq!(parse_selection("0-1"), Ok(Selection::List(vec![0])));
        assert_eq!(parse_selection("99999999999"), Ok(Selection::List(vec![1_215_752_191])));
        assert_eq!(parse_selection("bogus"), Err(CliError::line("Invalid node bogus")));
        assert_eq!(parse_selection("0,-1"), Err(CliError::line("Invalid node -1")));
        assert_eq!(parse_selection("all,0"), Err(CliError::line("Invalid node all")));
        assert_eq!(parse_selection("ALL"), Err(CliError::line("Invalid node ALL")));
    }

    fn state_a() -> Vec<NodeRow> {
        vec![
            node_row(0, ip("127.0.7.1"), 0, false, true),
            node_row(1, ip("127.0.7.2"), 0x04, false, false),
            node_row(2, ip("127.0.7.3"), 0x20, false, false),
        ]
    }

    #[test]
    fn all_has_the_count_line() {
        let r = NodeStatus { all: true, node_count: 3, deleted_count: 0, nodes: state_a(), flags: 0x24 };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/A_nodestatus_all.txt"));
        assert_eq!(r.machine(&cx), include_str!("../../tests/expected/A_nodestatus_all_X.txt"));
    }

    #[test]
    fn list_keeps_the_asked_order() {
        let rows = state_a();
        let r = NodeStatus {
            all: false,
            node_count: 3,
            deleted_count: 0,
            nodes: vec![rows[1].clone(), rows[0].clone()],
            flags: 0x04,
        };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/A_nodestatus_1_0.txt"));
        assert_eq!(r.machine(&cx.with_sep(";")), include_str!("../../tests/expected/A_nodestatus_1_0_Ysemi.txt"));
    }
}
