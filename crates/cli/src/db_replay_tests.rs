//! The database commands on a scripted daemon: failure paths and record
//! access.
//!
//! The daemon is the one of `tests/expected/capture/fake_ctdbd.py` with
//! canned database replies added (two databases, 0x22 `a.tdb` and 0x11
//! persistent, every name asked answered `a.tdb`, unknown controls
//! answered -1). The expected texts and exit codes are what Debian's
//! `ctdb` 4.17 printed against that fake with the same overrides.

use std::path::Path;
use std::time::Duration;

use ctdb_config::Paths;
use ctdb_legacy_proto::{
    call, pnn, Dbid, DbidMap, KeyData, LtdbHeader, NodeAndFlags, NodeMap, Opcode, SockAddr, VnnMap, Wire,
};
use ctdb_tdb::{StoreMode, Tdb};

use crate::args::{self, Invocation};
use crate::cmd::Ctx;
use crate::render::RenderCx;
use crate::run::{format, run_on_link, Outcome};
use crate::testutil::{Recorded, Replay};
use crate::timefmt::Zone;

fn reply(opcode: Opcode, dest: u32, status: i32, data: Vec<u8>) -> Recorded {
    Recorded { control: true, opcode: opcode.0, dest, request: Vec::new(), status, data, errmsg: Vec::new(), srvid: 0 }
}

/// The fake daemon's replies (three of each), its database file at `path`.
fn fake(path: &Path) -> Vec<Recorded> {
    let map = DbidMap { dbs: vec![Dbid { db_id: 0x22, flags: 0 }, Dbid { db_id: 0x11, flags: 1 }] }.to_bytes();
    let node = NodeAndFlags { pnn: 0, flags: 0, addr: SockAddr(std::net::SocketAddr::from(([127, 0, 7, 1], 4379))) };
    let nodemap = NodeMap { nodes: vec![node] }.to_bytes();
    let mut stats = vec![0u8; 464];
    stats[216] = 10;
    let mut path_bytes = path.display().to_string().into_bytes();
    path_bytes.push(0);
    let mut one = vec![
        reply(Opcode::GET_PNN, pnn::CURRENT_NODE, 0, Vec::new()),
        reply(Opcode::REGISTER_SRVID, 0, 0, Vec::new()),
        reply(Opcode::GET_DBMAP, 0, 0, map),
        reply(Opcode::GET_DBNAME, 0, 0, b"a.tdb\0".to_vec()),
        reply(Opcode::GET_DBNAME, 0, 0, b"a.tdb\0".to_vec()),
        reply(Opcode::GETDBPATH, 0, 0, path_bytes),
        reply(Opcode::DB_GET_HEALTH, 0, 0, Vec::new()),
        reply(Opcode::GET_DB_STATISTICS, 0, 0, stats),
        reply(Opcode::GET_DB_SEQNUM, 0, 0, 5u64.to_bytes()),
        reply(Opcode::DB_ATTACH, 0, 0, 0x22u32.to_bytes()),
        reply(Opcode::DB_ATTACH_PERSISTENT, 0, 0, 0x11u32.to_bytes()),
        reply(Opcode::DB_OPEN_FLAGS, 0, 0, 0u32.to_bytes()),
        reply(Opcode::GET_NODEMAP, 0, 0, nodemap),
        reply(Opcode::SET_DB_READONLY, 0, 0, Vec::new()),
        reply(Opcode::SET_DB_STICKY, 0, 0, Vec::new()),
        reply(Opcode::GET_RECMODE, 0, 0, Vec::new()),
        reply(Opcode::GET_RECMODE, pnn::UNKNOWN, 0, Vec::new()),
        reply(Opcode::GETVNNMAP, pnn::UNKNOWN, 0, VnnMap { generation: 7, map: vec![0] }.to_bytes()),
        reply(Opcode::GET_TUNABLE, 0, 0, 0u32.to_bytes()),
        reply(Opcode::DB_DETACH, 0, 0, Vec::new()),
        reply(Opcode::SCHEDULE_FOR_DELETION, 0, 0, Vec::new()),
        reply(Opcode::TRAVERSE_START_EXT, 0, -1, Vec::new()),
        reply(Opcode::DEREGISTER_SRVID, 0, -1, Vec::new()),
        reply(Opcode::SET_RECMODE, 0, -1, Vec::new()),
    ];
    for op in [
        Opcode::DB_FREEZE,
        Opcode::DB_TRANSACTION_START,
        Opcode::WIPE_DATABASE,
        Opcode::DB_SET_HEALTHY,
        Opcode::DB_TRANSACTION_COMMIT,
        Opcode::DB_THAW,
    ] {
        one.push(reply(op, 0, 0, Vec::new()));
    }
    let mut all = one.clone();
    all.extend(one.clone());
    all.extend(one);
    all
}

