use proptest::prelude::*;

use super::*;

fn ep(node: u32, service: u16) -> Endpoint {
    Endpoint::new(node, ServiceId(service))
}

#[test]
fn header_is_big_endian_and_40_bytes() {
    let p = Packet::new(ep(2, 6), ep(0, 6), 0x0102_0304_0506_0708, Body::Keepalive);
    let b = p.encode();
    assert_eq!(b.len(), HEADER_LEN);
    assert_eq!(&b[0..4], &[0, 0, 0, 40]);
    assert_eq!(&b[4..8], b"CTRS");
    assert_eq!(&b[8..10], &[0, 1]);
    assert_eq!(&b[12..16], &[0, 0, 0, 2]);
    assert_eq!(&b[28..36], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(Packet::decode(&b).unwrap(), {
        let mut q = p.clone();
        q.header.length = 40;
        q
    });
}

#[test]
fn wrong_magic_version_and_length_are_rejected() {
    let mut b = Packet::new(ep(1, 1), ep(0, 1), 1, Body::Keepalive).encode();
    b[4] = b'X';
    assert!(matches!(peek_len(&b), Err(DecodeError::BadMagic(_))));
    let mut b = Packet::new(ep(1, 1), ep(0, 1), 1, Body::Keepalive).encode();
    b[9] = 9;
    assert_eq!(peek_len(&b), Err(DecodeError::BadVersion(9)));
    let mut b = Packet::new(ep(1, 1), ep(0, 1), 1, Body::Keepalive).encode();
    b[0..4].copy_from_slice(&(MAX_PACKET_LEN + 1).to_be_bytes());
    assert!(matches!(peek_len(&b), Err(DecodeError::BadLength(_))));
    b[0..4].copy_from_slice(&8u32.to_be_bytes());
    assert!(matches!(peek_len(&b), Err(DecodeError::BadLength(8))));
}

#[test]
fn msg_payload_is_readable_json() {
    let p = Packet::new(ep(0, 1), ep(0, 6), 7, Body::Msg(Msg::SetTunable { name: "KeepaliveLimit".into(), value: 3 }));
    let b = p.encode();
    let text = std::str::from_utf8(&b[HEADER_LEN..]).unwrap();
    assert_eq!(text, r#"{"msg":"set_tunable","name":"KeepaliveLimit","value":3}"#);
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    let mut b = Packet::new(ep(0, 1), ep(0, 6), 7, Body::Msg(Msg::StatsRequest)).encode();
    let n = b.len();
    b[n - 2] = b'!';
    assert!(matches!(Packet::decode(&b), Err(DecodeError::Malformed(_))));
}

proptest! {
    #[test]
    fn round_trip(node in any::<u32>(), svc in any::<u16>(), reqid in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..300), pnn in any::<u32>()) {
        for body in [Body::Legacy(data.clone()), Body::Keepalive, Body::Msg(Msg::PeerUp { pnn }), Body::Msg(Msg::Hello { pnn, version: "x".into() })] {
            let p = Packet::new(ep(node, svc), ep(pnn, 3), reqid, body);
            let b = p.encode();
            prop_assert_eq!(peek_len(&b).unwrap(), Some(b.len()));
            let q = Packet::decode(&b).unwrap();
            prop_assert_eq!(&q.body, &p.body);
            prop_assert_eq!(q.header.dst, p.header.dst);
            prop_assert_eq!(q.encode(), b);
        }
    }

    #[test]
    fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = peek_len(&data);
        let _ = Packet::decode(&data);
    }
}
