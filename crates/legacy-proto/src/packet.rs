//! Packet framing: the 32-byte header and the ten operations.
//!
//! Layout facts (protocol notes 1.2–1.4): every packet starts with the
//! header; `length` counts the whole packet. ctdbd and the `ctdb` tool pad
//! every packet to a multiple of 8 and put the padded size in `length`;
//! Samba's smbd sends unpadded packets. Receivers find payloads by their inner
//! length fields, so trailing pad bytes are always accepted.

use crate::error::ProtoError;
use crate::opcode::{Opcode, Operation};
use crate::wire::{len_u32, put_pad, skip_pad, take, take_array, to_usize, Wire};
use crate::{CTDB_MAGIC, CTDB_PROTOCOL, HEADER_LEN, MAX_PACKET_LEN};

/// The 32-byte header in front of every packet.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Header {
    /// Whole packet length, header included (computed on encode).
    pub length: u32,
    /// [`CTDB_MAGIC`].
    pub magic: u32,
    /// [`CTDB_PROTOCOL`].
    pub version: u32,
    /// Sender's vnnmap generation (clients send 0, Samba messages 1).
    pub generation: u32,
    /// What follows the header.
    pub operation: Operation,
    /// Destination pnn or a [`crate::pnn`] special value.
    pub destnode: u32,
    /// Sender pnn.
    pub srcnode: u32,
    /// Request id, copied into the reply; 0 for messages.
    pub reqid: u32,
}

impl Header {
    /// A header with the right magic and version, generation 0 and length 0
    /// (filled in by [`Frame::encode`]).
    pub fn new(operation: Operation, destnode: u32, srcnode: u32, reqid: u32) -> Header {
        Header {
            length: 0,
            magic: CTDB_MAGIC,
            version: CTDB_PROTOCOL,
            generation: 0,
            operation,
            destnode,
            srcnode,
            reqid,
        }
    }

    /// Decode and check a header from the front of a packet without looking
    /// at the payload (what a router needs). Checks magic, version and that
    /// `length` is within `HEADER_LEN..=MAX_PACKET_LEN`; the operation may be
    /// unknown.
    pub fn decode_checked(buf: &[u8]) -> Result<Header, ProtoError> {
        let header = Header::from_prefix(buf)?;
        header.check()?;
        Ok(header)
    }

    fn check(&self) -> Result<(), ProtoError> {
        if self.magic != CTDB_MAGIC {
            return Err(ProtoError::BadMagic(self.magic));
        }
        if self.version != CTDB_PROTOCOL {
            return Err(ProtoError::BadVersion(self.version));
        }
        if to_usize(self.length) < HEADER_LEN || self.length > MAX_PACKET_LEN {
            return Err(ProtoError::BadLength(self.length));
        }
        Ok(())
    }
}

impl Wire for Header {
    fn wire_len(&self) -> usize {
        HEADER_LEN
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.length,
            self.magic,
            self.version,
            self.generation,
            self.operation.0,
            self.destnode,
            self.srcnode,
            self.reqid,
        ] {
            v.encode(out);
        }
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let mut b = take(buf, HEADER_LEN, "packet header")?;
        Ok(Header {
            length: u32::decode(&mut b)?,
            magic: u32::decode(&mut b)?,
            version: u32::decode(&mut b)?,
            generation: u32::decode(&mut b)?,
            operation: Operation(u32::decode(&mut b)?),
            destnode: u32::decode(&mut b)?,
            srcnode: u32::decode(&mut b)?,
            reqid: u32::decode(&mut b)?,
        })
    }
}

/// Decode a u32 length field and the bytes it counts.
fn take_counted<'a>(buf: &mut &'a [u8], len: u32, what: &'static str) -> Result<&'a [u8], ProtoError> {
    take(buf, to_usize(len), what)
}

/// REQ_CALL: run a call function on a record.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReqCall {
    /// [`crate::call`] flags.
    pub flags: u32,
    /// Database id.
    pub db_id: u32,
    /// Call function id ([`crate::call::NULL_FUNC`], ...).
    pub callid: u32,
    /// Forwarding hop count.
    pub hopcount: u32,
    /// Record key.
    pub key: Vec<u8>,
    /// Call function argument.
    pub calldata: Vec<u8>,
}

