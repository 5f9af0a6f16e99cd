//! `ctdb gratarp`: three rounds a second apart, whoever holds the address.

use std::time::{Duration, Instant};

use ctdb_legacy_proto::{AddrInfo, Opcode, SockAddr, Wire};

use super::*;

#[test]
fn gratarp_sends_three_rounds_a_second_apart() {
    let now = Instant::now();
    let mut c = hosting(1, [0, 0, 0], now);
    let info = AddrInfo { addr: SockAddr(SocketAddr::new(addr(A1), 0)), mask: 0, iface: "eth7".into() };
    control(&mut c, now, 4, Opcode::SEND_GRATUITOUS_ARP, info.to_bytes());
    assert_eq!(out(&mut c).replies, vec![(4, 0)]);
    let mut rounds = Vec::new();
    let mut t = now;
    while let Some(due) = c.poll_timeout().filter(|d| *d < now + Duration::from_secs(10)) {
        t = t.max(due);
        c.handle_timeout(t);
        let arps: Vec<_> = std::iter::from_fn(|| c.poll_arp()).collect();
        if !arps.is_empty() {
            assert_eq!(arps, vec![(addr(A1), "eth7".to_string())]);
            rounds.push(t - now);
        }
    }
    let s = Duration::from_secs;
    assert_eq!(rounds, vec![s(0), s(1), s(2)]);
    // No interface: refused.
    let bad = AddrInfo { addr: SockAddr(SocketAddr::new(addr(A1), 0)), mask: 0, iface: String::new() };
    control(&mut c, now, 5, Opcode::SEND_GRATUITOUS_ARP, bad.to_bytes());
    assert_eq!(out(&mut c).replies, vec![(5, -1)]);
}