/// A temporary database file with `records` (key, header, data).
fn db_file(records: &[(&[u8], LtdbHeader, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("a.tdb.0");
    let mut tdb = Tdb::open(&path, 0, 0, libc::O_RDWR | libc::O_CREAT, 0o600).unwrap_or_else(|e| panic!("{e}"));
    for (key, header, data) in records {
        tdb.store(key, &header.join(data), StoreMode::Replace).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

fn run(argv: &str, replay: &mut Replay) -> Outcome {
    let argv: Vec<String> = argv.split(' ').map(str::to_string).collect();
    let Ok(Invocation::Run { options, command: Some(command), args }) = args::parse(&argv) else {
        panic!("bad argv {argv:?}");
    };
    let cx = Ctx { format: format(&options), render: RenderCx::new(Zone::Utc).with_sep(&options.separator), options };
    let paths = Paths::from_vars(|v| (v == "CTDB_BASE").then(|| "/nonexistent-ctdb-base".to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(run_on_link(replay, &command, &cx, &args, &paths))
}

#[test]
fn failures_print_like_samba() {
    let dir = db_file(&[]);
    let path = dir.path().join("a.tdb.0");
    type Case<'a> = (&'a str, &'a [(Opcode, i32)], &'a [Opcode], &'a str, &'a str, i32);
    let cases: &[Case] = &[
        (
            "getdbmap",
            &[(Opcode::GETDBPATH, -1)],
            &[],
            "Number of databases:2\n",
            "Control GETDBPATH failed, ret=-1\n",
            1,
        ),
        (
            "-X getdbmap",
            &[(Opcode::DB_GET_HEALTH, -5)],
            &[],
            "|ID|Name|Path|Persistent|Sticky|Unhealthy|Readonly|Replicated|\n",
            "Control DB_GET_HEALTH failed, ret=-5\n",
            251,
        ),
        ("getdbmap", &[(Opcode::GET_DBMAP, 0)], &[], "", "Control GET_DBMAP failed to node 0, ret=90\n", 90),
        (
            "getdbstatus a.tdb",
            &[(Opcode::GET_DBNAME, -1)],
            &[],
            "",
            "Control GET_DBNAME failed, ret=-1\nNo database matching 'a.tdb' found\n",
            1,
        ),
        ("getdbstatus b.tdb", &[], &[], "", "No database matching 'b.tdb' found\n", 1),
        ("attach a.tdb", &[(Opcode::DB_ATTACH, -1)], &[], "", "attach: a.tdb failed to get db_id, ret=-1\n", 1),
        ("-t 1 attach a.tdb", &[], &[Opcode::DB_ATTACH], "", "attach: a.tdb DB_ATTACH failed, ret=110\n", 110),
        (
            "catdb a.tdb",
            &[(Opcode::DB_GET_HEALTH, -1)],
            &[],
            "",
            "attach: a.tdb DB_GET_HEALTH parse failed, ret=-1\nFailed to attach to DB a.tdb\n",
            1,
        ),
        (
            "attach b.tdb readonly",
            &[(Opcode::SET_DB_READONLY, -1)],
            &[],
            "",
            "set_db_flags: 0x00000022 SET_DB_READONLY failed, ret=-1\nattach: b.tdb set db flags 0x00000002 failed\n",
            1,
        ),
        ("catdb a.tdb", &[], &[], "Dumped 0 records\n", "traverse: control reply failed, ret=-1\n", 1),
        (
            "dbstatistics a.tdb",
            &[(Opcode::GET_DB_STATISTICS, -1)],
            &[],
            "",
            "Control GET_DB_STATISTICS failed, ret=-1\nFailed to get statistics for DB a.tdb\n",
            1,
        ),
        (
            "detach a.tdb",
            &[(Opcode::GET_RECMODE, 1)],
            &[],
            "",
            "Database cannot be detached when recovery is active\n",
            1,
        ),
        (
            "detach a.tdb",
            &[(Opcode::GET_TUNABLE, -1)],
            &[],
            "",
            "Control GET_TUNABLE failed, ret=-1\nUnable to get tunable AllowClientDBAttach from node 0\n",
            1,
        ),
        (
            "detach a.tdb",
            &[(Opcode::DB_DETACH, -1)],
            &[],
            "",
            "detach: a.tdb DB_DETACH failed, ret=-1\nDatabase a.tdb detach failed\n",
            1,
        ),
        ("-t 1 wipedb a.tdb", &[(Opcode::WIPE_DATABASE, -5)], &[], "", "Control SET_RECMODE failed, ret=-1\n", 251),
        ("-t 1 wipedb a.tdb", &[], &[], "Database a.tdb wiped\n", "", 0),
        ("getdbseqnum a.tdb", &[], &[], "0x5\n", "", 0),
        ("setdbsticky 0x11", &[], &[], "", "STICKY can be set only on volatile DB\n", 1),
    ];
    for (argv, fails, drops, stdout, stderr, exit) in cases {
        let mut replay = Replay::from_records(fake(&path));
        for (op, status) in *fails {
            replay = replay.fail(*op, *status);
        }
        for op in *drops {
            replay = replay.drop_replies(*op);
        }
        let out = run(argv, &mut replay);
        assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.exit), (*stdout, *stderr, *exit), "{argv}");
    }
}

#[test]
fn records_of_this_node_are_used_in_place() {
    let mine = LtdbHeader { rsn: 4, dmaster: 0, reserved1: 0, flags: 0 };
    let dir = db_file(&[(b"k1", mine, b"v1"), (b"gone", mine, b"x")]);
    let path = dir.path().join("a.tdb.0");

    let mut replay = Replay::from_records(fake(&path));
    let out = run("readkey a.tdb k1", &mut replay);
    assert_eq!((out.stdout.as_str(), out.exit), ("Data: size:2 ptr:[v1]\n", 0));
    assert!(replay.calls.is_empty(), "the dmaster's copy needs no migration");

    let mut replay = Replay::from_records(fake(&path));
    let out = run("writekey a.tdb 0x6b31 0x00ff", &mut replay);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.exit), ("", "", 0));
    let tdb = Tdb::open(&path, 0, 0, libc::O_RDWR, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tdb.fetch(b"k1").ok().flatten(), Some(mine.join(&[0, 0xff])), "header kept, value replaced");
    drop(tdb);

    let mut replay = Replay::from_records(fake(&path));
    let out = run("deletekey a.tdb gone", &mut replay);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.exit), ("", "", 0));
    let tdb = Tdb::open(&path, 0, 0, libc::O_RDWR, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tdb.fetch(b"gone").ok().flatten(), Some(mine.to_bytes()), "a header-only record remains");
    // libtdb refuses a second open of a file in the same process.
    drop(tdb);
    let scheduled: Vec<_> = replay.sent.iter().filter(|s| s.opcode == Opcode::SCHEDULE_FOR_DELETION.0).collect();
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].data, KeyData { db_id: 0x22, header: mine, key: b"gone".to_vec() }.to_bytes());

    let mut replay = Replay::from_records(fake(&path));
    let out = run("cattdb a.tdb", &mut replay);
    assert_eq!(out.exit, 0);
    assert!(out.stdout.ends_with("Dumped 2 record(s)\n"), "{}", out.stdout);
    assert!(out.stdout.contains("key(4) = \"gone\"\ndmaster: 0\nrsn: 4\nflags: 0x00000000\ndata(0) = \"\"\n"));
}

