//! Stores in Samba TDB files, opened the way Samba's smbd expects to find
//! them (legacy-protocol.md 2.3, 2.4): `<dir>/<name>.<pnn>`, volatile files
//! with NOSYNC | CLEAR_IF_FIRST | INCOMPATIBLE_HASH | DISALLOW_NESTING (and
//! MUTEX_LOCKING when `tdb mutexes` is on and robust mutexes work),
//! persistent ones with DISALLOW_NESTING only. The daemon keeps each file
//! open for as long as the database is attached, which holds the
//! CLEAR_IF_FIRST read lock, so an smbd opening it never wipes it.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ctdb_tdb::{flags, StoreMode, Tdb};
use tracing::{error, warn};

use crate::store::{Backend, DbKind, Opened, Store, StoreError};

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
    /// `[database] state database directory`: where
    /// `persistent_health.tdb.<pnn>` records unhealthy persistent
    /// databases; `None` keeps no record.
    pub state_dir: Option<PathBuf>,
}

/// Opens [`TdbStore`]s.
pub struct TdbBackend {
    cfg: TdbBackendConfig,
    health: Option<Tdb>,
}

impl std::fmt::Debug for TdbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdbBackend").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl TdbBackend {
    /// A backend creating files as `cfg` says.
    pub fn new(cfg: TdbBackendConfig) -> TdbBackend {
        TdbBackend { cfg, health: None }
    }

    fn open_tdb(&self, path: &Path, kind: DbKind) -> Result<Tdb, StoreError> {
        let tdb_flags = open_flags(kind, self.cfg.mutexes);
        Tdb::open(path, self.cfg.hash_size, tdb_flags, libc::O_CREAT | libc::O_RDWR, 0o600)
            .map_err(|e| StoreError::new("open", e.to_string()))
    }
}

/// Where a corrupt file is kept: `<file>.corrupted.<UTC YYYYmmddHHMMSS>.0Z`,
/// the name ctdbd uses, so operators' cleanup scripts find it.
fn corrupted_path(path: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    PathBuf::from(format!("{}.corrupted.{stamp}.0Z", path.display()))
}

/// Move a corrupt persistent file aside; the reason the database then
/// reports as unhealthy.
fn move_aside(path: &Path, why: &str) -> Result<(PathBuf, String), StoreError> {
    let aside = corrupted_path(path);
    std::fs::rename(path, &aside).map_err(|e| StoreError::new("move aside", format!("{}: {e}", path.display())))?;
    error!("databased: persistent database {} is corrupt ({why}); moved to {}", path.display(), aside.display());
    let reason = format!("ERROR - Backup of corrupted TDB in '{}'", aside.display());
    Ok((aside, reason))
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
    fn open(&mut self, name: &str, kind: DbKind, pnn: u32) -> Result<Opened, StoreError> {
        let dir = match kind {
            DbKind::Persistent => &self.cfg.persistent_dir,
            DbKind::Volatile | DbKind::Replicated => &self.cfg.volatile_dir,
        };
        let path = dir.join(format!("{name}.{pnn}"));
        let mut moved_aside = None;
        let tdb = match self.open_tdb(&path, kind) {
            Ok(mut tdb) if kind == DbKind::Persistent => match tdb.check() {
                Ok(()) => tdb,
                Err(e) => {
                    // Persistent data is replicated: the other nodes' copies
                    // replace this one at the next recovery.
                    drop(tdb);
                    moved_aside = Some(move_aside(&path, &format!("tdb_check: {e}"))?);
                    self.open_tdb(&path, kind)?
                }
            },
            Ok(tdb) => tdb,
            Err(e) if kind == DbKind::Persistent && path.exists() => {
                moved_aside = Some(move_aside(&path, &e.to_string())?);
                self.open_tdb(&path, kind)?
            }
            Err(e) => return Err(e),
        };
        Ok(Opened { store: Box::new(TdbStore { tdb, held_all: 0 }), path, moved_aside })
    }

    fn existing_persistent(&self, pnn: u32) -> Vec<String> {
        let suffix = format!(".{pnn}");
        let Ok(dir) = std::fs::read_dir(&self.cfg.persistent_dir) else { return Vec::new() };
        let mut names: Vec<String> = dir
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|f| f.strip_suffix(&suffix).map(str::to_string))
            // Moved-aside copies end in `.0Z`, never in `.<pnn>`; only
            // database files (`*.tdb`) are ours.
            .filter(|n| n.ends_with(".tdb"))
            .collect();
        names.sort();
        names
    }

    fn record_health(&mut self, name: &str, pnn: u32, reason: Option<&str>) {
        let Some(dir) = &self.cfg.state_dir else { return };
        if self.health.is_none() {
            // CLEAR_IF_FIRST: health describes this run of the daemon only.
            let path = dir.join(format!("persistent_health.tdb.{pnn}"));
            let f = flags::CLEAR_IF_FIRST | flags::DISALLOW_NESTING;
            match Tdb::open(&path, 0, f, libc::O_CREAT | libc::O_RDWR, 0o600) {
                Ok(t) => self.health = Some(t),
                Err(e) => {
                    warn!("databased: cannot open {}: {e}", path.display());
                    return;
                }
            }
        }
        let Some(t) = &mut self.health else { return };
        let r = match reason {
            Some(why) => t.store(name.as_bytes(), why.as_bytes(), StoreMode::Replace),
            None => t.delete(name.as_bytes()).map(|_| ()),
        };
        if let Err(e) = r {
            warn!("databased: recording the health of {name}: {e}");
        }
    }
}

