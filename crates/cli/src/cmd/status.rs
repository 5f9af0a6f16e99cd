//! `ctdb status`: nodes with their flags, the vnnmap, the recovery mode and
//! the leader. The node table is shared with `nodestatus`.

use std::net::IpAddr;

use serde::Serialize;

use ctdb_legacy_proto::{flags, recmode, runstate, NodeMap};

use super::leader::leader_text;
use super::{no_args, Ctx};
use crate::error::CliError;
use crate::flags::{flag_columns, flags_text, NODE_TABLE_HEADER};
use crate::render::{Format, Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// INVALID_GENERATION: the vnnmap generation of a node that has not
/// recovered, printed `INVALID`.
const INVALID_GENERATION: u32 = 1;

/// One node as `status` and `nodestatus` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    /// The node's number.
    pub pnn: u32,
    /// Its address.
    pub address: IpAddr,
    /// Its flags as shown: the nodemap's, or UNKNOWN (0x40) when the asked
    /// node has not finished its first recovery.
    pub flags: u32,
    /// The flags as text (`OK`, `BANNED|INACTIVE`, `PARTIALLYONLINE`).
    pub state: String,
    /// Healthy but some interface has its link down.
    pub partially_online: bool,
    /// The node the tool asked (`-n`, else the local node).
    pub this_node: bool,
}

impl NodeRow {
    /// `pnn:%u %-16s %s%s`.
    pub fn text(&self) -> String {
        let this = if self.this_node { " (THIS NODE)" } else { "" };
        format!("pnn:{} {:<16} {}{}\n", self.pnn, self.address.to_string(), self.state, this)
    }

    /// One `-X` row of the node table.
    pub fn machine(&self, cx: &RenderCx) -> String {
        let pnn = self.pnn.to_string();
        let addr = self.address.to_string();
        let mut fields: Vec<&str> = vec![&pnn, &addr];
        fields.extend(flag_columns(self.flags));
        fields.push(if self.partially_online { "1" } else { "0" });
        fields.push(if self.this_node { "Y" } else { "N" });
        cx.row(fields)
    }
}

/// The `-X` node table header.
pub fn node_table_header(cx: &RenderCx) -> String {
    cx.row(NODE_TABLE_HEADER)
}

/// `Number of nodes:3` or `Number of nodes:3 (including 1 deleted nodes)`.
pub fn node_count_line(total: usize, deleted: usize) -> String {
    if deleted > 0 {
        format!("Number of nodes:{total} (including {deleted} deleted nodes)\n")
    } else {
        format!("Number of nodes:{total}\n")
    }
}

/// The nodemap as the tool shows it, before choosing which nodes to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTable {
    /// Every node of the map except deleted ones, in map order.
    pub rows: Vec<NodeRow>,
    /// Nodes in the map, deleted ones included.
    pub total: usize,
    /// Deleted nodes.
    pub deleted: usize,
}

/// The nodemap as the asked node sees it, with the UNKNOWN marking
/// applied: GET_NODEMAP (cached), then the target's GET_RUNSTATE.
pub async fn marked_nodemap<L: Link>(session: &mut Session<L>) -> Result<NodeMap, CliError> {
    let mut map = session.nodemap().await?;
    let target = session.target();
    let state = session
        .runstate_of(target)
        .await // Samba prints this one on standard output, without a newline.
        .map_err(|e| e.then_stdout("Unable to get runstate").with_exit(1))?;
    mark_unknown(&mut map, target, state);
    Ok(map)
}

/// Builds the node table from a marked nodemap, asking GET_IFACES of every
/// node whose flags are 0 (PARTIALLYONLINE), for the nodes `shown`
/// accepts (Samba's tool asks only about the nodes it prints). A failed
/// GET_IFACES is reported on standard error (appended to `stderr`) and the
/// node is shown without PARTIALLYONLINE, as Samba's tool does.
pub async fn node_table<L: Link>(
    session: &mut Session<L>,
    map: &NodeMap,
    shown: impl Fn(u32) -> bool,
    stderr: &mut String,
) -> Result<NodeTable, CliError> {
    let target = session.target();
    let mut rows = Vec::new();
    for node in &map.nodes {
        if node.flags & flags::DELETED != 0 || !shown(node.pnn) {
            continue;
        }
        let mut partially_online = false;
        if node.flags == 0 {
            match session.ifaces_of(node.pnn).await {
                Ok(list) => partially_online = list.ifaces.iter().any(|i| i.link_state == 0),
                Err(CliError::Silent(code)) => return Err(CliError::Silent(code)),
                Err(e) => stderr.push_str(&e.stderr_text()),
            }
        }
        rows.push(node_row(node.pnn, node.addr.ip(), node.flags, partially_online, node.pnn == target));
    }
    Ok(NodeTable {
        rows,
        total: map.nodes.len(),
        deleted: map.nodes.iter().filter(|n| n.flags & flags::DELETED != 0).count(),
    })
}

