//! `ctdb reloadips [all|PNN,…]`: make nodes re-read their public_addresses
//! file while takeover runs are held off, then run one (local node only).
//!
//! ```text
//! GET_NODEMAP (local)
//! DISABLE_TAKEOVER_RUNS {pnn, port, 2 × -t} -> every connected node, wait -t
//! RELOAD_PUBLIC_IPS -> the chosen active nodes, at once
//! DISABLE_TAKEOVER_RUNS {pnn, port, 0} -> every connected node, wait -t
//! ipreallocate (TAKEOVER_RUN, as `ctdb ipreallocate`)
//! ```
//!
//! Without an argument only the local node reloads. A failed reload is
//! reported and the run goes on, as in Samba's tool.

use serde::Serialize;

use ctdb_legacy_proto::{flags, srvid, NodeMap, Opcode};

use super::hold_off::hold_off;
use super::ipreallocate::takeover_run;
use super::{usage, Ctx};
use crate::error::CliError;
use crate::numparse::{smb_strtoul, Radix};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb reloadips` (prints nothing unless a node failed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReloadIps {
    /// Nodes asked to reload.
    pub nodes: Vec<u32>,
    /// Whether one of them failed.
    pub failed: bool,
    /// The leader that ran the takeover run afterwards.
    pub leader: u32,
}

impl Render for ReloadIps {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// The chosen nodes' flags, as Samba's `parse_nodestring` picks them:
/// none given ⇒ the local node; `all` ⇒ every slot (deleted ones too);
/// else pnns separated by commas, each checked as it is read.
pub fn chosen(map: &NodeMap, local: u32, arg: Option<&str>) -> Result<Vec<(u32, u32)>, CliError> {
    let flags_of = |p: u32| map.nodes.iter().find(|n| n.pnn == p).map(|n| (n.pnn, n.flags));
    match arg {
        None => Ok(flags_of(local).into_iter().collect()),
        Some("all") => Ok(map.nodes.iter().map(|n| (n.pnn, n.flags)).collect()),
        Some(list) => {
            let mut out = Vec::new();
            for item in list.split(',').filter(|s| !s.is_empty()) {
                // Truncated to 32 bits like the C cast.
                let p = smb_strtoul(item, Radix::Auto, false)
                    .map_err(|_| CliError::line(format!("Invalid node {item}")))? as u32;
                out.push(flags_of(p).ok_or_else(|| CliError::line(format!("Node {p} does not exist")))?);
            }
            Ok(out)
        }
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let arg = match args {
        [] => None,
        [a] => Some(a.as_str()),
        _ => return Err(usage("reloadips")),
    };
    let local = session.local_pnn();
    let map = session.nodemap_from(local).await?.clone();
    let targets = chosen(&map, local, arg)?;
    let connected: Vec<u32> = map.nodes.iter().filter(|n| n.flags & flags::DISCONNECTED == 0).map(|n| n.pnn).collect();
    let active: Vec<u32> = targets.iter().filter(|(_, f)| f & flags::INACTIVE == 0).map(|(p, _)| *p).collect();
    if connected.is_empty() || active.is_empty() {
        return Err(CliError::line("Memory allocation error"));
    }
    // Samba doubles -t in C int arithmetic and sends it as u32.
    let hold = cx.options.timelimit.wrapping_mul(2) as u32;
    hold_off(session, srvid::DISABLE_TAKEOVER_RUNS, hold, &connected)
        .await
        .map_err(|code| CliError::stderr("Failed to disable takeover runs\n", code))?;
    let replies = session.control_multi(&active, Opcode::RELOAD_PUBLIC_IPS, Vec::new()).await;
    let failed = replies.iter().any(|r| !matches!(r, Ok(reply) if reply.status == 0));
    let mut stderr = String::new();
    if failed {
        stderr.push_str("Failed to reload IPs on some nodes.\n");
    }
    hold_off(session, srvid::DISABLE_TAKEOVER_RUNS, 0, &connected)
        .await
        .map_err(|code| CliError::stderr(format!("{stderr}Failed to enable takeover runs\n"), code))?;
    let leader = takeover_run(session).await.map_err(|e| CliError::stderr(stderr.clone(), e.exit()))?;
    let reply = cx.reply(&ReloadIps { nodes: active, failed, leader });
    Ok(if stderr.is_empty() { reply } else { reply.with_stderr(stderr) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctdb_legacy_proto::{NodeAndFlags, SockAddr};

    fn map() -> NodeMap {
        let addr = SockAddr(std::net::SocketAddr::from(([127, 0, 0, 1], 4379)));
        let node = |pnn, flags| NodeAndFlags { pnn, flags, addr };
        NodeMap { nodes: vec![node(0, 0), node(1, flags::DELETED | flags::DISCONNECTED), node(2, flags::STOPPED)] }
    }

    #[test]
    fn node_strings_like_samba() {
        let m = map();
        assert_eq!(chosen(&m, 2, None).ok(), Some(vec![(2, flags::STOPPED)]));
        assert_eq!(chosen(&m, 0, Some("all")).map(|v| v.len()).ok(), Some(3));
        assert_eq!(chosen(&m, 0, Some("2,,0x0")).ok(), Some(vec![(2, flags::STOPPED), (0, 0)]));
        // Checked in order: the missing node is reported before the bad word.
        let e = chosen(&m, 0, Some("5,x")).err().map(|e| e.stderr_text());
        assert_eq!(e.as_deref(), Some("Node 5 does not exist\n"));
        let e = chosen(&m, 0, Some("0,-1")).err().map(|e| e.stderr_text());
        assert_eq!(e.as_deref(), Some("Invalid node -1\n"));
    }
}
