//! Tickle ACKs: after a node takes a public address, every client
//! connection known to that address gets a bare TCP ACK from the server
//! side (sequence and acknowledgement 0, window 1234, as CTDB sends). The
//! sequence number is outside the client's window, so the client answers
//! with an ACK carrying its real numbers; this node has no such connection
//! and answers that with a RST the client accepts, so the client drops the
//! dead connection and reconnects at once instead of waiting out its
//! retransmissions.
//!
//! The packets are built here, IP header included, and sent on a raw
//! socket: IPv4 with TTL 255 (the kernel fills in the IP checksum and
//! length), IPv6 with hop limit 64 as CTDB uses (nothing is filled in for
//! IPv6, so the TCP checksum over the IPv6 pseudo-header must be right).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// TCP as an IP protocol / next header.
const IPPROTO_TCP: u8 = 6;
/// TCP flags.
const TH_RST: u8 = 0x04;
const TH_ACK: u8 = 0x10;
/// The window CTDB puts in its segments; unusual enough to spot in a
/// capture.
pub const TICKLE_WINDOW: u16 = 1234;

/// Length of an IPv6 tickle: 40-byte header and 20-byte TCP header.
pub const TCP6_LEN: usize = 60;

/// The 40-byte IPv4 + TCP ACK from `server` to `client`.
pub fn ack_packet(server: SocketAddrV4, client: SocketAddrV4) -> [u8; 40] {
    let mut p = [0u8; 40];
    // IPv4 header: version 4, 5 words; total length; TTL 255; TCP.
    p[0] = 0x45;
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    p[8] = 255;
    p[9] = IPPROTO_TCP;
    p[12..16].copy_from_slice(&server.ip().octets());
    p[16..20].copy_from_slice(&client.ip().octets());
    let t = &mut p[20..40];
    tcp_header(t, server.port(), client.port(), 0, 0, TH_ACK);
    let sum = tcp_checksum(*server.ip(), *client.ip(), t);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    p
}

/// The 60-byte IPv6 + TCP ACK from `server` to `client` (the IPv6 tickle).
pub fn ack_packet_v6(server: SocketAddrV6, client: SocketAddrV6) -> [u8; TCP6_LEN] {
    tcp6_segment(server, client, 0, 0, false)
}

/// A 60-byte IPv6 + TCP segment from `src` to `dst` with sequence number
/// `seq`, acknowledgement `ack`, ACK set and RST too when `rst`, window
/// [`TICKLE_WINDOW`], no options or data, and a valid TCP checksum.
pub fn tcp6_segment(src: SocketAddrV6, dst: SocketAddrV6, seq: u32, ack: u32, rst: bool) -> [u8; TCP6_LEN] {
    let mut p = [0u8; TCP6_LEN];
    // IPv6 header: version 6, traffic class and flow label 0.
    p[0] = 6 << 4;
    p[4..6].copy_from_slice(&20u16.to_be_bytes());
    p[6] = IPPROTO_TCP;
    p[7] = 64;
    p[8..24].copy_from_slice(&src.ip().octets());
    p[24..40].copy_from_slice(&dst.ip().octets());
    let t = &mut p[40..];
    let flags = if rst { TH_ACK | TH_RST } else { TH_ACK };
    tcp_header(t, src.port(), dst.port(), seq, ack, flags);
    let sum = ipv6_checksum(*src.ip(), *dst.ip(), IPPROTO_TCP, t);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    p
}

/// Fill the 20-byte TCP header `t` (checksum left zero).
fn tcp_header(t: &mut [u8], sport: u16, dport: u16, seq: u32, ack: u32, flags: u8) {
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 5 << 4; // data offset: 5 words, no options
    t[13] = flags;
    t[14..16].copy_from_slice(&TICKLE_WINDOW.to_be_bytes());
}

/// Add `bytes` as big-endian 16-bit words (a trailing odd byte padded
/// with zero) to the running sum.
fn sum_words(mut sum: u32, bytes: &[u8]) -> u32 {
    for c in bytes.chunks(2) {
        let w = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
        sum += u32::from(w);
    }
    sum
}

