//! `ctdb ip [all]` (with `-v`, `-X`/`-Y`): the public addresses a node
//! knows and who holds each.
//!
//! ```text
//! GET_PUBLIC_IPS -> the asked node            (`all`: every active node)
//! per address, sorted: GET_PUBLIC_IP_INFO -> the asked node
//!                                            (`all`: the holder; none if unassigned)
//! ```
//!
//! Samba's tool asks for the details of every address even without `-v`,
//! so a daemon sees the same requests either way. With `all`, an address
//! counts as held by a node only if that node says so itself; an address
//! only others mention is shown unassigned (-1).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use ctdb_legacy_proto::{flags, pnn, PublicIp, PublicIpInfo, SockAddr};

use super::{usage, Ctx};
use crate::error::CliError;
use crate::inet::cmp_addr;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb ip`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicIps {
    /// `all` was asked for.
    pub all: bool,
    /// The asked node (named in the text header when not `all`).
    pub node: u32,
    /// `-v`: show the interfaces.
    pub verbose: bool,
    /// The addresses, sorted as Samba sorts them.
    pub ips: Vec<IpRow>,
}

/// One address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpRow {
    /// The address.
    pub address: IpAddr,
    /// Its holder; `None` when unassigned (printed -1).
    pub holder: Option<u32>,
    /// Its interfaces, when the details were asked for (not for
    /// unassigned addresses in `ip all`).
    pub interfaces: Option<IpInterfaces>,
}

/// The interfaces of one address, from GET_PUBLIC_IP_INFO.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpInterfaces {
    /// The interface it is on, if any.
    pub active: Option<String>,
    /// Interfaces whose link is up.
    pub available: Vec<String>,
    /// Every interface it may be on, in the daemon's order.
    pub configured: Vec<String>,
}

impl IpInterfaces {
    /// Builds the three lists from a daemon's answer.
    pub fn from_info(info: &PublicIpInfo) -> IpInterfaces {
        let active = usize::try_from(info.active_idx).ok().and_then(|i| info.ifaces.get(i)).map(|i| i.name.clone());
        IpInterfaces {
            active,
            available: info.ifaces.iter().filter(|i| i.link_state != 0).map(|i| i.name.clone()).collect(),
            configured: info.ifaces.iter().map(|i| i.name.clone()).collect(),
        }
    }

    /// `active`, `available`, `configured` as printed (empty when unknown).
    fn columns(this: Option<&IpInterfaces>) -> [String; 3] {
        match this {
            None => Default::default(),
            Some(i) => [i.active.clone().unwrap_or_default(), i.available.join(","), i.configured.join(",")],
        }
    }
}

impl IpRow {
    /// The holder as Samba prints it: `(int)pnn`.
    fn holder_text(&self) -> String {
        self.holder.map_or(-1, |p| p as i32).to_string()
    }
}

impl Render for PublicIps {
    fn text(&self, _cx: &RenderCx) -> String {
        let mut out = if self.all {
            "Public IPs on ALL nodes\n".to_string()
        } else {
            format!("Public IPs on node {}\n", self.node)
        };
        for ip in &self.ips {
            if self.verbose {
                let [active, available, configured] = IpInterfaces::columns(ip.interfaces.as_ref());
                out.push_str(&format!(
                    "{} node[{}] active[{active}] available[{available}] configured[{configured}]\n",
                    ip.address,
                    ip.holder_text()
                ));
            } else {
                out.push_str(&format!("{} {}\n", ip.address, ip.holder_text()));
            }
        }
        out
    }

    fn machine(&self, cx: &RenderCx) -> String {
        let mut header = vec!["Public IP", "Node"];
        if self.verbose {
            header.extend(["ActiveInterfaces", "AvailableInterfaces", "ConfiguredInterfaces"]);
        }
        let mut out = cx.row(header);
        for ip in &self.ips {
            let mut fields = vec![ip.address.to_string(), ip.holder_text()];
            if self.verbose {
                fields.extend(IpInterfaces::columns(ip.interfaces.as_ref()));
            }
            out.push_str(&cx.row(fields));
        }
        out
    }
}

/// Every address any active node knows: a node's own claim wins, an
/// address only mentioned by others is unassigned (Samba's
/// `get_all_public_ips`). Any failure exits 1.
async fn all_public_ips<L: Link>(session: &mut Session<L>) -> Result<Vec<PublicIp>, CliError> {
    let local = session.local_pnn();
    let map = session.nodemap_from(local).await?.clone();
    let active: Vec<u32> = map.nodes.iter().filter(|n| n.flags & flags::INACTIVE == 0).map(|n| n.pnn).collect();
    if active.is_empty() {
        return Err(CliError::Silent(1));
    }
    let mut seen: HashMap<SockAddr, u32> = HashMap::new();
    for p in active {
        let list = session.public_ips_of(p).await.map_err(|e| e.with_exit(1))?;
        for ip in list.ips {
            if ip.pnn == p {
                seen.insert(ip.addr, ip.pnn);
            } else {
                seen.entry(ip.addr).or_insert(pnn::UNKNOWN);
            }
        }
    }
    Ok(seen.into_iter().map(|(addr, pnn)| PublicIp { pnn, addr }).collect())
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let all = match args {
        [] => false,
        [a] if a == "all" => true,
        _ => return Err(usage("ip")),
    };
    let target = session.target();
    let mut ips = if all { all_public_ips(session).await? } else { session.public_ips_of(target).await?.ips };
    ips.sort_by(|a, b| cmp_addr(&a.addr, &b.addr));
    let mut rows = Vec::with_capacity(ips.len());
    for ip in ips {
        let asked = if all { ip.pnn } else { target };
        let interfaces = if asked == pnn::UNKNOWN {
            None
        } else {
            Some(IpInterfaces::from_info(&session.public_ip_info_of(asked, ip.addr).await?))
        };
        let holder = (ip.pnn != pnn::UNKNOWN).then_some(ip.pnn);
        rows.push(IpRow { address: ip.addr.ip(), holder, interfaces });
    }
    Ok(cx.reply(&PublicIps { all, node: target, verbose: cx.options.verbose, ips: rows }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    fn row(addr: &str, holder: Option<u32>, ifaces: Option<(&str, &str, &str)>) -> IpRow {
        let split = |s: &str| s.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect();
        IpRow {
            address: addr.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            holder,
            interfaces: ifaces.map(|(a, av, c)| IpInterfaces {
                active: (!a.is_empty()).then(|| a.to_string()),
                available: split(av),
                configured: split(c),
            }),
        }
    }

    #[test]
    fn text_and_machine_forms() {
        let ips = vec![row("10.254.2.11", Some(0), Some(("lo", "lo,ifb0", "lo,ifb0"))), row("10.254.2.13", None, None)];
        let cx = RenderCx::new(Zone::Utc);
        let r = PublicIps { all: false, node: 0, verbose: false, ips: ips.clone() };
        assert_eq!(r.text(&cx), "Public IPs on node 0\n10.254.2.11 0\n10.254.2.13 -1\n");
        assert_eq!(r.machine(&cx), "|Public IP|Node|\n|10.254.2.11|0|\n|10.254.2.13|-1|\n");
        let r = PublicIps { all: true, node: 0, verbose: true, ips };
        assert_eq!(
            r.text(&cx),
            "Public IPs on ALL nodes\n\
             10.254.2.11 node[0] active[lo] available[lo,ifb0] configured[lo,ifb0]\n\
             10.254.2.13 node[-1] active[] available[] configured[]\n"
        );
        assert_eq!(
            r.machine(&cx.with_sep(";")),
            ";Public IP;Node;ActiveInterfaces;AvailableInterfaces;ConfiguredInterfaces;\n\
             ;10.254.2.11;0;lo;lo,ifb0;lo,ifb0;\n\
             ;10.254.2.13;-1;;;;\n"
        );
    }

    #[test]
    fn interfaces_from_the_daemons_answer() {
        use ctdb_legacy_proto::Iface;
        let iface = |name: &str, up: u16| Iface { name: name.into(), link_state: up, references: 0 };
        let addr = SockAddr(std::net::SocketAddr::from(([10, 0, 0, 1], 0)));
        let info = PublicIpInfo {
            ip: PublicIp { pnn: 1, addr },
            active_idx: 1,
            ifaces: vec![iface("eth0", 0), iface("eth1", 1), iface("eth2", 1)],
        };
        let i = IpInterfaces::from_info(&info);
        assert_eq!(i.active.as_deref(), Some("eth1"));
        assert_eq!(i.available, ["eth1", "eth2"]);
        assert_eq!(i.configured, ["eth0", "eth1", "eth2"]);
        let none = IpInterfaces::from_info(&PublicIpInfo { active_idx: u32::MAX, ..info });
        assert_eq!(none.active, None);
    }
}