#[test]
fn records_elsewhere_are_migrated_first_and_not_forever() {
    let theirs = LtdbHeader { rsn: 9, dmaster: 1, reserved1: 0, flags: 0 };
    let dir = db_file(&[(b"k", theirs, b"v")]);
    let path = dir.path().join("a.tdb.0");
    // The replay answers every REQ_CALL but never moves the record here,
    // so the tool gives up after a bounded number of calls.
    let mut replay = Replay::from_records(fake(&path));
    let out = run("readkey a.tdb k readonly", &mut replay);
    assert_eq!(out.exit, 5);
    assert_eq!(out.stderr, "fetch_lock: a.tdb record not migrated after 1000 calls\nFailed to read record for key k\n");
    assert_eq!(replay.calls.len(), 1000);
    let c = &replay.calls[0];
    assert_eq!(
        (c.flags, c.db_id, c.callid, c.key.as_slice(), c.calldata.len()),
        (call::IMMEDIATE_MIGRATION | call::WANT_READONLY, 0x22, call::NULL_FUNC, &b"k"[..], 0)
    );
    // A missing record is asked for too (writes: no WANT_READONLY).
    let mut replay = Replay::from_records(fake(&path));
    let out = run("writekey a.tdb new v", &mut replay);
    assert_eq!(out.exit, 5);
    assert!(out.stderr.ends_with("Failed to lock record for key a.tdb\n"), "{}", out.stderr);
    assert_eq!(replay.calls[0].flags, call::IMMEDIATE_MIGRATION);
}

