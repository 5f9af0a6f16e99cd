//! The ctdb-rs internal protocol: what services say to each other, inside one
//! node and between nodes.
//!
//! Every packet is a fixed 40-byte [`Header`] followed by a payload. The header
//! is big-endian on every platform (endian-neutral, unlike the legacy protocol),
//! versioned twice (the framing itself, and each payload kind), and names a
//! destination and a source [`Endpoint`] — a service on a node. The transport
//! reads only the header; services read the payload.
//!
//! Payloads ([`Body`]) come in two encodings, chosen by [`Kind`]:
//! control-plane messages are typed [`Msg`] values serialised as JSON (easy to
//! read in a capture, easy to evolve), bulk data (a legacy packet being
//! forwarded to another node) is carried as raw bytes.
//!
//! One marshalling API: [`Packet::encode`] / [`Packet::decode`]; nothing else in
//! the workspace shuffles these bytes by hand.

mod header;
mod msg;

pub use header::{Endpoint, Flags, Header, Kind, ServiceId, HEADER_LEN, MAGIC, MAX_PACKET_LEN, PROTOCOL_VERSION};
pub use msg::{
    Body, ClusterState, DbDesc, DbMsg, FailoverMsg, Msg, NodeInfo, ProcessOutcome, ProcessResult, ProcessSpec,
    TransportStats,
};

use thiserror::Error;

/// Why a packet could not be decoded. Every variant is the sender's fault.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the header or the header's length field promise.
    #[error("truncated packet: have {have} bytes, need {need}")]
    Truncated { have: usize, need: usize },
    /// The magic number is not ours: not a ctdb-rs peer.
    #[error("bad magic 0x{0:08x}")]
    BadMagic(u32),
    /// A framing version we do not speak.
    #[error("incompatible protocol version {0}")]
    BadVersion(u16),
    /// Length field smaller than the header or larger than [`MAX_PACKET_LEN`].
    #[error("bad packet length {0}")]
    BadLength(u32),
    /// A payload kind this node does not know.
    #[error("unknown payload kind {0}")]
    UnknownKind(u16),
    /// A payload version this node does not understand.
    #[error("unsupported payload version {version} for kind {kind}")]
    BadPayloadVersion { kind: u16, version: u16 },
    /// The JSON payload does not parse as a [`Msg`].
    #[error("malformed payload: {0}")]
    Malformed(String),
}

/// One whole packet: header plus decoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// Routing information; `length`, `kind` and `payload_version` are
    /// recomputed by [`Packet::encode`].
    pub header: Header,
    /// What the packet says.
    pub body: Body,
}

impl Packet {
    /// A packet from `src` to `dst` with request id `reqid` and no flags.
    pub fn new(dst: Endpoint, src: Endpoint, reqid: u64, body: Body) -> Packet {
        Packet {
            header: Header {
                length: 0,
                payload_version: body.kind().payload_version(),
                dst,
                src,
                flags: Flags::empty(),
                kind: body.kind(),
                reqid,
            },
            body,
        }
    }

    /// Encode header and body into one buffer, filling in the length.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 64);
        let mut header = self.header.clone();
        header.kind = self.body.kind();
        header.payload_version = header.kind.payload_version();
        header.encode(&mut out);
        self.body.encode_payload(&mut out);
        let len = out.len() as u32;
        out[0..4].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// Decode one whole packet (exactly `length` bytes).
    pub fn decode(buf: &[u8]) -> Result<Packet, DecodeError> {
        let header = Header::decode(buf)?;
        if header.length as usize != buf.len() {
            return Err(DecodeError::Truncated { have: buf.len(), need: header.length as usize });
        }
        let body = Body::decode_payload(header.kind, header.payload_version, &buf[HEADER_LEN..])?;
        Ok(Packet { header, body })
    }
}

/// For stream readers: the total length of the packet starting at `buf`, once
/// its first bytes are buffered. `Ok(None)` means more bytes are needed to
/// tell; an error means the stream is not ours and must be dropped.
pub fn peek_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    if buf.len() < 12 {
        return Ok(None);
    }
    Header::check_prefix(buf).map(Some)
}

#[cfg(test)]
mod tests;
