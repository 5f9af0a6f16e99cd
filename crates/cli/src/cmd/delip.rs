//! `ctdb delip IP`: make the asked node forget a public address (it
//! releases it first if it holds it).
//!
//! ```text
//! GET_PUBLIC_IPS -> node                    (unknown: say so, exit 0)
//! DEL_PUBLIC_IP {IP, mask 0, no iface} -> node
//! ```

use std::net::IpAddr;

use serde::Serialize;

use ctdb_legacy_proto::Opcode;

use super::addip::knows;
use super::{usage, Ctx};
use crate::error::CliError;
use crate::inet::{addr_info_bytes, parse_ip, sock_addr};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb delip` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DelIp {
    /// The asked node.
    pub node: u32,
    /// The address.
    pub address: IpAddr,
    /// Whether the node knew it (nothing was sent otherwise).
    pub known: bool,
}

impl Render for DelIp {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [text] = args else {
        return Err(usage("delip"));
    };
    let Some(ip) = parse_ip(text) else {
        return Err(CliError::line(format!("Invalid IP address {text}")));
    };
    let node = session.target();
    if !knows(session, node, ip).await? {
        // Not an error for Samba's tool either.
        let result = DelIp { node, address: ip, known: false };
        return Ok(cx.reply(&result).with_stderr(format!("Node does not know about IP address {ip}\n")));
    }
    session
        .control_ok_to(node, Opcode::DEL_PUBLIC_IP, addr_info_bytes(sock_addr(ip, 0), 0, None))
        .await
        .map_err(|e| e.then_line(format!("Failed to delete public IP from node {node}")))?;
    Ok(cx.reply(&DelIp { node, address: ip, known: true }))
}