impl Wire for ReqCall {
    fn wire_len(&self) -> usize {
        24 + self.key.len() + self.calldata.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.flags.encode(out);
        self.db_id.encode(out);
        self.callid.encode(out);
        self.hopcount.encode(out);
        len_u32(self.key.len()).encode(out);
        len_u32(self.calldata.len()).encode(out);
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.calldata);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let flags = u32::decode(buf)?;
        let db_id = u32::decode(buf)?;
        let callid = u32::decode(buf)?;
        let hopcount = u32::decode(buf)?;
        let keylen = u32::decode(buf)?;
        let calldatalen = u32::decode(buf)?;
        let key = take_counted(buf, keylen, "REQ_CALL key")?.to_vec();
        let calldata = take_counted(buf, calldatalen, "REQ_CALL calldata")?.to_vec();
        Ok(ReqCall { flags, db_id, callid, hopcount, key, calldata })
    }
}

/// REPLY_CALL: result of a call.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReplyCall {
    /// Call status.
    pub status: i32,
    /// Call function output.
    pub data: Vec<u8>,
}

impl Wire for ReplyCall {
    fn wire_len(&self) -> usize {
        8 + self.data.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.status.encode(out);
        len_u32(self.data.len()).encode(out);
        out.extend_from_slice(&self.data);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let status = i32::decode(buf)?;
        let datalen = u32::decode(buf)?;
        let data = take_counted(buf, datalen, "REPLY_CALL data")?.to_vec();
        Ok(ReplyCall { status, data })
    }
}

/// REQ_DMASTER (node to node): the lmaster tells the new dmaster.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReqDmaster {
    /// Database id.
    pub db_id: u32,
    /// Record sequence number.
    pub rsn: u64,
    /// The new dmaster.
    pub dmaster: u32,
    /// Record key.
    pub key: Vec<u8>,
    /// Record data.
    pub data: Vec<u8>,
    /// Record flags, a u32 after the data that `datalen` does not count.
    pub record_flags: u32,
}

impl Wire for ReqDmaster {
    fn wire_len(&self) -> usize {
        28 + self.key.len() + self.data.len() + 4
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        put_pad(out, 4);
        self.rsn.encode(out);
        self.dmaster.encode(out);
        len_u32(self.key.len()).encode(out);
        len_u32(self.data.len()).encode(out);
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.data);
        self.record_flags.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let db_id = u32::decode(buf)?;
        skip_pad(buf, 4, "REQ_DMASTER pad")?;
        let rsn = u64::decode(buf)?;
        let dmaster = u32::decode(buf)?;
        let keylen = u32::decode(buf)?;
        let datalen = u32::decode(buf)?;
        let key = take_counted(buf, keylen, "REQ_DMASTER key")?.to_vec();
        let data = take_counted(buf, datalen, "REQ_DMASTER data")?.to_vec();
        let record_flags = u32::decode(buf)?;
        Ok(ReqDmaster { db_id, rsn, dmaster, key, data, record_flags })
    }
}

/// REPLY_DMASTER (node to node): the record handed to the new dmaster.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReplyDmaster {
    /// Database id.
    pub db_id: u32,
    /// Record sequence number.
    pub rsn: u64,
    /// Record key.
    pub key: Vec<u8>,
    /// Record data.
    pub data: Vec<u8>,
    /// Record flags, a u32 after the data that `datalen` does not count.
    pub record_flags: u32,
}

impl Wire for ReplyDmaster {
    fn wire_len(&self) -> usize {
        24 + self.key.len() + self.data.len() + 4
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        put_pad(out, 4);
        self.rsn.encode(out);
        len_u32(self.key.len()).encode(out);
        len_u32(self.data.len()).encode(out);
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.data);
        self.record_flags.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let db_id = u32::decode(buf)?;
        skip_pad(buf, 4, "REPLY_DMASTER pad")?;
        let rsn = u64::decode(buf)?;
        let keylen = u32::decode(buf)?;
        let datalen = u32::decode(buf)?;
        let key = take_counted(buf, keylen, "REPLY_DMASTER key")?.to_vec();
        let data = take_counted(buf, datalen, "REPLY_DMASTER data")?.to_vec();
        let record_flags = u32::decode(buf)?;
        Ok(ReplyDmaster { db_id, rsn, key, data, record_flags })
    }
}

/// REPLY_ERROR (node to node): a call failed.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReplyError {
    /// Error status.
    pub status: i32,
    /// Message bytes as sent (ctdbd includes the terminating NUL).
    pub msg: Vec<u8>,
}

