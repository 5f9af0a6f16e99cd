//! IPv6 announcements sent for real, between two network namespaces joined
//! by a veth pair:
//!
//! ```text
//!   ctrs-v6-PID-TAG-a: v6a 2001:db8::a/64  <-- veth -->  v6b 2001:db8::b/64 :ctrs-v6-PID-TAG-b
//!   (client / neighbour)                                  (node taking 2001:db8::b)
//! ```
//!
//! * `unsolicited_na_updates_the_neighbours_cache`: `a` has a stale
//!   neighbour entry for 2001:db8::b with another MAC (as after a
//!   takeover); `garp::announce` in `b` must reach `a` as the frame
//!   `garp::na_packet` describes, to 33:33:00:00:00:01, and replace the
//!   MAC in `a`'s cache.
//! * `tickle_ack_resets_a_connection_the_new_owner_does_not_know`: a TCP
//!   connection a -> [2001:db8::b]:445 is established, then `b` forgets it
//!   without a word (TCP_REPAIR close, as if the address had moved to a
//!   node that never had the connection); the connection stays open on
//!   `a`. `tickle::send` in `b` must make `a` answer with an ACK, which `b`
//!   answers with a RST, so `a`'s socket reports a reset at once.
//!
//! Network safety: the interfaces and addresses (documentation prefix
//! 2001:db8::/32) exist only inside the two namespaces, which are created
//! per test with this process's pid in their names and deleted on drop,
//! also when the test panics. Needs root and iproute2; without them the
//! tests print why and pass without checking anything.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

use ctdb_failoverd::{garp, tickle};

const ADDR_A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xa);
const ADDR_B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xb);
const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0xc7, 0x00, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0x00, 0x00, 0xc7, 0x00, 0x0b];
/// The MAC `a` has cached for 2001:db8::b before the announcement: the
/// previous holder's.
const MAC_OLD: [u8; 6] = [0x02, 0x00, 0x00, 0xc7, 0x00, 0x99];

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Run `ip ARGS`, returning stdout, or stderr as the error.
fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Two namespaces joined by a veth pair, deleted on drop.
struct Pair {
    a: String,
    b: String,
}

impl Pair {
    /// Build the pair for test `tag`, or say why not.
    fn new(tag: &str) -> Result<Pair, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        let pid = std::process::id();
        let a = format!("ctrs-v6-{pid}-{tag}-a");
        let b = format!("ctrs-v6-{pid}-{tag}-b");
        ip(&["netns", "add", &a])?;
        // From here on Drop cleans up whatever was made.
        let mut pair = Pair { a, b: String::new() };
        ip(&["netns", "add", &b])?;
        pair.b = b;
        let (a, b) = (pair.a.as_str(), pair.b.as_str());
        // The veth pair is made inside `a` with its peer moved straight
        // into `b`: no interface ever exists in the root namespace.
        ip(&[
            "-n",
            a,
            "link",
            "add",
            "v6a",
            "address",
            &mac_text(MAC_A),
            "type",
            "veth",
            "peer",
            "name",
            "v6b",
            "netns",
            b,
        ])?;
        ip(&["-n", b, "link", "set", "v6b", "address", &mac_text(MAC_B)])?;
        for (ns, dev, addr) in [(a, "v6a", ADDR_A), (b, "v6b", ADDR_B)] {
            // nodad: usable at once instead of after duplicate detection.
            ip(&["-n", ns, "addr", "add", &format!("{addr}/64"), "dev", dev, "nodad"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(pair)
    }

    /// `a`'s neighbour entry for `addr` on v6a, as `ip -6 neigh` prints it.
    fn neigh_a(&self, addr: Ipv6Addr) -> String {
        ip(&["-n", &self.a, "-6", "neigh", "show", &addr.to_string(), "dev", "v6a"]).unwrap_or_else(|e| e)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.b, &self.a] {
            if !ns.is_empty() {
                if let Err(e) = ip(&["netns", "del", ns]) {
                    eprintln!("cleanup: {e}");
                }
            }
        }
    }
}

/// Build the pair or skip the test with a message.
macro_rules! pair_or_skip {
    ($tag:expr) => {
        match Pair::new($tag) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("SKIPPED: cannot create network namespaces ({e}); run as root with iproute2");
                return;
            }
        }
    };
}

