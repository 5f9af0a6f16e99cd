//! Raw declarations of the libtdb C API (`tdb.h`, libtdb 1.4), written by hand
//! from the header, plus the C log shim compiled by `build.rs`.

#![allow(non_camel_case_types)]

use std::marker::{PhantomData, PhantomPinned};

use libc::{c_char, c_int, c_uint, c_void, mode_t, size_t};

/// The opaque `struct tdb_context`.
#[repr(C)]
pub struct tdb_context {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `TDB_DATA`: a pointer and a length.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TDB_DATA {
    pub dptr: *mut u8,
    pub dsize: size_t,
}

/// `tdb_log_func`: printf-style, so only the C shim implements it.
pub type tdb_log_func = unsafe extern "C" fn(*mut tdb_context, c_int, *const c_char, ...);
/// `tdb_traverse_func`.
pub type tdb_traverse_func = unsafe extern "C" fn(*mut tdb_context, TDB_DATA, TDB_DATA, *mut c_void) -> c_int;
/// `tdb_hash_func`.
pub type tdb_hash_func = unsafe extern "C" fn(*mut TDB_DATA) -> c_uint;
/// The parser of `tdb_parse_record`.
pub type tdb_parser_func = unsafe extern "C" fn(TDB_DATA, TDB_DATA, *mut c_void) -> c_int;
/// The per-record callback of `tdb_check`.
pub type tdb_check_func = unsafe extern "C" fn(TDB_DATA, TDB_DATA, *mut c_void) -> c_int;

/// `struct tdb_logging_context`.
#[repr(C)]
pub struct tdb_logging_context {
    pub log_fn: Option<tdb_log_func>,
    pub log_private: *mut c_void,
}

extern "C" {
    pub fn tdb_open_ex(
        name: *const c_char,
        hash_size: c_int,
        tdb_flags: c_int,
        open_flags: c_int,
        mode: mode_t,
        log_ctx: *const tdb_logging_context,
        hash_fn: Option<tdb_hash_func>,
    ) -> *mut tdb_context;
    pub fn tdb_close(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_error(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_errorstr(tdb: *mut tdb_context) -> *const c_char;

    pub fn tdb_fetch(tdb: *mut tdb_context, key: TDB_DATA) -> TDB_DATA;
    pub fn tdb_parse_record(
        tdb: *mut tdb_context,
        key: TDB_DATA,
        parser: Option<tdb_parser_func>,
        private_data: *mut c_void,
    ) -> c_int;
    pub fn tdb_exists(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_delete(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_store(tdb: *mut tdb_context, key: TDB_DATA, dbuf: TDB_DATA, flag: c_int) -> c_int;
    pub fn tdb_storev(
        tdb: *mut tdb_context,
        key: TDB_DATA,
        dbufs: *const TDB_DATA,
        num_dbufs: c_int,
        flag: c_int,
    ) -> c_int;

    pub fn tdb_traverse(tdb: *mut tdb_context, f: Option<tdb_traverse_func>, private_data: *mut c_void) -> c_int;
    pub fn tdb_traverse_read(tdb: *mut tdb_context, f: Option<tdb_traverse_func>, private_data: *mut c_void) -> c_int;

    pub fn tdb_lockall(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_lockall_nonblock(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_unlockall(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_lockall_mark(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_lockall_unmark(tdb: *mut tdb_context) -> c_int;

    pub fn tdb_chainlock(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_chainlock_nonblock(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_chainunlock(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_chainlock_mark(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_chainlock_unmark(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_chainlock_read(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_chainlock_read_nonblock(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;
    pub fn tdb_chainunlock_read(tdb: *mut tdb_context, key: TDB_DATA) -> c_int;

    pub fn tdb_transaction_active(tdb: *mut tdb_context) -> bool;
    pub fn tdb_transaction_start(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_transaction_prepare_commit(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_transaction_commit(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_transaction_cancel(tdb: *mut tdb_context) -> c_int;

    pub fn tdb_get_seqnum(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_hash_size(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_map_size(tdb: *mut tdb_context) -> size_t;
    pub fn tdb_get_flags(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_add_flags(tdb: *mut tdb_context, flag: c_uint);
    pub fn tdb_remove_flags(tdb: *mut tdb_context, flag: c_uint);
    pub fn tdb_enable_seqnum(tdb: *mut tdb_context);
    pub fn tdb_increment_seqnum_nonblock(tdb: *mut tdb_context);

    pub fn tdb_jenkins_hash(key: *mut TDB_DATA) -> c_uint;
    pub fn tdb_check(tdb: *mut tdb_context, check: Option<tdb_check_func>, private_data: *mut c_void) -> c_int;
    pub fn tdb_runtime_check_for_robust_mutexes() -> bool;

    pub fn tdb_wipe_all(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_repack(tdb: *mut tdb_context) -> c_int;
    pub fn tdb_freelist_size(tdb: *mut tdb_context) -> c_int;

    /// The C shim (`src/log_shim.c`): formats and passes the message to the
    /// sink in the logging context's private pointer.
    pub fn ctdb_tdb_log_shim(tdb: *mut tdb_context, level: c_int, fmt: *const c_char, ...);
}
