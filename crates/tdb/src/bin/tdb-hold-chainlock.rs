//! Test helper: opens a tdb in its own process and holds a lock on it, so
//! that tests can see libtdb's cross-process locking (libtdb refuses a second
//! open of the same file within one process).
//!
//! ```text
//! tdb-hold-chainlock PATH TDB_FLAGS [--fetch KEY] [--lock KEY | --lock-read KEY | --lockall]
//! ```
//!
//! `TDB_FLAGS` is decimal or `0x` hex. With `--fetch` it prints `found VALUE`
//! or `missing`; then it takes the lock and prints `locked` (or `ready` with
//! no lock), waits for end of input on stdin, releases the lock and exits.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use ctdb_tdb::Tdb;

enum Lock {
    None,
    Chain(String),
    ChainRead(String),
    All,
}

fn parse_flags(s: &str) -> Option<i32> {
    match s.strip_prefix("0x") {
        Some(hex) => i32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn run() -> Result<(), String> {
    let usage = "usage: tdb-hold-chainlock PATH TDB_FLAGS [--fetch KEY] [--lock KEY | --lock-read KEY | --lockall]";
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or(usage)?;
    let tdb_flags = args.next().as_deref().and_then(parse_flags).ok_or(usage)?;
    let mut fetch = None;
    let mut lock = Lock::None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fetch" => fetch = Some(args.next().ok_or(usage)?),
            "--lock" => lock = Lock::Chain(args.next().ok_or(usage)?),
            "--lock-read" => lock = Lock::ChainRead(args.next().ok_or(usage)?),
            "--lockall" => lock = Lock::All,
            _ => return Err(usage.to_owned()),
        }
    }

    let db =
        Tdb::open(Path::new(&path), 0, tdb_flags, libc::O_RDWR | libc::O_CREAT, 0o600).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let mut say = |line: &str| writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| e.to_string());
    if let Some(key) = &fetch {
        match db.fetch(key.as_bytes()).map_err(|e| e.to_string())? {
            Some(value) => say(&format!("found {}", String::from_utf8_lossy(&value)))?,
            None => say("missing")?,
        }
    }
    match &lock {
        Lock::None => say("ready")?,
        Lock::Chain(key) => {
            db.chainlock(key.as_bytes()).map_err(|e| e.to_string())?;
            say("locked")?;
        }
        Lock::ChainRead(key) => {
            db.chainlock_read(key.as_bytes()).map_err(|e| e.to_string())?;
            say("locked")?;
        }
        Lock::All => {
            db.lockall().map_err(|e| e.to_string())?;
            say("locked")?;
        }
    }

    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink).map_err(|e| e.to_string())?;

    match &lock {
        Lock::None => Ok(()),
        Lock::Chain(key) => db.chainunlock(key.as_bytes()),
        Lock::ChainRead(key) => db.chainunlock_read(key.as_bytes()),
        Lock::All => db.unlockall(),
    }
    .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tdb-hold-chainlock: {e}");
            ExitCode::FAILURE
        }
    }
}
