//! The pid file: created and fcntl-locked by the daemon, so a second daemon
//! for the same node refuses to start; removed on a clean exit.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A held pid file; removed when dropped.
pub struct PidFile {
    path: PathBuf,
    _file: File,
}

impl PidFile {
    /// Create, lock and write the pid file.
    pub fn create(path: &Path) -> std::io::Result<PidFile> {
        let mut file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        let lock = libc::flock {
            l_type: libc::F_WRLCK as i16,
            l_whence: libc::SEEK_SET as i16,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        // SAFETY: F_SETLK with a valid fd and a fully initialised flock.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
        if rc != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is locked by another ctdbd", path.display()),
            ));
        }
        file.set_len(0)?;
        writeln!(file, "{}", std::process::id())?;
        Ok(PidFile { path: path.to_path_buf(), _file: file })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
