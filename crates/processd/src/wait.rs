//! Learning that a child exited without reaping it, and reaping it later.
//!
//! A child's pid is also its process group id. Once the child is reaped
//! the number is free and may name someone else's group, so processd must
//! kill the group *before* reaping the leader. `waitid(WNOWAIT)` reports
//! the exit and leaves the zombie (and the pid) in place; the reap comes
//! when the core asks for it ([`reap`]).
//!
//! `waitid` blocks, so each child gets a small thread that waits for it.
//! CTDB runs a handful of children at a time; a thread each is cheap, needs
//! no SIGCHLD handler of our own, and cannot collide with tokio's reaping
//! of the children other services start (that reaps only its own pids).

use std::io;

use tokio::sync::mpsc::UnboundedSender;

use crate::core::{ExitStatus, ProcId};

/// Stack of a waiter thread: it only calls `waitid`.
const WAITER_STACK: usize = 64 * 1024;

/// Wait (on a thread of its own) for `pid` to exit, then send its status
/// on `tx`, leaving it unreaped.
pub fn watch(id: ProcId, pid: i32, tx: UnboundedSender<(ProcId, ExitStatus)>) -> io::Result<()> {
    std::thread::Builder::new().name(format!("processd-wait-{pid}")).stack_size(WAITER_STACK).spawn(move || {
        let status = wait_exit(pid);
        // The loop may be gone (shutdown): nothing to tell then.
        let _ = tx.send((id, status));
    })?;
    Ok(())
}

/// Block until `pid` (a child of ours) exits; it stays a zombie.
fn wait_exit(pid: i32) -> ExitStatus {
    loop {
        // SAFETY: waitid writes only into the zeroed siginfo_t we own; the
        // si_status accessor reads a field waitid fills for WEXITED.
        let (rc, info) = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let rc = libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT);
            (rc, info)
        };
        if rc == 0 {
            // SAFETY: filled by a successful waitid for an exited child.
            let status = unsafe { info.si_status() };
            return match info.si_code {
                libc::CLD_EXITED => ExitStatus::Exited(status),
                _ => ExitStatus::Signaled(status),
            };
        }
        // Only EINTR is worth another try (the wait lasts as long as the
        // child lives, no longer). ECHILD would mean someone else reaped
        // our child, which nothing in the daemon does (every reaper waits
        // for its own pids): report it as killed.
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return ExitStatus::Signaled(libc::SIGKILL);
        }
    }
}

/// Reap `pid`, which has exited (a zombie): returns at once. (nix may
/// report an error for a status it cannot describe, e.g. a real-time
/// signal; the child is reaped all the same.)
pub fn reap(pid: i32) -> io::Result<()> {
    nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).map(|_| ()).map_err(io::Error::from)
}
