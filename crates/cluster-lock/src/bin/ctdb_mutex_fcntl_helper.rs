//! `ctdb_mutex_fcntl_helper FILE [RECHECK_INTERVAL [PING_TIMEOUT]]`: hold an fcntl lock on
//! FILE for the parent ctdbd, with Samba's helper contract (see the crate
//! doc), so it can replace Samba's helper of the same name and vice versa.
//!
//! After taking the lock it re-checks every RECHECK_INTERVAL seconds
//! (default 5) that the lock is still meaningful, and exits — which tells
//! the parent the lock is lost — when:
//! - the parent is gone (we also ask the kernel to signal us at once);
//! - FILE was removed or replaced (a new inode: someone else can lock it);
//! - a second lock at byte 1 of FILE can no longer be taken (the cluster
//!   file system stopped honouring locks for us);
//! - with PING_TIMEOUT > 0 (default 0, off): no ping
//!   ([`ctdb_cluster_lock::PING_SIGNAL`]) arrived for PING_TIMEOUT seconds.
//!   ctdb-rs's daemon sends one every second from the loop that leads, so a
//!   wedged daemon cannot keep the lock (and the leadership) from the
//!   others forever.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ctdb_cluster_lock::{LockReply, PING_SIGNAL};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// When the last ping came (or the lock was taken), in milliseconds of
/// the monotonic clock.
static LAST_PING_MS: AtomicU64 = AtomicU64::new(0);

/// The monotonic clock in milliseconds (clock_gettime is
/// async-signal-safe, so the handler can read it: the ping is timed when
/// it comes, not when the loop next looks).
fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes only into `ts`, which we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1000).saturating_add(ts.tv_nsec as u64 / 1_000_000)
}

extern "C" fn on_ping(_: libc::c_int) {
    // Only a clock read and an atomic store: async-signal-safe.
    LAST_PING_MS.store(monotonic_ms(), Ordering::Relaxed);
}

/// Count pings from now on. SA_RESTART, so that a ping never interrupts
/// the re-check's blocking lock (F_OFD_SETLKW is restarted).
fn count_pings() -> nix::Result<()> {
    let signal = Signal::try_from(PING_SIGNAL)?;
    let action = SigAction::new(SigHandler::Handler(on_ping), SaFlags::SA_RESTART, SigSet::empty());
    // SAFETY: the handler only does an atomic add, which is
    // async-signal-safe.
    unsafe { sigaction(signal, &action) }.map(|_| ())
}

fn set_lock(f: &File, start: i64, wait: bool, kind: i32) -> std::io::Result<()> {
    let lock = libc::flock { l_type: kind as i16, l_whence: libc::SEEK_SET as i16, l_start: start, l_len: 1, l_pid: 0 };
    // Open-file-description locks: they conflict with classic fcntl locks
    // (so Samba's helper on another node sees ours), but they belong to our
    // open file, so no other open/close of the file in this process can
    // drop them by accident, as it would a classic process-owned lock.
    let cmd = if wait { libc::F_OFD_SETLKW } else { libc::F_OFD_SETLK };
    // SAFETY: a valid open fd and a fully initialised flock.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), cmd, &lock) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn reply(r: LockReply) {
    let mut out = std::io::stdout();
    let _ = out.write_all(&[r.byte()]);
    let _ = out.flush();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!(
            "usage: {} FILE [RECHECK_INTERVAL [PING_TIMEOUT]]",
            args.first().map_or("ctdb_mutex_fcntl_helper", |s| s)
        );
        reply(LockReply::Error);
        return ExitCode::FAILURE;
    };
    let recheck = match args.get(2).map(|s| s.parse::<u64>()) {
        None => 5,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("ctdb_mutex_fcntl_helper: bad recheck interval {:?}", args[2]);
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    };
    let ping_timeout = match args.get(3).map(|s| s.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("ctdb_mutex_fcntl_helper: bad ping timeout {:?}", args[3]);
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    };
    let parent = nix::unistd::getppid();
    // SAFETY: prctl with PR_SET_PDEATHSIG and a signal number has no memory
    // effects; it makes the kernel stop us the moment the parent dies.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ctdb_mutex_fcntl_helper: cannot open {path}: {e}");
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = set_lock(&file, 0, false, libc::F_WRLCK) {
        if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EAGAIN)) {
            reply(LockReply::Contended);
            return ExitCode::SUCCESS;
        }
        eprintln!("ctdb_mutex_fcntl_helper: cannot lock {path}: {e}");
        reply(LockReply::Error);
        return ExitCode::FAILURE;
    }
    let inode = match file.metadata() {
        Ok(m) => (m.dev(), m.ino()),
        Err(e) => {
            eprintln!("ctdb_mutex_fcntl_helper: cannot stat {path}: {e}");
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    };
    if ping_timeout > 0 {
        // Before the '0', so that no ping sent once the daemon has it is
        // missed.
        if let Err(e) = count_pings() {
            eprintln!("ctdb_mutex_fcntl_helper: cannot count pings: {e}");
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    }
    // The daemon starts pinging once it has the '0': the wait counts from
    // here.
    LAST_PING_MS.store(monotonic_ms(), Ordering::Relaxed);
    reply(LockReply::Held);
    let tick = Duration::from_secs(1);
    let ping_timeout_ms = ping_timeout.saturating_mul(1000);
    let mut next_recheck = Instant::now() + Duration::from_secs(recheck);
    loop {
        let mut nap = tick;
        if ping_timeout > 0 {
            // Wake when the pings are overdue, not at the next tick: the
            // lock goes PING_TIMEOUT after the last ping, not up to a tick
            // later.
            let overdue_at = LAST_PING_MS.load(Ordering::Relaxed).saturating_add(ping_timeout_ms) + 1;
            nap = nap.min(Duration::from_millis(overdue_at.saturating_sub(monotonic_ms())));
        }
        std::thread::sleep(nap);
        if ping_timeout > 0 {
            let silent_ms = monotonic_ms().saturating_sub(LAST_PING_MS.load(Ordering::Relaxed));
            if silent_ms > ping_timeout_ms {
                eprintln!("ctdb_mutex_fcntl_helper: no ping from the daemon for {ping_timeout}s; releasing {path}");
                return ExitCode::FAILURE;
            }
        }
        if Instant::now() < next_recheck {
            continue;
        }
        next_recheck += Duration::from_secs(recheck);
        if nix::unistd::getppid() != parent {
            eprintln!("ctdb_mutex_fcntl_helper: parent gone, releasing {path}");
            return ExitCode::SUCCESS;
        }
        match std::fs::metadata(path) {
            Ok(m) if (m.dev(), m.ino()) == inode => {}
            Ok(_) => {
                eprintln!("ctdb_mutex_fcntl_helper: lock file {path} was replaced; lock lost");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("ctdb_mutex_fcntl_helper: lock file {path} gone ({e}); lock lost");
                return ExitCode::FAILURE;
            }
        }
        // Byte 1 is never held by anyone for long: taking it proves the
        // file system still answers lock requests.
        if let Err(e) = set_lock(&file, 1, true, libc::F_WRLCK).and_then(|_| set_lock(&file, 1, false, libc::F_UNLCK)) {
            eprintln!("ctdb_mutex_fcntl_helper: re-check lock on {path} failed ({e}); lock lost");
            return ExitCode::FAILURE;
        }
    }
}
