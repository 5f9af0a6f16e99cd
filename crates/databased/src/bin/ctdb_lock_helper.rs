//! `ctdb_lock_helper PATH TDB_FLAGS KEY_HEX`: wait for a record's chain
//! lock on the daemon's behalf.
//!
//! databased never waits for a chain lock on its event loop. When smbd
//! keeps a record's lock busy, it starts this helper, which opens the same
//! TDB file and waits for the lock in the kernel (fcntl) or on the robust
//! mutex, queued like any other locker. Once it holds the lock it writes
//! `0` to stdout; the daemon then marks the chain as locked in its own
//! handle, does its work, and closes the helper's stdin, on which the
//! helper exits and the lock is released. `1` (and exit 1) means the file
//! or the lock could not be had. A daemon that dies closes stdin too, so
//! the lock is never left behind.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use ctdb_tdb::Tdb;

fn parse_flags(s: &str) -> Option<i32> {
    match s.strip_prefix("0x") {
        Some(hex) => i32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, flags, key] = args.as_slice() else {
        eprintln!("usage: ctdb_lock_helper PATH TDB_FLAGS KEY_HEX");
        return ExitCode::from(2);
    };
    let (Some(flags), Some(key)) = (parse_flags(flags), parse_hex(key)) else {
        eprintln!("ctdb_lock_helper: bad TDB_FLAGS or KEY_HEX");
        return ExitCode::from(2);
    };
    let mut out = std::io::stdout();
    // CLEAR_IF_FIRST is harmless here: the daemon holds the file open, so
    // this open is never the first.
    let tdb = match Tdb::open(Path::new(path), 0, flags, libc::O_RDWR, 0) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ctdb_lock_helper: {path}: {e}");
            let _ = out.write_all(b"1").and_then(|_| out.flush());
            return ExitCode::from(1);
        }
    };
    if let Err(e) = tdb.chainlock(&key) {
        eprintln!("ctdb_lock_helper: chain lock in {path}: {e}");
        let _ = out.write_all(b"1").and_then(|_| out.flush());
        return ExitCode::from(1);
    }
    if out.write_all(b"0").and_then(|_| out.flush()).is_err() {
        return ExitCode::from(1);
    }
    // Hold until the daemon closes our stdin (or dies).
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    let _ = tdb.chainunlock(&key);
    ExitCode::SUCCESS
}
