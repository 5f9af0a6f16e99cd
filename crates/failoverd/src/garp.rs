//! Gratuitous ARP: after a node takes an IPv4 public address it tells the
//! segment which MAC now answers for it, so neighbours (clients, routers)
//! stop sending to the node that had it. As CTDB does, each announcement
//! is an ARP request (target hardware address zero) and an ARP reply
//! (target hardware address ours), both for sender = target = the address,
//! broadcast on the interface through a packet socket (the kernel adds the
//! link header).
//!
//! IPv6 (unsolicited neighbour advertisements) is not done yet.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

/// ARP operation codes.
const ARPOP_REQUEST: u16 = 1;
const ARPOP_REPLY: u16 = 2;
/// Hardware type Ethernet, protocol IPv4.
const ARPHRD_ETHER: u16 = 1;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;

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

/// The interface's index and MAC address.
fn link_of(iface: &str) -> io::Result<(i32, [u8; 6])> {
    let cname = std::ffi::CString::new(iface).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: cname is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{iface}/address"))?;
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() != 6 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{iface} has no Ethernet address")));
    }
    for (m, p) in mac.iter_mut().zip(parts) {
        *m = u8::from_str_radix(p, 16).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    }
    Ok((index as i32, mac))
}

/// Announce `addr` on `iface` once (request and reply). IPv6 addresses
/// and interfaces without an Ethernet address (loopback) are skipped.
pub fn announce(addr: IpAddr, iface: &str) -> io::Result<()> {
    let IpAddr::V4(v4) = addr else { return Ok(()) };
    let (index, mac) = link_of(iface)?;
    if mac == [0; 6] {
        return Ok(());
    }
    // SAFETY: plain socket(2) call; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(ETH_P_ARP.to_be())) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ETH_P_ARP.to_be();
    sll.sll_ifindex = index;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    let mut result = Ok(());
    for op in [ARPOP_REQUEST, ARPOP_REPLY] {
        let payload = arp_payload(op, mac, v4);
        // SAFETY: payload and sll are valid for the given lengths.
        let n = unsafe {
            libc::sendto(
                fd,
                payload.as_ptr().cast(),
                payload.len(),
                0,
                std::ptr::addr_of!(sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            result = Err(io::Error::last_os_error());
        }
    }
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    result
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

    #[test]
    fn loopback_and_ipv6_are_skipped() {
        assert!(announce("127.0.0.1".parse().unwrap(), "lo").is_ok());
        assert!(announce("::1".parse().unwrap(), "lo").is_ok());
        assert!(announce("192.0.2.1".parse().unwrap(), "nosuchif0").is_err());
    }
}
