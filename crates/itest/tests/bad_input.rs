//! Garbage, truncated, oversized and wrong-magic packets on the client
//! socket and on the node port: the connection is dropped with a log line,
//! the daemon keeps serving everyone else.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use ctdb_itest::{block_on, wait_for, Cluster};

fn legacy_header(length: u32, magic: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [length, magic, 1, 0, 7, 0xF000_0001, 0, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

/// Write `bytes`, then expect the daemon to close the connection.
fn expect_dropped(mut s: impl Read + Write, bytes: &[u8], what: &str) {
    s.write_all(bytes).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("{what}: connection not dropped: {other:?}"),
    }
}

fn ping_works(c: &Cluster, pnn: u32) {
    let socket = c.socket(pnn);
    block_on(async {
        let cl = ctdb_client::Client::connect(&socket).await.unwrap();
        cl.ping(ctdb_legacy_proto::pnn::CURRENT_NODE, Duration::from_secs(2)).await.unwrap();
    });
}

#[test]
fn bad_packets_drop_only_the_offending_connection() {
    let c = Cluster::start(2, Ipv4Addr::new(127, 0, 13, 1), &[]).unwrap();
    let unix = || {
        let s = UnixStream::connect(c.socket(0)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };
    // A client that stays connected through all of it.
    let socket = c.socket(0);
    let bystander = block_on(ctdb_client::Client::connect(&socket)).unwrap();

    let mut wrong_magic = legacy_header(40, 0xDEAD_BEEF);
    wrong_magic.extend_from_slice(&[0u8; 8]);
    expect_dropped(unix(), &wrong_magic, "wrong magic");
    expect_dropped(unix(), &legacy_header(0xFFFF_FFF0, 0x4354_4442), "oversized");
    expect_dropped(unix(), &legacy_header(0, 0x4354_4442), "zero length");
    expect_dropped(unix(), &legacy_header(16, 0x4354_4442), "length below header");
    expect_dropped(unix(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "garbage");
    // Truncated: promise 100 bytes, send 40, hang up.
    {
        let mut s = unix();
        s.write_all(&legacy_header(100, 0x4354_4442)).unwrap();
        s.write_all(&[0u8; 8]).unwrap();
    }
    // A REQ_CONTROL whose inner datalen points past the end of the packet.
    let mut inner = legacy_header(64, 0x4354_4442);
    inner.extend_from_slice(&[0u8; 24]); // opcode, pad, srvid, client_id, flags
    inner.extend_from_slice(&1000u32.to_le_bytes()); // datalen
    inner.extend_from_slice(&[0u8; 4]);
    expect_dropped(unix(), &inner, "inner length beyond packet");

    ping_works(&c, 0);
    block_on(bystander.ping(ctdb_legacy_proto::pnn::CURRENT_NODE, Duration::from_secs(2))).unwrap();
    wait_for(Duration::from_secs(5), "log lines for dropped clients", || {
        c.log(0).matches("dropping connection").count() >= 6
    })
    .unwrap();

    // Node port of node 1 (it accepts only node 0, from 127.0.13.1).
    let node1 = SocketAddr::from(([127, 0, 13, 2], 4379));
    let from_node0 = || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&SocketAddr::from(([127, 0, 13, 1], 0)).into()).unwrap();
        s.connect(&node1.into()).unwrap();
        let s: TcpStream = s.into();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };
    expect_dropped(from_node0(), b"garbage garbage garbage garbage garbage!!", "node port garbage");
    let mut wrong_magic = vec![0, 0, 0, 40];
    wrong_magic.extend_from_slice(b"XXXX");
    wrong_magic.extend_from_slice(&[0u8; 32]);
    expect_dropped(from_node0(), &wrong_magic, "node port wrong magic");
    let mut oversized = vec![0xFF, 0xFF, 0xFF, 0xF0];
    oversized.extend_from_slice(b"CTRS");
    oversized.extend_from_slice(&[0, 1, 0, 1]);
    expect_dropped(from_node0(), &oversized, "node port oversized");
    // Not an address from the nodes file: refused outright.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 13, 99], 0)).into()).unwrap();
    s.connect(&node1.into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    expect_dropped(s, b"hello", "node port stranger");

    wait_for(Duration::from_secs(5), "node port log lines", || {
        let log = c.log(1);
        log.matches("dropping connection from").count() >= 3 && log.contains("refusing connection from 127.0.13.99")
    })
    .unwrap();
    // The real link survived and both nodes still serve.
    c.wait_all_connected(Duration::from_secs(5)).unwrap();
    ping_works(&c, 1);
}
