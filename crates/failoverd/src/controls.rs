//! The public-address controls, forwarded by the gateway as legacy frames
//! and answered with legacy REPLY_CONTROL frames: GET_PUBLIC_IPS (all, or
//! only those this node can host: flag 0x10000), GET_PUBLIC_IP_INFO,
//! GET_IFACES, SET_IFACE_LINK_STATE, the connection lists, ADD_PUBLIC_IP /
//! DEL_PUBLIC_IP, SEND_GRATUITOUS_ARP; RELEASE_IP / TAKEOVER_IP
//! (`crate::moveip`) and RELOAD_PUBLIC_IPS (`crate::reload`) answer once
//! their work is done.

use std::net::{IpAddr, SocketAddr};

use ctdb_legacy_proto::{
    pnn, AddrInfo, Connection, Frame, Header, Iface, IfaceList, Opcode, Operation, Packet as LPacket, PublicIp,
    PublicIpInfo, PublicIpList, ReplyControl, ReqControl, SockAddr, TickleList, Wire, CTDB_MAGIC, CTDB_PROTOCOL,
};
use ctdb_proto::{Body, Endpoint, Flags, Packet};
use tracing::{info, warn};

use crate::core::Failoverd;

/// GET_PUBLIC_IPS: only the addresses this node can host.
const ONLY_AVAILABLE: u32 = 0x0001_0000;

fn ok(data: Vec<u8>) -> ReplyControl {
    ReplyControl { status: 0, data, errmsg: None }
}

fn fail(msg: &str) -> ReplyControl {
    ReplyControl { status: -1, data: Vec::new(), errmsg: Some(msg.to_string()) }
}

fn sockaddr(addr: IpAddr) -> SockAddr {
    SockAddr(SocketAddr::new(addr, 0))
}

impl Failoverd {
    /// A control from the gateway.
    pub(crate) fn legacy_control(&mut self, now: std::time::Instant, gw: Endpoint, reqid: u64, bytes: &[u8]) {
        let c = match Frame::decode(bytes) {
            Ok(Frame { packet: LPacket::ReqControl(c), .. }) => c,
            Ok(_) | Err(_) => {
                warn!("failoverd: malformed control from the gateway");
                self.reply(gw, reqid, fail("malformed control"));
                return;
            }
        };
        let r = match c.opcode {
            Opcode::RELEASE_IP => self.release_ip(gw, reqid, &c.data),
            Opcode::TAKEOVER_IP => self.takeover_ip(gw, reqid, &c.data),
            Opcode::RELOAD_PUBLIC_IPS => self.reload_public_ips(gw, reqid),
            _ => Some(self.answer(now, &c)),
        };
        if let Some(r) = r {
            self.reply(gw, reqid, r);
        }
    }

