//! Stores in Samba TDB files, opened the way Samba's smbd expects to find
//! them (legacy-protocol.md 2.3, 2.4): `<dir>/<name>.<pnn>`, volatile files
//! with NOSYNC | CLEAR_IF_FIRST | INCOMPATIBLE_HASH | DISALLOW_NESTING (and
//! MUTEX_LOCKING when `tdb mutexes` is on and robust mutexes work),
//! persistent ones with DISALLOW_NESTING only. The daemon keeps each file
//! open for as long as the database is attached, which holds the
//! CLEAR_IF_FIRST read lock, so an smbd opening it never wipes it.

use std::ops::ControlFlow;
use std::path::PathBuf;

use ctdb_tdb::{flags, StoreMode, Tdb};

use crate::store::{Backend, DbKind, Store, StoreError};

/// Where and how database files are created.
#[derive(Debug, Clone)]
pub struct TdbBackendConfig {
    /// `[database] volatile database directory`.
    pub volatile_dir: PathBuf,
    /// `[database] persistent database directory`.
    pub persistent_dir: PathBuf,
    /// `[database] tdb mutexes`.
    pub mutexes: bool,
    /// Tunable DatabaseHashSize.
    pub hash_size: u32,
}

/// Opens [`TdbStore`]s.
#[derive(Debug)]
pub struct TdbBackend {
    cfg: TdbBackendConfig,
}

impl TdbBackend {
    /// A backend creating files as `cfg` says.
    pub fn new(cfg: TdbBackendConfig) -> TdbBackend {
        TdbBackend { cfg }
    }
}

/// The open flags of a kind of database.
pub fn open_flags(kind: DbKind, mutexes: bool) -> i32 {
    let volatile = flags::NOSYNC | flags::CLEAR_IF_FIRST | flags::INCOMPATIBLE_HASH | flags::DISALLOW_NESTING;
    match kind {
        DbKind::Volatile if mutexes && ctdb_tdb::robust_mutexes_supported() => volatile | flags::MUTEX_LOCKING,
        DbKind::Volatile | DbKind::Replicated => volatile,
        DbKind::Persistent => flags::DISALLOW_NESTING,
    }
}

impl Backend for TdbBackend {
    fn open(&mut self, name: &str, kind: DbKind, pnn: u32) -> Result<(Box<dyn Store>, PathBuf), StoreError> {
        let dir = match kind {
            DbKind::Persistent => &self.cfg.persistent_dir,
            DbKind::Volatile | DbKind::Replicated => &self.cfg.volatile_dir,
        };
        let path = dir.join(format!("{name}.{pnn}"));
        let tdb_flags = open_flags(kind, self.cfg.mutexes);
        let tdb = Tdb::open(&path, self.cfg.hash_size, tdb_flags, libc::O_CREAT | libc::O_RDWR, 0o600)
            .map_err(|e| StoreError::new("open", e.to_string()))?;
        Ok((Box::new(TdbStore { tdb }), path))
    }
}

/// One database file.
pub struct TdbStore {
    tdb: Tdb,
}

fn err(op: &'static str) -> impl Fn(ctdb_tdb::TdbError) -> StoreError {
    move |e| StoreError::new(op, e.to_string())
}

impl Store for TdbStore {
    fn try_lock(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        self.tdb.chainlock_nonblock(key).map_err(err("chainlock"))
    }
    fn unlock(&mut self, key: &[u8]) {
        if let Err(e) = self.tdb.chainunlock(key) {
            tracing::warn!("databased: chainunlock of {}: {e}", self.tdb.path().display());
        }
    }
    fn try_lock_all(&mut self) -> Result<bool, StoreError> {
        self.tdb.lockall_nonblock().map_err(err("lockall"))
    }
    fn unlock_all(&mut self) {
        if let Err(e) = self.tdb.unlockall() {
            tracing::warn!("databased: unlockall of {}: {e}", self.tdb.path().display());
        }
    }
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.tdb.fetch(key).map_err(err("fetch"))
    }
    fn store(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tdb.store(key, value, StoreMode::Replace).map_err(err("store"))
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.tdb.delete(key).map(|_| ()).map_err(err("delete"))
    }
    fn for_each(&mut self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), StoreError> {
        self.tdb
            .traverse_read(|k, v| if f(k, v) { ControlFlow::Continue(()) } else { ControlFlow::Break(()) })
            .map(|_| ())
            .map_err(err("traverse"))
    }
    fn wipe(&mut self) -> Result<(), StoreError> {
        self.tdb.wipe_all().map_err(err("wipe"))
    }
    fn flags(&self) -> i32 {
        self.tdb.flags()
    }
    fn enable_seqnum(&mut self) {
        self.tdb.enable_seqnum();
    }
    fn seqnum(&self) -> i32 {
        self.tdb.seqnum()
    }
    fn increment_seqnum(&mut self) {
        self.tdb.increment_seqnum_nonblock();
    }
    fn store_all(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        self.tdb.transaction_start().map_err(err("transaction_start"))?;
        for (k, v) in records {
            if let Err(e) = self.tdb.store(k, v, StoreMode::Replace) {
                let _ = self.tdb.transaction_cancel();
                return Err(StoreError::new("store", e.to_string()));
            }
        }
        self.tdb.transaction_commit().map_err(err("transaction_commit"))
    }
    fn lock_source(&self) -> Option<(PathBuf, i32)> {
        Some((self.tdb.path().to_path_buf(), self.tdb.flags()))
    }
    fn mark_locked(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.tdb.chainlock_mark(key).map_err(err("chainlock_mark"))
    }
    fn unmark_locked(&mut self, key: &[u8]) {
        if let Err(e) = self.tdb.chainlock_unmark(key) {
            tracing::warn!("databased: chainlock_unmark of {}: {e}", self.tdb.path().display());
        }
    }
}
