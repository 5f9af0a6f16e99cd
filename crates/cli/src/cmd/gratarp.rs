//! `ctdb gratarp IP IFACE`: ask the asked node to announce an address on
//! an interface with gratuitous ARPs (IPv6: unsolicited neighbour
//! advertisements) — SEND_GRATUITOUS_ARP {addr, mask, iface}.
//!
//! Samba's tool leaves the mask uninitialised (stack garbage); we send 0.

use serde::Serialize;

use ctdb_legacy_proto::Opcode;

use super::{usage, Ctx};
use crate::error::CliError;
use crate::inet::{addr_info_bytes, parse_ip, sock_addr};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb gratarp` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GratArp {
    /// The asked node.
    pub node: u32,
    /// The address announced.
    pub address: std::net::IpAddr,
    /// The interface.
    pub interface: String,
}

impl Render for GratArp {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [text, iface] = args else {
        return Err(usage("gratarp"));
    };
    let Some(ip) = parse_ip(text) else {
        return Err(CliError::line(format!("Invalid IP address {text}")));
    };
    let node = session.target();
    let request = addr_info_bytes(sock_addr(ip, 0), 0, Some(iface));
    session
        .control_ok_to(node, Opcode::SEND_GRATUITOUS_ARP, request)
        .await
        .map_err(|e| e.then_line(format!("Unable to send gratuitous arp from node {node}")))?;
    Ok(cx.reply(&GratArp { node, address: ip, interface: iface.clone() }))
}
