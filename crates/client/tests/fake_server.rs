//! The client against a scripted fake daemon: exact request framing,
//! replies interleaved with messages, stray replies, timeouts and EOF.

use std::path::PathBuf;
use std::time::Duration;

use ctdb_client::{Client, ClientError};
use ctdb_legacy_proto::{
    call, ctrl_flags, peek_packet_len, pnn, Frame, Opcode, Operation, Packet, ReplyCall, ReplyControl, ReqCall,
    ReqMessage,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

const T: Duration = Duration::from_secs(5);

struct Fake {
    _dir: tempfile::TempDir,
    path: PathBuf,
    listener: UnixListener,
}

fn fake() -> Fake {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("ctdbd.socket");
    let listener = UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind: {e}"));
    Fake { _dir: dir, path, listener }
}

/// Read one packet: raw bytes and decoded frame.
async fn recv(s: &mut UnixStream) -> Option<(Vec<u8>, Frame)> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let total = peek_packet_len(&len).ok()??;
    let mut buf = vec![0u8; total];
    buf[..4].copy_from_slice(&len);
    s.read_exact(&mut buf[4..]).await.ok()?;
    let frame = Frame::decode(&buf).ok()?;
    Some((buf, frame))
}

async fn send_reply(s: &mut UnixStream, reqid: u32, status: i32, data: Vec<u8>) {
    let f = Frame::new(Packet::ReplyControl(ReplyControl { status, data, errmsg: None }), 0, 0, reqid);
    s.write_all(&f.encode(true)).await.unwrap_or_else(|e| panic!("write: {e}"));
}

async fn send_message(s: &mut UnixStream, srvid: u64, data: &[u8]) {
    let f = Frame::new(Packet::ReqMessage(ReqMessage { srvid, data: data.to_vec() }), 0, 0, 0);
    s.write_all(&f.encode(true)).await.unwrap_or_else(|e| panic!("write: {e}"));
}

/// Accept the client and answer its GET_PNN with `my_pnn`; return the
/// bytes of that request too.
async fn accept_and_greet(f: &Fake, my_pnn: i32) -> (UnixStream, Vec<u8>) {
    let (mut s, _) = f.listener.accept().await.unwrap_or_else(|e| panic!("accept: {e}"));
    let (bytes, frame) = recv(&mut s).await.unwrap_or_else(|| panic!("no GET_PNN"));
    send_reply(&mut s, frame.header.reqid, my_pnn, vec![]).await;
    (s, bytes)
}

fn opcode(f: &Frame) -> Option<Opcode> {
    match &f.packet {
        Packet::ReqControl(c) => Some(c.opcode),
        _ => None,
    }
}

#[tokio::test]
async fn connect_sends_get_pnn_like_the_cli_and_numbers_from_1() {
    let f = fake();
    let server = async {
        let (mut s, first) = accept_and_greet(&f, 3).await;
        let (second, frame) = recv(&mut s).await.unwrap_or_else(|| panic!("no ping"));
        send_reply(&mut s, frame.header.reqid, 1, vec![]).await;
        (first, second, s)
    };
    let client_side = async {
        let c = Client::connect(&f.path).await.unwrap_or_else(|e| panic!("connect: {e}"));
        let n = c.ping(0, T).await;
        (c, n)
    };
    let ((c, n), (first, second, _s)) = tokio::join!(client_side, server);
    assert_eq!(c.pnn(), 3, "pnn comes from GET_PNN's status");
    assert_eq!(n.ok(), Some(1));
    // GET_PNN: 60 bytes padded to 64, CURRENT_NODE, srcnode unknown, reqid 1.
    let g = Frame::decode(&first).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.len(), 64);
    assert_eq!(g.header.length, 64);
    assert_eq!(g.header.destnode, pnn::CURRENT_NODE);
    assert_eq!(g.header.srcnode, pnn::UNKNOWN);
    assert_eq!(g.header.reqid, 1);
    assert_eq!(g.header.generation, 0);
    assert_eq!(opcode(&g), Some(Opcode::GET_PNN));
    assert!(first[60..].iter().all(|&b| b == 0), "zero padding");
    // The next request is reqid 2, from pnn 3, also padded.
    let p = Frame::decode(&second).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.header.reqid, 2);
    assert_eq!(p.header.srcnode, 3);
    assert_eq!(p.header.destnode, 0);
    assert_eq!(second.len() % 8, 0);
}

