//! Node flags as the tool shows them (legacy-protocol.md 6.1): the text
//! tokens of `status`/`nodestatus` and the columns of their `-X` table.

use ctdb_legacy_proto::flags::{
    BANNED, DELETED, DISCONNECTED, INACTIVE, PERMANENTLY_DISABLED, STOPPED, UNHEALTHY, UNKNOWN,
};

/// Text tokens in Samba's print order (not bit order).
const TOKENS: [(u32, &str); 7] = [
    (DISCONNECTED, "DISCONNECTED"),
    (UNKNOWN, "UNKNOWN"),
    (PERMANENTLY_DISABLED, "DISABLED"),
    (BANNED, "BANNED"),
    (UNHEALTHY, "UNHEALTHY"),
    (DELETED, "DELETED"),
    (STOPPED, "STOPPED"),
];

/// `OK`, or the set tokens joined by `|` with `INACTIVE` appended when any
/// inactive bit is set (`STOPPED|INACTIVE`, `DISCONNECTED|UNHEALTHY|INACTIVE`).
pub fn flags_text(flags: u32) -> String {
    if flags == 0 {
        return "OK".to_string();
    }
    let mut parts: Vec<&str> = TOKENS.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, name)| *name).collect();
    if flags & INACTIVE != 0 {
        parts.push("INACTIVE");
    }
    parts.join("|")
}

/// The node table header of `status -X` and `nodestatus -X`, without
/// separators.
pub const NODE_TABLE_HEADER: [&str; 11] = [
    "Node",
    "IP",
    "Disconnected",
    "Unknown",
    "Banned",
    "Disabled",
    "Unhealthy",
    "Stopped",
    "Inactive",
    "PartiallyOnline",
    "ThisNode",
];

/// The 0/1 flag columns of one row of the node table, in header order
/// (Disconnected … Inactive).
pub fn flag_columns(flags: u32) -> [&'static str; 7] {
    let bit = |b: u32| if flags & b != 0 { "1" } else { "0" };
    [
        bit(DISCONNECTED),
        bit(UNKNOWN),
        bit(BANNED),
        bit(PERMANENTLY_DISABLED),
        bit(UNHEALTHY),
        bit(STOPPED),
        bit(INACTIVE),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_uses_print_order_and_inactive_token() {
        assert_eq!(flags_text(0), "OK");
        assert_eq!(flags_text(0x20), "STOPPED|INACTIVE");
        assert_eq!(flags_text(0x03), "DISCONNECTED|UNHEALTHY|INACTIVE");
        assert_eq!(flags_text(0x08), "BANNED|INACTIVE");
        assert_eq!(flags_text(0x04), "DISABLED");
        assert_eq!(flags_text(0x11), "DISCONNECTED|DELETED|INACTIVE");
        assert_eq!(flags_text(0x40), "UNKNOWN");
        // Print order differs from bit order: DISABLED before BANNED before
        // UNHEALTHY.
        assert_eq!(flags_text(0x0e), "DISABLED|BANNED|UNHEALTHY|INACTIVE");
    }

    #[test]
    fn columns_follow_header_order() {
        assert_eq!(flag_columns(0x03), ["1", "0", "0", "0", "1", "0", "1"]);
        assert_eq!(flag_columns(0x20), ["0", "0", "0", "0", "0", "1", "1"]);
        assert_eq!(flag_columns(0x04), ["0", "0", "0", "1", "0", "0", "0"]);
        assert_eq!(flag_columns(0x40), ["0", "1", "0", "0", "0", "0", "0"]);
    }
}