/// A daemon with a persistent database 0x11 `p.tdb` (file `p`) and
/// g_lock.tdb 0x22 (file `g`), each asked for once; TRANS3_COMMIT answers
/// `commits` in turn (`None`: no reply).
fn persistent_fake(p: &Path, g: &Path, commits: &[Option<i32>], process_exists: &[(u32, i32)]) -> Vec<Recorded> {
    let path = |p: &Path| {
        let mut b = p.display().to_string().into_bytes();
        b.push(0);
        b
    };
    let map = DbidMap { dbs: vec![Dbid { db_id: 0x11, flags: 1 }] }.to_bytes();
    let mut out = vec![
        reply(Opcode::GET_PNN, pnn::CURRENT_NODE, 0, Vec::new()),
        reply(Opcode::REGISTER_SRVID, 0, 0, Vec::new()),
        reply(Opcode::GET_DBMAP, 0, 0, map),
        reply(Opcode::GET_DBNAME, 0, 0, b"p.tdb\0".to_vec()),
        reply(Opcode::DB_ATTACH_PERSISTENT, 0, 0, 0x11u32.to_bytes()),
        reply(Opcode::GETDBPATH, 0, 0, path(p)),
        reply(Opcode::DB_GET_HEALTH, 0, 0, Vec::new()),
        reply(Opcode::DB_OPEN_FLAGS, 0, 0, 0u32.to_bytes()),
        reply(Opcode::DB_ATTACH, 0, 0, 0x22u32.to_bytes()),
        reply(Opcode::GETDBPATH, 0, 0, path(g)),
        reply(Opcode::DB_GET_HEALTH, 0, 0, Vec::new()),
        reply(Opcode::DB_OPEN_FLAGS, 0, 0, 0u32.to_bytes()),
        reply(Opcode::SCHEDULE_FOR_DELETION, 0, 0, Vec::new()),
    ];
    for (dest, status) in process_exists {
        out.push(reply(Opcode::PROCESS_EXISTS, *dest, *status, Vec::new()));
    }
    for c in commits.iter().flatten() {
        out.push(reply(Opcode::TRANS3_COMMIT, 0, *c, Vec::new()));
    }
    out
}

