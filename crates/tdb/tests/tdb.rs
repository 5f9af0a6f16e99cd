//! ctdb-tdb against real files: records, flags, cross-process locking (via
//! the `tdb-hold-chainlock` helper), CLEAR_IF_FIRST and Debian's `tdbdump`.

use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use ctdb_tdb::{ecode, flags, robust_mutexes_supported, StoreMode, Tdb};

const CREATE: i32 = libc::O_RDWR | libc::O_CREAT;

fn open(path: &Path, tdb_flags: i32) -> Tdb {
    Tdb::open(path, 0, tdb_flags, CREATE, 0o600).unwrap()
}

/// The helper process holding a tdb open (and maybe a lock) until released.
struct Holder {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Holder {
    fn spawn(path: &Path, tdb_flags: i32, args: &[&str]) -> Holder {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tdb-hold-chainlock"))
            .arg(path)
            .arg(format!("{tdb_flags:#x}"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Holder { child, stdout }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "helper exited early: {:?}", self.child.try_wait());
        line.trim_end().to_owned()
    }

    fn release(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "helper failed: {status}");
    }
}

fn lock_flavours() -> Vec<(&'static str, i32)> {
    let base = flags::CLEAR_IF_FIRST | flags::INCOMPATIBLE_HASH;
    let mut v = vec![("fcntl", base)];
    if robust_mutexes_supported() {
        v.push(("mutex", base | flags::MUTEX_LOCKING));
    } else {
        eprintln!("robust mutexes unsupported here: skipping the MUTEX_LOCKING flavour");
    }
    v
}

#[test]
fn store_fetch_parse_delete_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.tdb");
    let mut db = open(&path, flags::DEFAULT);
    assert_eq!(db.path(), path);
    assert!(db.hash_size() > 0);
    assert!(!db.exists(b"key1"));
    assert_eq!(db.fetch(b"key1").unwrap(), None);
    assert_eq!(db.parse(b"key1", |v| v.to_vec()).unwrap(), None);

    db.store(b"key1", b"value1", StoreMode::Replace).unwrap();
    assert!(db.exists(b"key1"));
    assert_eq!(db.fetch(b"key1").unwrap().as_deref(), Some(&b"value1"[..]));
    assert_eq!(db.parse(b"key1", |v| v.len()).unwrap(), Some(6));

    let err = db.store(b"key1", b"other", StoreMode::Insert).unwrap_err();
    assert_eq!(err.code(), Some(ecode::EXISTS), "{err}");
    assert_eq!(db.fetch(b"key1").unwrap().as_deref(), Some(&b"value1"[..]));
    db.store(b"key1", b"value2", StoreMode::Modify).unwrap();
    assert_eq!(db.fetch(b"key1").unwrap().as_deref(), Some(&b"value2"[..]));
    db.store(b"key2", b"fresh", StoreMode::Insert).unwrap();

    let big = vec![0xa5u8; 100_000];
    db.store(b"big", &big, StoreMode::Replace).unwrap();
    assert_eq!(db.fetch(b"big").unwrap(), Some(big));

    assert!(db.delete(b"key1").unwrap());
    assert!(!db.delete(b"key1").unwrap());
    assert!(!db.exists(b"key1"));
    assert_eq!(db.fetch(b"key1").unwrap(), None);
    db.check().unwrap();
    db.repack().unwrap();
    db.freelist_size().unwrap();
    assert_eq!(db.fetch(b"key2").unwrap().as_deref(), Some(&b"fresh"[..]));

    db.wipe_all().unwrap();
    assert!(!db.exists(b"key2"));
    drop(db);

    // Reopening finds what was stored.
    let mut db = open(&path, flags::DEFAULT);
    db.store(b"persist", b"yes", StoreMode::Replace).unwrap();
    drop(db);
    let db = open(&path, flags::DEFAULT);
    assert_eq!(db.fetch(b"persist").unwrap().as_deref(), Some(&b"yes"[..]));
}