/// Builds one row.
pub fn node_row(pnn: u32, address: IpAddr, flags: u32, partially_online: bool, this_node: bool) -> NodeRow {
    let state = if partially_online { "PARTIALLYONLINE".to_string() } else { flags_text(flags) };
    NodeRow { pnn, address, flags, state, partially_online, this_node }
}

/// While the asked node is at or before FIRST_RECOVERY its view of the
/// others is not trustworthy, so every other connected node is shown as
/// UNKNOWN (flags replaced, observed: an UNHEALTHY peer prints `UNKNOWN`).
pub fn mark_unknown(map: &mut NodeMap, target: u32, target_runstate: u32) {
    if target_runstate > runstate::FIRST_RECOVERY {
        return;
    }
    for node in &mut map.nodes {
        if node.pnn != target && node.flags & flags::DISCONNECTED == 0 {
            node.flags = flags::UNKNOWN;
        }
    }
}

/// `ctdb status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Nodes in the map, deleted ones included.
    pub node_count: usize,
    /// Deleted nodes (never listed).
    pub deleted_count: usize,
    /// The nodes, deleted ones left out.
    pub nodes: Vec<NodeRow>,
    /// vnnmap, recovery mode and leader; not asked for with `-X`, whose
    /// output is the node table only (Samba's tool does not ask either).
    pub cluster: Option<ClusterState>,
}

/// The cluster-wide part of `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterState {
    /// vnnmap generation; `None` while INVALID.
    pub generation: Option<u32>,
    /// lmaster of each hash slot of the vnnmap.
    pub vnnmap: Vec<u32>,
    /// Recovery mode number (0 normal, 1 active).
    pub recovery_mode: i32,
    /// `NORMAL` or `RECOVERY`.
    pub recovery_mode_name: String,
    /// The leader's pnn; `None` when no LEADER broadcast arrived in time.
    pub leader: Option<u32>,
}

impl Render for Status {
    fn text(&self, _cx: &RenderCx) -> String {
        let mut out = node_count_line(self.node_count, self.deleted_count);
        for n in &self.nodes {
            out.push_str(&n.text());
        }
        if let Some(c) = &self.cluster {
            match c.generation {
                Some(g) => out.push_str(&format!("Generation:{g}\n")),
                None => out.push_str("Generation:INVALID\n"),
            }
            out.push_str(&format!("Size:{}\n", c.vnnmap.len()));
            for (hash, lmaster) in c.vnnmap.iter().enumerate() {
                out.push_str(&format!("hash:{hash} lmaster:{lmaster}\n"));
            }
            out.push_str(&format!("Recovery mode:{} ({})\n", c.recovery_mode_name, c.recovery_mode));
            out.push_str(&format!("Leader:{}\n", leader_text(c.leader)));
        }
        out
    }

    fn machine(&self, cx: &RenderCx) -> String {
        // -X status is the node table only.
        let mut out = node_table_header(cx);
        for n in &self.nodes {
            out.push_str(&n.machine(cx));
        }
        out
    }
}

/// Samba's name of a recovery mode: anything but NORMAL prints RECOVERY.
pub fn recovery_mode_name(mode: i32) -> &'static str {
    if mode == recmode::NORMAL as i32 {
        "NORMAL"
    } else {
        "RECOVERY"
    }
}

