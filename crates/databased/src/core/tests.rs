//! Unit tests of one core: attach and metadata controls, calls on a record
//! this node masters, a chain lock held by "smbd", and bad requests.

use std::time::{Duration, Instant};

use ctdb_legacy_proto::{
    call, pnn, CString, DbidMap, Frame, LtdbHeader, Opcode, Packet as LPacket, ReplyCall, ReplyControl, ReqCall,
    ReqControl, Wire,
};
use ctdb_proto::{Body, ClusterState, Endpoint, Flags, NodeInfo, Packet, ServiceId};

use super::Databased;
use crate::store::MemBackend;

fn state(generation: u32) -> ClusterState {
    ClusterState {
        pnn: 0,
        nodes: vec![NodeInfo { pnn: 0, addr: None, flags: 0 }],
        runstate: 5,
        capabilities: 0x30003,
        generation,
        vnnmap: vec![0],
        recmode: 0,
        leader: Some(0),
        tunables: ctdb_config::Tunables::default().as_array().to_vec(),
        cluster_lock: None,
        last_recovery: (0, 0, 0, 0),
    }
}

struct One {
    core: Databased,
    backend: MemBackend,
    now: Instant,
    reqid: u64,
}

impl One {
    fn new() -> One {
        let backend = MemBackend::default();
        let mut core = Databased::new(0, Box::new(backend.clone()));
        let now = Instant::now();
        core.dispatch(now, msg(ctdb_proto::Msg::ClusterState(state(7))));
        One { core, backend, now, reqid: 0 }
    }

    /// Send a legacy packet as the gateway; collect the replies.
    fn send(&mut self, p: LPacket) -> Vec<Frame> {
        self.reqid += 1;
        let bytes = Frame::new(p, pnn::CURRENT_NODE, 0, self.reqid as u32).encode(true);
        let gw = Endpoint::new(0, ServiceId::GATEWAY);
        let pkt = Packet::new(Endpoint::new(0, ServiceId::DATABASED), gw, self.reqid, Body::Legacy(bytes));
        self.core.dispatch(self.now, pkt);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(p) = self.core.poll_output() {
            if let Body::Legacy(b) = &p.body {
                if p.header.flags.contains(Flags::REPLY) {
                    out.push(Frame::decode(b).expect("core sends valid frames"));
                }
            }
        }
        out
    }

    fn control(&mut self, opcode: Opcode, data: Vec<u8>) -> ReplyControl {
        let c = ReqControl { opcode, srvid: 0, client_id: 0, flags: 0, data };
        match self.send(LPacket::ReqControl(c)).pop().map(|f| f.packet) {
            Some(LPacket::ReplyControl(r)) => r,
            other => panic!("no control reply: {other:?}"),
        }
    }

