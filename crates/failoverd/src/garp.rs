//! Gratuitous ARP and unsolicited neighbour advertisements: after a node
//! takes a public address it tells the segment which link-layer address now
//! answers for it, so neighbours (clients, routers) stop sending to the node
//! that had it.
//!
//! * IPv4, as CTDB does: each announcement is an ARP request (target
//!   hardware address zero) and an ARP reply (target hardware address ours),
//!   both for sender = target = the address, broadcast on the interface.
//! * IPv6, as CTDB does: one ICMPv6 Neighbor Advertisement (RFC 4861 §4.4)
//!   from the address to the all-nodes group ff02::1, with the Override flag
//!   set and Solicited clear, and a Target Link-Layer Address option naming
//!   our MAC. Override is what makes a neighbour replace a cached (old)
//!   MAC; Solicited must be clear for a multicast advertisement, so the
//!   entry becomes STALE and is confirmed on its next use.
//!
//! Both go out through a packet socket (the kernel adds the Ethernet
//! header), so the IPv6 header is built here: hop limit 255 is required,
//! receivers drop neighbour discovery that may have crossed a router.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// ARP operation codes.
const ARPOP_REQUEST: u16 = 1;
const ARPOP_REPLY: u16 = 2;
/// Hardware type Ethernet, protocol IPv4.
const ARPHRD_ETHER: u16 = 1;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

/// ICMPv6 as an IPv6 next header.
const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 type Neighbor Advertisement.
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// The Override flag, the third bit of the flags byte (R, S, O).
const ND_NA_FLAG_OVERRIDE: u8 = 0x20;
/// Neighbour discovery option type Target Link-Layer Address.
const ND_OPT_TARGET_LINKADDR: u8 = 2;

/// The all-nodes link-local multicast group an unsolicited advertisement
/// goes to.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// ff02::1 mapped onto Ethernet (RFC 2464 §7: 33:33 and the group's last
/// four bytes).
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];

/// Length of the IPv6 neighbour advertisement [`na_packet`] builds: the
/// 40-byte IPv6 header, the 24-byte advertisement, one 8-byte option.
pub const NA_LEN: usize = 72;

/// The 28-byte ARP payload announcing `addr` at `mac`.
pub fn arp_payload(op: u16, mac: [u8; 6], addr: Ipv4Addr) -> [u8; 28] {
    let mut b = [0u8; 28];
    b[0..2].copy_from_slice(&ARPHRD_ETHER.to_be_bytes());
    b[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes());
    b[4] = 6;
    b[5] = 4;
    b[6..8].copy_from_slice(&op.to_be_bytes());
    b[8..14].copy_from_slice(&mac);
    b[14..18].copy_from_slice(&addr.octets());
    if op == ARPOP_REPLY {
        b[18..24].copy_from_slice(&mac);
    }
    b[24..28].copy_from_slice(&addr.octets());
    b
}

