//! The TDB store against real libtdb files: replacing a frozen database's
//! contents in one transaction keeps the whole-file lock (no other process
//! gets a chain lock until the freeze ends), with and without mutexes, also
//! when two freezes overlap; a corrupt persistent file is moved aside.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ctdb_databased::store::{Backend, DbKind};
use ctdb_databased::{TdbBackend, TdbBackendConfig};

fn backend(dir: &Path, mutexes: bool) -> TdbBackend {
    TdbBackend::new(TdbBackendConfig {
        volatile_dir: dir.join("volatile"),
        persistent_dir: dir.join("persistent"),
        mutexes,
        hash_size: 131,
        state_dir: Some(dir.join("state")),
    })
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ctdb-tdbstore-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for sub in ["volatile", "persistent", "state"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    d
}

fn value(data: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 24];
    v[8] = 1; // dmaster 1
    v.extend_from_slice(data);
    v
}

/// Start a lock helper on `key`; the receiver gets its first output byte
/// once it holds the chain lock.
fn contender(path: &Path, flags: i32, key: &[u8]) -> (std::process::Child, mpsc::Receiver<u8>) {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctdb_lock_helper"))
        .args([path.to_str().unwrap(), &flags.to_string(), &hex])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut b = [0u8; 1];
        if out.read_exact(&mut b).is_ok() {
            let _ = tx.send(b[0]);
        }
    });
    (child, rx)
}

/// SIGTERM to `child`.
fn nix_term(child: &std::process::Child) {
    // SAFETY: kill has no memory effects; the child is ours and unreaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
}

fn replace_keeps_the_freeze(mutexes: bool, kind: DbKind) {
    let dir = tempdir(&format!("{mutexes}-{kind:?}"));
    let mut b = backend(&dir, mutexes);
    let opened = b.open("r.tdb", kind, 0).unwrap();
    let (mut store, path) = (opened.store, opened.path);
    store.store(b"old", &value(b"x")).unwrap();
    // A recovery freeze and a `ctdb wipedb` freeze at once.
    assert!(store.try_lock_all().unwrap());
    assert!(store.try_lock_all().unwrap());
    let records: Vec<(Vec<u8>, Vec<u8>)> = (0..100u32).map(|i| (i.to_be_bytes().to_vec(), value(b"new"))).collect();
    store.replace_all(true, &records).unwrap();
    assert_eq!(store.fetch(b"old").unwrap(), None);
    assert_eq!(store.fetch(&7u32.to_be_bytes()).unwrap(), Some(value(b"new")));

    let (mut child, got) = contender(&path, store.flags(), b"old");
    // Still frozen: the other process waits (a bounded look, since what is
    // checked is that nothing happens).
    assert!(got.recv_timeout(Duration::from_millis(300)).is_err(), "a chain lock was had during the freeze");
    store.unlock_all();
    assert!(got.recv_timeout(Duration::from_millis(300)).is_err(), "freed while one freeze remains");
    store.unlock_all();
    assert_eq!(got.recv_timeout(Duration::from_secs(10)).unwrap(), b'0', "the lock helper failed");
    // Its stdin is /dev/null, as under processd: no reason to let go.
    std::thread::sleep(Duration::from_millis(100));
    assert!(!store.try_lock(b"old").unwrap(), "the helper let go of the lock by itself");
    // Let it go as the daemon does: it unlocks and exits cleanly.
    nix_term(&child);
    assert!(child.wait().unwrap().success(), "the helper did not unlock cleanly");
    assert!(store.try_lock(b"old").unwrap(), "the lock is free after the release");
    store.unlock(b"old");
    // A transaction works as usual afterwards.
    store.store_all(&[(b"after".to_vec(), value(b"y"))]).unwrap();
    assert_eq!(store.fetch(b"after").unwrap(), Some(value(b"y")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replace_all_keeps_the_freeze_persistent() {
    replace_keeps_the_freeze(false, DbKind::Persistent);
}

#[test]
fn replace_all_keeps_the_freeze_volatile_fcntl() {
    replace_keeps_the_freeze(false, DbKind::Volatile);
}

#[test]
fn replace_all_keeps_the_freeze_volatile_mutexes() {
    if !ctdb_tdb::robust_mutexes_supported() {
        println!("skipping: no robust mutexes here");
        return;
    }
    replace_keeps_the_freeze(true, DbKind::Volatile);
}

#[test]
fn corrupt_persistent_file_is_moved_aside() {
    let dir = tempdir("corrupt");
    let mut b = backend(&dir, false);
    {
        let mut s = b.open("p.tdb", DbKind::Persistent, 0).unwrap().store;
        for i in 0..200u32 {
            s.store(&i.to_be_bytes(), &value(&[7u8; 100])).unwrap();
        }
    }
    let path = dir.join("persistent/p.tdb.0");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 512].fill(0xEE);
    std::fs::write(&path, &bytes).unwrap();

    let opened = b.open("p.tdb", DbKind::Persistent, 0).unwrap();
    let (aside, reason) = opened.moved_aside.expect("the corrupt file was kept in place");
    assert!(aside.to_string_lossy().contains("p.tdb.0.corrupted."), "{}", aside.display());
    assert!(aside.exists());
    assert!(reason.contains("Backup of corrupted TDB"), "{reason}");
    let mut s = opened.store;
    assert_eq!(s.fetch(&1u32.to_be_bytes()).unwrap(), None, "the new file is empty");
    assert_eq!(b.existing_persistent(0), vec!["p.tdb".to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
}
