//! A safe wrapper over Samba's libtdb, the "trivial database" that holds
//! CTDB's volatile and persistent databases on disk.
//!
//! [`Tdb`] owns one open database (`tdb_open_ex` … `tdb_close`); records are
//! byte strings. libtdb's log messages go to `tracing` under the target
//! `tdb`. Errors carry libtdb's error code and text ([`TdbError::Tdb`]).
//!
//! ```no_run
//! use ctdb_tdb::{flags, StoreMode, Tdb};
//! let mut db = Tdb::open("/tmp/x.tdb".as_ref(), 0, flags::DEFAULT, libc::O_RDWR | libc::O_CREAT, 0o600)?;
//! db.store(b"key", b"value", StoreMode::Replace)?;
//! assert_eq!(db.fetch(b"key")?.as_deref(), Some(&b"value"[..]));
//! # Ok::<(), ctdb_tdb::TdbError>(())
//! ```
//!
//! # Threads
//!
//! libtdb is not thread-safe. A [`Tdb`] is `Send` but not `Sync`; opening,
//! closing and the robust-mutex probe, which touch libtdb's process-wide
//! state, are serialised by this crate. Record locks are held by the process
//! (fcntl) — or, with [`flags::MUTEX_LOCKING`], by the thread that took them:
//! release a chain or all-record lock on the thread that took it.

#![warn(missing_docs)]

mod ffi;

use std::any::Any;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};

use ffi::{tdb_context, TDB_DATA};

/// The `tdb_flags` of [`Tdb::open`] (`TDB_*` in `tdb.h`), to be or-ed together.
pub mod flags {
    /// No flags.
    pub const DEFAULT: i32 = 0;
    /// Wipe the database if this is the first open (no other opener holds it).
    pub const CLEAR_IF_FIRST: i32 = 1;
    /// In memory only, nothing on disk.
    pub const INTERNAL: i32 = 2;
    /// No locking at all.
    pub const NOLOCK: i32 = 4;
    /// Do not mmap the file.
    pub const NOMMAP: i32 = 8;
    /// Convert endianness (libtdb internal).
    pub const CONVERT: i32 = 16;
    /// The header is big-endian (libtdb internal).
    pub const BIGENDIAN: i32 = 32;
    /// Transactions do not fsync.
    pub const NOSYNC: i32 = 64;
    /// Maintain a sequence number ([`Tdb::seqnum`](crate::Tdb::seqnum)).
    pub const SEQNUM: i32 = 128;
    /// Per-hash-chain freelists, for databases with a high churn.
    pub const VOLATILE: i32 = 256;
    /// Allow nested transactions.
    pub const ALLOW_NESTING: i32 = 512;
    /// Refuse nested transactions.
    pub const DISALLOW_NESTING: i32 = 1024;
    /// The Jenkins hash (files cannot be opened by libtdb < 1.2.6).
    pub const INCOMPATIBLE_HASH: i32 = 2048;
    /// Robust process-shared mutexes for chain locks; needs [`CLEAR_IF_FIRST`]
    /// and [`robust_mutexes_supported`](crate::robust_mutexes_supported).
    pub const MUTEX_LOCKING: i32 = 4096;
}

/// libtdb's error codes (`enum TDB_ERROR`), as found in [`TdbError::Tdb`]'s `code`.
pub mod ecode {
    /// No error.
    pub const SUCCESS: i32 = 0;
    /// The file is corrupt.
    pub const CORRUPT: i32 = 1;
    /// An I/O error.
    pub const IO: i32 = 2;
    /// A lock could not be taken (also: busy, for non-blocking locks).
    pub const LOCK: i32 = 3;
    /// Out of memory.
    pub const OOM: i32 = 4;
    /// The record exists (insert).
    pub const EXISTS: i32 = 5;
    /// Not locked, or locking unavailable.
    pub const NOLOCK: i32 = 6;
    /// A lock timed out.
    pub const LOCK_TIMEOUT: i32 = 7;
    /// The record does not exist.
    pub const NOEXIST: i32 = 8;
    /// An invalid argument.
    pub const EINVAL: i32 = 9;
    /// The database is read-only.
    pub const RDONLY: i32 = 10;
    /// A nested transaction where nesting is disallowed.
    pub const NESTING: i32 = 11;
}