/// Fold carries back in and complement: the Internet checksum.
fn finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The TCP checksum over the IPv4 pseudo-header and `segment` (whose
/// checksum field is zero; over a segment with its checksum in place the
/// result is zero when it is right).
fn tcp_checksum(src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) -> u16 {
    let mut sum = sum_words(0, &src.octets());
    sum = sum_words(sum, &dst.octets());
    sum = sum_words(sum, &[0, IPPROTO_TCP]);
    sum = sum_words(sum, &(segment.len() as u16).to_be_bytes());
    finish(sum_words(sum, segment))
}

/// The upper-layer checksum of RFC 8200 §8.1 (TCP, ICMPv6): over the IPv6
/// pseudo-header (source, destination, 32-bit length, next header) and
/// `data`, whose checksum field is zero; over data with its checksum in
/// place the result is zero when it is right.
pub(crate) fn ipv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, data: &[u8]) -> u16 {
    let mut sum = sum_words(0, &src.octets());
    sum = sum_words(sum, &dst.octets());
    sum = sum_words(sum, &(data.len() as u32).to_be_bytes());
    sum = sum_words(sum, &[0, 0, 0, next_header]);
    finish(sum_words(sum, data))
}

/// Open a raw socket that takes whole IP packets, header included.
fn raw_socket(family: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2). With IPPROTO_RAW the kernel expects the IP
    // header in the buffer, for IPv4 and IPv6 alike.
    let raw = unsafe { libc::socket(family, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a descriptor we just opened and own alone; OwnedFd
    // closes it on every path.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `sendto(2)` of `packet` on `fd` to the socket address `sa`.
fn send_to<T>(fd: &OwnedFd, packet: &[u8], sa: &T) -> io::Result<()> {
    // SAFETY: packet and sa are valid for the given lengths.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (sa as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != packet.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short send on raw socket"));
    }
    Ok(())
}

/// Send one tickle ACK for the connection `client` ↔ `server`, IPv4 or
/// IPv6; both ends must be of the same family.
pub fn send(client: SocketAddr, server: SocketAddr) -> io::Result<()> {
    match (client, server) {
        (SocketAddr::V4(client), SocketAddr::V4(server)) => send_v4(client, server),
        (SocketAddr::V6(client), SocketAddr::V6(server)) => send_v6(client, server),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("tickle between {client} and {server}: mixed address families"),
        )),
    }
}

/// Send one IPv4 tickle ACK from `server` to `client`.
pub fn send_v4(client: SocketAddrV4, server: SocketAddrV4) -> io::Result<()> {
    let packet = ack_packet(server, client);
    let fd = raw_socket(libc::AF_INET)?;
    // SAFETY: sockaddr_in is plain data; zeroed is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as u16;
    sin.sin_addr.s_addr = u32::from_ne_bytes(client.ip().octets());
    send_to(&fd, &packet, &sin)
}