/// Run `f` on a thread that has entered namespace `ns`; sockets it creates
/// stay in `ns` when they are handed back.
fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            // SAFETY: setns(2) on an open namespace descriptor; it moves
            // only this thread, which ends with the scope.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns {ns}: {}", std::io::Error::last_os_error());
            f()
        });
        h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// A packet socket seeing every frame (Ethernet header included), in and
/// out, on interface `dev` of the calling thread's namespace. ETH_P_ALL
/// because sockets for one protocol see only incoming frames.
fn capture(dev: &str) -> OwnedFd {
    let all = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2).
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(all)) };
    assert!(raw >= 0, "packet socket: {}", std::io::Error::last_os_error());
    // SAFETY: raw is ours alone.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let name = std::ffi::CString::new(dev).unwrap();
    // SAFETY: valid C string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "no {dev}");
    // SAFETY: sockaddr_ll is plain data.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = all;
    sll.sll_ifindex = index as i32;
    // SAFETY: sll is valid for its size.
    let r = unsafe {
        libc::bind(fd.as_raw_fd(), std::ptr::addr_of!(sll).cast(), std::mem::size_of::<libc::sockaddr_ll>() as u32)
    };
    assert_eq!(r, 0, "bind packet socket: {}", std::io::Error::last_os_error());
    let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
    // SAFETY: tv is valid for its size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            std::ptr::addr_of!(tv).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    assert_eq!(r, 0);
    fd
}

/// The first frame on `fd` within `wait` that `want` accepts.
fn first_frame(fd: &OwnedFd, wait: Duration, want: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 2048];
    while Instant::now() < deadline {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 && want(&buf[..n as usize]) {
            return Some(buf[..n as usize].to_vec());
        }
    }
    None
}

#[test]
fn unsolicited_na_updates_the_neighbours_cache() {
    let pair = pair_or_skip!("na");
    // As after a takeover: `a` still has the previous holder's MAC cached.
    ip(&[
        "-n",
        &pair.a,
        "-6",
        "neigh",
        "replace",
        &ADDR_B.to_string(),
        "lladdr",
        &mac_text(MAC_OLD),
        "dev",
        "v6a",
        "nud",
        "stale",
    ])
    .unwrap();
    let before = pair.neigh_a(ADDR_B);
    assert!(before.contains(&mac_text(MAC_OLD)), "set-up: {before:?}");

    let cap = in_ns(&pair.a, || capture("v6a"));
    in_ns(&pair.b, || garp::announce(ADDR_B.into(), "v6b")).expect("announce in b");

    // The frame on the wire: Ethernet to all-nodes from b, IPv6, and the
    // packet byte for byte (ICMPv6 type 136 at offset 14 + 40).
    let frame =
        first_frame(&cap, Duration::from_secs(3), |f| f.len() >= 14 + 41 && f[12..14] == [0x86, 0xdd] && f[54] == 136)
            .expect("a saw no neighbour advertisement");
    assert_eq!(&frame[0..6], &garp::ALL_NODES_MAC, "Ethernet destination");
    assert_eq!(&frame[6..12], &MAC_B, "Ethernet source");
    assert_eq!(&frame[14..], &garp::na_packet(MAC_B, ADDR_B)[..], "the advertisement as built");
    assert_eq!(frame[14 + 7], 255, "hop limit 255, else receivers drop it");
    assert_eq!(frame[14 + 44] & 0xe0, 0x20, "Override set, Router and Solicited clear");

    // And the kernel in `a` accepted it (checksum, hop limit, option
    // length all valid): the cached MAC is now b's.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut after = pair.neigh_a(ADDR_B);
    while !after.contains(&mac_text(MAC_B)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        after = pair.neigh_a(ADDR_B);
    }
    assert!(after.contains(&mac_text(MAC_B)), "a's neighbour entry after the NA: {after:?} (before: {before:?})");
    eprintln!("neighbour entry before: {}, after: {}", before.trim(), after.trim());
}

