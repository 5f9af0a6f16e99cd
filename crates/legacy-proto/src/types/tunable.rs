//! Tunables: SET_TUNABLE input, LIST_TUNABLES output, GET_ALL_TUNABLES
//! output, and the table of names and defaults (protocol notes 6.8).

use crate::error::ProtoError;
use crate::types::strings::StringN;
use crate::wire::{len_u32, take, to_usize, until_nul, utf8, Wire};

/// Number of u32 slots in `ctdb_tunable_list`.
pub const NUM_TUNABLES: usize = 62;

/// One tunable of ctdbd 4.17.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct TunableInfo {
    /// Name as Samba spells it (lookups are case-insensitive).
    pub name: &'static str,
    /// Default value.
    pub default: u32,
    /// Obsolete: accepted by SET/GET_TUNABLE (SET answers 1) but never listed.
    pub obsolete: bool,
}

const fn t(name: &'static str, default: u32) -> TunableInfo {
    TunableInfo { name, default, obsolete: false }
}

const fn obsolete(name: &'static str, default: u32) -> TunableInfo {
    TunableInfo { name, default, obsolete: true }
}

/// Every tunable in `ctdb_tunable_list` struct order: `TUNABLES[i]` is slot
/// `i` of [`TunableList::values`].
pub const TUNABLES: [TunableInfo; NUM_TUNABLES] = [
    obsolete("MaxRedirectCount", 3),
    t("SeqnumInterval", 1000),
    t("ControlTimeout", 60),
    t("TraverseTimeout", 20),
    t("KeepaliveInterval", 5),
    t("KeepaliveLimit", 5),
    t("RecoverTimeout", 30),
    t("RecoverInterval", 1),
    t("ElectionTimeout", 3),
    t("TakeoverTimeout", 9),
    t("MonitorInterval", 15),
    t("TickleUpdateInterval", 20),
    t("EventScriptTimeout", 30),
    t("MonitorTimeoutCount", 20),
    obsolete("EventScriptUnhealthyOnTimeout", 0),
    t("RecoveryGracePeriod", 120),
    t("RecoveryBanPeriod", 300),
    t("DatabaseHashSize", 100001),
    t("DatabaseMaxDead", 5),
    t("RerecoveryTimeout", 10),
    t("EnableBans", 1),
    obsolete("DeterministicIPs", 0),
    obsolete("ReclockPingPeriod", 60),
    t("NoIPFailback", 0),
    obsolete("DisableIPFailover", 0),
    t("VerboseMemoryNames", 0),
    t("RecdPingTimeout", 60),
    t("RecdFailCount", 10),
    t("LogLatencyMs", 0),
    t("RecLockLatencyMs", 1000),
    t("RecoveryDropAllIPs", 120),
    obsolete("VerifyRecoveryLock", 1),
    t("VacuumInterval", 10),
    t("VacuumMaxRunTime", 120),
    t("RepackLimit", 10000),
    obsolete("VacuumLimit", 5000),
    t("MaxQueueDropMsg", 1000000),
    t("AllowUnhealthyDBRead", 0),
    t("StatHistoryInterval", 1),
    t("DeferredAttachTO", 120),
    t("VacuumFastPathCount", 60),
    obsolete("LCP2PublicIPs", 1),
    t("AllowClientDBAttach", 1),
    obsolete("RecoverPDBBySeqNum", 1),
    obsolete("DeferredRebalanceOnNodeAdd", 300),
    t("FetchCollapse", 1),
    t("HopcountMakeSticky", 50),
    t("StickyDuration", 600),
    t("StickyPindown", 200),
    t("NoIPTakeover", 0),
    t("DBRecordCountWarn", 100000),
    t("DBRecordSizeWarn", 10000000),
    t("DBSizeWarn", 100000000),
    t("PullDBPreallocation", 10 * 1024 * 1024),
    obsolete("NoIPHostOnAllDisabled", 1),
    obsolete("Samba3AvoidDeadlocks", 0),
    obsolete("TDBMutexEnabled", 1),
    t("LockProcessesPerDB", 200),
    t("RecBufferSizeLimit", 1000000),
    t("QueueBufferSize", 1024),
    t("IPAllocAlgorithm", 2),
    t("AllowMixedVersions", 0),
];

/// Struct slots of the non-obsolete tunables in LIST_TUNABLES order (which
/// follows ctdbd's name table, not the struct: VacuumFastPathCount is slot
/// 40 but listed 30th).
pub const LIST_ORDER: [usize; 49] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 23, 25, 26, 27, 28, 29, 30, 32, 33, 34, 40, 36,
    37, 38, 39, 42, 45, 46, 47, 48, 49, 50, 51, 52, 53, 57, 58, 59, 60, 61,
];

/// The struct slot of a tunable, by case-insensitive name.
pub fn tunable_slot(name: &str) -> Option<usize> {
    TUNABLES.iter().position(|t| t.name.eq_ignore_ascii_case(name))
}

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
    /// Slot `i` is [`TUNABLES`]`[i]`.
    pub values: [u32; NUM_TUNABLES],
}

impl Default for TunableList {
    /// ctdbd's defaults.
    fn default() -> Self {
        let mut values = [0; NUM_TUNABLES];
        for (v, t) in values.iter_mut().zip(TUNABLES.iter()) {
            *v = t.default;
        }
        TunableList { values }
    }
}

impl TunableList {
    /// Value of a tunable by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<u32> {
        tunable_slot(name).map(|i| self.values[i])
    }
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
    fn list_order_covers_every_listed_tunable_once() {
        let mut listed: Vec<usize> = LIST_ORDER.to_vec();
        listed.sort_unstable();
        let expected: Vec<usize> = (0..NUM_TUNABLES).filter(|&i| !TUNABLES[i].obsolete).collect();
        assert_eq!(listed, expected);
    }

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

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(tunable_slot("controltimeout"), Some(2));
        assert_eq!(TunableList::default().get("DatabaseHashSize"), Some(100001));
        assert_eq!(tunable_slot("NoSuchTunable"), None);
    }
}