impl Wire for ReplyError {
    fn wire_len(&self) -> usize {
        8 + self.msg.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.status.encode(out);
        len_u32(self.msg.len()).encode(out);
        out.extend_from_slice(&self.msg);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let status = i32::decode(buf)?;
        let msglen = u32::decode(buf)?;
        let msg = take_counted(buf, msglen, "REPLY_ERROR msg")?.to_vec();
        Ok(ReplyError { status, msg })
    }
}

/// REQ_MESSAGE: a message to every registration of `srvid`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReqMessage {
    /// Destination port.
    pub srvid: u64,
    /// Opaque message body.
    pub data: Vec<u8>,
}

impl Wire for ReqMessage {
    fn wire_len(&self) -> usize {
        12 + self.data.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.srvid.encode(out);
        len_u32(self.data.len()).encode(out);
        out.extend_from_slice(&self.data);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let srvid = u64::decode(buf)?;
        let datalen = u32::decode(buf)?;
        let data = take_counted(buf, datalen, "REQ_MESSAGE data")?.to_vec();
        Ok(ReqMessage { srvid, data })
    }
}

/// REQ_CONTROL: a control request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReqControl {
    /// Which control.
    pub opcode: Opcode,
    /// Opcode-specific 64-bit argument (REGISTER_SRVID's port, ...).
    pub srvid: u64,
    /// 0 from clients; ctdbd overwrites it with its connection id.
    pub client_id: u32,
    /// [`crate::ctrl_flags`].
    pub flags: u32,
    /// Input payload.
    pub data: Vec<u8>,
}

impl Wire for ReqControl {
    fn wire_len(&self) -> usize {
        28 + self.data.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.opcode.0.encode(out);
        put_pad(out, 4);
        self.srvid.encode(out);
        self.client_id.encode(out);
        self.flags.encode(out);
        len_u32(self.data.len()).encode(out);
        out.extend_from_slice(&self.data);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let opcode = Opcode(u32::decode(buf)?);
        skip_pad(buf, 4, "REQ_CONTROL pad")?;
        let srvid = u64::decode(buf)?;
        let client_id = u32::decode(buf)?;
        let flags = u32::decode(buf)?;
        let datalen = u32::decode(buf)?;
        let data = take_counted(buf, datalen, "REQ_CONTROL data")?.to_vec();
        Ok(ReqControl { opcode, srvid, client_id, flags, data })
    }
}

/// REPLY_CONTROL: the answer to a control.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReplyControl {
    /// 0 for success, or the value some controls return here.
    pub status: i32,
    /// Output payload (ctdbd sends it even when status is not 0).
    pub data: Vec<u8>,
    /// Error text: `errorlen` bytes, no NUL on the wire. An empty message is
    /// the same as none. Decoded lossily: ctdbd's messages are ASCII.
    pub errmsg: Option<String>,
}

impl Wire for ReplyControl {
    fn wire_len(&self) -> usize {
        12 + self.data.len() + self.errmsg.as_ref().map_or(0, String::len)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        let err = self.errmsg.as_deref().unwrap_or("").as_bytes();
        self.status.encode(out);
        len_u32(self.data.len()).encode(out);
        len_u32(err.len()).encode(out);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(err);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let status = i32::decode(buf)?;
        let datalen = u32::decode(buf)?;
        let errorlen = u32::decode(buf)?;
        let data = take_counted(buf, datalen, "REPLY_CONTROL data")?.to_vec();
        let err = take_counted(buf, errorlen, "REPLY_CONTROL errmsg")?;
        let errmsg = if err.is_empty() { None } else { Some(String::from_utf8_lossy(err).into_owned()) };
        Ok(ReplyControl { status, data, errmsg })
    }
}

/// REQ_KEEPALIVE (node to node).
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub struct ReqKeepalive {
    /// Samba version, `(major << 16) | minor` (4.17 = 0x0004_0011).
    pub version: u32,
    /// Seconds since ctdbd started.
    pub uptime: u32,
}

impl Wire for ReqKeepalive {
    fn wire_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.version.encode(out);
        self.uptime.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(ReqKeepalive { version: u32::decode(buf)?, uptime: u32::decode(buf)? })
    }
}

/// REQ_TUNNEL: data for a registered tunnel.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReqTunnel {
    /// Tunnel id.
    pub tunnel_id: u64,
    /// [`crate::tunnel_flags`].
    pub flags: u32,
    /// Tunnel payload.
    pub data: Vec<u8>,
}