/// How [`Tdb::store`] treats an existing or missing record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// Create or overwrite (`TDB_REPLACE`).
    Replace,
    /// Create only; an existing record is an [`ecode::EXISTS`] error (`TDB_INSERT`).
    Insert,
    /// Overwrite only; a missing record is an [`ecode::NOEXIST`] error (`TDB_MODIFY`).
    Modify,
}

impl StoreMode {
    fn raw(self) -> c_int {
        match self {
            StoreMode::Replace => 1,
            StoreMode::Insert => 2,
            StoreMode::Modify => 3,
        }
    }
}

/// A failed libtdb operation.
#[derive(Debug, thiserror::Error)]
pub enum TdbError {
    /// libtdb reported an error on an open database.
    #[error("tdb {op}: {msg} (tdb error {code})")]
    Tdb {
        /// The operation, e.g. `"store"`.
        op: &'static str,
        /// libtdb's error code ([`ecode`]).
        code: i32,
        /// libtdb's text for it (`tdb_errorstr`).
        msg: String,
    },
    /// Opening the file failed, or its path is unusable.
    #[error("tdb {op} {}: {source}", path.display())]
    Io {
        /// The operation, e.g. `"open"`.
        op: &'static str,
        /// The database's path.
        path: PathBuf,
        /// The underlying error (errno from `tdb_open_ex`).
        #[source]
        source: io::Error,
    },
}

impl TdbError {
    /// libtdb's error code for a [`TdbError::Tdb`], `None` for [`TdbError::Io`].
    pub fn code(&self) -> Option<i32> {
        match self {
            TdbError::Tdb { code, .. } => Some(*code),
            TdbError::Io { .. } => None,
        }
    }

    fn invalid(op: &'static str, msg: &str) -> TdbError {
        TdbError::Tdb { op, code: ecode::EINVAL, msg: msg.to_owned() }
    }
}

/// Serialises libtdb calls that touch its process-wide state (the list of
/// open databases, the robust-mutex probe).
static GLOBAL: Mutex<()> = Mutex::new(());

fn global_lock() -> std::sync::MutexGuard<'static, ()> {
    GLOBAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An open tdb database; closed (`tdb_close`) on drop.
pub struct Tdb {
    ptr: NonNull<tdb_context>,
    path: PathBuf,
}

// SAFETY: a tdb_context may be used from any one thread at a time; it is not
// `Sync`, and the calls touching libtdb's global state are serialised.
unsafe impl Send for Tdb {}

impl std::fmt::Debug for Tdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tdb").field("path", &self.path).finish_non_exhaustive()
    }
}

fn data(bytes: &[u8]) -> TDB_DATA {
    TDB_DATA { dptr: bytes.as_ptr().cast_mut(), dsize: bytes.len() }
}

/// # Safety
/// `d` must point at `d.dsize` readable bytes (or be null), valid for `'a`.
unsafe fn slice<'a>(d: &TDB_DATA) -> &'a [u8] {
    if d.dptr.is_null() || d.dsize == 0 {
        &[]
    } else {
        // SAFETY: per the caller's contract.
        unsafe { std::slice::from_raw_parts(d.dptr, d.dsize) }
    }
}

/// Receives libtdb's formatted log messages from the C shim.
extern "C" fn log_sink(level: c_int, msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the shim passes a NUL-terminated string valid for this call.
    let text = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
    let text = text.trim_end();
    let _ = catch_unwind(|| match level {
        0 | 1 => tracing::error!(target: "tdb", "{text}"),
        2 => tracing::warn!(target: "tdb", "{text}"),
        3 => tracing::trace!(target: "tdb", "{text}"),
        _ => tracing::debug!(target: "tdb", "{text}"),
    });
}

struct LogContext(ffi::tdb_logging_context);
// SAFETY: immutable after creation; holds only function pointers.
unsafe impl Sync for LogContext {}
unsafe impl Send for LogContext {}

fn log_context() -> &'static ffi::tdb_logging_context {
    static CTX: OnceLock<LogContext> = OnceLock::new();
    let sink: extern "C" fn(c_int, *const c_char) = log_sink;
    &CTX.get_or_init(|| {
        LogContext(ffi::tdb_logging_context { log_fn: Some(ffi::ctdb_tdb_log_shim), log_private: sink as *mut c_void })
    })
    .0
}

/// A traverse callback: `(key, value)`, `Break` to stop.
type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'a;

