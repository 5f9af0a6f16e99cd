//! Tickle ACKs: after a node takes a public address, every client
//! connection known to that address gets a bare TCP ACK from the server
//! side (sequence and acknowledgement 0, window 1234, as CTDB sends). The
//! client answers with its own ACK; this node has no such connection and
//! answers that with a RST, so the client drops the dead connection and
//! reconnects at once instead of waiting out its retransmissions.
//!
//! IPv4 only for now (raw IP socket, header built here; the kernel fills
//! in the IP checksum and length). IPv6 is not done yet.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The 40-byte IPv4 + TCP ACK from `server` to `client`.
pub fn ack_packet(server: SocketAddrV4, client: SocketAddrV4) -> [u8; 40] {
    let mut p = [0u8; 40];
    // IPv4 header: version 4, 5 words; total length; TTL 255; TCP.
    p[0] = 0x45;
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    p[8] = 255;
    p[9] = 6;
    p[12..16].copy_from_slice(&server.ip().octets());
    p[16..20].copy_from_slice(&client.ip().octets());
    // TCP header: ports, seq 0, ack 0, data offset 5 words, ACK, window.
    let t = &mut p[20..40];
    t[0..2].copy_from_slice(&server.port().to_be_bytes());
    t[2..4].copy_from_slice(&client.port().to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x10;
    t[14..16].copy_from_slice(&1234u16.to_be_bytes());
    let sum = tcp_checksum(*server.ip(), *client.ip(), t);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    p
}

/// The TCP checksum over the IPv4 pseudo-header and `segment` (whose
/// checksum field is zero).
fn tcp_checksum(src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
            sum += u32::from(w);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&[0, 6]);
    add(&(segment.len() as u16).to_be_bytes());
    add(segment);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Send one tickle ACK for the connection `client` ↔ `server`.
pub fn send(client: SocketAddr, server: SocketAddr) -> io::Result<()> {
    let (SocketAddr::V4(client), SocketAddr::V4(server)) = (client, server) else { return Ok(()) };
    let packet = ack_packet(server, client);
    // SAFETY: plain socket(2); the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_in is plain data; zeroed is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as u16;
    sin.sin_addr.s_addr = u32::from_ne_bytes(client.ip().octets());
    // SAFETY: packet and sin are valid for the given lengths.
    let n = unsafe {
        libc::sendto(
            fd,
            packet.as_ptr().cast(),
            packet.len(),
            0,
            std::ptr::addr_of!(sin).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    let r = if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) };
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet checks out when the checksum over pseudo-header and
    /// segment (checksum included) folds to zero.
    #[test]
    fn the_ack_has_ctdbs_fields_and_a_valid_checksum() {
        let server: SocketAddrV4 = "198.51.100.101:445".parse().unwrap();
        let client: SocketAddrV4 = "198.51.100.200:50123".parse().unwrap();
        let p = ack_packet(server, client);
        assert_eq!(p[0], 0x45);
        assert_eq!(&p[12..16], &[198, 51, 100, 101]);
        assert_eq!(&p[16..20], &[198, 51, 100, 200]);
        let t = &p[20..];
        assert_eq!(u16::from_be_bytes([t[0], t[1]]), 445);
        assert_eq!(u16::from_be_bytes([t[2], t[3]]), 50123);
        assert_eq!(&t[4..12], &[0; 8], "seq and ack 0");
        assert_eq!(t[13], 0x10, "ACK only");
        assert_eq!(u16::from_be_bytes([t[14], t[15]]), 1234);
        assert_eq!(tcp_checksum(*server.ip(), *client.ip(), t), 0, "checksum verifies");
    }
}