#[test]
fn tickle_ack_resets_a_connection_the_new_owner_does_not_know() {
    let pair = pair_or_skip!("tk");
    let server = SocketAddrV6::new(ADDR_B, 445, 0, 0);
    let listener = in_ns(&pair.b, || TcpListener::bind(server)).expect("listen in b");
    let mut client =
        in_ns(&pair.a, || TcpStream::connect_timeout(&server.into(), Duration::from_secs(5))).expect("connect from a");
    let (mut accepted, peer) = listener.accept().expect("accept");
    let SocketAddr::V6(client_addr) = peer else { panic!("IPv4 peer {peer}") };
    // Some data both ways, so the sequence numbers are well away from 0.
    client.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    accepted.read_exact(&mut buf).unwrap();
    accepted.write_all(b"world").unwrap();
    client.read_exact(&mut buf).unwrap();

    // b forgets the connection silently: closing a socket in repair mode
    // sends neither FIN nor RST. The listener goes too, so nothing in b
    // knows the connection any more, as on a node that just took the
    // address over.
    let one: libc::c_int = 1;
    // SAFETY: one is valid for its size; TCP_REPAIR needs CAP_NET_ADMIN.
    let r = unsafe {
        libc::setsockopt(
            accepted.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_REPAIR,
            std::ptr::addr_of!(one).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    assert_eq!(r, 0, "TCP_REPAIR: {}", std::io::Error::last_os_error());
    drop(accepted);
    drop(listener);

    // Without a tickle the client would go on waiting.
    client.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    match client.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("connection should still look open before the tickle, got {other:?}"),
    }

    let cap = in_ns(&pair.a, || capture("v6a"));
    let t0 = Instant::now();
    in_ns(&pair.b, || tickle::send(client_addr.into(), server.into())).expect("tickle in b");

    // The tickle on the wire: IPv6/TCP from b:445 to the client with
    // window 1234, bytes as built.
    let is_tickle = |f: &[u8]| {
        f.len() >= 14 + 60
            && f[12..14] == [0x86, 0xdd]
            && f[14 + 6] == 6
            && f[54..56] == 445u16.to_be_bytes()
            && f[54 + 14..54 + 16] == 1234u16.to_be_bytes()
    };
    let frame = first_frame(&cap, Duration::from_secs(3), is_tickle).expect("a saw no tickle ACK");
    assert_eq!(&frame[14..], &tickle::ack_packet_v6(server, client_addr)[..], "the tickle as built");
    // The client's answer: an ACK from its port back to b:445.
    let answer = first_frame(&cap, Duration::from_secs(3), |f| {
        f.len() >= 14 + 60
            && f[12..14] == [0x86, 0xdd]
            && f[14 + 6] == 6
            && f[54..56] == client_addr.port().to_be_bytes()
    })
    .expect("the client did not answer the tickle");
    assert_eq!(answer[54 + 13] & 0x10, 0x10, "the client's answer is an ACK");
    // b, which no longer knows the connection, answers that with a RST
    // whose sequence number is what the client acknowledged, so the
    // client must accept it.
    let rst = first_frame(&cap, Duration::from_secs(3), |f| {
        f.len() >= 14 + 60
            && f[12..14] == [0x86, 0xdd]
            && f[14 + 6] == 6
            && f[54..56] == 445u16.to_be_bytes()
            && f[54 + 13] & 0x04 != 0
    })
    .expect("b sent no RST for the client's answer");
    assert_eq!(&rst[54 + 4..54 + 8], &answer[54 + 8..54 + 12], "RST sequence = the client's acknowledgement");

    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    match client.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {
            eprintln!("IPv6 connection {client_addr} -> {server} reset {:?} after the tickle", t0.elapsed());
        }
        other => panic!("want a reset after the tickle, got {other:?} after {:?}", t0.elapsed()),
    }
}
