//! `ctdb_lock_helper PATH TDB_FLAGS KEY_HEX`: wait for a record's chain
//! lock on the daemon's behalf.
//!
//! databased never waits for a chain lock on its event loop. When smbd
//! keeps a record's lock busy, it starts this helper, which opens the same
//! TDB file and waits for the lock in the kernel (fcntl) or on the robust
//! mutex, queued like any other locker. Once it holds the lock it writes
//! `0` to stdout; the daemon then marks the chain as locked in its own
//! handle, does its work, and lets the helper go with SIGTERM, on which it
//! unlocks and exits. `1` (and exit 1) means the file or the lock could not
//! be had. SIGTERM while it still waits ends it at once (nothing is held
//! yet). stdin plays no part: processd starts it with /dev/null there.
//!
//! A daemon that dies must not leave the lock behind: the kernel sends
//! SIGTERM when the parent goes, and the helper also checks its parent
//! every second. (A helper killed outright loses the lock with it: fcntl
//! locks die with their process, and a robust mutex's next locker
//! recovers it.)

use std::io::Write;
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
    // SAFETY: getppid has no preconditions; prctl with PR_SET_PDEATHSIG
    // and a signal number has no memory effects.
    let parent = unsafe {
        let parent = libc::getppid();
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        parent
    };
    // SAFETY: as above.
    if unsafe { libc::getppid() } != parent {
        // The parent died before the kernel knew to tell us.
        return ExitCode::from(1);
    }
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
    // From here SIGTERM must not kill us while we hold the lock but tell
    // us to unlock: it is blocked and waited for. Blocked before the '0',
    // so that a release following it at once is not lost.
    let release = release_signals();
    if out.write_all(b"0").and_then(|_| out.flush()).is_err() {
        let _ = tdb.chainunlock(&key);
        return ExitCode::from(1);
    }
    wait_for_release(&release, parent);
    let _ = tdb.chainunlock(&key);
    ExitCode::SUCCESS
}

/// Block SIGTERM and SIGINT (the release) and return them as a set.
fn release_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise the set we own;
    // pthread_sigmask only changes this (only) thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Wait for a release signal, or for the parent to be gone.
fn wait_for_release(set: &libc::sigset_t, parent: libc::pid_t) {
    let second = libc::timespec { tv_sec: 1, tv_nsec: 0 };
    loop {
        // SAFETY: a valid, initialised set and timespec; no siginfo asked.
        if unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &second) } > 0 {
            return;
        }
        // A timeout (EAGAIN) or another signal (EINTR): is the parent
        // still there?
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != parent {
            return;
        }
    }
}