#[tokio::test]
async fn replies_are_routed_past_messages_and_stray_replies() {
    let f = fake();
    let server = async {
        let (mut s, _) = accept_and_greet(&f, 0).await;
        let (_, ping) = recv(&mut s).await.unwrap_or_else(|| panic!("no ping"));
        assert_eq!(opcode(&ping), Some(Opcode::PING));
        assert_eq!(ping.header.reqid, 2);
        assert_eq!(ping.header.srcnode, 0);
        assert_eq!(ping.header.destnode, 0);
        send_message(&mut s, 0x1234, b"first").await;
        send_reply(&mut s, 999, 77, vec![]).await; // nobody waits for 999
        send_message(&mut s, 0x1234, b"second").await;
        send_reply(&mut s, ping.header.reqid, 4, vec![]).await;
        s
    };
    let client_side = async {
        let c = Client::connect(&f.path).await.unwrap_or_else(|e| panic!("{e}"));
        let n = c.ping(0, T).await;
        (c, n)
    };
    let ((c, n), _s) = tokio::join!(client_side, server);
    assert_eq!(n.ok(), Some(4));
    let m1 = c.next_message().await.map(|m| m.data);
    let m2 = c.next_message().await.map(|m| m.data);
    assert_eq!(m1.as_deref(), Some(&b"first"[..]));
    assert_eq!(m2.as_deref(), Some(&b"second"[..]));
    assert!(c.try_next_message().is_none());
}

