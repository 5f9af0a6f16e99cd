//! Random-fill round trips (the shape of Samba's protocol compat tests):
//! every type filled with random values encodes to `wire_len` bytes, decodes
//! to the same value, and that value re-encodes to the same bytes. Every
//! strict prefix of the encoding is refused without panicking.

use std::fmt::Debug;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ctdb_legacy_proto::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn roundtrip<T: Wire + PartialEq + Debug>(v: &T) -> Result<(), TestCaseError> {
    let bytes = v.to_bytes();
    prop_assert_eq!(bytes.len(), v.wire_len());
    let back = T::from_bytes(&bytes);
    prop_assert_eq!(back.as_ref(), Ok(v));
    if let Ok(back) = back {
        prop_assert_eq!(back.to_bytes(), bytes.clone());
    }
    // Truncations fail cleanly (an empty CString is legitimately 0 bytes,
    // so only prefixes of non-empty encodings are checked).
    for cut in [0, bytes.len() / 2, bytes.len().saturating_sub(1)] {
        if cut < bytes.len() && !bytes.is_empty() {
            let _ = T::from_bytes(&bytes[..cut]);
        }
    }
    Ok(())
}

fn name() -> impl Strategy<Value = String> {
    // No NUL (ends a C string) and no ':' (VarList separator); non-empty.
    "[A-Za-z0-9_./-]{1,40}"
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn f64_no_nan() -> impl Strategy<Value = f64> {
    use proptest::num::f64::*;
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO | INFINITE
}

fn sock_addr() -> impl Strategy<Value = SockAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SockAddr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))),
        (any::<[u8; 16]>(), any::<u16>(), any::<u32>(), any::<u32>()).prop_map(|(ip, port, flow, scope)| SockAddr(
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope))
        )),
    ]
}

fn timeval() -> impl Strategy<Value = Timeval> {
    (any::<i64>(), any::<i64>()).prop_map(|(sec, usec)| Timeval { sec, usec })
}

fn latency() -> impl Strategy<Value = LatencyCounter> {
    (any::<i32>(), f64_no_nan(), f64_no_nan(), f64_no_nan()).prop_map(|(num, min, max, total)| LatencyCounter {
        num,
        min,
        max,
        total,
    })
}

fn node_and_flags() -> impl Strategy<Value = NodeAndFlags> {
    (any::<u32>(), any::<u32>(), sock_addr()).prop_map(|(pnn, flags, addr)| NodeAndFlags { pnn, flags, addr })
}

fn iface() -> impl Strategy<Value = Iface> {
    ("[a-z0-9.]{1,18}", any::<u16>(), any::<u32>()).prop_map(|(name, link_state, references)| Iface {
        name,
        link_state,
        references,
    })
}

fn public_ip() -> impl Strategy<Value = PublicIp> {
    (any::<u32>(), sock_addr()).prop_map(|(pnn, addr)| PublicIp { pnn, addr })
}

fn ltdb_header() -> impl Strategy<Value = LtdbHeader> {
    (any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(rsn, dmaster, reserved1, flags)| LtdbHeader {
        rsn,
        dmaster,
        reserved1,
        flags,
    })
}

fn rec_data() -> impl Strategy<Value = RecData> {
    (any::<u32>(), bytes(64), bytes(128)).prop_map(|(reqid, key, data)| RecData { reqid, key, data })
}

fn traverse_all() -> impl Strategy<Value = TraverseAll> {
    any::<(u32, u32, u32, u32, u64)>().prop_map(|(db_id, reqid, pnn, client_reqid, srvid)| TraverseAll {
        db_id,
        reqid,
        pnn,
        client_reqid,
        srvid,
    })
}