/// Runs the command. Exit code 0 whatever the node states.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("status", args)?;
    // Samba's order: nodemap, runstate, vnnmap, recovery mode, then the
    // interfaces while printing the nodes, then the leader. With -X only the
    // node table is gathered.
    let map = marked_nodemap(session).await?;
    let machine = matches!(cx.format, Format::Machine { .. });
    let cluster_head = if machine {
        None
    } else {
        let vnnmap = session.vnnmap().await?;
        let mode = session.recmode().await?;
        Some((vnnmap, mode))
    };
    let mut stderr = String::new();
    let table = node_table(session, &map, |_| true, &mut stderr).await?;
    let cluster = match cluster_head {
        None => None,
        Some((vnnmap, mode)) => Some(ClusterState {
            generation: (vnnmap.generation != INVALID_GENERATION).then_some(vnnmap.generation),
            vnnmap: vnnmap.map,
            recovery_mode: mode,
            recovery_mode_name: recovery_mode_name(mode).to_string(),
            leader: session.leader().await?,
        }),
    };
    let status = Status { node_count: table.total, deleted_count: table.deleted, nodes: table.rows, cluster };
    let reply = cx.reply(&status);
    Ok(if stderr.is_empty() { reply } else { reply.with_stderr(stderr) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn disabled_and_stopped_peers() {
        // State A of tests/expected: node 1 disabled, node 2 stopped.
        let s = Status {
            node_count: 3,
            deleted_count: 0,
            nodes: vec![
                node_row(0, ip("127.0.7.1"), 0, false, true),
                node_row(1, ip("127.0.7.2"), 0x04, false, false),
                node_row(2, ip("127.0.7.3"), 0x20, false, false),
            ],
            cluster: Some(ClusterState {
                generation: Some(409_125_979),
                vnnmap: vec![0, 1],
                recovery_mode: 0,
                recovery_mode_name: "NORMAL".into(),
                leader: Some(0),
            }),
        };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(s.text(&cx), include_str!("../../tests/expected/A_status.txt"));
        assert_eq!(s.machine(&cx), include_str!("../../tests/expected/A_status_X.txt"));
    }

    #[test]
    fn first_recovery_with_a_deleted_node() {
        // State E: cluster lock held elsewhere, so nobody leads and the
        // node stays in FIRST_RECOVERY; node 1 is a `#` line.
        let s = Status {
            node_count: 3,
            deleted_count: 1,
            nodes: vec![
                node_row(0, ip("127.0.8.1"), 0x02, false, true),
                node_row(2, ip("127.0.8.3"), 0x40, false, false),
            ],
            cluster: Some(ClusterState {
                generation: None,
                vnnmap: vec![0, 0],
                recovery_mode: 1,
                recovery_mode_name: "RECOVERY".into(),
                leader: None,
            }),
        };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(s.text(&cx), include_str!("../../tests/expected/E_status.txt"));
        assert_eq!(s.machine(&cx), include_str!("../../tests/expected/E_status_X.txt"));
    }

    #[test]
    fn partially_online() {
        let s = Status {
            node_count: 1,
            deleted_count: 0,
            nodes: vec![node_row(0, ip("127.0.9.1"), 0, true, true)],
            cluster: Some(ClusterState {
                generation: Some(328_052_315),
                vnnmap: vec![0],
                recovery_mode: 0,
                recovery_mode_name: "NORMAL".into(),
                leader: Some(0),
            }),
        };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(s.text(&cx), include_str!("../../tests/expected/F_status.txt"));
        assert_eq!(s.machine(&cx), include_str!("../../tests/expected/F_status_X.txt"));
    }

    #[test]
    fn unknown_marking_spares_the_target_and_disconnected_nodes() {
        use ctdb_legacy_proto::{NodeAndFlags, SockAddr};
        let addr = SockAddr(std::net::SocketAddr::new(ip("127.0.0.1"), 4379));
        let node = |pnn, flags| NodeAndFlags { pnn, flags, addr };
        let mut map = NodeMap { nodes: vec![node(0, 0x02), node(1, 0x11), node(2, 0x02), node(3, 0)] };
        mark_unknown(&mut map, 2, runstate::FIRST_RECOVERY);
        let flags: Vec<u32> = map.nodes.iter().map(|n| n.flags).collect();
        assert_eq!(flags, vec![0x40, 0x11, 0x02, 0x40]);
        let mut map = NodeMap { nodes: vec![node(0, 0x02), node(1, 0)] };
        mark_unknown(&mut map, 0, runstate::STARTUP);
        assert_eq!(map.nodes[1].flags, 0);
    }
}