impl Wire for ReqTunnel {
    fn wire_len(&self) -> usize {
        16 + self.data.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.tunnel_id.encode(out);
        self.flags.encode(out);
        len_u32(self.data.len()).encode(out);
        out.extend_from_slice(&self.data);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let tunnel_id = u64::decode(buf)?;
        let flags = u32::decode(buf)?;
        let datalen = u32::decode(buf)?;
        let data = take_counted(buf, datalen, "REQ_TUNNEL data")?.to_vec();
        Ok(ReqTunnel { tunnel_id, flags, data })
    }
}

/// The payload of a packet, one variant per operation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Packet {
    /// Operation 0.
    ReqCall(ReqCall),
    /// Operation 1.
    ReplyCall(ReplyCall),
    /// Operation 2.
    ReqDmaster(ReqDmaster),
    /// Operation 3.
    ReplyDmaster(ReplyDmaster),
    /// Operation 4.
    ReplyError(ReplyError),
    /// Operation 5.
    ReqMessage(ReqMessage),
    /// Operation 7.
    ReqControl(ReqControl),
    /// Operation 8.
    ReplyControl(ReplyControl),
    /// Operation 9.
    ReqKeepalive(ReqKeepalive),
    /// Operation 10.
    ReqTunnel(ReqTunnel),
}

impl Packet {
    /// The header operation that carries this payload.
    pub fn operation(&self) -> Operation {
        match self {
            Packet::ReqCall(_) => Operation::REQ_CALL,
            Packet::ReplyCall(_) => Operation::REPLY_CALL,
            Packet::ReqDmaster(_) => Operation::REQ_DMASTER,
            Packet::ReplyDmaster(_) => Operation::REPLY_DMASTER,
            Packet::ReplyError(_) => Operation::REPLY_ERROR,
            Packet::ReqMessage(_) => Operation::REQ_MESSAGE,
            Packet::ReqControl(_) => Operation::REQ_CONTROL,
            Packet::ReplyControl(_) => Operation::REPLY_CONTROL,
            Packet::ReqKeepalive(_) => Operation::REQ_KEEPALIVE,
            Packet::ReqTunnel(_) => Operation::REQ_TUNNEL,
        }
    }

    /// `sizeof` of ctdbd's C structure for this operation (header, fixed
    /// fields and the one-byte `data[1]` placeholder, rounded to the
    /// structure's alignment). ctdbd never sends a packet shorter than
    /// this: an empty REPLY_CALL is 48 bytes on the wire, not 40.
    pub fn c_struct_len(&self) -> usize {
        match self {
            Packet::ReqCall(_) => 60,
            Packet::ReplyCall(_) => 44,
            Packet::ReqDmaster(_) => 64,
            Packet::ReplyDmaster(_) => 64,
            Packet::ReplyError(_) => 44,
            Packet::ReqMessage(_) => 48,
            Packet::ReqControl(_) => 64,
            Packet::ReplyControl(_) => 48,
            Packet::ReqKeepalive(_) => 40,
            Packet::ReqTunnel(_) => 56,
        }
    }

    fn payload_len(&self) -> usize {
        match self {
            Packet::ReqCall(p) => p.wire_len(),
            Packet::ReplyCall(p) => p.wire_len(),
            Packet::ReqDmaster(p) => p.wire_len(),
            Packet::ReplyDmaster(p) => p.wire_len(),
            Packet::ReplyError(p) => p.wire_len(),
            Packet::ReqMessage(p) => p.wire_len(),
            Packet::ReqControl(p) => p.wire_len(),
            Packet::ReplyControl(p) => p.wire_len(),
            Packet::ReqKeepalive(p) => p.wire_len(),
            Packet::ReqTunnel(p) => p.wire_len(),
        }
    }

    fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Packet::ReqCall(p) => p.encode(out),
            Packet::ReplyCall(p) => p.encode(out),
            Packet::ReqDmaster(p) => p.encode(out),
            Packet::ReplyDmaster(p) => p.encode(out),
            Packet::ReplyError(p) => p.encode(out),
            Packet::ReqMessage(p) => p.encode(out),
            Packet::ReqControl(p) => p.encode(out),
            Packet::ReplyControl(p) => p.encode(out),
            Packet::ReqKeepalive(p) => p.encode(out),
            Packet::ReqTunnel(p) => p.encode(out),
        }
    }

    fn decode_payload(op: Operation, buf: &mut &[u8]) -> Result<Packet, ProtoError> {
        Ok(match op {
            Operation::REQ_CALL => Packet::ReqCall(ReqCall::decode(buf)?),
            Operation::REPLY_CALL => Packet::ReplyCall(ReplyCall::decode(buf)?),
            Operation::REQ_DMASTER => Packet::ReqDmaster(ReqDmaster::decode(buf)?),
            Operation::REPLY_DMASTER => Packet::ReplyDmaster(ReplyDmaster::decode(buf)?),
            Operation::REPLY_ERROR => Packet::ReplyError(ReplyError::decode(buf)?),
            Operation::REQ_MESSAGE => Packet::ReqMessage(ReqMessage::decode(buf)?),
            Operation::REQ_CONTROL => Packet::ReqControl(ReqControl::decode(buf)?),
            Operation::REPLY_CONTROL => Packet::ReplyControl(ReplyControl::decode(buf)?),
            Operation::REQ_KEEPALIVE => Packet::ReqKeepalive(ReqKeepalive::decode(buf)?),
            Operation::REQ_TUNNEL => Packet::ReqTunnel(ReqTunnel::decode(buf)?),
            Operation(other) => return Err(ProtoError::UnknownOperation(other)),
        })
    }
}

/// One whole packet: header and payload.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Frame {
    /// The header. On encode `length` is computed and `operation` is taken
    /// from the packet variant; the stored values are ignored.
    pub header: Header,
    /// The payload.
    pub packet: Packet,
}

impl Frame {
    /// A frame with a fresh header (generation 0) for `packet`.
    pub fn new(packet: Packet, destnode: u32, srcnode: u32, reqid: u32) -> Frame {
        Frame { header: Header::new(packet.operation(), destnode, srcnode, reqid), packet }
    }

    /// Decode one whole packet: `buf` is exactly `length` bytes as read off
    /// the socket (see [`peek_packet_len`]).
    ///
    /// Checks magic, version, `32 <= length <= MAX_PACKET_LEN`,
    /// `length == buf.len()`, a known operation and that every inner length
    /// stays inside the buffer. Bytes after the payload (padding) are
    /// allowed.
    pub fn decode(buf: &[u8]) -> Result<Frame, ProtoError> {
        let header = Header::from_prefix(buf)?;
        header.check()?;
        let length = to_usize(header.length);
        if buf.len() < length {
            return Err(ProtoError::Truncated { what: "packet", need: length, have: buf.len() });
        }
        if buf.len() > length {
            return Err(ProtoError::BadLength(header.length));
        }
        let mut payload = &buf[HEADER_LEN..];
        let packet = Packet::decode_payload(header.operation, &mut payload)?;
        Ok(Frame { header, packet })
    }

    /// Encode the packet. With `pad8` the length is rounded up to a multiple
    /// of 8 with zero fill, as ctdbd and the `ctdb` tool send; without, the
    /// packet is as short as possible, as Samba's smbd sends.
    ///
    /// Padding also brings the packet up to [`Packet::c_struct_len`] first,
    /// because ctdbd sizes packets as `max(contents, sizeof(struct))`; for
    /// every packet the `ctdb` tool sends this makes no difference.
    ///
    /// # Panics
    /// If a payload field is longer than 4 GiB (a caller bug; use
    /// [`Frame::try_encode`] to bound untrusted sizes).
    pub fn encode(&self, pad8: bool) -> Vec<u8> {
        let unpadded = HEADER_LEN + self.packet.payload_len();
        let total = if pad8 { unpadded.max(self.packet.c_struct_len()).next_multiple_of(8) } else { unpadded };
        let mut out = Vec::with_capacity(total);
        let header = Header { length: len_u32(total), operation: self.packet.operation(), ..self.header };
        header.encode(&mut out);
        self.packet.encode_payload(&mut out);
        put_pad(&mut out, total - unpadded);
        out
    }

    /// [`Frame::encode`], refusing packets longer than [`MAX_PACKET_LEN`]
    /// (which a peer would refuse to read).
    pub fn try_encode(&self, pad8: bool) -> Result<Vec<u8>, ProtoError> {
        let total = (HEADER_LEN + self.packet.payload_len()).max(self.packet.c_struct_len()) + 7;
        if total > to_usize(MAX_PACKET_LEN) {
            return Err(ProtoError::BadLength(u32::try_from(total).unwrap_or(u32::MAX)));
        }
        Ok(self.encode(pad8))
    }
}

