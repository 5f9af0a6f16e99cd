//! Payloads that name message ports: pid/srvid pairs, reply addresses,
//! server ids, notify registrations and election messages.

use crate::error::ProtoError;
use crate::types::strings::TdbDataN;
use crate::types::time::Timeval;
use crate::wire::{len_u32, put_pad, skip_pad, take, to_usize, Wire};

/// `ctdb_pid_srvid` (CHECK_PID_SRVID): exactly 12 bytes, no padding.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct PidSrvid {
    /// Client process id.
    pub pid: i32,
    /// Port the client must have registered.
    pub srvid: u64,
}

impl Wire for PidSrvid {
    fn wire_len(&self) -> usize {
        12
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.pid.encode(out);
        self.srvid.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(PidSrvid { pid: i32::decode(buf)?, srvid: u64::decode(buf)? })
    }
}

/// `ctdb_srvid_message`: where to send the reply (TAKEOVER_RUN, MEM_DUMP).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct SrvidMessage {
    /// Node to reply to.
    pub pnn: u32,
    /// Port to reply to.
    pub srvid: u64,
}

impl Wire for SrvidMessage {
    fn wire_len(&self) -> usize {
        16
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.pnn.encode(out);
        put_pad(out, 4);
        self.srvid.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let pnn = u32::decode(buf)?;
        skip_pad(buf, 4, "srvid_message pad")?;
        Ok(SrvidMessage { pnn, srvid: u64::decode(buf)? })
    }
}

/// `ctdb_disable_message` (DISABLE_TAKEOVER_RUNS, DISABLE_RECOVERIES).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct DisableMessage {
    /// Node to reply to.
    pub pnn: u32,
    /// Port to reply to.
    pub srvid: u64,
    /// Seconds; 0 re-enables.
    pub timeout: u32,
}

impl Wire for DisableMessage {
    fn wire_len(&self) -> usize {
        24
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.pnn.encode(out);
        put_pad(out, 4);
        self.srvid.encode(out);
        self.timeout.encode(out);
        put_pad(out, 4);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let pnn = u32::decode(buf)?;
        skip_pad(buf, 4, "disable_message pad")?;
        let srvid = u64::decode(buf)?;
        let timeout = u32::decode(buf)?;
        skip_pad(buf, 4, "disable_message pad")?;
        Ok(DisableMessage { pnn, srvid, timeout })
    }
}

/// `ctdb_server_id` (24 bytes).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ServerId {
    /// Process id.
    pub pid: u64,
    /// Task id.
    pub task_id: u32,
    /// Node.
    pub vnn: u32,
    /// Random unique id.
    pub unique_id: u64,
}

impl Wire for ServerId {
    fn wire_len(&self) -> usize {
        24
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.pid.encode(out);
        self.task_id.encode(out);
        self.vnn.encode(out);
        self.unique_id.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(ServerId {
            pid: u64::decode(buf)?,
            task_id: u32::decode(buf)?,
            vnn: u32::decode(buf)?,
            unique_id: u64::decode(buf)?,
        })
    }
}

/// `ctdb_notify_data` (REGISTER_NOTIFY): message sent when the client goes.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct NotifyData {
    /// Port of the message.
    pub srvid: u64,
    /// Message body.
    pub data: Vec<u8>,
}

impl Wire for NotifyData {
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
        let len = u32::decode(buf)?;
        Ok(NotifyData { srvid, data: take(buf, to_usize(len), "notify_data")?.to_vec() })
    }
}

/// `ctdb_election_message` (ELECTION srvid).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ElectionMessage {
    /// Connected nodes the sender sees.
    pub num_connected: u32,
    /// When the sender started (older wins).
    pub priority_time: Timeval,
    /// Sender.
    pub pnn: u32,
    /// Sender's node flags.
    pub node_flags: u32,
}

impl Wire for ElectionMessage {
    fn wire_len(&self) -> usize {
        32
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.num_connected.encode(out);
        put_pad(out, 4);
        self.priority_time.encode(out);
        self.pnn.encode(out);
        self.node_flags.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let num_connected = u32::decode(buf)?;
        skip_pad(buf, 4, "election_message pad")?;
        Ok(ElectionMessage {
            num_connected,
            priority_time: Timeval::decode(buf)?,
            pnn: u32::decode(buf)?,
            node_flags: u32::decode(buf)?,
        })
    }
}

/// `ctdb_echo_data` (ECHO_DATA in and out).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct EchoData {
    /// Milliseconds to wait before answering.
    pub timeout: u32,
    /// Bytes to echo.
    pub buf: Vec<u8>,
}

impl Wire for EchoData {
    fn wire_len(&self) -> usize {
        8 + self.buf.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.timeout.encode(out);
        len_u32(self.buf.len()).encode(out);
        out.extend_from_slice(&self.buf);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let timeout = u32::decode(buf)?;
        Ok(EchoData { timeout, buf: TdbDataN::decode(buf)?.0 })
    }
}
