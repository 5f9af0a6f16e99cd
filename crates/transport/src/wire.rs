//! Reading whole internal packets off a byte stream.

use ctdb_proto::{peek_len, DecodeError, Packet};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why a stream could not yield a packet.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that is not a valid packet.
    #[error("malformed packet: {0}")]
    Decode(#[from] DecodeError),
    /// The stream ended in the middle of a packet.
    #[error("connection closed mid-packet")]
    Truncated,
}

/// Read one packet. `Ok(None)` is a clean end of stream between packets.
/// The length is checked against the protocol's bound before allocating.
pub async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Packet>, ReadError> {
    let mut prefix = [0u8; 12];
    let mut got = 0;
    while got < prefix.len() {
        let n = r.read(&mut prefix[got..]).await?;
        if n == 0 {
            return if got == 0 { Ok(None) } else { Err(ReadError::Truncated) };
        }
        got += n;
    }
    // peek_len has 12 bytes, so it returns a length or an error.
    let len = peek_len(&prefix)?.ok_or(ReadError::Truncated)?;
    let mut buf = vec![0u8; len];
    buf[..12].copy_from_slice(&prefix);
    r.read_exact(&mut buf[12..]).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ReadError::Truncated,
        _ => ReadError::Io(e),
    })?;
    Ok(Some(Packet::decode(&buf)?))
}
