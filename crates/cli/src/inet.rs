//! Addresses as Samba's tool reads and prints them (`ip`, `ipinfo`,
//! `moveip`, `addip`, tickles): `ctdb_sock_addr_from_string` and friends.
//!
//! Rules kept because scripts and users meet them:
//! * an argument without `:` is IPv4 (`inet_pton`); with one it is IPv6,
//!   optionally in brackets (`[fd00::1]`), and an IPv4-mapped IPv6 address
//!   is read again as the IPv4 text after its right-most `:`
//!   (`::ffff:10.0.0.1` is 10.0.0.1, but `::ffff:a00:1` is refused);
//! * `ADDR:PORT` splits at the right-most `:`, the port is a whole decimal
//!   number (blanks before it allowed, no sign), truncated to 16 bits;
//! * `ADDR/BITS` splits at the right-most `/`, the mask the same way;
//! * texts of 64 bytes or more are refused where Samba copies them into
//!   its 64-byte buffer.
//!
//! Printing: the address as `inet_ntop` writes it, with a port
//! `a.b.c.d:p` or `[v6]:p`; sorting is by family (IPv4 first), address
//! bytes, then port.

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ctdb_legacy_proto::{SockAddr, Wire};

use crate::numparse::{smb_strtoul, Radix};

/// Samba's scratch buffer: longer texts are invalid.
const BUF: usize = 64;

/// An address without port (`ctdb_sock_addr_from_string(s, false)`).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let Some(colon) = s.rfind(':') else {
        return s.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    };
    if s.len() >= BUF {
        return None;
    }
    let (inner, colon) = match s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => (inner, inner.rfind(':')?),
        None => (s, colon),
    };
    let v6: Ipv6Addr = inner.parse().ok()?;
    if v6.octets()[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
        // Samba reparses the text after the last colon as IPv4.
        return inner[colon + 1..].parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    }
    Some(IpAddr::V6(v6))
}

/// `ADDR:PORT` (`ctdb_sock_addr_from_string(s, true)`).
pub fn parse_ip_port(s: &str) -> Option<SocketAddr> {
    if s.len() >= BUF {
        return None;
    }
    let colon = s.rfind(':')?;
    let port = smb_strtoul(&s[colon + 1..], Radix::Decimal, true).ok()?;
    // `unsigned` then htons(): the low 16 bits.
    Some(SocketAddr::new(parse_ip(&s[..colon])?, port as u16))
}

/// `ADDR/BITS` (`ctdb_sock_addr_mask_from_string`); the mask is not
/// checked against the family, as in Samba.
pub fn parse_ip_mask(s: &str) -> Option<(IpAddr, u32)> {
    if s.len() >= BUF {
        return None;
    }
    let slash = s.rfind('/')?;
    let mask = smb_strtoul(&s[slash + 1..], Radix::Decimal, true).ok()?;
    Some((parse_ip(&s[..slash])?, mask as u32))
}

/// The wire form of an address with a port (flow and scope 0).
pub fn sock_addr(ip: IpAddr, port: u16) -> SockAddr {
    SockAddr(SocketAddr::new(ip, port))
}

/// The address alone, as `inet_ntop` prints it.
pub fn ip_text(addr: &SockAddr) -> String {
    addr.ip().to_string()
}

/// The address with its port: `10.0.0.1:445`, `[fd00::1]:445`.
pub fn ip_port_text(addr: &SockAddr) -> String {
    match addr.ip() {
        IpAddr::V4(a) => format!("{a}:{}", addr.port()),
        IpAddr::V6(a) => format!("[{a}]:{}", addr.port()),
    }
}

/// Samba's `ctdb_sock_addr_cmp`: family (AF_INET before AF_INET6), the
/// address bytes, then the port.
pub fn cmp_addr(a: &SockAddr, b: &SockAddr) -> Ordering {
    let key = |s: &SockAddr| match s.ip() {
        IpAddr::V4(v) => (0u8, v.octets().to_vec()),
        IpAddr::V6(v) => (1u8, v.octets().to_vec()),
    };
    key(a).cmp(&key(b)).then(a.port().cmp(&b.port()))
}

/// Same family and address, whatever the ports (`ctdb_same_ip`).
pub fn same_ip(a: &SockAddr, b: &SockAddr) -> bool {
    a.ip() == b.ip()
}

