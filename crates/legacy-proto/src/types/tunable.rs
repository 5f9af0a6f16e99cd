//! Tunables on the wire: SET_TUNABLE input, LIST_TUNABLES output,
//! GET_ALL_TUNABLES output. The names, defaults and list order live in one
//! place, `ctdb_config::TUNABLES`.

use crate::error::ProtoError;
use crate::types::strings::StringN;
use crate::wire::{len_u32, take, to_usize, until_nul, utf8, Wire};

/// Number of u32 slots in `ctdb_tunable_list`.
pub const NUM_TUNABLES: usize = 62;

/// `ctdb_tunable` (SET_TUNABLE input): u32 value, then the name as stringn.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TunableSet {
    /// New value.
    pub value: u32,
    /// Tunable name.
    pub name: String,
}

impl Wire for TunableSet {
    fn wire_len(&self) -> usize {
        4 + StringN::len_of(&self.name)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.value.encode(out);
        StringN::encode_str(&self.name, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(TunableSet { value: u32::decode(buf)?, name: StringN::decode_str(buf)? })
    }
}

/// `ctdb_var_list` (LIST_TUNABLES output): u32 length of the text including
/// its NUL, then the names joined by `:`.
///
/// ctdbd 4.17 writes a leading `:` (":SeqnumInterval:ControlTimeout:…"), and
/// so does [`Wire::encode`]; decoding skips empty names.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct VarList {
    /// Tunable names (without `:` or NUL).
    pub names: Vec<String>,
}

impl VarList {
    fn text_len(&self) -> usize {
        self.names.iter().map(|n| n.len() + 1).sum()
    }
}

impl Wire for VarList {
    fn wire_len(&self) -> usize {
        4 + self.text_len() + 1
    }
    fn encode(&self, out: &mut Vec<u8>) {
        len_u32(self.text_len() + 1).encode(out);
        for name in &self.names {
            out.push(b':');
            out.extend_from_slice(name.as_bytes());
        }
        out.push(0);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let len = u32::decode(buf)?;
        let bytes = take(buf, to_usize(len), "var_list")?;
        let text = utf8(until_nul(bytes), "var_list is not UTF-8")?;
        Ok(VarList { names: text.split(':').filter(|s| !s.is_empty()).map(str::to_owned).collect() })
    }
}

/// `ctdb_tunable_list` (GET_ALL_TUNABLES output): 62 u32 in struct order.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct TunableList {
    /// Values in struct (slot) order.
    pub values: [u32; NUM_TUNABLES],
}

impl Wire for TunableList {
    fn wire_len(&self) -> usize {
        4 * NUM_TUNABLES
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.values.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(TunableList { values: <[u32; NUM_TUNABLES]>::decode(buf)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_list_has_a_leading_colon() {
        let v = VarList { names: vec!["A".into(), "Bc".into()] };
        assert_eq!(v.to_bytes(), b"\x06\0\0\0:A:Bc\0");
        assert_eq!(VarList::from_bytes(&v.to_bytes()), Ok(v));
        assert_eq!(
            VarList::from_bytes(b"\x05\0\0\0A::B\0").map(|v| v.names),
            Ok(vec!["A".to_string(), "B".to_string()])
        );
    }
}
