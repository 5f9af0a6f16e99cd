//! The local store of one database, as the core sees it.
//!
//! The daemon's stores are Samba TDB files (see [`crate::tdb_store`]); the
//! core only needs chain locks, whole-file locks and record access, so it
//! works against this trait and the simulation and unit tests use
//! [`MemStore`]. Values always carry the 24-byte ltdb header in front.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use thiserror::Error;

/// A store operation failed (I/O, a corrupt file, a lock error).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{op}: {msg}")]
pub struct StoreError {
    /// What was attempted.
    pub op: &'static str,
    /// Why it failed.
    pub msg: String,
}

impl StoreError {
    /// An error for `op`.
    pub fn new(op: &'static str, msg: impl Into<String>) -> StoreError {
        StoreError { op, msg: msg.into() }
    }
}

/// Kind of database: decides file flags, directory and recovery rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// Distributed by record (locking.tdb …).
    Volatile,
    /// Replicated by transactions (secrets.tdb …).
    Persistent,
    /// Every record on every node, volatile-style file.
    Replicated,
}

/// One database's local file.
pub trait Store: Send {
    /// Try to take the chain lock of `key` without waiting; `Ok(false)` when
    /// another process (smbd) holds it.
    fn try_lock(&mut self, key: &[u8]) -> Result<bool, StoreError>;
    /// Release a chain lock taken with [`Store::try_lock`].
    fn unlock(&mut self, key: &[u8]);
    /// Try to lock the whole database (freeze) without waiting.
    fn try_lock_all(&mut self) -> Result<bool, StoreError>;
    /// Release the whole-database lock.
    fn unlock_all(&mut self);
    /// The stored value (header + data) of `key`.
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Store `value` (header + data) under `key`, replacing.
    fn store(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Remove `key`; absent is fine.
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError>;
    /// Visit every record (read-only); the visitor returns false to stop.
    fn for_each(&mut self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), StoreError>;
    /// Remove every record.
    fn wipe(&mut self) -> Result<(), StoreError>;
    /// The live open flags (DB_OPEN_FLAGS).
    fn flags(&self) -> i32;
    /// Switch on the file's sequence number.
    fn enable_seqnum(&mut self);
    /// The file's sequence number.
    fn seqnum(&self) -> i32;
    /// Bump the sequence number without waiting for a lock (a remote
    /// change, UPDATE_SEQNUM).
    fn increment_seqnum(&mut self);
    /// Store every record (key, header + data) at once: all or nothing
    /// where the store can (a TDB transaction), in order otherwise.
    fn store_all(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        for (k, v) in records {
            self.store(k, v)?;
        }
        Ok(())
    }
    /// File and open flags a lock helper process needs to wait for a chain
    /// lock of this store; `None` when there is no file (memory stores).
    fn lock_source(&self) -> Option<(PathBuf, i32)> {
        None
    }
    /// Treat `key`'s chain as locked by us: a lock helper holds it.
    fn mark_locked(&mut self, _key: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
    /// Undo [`Store::mark_locked`].
    fn unmark_locked(&mut self, _key: &[u8]) {}
    /// Replace the contents while the caller holds the whole-file lock
    /// ([`Store::try_lock_all`]): wipe first if `wipe`, then store every
    /// record. All or nothing where the store can (a TDB transaction, so a
    /// crash leaves the old contents); the whole-file lock is held again
    /// afterwards.
    fn replace_all(&mut self, wipe: bool, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        if wipe {
            self.wipe()?;
        }
        self.store_all(records)
    }
}

/// A store just opened.
pub struct Opened {
    /// The store.
    pub store: Box<dyn Store>,
    /// Its file.
    pub path: PathBuf,
    /// Set when the file found there was corrupt: where it was moved, and
    /// why; the store is then a new, empty one.
    pub moved_aside: Option<(PathBuf, String)>,
}

/// Opens stores; the daemon's creates TDB files, tests keep them in memory.
pub trait Backend: Send {
    /// Open (creating) the store of database `name` for node `pnn`. A
    /// persistent file that fails its consistency check is moved aside and
    /// replaced by an empty one ([`Opened::moved_aside`]).
    fn open(&mut self, name: &str, kind: DbKind, pnn: u32) -> Result<Opened, StoreError>;
    /// Record a persistent database's health (`None`: healthy) where
    /// operators find it; the default keeps nothing.
    fn record_health(&mut self, _name: &str, _pnn: u32, _reason: Option<&str>) {}
    /// Names of the persistent databases node `pnn` has files for (the
    /// daemon attaches them at start, as ctdbd does).
    fn existing_persistent(&self, _pnn: u32) -> Vec<String> {
        Vec::new()
    }
}

/// An in-memory store with the same locking rules: a key locked by an
/// "outside process" ([`MemStore::hold`]) cannot be locked by the daemon.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    /// The records.
    pub records: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Keys held by someone else.
    pub held: BTreeSet<Vec<u8>>,
    /// Keys locked by the daemon.
    pub locked: BTreeSet<Vec<u8>>,
    /// Whole store locked by the daemon.
    pub all_locked: bool,
    /// Flags reported.
    pub flags: i32,
    /// Sequence number.
    pub seqnum: i32,
}

impl MemStore {
    /// Pretend another process holds `key`'s chain lock.
    pub fn hold(&mut self, key: &[u8]) {
        self.held.insert(key.to_vec());
    }
    /// Release [`MemStore::hold`].
    pub fn release(&mut self, key: &[u8]) {
        self.held.remove(key);
    }
}

impl Store for MemStore {
    fn try_lock(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        if self.held.contains(key) {
            return Ok(false);
        }
        self.locked.insert(key.to_vec());
        Ok(true)
    }
    fn unlock(&mut self, key: &[u8]) {
        self.locked.remove(key);
    }
    fn try_lock_all(&mut self) -> Result<bool, StoreError> {
        if !self.held.is_empty() {
            return Ok(false);
        }
        self.all_locked = true;
        Ok(true)
    }
    fn unlock_all(&mut self) {
        self.all_locked = false;
    }
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.records.get(key).cloned())
    }
    fn store(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.records.insert(key.to_vec(), value.to_vec());
        self.seqnum += 1;
        Ok(())
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.records.remove(key);
        Ok(())
    }
    fn for_each(&mut self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), StoreError> {
        for (k, v) in &self.records {
            if !f(k, v) {
                break;
            }
        }
        Ok(())
    }
    fn wipe(&mut self) -> Result<(), StoreError> {
        self.records.clear();
        Ok(())
    }
    fn flags(&self) -> i32 {
        self.flags
    }
    fn enable_seqnum(&mut self) {
        self.flags |= 0x80;
    }
    fn seqnum(&self) -> i32 {
        self.seqnum
    }
    fn increment_seqnum(&mut self) {
        self.seqnum += 1;
    }
}

