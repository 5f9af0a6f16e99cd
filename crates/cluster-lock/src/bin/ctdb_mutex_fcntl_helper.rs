//! `ctdb_mutex_fcntl_helper FILE [RECHECK_INTERVAL]`: hold an fcntl lock on
//! FILE for the parent ctdbd, with Samba's helper contract (see the crate
//! doc), so it can replace Samba's helper of the same name and vice versa.
//!
//! After taking the lock it re-checks every RECHECK_INTERVAL seconds
//! (default 5) that the lock is still meaningful, and exits — which tells
//! the parent the lock is lost — when:
//! - the parent is gone (we also ask the kernel to signal us at once);
//! - FILE was removed or replaced (a new inode: someone else can lock it);
//! - a second lock at byte 1 of FILE can no longer be taken (the cluster
//!   file system stopped honouring locks for us).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::process::ExitCode;
use std::time::Duration;

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
        eprintln!("usage: {} FILE [RECHECK_INTERVAL]", args.first().map_or("ctdb_mutex_fcntl_helper", |s| s));
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
    loop {
        std::thread::sleep(Duration::from_secs(recheck));
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
