//! Node map, vnn map, ban state and flag changes.

use crate::error::ProtoError;
use crate::types::addr::{SockAddr, SOCK_ADDR_LEN};
use crate::wire::{decode_vec, encode_all, len_all, len_u32, Wire};

/// `ctdb_node_and_flags` (36 bytes).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct NodeAndFlags {
    /// Node number.
    pub pnn: u32,
    /// [`crate::flags`].
    pub flags: u32,
    /// Node address (port 4379).
    pub addr: SockAddr,
}

impl Wire for NodeAndFlags {
    fn wire_len(&self) -> usize {
        8 + SOCK_ADDR_LEN
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.pnn.encode(out);
        self.flags.encode(out);
        self.addr.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(NodeAndFlags { pnn: u32::decode(buf)?, flags: u32::decode(buf)?, addr: SockAddr::decode(buf)? })
    }
}

/// `ctdb_node_map`: u32 count, then the entries (GET_NODEMAP,
/// GET_NODES_FILE).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct NodeMap {
    /// The nodes, in pnn order as ctdbd sends them.
    pub nodes: Vec<NodeAndFlags>,
}

impl Wire for NodeMap {
    fn wire_len(&self) -> usize {
        4 + len_all(&self.nodes)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        len_u32(self.nodes.len()).encode(out);
        encode_all(&self.nodes, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let num = u32::decode(buf)?;
        Ok(NodeMap { nodes: decode_vec(buf, num, 8 + SOCK_ADDR_LEN, "node_map")? })
    }
}

/// `ctdb_vnn_map`: generation, u32 size, then the lmaster of each hash slot.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct VnnMap {
    /// Database generation.
    pub generation: u32,
    /// `map[i]` = pnn of the lmaster for hash slot `i`.
    pub map: Vec<u32>,
}

impl Wire for VnnMap {
    fn wire_len(&self) -> usize {
        8 + 4 * self.map.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.generation.encode(out);
        len_u32(self.map.len()).encode(out);
        encode_all(&self.map, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let generation = u32::decode(buf)?;
        let size = u32::decode(buf)?;
        Ok(VnnMap { generation, map: decode_vec(buf, size, 4, "vnn_map")? })
    }
}

/// `ctdb_ban_state` (SET_BAN_STATE, GET_BAN_STATE).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct BanState {
    /// Node number.
    pub pnn: u32,
    /// Ban time in seconds; 0 unbans.
    pub time: u32,
}

impl Wire for BanState {
    fn wire_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.pnn.encode(out);
        self.time.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(BanState { pnn: u32::decode(buf)?, time: u32::decode(buf)? })
    }
}

/// `ctdb_node_flag_change` (MODIFY_FLAGS, PUSH_NODE_FLAGS message).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct NodeFlagChange {
    /// Node number.
    pub pnn: u32,
    /// Flags after the change.
    pub new_flags: u32,
    /// Flags before the change.
    pub old_flags: u32,
}

impl Wire for NodeFlagChange {
    fn wire_len(&self) -> usize {
        12
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.pnn.encode(out);
        self.new_flags.encode(out);
        self.old_flags.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(NodeFlagChange { pnn: u32::decode(buf)?, new_flags: u32::decode(buf)?, old_flags: u32::decode(buf)? })
    }
}