#[tokio::test]
async fn timeout_then_late_reply_is_discarded() {
    let f = fake();
    let server = async {
        let (mut s, _) = accept_and_greet(&f, 0).await;
        let (_, slow) = recv(&mut s).await.unwrap_or_else(|| panic!("no request"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        send_reply(&mut s, slow.header.reqid, 9, vec![]).await; // too late
        let (_, next) = recv(&mut s).await.unwrap_or_else(|| panic!("no request"));
        send_reply(&mut s, next.header.reqid, 5, vec![]).await;
        s
    };
    let client_side = async {
        let c = Client::connect(&f.path).await.unwrap_or_else(|e| panic!("{e}"));
        let first = c.ping(0, Duration::from_millis(100)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let second = c.ping(0, T).await;
        (first, second)
    };
    let ((first, second), _s) = tokio::join!(client_side, server);
    assert!(matches!(first, Err(ClientError::Timeout)), "{first:?}");
    assert_eq!(first.err().map(|e| e.ret()), Some(110));
    assert_eq!(second.ok(), Some(5));
}

#[tokio::test]
async fn eof_fails_waiters_and_ends_messages() {
    let f = fake();
    let server = async {
        let (mut s, _) = accept_and_greet(&f, 0).await;
        send_message(&mut s, 1, b"last words").await;
        let _ = recv(&mut s).await;
        drop(s); // close without replying
    };
    let client_side = async {
        let c = Client::connect(&f.path).await.unwrap_or_else(|e| panic!("{e}"));
        let r = c.ping(0, T).await;
        (c, r)
    };
    let ((c, r), ()) = tokio::join!(client_side, server);
    assert!(matches!(r, Err(ClientError::Closed)), "{r:?}");
    assert!(c.is_closed());
    assert_eq!(c.next_message().await.map(|m| m.data), Some(b"last words".to_vec()));
    assert_eq!(c.next_message().await, None);
    assert!(matches!(c.ping(0, T).await, Err(ClientError::Closed)));
}

#[tokio::test]
async fn noreply_controls_and_messages() {
    let f = fake();
    let server = async {
        let (mut s, _) = accept_and_greet(&f, 2).await;
        let (_, a) = recv(&mut s).await.unwrap_or_else(|| panic!("no control"));
        let (_, b) = recv(&mut s).await.unwrap_or_else(|| panic!("no message"));
        (a, b, s)
    };
    let client_side = async {
        let c = Client::connect(&f.path).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(c.control_noreply(pnn::BROADCAST_ALL, Opcode::SHUTDOWN, 0, vec![]).await.is_ok());
        assert!(c.send_message(pnn::BROADCAST_CONNECTED, 42, b"hi".to_vec()).await.is_ok());
        c
    };
    let (_c, (a, b, _s)) = tokio::join!(client_side, server);
    let Packet::ReqControl(ctl) = a.packet else { panic!("not a control") };
    assert_eq!(ctl.flags & ctrl_flags::NOREPLY, ctrl_flags::NOREPLY);
    assert_eq!(a.header.destnode, pnn::BROADCAST_ALL);
    assert_eq!(a.header.srcnode, 2);
    assert_eq!(b.header.operation, Operation::REQ_MESSAGE);
    assert_eq!(b.header.reqid, 0);
    assert_eq!(b.header.srcnode, 2);
    assert_eq!(b.header.destnode, pnn::BROADCAST_CONNECTED);
}

#[tokio::test]
async fn close_writes_what_was_queued() {
    let f = fake();
    let server = async {
        let (mut s, _) = accept_and_greet(&f, 0).await;
        let mut got = Vec::new();
        while let Some((_, frame)) = recv(&mut s).await {
            got.push(frame);
        }
        got
    };
    let client_side = async {
        let c = Client::connect(&f.path).await.unwrap_or_else(|e| panic!("{e}"));
        for i in 0..100u8 {
            assert!(c.send_message(0, 7, vec![i; 100]).await.is_ok());
        }
        c.close().await;
    };
    let ((), got) = tokio::join!(client_side, server);
    assert_eq!(got.len(), 100, "every queued message reaches the daemon before EOF");
}

#[tokio::test]
async fn connect_to_missing_socket_names_the_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("nothing.socket");
    let err = Client::connect(&path).await.err();
    assert!(matches!(&err, Some(ClientError::Connect { path: p, .. }) if *p == path), "{err:?}");
}

#[tokio::test]
async fn call_waits_for_its_reply_call() {
    let f = fake();
    let server = async {
        let (mut s, _) = accept_and_greet(&f, 2).await;
        let (bytes, req) = recv(&mut s).await.unwrap_or_else(|| panic!("no call"));
        // A message in between must not be taken for the reply.
        send_message(&mut s, 0x99, b"between").await;
        let reply =
            Frame::new(Packet::ReplyCall(ReplyCall { status: 0, data: b"out".to_vec() }), 2, 2, req.header.reqid);
        s.write_all(&reply.encode(true)).await.unwrap_or_else(|e| panic!("write: {e}"));
        (bytes, req, s)
    };
    let client_side = async {
        let c = Client::connect(&f.path).await.unwrap_or_else(|e| panic!("{e}"));
        let request = ReqCall {
            flags: call::IMMEDIATE_MIGRATION,
            db_id: 0x1234_5678,
            callid: call::NULL_FUNC,
            hopcount: 0,
            key: b"key1".to_vec(),
            calldata: Vec::new(),
        };
        let r = c.call(request, T).await;
        (c, r)
    };
    let ((c, r), (bytes, req, _s)) = tokio::join!(client_side, server);
    let r = r.unwrap_or_else(|e| panic!("call: {e}"));
    assert_eq!((r.status, r.data.as_slice()), (0, &b"out"[..]));
    assert_eq!(req.header.operation, Operation::REQ_CALL);
    assert_eq!(req.header.destnode, pnn::CURRENT_NODE);
    assert_eq!(req.header.srcnode, 2);
    assert_eq!(bytes.len() % 8, 0, "padded like the C library");
    match req.packet {
        Packet::ReqCall(c) => {
            assert_eq!((c.flags, c.db_id, c.callid, c.key.as_slice()), (1, 0x1234_5678, 0xFF00_0001, &b"key1"[..]))
        }
        other => panic!("not a REQ_CALL: {other:?}"),
    }
    assert_eq!(c.next_message().await.map(|m| m.data).as_deref(), Some(&b"between"[..]));
}