#[test]
fn store_parts_equals_concatenation() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir.path().join("parts.tdb"), flags::DEFAULT);
    let header = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let body = b"the record body";
    db.store_parts(b"k", &[&header, &[], body]).unwrap();
    let mut whole = header.to_vec();
    whole.extend_from_slice(body);
    assert_eq!(db.fetch(b"k").unwrap(), Some(whole.clone()));
    db.store(b"k2", &whole, StoreMode::Replace).unwrap();
    assert_eq!(db.fetch(b"k").unwrap(), db.fetch(b"k2").unwrap());
    // Replaces an existing record.
    db.store_parts(b"k", &[b"x"]).unwrap();
    assert_eq!(db.fetch(b"k").unwrap().as_deref(), Some(&b"x"[..]));
}

#[test]
fn flags_report_what_was_opened() {
    let dir = tempfile::tempdir().unwrap();
    let mutex = if robust_mutexes_supported() { flags::MUTEX_LOCKING } else { 0 };
    let volatile = flags::NOSYNC | flags::CLEAR_IF_FIRST | flags::INCOMPATIBLE_HASH | flags::DISALLOW_NESTING | mutex;
    let mut db = open(&dir.path().join("volatile.tdb"), volatile);
    assert_eq!(db.flags(), volatile);
    if mutex != 0 {
        assert_eq!(db.flags(), 0x1C41);
    }
    let before = db.seqnum();
    db.enable_seqnum();
    assert_eq!(db.flags(), volatile | flags::SEQNUM);
    if mutex != 0 {
        assert_eq!(db.flags(), 0x1CC1);
    }
    db.store(b"k", b"v", StoreMode::Replace).unwrap();
    assert_ne!(db.seqnum(), before);

    let mut persistent = open(&dir.path().join("persistent.tdb"), flags::DISALLOW_NESTING);
    assert_eq!(persistent.flags(), 0x400);
    persistent.add_flags(flags::NOSYNC as u32);
    assert_eq!(persistent.flags(), 0x440);
    persistent.remove_flags(flags::NOSYNC as u32);
    assert_eq!(persistent.flags(), 0x400);
}

#[test]
fn transactions_commit_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir.path().join("tx.tdb"), flags::DISALLOW_NESTING | flags::NOSYNC);
    db.transaction_start().unwrap();
    assert!(db.transaction_active());
    assert_eq!(db.transaction_start().unwrap_err().code(), Some(ecode::NESTING));
    db.store(b"a", b"1", StoreMode::Replace).unwrap();
    db.transaction_commit().unwrap();
    assert!(!db.transaction_active());
    db.transaction_start().unwrap();
    db.store(b"b", b"2", StoreMode::Replace).unwrap();
    db.transaction_cancel().unwrap();
    assert_eq!(db.fetch(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.fetch(b"b").unwrap(), None);
    db.transaction_start().unwrap();
    db.store(b"c", b"3", StoreMode::Replace).unwrap();
    db.transaction_prepare_commit().unwrap();
    db.transaction_commit().unwrap();
    assert!(db.exists(b"c"));
}

