//! Tunables: the 62 `u32` slots of ctdbd 4.17's `tunable_list`, their names
//! and defaults, and the `ctdb.tunables` file.
//!
//! Two orders matter and differ: the *slot* order (struct layout, what
//! GET_ALL_TUNABLES carries, the order of [`TUNABLES`]) and the *list* order
//! (LIST_TUNABLES / `ctdb listvars`, [`Tunables::listed_names`]), which
//! follows ctdbd's name table and leaves out the 13 obsolete tunables.

use std::fs;
use std::io;
use std::path::Path;

use crate::ini::{self, IniLine};

/// Number of tunable slots (GET_ALL_TUNABLES is 62 × 4 = 248 bytes).
pub const TUNABLE_COUNT: usize = 62;

/// One tunable: name, default, slot, obsolete flag, list position.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TunableDef {
    /// Canonical spelling (names compare case-insensitively).
    pub name: &'static str,
    /// Value in a fresh daemon.
    pub default: u32,
    /// Obsolete: still stored and accepted by SET/GET_TUNABLE, never listed.
    pub obsolete: bool,
    /// Index in `tunable_list` (and in [`TUNABLES`]).
    pub slot: usize,
    /// 1-based position in LIST_TUNABLES; `None` for obsolete tunables.
    pub list_position: Option<usize>,
}

/// Result of a successful [`Tunables::set`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// Stored (SET_TUNABLE status 0).
    Set,
    /// Stored, but the tunable is obsolete (SET_TUNABLE status 1).
    Obsolete,
}

/// A tunable name ctdbd does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown tunable \"{0}\"")]
pub struct UnknownTunable(pub String);

macro_rules! tunables {
    ($( $slot:literal $name:literal $getter:ident $default:literal $list:tt ; )*) => {
        /// Every tunable, in slot order.
        pub static TUNABLES: [TunableDef; TUNABLE_COUNT] = [
            $( TunableDef {
                name: $name,
                default: $default,
                obsolete: tunables!(@obsolete $list),
                slot: $slot,
                list_position: tunables!(@list $list),
            }, )*
        ];

        impl Tunables {
            $(
                #[doc = concat!("`", $name, "` (slot ", stringify!($slot), ", default ", stringify!($default), ").")]
                pub fn $getter(&self) -> u32 {
                    self.values[$slot]
                }
            )*
        }
    };
    (@obsolete obsolete) => { true };
    (@obsolete $n:literal) => { false };
    (@list obsolete) => { None };
    (@list $n:literal) => { Some($n) };
}