fn statistics() -> impl Strategy<Value = Statistics> {
    (
        any::<[u32; 9]>(),
        any::<[u32; 9]>(),
        any::<[u32; 7]>(),
        (latency(), latency(), latency(), latency(), latency()),
        any::<[u32; 4]>(),
        any::<[u32; 16]>(),
        any::<[u32; 7]>(),
        any::<[u32; 16]>(),
        any::<[u32; 3]>(),
        (timeval(), timeval()),
    )
        .prop_map(|(head, node, ct, (rc, rr, ll, cl, cwl), locks, lb, mid, hop, tail, (t0, t1))| Statistics {
            num_clients: head[0],
            frozen: head[1],
            recovering: head[2],
            client_packets_sent: head[3],
            client_packets_recv: head[4],
            node_packets_sent: head[5],
            node_packets_recv: head[6],
            keepalive_packets_sent: head[7],
            keepalive_packets_recv: head[8],
            node: NodeCounters {
                req_call: node[0],
                reply_call: node[1],
                req_dmaster: node[2],
                reply_dmaster: node[3],
                reply_error: node[4],
                req_message: node[5],
                req_control: node[6],
                reply_control: node[7],
                req_tunnel: node[8],
            },
            client: ClientCounters { req_call: ct[0], req_message: ct[1], req_control: ct[2], req_tunnel: ct[3] },
            timeouts: TimeoutCounters { call: ct[4], control: ct[5], traverse: ct[6] },
            reclock: ReclockLatency { ctdbd: rc, recd: rr },
            locks: LockCounters {
                num_calls: locks[0],
                num_current: locks[1],
                num_pending: locks[2],
                num_failed: locks[3],
                latency: ll,
                buckets: lb,
            },
            total_calls: mid[0],
            pending_calls: mid[1],
            childwrite_calls: mid[2],
            pending_childwrite_calls: mid[3],
            memory_used: mid[4],
            last_counter: mid[5],
            max_hop_count: mid[6],
            hop_count_bucket: hop,
            call_latency: cl,
            childwrite_latency: cwl,
            num_recoveries: tail[0],
            statistics_start_time: t0,
            statistics_current_time: t1,
            total_ro_delegations: tail[1],
            total_ro_revokes: tail[2],
        })
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        (any::<[u32; 4]>(), bytes(64), bytes(64)).prop_map(|(a, key, calldata)| {
            Packet::ReqCall(ReqCall { flags: a[0], db_id: a[1], callid: a[2], hopcount: a[3], key, calldata })
        }),
        (any::<i32>(), bytes(64)).prop_map(|(status, data)| Packet::ReplyCall(ReplyCall { status, data })),
        (any::<(u32, u64, u32, u32)>(), bytes(32), bytes(64)).prop_map(
            |((db_id, rsn, dmaster, record_flags), key, data)| Packet::ReqDmaster(ReqDmaster {
                db_id,
                rsn,
                dmaster,
                key,
                data,
                record_flags
            })
        ),
        (any::<(u32, u64, u32)>(), bytes(32), bytes(64)).prop_map(|((db_id, rsn, record_flags), key, data)| {
            Packet::ReplyDmaster(ReplyDmaster { db_id, rsn, key, data, record_flags })
        }),
        (any::<i32>(), bytes(64)).prop_map(|(status, msg)| Packet::ReplyError(ReplyError { status, msg })),
        (any::<u64>(), bytes(128)).prop_map(|(srvid, data)| Packet::ReqMessage(ReqMessage { srvid, data })),
        (any::<(u32, u64, u32, u32)>(), bytes(128)).prop_map(|((opcode, srvid, client_id, flags), data)| {
            Packet::ReqControl(ReqControl { opcode: Opcode(opcode), srvid, client_id, flags, data })
        }),
        (any::<i32>(), bytes(128), proptest::option::of("[ -~]{1,60}"))
            .prop_map(|(status, data, errmsg)| Packet::ReplyControl(ReplyControl { status, data, errmsg })),
        any::<(u32, u32)>().prop_map(|(version, uptime)| Packet::ReqKeepalive(ReqKeepalive { version, uptime })),
        (any::<(u64, u32)>(), bytes(64))
            .prop_map(|((tunnel_id, flags), data)| { Packet::ReqTunnel(ReqTunnel { tunnel_id, flags, data }) }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frame_roundtrip(
        packet in packet(),
        hdr in any::<(u32, u32, u32, u32)>(),
        pad8 in any::<bool>(),
    ) {
        let (generation, destnode, srcnode, reqid) = hdr;
        let mut f = Frame::new(packet, destnode, srcnode, reqid);
        f.header.generation = generation;
        let bytes = f.encode(pad8);
        prop_assert!(!pad8 || bytes.len() % 8 == 0);
        prop_assert_eq!(peek_packet_len(&bytes), Ok(Some(bytes.len())));
        let back = Frame::decode(&bytes);
        prop_assert!(back.is_ok(), "{:?}", back);
        if let Ok(back) = back {
            prop_assert_eq!(back.header.length as usize, bytes.len());
            let mut expect = f.clone();
            expect.header.length = back.header.length;
            prop_assert_eq!(&back, &expect);
            prop_assert_eq!(back.encode(pad8), bytes.clone());
        }
        // Any cut packet is refused.
        for cut in [0usize, 4, 31, 32, bytes.len() - 1] {
            prop_assert!(Frame::decode(&bytes[..cut.min(bytes.len() - 1)]).is_err());
        }
    }

    #[test]
    fn scalars(a in any::<u8>(), b in any::<u16>(), c in any::<u32>(), d in any::<i32>(),
               e in any::<u64>(), f in any::<i64>(), g in f64_no_nan(), h in any::<bool>()) {
        roundtrip(&a)?; roundtrip(&b)?; roundtrip(&c)?; roundtrip(&d)?;
        roundtrip(&e)?; roundtrip(&f)?; roundtrip(&g)?; roundtrip(&h)?;
    }

    #[test]
    fn addresses(a in sock_addr(), b in sock_addr()) {
        roundtrip(&a)?;
        roundtrip(&Connection { src: a, dst: b })?;
    }

    #[test]
    fn nodes(nodes in vec(node_and_flags(), 0..8), generation in any::<u32>(),
             map in vec(any::<u32>(), 0..16), x in any::<(u32, u32, u32)>()) {
        for n in &nodes { roundtrip(n)?; }
        roundtrip(&NodeMap { nodes })?;
        roundtrip(&VnnMap { generation, map })?;
        roundtrip(&BanState { pnn: x.0, time: x.1 })?;
        roundtrip(&NodeFlagChange { pnn: x.0, new_flags: x.1, old_flags: x.2 })?;
    }

    #[test]
    fn times(t in vec(timeval(), 4), l in latency()) {
        roundtrip(&t[0])?;
        roundtrip(&Uptime {
            current_time: t[0],
            ctdbd_start_time: t[1],
            last_recovery_started: t[2],
            last_recovery_finished: t[3],
        })?;
        roundtrip(&l)?;
    }

    #[test]
    fn stats(s in vec(statistics(), 0..3)) {
        for x in &s {
            prop_assert_eq!(x.to_bytes().len(), STATISTICS_LEN);
            roundtrip(x)?;
        }
        roundtrip(&StatisticsList { stats: s })?;
    }

    #[test]
    fn db_stats(lat in latency(), v in latency(), b in any::<[u32; 16]>(), h in any::<[u32; 16]>(),
                x in any::<[u32; 6]>(), n in 0u32..=10, keys in vec((any::<u32>(), bytes(40)), 10)) {
        let mut hot_keys: [HotKey; MAX_HOT_KEYS] = Default::default();
        for (i, (slot, (count, key))) in hot_keys.iter_mut().zip(keys).enumerate() {
            slot.count = count;
            // Only the first num_hot_keys slots carry their key on the wire.
            slot.key = if (i as u32) < n { key } else { Vec::new() };
        }
        roundtrip(&DbStatistics {
            locks: DbLockCounters { num_calls: x[0], num_current: x[1], num_pending: x[2], num_failed: x[3], latency: lat, buckets: b },
            vacuum_latency: v,
            db_ro_delegations: x[4],
            db_ro_revokes: x[5],
            hop_count_bucket: h,
            num_hot_keys: n,
            hot_keys,
        })?;
    }

    #[test]
    fn tunables(n in name(), value in any::<u32>(), names in vec(name(), 0..10),
                values in any::<[u32; 62]>()) {
        roundtrip(&TunableSet { value, name: n.clone() })?;
        roundtrip(&StringN(n.clone()))?;
        roundtrip(&CString(n))?;
        roundtrip(&VarList { names })?;
        roundtrip(&TunableList { values })?;
    }

    #[test]
    fn strings_and_blobs(s in proptest::option::of(name()), b in bytes(256)) {
        let s = s.unwrap_or_default();
        roundtrip(&CString(s.clone()))?;
        roundtrip(&StringN(s))?;
        roundtrip(&TdbDataN(b))?;
    }

    #[test]
    fn srvid_payloads(pid in any::<i32>(), a in any::<(u32, u64, u32, u32, u64)>(),
                      data in bytes(64), t in timeval()) {
        let p = PidSrvid { pid, srvid: a.1 };
        prop_assert_eq!(p.to_bytes().len(), 12);
        roundtrip(&p)?;
        roundtrip(&SrvidMessage { pnn: a.0, srvid: a.1 })?;
        roundtrip(&DisableMessage { pnn: a.0, srvid: a.1, timeout: a.2 })?;
        roundtrip(&ServerId { pid: a.1, task_id: a.2, vnn: a.3, unique_id: a.4 })?;
        roundtrip(&NotifyData { srvid: a.4, data: data.clone() })?;
        roundtrip(&ElectionMessage { num_connected: a.0, priority_time: t, pnn: a.2, node_flags: a.3 })?;
        roundtrip(&EchoData { timeout: a.3, buf: data })?;
    }

    #[test]
    fn ip_payloads(ifaces in vec(iface(), 0..6), ips in vec(public_ip(), 0..6),
                   active_idx in any::<u32>(), mask in any::<u32>(),
                   iface_names in proptest::option::of("[a-z0-9,]{1,40}"),
                   conns in vec((sock_addr(), sock_addr()), 0..6)) {
        for i in &ifaces { roundtrip(i)?; }
        roundtrip(&IfaceList { ifaces: ifaces.clone() })?;
        for ip in &ips { roundtrip(ip)?; }
        roundtrip(&PublicIpList { ips: ips.clone() })?;
        if let Some(ip) = ips.first() {
            roundtrip(&PublicIpInfo { ip: *ip, active_idx, ifaces })?;
            roundtrip(&AddrInfo { addr: ip.addr, mask, iface: iface_names.unwrap_or_default() })?;
            roundtrip(&TickleList {
                addr: ip.addr,
                conns: conns.into_iter().map(|(src, dst)| Connection { src, dst }).collect(),
            })?;
        }
    }

    #[test]
    fn db_payloads(dbs in vec((any::<u32>(), any::<u8>()), 0..8), h in ltdb_header(),
                   recs in vec(rec_data(), 0..6), a in any::<(u32, u32, u64, bool)>(),
                   ta in traverse_all(), key in bytes(64), value in bytes(64)) {
        let dbs: Vec<Dbid> = dbs.into_iter().map(|(db_id, flags)| Dbid { db_id, flags }).collect();
        for d in &dbs { roundtrip(d)?; }
        roundtrip(&DbidMap { dbs })?;
        roundtrip(&h)?;
        let joined = h.join(&value);
        prop_assert_eq!(LtdbHeader::split(&joined), Ok((h, &value[..])));
        for r in &recs { roundtrip(r)?; }
        roundtrip(&RecBuffer { db_id: a.0, records: recs })?;
        roundtrip(&RecData::with_header(a.1, key.clone(), &h, &value))?;
        roundtrip(&TransDb { db_id: a.0, tid: a.1 })?;
        roundtrip(&DbIdPadded { db_id: a.0 })?;
        roundtrip(&TraverseStart { db_id: a.0, reqid: a.1, srvid: a.2 })?;
        roundtrip(&TraverseStartExt { db_id: a.0, reqid: a.1, srvid: a.2, withemptyrecords: a.3 })?;
        roundtrip(&ta)?;
        roundtrip(&TraverseAllExt { all: ta, withemptyrecords: a.3 })?;
        roundtrip(&PullDb { db_id: a.0, lmaster: a.1 })?;
        roundtrip(&PullDbExt { db_id: a.0, lmaster: a.1, srvid: a.2 })?;
        roundtrip(&KeyData { db_id: a.0, header: h, key })?;
        roundtrip(&DbVacuum { db_id: a.0, full_vacuum_run: a.3 })?;
    }

    #[test]
    fn opcodes_and_operations_round_trip_unknown_values(v in any::<u32>()) {
        let f = Frame::new(
            Packet::ReqControl(ReqControl { opcode: Opcode(v), srvid: 0, client_id: 0, flags: 0, data: vec![] }),
            0, 0, 1,
        );
        let back = Frame::decode(&f.encode(true)).map(|f| f.packet);
        let ok = matches!(back, Ok(Packet::ReqControl(ReqControl { opcode: Opcode(x), .. })) if x == v);
        prop_assert!(ok);
        let name = Opcode(v).name();
        if let Some(n) = name {
            prop_assert_eq!(Opcode::from_name(n), Some(Opcode(v)));
        }
    }
}