/// A persistent file `p` with `records` and a g_lock file `g` whose
/// transaction record (this node dmaster) holds `locks`.
fn persistent_files(records: &[(&[u8], LtdbHeader, &[u8])], locks: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let open = |name: &str| {
        Tdb::open(&dir.path().join(name), 0, 0, libc::O_RDWR | libc::O_CREAT, 0o600).unwrap_or_else(|e| panic!("{e}"))
    };
    let mut p = open("p");
    for (key, header, data) in records {
        p.store(key, &header.join(data), StoreMode::Replace).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut g = open("g");
    let mine = LtdbHeader { rsn: 1, dmaster: 0, reserved1: 0, flags: 0 };
    g.store(b"transaction_db_0x00000011\0", &mine.join(locks), StoreMode::Replace).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn g_lock_value(dir: &Path) -> Option<Vec<u8>> {
    let g = Tdb::open(&dir.join("g"), 0, 0, libc::O_RDWR, 0).unwrap_or_else(|e| panic!("{e}"));
    g.fetch(b"transaction_db_0x00000011\0").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_failed_commit_with_the_old_seqnum_is_sent_again() {
    use ctdb_legacy_proto::RecBuffer;
    let old = LtdbHeader { rsn: 4, dmaster: 1, reserved1: 0, flags: 0 };
    let dir = persistent_files(&[(b"k", old, b"old"), (b"__db_sequence_number__\0", old, &7u64.to_ne_bytes())], &[]);
    let (p, g) = (dir.path().join("p"), dir.path().join("g"));
    let mut replay = Replay::from_records(persistent_fake(&p, &g, &[Some(-1), Some(0)], &[]));
    let out = run("pstore 0x11 k new", &mut replay);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.exit), ("", "", 0));
    let commits: Vec<_> = replay.sent.iter().filter(|s| s.opcode == Opcode::TRANS3_COMMIT.0).collect();
    assert_eq!(commits.len(), 2, "sent again after the failure");
    assert_eq!(commits[0].data, commits[1].data);
    assert_eq!(commits[0].srvid, 0x11);
    let buf = RecBuffer::from_bytes(&commits[0].data).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(buf.db_id, 0x11);
    let recs: Vec<_> = buf
        .records
        .iter()
        .map(|r| {
            let (h, d) = r.split_header().unwrap_or_else(|e| panic!("{e}"));
            (r.reqid, r.key.clone(), h.rsn, h.dmaster, d.to_vec())
        })
        .collect();
    assert_eq!(
        recs,
        vec![
            (0, b"k".to_vec(), 5, 0, b"new".to_vec()),
            (0, b"__db_sequence_number__\0".to_vec(), 5, 0, 8u64.to_ne_bytes().to_vec()),
        ]
    );
    // The g_lock record was ours alone: deleted (header only) afterwards.
    assert_eq!(g_lock_value(dir.path()).map(|v| v.len()), Some(24));
    let deletions = replay.sent.iter().filter(|s| s.opcode == Opcode::SCHEDULE_FOR_DELETION.0).count();
    assert_eq!(deletions, 1);
}

#[test]
fn a_commit_without_reply_fails_and_unlocks() {
    let dir = persistent_files(&[], &[]);
    let (p, g) = (dir.path().join("p"), dir.path().join("g"));
    let mut replay = Replay::from_records(persistent_fake(&p, &g, &[None], &[]));
    let out = run("pdelete 0x11 k", &mut replay);
    // Deleting a missing record changes nothing: no commit at all.
    assert_eq!((out.stderr.as_str(), out.exit), ("", 0));
    assert!(!replay.sent.iter().any(|s| s.opcode == Opcode::TRANS3_COMMIT.0));

    let mut replay = Replay::from_records(persistent_fake(&p, &g, &[None], &[]));
    let out = run("pstore 0x11 k v", &mut replay);
    assert_eq!(
        (out.stderr.as_str(), out.exit),
        ("transaction_commit: p.tdb TRANS3_COMMIT failed, ret=110\nFailed to commit transaction on db p.tdb\n", 110)
    );
    assert_eq!(g_lock_value(dir.path()).map(|v| v.len()), Some(24), "unlocked by the cancel");
}

#[test]
fn live_holders_are_waited_for_and_dead_ones_removed() {
    use ctdb_client::persistent::{decode_g_locks, encode_g_locks, GLock, GLockKind};
    use ctdb_legacy_proto::ServerId;
    let other = GLock { kind: GLockKind::Write, sid: ServerId { pid: 4242, task_id: 0x11, vnn: 1, unique_id: 7 } };
    let reader = GLock { kind: GLockKind::Read, sid: ServerId { pid: 99, task_id: 0x11, vnn: 0, unique_id: 8 } };
    let dir = persistent_files(&[], &encode_g_locks(&[other, reader]));
    let (p, g) = (dir.path().join("p"), dir.path().join("g"));
    // The writer on node 1 is alive twice, then gone; the reader on node 0
    // shares with pfetch's read lock.
    let mut replay = Replay::from_records(persistent_fake(&p, &g, &[], &[(1, 0), (1, 0), (1, -1)]));
    let out = run("pfetch 0x11 k", &mut replay);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.exit), ("\n", "", 0));
    let asked: Vec<_> = replay.sent.iter().filter(|s| s.opcode == Opcode::PROCESS_EXISTS.0).collect();
    assert_eq!(asked.len(), 3);
    assert!(asked.iter().all(|s| s.dest == 1 && s.data == 4242i32.to_bytes()));
    assert!(replay.slept > Duration::ZERO, "paused while the holder lived");
    // Left: the other reader (ours was removed again, the dead writer too).
    let value = g_lock_value(dir.path()).unwrap_or_default();
    assert_eq!(decode_g_locks(&value[24..]).ok(), Some(vec![reader]));
}