#[test]
fn traverse_visits_all_and_stops_on_break() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir.path().join("trav.tdb"), flags::DEFAULT);
    let mut expected = Vec::new();
    for i in 0..50u32 {
        let (k, v) = (format!("key{i}"), format!("value{i}"));
        db.store(k.as_bytes(), v.as_bytes(), StoreMode::Replace).unwrap();
        expected.push((k.into_bytes(), v.into_bytes()));
    }
    expected.sort();

    let mut seen = Vec::new();
    let n = db
        .traverse(|k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(n, 50);
    seen.sort();
    assert_eq!(seen, expected);

    let mut seen = Vec::new();
    let n = db
        .traverse_read(|k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(n, 50);
    seen.sort();
    assert_eq!(seen, expected);

    let mut calls = 0;
    db.traverse(|_, _| {
        calls += 1;
        if calls == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(calls, 3);

    let mut calls = 0;
    db.traverse_read(|_, _| {
        calls += 1;
        ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(calls, 1);
}

#[test]
fn chainlock_contention_across_processes() {
    for (name, tdb_flags) in lock_flavours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock.tdb");
        let db = open(&path, tdb_flags);

        let mut holder = Holder::spawn(&path, tdb_flags, &["--lock", "k"]);
        assert_eq!(holder.line(), "locked", "{name}");
        assert!(!db.chainlock_nonblock(b"k").unwrap(), "{name}: chain lock should be busy");
        assert!(!db.lockall_nonblock().unwrap(), "{name}: lockall should be busy");
        assert!(!db.chainlock_read_nonblock(b"k").unwrap(), "{name}: read lock should be busy");
        holder.release();

        assert!(db.chainlock_nonblock(b"k").unwrap(), "{name}: chain lock should be free");
        db.chainunlock(b"k").unwrap();
        assert!(db.lockall_nonblock().unwrap(), "{name}: lockall should be free");
        db.unlockall().unwrap();
        db.chainlock(b"k").unwrap();
        db.chainunlock(b"k").unwrap();
        db.chainlock_read(b"k").unwrap();
        db.chainunlock_read(b"k").unwrap();
        db.lockall().unwrap();
        db.unlockall().unwrap();

        // The other way round: we hold the lock, the helper's own nonblocking
        // attempt is not needed; holding a read lock lets another reader in.
        let mut reader = Holder::spawn(&path, tdb_flags, &["--lock-read", "k"]);
        assert_eq!(reader.line(), "locked", "{name}");
        assert!(!db.chainlock_nonblock(b"k").unwrap(), "{name}: write lock vs reader should be busy");
        reader.release();
        assert!(db.chainlock_nonblock(b"k").unwrap(), "{name}");
        db.chainunlock(b"k").unwrap();
    }
}

#[test]
fn clear_if_first_keeps_data_while_open_elsewhere() {
    for (name, tdb_flags) in lock_flavours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cif.tdb");
        let mut db = open(&path, tdb_flags);
        db.store(b"survivor", b"here", StoreMode::Replace).unwrap();

        let mut second = Holder::spawn(&path, tdb_flags, &["--fetch", "survivor"]);
        assert_eq!(second.line(), "found here", "{name}");
        assert_eq!(second.line(), "ready", "{name}");
        second.release();
        drop(db);

        // The last opener gone, the next CLEAR_IF_FIRST open wipes it.
        let mut third = Holder::spawn(&path, tdb_flags, &["--fetch", "survivor"]);
        assert_eq!(third.line(), "missing", "{name}");
        third.release();
    }
}

#[test]
fn a_second_open_in_one_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.tdb");
    let _db = open(&path, flags::DEFAULT);
    let err = Tdb::open(&path, 0, flags::DEFAULT, CREATE, 0o600).unwrap_err();
    assert!(err.code().is_none(), "{err}");
}

#[test]
fn tdbdump_reads_what_we_write() {
    let tdbdump = Path::new("/usr/bin/tdbdump");
    if !tdbdump.exists() {
        eprintln!("tdbdump not installed (Debian: tdb-tools): skipping");
        return;
    }
    for tdb_flags in [flags::DEFAULT, flags::INCOMPATIBLE_HASH] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.tdb");
        let mut db = open(&path, tdb_flags);
        db.store(b"key1", b"value1", StoreMode::Replace).unwrap();
        db.store_parts(b"parts", &[b"ab", b"cd"]).unwrap();
        drop(db);
        let out = Command::new(tdbdump).arg(&path).output().unwrap();
        assert!(out.status.success(), "tdbdump failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("key(4) = \"key1\""), "{text}");
        assert!(text.contains("data(6) = \"value1\""), "{text}");
        assert!(text.contains("key(5) = \"parts\""), "{text}");
        assert!(text.contains("data(4) = \"abcd\""), "{text}");
    }
}

/// A minimal subscriber collecting (level, message) of every event.
struct Collect(Arc<Mutex<Vec<(tracing::Level, String)>>>);

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Collect {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "tdb" {
            let mut m = Message(String::new());
            event.record(&mut m);
            self.0.lock().unwrap().push((*event.metadata().level(), m.0));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn libtdb_log_messages_reach_tracing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.tdb");
    let events = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::with_default(Collect(events.clone()), || {
        // No O_CREAT: libtdb warns that it could not open the file.
        let err = Tdb::open(&path, 0, flags::DEFAULT, libc::O_RDWR, 0o600).unwrap_err();
        assert!(err.code().is_none(), "{err}");
    });
    let events = events.lock().unwrap();
    let name = path.display().to_string();
    assert!(
        events.iter().any(|(level, msg)| *level == tracing::Level::WARN && msg.contains(&name)),
        "no libtdb warning naming {name}: {events:?}"
    );
}