/// How long is the next packet in a stream buffer?
///
/// `Ok(None)` while fewer than 4 bytes are buffered. Errors for a length of
/// 0 (ctdbd tears such a connection down), below the header size, or above
/// [`MAX_PACKET_LEN`]: check before allocating for the packet.
pub fn peek_packet_len(buf: &[u8]) -> Result<Option<usize>, ProtoError> {
    let Some(first) = buf.get(..4) else {
        return Ok(None);
    };
    let mut first = first;
    let length = u32::from_le_bytes(take_array(&mut first, "packet length")?);
    if to_usize(length) < HEADER_LEN || length > MAX_PACKET_LEN {
        return Err(ProtoError::BadLength(length));
    }
    Ok(Some(to_usize(length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_pads_to_8_and_writes_padded_length() {
        let f = Frame::new(
            Packet::ReqControl(ReqControl { opcode: Opcode::GET_PNN, srvid: 0, client_id: 0, flags: 0, data: vec![] }),
            crate::pnn::CURRENT_NODE,
            0,
            1,
        );
        let padded = f.encode(true);
        assert_eq!(padded.len(), 64);
        assert_eq!(&padded[..4], &64u32.to_le_bytes());
        let unpadded = f.encode(false);
        assert_eq!(unpadded.len(), 60);
        assert_eq!(&unpadded[..4], &60u32.to_le_bytes());
        let mut expect = f.clone();
        expect.header.length = 64;
        assert_eq!(Frame::decode(&padded), Ok(expect.clone()));
        expect.header.length = 60;
        assert_eq!(Frame::decode(&unpadded), Ok(expect));
    }

    #[test]
    fn padding_never_goes_below_the_c_struct_size() {
        // Captured: ctdbd sends an empty REPLY_CALL as 48 bytes.
        let empty_reply = Frame::new(Packet::ReplyCall(ReplyCall::default()), 0, 0, 1);
        assert_eq!(empty_reply.encode(false).len(), 40);
        assert_eq!(empty_reply.encode(true).len(), 48);
        let tunnel = Frame::new(Packet::ReqTunnel(ReqTunnel::default()), 0, 0, 1);
        assert_eq!(tunnel.encode(true).len(), 56);
        let keepalive = Frame::new(Packet::ReqKeepalive(ReqKeepalive::default()), 0, 0, 0);
        assert_eq!(keepalive.encode(true).len(), 40);
        let message = Frame::new(Packet::ReqMessage(ReqMessage { srvid: 1, data: vec![0; 4] }), 0, 0, 0);
        assert_eq!(message.encode(true).len(), 48);
    }

    #[test]
    fn decode_checks_the_header() {
        let mut b = Frame::new(Packet::ReqKeepalive(ReqKeepalive::default()), 0, 1, 0).encode(true);
        assert!(Frame::decode(&b).is_ok());
        assert!(matches!(Frame::decode(&b[..39]), Err(ProtoError::Truncated { need: 40, .. })));
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(Frame::decode(&longer), Err(ProtoError::BadLength(40)));
        b[8] = 2;
        assert_eq!(Frame::decode(&b), Err(ProtoError::BadVersion(2)));
        b[8] = 1;
        b[4] = 0;
        assert!(matches!(Frame::decode(&b), Err(ProtoError::BadMagic(_))));
        b[4] = 0x42;
        b[16] = 6;
        assert_eq!(Frame::decode(&b), Err(ProtoError::UnknownOperation(6)));
    }

    #[test]
    fn peek_len_bounds() {
        assert_eq!(peek_packet_len(&[1, 2, 3]), Ok(None));
        assert_eq!(peek_packet_len(&[0, 0, 0, 0]), Err(ProtoError::BadLength(0)));
        assert_eq!(peek_packet_len(&[31, 0, 0, 0]), Err(ProtoError::BadLength(31)));
        assert_eq!(peek_packet_len(&[32, 0, 0, 0, 9]), Ok(Some(32)));
        assert!(peek_packet_len(&(MAX_PACKET_LEN + 1).to_le_bytes()).is_err());
    }

    #[test]
    fn inner_length_beyond_the_buffer_is_truncated() {
        let mut b = Frame::new(Packet::ReqMessage(ReqMessage { srvid: 1, data: vec![1, 2, 3] }), 0, 0, 0).encode(true);
        b[40] = 200;
        assert!(matches!(Frame::decode(&b), Err(ProtoError::Truncated { .. })));
    }
}
