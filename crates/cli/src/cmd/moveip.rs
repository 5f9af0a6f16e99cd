//! `ctdb moveip IP PNN`: move a public address to a node by hand, as
//! Samba 4.17's tool does it (runs on the local node only).
//!
//! ```text
//! up to 5 tries, 3 s apart:
//!   MESSAGE DISABLE_IP_CHECK {u32 2 × -t} -> CTDB_BROADCAST_CONNECTED
//!   GET_PUBLIC_IPS -> PNN                 (PNN must be able to host IP)
//!   GET_NODEMAP (once per run)
//!   RELEASE_IP {PNN, IP} -> every other active node, at once
//!   TAKEOVER_IP {PNN, IP} -> PNN
//! ```
//!
//! Each failed try prints its reason; after the fifth, `Failed to move IP
//! X to node N` and the last try's code. Later Samba versions disable
//! takeover runs instead of IP checks and end with IPREALLOCATED; 4.17
//! does neither.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use ctdb_legacy_proto::{flags, pnn, srvid, Opcode, PublicIp, Wire};

use super::{usage, Ctx};
use crate::error::{exit_code, CliError};
use crate::inet::{parse_ip, same_ip, sock_addr};
use crate::numparse::{smb_strtoul, Radix};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{transport_errno, Link, Session};

/// Tries before giving up.
const TRIES: u32 = 5;
/// Pause after a failed try.
const PAUSE: Duration = Duration::from_secs(3);

/// `ctdb moveip` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MoveIp {
    /// The address moved.
    pub address: IpAddr,
    /// Its new holder.
    pub node: u32,
}

impl Render for MoveIp {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// One try; `Err` is what it printed and its code.
async fn move_once<L: Link>(session: &mut Session<L>, ip: PublicIp, hold: u32) -> Result<(), CliError> {
    let to = ip.pnn;
    session
        .send_message(pnn::BROADCAST_CONNECTED, srvid::DISABLE_IP_CHECK, hold.to_bytes())
        .await
        .map_err(|e| e.then_line("Failed to disable IP check"))?;
    let known =
        session.public_ips_of(to).await.map_err(|e| e.then_line(format!("Failed to get Public IPs from node {to}")))?;
    if !known.ips.iter().any(|k| same_ip(&k.addr, &ip.addr)) {
        return Err(CliError::line(format!("Node {to} CANNOT host IP address {}", ip.addr.ip())));
    }
    let local = session.local_pnn();
    let map = session.nodemap_from(local).await?;
    let others: Vec<u32> =
        map.nodes.iter().filter(|n| n.flags & flags::INACTIVE == 0 && n.pnn != to).map(|n| n.pnn).collect();
    if others.is_empty() {
        return Err(CliError::line("Memory allocation error"));
    }
    // The first failure (in node order) gives the code, without a
    // control message: Samba's multi-control reports none.
    let replies = session.control_multi(&others, Opcode::RELEASE_IP, ip.to_bytes()).await;
    for r in replies {
        let code = match r {
            Ok(reply) if reply.status == 0 => continue,
            Ok(reply) => reply.status,
            Err(e) => transport_errno(&e)?,
        };
        return Err(CliError::stderr("Failed to release IP on nodes\n", exit_code(code)));
    }
    session
        .control_ok_to(to, Opcode::TAKEOVER_IP, ip.to_bytes())
        .await
        .map_err(|e| e.then_line(format!("Failed to takeover IP on node {to}")))?;
    Ok(())
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [text, node] = args else {
        return Err(usage("moveip"));
    };
    let Some(ip) = parse_ip(text) else {
        return Err(CliError::line(format!("Invalid IP address {text}")));
    };
    // unsigned long into a u32, as the C assignment truncates.
    let to = match smb_strtoul(node, Radix::Decimal, false) {
        Ok(v) if v as u32 != pnn::UNKNOWN => v as u32,
        _ => return Err(CliError::line(format!("Invalid PNN {node}"))),
    };
    // Samba doubles -t in C int arithmetic and sends it as u32.
    let hold = cx.options.timelimit.wrapping_mul(2) as u32;
    let request = PublicIp { pnn: to, addr: sock_addr(ip, 0) };
    let mut printed = String::new();
    let mut last = CliError::Silent(1);
    for _ in 0..TRIES {
        match move_once(session, request, hold).await {
            Ok(()) => {
                let reply = cx.reply(&MoveIp { address: ip, node: to });
                return Ok(if printed.is_empty() { reply } else { reply.with_stderr(printed) });
            }
            // The daemon went away: nothing more to try.
            Err(CliError::Silent(code)) => return Err(CliError::stderr(printed, code)),
            Err(e) => {
                printed.push_str(&e.stderr_text());
                last = e;
            }
        }
        session.sleep(PAUSE).await;
    }
    printed.push_str(&format!("Failed to move IP {text} to node {to}\n"));
    Err(CliError::stderr(printed, last.exit()))
}