/// State shared with [`traverse_trampoline`].
struct Traverse<'a> {
    f: &'a mut Visitor<'a>,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn traverse_trampoline(
    _tdb: *mut tdb_context,
    key: TDB_DATA,
    value: TDB_DATA,
    private: *mut c_void,
) -> c_int {
    // SAFETY: `private` is the `Traverse` passed by `Tdb::traverse_with`,
    // alive and otherwise untouched during the traverse.
    let state = unsafe { &mut *private.cast::<Traverse<'_>>() };
    if state.panic.is_some() {
        return 1;
    }
    // SAFETY: libtdb passes buffers valid for the duration of the callback.
    let (key, value) = unsafe { (slice(&key), slice(&value)) };
    match catch_unwind(AssertUnwindSafe(|| (state.f)(key, value))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => 1,
        Err(payload) => {
            state.panic = Some(payload);
            1
        }
    }
}

/// State shared with [`parse_trampoline`].
struct Parse<F, R> {
    f: Option<F>,
    out: Option<R>,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn parse_trampoline<F: FnOnce(&[u8]) -> R, R>(
    _key: TDB_DATA,
    value: TDB_DATA,
    private: *mut c_void,
) -> c_int {
    // SAFETY: `private` is the `Parse<F, R>` passed by `Tdb::parse`.
    let state = unsafe { &mut *private.cast::<Parse<F, R>>() };
    if let Some(f) = state.f.take() {
        // SAFETY: libtdb passes a buffer valid for the duration of the callback.
        let value = unsafe { slice(&value) };
        match catch_unwind(AssertUnwindSafe(|| f(value))) {
            Ok(r) => state.out = Some(r),
            Err(payload) => state.panic = Some(payload),
        }
    }
    0
}

impl Tdb {
    /// Opens (or with `libc::O_CREAT` creates) the database at `path`
    /// (`tdb_open_ex`). `hash_size` 0 means libtdb's default; an existing
    /// file keeps its own. `tdb_flags` are [`flags`]; `open_flags` are
    /// `libc::O_*`; `mode` is the file mode for creation.
    pub fn open(path: &Path, hash_size: u32, tdb_flags: i32, open_flags: i32, mode: u32) -> Result<Tdb, TdbError> {
        let io_err = |source| TdbError::Io { op: "open", path: path.to_owned(), source };
        let cpath = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io_err(io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte")))?;
        let hash_size = c_int::try_from(hash_size).map_err(|_| TdbError::invalid("open", "hash size too large"))?;
        let ptr = {
            let _global = global_lock();
            // SAFETY: valid C string; the logging context is 'static; a null
            // hash function lets libtdb choose from the flags and header.
            unsafe {
                ffi::tdb_open_ex(
                    cpath.as_ptr(),
                    hash_size,
                    tdb_flags,
                    open_flags,
                    mode as libc::mode_t,
                    log_context(),
                    None,
                )
            }
        };
        match NonNull::new(ptr) {
            Some(ptr) => Ok(Tdb { ptr, path: path.to_owned() }),
            None => {
                let err = io::Error::last_os_error();
                let err = if err.raw_os_error() == Some(0) { io::Error::other("tdb_open_ex failed") } else { err };
                Err(io_err(err))
            }
        }
    }

    fn raw(&self) -> *mut tdb_context {
        self.ptr.as_ptr()
    }

    fn error(&self, op: &'static str) -> TdbError {
        // SAFETY: open context; tdb_errorstr returns a static string.
        let (code, msg) = unsafe {
            let code = ffi::tdb_error(self.raw());
            let msg = ffi::tdb_errorstr(self.raw());
            let msg = if msg.is_null() { String::new() } else { CStr::from_ptr(msg).to_string_lossy().into_owned() };
            (code, msg)
        };
        TdbError::Tdb { op, code, msg }
    }

    fn check_rc(&self, op: &'static str, rc: c_int) -> Result<(), TdbError> {
        if rc < 0 {
            Err(self.error(op))
        } else {
            Ok(())
        }
    }

    /// For a non-blocking lock: `Ok(true)` when taken, `Ok(false)` when busy.
    fn check_nonblock(&self, op: &'static str, rc: c_int) -> Result<bool, TdbError> {
        if rc >= 0 {
            return Ok(true);
        }
        // libtdb reports a busy lock as TDB_ERR_LOCK, with fcntl and mutex locking alike.
        match self.error(op) {
            TdbError::Tdb { code: ecode::LOCK | ecode::NOLOCK, .. } => Ok(false),
            err => Err(err),
        }
    }

    /// The path the database was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database's current `tdb_flags` (`tdb_get_flags`).
    pub fn flags(&self) -> i32 {
        // SAFETY: open context.
        unsafe { ffi::tdb_get_flags(self.raw()) }
    }

    /// Sets more [`flags`] on the open database (`tdb_add_flags`).
    pub fn add_flags(&mut self, f: u32) {
        // SAFETY: open context.
        unsafe { ffi::tdb_add_flags(self.raw(), f) }
    }

    /// Clears [`flags`] on the open database (`tdb_remove_flags`).
    pub fn remove_flags(&mut self, f: u32) {
        // SAFETY: open context.
        unsafe { ffi::tdb_remove_flags(self.raw(), f) }
    }

    /// The number of hash chains.
    pub fn hash_size(&self) -> u32 {
        // SAFETY: open context.
        let n = unsafe { ffi::tdb_hash_size(self.raw()) };
        u32::try_from(n).unwrap_or(0)
    }

    /// The size of the file as libtdb maps it (`tdb_map_size`).
    pub fn map_size(&self) -> usize {
        // SAFETY: open context.
        unsafe { ffi::tdb_map_size(self.raw()) }
    }

    /// The record stored under `key`, copied out (`tdb_fetch`); `None` if
    /// there is none.
    pub fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TdbError> {
        // SAFETY: open context; the key is only read during the call.
        let d = unsafe { ffi::tdb_fetch(self.raw(), data(key)) };
        if d.dptr.is_null() {
            let err = self.error("fetch");
            return match err.code() {
                Some(ecode::NOEXIST) => Ok(None),
                _ => Err(err),
            };
        }
        // SAFETY: libtdb returned a malloc'ed buffer of `dsize` bytes that we own.
        let value = unsafe { slice(&d) }.to_vec();
        // SAFETY: as above; freed exactly once.
        unsafe { libc::free(d.dptr.cast()) };
        Ok(Some(value))
    }

    /// Calls `f` on the record stored under `key` in place, without copying
    /// it (`tdb_parse_record`); `None` if there is none. The chain is
    /// read-locked while `f` runs. A panic in `f` propagates after libtdb returns.
    pub fn parse<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, TdbError> {
        self.parse_impl(key, f)
    }

    fn parse_impl<F: FnOnce(&[u8]) -> R, R>(&self, key: &[u8], f: F) -> Result<Option<R>, TdbError> {
        let mut state = Parse::<F, R> { f: Some(f), out: None, panic: None };
        // SAFETY: open context; `state` outlives the call and matches the
        // trampoline's type parameters.
        let rc = unsafe {
            ffi::tdb_parse_record(
                self.raw(),
                data(key),
                Some(parse_trampoline::<F, R>),
                (&mut state as *mut Parse<F, R>).cast(),
            )
        };
        if let Some(payload) = state.panic {
            resume_unwind(payload);
        }
        if let Some(out) = state.out {
            return Ok(Some(out));
        }
        let err = self.error("parse_record");
        match err.code() {
            Some(ecode::NOEXIST) if rc < 0 => Ok(None),
            _ => Err(err),
        }
    }

    /// Whether a record is stored under `key` (`tdb_exists`).
    pub fn exists(&self, key: &[u8]) -> bool {
        // SAFETY: open context.
        unsafe { ffi::tdb_exists(self.raw(), data(key)) == 1 }
    }

    /// Stores `value` under `key` (`tdb_store`).
    pub fn store(&mut self, key: &[u8], value: &[u8], mode: StoreMode) -> Result<(), TdbError> {
        // SAFETY: open context; buffers are only read during the call.
        let rc = unsafe { ffi::tdb_store(self.raw(), data(key), data(value), mode.raw()) };
        self.check_rc("store", rc)
    }

    /// Stores the concatenation of `parts` under `key`, replacing any record,
    /// without building it in memory first (`tdb_storev`, `TDB_REPLACE`).
    pub fn store_parts(&mut self, key: &[u8], parts: &[&[u8]]) -> Result<(), TdbError> {
        let n = c_int::try_from(parts.len()).map_err(|_| TdbError::invalid("storev", "too many parts"))?;
        let bufs: Vec<TDB_DATA> = parts.iter().map(|p| data(p)).collect();
        // SAFETY: open context; `bufs` and the slices it points at outlive the call.
        let rc = unsafe { ffi::tdb_storev(self.raw(), data(key), bufs.as_ptr(), n, StoreMode::Replace.raw()) };
        self.check_rc("storev", rc)
    }

    /// Deletes the record under `key` (`tdb_delete`); `Ok(false)` if there was none.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool, TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_delete(self.raw(), data(key)) };
        if rc >= 0 {
            return Ok(true);
        }
        let err = self.error("delete");
        match err.code() {
            Some(ecode::NOEXIST) => Ok(false),
            _ => Err(err),
        }
    }

    /// Write-locks the hash chain of `key`, waiting for it (`tdb_chainlock`).
    pub fn chainlock(&self, key: &[u8]) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_chainlock(self.raw(), data(key)) };
        self.check_rc("chainlock", rc)
    }

    /// Write-locks the hash chain of `key` if free (`tdb_chainlock_nonblock`):
    /// `Ok(false)` when another holder has it.
    pub fn chainlock_nonblock(&self, key: &[u8]) -> Result<bool, TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_chainlock_nonblock(self.raw(), data(key)) };
        self.check_nonblock("chainlock_nonblock", rc)
    }

    /// Releases a write lock from [`chainlock`](Self::chainlock) (`tdb_chainunlock`).
    pub fn chainunlock(&self, key: &[u8]) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_chainunlock(self.raw(), data(key)) };
        self.check_rc("chainunlock", rc)
    }

    /// Marks the hash chain of `key` as write-locked by this handle without
    /// taking the lock (`tdb_chainlock_mark`): for when another process
    /// (a lock helper) holds the lock on this process's behalf.
    pub fn chainlock_mark(&self, key: &[u8]) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_chainlock_mark(self.raw(), data(key)) };
        self.check_rc("chainlock_mark", rc)
    }

    /// Undoes [`chainlock_mark`](Self::chainlock_mark) (`tdb_chainlock_unmark`).
    pub fn chainlock_unmark(&self, key: &[u8]) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_chainlock_unmark(self.raw(), data(key)) };
        self.check_rc("chainlock_unmark", rc)
    }

    /// Read-locks the hash chain of `key`, waiting for it (`tdb_chainlock_read`).
    pub fn chainlock_read(&self, key: &[u8]) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_chainlock_read(self.raw(), data(key)) };
        self.check_rc("chainlock_read", rc)
    }

    /// Read-locks the hash chain of `key` if possible without waiting
    /// (`tdb_chainlock_read_nonblock`): `Ok(false)` when write-locked elsewhere.
    pub fn chainlock_read_nonblock(&self, key: &[u8]) -> Result<bool, TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_chainlock_read_nonblock(self.raw(), data(key)) };
        self.check_nonblock("chainlock_read_nonblock", rc)
    }

    /// Releases a read lock from [`chainlock_read`](Self::chainlock_read) (`tdb_chainunlock_read`).
    pub fn chainunlock_read(&self, key: &[u8]) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_chainunlock_read(self.raw(), data(key)) };
        self.check_rc("chainunlock_read", rc)
    }

    /// Write-locks the whole database, waiting for it (`tdb_lockall`).
    pub fn lockall(&self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_lockall(self.raw()) };
        self.check_rc("lockall", rc)
    }

    /// Write-locks the whole database if free (`tdb_lockall_nonblock`):
    /// `Ok(false)` when any chain is locked elsewhere.
    pub fn lockall_nonblock(&self) -> Result<bool, TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_lockall_nonblock(self.raw()) };
        self.check_nonblock("lockall_nonblock", rc)
    }

    /// Releases the lock from [`lockall`](Self::lockall) (`tdb_unlockall`).
    pub fn unlockall(&self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_unlockall(self.raw()) };
        self.check_rc("unlockall", rc)
    }

    /// Counts the whole database as locked by this handle without taking
    /// any lock (`tdb_lockall_mark`): the lock is held by other means.
    pub fn lockall_mark(&self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_lockall_mark(self.raw()) };
        self.check_rc("lockall_mark", rc)
    }

    /// Stops counting the whole database as locked without releasing any
    /// lock (`tdb_lockall_unmark`); the kernel lock stays with the process.
    pub fn lockall_unmark(&self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_lockall_unmark(self.raw()) };
        self.check_rc("lockall_unmark", rc)
    }

    fn traverse_with(&self, op: &'static str, read: bool, f: &mut Visitor<'_>) -> Result<usize, TdbError> {
        let mut state = Traverse { f, panic: None };
        let private: *mut c_void = (&mut state as *mut Traverse<'_>).cast();
        // SAFETY: open context; `state` outlives the call.
        let rc = unsafe {
            if read {
                ffi::tdb_traverse_read(self.raw(), Some(traverse_trampoline), private)
            } else {
                ffi::tdb_traverse(self.raw(), Some(traverse_trampoline), private)
            }
        };
        if let Some(payload) = state.panic {
            resume_unwind(payload);
        }
        if rc < 0 {
            return Err(self.error(op));
        }
        Ok(usize::try_from(rc).unwrap_or(0))
    }

    /// Calls `f(key, value)` on every record under a write traverse
    /// (`tdb_traverse`) until it returns `Break`; returns the number of
    /// records visited. A panic in `f` stops the traverse and propagates.
    pub fn traverse(&mut self, mut f: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>) -> Result<usize, TdbError> {
        self.traverse_with("traverse", false, &mut f)
    }

    /// Like [`traverse`](Self::traverse) under read locks only (`tdb_traverse_read`).
    pub fn traverse_read(&self, mut f: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>) -> Result<usize, TdbError> {
        self.traverse_with("traverse_read", true, &mut f)
    }

    /// Deletes every record (`tdb_wipe_all`).
    pub fn wipe_all(&mut self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_wipe_all(self.raw()) };
        self.check_rc("wipe_all", rc)
    }

    /// Starts a transaction (`tdb_transaction_start`).
    pub fn transaction_start(&mut self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_transaction_start(self.raw()) };
        self.check_rc("transaction_start", rc)
    }

    /// Runs the first phase of a commit (`tdb_transaction_prepare_commit`).
    pub fn transaction_prepare_commit(&mut self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_transaction_prepare_commit(self.raw()) };
        self.check_rc("transaction_prepare_commit", rc)
    }

    /// Commits the transaction (`tdb_transaction_commit`).
    pub fn transaction_commit(&mut self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_transaction_commit(self.raw()) };
        self.check_rc("transaction_commit", rc)
    }

    /// Abandons the transaction (`tdb_transaction_cancel`).
    pub fn transaction_cancel(&mut self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_transaction_cancel(self.raw()) };
        self.check_rc("transaction_cancel", rc)
    }

    /// Whether a transaction is in progress (`tdb_transaction_active`).
    pub fn transaction_active(&self) -> bool {
        // SAFETY: open context.
        unsafe { ffi::tdb_transaction_active(self.raw()) }
    }

    /// The sequence number, bumped by every change once enabled (`tdb_get_seqnum`).
    pub fn seqnum(&self) -> i32 {
        // SAFETY: open context.
        unsafe { ffi::tdb_get_seqnum(self.raw()) }
    }

    /// Turns on sequence numbers ([`flags::SEQNUM`], `tdb_enable_seqnum`).
    pub fn enable_seqnum(&mut self) {
        // SAFETY: open context.
        unsafe { ffi::tdb_enable_seqnum(self.raw()) }
    }

    /// Bumps the sequence number without waiting for a lock; a no-op when
    /// the lock is busy (`tdb_increment_seqnum_nonblock`).
    pub fn increment_seqnum_nonblock(&mut self) {
        // SAFETY: open context.
        unsafe { ffi::tdb_increment_seqnum_nonblock(self.raw()) }
    }

    /// Checks the file's consistency (`tdb_check`).
    pub fn check(&mut self) -> Result<(), TdbError> {
        // SAFETY: open context; no per-record callback.
        let rc = unsafe { ffi::tdb_check(self.raw(), None, std::ptr::null_mut()) };
        self.check_rc("check", rc)
    }

    /// Rewrites the file compactly (`tdb_repack`).
    pub fn repack(&mut self) -> Result<(), TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_repack(self.raw()) };
        self.check_rc("repack", rc)
    }

    /// The number of entries on the freelist (`tdb_freelist_size`).
    pub fn freelist_size(&self) -> Result<usize, TdbError> {
        // SAFETY: open context.
        let rc = unsafe { ffi::tdb_freelist_size(self.raw()) };
        self.check_rc("freelist_size", rc)?;
        Ok(usize::try_from(rc).unwrap_or(0))
    }
}

