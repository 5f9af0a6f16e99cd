//! Fork into the background, keeping the parent until the child is ready so
//! that `ctdbd`'s exit status says whether the daemon really started.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::unistd::{dup2, fork, pipe, setsid, ForkResult};

/// Which side of the fork we are.
pub enum Forked {
    /// The parent: exit with this code.
    Parent(u8),
    /// The child: report readiness on this handle.
    Child(Ready),
}

/// The child's end of the readiness pipe.
pub struct Ready(File);

impl Ready {
    /// Tell the waiting parent that start-up succeeded.
    pub fn done(mut self) {
        let _ = self.0.write_all(b"0");
    }
}

/// Fork. The parent waits until the child reports ready (exit 0) or closes
/// the pipe without a word (start-up failed: exit 1).
pub fn daemonize() -> nix::Result<Forked> {
    let (rd, wr): (OwnedFd, OwnedFd) = pipe()?;
    // SAFETY: called before any thread exists (the async runtime is created
    // after this), so the child has a consistent single-threaded state.
    match unsafe { fork()? } {
        ForkResult::Parent { .. } => {
            drop(wr);
            let mut f = File::from(rd);
            let mut b = [0u8; 1];
            let code = match f.read(&mut b) {
                Ok(1) if b[0] == b'0' => 0,
                _ => 1,
            };
            Ok(Forked::Parent(code))
        }
        ForkResult::Child => {
            drop(rd);
            setsid()?;
            if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
                for fd in 0..=2 {
                    let _ = dup2(null.as_raw_fd(), fd);
                }
            }
            Ok(Forked::Child(Ready(File::from(wr))))
        }
    }
}