/// A `ctdb_addr_info` request (ADD_PUBLIC_IP, DEL_PUBLIC_IP,
/// SEND_GRATUITOUS_ARP) as Samba's tool builds it: the interface is NULL
/// for `delip` (length 0) but a string otherwise, even an empty one
/// (length 1), which the typed `AddrInfo` cannot tell apart.
pub fn addr_info_bytes(addr: SockAddr, mask: u32, iface: Option<&str>) -> Vec<u8> {
    let mut out = addr.to_bytes();
    out.extend_from_slice(&mask.to_le_bytes());
    match iface {
        None => out.extend_from_slice(&0u32.to_le_bytes()),
        Some(name) => {
            let len = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<IpAddr> {
        s.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }

    #[test]
    fn addresses_without_port() {
        assert_eq!(parse_ip("10.0.0.1"), v4("10.0.0.1"));
        assert_eq!(parse_ip("fd00::1"), "fd00::1".parse().ok());
        assert_eq!(parse_ip("[fd00::1]"), "fd00::1".parse().ok());
        assert_eq!(parse_ip("::ffff:10.0.0.1"), v4("10.0.0.1"));
        // Mapped, but the tail is no IPv4 text: refused like Samba.
        assert_eq!(parse_ip("::ffff:a00:1"), None);
        for bad in ["", "10.0.0", "10.0.0.256", "010.0.0.1", "host", "10.0.0.1:445", "fe80::1%lo"] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses_with_port() {
        let p = |s: &str| parse_ip_port(s).map(|a| a.to_string());
        assert_eq!(p("10.0.0.1:445"), Some("10.0.0.1:445".into()));
        assert_eq!(p("[fd00::1]:445"), Some("[fd00::1]:445".into()));
        // The right-most colon ends the address.
        assert_eq!(p("fd00::1:445"), Some("[fd00::1]:445".into()));
        assert_eq!(p("10.0.0.1: 80"), Some("10.0.0.1:80".into()));
        assert_eq!(p("10.0.0.1:70000"), Some("10.0.0.1:4464".into()));
        for bad in ["10.0.0.1", "10.0.0.1:", "10.0.0.1:80x", "10.0.0.1:-1", "x:80"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses_with_mask() {
        assert_eq!(parse_ip_mask("10.0.0.1/24"), v4("10.0.0.1").map(|a| (a, 24)));
        assert_eq!(parse_ip_mask("fd00::1/64"), "fd00::1".parse().ok().map(|a| (a, 64)));
        for bad in ["10.0.0.1", "10.0.0.1/", "10.0.0.1/2x", "10.0.0/24"] {
            assert_eq!(parse_ip_mask(bad), None, "{bad}");
        }
    }

    #[test]
    fn addr_info_matches_the_typed_encoding() {
        use ctdb_legacy_proto::AddrInfo;
        let addr = sock_addr(IpAddr::from([10, 0, 0, 1]), 0);
        let typed = |iface: &str| AddrInfo { addr, mask: 24, iface: iface.into() }.to_bytes();
        assert_eq!(addr_info_bytes(addr, 24, Some("eth0")), typed("eth0"));
        assert_eq!(addr_info_bytes(addr, 24, None), typed(""));
        // An empty name is still a string: length 1, one NUL.
        let empty = addr_info_bytes(addr, 24, Some(""));
        assert_eq!(&empty[32..], &[1, 0, 0, 0, 0]);
    }

    #[test]
    fn printing_and_order() {
        let a = |s: &str| SockAddr(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")));
        assert_eq!(ip_port_text(&a("10.1.1.1:1234")), "10.1.1.1:1234");
        assert_eq!(ip_port_text(&a("[fd00::2]:445")), "[fd00::2]:445");
        assert_eq!(ip_text(&a("[fd00::2]:445")), "fd00::2");
        let mut list = [a("[::1]:0"), a("10.0.0.10:0"), a("10.0.0.9:0"), a("10.0.0.9:1")];
        list.sort_by(cmp_addr);
        let shown: Vec<String> = list.iter().map(ip_port_text).collect();
        assert_eq!(shown, ["10.0.0.9:0", "10.0.0.9:1", "10.0.0.10:0", "[::1]:0"]);
        assert!(same_ip(&a("10.0.0.9:0"), &a("10.0.0.9:80")));
    }
}
