//! Operation codes (header `operation`) and control opcodes.
//!
//! Both are integer newtypes with named constants so that values this crate
//! does not know still round-trip unchanged.

use std::fmt;

macro_rules! named_u32 {
    (
        $(#[$meta:meta])*
        pub struct $name:ident;
        $( $(#[$cmeta:meta])* $konst:ident = $val:expr, )*
    ) => {
        $(#[$meta])*
        #[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        pub struct $name(pub u32);

        // Samba spells a few obsolete opcodes with a lower-case `v4`.
        #[allow(non_upper_case_globals)]
        impl $name {
            $( $(#[$cmeta])* pub const $konst: $name = $name($val); )*

            /// Every named value, in numeric order.
            pub const ALL: &'static [$name] = &[ $( $name::$konst, )* ];

            /// Samba's name for this value, `None` if it is not a known one.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$konst => Some(stringify!($konst)), )*
                    _ => None,
                }
            }

            /// The value named `name` (exact, case-sensitive Samba spelling).
            pub fn from_name(name: &str) -> Option<$name> {
                match name {
                    $( stringify!($konst) => Some($name::$konst), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}", self.0),
                }
            }
        }

        impl From<u32> for $name {
            fn from(v: u32) -> Self {
                $name(v)
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }
    };
}

named_u32! {
    /// Header `operation`: what kind of packet follows the header.
    pub struct Operation;
    /// Database call request.
    REQ_CALL = 0,
    /// Database call reply.
    REPLY_CALL = 1,
    /// Node to node: become dmaster.
    REQ_DMASTER = 2,
    /// Node to node: record handed over.
    REPLY_DMASTER = 3,
    /// Node to node: a call failed.
    REPLY_ERROR = 4,
    /// Message to a srvid.
    REQ_MESSAGE = 5,
    /// Control request.
    REQ_CONTROL = 7,
    /// Control reply.
    REPLY_CONTROL = 8,
    /// Node to node keepalive.
    REQ_KEEPALIVE = 9,
    /// Tunnel packet.
    REQ_TUNNEL = 10,
}

named_u32! {
    /// Control opcode (`ReqControl::opcode`), table 1.9 of the protocol notes.
    ///
    /// Obsolete opcodes are listed too: ctdbd answers them with status -1,
    /// and their names appear in logs.
    pub struct Opcode;
    /// Is a client with this pid connected? (status 0 / -1)
    PROCESS_EXISTS = 0,
    /// ctdbd statistics.
    STATISTICS = 1,
    /// Status = number of connected clients.
    PING = 3,
    /// Path of a database file.
    GETDBPATH = 4,
    /// The vnn map.
    GETVNNMAP = 5,
    /// Set the vnn map.
    SETVNNMAP = 6,
    /// Get the log level.
    GET_DEBUG = 7,
    /// Set the log level.
    SET_DEBUG = 8,
    /// Attached databases.
    GET_DBMAP = 9,
    /// Obsolete.
    GET_NODEMAPv4 = 10,
    /// Obsolete.
    SET_DMASTER = 11,
    /// Obsolete.
    PULL_DB = 13,
    /// Obsolete.
    PUSH_DB = 14,
    /// Status = recovery mode.
    GET_RECMODE = 15,
    /// Set the recovery mode.
    SET_RECMODE = 16,
    /// Reset the statistics.
    STATISTICS_RESET = 17,
    /// Attach a volatile database.
    DB_ATTACH = 18,
    /// Obsolete.
    SET_CALL = 19,
    /// Start a traverse.
    TRAVERSE_START = 20,
    /// Node to node traverse.
    TRAVERSE_ALL = 21,
    /// Node to node traverse data.
    TRAVERSE_DATA = 22,
    /// Register the header srvid for messages.
    REGISTER_SRVID = 23,
    /// Deregister the header srvid.
    DEREGISTER_SRVID = 24,
    /// Name of a database.
    GET_DBNAME = 25,
    /// Enable sequence numbers on a database.
    ENABLE_SEQNUM = 26,
    /// Sequence number update.
    UPDATE_SEQNUM = 27,
    /// Memory dump text.
    DUMP_MEMORY = 29,
    /// Status = ctdbd pid.
    GET_PID = 30,
    /// Obsolete.
    GET_RECMASTER = 31,
    /// Obsolete.
    SET_RECMASTER = 32,
    /// Freeze the databases.
    FREEZE = 33,
    /// Obsolete.
    THAW = 34,
    /// Status = pnn.
    GET_PNN = 35,
    /// Shut the daemon down.
    SHUTDOWN = 36,
    /// Obsolete.
    GET_MONMODE = 37,
    /// Obsolete.
    TAKEOVER_IPv4 = 42,
    /// Obsolete.
    RELEASE_IPv4 = 43,
    /// Register a client TCP connection.
    TCP_CLIENT = 44,
    /// Add a tickle.
    TCP_ADD = 45,
    /// Remove a tickle.
    TCP_REMOVE = 46,
    /// Startup notification.
    STARTUP = 47,
    /// Set a tunable.
    SET_TUNABLE = 48,
    /// Get a tunable.
    GET_TUNABLE = 49,
    /// Tunable names.
    LIST_TUNABLES = 50,
    /// Obsolete.
    GET_PUBLIC_IPSv4 = 51,
    /// Change node flags.
    MODIFY_FLAGS = 52,
    /// All tunable values.
    GET_ALL_TUNABLES = 53,
    /// Obsolete.
    KILL_TCP = 54,
    /// Tickle list of an address.
    GET_TCP_TICKLE_LIST = 55,
    /// Set the tickle list of an address.
    SET_TCP_TICKLE_LIST = 56,
    /// Obsolete.
    REGISTER_SERVER_ID = 57,
    /// Obsolete.
    UNREGISTER_SERVER_ID = 58,
    /// Obsolete.
    CHECK_SERVER_ID = 59,
    /// Obsolete.
    GET_SERVER_ID_LIST = 60,
    /// Attach a persistent database.
    DB_ATTACH_PERSISTENT = 61,
    /// Obsolete.
    PERSISTENT_STORE = 62,
    /// Store records (transaction commit fan-out).
    UPDATE_RECORD = 63,
    /// Send a gratuitous ARP.
    SEND_GRATUITOUS_ARP = 64,
    /// Obsolete.
    TRANSACTION_START = 65,
    /// Obsolete.
    TRANSACTION_COMMIT = 66,
    /// Wipe a database.
    WIPE_DATABASE = 67,
    /// Uptime and recovery times.
    UPTIME = 69,
    /// Recovery started.
    START_RECOVERY = 70,
    /// Recovery ended.
    END_RECOVERY = 71,
    /// Reload the nodes file.
    RELOAD_NODES_FILE = 72,
    /// Vacuuming: try to delete records.
    TRY_DELETE_RECORDS = 74,
    /// Obsolete.
    ENABLE_MONITOR = 75,
    /// Obsolete.
    DISABLE_MONITOR = 76,
    /// Add a public address.
    ADD_PUBLIC_IP = 77,
    /// Delete a public address.
    DEL_PUBLIC_IP = 78,
    /// Obsolete.
    RUN_EVENTSCRIPTS = 79,
    /// Node capabilities.
    GET_CAPABILITIES = 80,
    /// Obsolete.
    START_PERSISTENT_UPDATE = 81,
    /// Obsolete.
    CANCEL_PERSISTENT_UPDATE = 82,
    /// Obsolete.
    TRANS2_COMMIT = 83,
    /// Obsolete.
    TRANS2_FINISHED = 84,
    /// Obsolete.
    TRANS2_ERROR = 85,
    /// Obsolete.
    TRANS2_COMMIT_RETRY = 86,
    /// Recovery daemon watchdog ping.
    RECD_PING = 87,
    /// Release a public address.
    RELEASE_IP = 88,
    /// Take over a public address.
    TAKEOVER_IP = 89,
    /// Public addresses.
    GET_PUBLIC_IPS = 90,
    /// The node map.
    GET_NODEMAP = 91,
    /// Obsolete.
    GET_EVENT_SCRIPT_STATUS = 96,
    /// Kill a traverse.
    TRAVERSE_KILL = 97,
    /// Cluster lock latency report.
    RECD_RECLOCK_LATENCY = 98,
    /// Cluster lock setting.
    GET_RECLOCK_FILE = 99,
    /// Obsolete.
    SET_RECLOCK_FILE = 100,
    /// Stop this node.
    STOP_NODE = 101,
    /// Continue a stopped node.
    CONTINUE_NODE = 102,
    /// Obsolete.
    SET_NATGWSTATE = 103,
    /// Set the lmaster role.
    SET_LMASTERROLE = 104,
    /// Set the leader role.
    SET_RECMASTERROLE = 105,
    /// Obsolete.
    ENABLE_SCRIPT = 107,
    /// Obsolete.
    DISABLE_SCRIPT = 108,
    /// Ban or unban.
    SET_BAN_STATE = 109,
    /// Ban state.
    GET_BAN_STATE = 110,
    /// Obsolete.
    SET_DB_PRIORITY = 111,
    /// Obsolete.
    GET_DB_PRIORITY = 112,
    /// Obsolete.
    TRANSACTION_CANCEL = 113,
    /// Register a message sent when this client disconnects.
    REGISTER_NOTIFY = 114,
    /// Deregister it.
    DEREGISTER_NOTIFY = 115,
    /// Obsolete.
    TRANS2_ACTIVE = 116,
    /// Obsolete.
    GET_LOG = 117,
    /// Obsolete.
    CLEAR_LOG = 118,
    /// Commit a persistent transaction.
    TRANS3_COMMIT = 119,
    /// Database sequence number.
    GET_DB_SEQNUM = 120,
    /// Mark a database healthy.
    DB_SET_HEALTHY = 121,
    /// Database health text.
    DB_GET_HEALTH = 122,
    /// Details of a public address.
    GET_PUBLIC_IP_INFO = 123,
    /// Interfaces.
    GET_IFACES = 124,
    /// Set an interface's link state.
    SET_IFACE_LINK_STATE = 125,
    /// Add a tickle, pushed later.
    TCP_ADD_DELAYED_UPDATE = 126,
    /// Statistics history.
    GET_STAT_HISTORY = 127,
    /// Schedule a record for deletion.
    SCHEDULE_FOR_DELETION = 128,
    /// Enable read-only records.
    SET_DB_READONLY = 129,
    /// Obsolete.
    CHECK_SRVIDS = 130,
    /// Start a traverse (with options).
    TRAVERSE_START_EXT = 131,
    /// Database statistics.
    GET_DB_STATISTICS = 132,
    /// Enable sticky records.
    SET_DB_STICKY = 133,
    /// Reload the public addresses file.
    RELOAD_PUBLIC_IPS = 134,
    /// Node to node traverse (with options).
    TRAVERSE_ALL_EXT = 135,
    /// Obsolete.
    RECEIVE_RECORDS = 136,
    /// Takeover run finished.
    IPREALLOCATED = 137,
    /// Runstate.
    GET_RUNSTATE = 138,
    /// Detach a database.
    DB_DETACH = 139,
    /// Node map from the nodes file.
    GET_NODES_FILE = 140,
    /// Freeze one database.
    DB_FREEZE = 141,
    /// Thaw one database.
    DB_THAW = 142,
    /// Start a recovery transaction.
    DB_TRANSACTION_START = 143,
    /// Commit a recovery transaction.
    DB_TRANSACTION_COMMIT = 144,
    /// Cancel a recovery transaction.
    DB_TRANSACTION_CANCEL = 145,
    /// Pull records (streamed as messages).
    DB_PULL = 146,
    /// Start pushing records.
    DB_PUSH_START = 147,
    /// Confirm pushed records.
    DB_PUSH_CONFIRM = 148,
    /// TDB open flags of a database.
    DB_OPEN_FLAGS = 149,
    /// Attach a replicated database.
    DB_ATTACH_REPLICATED = 150,
    /// Does a client with this pid have this srvid? (status 0 / -1)
    CHECK_PID_SRVID = 151,
    /// Register a tunnel.
    TUNNEL_REGISTER = 152,
    /// Deregister a tunnel.
    TUNNEL_DEREGISTER = 153,
    /// Vacuum fetch.
    VACUUM_FETCH = 154,
    /// Vacuum a database.
    DB_VACUUM = 155,
    /// Echo data back.
    ECHO_DATA = 156,
    /// Disable this node.
    DISABLE_NODE = 157,
    /// Enable this node.
    ENABLE_NODE = 158,
    /// Post-4.17.
    TCP_CLIENT_DISCONNECTED = 159,
    /// Post-4.17.
    TCP_CLIENT_PASSED = 160,
    /// Post-4.17.
    START_IPREALLOCATE = 161,
    /// Post-4.17.
    PUSH_RECORD = 162,
}

impl Opcode {
    /// The spelling the 4.17 `ctdb` tool prints in
    /// `Control X failed to node N, ret=R`. It equals [`Opcode::name`] except
    /// for SET_DB_READONLY, which the tool misspells `SET_DB_READONY`.
    pub fn cli_name(self) -> Option<&'static str> {
        match self {
            Opcode::SET_DB_READONLY => Some("SET_DB_READONY"),
            other => other.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_samba() {
        assert_eq!(Opcode::PING.name(), Some("PING"));
        assert_eq!(Opcode::GET_PUBLIC_IP_INFO.name(), Some("GET_PUBLIC_IP_INFO"));
        assert_eq!(Opcode(91).name(), Some("GET_NODEMAP"));
        assert_eq!(Opcode(2).name(), None);
        assert_eq!(Opcode::SET_DB_READONLY.cli_name(), Some("SET_DB_READONY"));
        assert_eq!(Operation::REPLY_CONTROL.name(), Some("REPLY_CONTROL"));
        assert_eq!(Opcode::from_name("GET_PNN"), Some(Opcode(35)));
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        assert!(Opcode::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(Operation::ALL.windows(2).all(|w| w[0] < w[1]));
        // 0..=162 minus the 14 removed or unassigned numbers.
        assert_eq!(Opcode::ALL.len(), 149);
    }

    #[test]
    fn unknown_values_display_as_numbers() {
        assert_eq!(Opcode(999).to_string(), "999");
        assert_eq!(Opcode::PING.to_string(), "PING");
    }
}
