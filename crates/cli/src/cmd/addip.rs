//! `ctdb addip IP/BITS IFACE`: give the asked node one more public
//! address, then ask the leader to place it.
//!
//! ```text
//! GET_PUBLIC_IPS -> node                        (known already: say so, exit 0)
//! ADD_PUBLIC_IP {IP, BITS, IFACE} -> node       (up to 5 tries, 3 s apart)
//! MESSAGE REBALANCE_NODE {u32 node} -> CTDB_BROADCAST_CONNECTED
//! ```

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use ctdb_legacy_proto::{pnn, srvid, Opcode, Wire};

use super::{usage, Ctx};
use crate::error::CliError;
use crate::inet::{addr_info_bytes, parse_ip_mask, same_ip, sock_addr};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// Tries of ADD_PUBLIC_IP before giving up.
const TRIES: u32 = 5;
/// Pause after a failed try.
const PAUSE: Duration = Duration::from_secs(3);

/// `ctdb addip` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddIp {
    /// The asked node.
    pub node: u32,
    /// The address.
    pub address: IpAddr,
    /// Its prefix length.
    pub mask: u32,
    /// Its interface(s), as given.
    pub interface: String,
    /// Whether the node knew it already (nothing was sent then).
    pub known_already: bool,
}

impl Render for AddIp {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Whether `node` already lists `ip`; a failure exits 1 whatever the
/// control's code (shared with `delip`).
pub async fn knows<L: Link>(session: &mut Session<L>, node: u32, ip: IpAddr) -> Result<bool, CliError> {
    let list = session
        .public_ips_of(node)
        .await
        .map_err(|e| e.then_line(format!("Failed to get Public IPs from node {node}")).with_exit(1))?;
    let wanted = sock_addr(ip, 0);
    Ok(list.ips.iter().any(|k| same_ip(&k.addr, &wanted)))
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [text, iface] = args else {
        return Err(usage("addip"));
    };
    let Some((ip, mask)) = parse_ip_mask(text) else {
        return Err(CliError::line(format!("Invalid IP/Mask {text}")));
    };
    let node = session.target();
    let mut result = AddIp { node, address: ip, mask, interface: iface.clone(), known_already: false };
    if knows(session, node, ip).await? {
        result.known_already = true;
        return Ok(cx.reply(&result).with_stderr(format!("Node already knows about IP {ip}\n")));
    }
    let request = addr_info_bytes(sock_addr(ip, 0), mask, Some(iface));
    let mut printed = String::new();
    let mut added = Ok(());
    for _ in 0..TRIES {
        added = session.control_ok_to(node, Opcode::ADD_PUBLIC_IP, request.clone()).await.map(|_| ());
        match &added {
            Ok(()) => break,
            Err(CliError::Silent(code)) => return Err(CliError::stderr(printed, *code)),
            Err(e) => printed.push_str(&e.stderr_text()),
        }
        session.sleep(PAUSE).await;
    }
    if let Err(e) = added {
        printed.push_str(&format!("Failed to add public IP to node {node}. Giving up\n"));
        return Err(CliError::stderr(printed, e.exit()));
    }
    session
        .send_message(pnn::BROADCAST_CONNECTED, srvid::REBALANCE_NODE, node.to_bytes())
        .await
        .map_err(|e| CliError::stderr(format!("{printed}Failed to ask leader to distribute IPs\n"), e.exit()))?;
    let reply = cx.reply(&result);
    Ok(if printed.is_empty() { reply } else { reply.with_stderr(printed) })
}