impl Drop for Tdb {
    fn drop(&mut self) {
        let _global = global_lock();
        // SAFETY: the context is open and not used after this.
        let rc = unsafe { ffi::tdb_close(self.raw()) };
        if rc != 0 {
            tracing::warn!(target: "tdb", path = %self.path.display(), "tdb_close failed");
        }
    }
}

/// Whether this system's robust process-shared mutexes work, so that
/// [`flags::MUTEX_LOCKING`] can be used (`tdb_runtime_check_for_robust_mutexes`).
/// The answer is computed once.
pub fn robust_mutexes_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let _global = global_lock();
        // SAFETY: no arguments; serialised with other global libtdb calls.
        unsafe { ffi::tdb_runtime_check_for_robust_mutexes() }
    })
}

/// libtdb's Jenkins hash of `data` (`tdb_jenkins_hash`), the hash of
/// [`flags::INCOMPATIBLE_HASH`] databases.
pub fn jenkins_hash(data: &[u8]) -> u32 {
    let mut d = self::data(data);
    // SAFETY: the buffer is only read during the call.
    unsafe { ffi::tdb_jenkins_hash(&mut d) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal() -> Tdb {
        Tdb::open(Path::new("internal"), 0, flags::INTERNAL, libc::O_RDWR | libc::O_CREAT, 0o600).unwrap()
    }

    #[test]
    fn jenkins_vectors() {
        assert_eq!(jenkins_hash(b""), 0xdeadbeef);
        assert_eq!(jenkins_hash(b"a"), 0x58d68708);
        assert_eq!(jenkins_hash(b"key1"), 0x1de0df49);
        assert_eq!(jenkins_hash(b"locking.tdb\0"), 0x7a19d84d);
        assert_eq!(jenkins_hash(b"g_lock.tdb\0"), 0x4d2a432b);
        assert_eq!(jenkins_hash(b"brlock.tdb\0"), 0x4e66c2b2);
    }

    #[test]
    fn internal_roundtrip_and_empty_values() {
        let mut db = internal();
        assert_eq!(db.fetch(b"k").unwrap(), None);
        db.store(b"k", b"", StoreMode::Replace).unwrap();
        assert!(db.exists(b"k"));
        assert_eq!(db.fetch(b"k").unwrap(), Some(Vec::new()));
        assert_eq!(db.parse(b"k", |v| v.len()).unwrap(), Some(0));
        db.store(b"", b"empty key", StoreMode::Replace).unwrap();
        assert_eq!(db.fetch(b"").unwrap().as_deref(), Some(&b"empty key"[..]));
        assert!(db.delete(b"").unwrap());
        assert!(!db.delete(b"").unwrap());
    }

    #[test]
    fn errors_carry_code_and_text() {
        let mut db = internal();
        let err = db.store(b"missing", b"v", StoreMode::Modify).unwrap_err();
        assert_eq!(err.code(), Some(ecode::NOEXIST));
        assert!(err.to_string().starts_with("tdb store: "), "{err}");
        let err = Tdb::open(Path::new("/nonexistent-dir/x.tdb"), 0, flags::DEFAULT, libc::O_RDWR, 0).unwrap_err();
        assert!(matches!(&err, TdbError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound), "{err}");
        let err = Tdb::open(Path::new("a\0b"), 0, flags::DEFAULT, libc::O_RDWR, 0).unwrap_err();
        assert!(matches!(err, TdbError::Io { .. }));
    }

    #[test]
    fn panics_in_callbacks_propagate() {
        let mut db = internal();
        db.store(b"a", b"1", StoreMode::Replace).unwrap();
        db.store(b"b", b"2", StoreMode::Replace).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| db.parse(b"a", |_| panic!("parse boom"))));
        assert!(r.is_err());
        let mut calls = 0;
        let r = catch_unwind(AssertUnwindSafe(|| {
            db.traverse(|_, _| {
                calls += 1;
                panic!("traverse boom")
            })
        }));
        assert!(r.is_err());
        assert_eq!(calls, 1);
        // The database is still usable, and its locks were released.
        assert!(db.lockall_nonblock().unwrap());
        db.unlockall().unwrap();
        assert_eq!(db.traverse_read(|_, _| ControlFlow::Continue(())).unwrap(), 2);
    }
}
