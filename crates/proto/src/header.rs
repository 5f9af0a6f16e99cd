//! The fixed 40-byte header of every internal packet.
//!
//! ```text
//!  0 length u32          total bytes, header included
//!  4 magic u32           "CTRS"
//!  8 protocol u16        framing version (this layout)
//! 10 payload_version u16 version of the payload kind
//! 12 dst node u32 · 16 dst service u16
//! 18 src node u32 · 22 src service u16
//! 24 flags u16 · 26 kind u16
//! 28 reqid u64
//! 36 reserved u32 (0)
//! ```
//! All fields big-endian.

use serde::{Deserialize, Serialize};

use crate::DecodeError;

/// Bytes in a header.
pub const HEADER_LEN: usize = 40;
/// "CTRS": a ctdb-rs internal packet.
pub const MAGIC: u32 = 0x4354_5253;
/// The framing version this code speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// Largest packet a reader accepts; checked before allocating.
pub const MAX_PACKET_LEN: u32 = 64 * 1024 * 1024;

/// A service of the daemon. Integer newtype so unknown values survive a
/// round trip through an older node.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceId(pub u16);

impl ServiceId {
    /// Routing, node links, keepalives.
    pub const TRANSPORT: ServiceId = ServiceId(0);
    /// Membership, node flags, leadership, tunables.
    pub const CLUSTERD: ServiceId = ServiceId(1);
    /// Databases.
    pub const DATABASED: ServiceId = ServiceId(2);
    /// Public addresses.
    pub const FAILOVERD: ServiceId = ServiceId(3);
    /// Event scripts.
    pub const EVENTD: ServiceId = ServiceId(4);
    /// Child processes.
    pub const PROCESSD: ServiceId = ServiceId(5);
    /// The legacy client socket.
    pub const GATEWAY: ServiceId = ServiceId(6);
    /// The supervisor.
    pub const MASTERD: ServiceId = ServiceId(7);

    /// Human name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            ServiceId::TRANSPORT => "transport",
            ServiceId::CLUSTERD => "clusterd",
            ServiceId::DATABASED => "databased",
            ServiceId::FAILOVERD => "failoverd",
            ServiceId::EVENTD => "eventd",
            ServiceId::PROCESSD => "processd",
            ServiceId::GATEWAY => "gateway",
            ServiceId::MASTERD => "masterd",
            _ => "unknown",
        }
    }
}

/// A service on a node: where a packet goes or comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// The node's pnn, or one of the broadcast values of [`Endpoint`].
    pub node: u32,
    /// The service on that node.
    pub service: ServiceId,
}

impl Endpoint {
    /// Every connected node, this one included (same value as the legacy
    /// protocol's CTDB_BROADCAST_CONNECTED, so translation is the identity).
    pub const BROADCAST_CONNECTED: u32 = 0xF000_0004;
    /// Every connected node except this one.
    pub const BROADCAST_OTHERS: u32 = 0xF000_0010;

    /// Shorthand constructor.
    pub const fn new(node: u32, service: ServiceId) -> Endpoint {
        Endpoint { node, service }
    }
}

/// Header flags.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// This packet answers the request with the same reqid.
    pub const REPLY: Flags = Flags(0x1);

    /// No flags.
    pub const fn empty() -> Flags {
        Flags(0)
    }
    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// How the payload is encoded. Integer newtype: unknown kinds are reported,
/// not fatal to the reader's process.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kind(pub u16);

impl Kind {
    /// A typed control-plane message, JSON.
    pub const MSG: Kind = Kind(1);
    /// A legacy CTDB packet carried verbatim between gateways.
    pub const LEGACY: Kind = Kind(2);
    /// Link liveness only; empty payload.
    pub const KEEPALIVE: Kind = Kind(3);

    /// The payload version this node writes for the kind.
    pub fn payload_version(self) -> u16 {
        1
    }
}

/// The decoded header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Total length (computed on encode).
    pub length: u32,
    /// Version of the payload encoding.
    pub payload_version: u16,
    /// Where the packet goes.
    pub dst: Endpoint,
    /// Who sent it.
    pub src: Endpoint,
    /// [`Flags`] bits.
    pub flags: Flags,
    /// Payload encoding.
    pub kind: Kind,
    /// Request id chosen by the requester; a reply copies it.
    pub reqid: u64,
}

fn be_u16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}
fn be_u32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl Header {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.length.to_be_bytes());
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        out.extend_from_slice(&self.payload_version.to_be_bytes());
        out.extend_from_slice(&self.dst.node.to_be_bytes());
        out.extend_from_slice(&self.dst.service.0.to_be_bytes());
        out.extend_from_slice(&self.src.node.to_be_bytes());
        out.extend_from_slice(&self.src.service.0.to_be_bytes());
        out.extend_from_slice(&self.flags.0.to_be_bytes());
        out.extend_from_slice(&self.kind.0.to_be_bytes());
        out.extend_from_slice(&self.reqid.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
    }

    /// Check length, magic and version from the first 12 bytes; returns the
    /// total length.
    pub(crate) fn check_prefix(buf: &[u8]) -> Result<usize, DecodeError> {
        if buf.len() < 12 {
            return Err(DecodeError::Truncated { have: buf.len(), need: 12 });
        }
        let length = be_u32(buf, 0);
        let magic = be_u32(buf, 4);
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        let version = be_u16(buf, 8);
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        if (length as usize) < HEADER_LEN || length > MAX_PACKET_LEN {
            return Err(DecodeError::BadLength(length));
        }
        Ok(length as usize)
    }

    pub(crate) fn decode(buf: &[u8]) -> Result<Header, DecodeError> {
        let length = Header::check_prefix(buf)?;
        if buf.len() < HEADER_LEN {
            return Err(DecodeError::Truncated { have: buf.len(), need: HEADER_LEN });
        }
        Ok(Header {
            length: length as u32,
            payload_version: be_u16(buf, 10),
            dst: Endpoint::new(be_u32(buf, 12), ServiceId(be_u16(buf, 16))),
            src: Endpoint::new(be_u32(buf, 18), ServiceId(be_u16(buf, 22))),
            flags: Flags(be_u16(buf, 24)),
            kind: Kind(be_u16(buf, 26)),
            reqid: u64::from_be_bytes([buf[28], buf[29], buf[30], buf[31], buf[32], buf[33], buf[34], buf[35]]),
        })
    }
}