    fn answer(&mut self, now: std::time::Instant, c: &ReqControl) -> ReplyControl {
        match c.opcode {
            Opcode::GET_PUBLIC_IPS => {
                let available = self.available();
                let ips = self
                    .cfg
                    .addresses
                    .iter()
                    .filter(|a| c.flags & ONLY_AVAILABLE == 0 || available.contains(&a.addr))
                    .map(|a| PublicIp {
                        pnn: self.holders.get(&a.addr).copied().flatten().unwrap_or(pnn::UNKNOWN),
                        addr: sockaddr(a.addr),
                    })
                    .collect();
                ok(PublicIpList { ips }.to_bytes())
            }
            Opcode::GET_PUBLIC_IP_INFO => {
                let Ok(addr) = SockAddr::from_bytes(&c.data) else { return fail("malformed address") };
                let ip = addr.ip().to_canonical();
                let Some(a) = self.cfg.addresses.iter().find(|a| a.addr == ip).cloned() else {
                    return fail("unknown public IP");
                };
                let holder = self.holders.get(&ip).copied().flatten();
                let ifaces: Vec<Iface> = a.ifaces.iter().map(|i| self.iface(i)).collect();
                // The interface in use: the first with a link up, while
                // this node holds the address.
                let active_idx = if holder == Some(self.cfg.pnn) {
                    ifaces.iter().position(|i| i.link_state == 1).map_or(u32::MAX, |i| i as u32)
                } else {
                    u32::MAX
                };
                let info = PublicIpInfo {
                    ip: PublicIp { pnn: holder.unwrap_or(pnn::UNKNOWN), addr: sockaddr(ip) },
                    active_idx,
                    ifaces,
                };
                ok(info.to_bytes())
            }
            Opcode::GET_IFACES => {
                let names: Vec<String> = self.links.keys().cloned().collect();
                let ifaces = names.iter().map(|n| self.iface(n)).collect();
                ok(IfaceList { ifaces }.to_bytes())
            }
            Opcode::SET_IFACE_LINK_STATE => {
                let Ok(i) = Iface::from_bytes(&c.data) else { return fail("malformed interface") };
                match self.links.get_mut(&i.name) {
                    Some(up) => {
                        let new = i.link_state != 0;
                        if *up != new {
                            info!("failoverd: interface {} link {}", i.name, if new { "up" } else { "down" });
                        }
                        *up = new;
                        self.check_available(now);
                        ok(Vec::new())
                    }
                    None => fail("unknown interface"),
                }
            }
            Opcode::TCP_CLIENT | Opcode::TCP_ADD | Opcode::TCP_ADD_DELAYED_UPDATE | Opcode::TCP_REMOVE => {
                let Ok(conn) = Connection::from_bytes(&c.data) else { return fail("malformed connection") };
                let server = std::net::SocketAddr::new(conn.dst.ip().to_canonical(), conn.dst.port());
                let client = std::net::SocketAddr::new(conn.src.ip().to_canonical(), conn.src.port());
                if !self.cfg.addresses.iter().any(|a| a.addr == server.ip()) {
                    // Not to a public address: nothing to track (CTDB
                    // answers 0 as well).
                    return ok(Vec::new());
                }
                self.track(c.opcode != Opcode::TCP_REMOVE, client, server, true);
                ok(Vec::new())
            }
            Opcode::GET_TCP_TICKLE_LIST => {
                let Ok(a) = SockAddr::from_bytes(&c.data) else { return fail("malformed address") };
                let ip = a.ip().to_canonical();
                if !self.cfg.addresses.iter().any(|x| x.addr == ip) {
                    return ReplyControl { status: 1, data: Vec::new(), errmsg: None };
                }
                let conns = self
                    .conns
                    .get(&ip)
                    .into_iter()
                    .flatten()
                    .filter(|(_, server)| a.port() == 0 || server.port() == a.port())
                    .map(|(client, server)| Connection { src: SockAddr(*client), dst: SockAddr(*server) })
                    .collect();
                ok(TickleList { addr: a, conns }.to_bytes())
            }
            Opcode::SET_TCP_TICKLE_LIST => {
                let Ok(t) = TickleList::from_bytes(&c.data) else { return fail("malformed tickle list") };
                let ip = t.addr.ip().to_canonical();
                let set = t
                    .conns
                    .iter()
                    .map(|c| (c.src.0, std::net::SocketAddr::new(c.dst.ip().to_canonical(), c.dst.port())))
                    .collect();
                self.conns.insert(ip, set);
                ok(Vec::new())
            }
            Opcode::ADD_PUBLIC_IP => {
                let Ok(a) = AddrInfo::from_bytes(&c.data) else { return fail("malformed address") };
                let ifaces: Vec<String> = a.iface.split(',').filter(|i| !i.is_empty()).map(str::to_string).collect();
                if ifaces.is_empty() {
                    return fail("no interface given");
                }
                let addr = crate::core::Address { addr: a.addr.ip().to_canonical(), mask_bits: a.mask as u8, ifaces };
                if !self.add_address(now, addr) {
                    return fail("address already known");
                }
                ok(Vec::new())
            }
            Opcode::DEL_PUBLIC_IP => {
                let Ok(a) = AddrInfo::from_bytes(&c.data) else { return fail("malformed address") };
                if !self.delete_address(now, a.addr.ip().to_canonical()) {
                    return fail("unknown public IP");
                }
                ok(Vec::new())
            }
            Opcode::SEND_GRATUITOUS_ARP => self.send_gratuitous_arp(now, &c.data),
            _ => fail("not a failover control"),
        }
    }

    /// An interface as the controls show it: link state, and how many
    /// addresses this node holds on it.
    fn iface(&self, name: &str) -> Iface {
        let up = self.links.get(name).copied().unwrap_or(false);
        let references = self
            .cfg
            .addresses
            .iter()
            .filter(|a| self.holders.get(&a.addr).copied().flatten() == Some(self.cfg.pnn))
            .filter(|a| {
                a.ifaces.iter().find(|i| self.links.get(*i).copied().unwrap_or(false)).map(String::as_str) == Some(name)
            })
            .count() as u32;
        Iface { name: name.to_string(), link_state: u16::from(up), references }
    }

    /// Answer the gateway's request `reqid`.
    pub(crate) fn reply(&mut self, gw: Endpoint, reqid: u64, r: ReplyControl) {
        let h = Header {
            length: 0,
            magic: CTDB_MAGIC,
            version: CTDB_PROTOCOL,
            generation: self.state.as_ref().map_or(1, |s| s.generation),
            operation: Operation::REPLY_CONTROL,
            destnode: 0,
            srcnode: self.cfg.pnn,
            reqid: 0,
        };
        let bytes = Frame { header: h, packet: LPacket::ReplyControl(r) }.encode(true);
        let mut p =
            Packet::new(gw, Endpoint::new(self.cfg.pnn, ctdb_proto::ServiceId::FAILOVERD), reqid, Body::Legacy(bytes));
        p.header.flags = Flags::REPLY;
        self.push_out(p);
    }
}