/// A backend of [`MemStore`]s that keeps a handle on each, so tests can
/// look inside and play the outside process.
#[derive(Debug, Default, Clone)]
pub struct MemBackend {
    /// The stores opened, by name.
    pub stores: std::sync::Arc<std::sync::Mutex<BTreeMap<String, SharedMem>>>,
}

/// A [`MemStore`] shared between the core and a test.
#[derive(Debug, Default, Clone)]
pub struct SharedMem(pub std::sync::Arc<std::sync::Mutex<MemStore>>);

impl SharedMem {
    fn with<R>(&self, f: impl FnOnce(&mut MemStore) -> R) -> R {
        // A poisoned lock only happens after a test already panicked.
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }
    /// A copy of the records.
    pub fn records(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.with(|m| m.records.clone())
    }
    /// Hold / release a chain lock as another process.
    pub fn hold(&self, key: &[u8], on: bool) {
        self.with(|m| if on { m.hold(key) } else { m.release(key) })
    }
    /// Store a value directly (what smbd does under its chain lock).
    pub fn put(&self, key: &[u8], value: &[u8]) {
        self.with(|m| {
            m.records.insert(key.to_vec(), value.to_vec());
        })
    }
}

impl Store for SharedMem {
    fn try_lock(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        self.with(|m| m.try_lock(key))
    }
    fn unlock(&mut self, key: &[u8]) {
        self.with(|m| m.unlock(key))
    }
    fn try_lock_all(&mut self) -> Result<bool, StoreError> {
        self.with(|m| m.try_lock_all())
    }
    fn unlock_all(&mut self) {
        self.with(|m| m.unlock_all())
    }
    fn fetch(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|m| m.fetch(key))
    }
    fn store(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.with(|m| m.store(key, value))
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.with(|m| m.delete(key))
    }
    fn for_each(&mut self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), StoreError> {
        let records = self.records();
        for (k, v) in &records {
            if !f(k, v) {
                break;
            }
        }
        Ok(())
    }
    fn wipe(&mut self) -> Result<(), StoreError> {
        self.with(|m| m.wipe())
    }
    fn flags(&self) -> i32 {
        self.with(|m| m.flags())
    }
    fn enable_seqnum(&mut self) {
        self.with(|m| m.enable_seqnum())
    }
    fn seqnum(&self) -> i32 {
        self.with(|m| m.seqnum())
    }
    fn increment_seqnum(&mut self) {
        self.with(|m| m.increment_seqnum())
    }
}

impl Backend for MemBackend {
    fn open(&mut self, name: &str, kind: DbKind, pnn: u32) -> Result<Opened, StoreError> {
        let mut map = match self.stores.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let shared = map.entry(name.to_string()).or_default().clone();
        shared.with(|m| {
            m.flags = match kind {
                DbKind::Volatile => 0x1C41,
                DbKind::Replicated => 0x0C41,
                DbKind::Persistent => 0x0400,
            }
        });
        let dir = if kind == DbKind::Persistent { "persistent" } else { "volatile" };
        let path = PathBuf::from(format!("/mem/{dir}/{name}.{pnn}"));
        Ok(Opened { store: Box::new(shared), path, moved_aside: None })
    }
}
