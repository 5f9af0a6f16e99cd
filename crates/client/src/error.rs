//! The one error type of this crate.

use std::path::PathBuf;

use ctdb_legacy_proto::{Opcode, ProtoError};

/// `ETIMEDOUT`, what the C client library reports for a timed-out control.
const ETIMEDOUT: i32 = 110;
/// `EIO`.
const EIO: i32 = 5;
/// `EINVAL`.
const EINVAL: i32 = 22;

/// Why a client call failed.
#[derive(thiserror::Error, Debug)]
pub enum ClientError {
    /// The socket could not be connected (daemon not running, no access).
    #[error("failed to connect to CTDB daemon ({}): {source}", path.display())]
    Connect {
        /// Socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("CTDB socket I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// No reply within the timeout.
    #[error("control timed out")]
    Timeout,
    /// The daemon closed the connection (or it failed earlier).
    #[error("connection to CTDB daemon closed")]
    Closed,
    /// The daemon answered with a failure status.
    #[error("control {opcode} failed, ret={status}{}", errmsg.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    ControlFailed {
        /// The control.
        opcode: Opcode,
        /// Reply status (usually -1).
        status: i32,
        /// Error text from the reply, if any.
        errmsg: Option<String>,
    },
    /// GET_TUNABLE answered -EINVAL: no tunable of that name.
    #[error("no such tunable: {0}")]
    NoSuchTunable(String),
    /// The daemon sent bytes this crate cannot decode.
    #[error("protocol error: {0}")]
    Proto(#[from] ProtoError),
}

impl ClientError {
    /// The `ret` value Samba's `ctdb` tool prints and exits with for this
    /// failure (`Control PING failed to node 0, ret=110`): the reply status
    /// for a failed control, an errno otherwise.
    pub fn ret(&self) -> i32 {
        match self {
            ClientError::ControlFailed { status, .. } => *status,
            ClientError::Timeout => ETIMEDOUT,
            ClientError::NoSuchTunable(_) => EINVAL,
            ClientError::Connect { source, .. } | ClientError::Io(source) => source.raw_os_error().unwrap_or(EIO),
            ClientError::Closed | ClientError::Proto(_) => EIO,
        }
    }
}