tunables! {
    0 "MaxRedirectCount" max_redirect_count 3 obsolete;
    1 "SeqnumInterval" seqnum_interval 1000 1;
    2 "ControlTimeout" control_timeout 60 2;
    3 "TraverseTimeout" traverse_timeout 20 3;
    4 "KeepaliveInterval" keepalive_interval 5 4;
    5 "KeepaliveLimit" keepalive_limit 5 5;
    6 "RecoverTimeout" recover_timeout 30 6;
    7 "RecoverInterval" recover_interval 1 7;
    8 "ElectionTimeout" election_timeout 3 8;
    9 "TakeoverTimeout" takeover_timeout 9 9;
    10 "MonitorInterval" monitor_interval 15 10;
    11 "TickleUpdateInterval" tickle_update_interval 20 11;
    12 "EventScriptTimeout" event_script_timeout 30 12;
    13 "MonitorTimeoutCount" monitor_timeout_count 20 13;
    14 "EventScriptUnhealthyOnTimeout" event_script_unhealthy_on_timeout 0 obsolete;
    15 "RecoveryGracePeriod" recovery_grace_period 120 14;
    16 "RecoveryBanPeriod" recovery_ban_period 300 15;
    17 "DatabaseHashSize" database_hash_size 100001 16;
    18 "DatabaseMaxDead" database_max_dead 5 17;
    19 "RerecoveryTimeout" rerecovery_timeout 10 18;
    20 "EnableBans" enable_bans 1 19;
    21 "DeterministicIPs" deterministic_ips 0 obsolete;
    22 "ReclockPingPeriod" reclock_ping_period 60 obsolete;
    23 "NoIPFailback" no_ip_failback 0 20;
    24 "DisableIPFailover" disable_ip_failover 0 obsolete;
    25 "VerboseMemoryNames" verbose_memory_names 0 21;
    26 "RecdPingTimeout" recd_ping_timeout 60 22;
    27 "RecdFailCount" recd_fail_count 10 23;
    28 "LogLatencyMs" log_latency_ms 0 24;
    29 "RecLockLatencyMs" rec_lock_latency_ms 1000 25;
    30 "RecoveryDropAllIPs" recovery_drop_all_ips 120 26;
    31 "VerifyRecoveryLock" verify_recovery_lock 1 obsolete;
    32 "VacuumInterval" vacuum_interval 10 27;
    33 "VacuumMaxRunTime" vacuum_max_run_time 120 28;
    34 "RepackLimit" repack_limit 10000 29;
    35 "VacuumLimit" vacuum_limit 5000 obsolete;
    36 "MaxQueueDropMsg" max_queue_drop_msg 1000000 31;
    37 "AllowUnhealthyDBRead" allow_unhealthy_db_read 0 32;
    38 "StatHistoryInterval" stat_history_interval 1 33;
    39 "DeferredAttachTO" deferred_attach_to 120 34;
    40 "VacuumFastPathCount" vacuum_fast_path_count 60 30;
    41 "LCP2PublicIPs" lcp2_public_ips 1 obsolete;
    42 "AllowClientDBAttach" allow_client_db_attach 1 35;
    43 "RecoverPDBBySeqNum" recover_pdb_by_seqnum 1 obsolete;
    44 "DeferredRebalanceOnNodeAdd" deferred_rebalance_on_node_add 300 obsolete;
    45 "FetchCollapse" fetch_collapse 1 36;
    46 "HopcountMakeSticky" hopcount_make_sticky 50 37;
    47 "StickyDuration" sticky_duration 600 38;
    48 "StickyPindown" sticky_pindown 200 39;
    49 "NoIPTakeover" no_ip_takeover 0 40;
    50 "DBRecordCountWarn" db_record_count_warn 100000 41;
    51 "DBRecordSizeWarn" db_record_size_warn 10000000 42;
    52 "DBSizeWarn" db_size_warn 100000000 43;
    53 "PullDBPreallocation" pulldb_preallocation 10485760 44;
    54 "NoIPHostOnAllDisabled" no_ip_host_on_all_disabled 1 obsolete;
    55 "Samba3AvoidDeadlocks" samba3_avoid_deadlocks 0 obsolete;
    56 "TDBMutexEnabled" tdb_mutex_enabled 1 obsolete;
    57 "LockProcessesPerDB" lock_processes_per_db 200 45;
    58 "RecBufferSizeLimit" rec_buffer_size_limit 1000000 46;
    59 "QueueBufferSize" queue_buffer_size 1024 47;
    60 "IPAllocAlgorithm" ip_alloc_algorithm 2 48;
    61 "AllowMixedVersions" allow_mixed_versions 0 49;
}

/// Tunable values, one per slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunables {
    values: [u32; TUNABLE_COUNT],
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables::defaults()
    }
}

impl Tunables {
    /// Every tunable at its default.
    pub fn defaults() -> Tunables {
        let mut values = [0; TUNABLE_COUNT];
        for def in &TUNABLES {
            values[def.slot] = def.default;
        }
        Tunables { values }
    }

    /// Values in slot order, e.g. decoded from GET_ALL_TUNABLES.
    pub fn from_array(values: [u32; TUNABLE_COUNT]) -> Tunables {
        Tunables { values }
    }

    /// Values in slot order, as GET_ALL_TUNABLES carries them.
    pub fn as_array(&self) -> [u32; TUNABLE_COUNT] {
        self.values
    }

