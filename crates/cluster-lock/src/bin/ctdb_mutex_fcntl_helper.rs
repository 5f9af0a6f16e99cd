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
//! - with PING_TIMEOUT > 0 (default 0, off): no byte arrived on stdin for
//!   PING_TIMEOUT seconds. ctdb-rs's daemon writes one every second from
//!   the loop that leads, so a wedged daemon cannot keep the lock (and the
//!   leadership) from the others forever.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctdb_cluster_lock::LockReply;

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
    reply(LockReply::Held);
    let start = Instant::now();
    // Milliseconds since `start` of the last ping; u64::MAX once stdin
    // closed (the parent let go of its end: it is gone or wedged).
    let last_ping = Arc::new(AtomicU64::new(0));
    if ping_timeout > 0 {
        let last = last_ping.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            loop {
                match std::io::Read::read(&mut std::io::stdin(), &mut buf) {
                    Ok(0) | Err(_) => {
                        last.store(u64::MAX, Ordering::Relaxed);
                        return;
                    }
                    Ok(_) => last.store(start.elapsed().as_millis() as u64, Ordering::Relaxed),
                }
            }
        });
    }
    let tick = Duration::from_secs(1);
    let mut next_recheck = Instant::now() + Duration::from_secs(recheck);
    loop {
        std::thread::sleep(tick);
        if ping_timeout > 0 {
            let last = last_ping.load(Ordering::Relaxed);
            let silent = last == u64::MAX
                || start.elapsed().saturating_sub(Duration::from_millis(last)) > Duration::from_secs(ping_timeout);
            if silent {
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
