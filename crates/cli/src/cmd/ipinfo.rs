//! `ctdb ipinfo IP`: one public address on the asked node — its holder
//! and its interfaces (GET_PUBLIC_IP_INFO).
//!
//! An address the node does not know is answered -1: Samba's tool then
//! prints `Node N does not know about IP X` on standard output (after the
//! control failure on standard error) and exits 1. There is no `-X` form.

use std::net::IpAddr;

use serde::Serialize;

use ctdb_legacy_proto::{Iface, Opcode, PublicIpInfo, Wire};

use super::{usage, Ctx};
use crate::error::CliError;
use crate::inet::{parse_ip, sock_addr};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{opcode_name, Link, Session};

/// `ctdb ipinfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpInfo {
    /// The asked node.
    pub node: u32,
    /// The address, as the daemon returned it.
    pub address: IpAddr,
    /// Its holder as the node sees it (0xFFFFFFFF: unassigned, printed so).
    pub holder: u32,
    /// Its interfaces, in the daemon's order.
    pub interfaces: Vec<IfaceRow>,
}

/// One interface of the address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IfaceRow {
    /// Name.
    pub name: String,
    /// Link up.
    pub up: bool,
    /// Addresses on it.
    pub references: u32,
    /// The address is on this one.
    pub active: bool,
}

impl Render for IpInfo {
    fn text(&self, _cx: &RenderCx) -> String {
        let mut out = format!("Public IP[{}] info on node {}\n", self.address, self.node);
        out.push_str(&format!(
            "IP:{}\nCurrentNode:{}\nNumInterfaces:{}\n",
            self.address,
            self.holder,
            self.interfaces.len()
        ));
        for (i, iface) in self.interfaces.iter().enumerate() {
            out.push_str(&format!(
                "Interface[{}]: Name:{} Link:{} References:{}{}\n",
                i + 1,
                iface.name,
                if iface.up { "up" } else { "down" },
                iface.references,
                if iface.active { " (active)" } else { "" }
            ));
        }
        out
    }
}

/// One interface as `ipinfo` shows it.
fn iface_row(iface: &Iface, active: bool) -> IfaceRow {
    IfaceRow { name: iface.name.clone(), up: iface.link_state != 0, references: iface.references, active }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [text] = args else {
        return Err(usage("ipinfo"));
    };
    let Some(ip) = parse_ip(text) else {
        return Err(CliError::line(format!("Invalid IP address {text}")));
    };
    let target = session.target();
    let opcode = Opcode::GET_PUBLIC_IP_INFO;
    let reply = session.control_to(target, opcode, sock_addr(ip, 0).to_bytes()).await?;
    if reply.status != 0 {
        let failed = CliError::control_status(&opcode_name(opcode), reply.status);
        // -1 is the daemon's "unknown address"; other failures say nothing more.
        return Err(if reply.status == -1 {
            failed.then_stdout(format!("Node {target} does not know about IP {text}\n"))
        } else {
            failed
        });
    }
    let info = Session::<L>::decode::<PublicIpInfo>(opcode, target, &reply.data)?;
    let interfaces =
        info.ifaces.iter().enumerate().map(|(i, iface)| iface_row(iface, i as u32 == info.active_idx)).collect();
    Ok(cx.reply(&IpInfo { node: target, address: info.ip.addr.ip(), holder: info.ip.pnn, interfaces }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_form() {
        let r = IpInfo {
            node: 0,
            address: IpAddr::from([10, 254, 2, 12]),
            holder: 0,
            interfaces: vec![
                IfaceRow { name: "lo".into(), up: true, references: 2, active: true },
                IfaceRow { name: "ifb0".into(), up: false, references: 0, active: false },
            ],
        };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(
            r.text(&cx),
            "Public IP[10.254.2.12] info on node 0\nIP:10.254.2.12\nCurrentNode:0\nNumInterfaces:2\n\
             Interface[1]: Name:lo Link:up References:2 (active)\n\
             Interface[2]: Name:ifb0 Link:down References:0\n"
        );
        assert_eq!(r.machine(&cx), r.text(&cx));
    }
}
