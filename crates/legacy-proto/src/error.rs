//! The one error type of this crate.

/// Why a packet or payload could not be decoded.
///
/// Every variant except [`ProtoError::BadVersion`] means the *peer* sent
/// something malformed; `BadVersion` means the peer speaks an incompatible
/// protocol. [`ProtoError::fault`] says which, so a server can decide whether
/// to drop a packet, answer with an error or close the connection.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// The buffer ended before the item did.
    #[error("peer sent a truncated {what}: needs {need} bytes, {have} available")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Bytes needed to go on.
        need: usize,
        /// Bytes that were left.
        have: usize,
    },
    /// The header's magic is not `CTDB_MAGIC`.
    #[error("peer sent bad magic {0:#010x}: not a CTDB packet")]
    BadMagic(u32),
    /// The header's version is not `CTDB_PROTOCOL`.
    #[error("peer speaks incompatible CTDB protocol version {0} (expected 1)")]
    BadVersion(u32),
    /// The header's length is 0, below the header size, above
    /// `MAX_PACKET_LEN`, or not the size of the buffer handed to the decoder.
    #[error("peer sent bad packet length {0}")]
    BadLength(u32),
    /// The header's operation is not one this protocol defines.
    #[error("peer sent unknown operation {0}")]
    UnknownOperation(u32),
    /// The bytes are there but do not form a valid value.
    #[error("peer sent malformed data: {0}")]
    Malformed(&'static str),
    /// Bytes were left over where the C code checks the exact size.
    #[error("peer sent {extra} unexpected trailing bytes after a {what}")]
    TrailingBytes {
        /// What was decoded.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
}

/// Who is to blame for a [`ProtoError`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The peer sent bytes that break the protocol.
    PeerMalformed,
    /// The peer speaks another protocol version.
    Incompatible,
}

impl ProtoError {
    /// Who is at fault for this error.
    pub fn fault(&self) -> Fault {
        match self {
            ProtoError::BadVersion(_) => Fault::Incompatible,
            _ => Fault::PeerMalformed,
        }
    }
}