/// The IPv6 packet (header included, no link header) that announces
/// `addr` at the Ethernet address `mac`: an unsolicited Neighbor
/// Advertisement from `addr` to [`ALL_NODES`] with the Override flag and a
/// Target Link-Layer Address option, ICMPv6 checksum filled in.
pub fn na_packet(mac: [u8; 6], addr: Ipv6Addr) -> [u8; NA_LEN] {
    let mut p = [0u8; NA_LEN];
    let payload_len = (NA_LEN - 40) as u16;
    // IPv6 header: version 6, traffic class and flow label 0.
    p[0] = 6 << 4;
    p[4..6].copy_from_slice(&payload_len.to_be_bytes());
    p[6] = IPPROTO_ICMPV6;
    p[7] = 255;
    p[8..24].copy_from_slice(&addr.octets());
    p[24..40].copy_from_slice(&ALL_NODES.octets());
    let icmp = &mut p[40..];
    icmp[0] = ND_NEIGHBOR_ADVERT;
    // icmp[1]: code 0; icmp[2..4]: checksum, computed last.
    icmp[4] = ND_NA_FLAG_OVERRIDE;
    icmp[8..24].copy_from_slice(&addr.octets());
    // The option's length counts 8-byte units, type and length included:
    // 2 + 6 bytes of Ethernet address is exactly one.
    icmp[24] = ND_OPT_TARGET_LINKADDR;
    icmp[25] = 1;
    icmp[26..32].copy_from_slice(&mac);
    let sum = crate::tickle::ipv6_checksum(addr, ALL_NODES, IPPROTO_ICMPV6, icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    p
}

/// What [`link_of`] found out about an interface.
#[derive(Debug, PartialEq, Eq)]
enum Link {
    /// An Ethernet interface we can announce on: its index and MAC.
    Ethernet(i32, [u8; 6]),
    /// Up but not one whose neighbours keep link-layer caches (loopback,
    /// NOARP, point-to-point), or down: there is no one to tell, as CTDB
    /// also treats it.
    Quiet,
}

/// Look `iface` up through getifaddrs(3): unlike `/sys/class/net`, which
/// shows the network namespace sysfs was mounted in, it answers for the
/// caller's namespace; and matching by index makes alternative names
/// (`ip link property add altname`) work too.
fn link_of(iface: &str) -> io::Result<Link> {
    let cname = std::ffi::CString::new(iface).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: cname is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    let index = i32::try_from(index).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below on every path.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Err(io::Error::new(io::ErrorKind::NotFound, format!("{iface} has no link-layer address")));
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned.
        let entry = unsafe { &*cur };
        cur = entry.ifa_next;
        if entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points at a sockaddr.
        if i32::from(unsafe { (*entry.ifa_addr).sa_family }) != libc::AF_PACKET {
            continue;
        }
        // SAFETY: AF_PACKET entries carry a sockaddr_ll (packet(7)).
        let sll = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_ll>() };
        if sll.sll_ifindex != index {
            continue;
        }
        let flags = entry.ifa_flags as i32;
        let want = libc::IFF_UP | libc::IFF_BROADCAST;
        let quiet = flags & (want | libc::IFF_NOARP | libc::IFF_LOOPBACK) != want;
        found = if quiet {
            Ok(Link::Quiet)
        } else if sll.sll_halen != 6 {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{iface}: {}-byte link-layer addresses are not supported", sll.sll_halen),
            ))
        } else {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&sll.sll_addr[..6]);
            Ok(Link::Ethernet(index, mac))
        };
        break;
    }
    // SAFETY: list came from getifaddrs and is not used after this.
    unsafe { libc::freeifaddrs(list) };
    found
}

/// A packet socket that sends `ethertype` frames to `dest` on the
/// interface with index `ifindex`.
struct LinkSender {
    fd: OwnedFd,
    sll: libc::sockaddr_ll,
}

impl LinkSender {
    fn open(ethertype: u16, ifindex: i32, dest: [u8; 6]) -> io::Result<LinkSender> {
        // SAFETY: plain socket(2) call.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(ethertype.to_be())) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a descriptor we just opened and own alone; OwnedFd
        // closes it on every path.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ethertype.to_be();
        sll.sll_ifindex = ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&dest);
        Ok(LinkSender { fd, sll })
    }

    fn send(&self, payload: &[u8]) -> io::Result<()> {
        // SAFETY: payload and sll are valid for the given lengths.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                payload.as_ptr().cast(),
                payload.len(),
                0,
                std::ptr::addr_of!(self.sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != payload.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short send on packet socket"));
        }
        Ok(())
    }
}

/// Announce `addr` on `iface` once: for IPv4 a gratuitous ARP request and
/// reply, for IPv6 one unsolicited neighbour advertisement. Interfaces
/// that are down, loopback or NOARP are skipped without error, as CTDB
/// does; an unknown interface is an error.
pub fn announce(addr: IpAddr, iface: &str) -> io::Result<()> {
    match addr {
        IpAddr::V4(v4) => announce_v4(v4, iface),
        IpAddr::V6(v6) => announce_v6(v6, iface),
    }
}

