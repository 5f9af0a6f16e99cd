//! Interfaces, public addresses and tickle lists.

use crate::error::ProtoError;
use crate::types::addr::{Connection, SockAddr, SOCK_ADDR_LEN};
use crate::types::strings::StringN;
use crate::wire::{decode_vec, encode_all, len_all, len_u32, put_pad, take, until_nul, utf8, Wire};

/// Size of the `name` field of `ctdb_iface` (IFNAMSIZ + 2).
pub const IFACE_NAME_LEN: usize = 18;
/// Size of `ctdb_iface`.
pub const IFACE_LEN: usize = 24;

/// `ctdb_iface` (24 bytes): `name char[18]`, u16 link_state, u32 references.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Iface {
    /// Interface name. At most 18 bytes are sent; ctdbd's are NUL-terminated
    /// within them (Linux names are at most 15 bytes).
    pub name: String,
    /// 1 up, 0 down.
    pub link_state: u16,
    /// Public addresses currently on it.
    pub references: u32,
}

impl Wire for Iface {
    fn wire_len(&self) -> usize {
        IFACE_LEN
    }
    fn encode(&self, out: &mut Vec<u8>) {
        let name = self.name.as_bytes();
        let n = name.len().min(IFACE_NAME_LEN);
        out.extend_from_slice(&name[..n]);
        put_pad(out, IFACE_NAME_LEN - n);
        self.link_state.encode(out);
        self.references.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let name = take(buf, IFACE_NAME_LEN, "iface name")?;
        Ok(Iface {
            name: utf8(until_nul(name), "iface name is not UTF-8")?,
            link_state: u16::decode(buf)?,
            references: u32::decode(buf)?,
        })
    }
}

/// `ctdb_iface_list` (GET_IFACES): u32 count, then the interfaces.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct IfaceList {
    /// The interfaces.
    pub ifaces: Vec<Iface>,
}

impl Wire for IfaceList {
    fn wire_len(&self) -> usize {
        4 + len_all(&self.ifaces)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        len_u32(self.ifaces.len()).encode(out);
        encode_all(&self.ifaces, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let num = u32::decode(buf)?;
        Ok(IfaceList { ifaces: decode_vec(buf, num, IFACE_LEN, "iface_list")? })
    }
}

/// `ctdb_public_ip` (32 bytes): holder pnn and address.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct PublicIp {
    /// Node currently holding it, [`crate::pnn::UNKNOWN`] if unassigned.
    pub pnn: u32,
    /// The address (port 0).
    pub addr: SockAddr,
}

impl Wire for PublicIp {
    fn wire_len(&self) -> usize {
        4 + SOCK_ADDR_LEN
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.pnn.encode(out);
        self.addr.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(PublicIp { pnn: u32::decode(buf)?, addr: SockAddr::decode(buf)? })
    }
}

/// `ctdb_public_ip_list` (GET_PUBLIC_IPS): u32 count, then the addresses.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct PublicIpList {
    /// The addresses.
    pub ips: Vec<PublicIp>,
}

impl Wire for PublicIpList {
    fn wire_len(&self) -> usize {
        4 + len_all(&self.ips)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        len_u32(self.ips.len()).encode(out);
        encode_all(&self.ips, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let num = u32::decode(buf)?;
        Ok(PublicIpList { ips: decode_vec(buf, num, 4 + SOCK_ADDR_LEN, "public_ip_list")? })
    }
}

/// `ctdb_public_ip_info` (GET_PUBLIC_IP_INFO): the address, the index of
/// the active interface and the candidate interfaces.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PublicIpInfo {
    /// Holder and address.
    pub ip: PublicIp,
    /// Index into `ifaces` of the interface in use; 0xFFFFFFFF if none.
    pub active_idx: u32,
    /// Interfaces that may carry the address.
    pub ifaces: Vec<Iface>,
}

impl Wire for PublicIpInfo {
    fn wire_len(&self) -> usize {
        40 + len_all(&self.ifaces)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.ip.encode(out);
        self.active_idx.encode(out);
        len_u32(self.ifaces.len()).encode(out);
        encode_all(&self.ifaces, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let ip = PublicIp::decode(buf)?;
        let active_idx = u32::decode(buf)?;
        let num = u32::decode(buf)?;
        Ok(PublicIpInfo { ip, active_idx, ifaces: decode_vec(buf, num, IFACE_LEN, "public_ip_info")? })
    }
}

/// `ctdb_addr_info` (ADD_PUBLIC_IP, DEL_PUBLIC_IP, SEND_GRATUITOUS_ARP).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AddrInfo {
    /// The address.
    pub addr: SockAddr,
    /// Prefix length.
    pub mask: u32,
    /// Interface list text (`eth0,eth1`); empty = none (stringn length 0).
    pub iface: String,
}

impl Wire for AddrInfo {
    fn wire_len(&self) -> usize {
        SOCK_ADDR_LEN + 4 + StringN::len_of(&self.iface)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.addr.encode(out);
        self.mask.encode(out);
        StringN::encode_str(&self.iface, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(AddrInfo { addr: SockAddr::decode(buf)?, mask: u32::decode(buf)?, iface: StringN::decode_str(buf)? })
    }
}

/// `ctdb_tickle_list` (GET/SET_TCP_TICKLE_LIST): an address and the client
/// connections to it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TickleList {
    /// The public address.
    pub addr: SockAddr,
    /// Connections to it.
    pub conns: Vec<Connection>,
}

impl Wire for TickleList {
    fn wire_len(&self) -> usize {
        SOCK_ADDR_LEN + 4 + len_all(&self.conns)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.addr.encode(out);
        len_u32(self.conns.len()).encode(out);
        encode_all(&self.conns, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let addr = SockAddr::decode(buf)?;
        let num = u32::decode(buf)?;
        Ok(TickleList { addr, conns: decode_vec(buf, num, 2 * SOCK_ADDR_LEN, "tickle_list")? })
    }
}
