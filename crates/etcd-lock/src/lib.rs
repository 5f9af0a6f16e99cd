//! `ctdb_etcd_lock`: a CTDB cluster lock held in etcd v3, for
//! `[cluster] cluster lock = !/usr/libexec/ctdb/ctdb_etcd_lock [-v] [-c CONFIG]`.
//!
//! The helper follows Samba's mutex-helper contract (`ctdb_cluster_lock`):
//! one byte on stdout, `'0'` held, `'1'` someone else holds it, `'2'` etcd
//! did not answer in time, `'3'` any other error (the reason on stderr,
//! which the daemon logs). After `'0'` it keeps running while it holds the
//! lock; its exit means the lock is lost. SIGTERM releases the lock.
//!
//! The lock is the key `<locks_dir>/<cluster_name>` (see [`config`]):
//!
//! ```text
//!  connect ─► grant lease (lock_ttl)
//!          ─► txn: if create_revision(key) == 0      (absent)
//!                  then put(key, "host pid …", lease); get(key)   ─► '0', hold
//!                  else get(key)                                   ─► '1', revoke, exit 0
//!  hold: every lock_refresh s
//!          keep the lease alive ─► ttl 0: lease gone              ─► lost
//!          get(key): absent, other lease or other create_revision ─► lost
//!          no renewal before the lease would expire (less 1 s)    ─► lost
//!  lost: close stdout at once (the daemon sees end of file), revoke, exit 1
//!  SIGTERM / parent gone: revoke the lease (the key goes with it), exit 0
//! ```
//!
//! Why a lease and a compare-and-create rather than etcd's lock API: the
//! lock API waits in a queue until the lock is free, but the contract wants
//! an immediate `'1'` when another node holds it. The lease makes a holder
//! that vanishes without releasing (SIGKILL, power loss) give the lock up
//! after `lock_ttl`; revoking it on SIGTERM lets the next node take it at
//! once. Checking the key's create revision and lease on every refresh
//! fences a holder whose key was deleted or re-created by someone else.
//!
//! Samba's own etcd helper speaks etcd's v2 API; its keys are not visible
//! to this one, so a cluster must run one kind of helper on every node.

pub mod config;
pub mod lock;

use std::path::PathBuf;
use std::time::Duration;

use ctdb_cluster_lock::LockReply;

pub use config::Config;
pub use lock::{Holder, Lost, Refresh, Session, Taken};

/// Why the helper could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is unreadable or has a bad value (`line` 0:
    /// the file as a whole).
    #[error("{}", located(path, *line, msg))]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line, or 0.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// etcd did not answer within the configured timeout.
    #[error("etcd did not answer {what} within {}", secs(*after))]
    Timeout {
        /// The request that went unanswered.
        what: &'static str,
        /// How long we waited.
        after: Duration,
    },
    /// etcd, or the way to it, answered with an error.
    #[error("etcd {what} failed: {source}")]
    Etcd {
        /// The request that failed.
        what: &'static str,
        /// The client's error.
        #[source]
        source: etcd_client::Error,
    },
    /// etcd's answer did not have the shape the request implies.
    #[error("unexpected answer from etcd to {0}")]
    Unexpected(&'static str),
}

impl Error {
    /// The byte to report: `'2'` when etcd could not be reached or did not
    /// answer (the parent treats it like its own timeout), `'3'` otherwise.
    pub fn reply(&self) -> LockReply {
        if self.is_unreachable() {
            LockReply::Timeout
        } else {
            LockReply::Error
        }
    }

    /// Whether this says nothing about the lock, only that etcd was not
    /// there to ask: a timeout, a connection failure, or gRPC's
    /// `Unavailable` / `DeadlineExceeded`.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Etcd { source, .. } => match source {
                etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
                etcd_client::Error::GRpcStatus(s) => {
                    matches!(s.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded)
                }
                _ => false,
            },
            Error::Config { .. } | Error::Unexpected(_) => false,
        }
    }
}

fn located(path: &std::path::Path, line: usize, msg: &str) -> String {
    if line == 0 {
        format!("{}: {msg}", path.display())
    } else {
        format!("{}:{line}: {msg}", path.display())
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_and_unreachable_etcd_report_2_everything_else_3() {
        let t = Error::Timeout { what: "lease grant", after: Duration::from_secs(5) };
        assert_eq!(t.reply(), LockReply::Timeout);
        assert_eq!(t.to_string(), "etcd did not answer lease grant within 5.0 s");
        let unavailable = Error::Etcd {
            what: "txn",
            source: etcd_client::Error::GRpcStatus(tonic::Status::unavailable("no leader")),
        };
        assert_eq!(unavailable.reply(), LockReply::Timeout);
        let denied = Error::Etcd {
            what: "txn",
            source: etcd_client::Error::GRpcStatus(tonic::Status::permission_denied("auth")),
        };
        assert_eq!(denied.reply(), LockReply::Error);
        assert_eq!(Error::Unexpected("txn").reply(), LockReply::Error);
    }
}