/// Send the gratuitous ARP request and reply for `addr` on `iface`.
pub fn announce_v4(addr: Ipv4Addr, iface: &str) -> io::Result<()> {
    let Link::Ethernet(index, mac) = link_of(iface)? else { return Ok(()) };
    let tx = LinkSender::open(ETH_P_ARP, index, [0xff; 6])?;
    // Try the reply even when the request failed: either one updates most
    // neighbours' caches.
    let request = tx.send(&arp_payload(ARPOP_REQUEST, mac, addr));
    let reply = tx.send(&arp_payload(ARPOP_REPLY, mac, addr));
    request.and(reply)
}

/// Send one unsolicited neighbour advertisement for `addr` on `iface`.
pub fn announce_v6(addr: Ipv6Addr, iface: &str) -> io::Result<()> {
    let Link::Ethernet(index, mac) = link_of(iface)? else { return Ok(()) };
    let tx = LinkSender::open(ETH_P_IPV6, index, ALL_NODES_MAC)?;
    tx.send(&na_packet(mac, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_payloads_follow_ctdbs_layout() {
        let mac = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];
        let addr = Ipv4Addr::new(198, 51, 100, 101);
        let req = arp_payload(ARPOP_REQUEST, mac, addr);
        let want_req: [u8; 28] = [
            0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // Ethernet, IPv4, request
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 198, 51, 100, 101, // sender: us
            0, 0, 0, 0, 0, 0, 198, 51, 100, 101, // target: zero MAC, the address
        ];
        assert_eq!(req, want_req);
        let rep = arp_payload(ARPOP_REPLY, mac, addr);
        assert_eq!(&rep[6..8], &[0, 2]);
        assert_eq!(&rep[18..24], &mac, "a reply names our MAC as the target too");
    }

    /// The bytes Samba's `system_socket_test arp fe80::6af7:28ff:fefa:d136
    /// 12:34:56:78:9a:bc` expects (ctdb/tests/UNIT/cunit/
    /// system_socket_test_003.sh), so the layout and checksum match ctdbd's.
    #[test]
    fn neighbour_advertisement_matches_ctdbs_bytes() {
        let mac = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc];
        let addr: Ipv6Addr = "fe80::6af7:28ff:fefa:d136".parse().unwrap();
        let want: [u8; NA_LEN] = [
            0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, // v6, payload 32, ICMPv6, hop limit 255
            0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // source: the address
            0x6a, 0xf7, 0x28, 0xff, 0xfe, 0xfa, 0xd1, 0x36, //
            0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // destination: ff02::1
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
            0x88, 0x00, 0x8d, 0xe4, 0x20, 0x00, 0x00, 0x00, // NA, code 0, checksum, Override
            0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target: the address
            0x6a, 0xf7, 0x28, 0xff, 0xfe, 0xfa, 0xd1, 0x36, //
            0x02, 0x01, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, // target link-layer address
        ];
        assert_eq!(na_packet(mac, addr), want);
    }

    /// Summing pseudo-header and message with the checksum in place gives
    /// zero for any address, not only the one vector above.
    #[test]
    fn neighbour_advertisement_checksum_verifies() {
        let mac = [0x02, 0x00, 0x00, 0xc7, 0x00, 0x0b];
        for addr in ["2001:db8::b", "2001:db8:ffff::1", "fe80::1", "2001:db8:8000::ffff"] {
            let addr: Ipv6Addr = addr.parse().unwrap();
            let p = na_packet(mac, addr);
            assert_eq!(crate::tickle::ipv6_checksum(addr, ALL_NODES, IPPROTO_ICMPV6, &p[40..]), 0, "{addr}");
            assert_eq!(&p[48..64], &addr.octets(), "target is the address");
            assert_eq!(&p[66..72], &mac);
        }
    }

    #[test]
    fn loopback_is_quiet() {
        assert_eq!(link_of("lo").unwrap(), Link::Quiet);
    }

    #[test]
    fn loopback_is_skipped_and_unknown_interfaces_fail() {
        assert!(announce("127.0.0.1".parse().unwrap(), "lo").is_ok());
        assert!(announce("::1".parse().unwrap(), "lo").is_ok());
        assert!(announce("192.0.2.1".parse().unwrap(), "nosuchif0").is_err());
        assert!(announce("2001:db8::1".parse().unwrap(), "nosuchif0").is_err());
    }
}
