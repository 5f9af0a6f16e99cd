//! The one error type of this crate.

use std::path::PathBuf;

use ctdb_legacy_proto::{Opcode, ProtoError};

/// `ETIMEDOUT`, what the C client library reports for a timed-out control.
const ETIMEDOUT: i32 = 110;
/// `EIO`.
const EIO: i32 = 5;
/// `EINVAL`.
const EINVAL: i32 = 22;
/// `EDEADLK`.
const EDEADLK: i32 = 35;
/// `EPROTO`.
const EPROTO: i32 = 71;

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
    /// A transaction was asked of a volatile database, or a write of a
    /// read-only transaction.
    #[error("{0}")]
    NotAllowed(String),
    /// A record shared with other clients holds data this crate cannot
    /// read (a g_lock record that is no array of lock entries, a
    /// `__db_sequence_number__` that is not 8 bytes).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// This very lock holder is already in the g_lock record.
    #[error("g_lock {0}: already held by this holder (deadlock)")]
    Deadlock(String),
    /// After a failed TRANS3_COMMIT the database's sequence number is
    /// neither the old one (resend) nor one more (committed by recovery).
    #[error("transaction commit on {db}: seqnum mismatch 0x{now:x} != 0x{old:x} + 1")]
    SeqnumMismatch {
        /// Database name.
        db: String,
        /// The sequence number the transaction started from.
        old: u64,
        /// The one found after the failure.
        now: u64,
    },
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
            ClientError::Closed | ClientError::Proto(_) | ClientError::SeqnumMismatch { .. } => EIO,
            ClientError::NotAllowed(_) => EINVAL,
            ClientError::InvalidRecord(_) => EPROTO,
            ClientError::Deadlock(_) => EDEADLK,
        }
    }
}