/// Send one IPv6 tickle ACK from `server` to `client`.
pub fn send_v6(client: SocketAddrV6, server: SocketAddrV6) -> io::Result<()> {
    let packet = ack_packet_v6(server, client);
    let fd = raw_socket(libc::AF_INET6)?;
    // SAFETY: sockaddr_in6 is plain data; zeroed is a valid value.
    let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sin6.sin6_family = libc::AF_INET6 as u16;
    // The port stays 0: on an IPv6 raw socket it must be 0 or the
    // protocol number. The scope matters only for a link-local client.
    sin6.sin6_addr.s6_addr = client.ip().octets();
    sin6.sin6_scope_id = client.scope_id();
    send_to(&fd, &packet, &sin6)
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

    /// The TCP half of Samba's "ACK, IPv4, seq# 0, ack# 0" vector
    /// (ctdb/tests/UNIT/cunit/system_socket_test_002.sh); its IPv4 header
    /// is not compared because the kernel rewrites the length field.
    #[test]
    fn the_ipv4_ack_matches_ctdbs_tcp_bytes() {
        let p = ack_packet("192.168.1.25:445".parse().unwrap(), "192.168.2.75:54321".parse().unwrap());
        let want_tcp: [u8; 20] = [
            0x01, 0xbd, 0xd4, 0x31, 0, 0, 0, 0, 0, 0, 0, 0, // ports 445 -> 54321, seq 0, ack 0
            0x50, 0x10, 0x04, 0xd2, 0x50, 0x5f, 0x00, 0x00, // 5 words, ACK, window 1234, checksum
        ];
        assert_eq!(&p[20..], &want_tcp);
        assert_eq!(&p[12..20], &[192, 168, 1, 25, 192, 168, 2, 75]);
        assert_eq!((p[8], p[9]), (255, 6), "TTL 255, TCP");
    }

    /// IPv6 header: version, payload 20, TCP, hop limit 64, fe80::…d136 to
    /// fe80::…d137, as every vector of Samba's below shares.
    const V6_HEADER: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, //
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x6a, 0xf7, 0x28, 0xff, 0xfe, 0xfa, 0xd1, 0x36, //
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x6a, 0xf7, 0x28, 0xff, 0xfe, 0xfb, 0xd1, 0x37, //
    ];

    fn v6_pair() -> (SocketAddrV6, SocketAddrV6) {
        ("[fe80::6af7:28ff:fefa:d136]:445".parse().unwrap(), "[fe80::6af7:28ff:fefb:d137]:54321".parse().unwrap())
    }

    /// Samba's three IPv6 vectors (system_socket_test_002.sh): the tickle
    /// ACK, a RST, and a RST with non-zero sequence and acknowledgement.
    #[test]
    fn ipv6_segments_match_ctdbs_bytes() {
        let (src, dst) = v6_pair();
        let cases: [(u32, u32, bool, [u8; 20]); 3] = [
            (0, 0, false, [1, 0xbd, 0xd4, 0x31, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x10, 0x04, 0xd2, 0x0f, 0xc0, 0, 0]),
            (0, 0, true, [1, 0xbd, 0xd4, 0x31, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x14, 0x04, 0xd2, 0x0f, 0xbc, 0, 0]),
            // Samba's builder takes the numbers already in network order,
            // so its "seq# 12345, ack# 23456" puts 39 30 00 00 and
            // a0 5b 00 00 on the wire (little-endian host): the same
            // bytes here come from the byte-swapped values.
            (
                12345u32.swap_bytes(),
                23456u32.swap_bytes(),
                true,
                [1, 0xbd, 0xd4, 0x31, 0x39, 0x30, 0, 0, 0xa0, 0x5b, 0, 0, 0x50, 0x14, 0x04, 0xd2, 0x36, 0x30, 0, 0],
            ),
        ];
        for (seq, ack, rst, tcp) in cases {
            let p = tcp6_segment(src, dst, seq, ack, rst);
            assert_eq!(&p[..40], &V6_HEADER, "header for seq {seq} ack {ack} rst {rst}");
            assert_eq!(&p[40..], &tcp, "TCP for seq {seq} ack {ack} rst {rst}");
        }
        assert_eq!(ack_packet_v6(src, dst), tcp6_segment(src, dst, 0, 0, false));
    }

    #[test]
    fn ipv6_checksum_verifies_for_other_addresses_and_ports() {
        let pairs = [
            ("[2001:db8::b]:445", "[2001:db8::a]:50123"),
            ("[2001:db8:ffff:ffff::ffff]:65535", "[2001:db8::1]:1"),
            ("[2001:db8::1]:2049", "[2001:db8::1]:2049"),
        ];
        for (server, client) in pairs {
            let (server, client): (SocketAddrV6, SocketAddrV6) = (server.parse().unwrap(), client.parse().unwrap());
            let p = ack_packet_v6(server, client);
            assert_eq!(ipv6_checksum(*server.ip(), *client.ip(), IPPROTO_TCP, &p[40..]), 0, "{server} -> {client}");
        }
    }

    #[test]
    fn mixed_families_are_refused() {
        let v4: SocketAddr = "192.0.2.1:445".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:50000".parse().unwrap();
        assert_eq!(send(v4, v6).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(send(v6, v4).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