/// One database file.
pub struct TdbStore {
    tdb: Tdb,
    /// Whole-file locks taken and not released (a recovery freeze and a
    /// `ctdb wipedb` freeze may overlap).
    held_all: u32,
}

impl TdbStore {
    /// The body of [`Store::replace_all`], in a transaction.
    fn replace_in_transaction(&mut self, wipe: bool, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        self.tdb.transaction_start().map_err(err("transaction_start"))?;
        let mut body = || -> Result<(), StoreError> {
            if wipe {
                self.tdb.wipe_all().map_err(err("wipe"))?;
            }
            for (k, v) in records {
                self.tdb.store(k, v, StoreMode::Replace).map_err(err("store"))?;
            }
            Ok(())
        };
        if let Err(e) = body() {
            let _ = self.tdb.transaction_cancel();
            return Err(e);
        }
        self.tdb.transaction_commit().map_err(err("transaction_commit"))
    }
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
        let got = self.tdb.lockall_nonblock().map_err(err("lockall"))?;
        if got {
            self.held_all += 1;
        }
        Ok(got)
    }
    fn unlock_all(&mut self) {
        if self.held_all == 0 {
            return;
        }
        self.held_all -= 1;
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
        self.replace_in_transaction(false, records)
    }
    fn replace_all(&mut self, wipe: bool, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        // libtdb will not start a transaction while the handle counts a
        // whole-file lock, and the transaction must not take or drop kernel
        // locks of its own: we hold the write lock on the whole file, which
        // keeps every other process out until we release it. So the count
        // is dropped (the kernel lock stays), the transaction runs with
        // NOLOCK, and the count is restored. ctdbd does the same with the
        // lock held by its helper process.
        for _ in 0..self.held_all {
            self.tdb.lockall_unmark().map_err(err("lockall_unmark"))?;
        }
        self.tdb.add_flags(flags::NOLOCK as u32);
        let r = self.replace_in_transaction(wipe, records);
        self.tdb.remove_flags(flags::NOLOCK as u32);
        for _ in 0..self.held_all {
            if let Err(e) = self.tdb.lockall_mark() {
                warn!("databased: lockall_mark of {}: {e}", self.tdb.path().display());
            }
        }
        r
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
