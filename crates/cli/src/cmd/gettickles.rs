//! `ctdb gettickles IP [PORT]`: the client connections to a public address
//! the asked node tracks, whose holder will reset them after a move
//! (GET_TCP_TICKLE_LIST).
//!
//! The port is read before the address (a bad one ends the run silently
//! with its errno, as in Samba's tool) and sent with it. The `-X` header
//! keeps Samba 4.17's spelling, `Destiation IP`.

use std::net::IpAddr;

use serde::Serialize;

use ctdb_legacy_proto::{Opcode, TickleList, Wire};

use super::{usage, Ctx};
use crate::error::CliError;
use crate::inet::{ip_port_text, ip_text, parse_ip, sock_addr};
use crate::numparse::{smb_strtoul, Radix};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb gettickles`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tickles {
    /// The public address, as the daemon returned it.
    pub address: IpAddr,
    /// The connections.
    pub connections: Vec<TrackedConnection>,
}

/// One tracked connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackedConnection {
    /// Client address and port (`a.b.c.d:p` / `[v6]:p`).
    pub source: String,
    /// Public address and port.
    pub destination: String,
    /// Client address alone (for `-X`).
    #[serde(skip)]
    pub source_ip: String,
    /// Client port.
    #[serde(skip)]
    pub source_port: u16,
    /// Public address alone.
    #[serde(skip)]
    pub destination_ip: String,
    /// Public port.
    #[serde(skip)]
    pub destination_port: u16,
}

impl Render for Tickles {
    fn text(&self, _cx: &RenderCx) -> String {
        let mut out = format!("Connections for IP: {}\nNum connections: {}\n", self.address, self.connections.len());
        for c in &self.connections {
            out.push_str(&format!("SRC: {}   DST: {}\n", c.source, c.destination));
        }
        out
    }

    fn machine(&self, cx: &RenderCx) -> String {
        let mut out = cx.row(["Source IP", "Port", "Destiation IP", "Port"]);
        for c in &self.connections {
            out.push_str(&cx.row([
                c.source_ip.clone(),
                c.source_port.to_string(),
                c.destination_ip.clone(),
                c.destination_port.to_string(),
            ]));
        }
        out
    }
}

/// Builds the typed result from the daemon's list.
pub fn tickles(list: &TickleList) -> Tickles {
    let connections = list
        .conns
        .iter()
        .map(|c| TrackedConnection {
            source: ip_port_text(&c.src),
            destination: ip_port_text(&c.dst),
            source_ip: ip_text(&c.src),
            source_port: c.src.port(),
            destination_ip: ip_text(&c.dst),
            destination_port: c.dst.port(),
        })
        .collect();
    Tickles { address: list.addr.ip(), connections }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let (text, port) = match args {
        [text] => (text, 0),
        [text, port] => {
            let port = smb_strtoul(port, Radix::Decimal, false).map_err(|e| CliError::Silent(e.errno()))?;
            // `unsigned` then htons(): the low 16 bits.
            (text, port as u16)
        }
        _ => return Err(usage("gettickles")),
    };
    let Some(ip) = parse_ip(text) else {
        return Err(CliError::line(format!("Invalid IP address {text}")));
    };
    let node = session.target();
    let opcode = Opcode::GET_TCP_TICKLE_LIST;
    let failed = |e: CliError| e.then_line("Failed to get list of connections");
    let data = session.control_ok_to(node, opcode, sock_addr(ip, port).to_bytes()).await.map_err(failed)?;
    let list = Session::<L>::decode::<TickleList>(opcode, node, &data).map_err(failed)?;
    Ok(cx.reply(&tickles(&list)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;
    use ctdb_legacy_proto::{Connection, SockAddr};

    #[test]
    fn text_and_machine_forms() {
        let a = |s: &str| SockAddr(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")));
        let list = TickleList {
            addr: a("10.254.2.11:0"),
            conns: vec![
                Connection { src: a("10.1.1.1:1234"), dst: a("10.254.2.11:445") },
                Connection { src: a("[fd00::5]:40000"), dst: a("[fd00::1]:445") },
            ],
        };
        let r = tickles(&list);
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(
            r.text(&cx),
            "Connections for IP: 10.254.2.11\nNum connections: 2\n\
             SRC: 10.1.1.1:1234   DST: 10.254.2.11:445\n\
             SRC: [fd00::5]:40000   DST: [fd00::1]:445\n"
        );
        assert_eq!(
            r.machine(&cx),
            "|Source IP|Port|Destiation IP|Port|\n|10.1.1.1|1234|10.254.2.11|445|\n|fd00::5|40000|fd00::1|445|\n"
        );
    }
}
