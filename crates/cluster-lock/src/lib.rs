//! The cluster lock's helper contract, as Samba's CTDB defines it, so that
//! Samba's own helpers (fcntl, etcd, RADOS) and ours are interchangeable.
//!
//! A helper is a child process. It writes exactly one byte to stdout:
//! `'0'` the lock is held, `'1'` someone else holds it, `'2'` timeout, `'3'`
//! error. After `'0'` it keeps running while it holds the lock; its exit
//! (end of file on the pipe) means the lock is lost. The parent releases the
//! lock by sending SIGTERM.

use std::path::{Path, PathBuf};

/// The signal ctdb-rs's daemon sends a holding helper's process group
/// every second (through processd), to show that the loop that leads is
/// alive; our fcntl helper, given a PING_TIMEOUT, lets the lock go when
/// they stop. A signal, because helpers run with stdin from /dev/null;
/// SIGWINCH, because its default action is to be ignored, so helpers that
/// know nothing of pings (Samba's) never notice them.
pub const PING_SIGNAL: i32 = libc::SIGWINCH;

/// What a helper reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockReply {
    /// `'0'`: held by us.
    Held,
    /// `'1'`: another node holds it.
    Contended,
    /// `'2'`, or no byte before the deadline.
    Timeout,
    /// `'3'`, end of file, or any other byte.
    Error,
}

impl LockReply {
    /// Interpret the helper's first byte (`None` = end of file).
    pub fn from_byte(b: Option<u8>) -> LockReply {
        match b {
            Some(b'0') => LockReply::Held,
            Some(b'1') => LockReply::Contended,
            Some(b'2') => LockReply::Timeout,
            _ => LockReply::Error,
        }
    }

    /// The byte a helper writes for this reply.
    pub fn byte(self) -> u8 {
        match self {
            LockReply::Held => b'0',
            LockReply::Contended => b'1',
            LockReply::Timeout => b'2',
            LockReply::Error => b'3',
        }
    }
}

/// The command line that takes the lock configured as `[cluster] cluster
/// lock = VALUE`: `!cmd args…` runs `cmd` with the blank-separated args (no
/// shell, no quoting, as CTDB does); anything else is a file path handed to
/// the fcntl helper `default_helper`.
pub fn helper_command(value: &str, default_helper: &Path) -> Option<(PathBuf, Vec<String>)> {
    if value.starts_with('!') {
        return ctdb_config::split_command(value);
    }
    if value.is_empty() {
        return None;
    }
    Some((default_helper.to_path_buf(), vec![value.to_string()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bang_value_is_a_command_split_on_blanks() {
        let (p, a) = helper_command("!/usr/libexec/ctdb/ctdb_etcd_lock  -v\t-c /etc/x", Path::new("/h")).unwrap();
        assert_eq!(p, PathBuf::from("/usr/libexec/ctdb/ctdb_etcd_lock"));
        assert_eq!(a, vec!["-v", "-c", "/etc/x"]);
        assert_eq!(helper_command("!", Path::new("/h")), None);
    }

    #[test]
    fn path_value_goes_to_the_fcntl_helper() {
        let (p, a) = helper_command("/shared/lock", Path::new("/h")).unwrap();
        assert_eq!((p, a), (PathBuf::from("/h"), vec!["/shared/lock".to_string()]));
    }

    #[test]
    fn reply_bytes() {
        for r in [LockReply::Held, LockReply::Contended, LockReply::Timeout, LockReply::Error] {
            assert_eq!(LockReply::from_byte(Some(r.byte())), r);
        }
        assert_eq!(LockReply::from_byte(None), LockReply::Error);
        assert_eq!(LockReply::from_byte(Some(b'x')), LockReply::Error);
    }
}