    /// The definition of `name` (case-insensitive), obsolete ones included.
    pub fn def(name: &str) -> Option<&'static TunableDef> {
        TUNABLES.iter().find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The canonical spelling of `name` (case-insensitive lookup).
    pub fn canonical_name(name: &str) -> Option<&'static str> {
        Tunables::def(name).map(|d| d.name)
    }

    /// The value of `name` (case-insensitive; obsolete tunables included, as
    /// GET_TUNABLE answers them).
    pub fn get(&self, name: &str) -> Option<u32> {
        Tunables::def(name).map(|d| self.values[d.slot])
    }

    /// Sets `name` (case-insensitive). An obsolete tunable is still stored,
    /// and reported as such.
    pub fn set(&mut self, name: &str, value: u32) -> Result<SetOutcome, UnknownTunable> {
        let def = Tunables::def(name).ok_or_else(|| UnknownTunable(name.to_string()))?;
        self.values[def.slot] = value;
        Ok(if def.obsolete { SetOutcome::Obsolete } else { SetOutcome::Set })
    }

    /// The names LIST_TUNABLES returns, in its order (49 names, no obsolete
    /// ones).
    pub fn listed_names() -> impl Iterator<Item = &'static str> {
        let mut listed: Vec<&'static TunableDef> = TUNABLES.iter().filter(|d| d.list_position.is_some()).collect();
        listed.sort_by_key(|d| d.list_position);
        listed.into_iter().map(|d| d.name)
    }

    /// Applies a `ctdb.tunables` file over the current values.
    ///
    /// As in ctdbd, problems do not stop the load: each is returned as a
    /// warning line (worded as ctdbd logs it) and every valid line still
    /// applies. A missing file is fine and returns nothing. The caller logs
    /// `Loading tunables from <path>` (NOTICE) first when the file exists.
    ///
    /// One difference: a value beyond `u32` is rejected, where ctdbd
    /// silently truncates it.
    pub fn load_file(&mut self, path: &Path) -> Vec<String> {
        match fs::read(path) {
            Ok(bytes) => self.load_str(&String::from_utf8_lossy(&bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => vec![format!("ctdb_tunable_load_file: Failed to read {}: {e}", path.display())],
        }
    }

    /// [`Tunables::load_file`] on text already read.
    pub fn load_str(&mut self, text: &str) -> Vec<String> {
        const P: &str = "ctdb_tunable_load_file:";
        let mut warnings = Vec::new();
        for item in ini::lex(text) {
            match item {
                Err(e) => warnings.push(format!("{P} Invalid line {}: {}", e.line, e.message)),
                Ok(IniLine::Section { name, .. }) => {
                    // Trailing blank kept: it is how ctdbd words it.
                    warnings.push(format!("{P} Invalid line for section [{name}] - sections not supported "));
                }
                Ok(IniLine::NoEquals { text, .. }) => warnings.push(format!("{P} Invalid line containing \"{text}\"")),
                Ok(IniLine::Param { key, value, .. }) if key.is_empty() || value.is_empty() => {
                    let shown = if key.is_empty() { value } else { key };
                    warnings.push(format!("{P} Invalid line containing \"{shown}\""));
                }
                Ok(IniLine::Param { key, value, .. }) => {
                    if Tunables::def(&key).is_none() {
                        warnings.push(format!("{P} Unknown tunable \"{key}\""));
                        continue;
                    }
                    let Some(n) = parse_unsigned(&value) else {
                        warnings.push(format!("{P} Invalid value \"{value}\" for tunable \"{key}\""));
                        continue;
                    };
                    if let Ok(SetOutcome::Obsolete) = self.set(&key, n) {
                        warnings.push(format!("{P} Obsolete tunable \"{key}\""));
                    }
                }
            }
        }
        warnings
    }
}

/// `strtoul` base 0 with a full end check: decimal, `0x` hex, leading-0
/// octal, optional `+`; no sign `-`; must fit in `u32`.
fn parse_unsigned(s: &str) -> Option<u32> {
    if s.starts_with('-') {
        return None;
    }
    let n = crate::ctdb_conf::parse_c_integer(s)?;
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table 6.8 of the reference: (slot, name, default, list #; 0 = obsolete).
    const TABLE: [(usize, &str, u32, usize); TUNABLE_COUNT] = [
        (0, "MaxRedirectCount", 3, 0),
        (1, "SeqnumInterval", 1000, 1),
        (2, "ControlTimeout", 60, 2),
        (3, "TraverseTimeout", 20, 3),
        (4, "KeepaliveInterval", 5, 4),
        (5, "KeepaliveLimit", 5, 5),
        (6, "RecoverTimeout", 30, 6),
        (7, "RecoverInterval", 1, 7),
        (8, "ElectionTimeout", 3, 8),
        (9, "TakeoverTimeout", 9, 9),
        (10, "MonitorInterval", 15, 10),
        (11, "TickleUpdateInterval", 20, 11),
        (12, "EventScriptTimeout", 30, 12),
        (13, "MonitorTimeoutCount", 20, 13),
        (14, "EventScriptUnhealthyOnTimeout", 0, 0),
        (15, "RecoveryGracePeriod", 120, 14),
        (16, "RecoveryBanPeriod", 300, 15),
        (17, "DatabaseHashSize", 100001, 16),
        (18, "DatabaseMaxDead", 5, 17),
        (19, "RerecoveryTimeout", 10, 18),
        (20, "EnableBans", 1, 19),
        (21, "DeterministicIPs", 0, 0),
        (22, "ReclockPingPeriod", 60, 0),
        (23, "NoIPFailback", 0, 20),
        (24, "DisableIPFailover", 0, 0),
        (25, "VerboseMemoryNames", 0, 21),
        (26, "RecdPingTimeout", 60, 22),
        (27, "RecdFailCount", 10, 23),
        (28, "LogLatencyMs", 0, 24),
        (29, "RecLockLatencyMs", 1000, 25),
        (30, "RecoveryDropAllIPs", 120, 26),
        (31, "VerifyRecoveryLock", 1, 0),
        (32, "VacuumInterval", 10, 27),
        (33, "VacuumMaxRunTime", 120, 28),
        (34, "RepackLimit", 10000, 29),
        (35, "VacuumLimit", 5000, 0),
        (36, "MaxQueueDropMsg", 1000000, 31),
        (37, "AllowUnhealthyDBRead", 0, 32),
        (38, "StatHistoryInterval", 1, 33),
        (39, "DeferredAttachTO", 120, 34),
        (40, "VacuumFastPathCount", 60, 30),
        (41, "LCP2PublicIPs", 1, 0),
        (42, "AllowClientDBAttach", 1, 35),
        (43, "RecoverPDBBySeqNum", 1, 0),
        (44, "DeferredRebalanceOnNodeAdd", 300, 0),
        (45, "FetchCollapse", 1, 36),
        (46, "HopcountMakeSticky", 50, 37),
        (47, "StickyDuration", 600, 38),
        (48, "StickyPindown", 200, 39),
        (49, "NoIPTakeover", 0, 40),
        (50, "DBRecordCountWarn", 100000, 41),
        (51, "DBRecordSizeWarn", 10000000, 42),
        (52, "DBSizeWarn", 100000000, 43),
        (53, "PullDBPreallocation", 10485760, 44),
        (54, "NoIPHostOnAllDisabled", 1, 0),
        (55, "Samba3AvoidDeadlocks", 0, 0),
        (56, "TDBMutexEnabled", 1, 0),
        (57, "LockProcessesPerDB", 200, 45),
        (58, "RecBufferSizeLimit", 1000000, 46),
        (59, "QueueBufferSize", 1024, 47),
        (60, "IPAllocAlgorithm", 2, 48),
        (61, "AllowMixedVersions", 0, 49),
    ];

    #[test]
    fn every_slot_name_default_and_list_position_matches_the_reference() {
        let t = Tunables::defaults();
        for (slot, name, default, list) in TABLE {
            let def = &TUNABLES[slot];
            assert_eq!(def.slot, slot);
            assert_eq!(def.name, name);
            assert_eq!(def.default, default, "{name}");
            assert_eq!(def.obsolete, list == 0, "{name}");
            assert_eq!(def.list_position, (list != 0).then_some(list), "{name}");
            assert_eq!(t.get(name), Some(default));
            assert_eq!(t.as_array()[slot], default);
        }
    }

    #[test]
    fn list_order_follows_the_name_table() {
        let listed: Vec<_> = Tunables::listed_names().collect();
        assert_eq!(listed.len(), 49);
        let mut want: Vec<_> = TABLE.iter().filter(|r| r.3 != 0).collect();
        want.sort_by_key(|r| r.3);
        let want: Vec<_> = want.iter().map(|r| r.1).collect();
        assert_eq!(listed, want);
        // VacuumFastPathCount is slot 40 but listed 30th.
        assert_eq!(listed[29], "VacuumFastPathCount");
        assert_eq!(listed[28], "RepackLimit");
        assert_eq!(listed[30], "MaxQueueDropMsg");
    }

    #[test]
    fn typed_getters_read_their_slots() {
        let mut t = Tunables::defaults();
        assert_eq!(t.keepalive_interval(), 5);
        assert_eq!(t.keepalive_limit(), 5);
        assert_eq!(t.control_timeout(), 60);
        assert_eq!(t.ip_alloc_algorithm(), 2);
        t.set("keepaliveinterval", 2).unwrap();
        assert_eq!(t.keepalive_interval(), 2);
        assert_eq!(t.as_array()[4], 2);
    }

    #[test]
    fn set_and_get_are_case_insensitive_and_keep_obsolete_values() {
        let mut t = Tunables::defaults();
        assert_eq!(t.set("CONTROLTIMEOUT", 7), Ok(SetOutcome::Set));
        assert_eq!(t.get("controltimeout"), Some(7));
        assert_eq!(t.set("EventScriptUnhealthyOnTimeout", 1), Ok(SetOutcome::Obsolete));
        assert_eq!(t.get("EventScriptUnhealthyOnTimeout"), Some(1));
        assert_eq!(t.as_array()[14], 1);
        assert_eq!(t.set("Bogus", 1), Err(UnknownTunable("Bogus".into())));
        assert_eq!(t.get("Bogus"), None);
        assert_eq!(Tunables::canonical_name("ipallocalgorithm"), Some("IPAllocAlgorithm"));
        assert_eq!(Tunables::canonical_name("nope"), None);
    }

    #[test]
    fn array_round_trip() {
        let mut a = [0u32; TUNABLE_COUNT];
        for (i, v) in a.iter_mut().enumerate() {
            *v = i as u32 * 3;
        }
        assert_eq!(Tunables::from_array(a).as_array(), a);
    }

    #[test]
    fn tunables_file_warnings_are_worded_as_ctdbd_and_valid_lines_apply() {
        // The file used against ctdbd 4.17 (its log lines are the expected warnings).
        let text = "Bogus=1\nEventScriptUnhealthyOnTimeout=1\nKeepaliveLimit=abc\nTakeoverTimeout\n[sec]\n  KeepaliveInterval = 0x20\nelectiontimeout=7x\nRecoverTimeout=-1\nControlTimeout=\n# c\n; c\nTraverseTimeout = 12 # x\nRecoverInterval=  \\\n 4\nmonitorinterval=010\n";
        let mut t = Tunables::defaults();
        let warnings = t.load_str(text);
        assert_eq!(
            warnings,
            vec![
                "ctdb_tunable_load_file: Unknown tunable \"Bogus\"",
                "ctdb_tunable_load_file: Obsolete tunable \"EventScriptUnhealthyOnTimeout\"",
                "ctdb_tunable_load_file: Invalid value \"abc\" for tunable \"KeepaliveLimit\"",
                "ctdb_tunable_load_file: Invalid line containing \"TakeoverTimeout\"",
                "ctdb_tunable_load_file: Invalid line for section [sec] - sections not supported ",
                "ctdb_tunable_load_file: Invalid value \"7x\" for tunable \"electiontimeout\"",
                "ctdb_tunable_load_file: Invalid value \"-1\" for tunable \"RecoverTimeout\"",
                "ctdb_tunable_load_file: Invalid line containing \"ControlTimeout\"",
                "ctdb_tunable_load_file: Invalid value \"12 # x\" for tunable \"TraverseTimeout\"",
            ]
        );
        assert_eq!(t.event_script_unhealthy_on_timeout(), 1);
        assert_eq!(t.keepalive_interval(), 0x20);
        assert_eq!(t.recover_interval(), 4);
        assert_eq!(t.monitor_interval(), 8);
        assert_eq!(t.keepalive_limit(), 5);
        assert_eq!(t.election_timeout(), 3);
        assert_eq!(t.control_timeout(), 60);
    }

    #[test]
    fn tunables_value_must_fit_u32() {
        let mut t = Tunables::defaults();
        assert_eq!(t.load_str("MonitorInterval=4294967295\n"), Vec::<String>::new());
        assert_eq!(t.monitor_interval(), u32::MAX);
        assert_eq!(t.load_str("MonitorInterval=4294967296\n").len(), 1);
    }

    #[test]
    fn missing_tunables_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tunables::defaults();
        assert!(t.load_file(&dir.path().join("ctdb.tunables")).is_empty());
        assert_eq!(t, Tunables::defaults());
        std::fs::write(dir.path().join("ctdb.tunables"), "KeepaliveLimit=9\nKeepaliveLimit=abc\n").unwrap();
        let w = t.load_file(&dir.path().join("ctdb.tunables"));
        assert_eq!(w.len(), 1);
        assert_eq!(t.keepalive_limit(), 9);
    }

    #[test]
    fn debian_shipped_tunables_file_loads_clean() {
        let text = std::fs::read_to_string("/etc/ctdb/ctdb.tunables").unwrap_or_default();
        let mut t = Tunables::defaults();
        assert_eq!(t.load_str(&text), Vec::<String>::new());
    }

    proptest::proptest! {
        #[test]
        fn load_str_never_panics(text in "(?s).{0,300}") {
            let _ = Tunables::defaults().load_str(&text);
        }
    }
}