    fn call(&mut self, db_id: u32, key: &[u8], callid: u32) -> Vec<ReplyCall> {
        let c = ReqCall {
            flags: call::IMMEDIATE_MIGRATION,
            db_id,
            callid,
            hopcount: 0,
            key: key.to_vec(),
            calldata: vec![],
        };
        self.send(LPacket::ReqCall(c))
            .into_iter()
            .filter_map(|f| match f.packet {
                LPacket::ReplyCall(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn attach(&mut self, name: &str) -> u32 {
        let r = self.control(Opcode::DB_ATTACH, CString(name.into()).to_bytes());
        assert_eq!(r.status, 0, "{r:?}");
        u32::from_bytes(&r.data).unwrap()
    }
}

fn msg(m: ctdb_proto::Msg) -> Packet {
    Packet::new(Endpoint::new(0, ServiceId::DATABASED), Endpoint::new(0, ServiceId::CLUSTERD), 0, Body::Msg(m))
}

#[test]
fn attach_reports_id_path_flags_and_newest_first() {
    let mut t = One::new();
    let a = t.attach("locking.tdb");
    assert_eq!(a, 0x7a19d84d);
    let b = t.attach("brlock.tdb");
    assert_eq!(b, 0x4e66c2b2);
    // Attaching again answers the same id.
    assert_eq!(t.attach("locking.tdb"), a);
    let map = DbidMap::from_bytes(&t.control(Opcode::GET_DBMAP, vec![]).data).unwrap();
    assert_eq!(map.dbs.iter().map(|d| d.db_id).collect::<Vec<_>>(), vec![b, a]);
    let path = CString::from_bytes(&t.control(Opcode::GETDBPATH, a.to_bytes()).data).unwrap();
    assert_eq!(path.0, "/mem/volatile/locking.tdb.0");
    assert_eq!(i32::from_bytes(&t.control(Opcode::DB_OPEN_FLAGS, a.to_bytes()).data).unwrap(), 0x1C41);
    t.control(Opcode::ENABLE_SEQNUM, a.to_bytes());
    assert_eq!(i32::from_bytes(&t.control(Opcode::DB_OPEN_FLAGS, a.to_bytes()).data).unwrap(), 0x1CC1);
    let name = CString::from_bytes(&t.control(Opcode::GET_DBNAME, b.to_bytes()).data).unwrap();
    assert_eq!(name.0, "brlock.tdb");
    // Unknown ids fail.
    assert_eq!(t.control(Opcode::GETDBPATH, 0x1234u32.to_bytes()).status, -1);
}

#[test]
fn calls_on_own_records_create_and_fetch() {
    let mut t = One::new();
    let db = t.attach("test.tdb");
    // A missing record is created header-only with this node as dmaster.
    let r = t.call(db, b"k", call::NULL_FUNC);
    assert_eq!(r, vec![ReplyCall { status: 0, data: vec![] }]);
    let store = t.backend.stores.lock().unwrap().get("test.tdb").cloned().unwrap();
    let v = store.records().get(b"k".as_slice()).cloned().unwrap();
    let (h, d) = LtdbHeader::split(&v).unwrap();
    assert_eq!((h.dmaster, d.len()), (0, 0));
    // smbd writes data under the same header; FETCH returns it.
    store.put(b"k", &h.join(b"value"));
    assert_eq!(t.call(db, b"k", call::FETCH_FUNC), vec![ReplyCall { status: 0, data: b"value".to_vec() }]);
    let with_header = t.call(db, b"k", call::FETCH_WITH_HEADER_FUNC);
    assert_eq!(with_header[0].data, h.join(b"value"));
}

#[test]
fn a_busy_chain_lock_queues_the_call_without_blocking() {
    let mut t = One::new();
    let db = t.attach("test.tdb");
    let store = t.backend.stores.lock().unwrap().get("test.tdb").cloned().unwrap();
    store.hold(b"k", true);
    assert!(t.call(db, b"k", call::NULL_FUNC).is_empty(), "answered although smbd holds the lock");
    assert_eq!(t.core.pending_calls(), 1);
    // Retries while held do not answer either.
    let retry = t.core.poll_timeout().expect("a retry is scheduled");
    assert!(retry <= t.now + Duration::from_millis(5));
    t.now = retry;
    t.core.handle_timeout(t.now);
    assert!(t.drain().is_empty());
    store.hold(b"k", false);
    t.now = t.core.poll_timeout().unwrap();
    t.core.handle_timeout(t.now);
    assert_eq!(t.drain().len(), 1);
    assert_eq!(t.core.pending_calls(), 0);
}

#[test]
fn bad_calls_get_errors() {
    let mut t = One::new();
    assert_eq!(t.call(0xdead_beef, b"k", call::NULL_FUNC), vec![ReplyCall { status: -1, data: vec![] }]);
    let db = t.attach("test.tdb");
    assert_eq!(t.call(db, b"k", 0x42), vec![ReplyCall { status: -1, data: vec![] }]);
    // Attach with a bad name fails cleanly.
    assert_eq!(t.control(Opcode::DB_ATTACH, CString("a/b".into()).to_bytes()).status, -1);
    assert_eq!(t.control(Opcode::DB_ATTACH, vec![0]).status, -1);
}

#[test]
fn attach_waits_for_the_end_of_a_recovery() {
    let mut t = One::new();
    t.core.dispatch(t.now, msg(ctdb_proto::Msg::RecoveryEvent { event: "startrecovery".into(), generation: 9 }));
    let frozen: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
    assert!(frozen.iter().any(|p| matches!(p.body, Body::Msg(ctdb_proto::Msg::DbFrozen { generation: 9 }))));
    let replies = t.send(LPacket::ReqControl(ReqControl {
        opcode: Opcode::DB_ATTACH,
        srvid: 0,
        client_id: 0,
        flags: 0,
        data: CString("late.tdb".into()).to_bytes(),
    }));
    assert!(replies.is_empty(), "attach answered during recovery");
    let mut st = state(9);
    st.recmode = 0;
    t.core.dispatch(t.now, msg(ctdb_proto::Msg::ClusterState(st)));
    assert!(!t.core.is_frozen());
    let r = t.drain();
    assert!(matches!(&r[..], [Frame { packet: LPacket::ReplyControl(ReplyControl { status: 0, .. }), .. }]), "{r:?}");
}

/// Frames the core sent to databased on `node`.
fn sent_to(out: &[Packet], node: u32) -> Vec<Frame> {
    out.iter()
        .filter(|p| p.header.dst == Endpoint::new(node, ServiceId::DATABASED))
        .filter_map(|p| match &p.body {
            Body::Legacy(b) => Frame::decode(b).ok(),
            _ => None,
        })
        .collect()
}

fn from_node(node: u32, frame: Frame) -> Packet {
    let bytes = frame.encode(true);
    Packet::new(
        Endpoint::new(0, ServiceId::DATABASED),
        Endpoint::new(node, ServiceId::DATABASED),
        0,
        Body::Legacy(bytes),
    )
}

#[test]
fn a_sticky_record_stays_pinned_after_it_arrives() {
    let mut t = One::new();
    let mut st = state(7);
    st.nodes.push(NodeInfo { pnn: 1, addr: None, flags: 0 });
    t.core.dispatch(t.now, msg(ctdb_proto::Msg::ClusterState(st)));
    let db = t.attach("sticky.tdb");
    assert_eq!(t.control(Opcode::SET_DB_STICKY, db.to_bytes()).status, 0);
    t.call(db, b"k", call::NULL_FUNC);
    let generation = super::INVALID_GENERATION;
    let remote_call = |hops: u32| {
        let c = ReqCall {
            flags: call::IMMEDIATE_MIGRATION,
            db_id: db,
            callid: call::NULL_FUNC,
            hopcount: hops,
            key: b"k".to_vec(),
            calldata: vec![],
        };
        let mut f = Frame::new(LPacket::ReqCall(c), 0, 1, 99);
        f.header.generation = generation;
        f
    };
    // A call that needed many hops makes the record sticky; it still goes.
    t.core.dispatch(t.now, from_node(1, remote_call(60)));
    let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
    assert!(matches!(sent_to(&out, 1).as_slice(), [Frame { packet: LPacket::ReplyDmaster(_), .. }]), "{out:?}");
    // A client here wants it back: it arrives and is pinned down.
    let c = ReqCall {
        flags: call::IMMEDIATE_MIGRATION,
        db_id: db,
        callid: call::NULL_FUNC,
        hopcount: 0,
        key: b"k".to_vec(),
        calldata: vec![],
    };
    t.reqid += 1;
    let bytes = Frame::new(LPacket::ReqCall(c), pnn::CURRENT_NODE, 0, 1).encode(true);
    let gw = Endpoint::new(0, ServiceId::GATEWAY);
    t.core.dispatch(t.now, Packet::new(Endpoint::new(0, ServiceId::DATABASED), gw, t.reqid, Body::Legacy(bytes)));
    let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
    let sent = sent_to(&out, 1);
    let [Frame { header: h, packet: LPacket::ReqCall(_) }] = sent.as_slice() else { panic!("{out:?}") };
    let m =
        ctdb_legacy_proto::ReplyDmaster { db_id: db, rsn: 5, key: b"k".to_vec(), data: b"d".to_vec(), record_flags: 0 };
    let mut f = Frame::new(LPacket::ReplyDmaster(m), 0, 1, h.reqid);
    f.header.generation = generation;
    t.core.dispatch(t.now, from_node(1, f));
    assert_eq!(t.drain().len(), 1, "the client is answered");
    // Node 1 asks again at once: held for StickyPindown (200 ms).
    t.core.dispatch(t.now, from_node(1, remote_call(1)));
    let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
    assert!(sent_to(&out, 1).is_empty(), "migrated away while pinned: {out:?}");
    let due = t.core.poll_timeout().expect("pin-down timer");
    assert!(due >= t.now + Duration::from_millis(199) && due <= t.now + Duration::from_millis(201));
    t.now = due;
    t.core.handle_timeout(t.now);
    let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
    assert!(matches!(sent_to(&out, 1).as_slice(), [Frame { packet: LPacket::ReplyDmaster(_), .. }]), "{out:?}");
}

#[test]
fn a_deferred_attach_fails_after_deferred_attach_to() {
    let mut t = One::new();
    t.core.dispatch(t.now, msg(ctdb_proto::Msg::RecoveryEvent { event: "startrecovery".into(), generation: 9 }));
    let _ = t.drain();
    let replies = t.send(LPacket::ReqControl(ReqControl {
        opcode: Opcode::DB_ATTACH,
        srvid: 0,
        client_id: 0,
        flags: 0,
        data: CString("stuck.tdb".into()).to_bytes(),
    }));
    assert!(replies.is_empty());
    // DeferredAttachTO defaults to 120 s: not yet at 119 s.
    t.now += Duration::from_secs(119);
    t.core.handle_timeout(t.now);
    assert!(t.drain().is_empty());
    t.now += Duration::from_secs(1);
    t.core.handle_timeout(t.now);
    let r = t.drain();
    assert!(matches!(&r[..], [Frame { packet: LPacket::ReplyControl(ReplyControl { status: -1, .. }), .. }]), "{r:?}");
}

/// `ctdb restoredb` as the tool drives one node: the freeze waits for a
/// chain lock smbd holds, calls wait for the thaw, pushed records are
/// staged until the commit, which replaces the contents in one go.
#[test]
fn freeze_transaction_wipe_push_commit_thaw() {
    use ctdb_legacy_proto::{record_flags, PullDbExt, RecBuffer, RecData, ReqMessage, TransDb};
    let mut t = One::new();
    let db = t.attach("restore.tdb");
    let store = t.backend.stores.lock().unwrap().get("restore.tdb").cloned().unwrap();
    let old = LtdbHeader { rsn: 1, dmaster: 0, reserved1: 0, flags: 0 };
    store.put(b"old", &old.join(b"gone after the restore"));

    // smbd holds a chain lock: the freeze is answered once it is free.
    store.hold(b"old", true);
    let c = ReqControl { opcode: Opcode::DB_FREEZE, srvid: 0, client_id: 0, flags: 0, data: db.to_bytes() };
    assert!(t.send(LPacket::ReqControl(c)).is_empty(), "freeze answered while a chain is locked");
    store.hold(b"old", false);
    t.now += Duration::from_millis(2);
    t.core.handle_timeout(t.now);
    let r = t.drain();
    assert!(matches!(&r[..], [Frame { packet: LPacket::ReplyControl(ReplyControl { status: 0, .. }), .. }]), "{r:?}");

    // A call on the frozen database waits.
    assert!(t.call(db, b"old", call::FETCH_FUNC).is_empty(), "a call ran on a frozen database");

    // Wipe and push only inside the transaction of the given id.
    let trans = TransDb { db_id: db, tid: 0x77 }.to_bytes();
    assert_eq!(t.control(Opcode::WIPE_DATABASE, trans.clone()).status, -1);
    assert_eq!(t.control(Opcode::DB_TRANSACTION_START, trans.clone()).status, 0);
    assert_eq!(t.control(Opcode::WIPE_DATABASE, TransDb { db_id: db, tid: 0x78 }.to_bytes()).status, -1);
    assert_eq!(t.control(Opcode::WIPE_DATABASE, trans.clone()).status, 0);
    let srvid = 0xCE02_0000_0000_0000u64;
    let push = PullDbExt { db_id: db, lmaster: 0, srvid }.to_bytes();
    assert_eq!(t.control(Opcode::DB_PUSH_START, push).status, 0);
    let ro = LtdbHeader { rsn: 9, dmaster: 0, reserved1: 0, flags: record_flags::RO_HAVE_DELEGATIONS };
    let recs = RecBuffer {
        db_id: db,
        records: vec![
            RecData::with_header(0, b"a".to_vec(), &ro, b"1"),
            RecData::with_header(0, b"b".to_vec(), &old, b"2"),
        ],
    };
    t.send(LPacket::ReqMessage(ReqMessage { srvid, data: recs.to_bytes() }));
    // Nothing changes before the commit.
    assert!(store.records().contains_key(b"old".as_slice()));
    let n = t.control(Opcode::DB_PUSH_CONFIRM, db.to_bytes());
    assert_eq!((n.status, u32::from_bytes(&n.data).unwrap()), (0, 2));
    assert_eq!(t.control(Opcode::DB_TRANSACTION_COMMIT, trans).status, 0);
    let now: Vec<Vec<u8>> = store.records().keys().cloned().collect();
    assert_eq!(now, vec![b"a".to_vec(), b"b".to_vec()]);
    let (h, d) = LtdbHeader::split(&store.records()[b"a".as_slice()]).map(|(h, d)| (h, d.to_vec())).unwrap();
    assert_eq!((h.rsn, h.flags, d), (9, 0, b"1".to_vec()), "read-only bits are cleared");

    // The thaw runs the call that waited: the record is gone now.
    let r = t.control(Opcode::DB_THAW, db.to_bytes());
    assert_eq!(r.status, 0);
    let _ = t.drain();
    assert_eq!(t.call(db, b"a", call::FETCH_FUNC), vec![ReplyCall { status: 0, data: b"1".to_vec() }]);
}

/// DB_PULL streams every record to the srvid and answers the count; it
/// needs a frozen database.
#[test]
fn pull_streams_records_of_a_frozen_database() {
    use ctdb_legacy_proto::{PullDbExt, RecBuffer};
    let mut t = One::new();
    let db = t.attach("pull.tdb");
    let store = t.backend.stores.lock().unwrap().get("pull.tdb").cloned().unwrap();
    let h = LtdbHeader { rsn: 1, dmaster: 0, reserved1: 0, flags: 0 };
    for i in 0..5u8 {
        store.put(&[i], &h.join(&[i; 3]));
    }
    let pull = PullDbExt { db_id: db, lmaster: 0xFFFF_FFFF, srvid: 0xF001_0000_0000_0001 }.to_bytes();
    assert_eq!(t.control(Opcode::DB_PULL, pull.clone()).status, -1, "pull of a database not frozen");
    assert_eq!(t.control(Opcode::DB_FREEZE, db.to_bytes()).status, 0);
    t.reqid += 1;
    let c = ReqControl { opcode: Opcode::DB_PULL, srvid: 0, client_id: 0, flags: 0, data: pull };
    let bytes = Frame::new(LPacket::ReqControl(c), pnn::CURRENT_NODE, 0, t.reqid as u32).encode(true);
    let gw = Endpoint::new(0, ServiceId::GATEWAY);
    t.core.dispatch(t.now, Packet::new(Endpoint::new(0, ServiceId::DATABASED), gw, t.reqid, Body::Legacy(bytes)));
    let mut pulled = 0;
    let mut answer = None;
    while let Some(p) = t.core.poll_output() {
        let Body::Legacy(b) = &p.body else { continue };
        match Frame::decode(b).unwrap().packet {
            LPacket::ReqMessage(m) => {
                assert_eq!(m.srvid, 0xF001_0000_0000_0001);
                pulled += RecBuffer::from_bytes(&m.data).unwrap().records.len();
            }
            LPacket::ReplyControl(r) => answer = Some(u32::from_bytes(&r.data).unwrap()),
            _ => {}
        }
    }
    assert_eq!((pulled, answer), (5, Some(5)));
}

/// TRANS3_COMMIT on a two-node cluster: the committer stores the
/// transaction only after the other node has it, so a commit refused there
/// leaves this node's sequence number alone (Samba's client re-reads it to
/// decide whether to send the commit again). A commit that a node stored
/// but that failed elsewhere asks for a recovery.
#[test]
fn a_commit_refused_elsewhere_is_not_stored_here() {
    use ctdb_legacy_proto::{RecBuffer, RecData};
    use ctdb_proto::{DbMsg, Msg};
    let mut t = One::new();
    let mut st = state(7);
    st.nodes.push(NodeInfo { pnn: 1, addr: None, flags: 0 });
    st.vnnmap = vec![0, 1];
    t.core.dispatch(t.now, msg(Msg::ClusterState(st)));
    let r = t.control(Opcode::DB_ATTACH_PERSISTENT, CString("p.tdb".into()).to_bytes());
    assert_eq!(r.status, 0, "{r:?}");
    let db = u32::from_bytes(&r.data).unwrap();
    let store = t.backend.stores.lock().unwrap().get("p.tdb").cloned().unwrap();
    let h = LtdbHeader { rsn: 1, dmaster: 0, reserved1: 0, flags: 0 };
    let tx = |seq: u64| {
        RecBuffer {
            db_id: db,
            records: vec![
                RecData::with_header(0, b"k".to_vec(), &h, seq.to_string().as_bytes()),
                RecData::with_header(0, b"__db_sequence_number__\0".to_vec(), &h, &seq.to_ne_bytes()),
            ],
        }
        .to_bytes()
    };
    let commit = |t: &mut One, seq: u64| -> (Vec<Packet>, Vec<Frame>) {
        t.reqid += 1;
        let c = ReqControl { opcode: Opcode::TRANS3_COMMIT, srvid: 0, client_id: 0, flags: 0, data: tx(seq) };
        let bytes = Frame::new(LPacket::ReqControl(c), pnn::CURRENT_NODE, 0, t.reqid as u32).encode(true);
        let gw = Endpoint::new(0, ServiceId::GATEWAY);
        t.core.dispatch(t.now, Packet::new(Endpoint::new(0, ServiceId::DATABASED), gw, t.reqid, Body::Legacy(bytes)));
        let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
        let replies = out
            .iter()
            .filter(|p| p.header.flags.contains(Flags::REPLY))
            .filter_map(|p| match &p.body {
                Body::Legacy(b) => Frame::decode(b).ok(),
                _ => None,
            })
            .collect();
        (out, replies)
    };
    let answer = |t: &mut One, out: &[Packet], ok: bool| -> (Vec<Frame>, bool) {
        let sent = sent_to(out, 1);
        let [Frame { header, .. }] = sent.as_slice() else { panic!("no batch to node 1: {out:?}") };
        let m = Msg::Db(DbMsg::Committed { db_id: db, commit_id: header.reqid, ok });
        let p = Packet::new(
            Endpoint::new(0, ServiceId::DATABASED),
            Endpoint::new(1, ServiceId::DATABASED),
            0,
            Body::Msg(m),
        );
        t.core.dispatch(t.now, p);
        let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
        let asks_recovery = out.iter().any(|p| matches!(p.body, Body::Msg(Msg::RecoverRequest)));
        let replies = out
            .iter()
            .filter_map(|p| match &p.body {
                Body::Legacy(b) if p.header.flags.contains(Flags::REPLY) => Frame::decode(b).ok(),
                _ => None,
            })
            .collect();
        (replies, asks_recovery)
    };
    let status = |r: &[Frame]| match r {
        [Frame { packet: LPacket::ReplyControl(c), .. }] => c.status,
        other => panic!("no single control reply: {other:?}"),
    };

    // Node 1 refuses: the client hears -1 and this copy is unchanged.
    let (out, replies) = commit(&mut t, 1);
    assert!(replies.is_empty(), "answered before node 1 did: {replies:?}");
    assert!(store.records().is_empty(), "stored before node 1 had it");
    let (replies, asks_recovery) = answer(&mut t, &out, false);
    assert_eq!(status(&replies), -1);
    assert!(store.records().is_empty(), "a commit refused by node 1 was stored here");
    assert!(!asks_recovery, "no node stored it: nothing to recover");

    // Node 1 stores it: so does this node, then the client hears 0.
    let (out, _) = commit(&mut t, 1);
    let (replies, _) = answer(&mut t, &out, true);
    assert_eq!(status(&replies), 0);
    let records = store.records();
    let (_, seq) = LtdbHeader::split(&records[b"__db_sequence_number__\0".as_slice()]).unwrap();
    assert_eq!(seq, 1u64.to_ne_bytes());

    // Stored on node 1 but this node cannot (`ctdb wipedb`-style freeze of
    // the database): -1, and a recovery to make the copies agree.
    let (out, _) = commit(&mut t, 2);
    assert_eq!(t.control(Opcode::DB_FREEZE, db.to_bytes()).status, 0);
    let (replies, asks_recovery) = answer(&mut t, &out, true);
    assert_eq!(status(&replies), -1);
    assert!(asks_recovery, "copies may differ and no recovery was asked for");
}

/// A commit batch of the generation this node is still finishing the
/// recovery to (its committer thawed first) waits for the thaw instead of
/// being refused; one of an abandoned recovery is refused.
#[test]
fn a_commit_batch_that_comes_before_the_thaw_is_stored_at_the_thaw() {
    use ctdb_legacy_proto::{RecBuffer, RecData, ReqMessage};
    use ctdb_proto::{DbMsg, Msg};
    let mut t = One::new();
    let mut st = state(7);
    st.nodes.push(NodeInfo { pnn: 1, addr: None, flags: 0 });
    st.vnnmap = vec![0, 1];
    t.core.dispatch(t.now, msg(Msg::ClusterState(st.clone())));
    let r = t.control(Opcode::DB_ATTACH_PERSISTENT, CString("p.tdb".into()).to_bytes());
    let db = u32::from_bytes(&r.data).unwrap();
    let store = t.backend.stores.lock().unwrap().get("p.tdb").cloned().unwrap();
    let h = LtdbHeader { rsn: 1, dmaster: 1, reserved1: 0, flags: 0 };
    let batch = |generation: u32, id: u32, key: &[u8]| {
        let b = RecBuffer { db_id: db, records: vec![RecData::with_header(0, key.to_vec(), &h, b"v")] };
        let m = ReqMessage { srvid: super::persistent::COMMIT_DATA, data: b.to_bytes() };
        let mut f = Frame::new(LPacket::ReqMessage(m), 0, 1, id);
        f.header.generation = generation;
        from_node(1, f)
    };
    let answers = |out: &[Packet]| -> Vec<(u32, bool)> {
        out.iter()
            .filter(|p| p.header.dst == Endpoint::new(1, ServiceId::DATABASED))
            .filter_map(|p| match &p.body {
                Body::Msg(Msg::Db(DbMsg::Committed { commit_id, ok, .. })) => Some((*commit_id, *ok)),
                _ => None,
            })
            .collect()
    };
    t.core.dispatch(t.now, msg(Msg::RecoveryEvent { event: "startrecovery".into(), generation: 9 }));
    let _ = t.drain();
    t.core.dispatch(t.now, batch(9, 41, b"early"));
    let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
    assert!(answers(&out).is_empty(), "answered while still frozen: {out:?}");
    assert!(store.records().is_empty());
    let mut thawed = st.clone();
    thawed.generation = 9;
    t.core.dispatch(t.now, msg(Msg::ClusterState(thawed)));
    let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
    assert_eq!(answers(&out), vec![(41, true)]);
    assert!(store.records().contains_key(b"early".as_slice()));

    // Early for recovery 11, but that one is given up for 12: refused.
    t.core.dispatch(t.now, msg(Msg::RecoveryEvent { event: "startrecovery".into(), generation: 11 }));
    t.core.dispatch(t.now, batch(11, 42, b"abandoned"));
    t.core.dispatch(t.now, msg(Msg::RecoveryEvent { event: "startrecovery".into(), generation: 12 }));
    let out: Vec<Packet> = std::iter::from_fn(|| t.core.poll_output()).collect();
    assert_eq!(answers(&out), vec![(42, false)]);
    assert!(!store.records().contains_key(b"abandoned".as_slice()));
}
