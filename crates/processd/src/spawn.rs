//! Starting one child: its own process group, stdin from /dev/null, stdout
//! and stderr into one pipe (or each into its own, when asked).
//!
//! `std::process::Command` starts it and reports a failed exec with its
//! errno. What Linux gives, checked by the tests:
//! - a missing program, or a script whose `#!` interpreter is missing:
//!   `ENOENT`;
//! - a file without execute permission: `EACCES`;
//! - an executable file that is neither a binary nor starts with `#!`:
//!   `ENOEXEC`. (std starts children with glibc's `posix_spawn`, which
//!   reports it. In the cases where std forks and calls `execvp` instead,
//!   such as a bare program name with `PATH` changed in the request's
//!   environment, glibc hands such a file to `/bin/sh`.)

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use nix::fcntl::OFlag;

use crate::core::Command;

/// A started child.
#[derive(Debug)]
pub struct Started {
    /// Its pid, which is also its process group id.
    pub pid: i32,
    /// The read end of its output pipe (stdout, and stderr unless split).
    pub output: OwnedFd,
    /// The read end of its stderr pipe, when [`Command::split_stderr`].
    pub stderr: Option<OwnedFd>,
}

fn errno(e: &io::Error) -> i32 {
    // Errors without an errno come from std refusing the input (a NUL
    // byte in an argument): that is invalid input.
    e.raw_os_error().unwrap_or(libc::EINVAL)
}

/// Start `cmd`; `Err(errno)` if it could not be.
pub fn start(cmd: &Command) -> Result<Started, i32> {
    let Some((program, args)) = cmd.argv.split_first() else {
        return Err(libc::EINVAL);
    };
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e as i32)?;
    let (stderr_read, stderr_write) = if cmd.split_stderr {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e as i32)?;
        (Some(r), w)
    } else {
        // Two descriptors of one pipe: both streams interleave in one order.
        (None, write.try_clone().map_err(|e| errno(&e))?)
    };
    let mut c = std::process::Command::new(program);
    c.args(args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::from(stderr_write))
        .process_group(0);
    if let Some(arg0) = &cmd.arg0 {
        c.arg0(arg0);
    }
    let spawned = c.spawn();
    // Our copies of the write ends must be closed now, or the pipes would
    // never report end of file.
    drop(c);
    let child = spawned.map_err(|e| errno(&e))?;
    // Dropping a std Child neither waits for nor kills it: the waiter
    // thread and the core's Reap action own it from here.
    // pids fit an i32 (Linux's pid_max is at most 2^22).
    let pid = child.id() as i32;
    Ok(Started { pid, output: read, stderr: stderr_read })
}
