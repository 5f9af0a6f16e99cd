//! `ctdb_sock_addr` (28 bytes) and `ctdb_connection` (56 bytes).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::error::ProtoError;
use crate::wire::{put_pad, take, take_array, Wire};

/// Linux `AF_INET`.
pub const AF_INET: u16 = 2;
/// Linux `AF_INET6`.
pub const AF_INET6: u16 = 10;
/// Size of `ctdb_sock_addr`, the union of `sockaddr_in` and `sockaddr_in6`.
pub const SOCK_ADDR_LEN: usize = 28;

/// `ctdb_sock_addr`: a kernel `sockaddr_in`/`sockaddr_in6` in a 28-byte
/// union. Family in host order; port and address in network order.
///
/// Bytes after the family's own sockaddr may be uninitialised (smbd sends
/// garbage there), so decoding ignores them and encoding writes zeros.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct SockAddr(pub SocketAddr);

impl SockAddr {
    /// The IP address.
    pub fn ip(&self) -> std::net::IpAddr {
        self.0.ip()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.0.port()
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(a: SocketAddr) -> Self {
        SockAddr(a)
    }
}

impl From<SockAddr> for SocketAddr {
    fn from(a: SockAddr) -> Self {
        a.0
    }
}

impl std::fmt::Display for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Wire for SockAddr {
    fn wire_len(&self) -> usize {
        SOCK_ADDR_LEN
    }
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        match self.0 {
            SocketAddr::V4(a) => {
                AF_INET.encode(out);
                out.extend_from_slice(&a.port().to_be_bytes());
                out.extend_from_slice(&a.ip().octets());
            }
            SocketAddr::V6(a) => {
                AF_INET6.encode(out);
                out.extend_from_slice(&a.port().to_be_bytes());
                a.flowinfo().encode(out);
                out.extend_from_slice(&a.ip().octets());
                a.scope_id().encode(out);
            }
        }
        put_pad(out, SOCK_ADDR_LEN - (out.len() - start));
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let mut b = take(buf, SOCK_ADDR_LEN, "sock_addr")?;
        let family = u16::decode(&mut b)?;
        let port = u16::from_be_bytes(take_array(&mut b, "sock_addr port")?);
        match family {
            AF_INET => {
                let ip: [u8; 4] = take_array(&mut b, "sockaddr_in address")?;
                Ok(SockAddr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port))))
            }
            AF_INET6 => {
                // flowinfo and scope_id are copied as stored in memory, the
                // same convention std uses when it builds a sockaddr_in6.
                let flowinfo = u32::decode(&mut b)?;
                let ip: [u8; 16] = take_array(&mut b, "sockaddr_in6 address")?;
                let scope_id = u32::decode(&mut b)?;
                Ok(SockAddr(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flowinfo, scope_id))))
            }
            _ => Err(ProtoError::Malformed("sock_addr family is not AF_INET/AF_INET6")),
        }
    }
}

/// `ctdb_connection`: one TCP connection (TCP_CLIENT, tickles).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Connection {
    /// Client side (for TCP_CLIENT: the SMB client).
    pub src: SockAddr,
    /// Server side (for TCP_CLIENT: the public address).
    pub dst: SockAddr,
}

impl Wire for Connection {
    fn wire_len(&self) -> usize {
        2 * SOCK_ADDR_LEN
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.src.encode(out);
        self.dst.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(Connection { src: SockAddr::decode(buf)?, dst: SockAddr::decode(buf)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_address_matches_ctdbd_bytes() {
        let a = SockAddr("127.0.0.1:4379".parse().unwrap());
        let b = a.to_bytes();
        assert_eq!(&b[..8], &[0x02, 0x00, 0x11, 0x1b, 0x7f, 0x00, 0x00, 0x01]);
        assert!(b[8..].iter().all(|&x| x == 0));
        assert_eq!(SockAddr::from_bytes(&b), Ok(a));
    }

    #[test]
    fn garbage_after_sockaddr_in_is_ignored() {
        let mut b = SockAddr("10.1.2.3:445".parse().unwrap()).to_bytes();
        for x in &mut b[16..] {
            *x = 0xAA;
        }
        assert_eq!(SockAddr::from_bytes(&b).map(|a| a.0), Ok("10.1.2.3:445".parse().unwrap()));
    }

    #[test]
    fn ipv6_layout() {
        let a = SockAddr(SocketAddr::V6(SocketAddrV6::new("fd00::1".parse().unwrap(), 445, 0, 3)));
        let b = a.to_bytes();
        assert_eq!(&b[..4], &[10, 0, 0x01, 0xbd]);
        assert_eq!(b[8], 0xfd);
        assert_eq!(&b[24..28], &[3, 0, 0, 0]);
        assert_eq!(SockAddr::from_bytes(&b), Ok(a));
    }

    #[test]
    fn unknown_family_is_malformed() {
        assert!(matches!(SockAddr::from_bytes(&[0u8; 28]), Err(ProtoError::Malformed(_))));
    }
}
