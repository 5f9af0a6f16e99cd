//! Named numbers of the legacy protocol: special node numbers, message ports,
//! flag words and small enumerations.

/// Special `destnode` (and pnn) values.
pub mod pnn {
    /// "The daemon I am connected to"; ctdbd replaces it with its own pnn.
    pub const CURRENT_NODE: u32 = 0xF000_0001;
    /// Every non-deleted node, this one included.
    pub const BROADCAST_ALL: u32 = 0xF000_0002;
    /// Every node without an INACTIVE flag.
    pub const BROADCAST_ACTIVE: u32 = 0xF000_0003;
    /// Every connected non-deleted node, this one included.
    pub const BROADCAST_CONNECTED: u32 = 0xF000_0004;
    /// Reserved.
    pub const MULTICAST: u32 = 0xF000_0005;
    /// "No node": leader unknown, address unassigned, pnn not yet learned.
    pub const UNKNOWN: u32 = 0xFFFF_FFFF;

    /// Whether `destnode` addresses more than one node.
    pub const fn is_broadcast(destnode: u32) -> bool {
        matches!(destnode, BROADCAST_ALL | BROADCAST_ACTIVE | BROADCAST_CONNECTED | MULTICAST)
    }
}

/// Message ports (srvids), table 1.8 of the protocol notes.
pub mod srvid {
    /// Registering it receives every message.
    pub const ALL: u64 = u64::MAX;
    /// Prefix of DB_PULL / DB_PUSH record streams.
    pub const RECOVERY: u64 = 0xF001_0000_0000_0000;
    /// Ban culprit report: u32 pnn.
    pub const BANNING: u64 = 0xF002_0000_0000_0000;
    /// Election message.
    pub const ELECTION: u64 = 0xF100_0000_0000_0000;
    /// Leader broadcast: u32 leader pnn, every second.
    pub const LEADER: u64 = 0xF101_0000_0000_0000;
    /// Broadcast after a recovery, empty.
    pub const RECONFIGURE: u64 = 0xF200_0000_0000_0000;
    /// An address was released: NUL-terminated IP text.
    pub const RELEASE_IP: u64 = 0xF300_0000_0000_0000;
    /// An address was taken: NUL-terminated IP text.
    pub const TAKE_IP: u64 = 0xF301_0000_0000_0000;
    /// Post-4.17.
    pub const IPREALLOCATED: u64 = 0xF302_0000_0000_0000;
    /// Post-4.17.
    pub const START_IPREALLOCATE: u64 = 0xF303_0000_0000_0000;
    /// Obsolete.
    pub const SET_NODE_FLAGS: u64 = 0xF400_0000_0000_0000;
    /// Recovery daemon address update: public_ip.
    pub const RECD_UPDATE_IP: u64 = 0xF500_0000_0000_0000;
    /// Vacuum fetch: rec_buffer.
    pub const VACUUM_FETCH: u64 = 0xF700_0000_0000_0000;
    /// Detach a database: u32 db_id.
    pub const DETACH_DATABASE: u64 = 0xF701_0000_0000_0000;
    /// Recovery daemon memory dump: srvid_message.
    pub const MEM_DUMP: u64 = 0xF800_0000_0000_0000;
    /// Obsolete.
    pub const GETLOG: u64 = 0xF801_0000_0000_0000;
    /// Obsolete.
    pub const CLEARLOG: u64 = 0xF802_0000_0000_0000;
    /// Node flag change: node_flag_change.
    pub const PUSH_NODE_FLAGS: u64 = 0xF900_0000_0000_0000;
    /// Reload the nodes file.
    pub const RELOAD_NODES: u64 = 0xFA00_0000_0000_0000;
    /// Request a takeover run: srvid_message; reply i32.
    pub const TAKEOVER_RUN: u64 = 0xFB00_0000_0000_0000;
    /// Rebalance a node: u32 pnn.
    pub const REBALANCE_NODE: u64 = 0xFB01_0000_0000_0000;
    /// Disable takeover runs: disable_message; reply i32.
    pub const DISABLE_TAKEOVER_RUNS: u64 = 0xFB03_0000_0000_0000;
    /// Disable recoveries: disable_message; reply i32.
    pub const DISABLE_RECOVERIES: u64 = 0xFB04_0000_0000_0000;
    /// Disable the IP check: u32 timeout.
    pub const DISABLE_IP_CHECK: u64 = 0xFC00_0000_0000_0000;
    /// Samba notify (library code).
    pub const SAMBA_NOTIFY: u64 = 0xFE00_0000_0000_0000;
    /// Samba notifyd proxy.
    pub const SAMBA_NOTIFY_PROXY: u64 = 0xFE00_0000_0000_0001;
    /// Every Samba process registers it.
    pub const SAMBA_PROCESS: u64 = 0xFE00_0000_0000_0002;
    /// Reserved range (post-4.17 name).
    pub const NFSD_RANGE: u64 = 0xEE00_0000_0000_0000;
    /// Reserved range (post-4.17 name).
    pub const ISCSID_RANGE: u64 = 0xDE00_0000_0000_0000;
    /// Reserved range (post-4.17 name).
    pub const TEST_RANGE: u64 = 0xAE00_0000_0000_0000;
    /// Reserved range (post-4.17 name).
    pub const SERVER_RANGE: u64 = 0x9E00_0000_0000_0000;
    /// Base of the `ctdb` tool's reply ports.
    pub const TOOL: u64 = 0xCE01_0000_0000_0000;
    /// `ctdb restoredb` record stream.
    pub const TOOL_PUSHDB: u64 = 0xCE02_0000_0000_0000;
    /// Base of the client library's traverse ports (`| pid`).
    pub const CLIENT_TRAVERSE: u64 = 0xBE00_0000_0000_0000;

    /// The reply port the `ctdb` tool uses for its `n`-th request.
    pub const fn tool_reply(pid: u32, n: u16) -> u64 {
        TOOL | (((pid & 0xFFFF) as u64) << 16) | n as u64
    }
}

/// Node flags (`node_and_flags.flags`, MODIFY_FLAGS, PUSH_NODE_FLAGS).
pub mod flags {
    /// No connection to the node.
    pub const DISCONNECTED: u32 = 0x01;
    /// Failed monitor event.
    pub const UNHEALTHY: u32 = 0x02;
    /// Disabled by the administrator (printed `DISABLED`).
    pub const PERMANENTLY_DISABLED: u32 = 0x04;
    /// Banned.
    pub const BANNED: u32 = 0x08;
    /// Commented out in the nodes file.
    pub const DELETED: u32 = 0x10;
    /// Stopped by the administrator.
    pub const STOPPED: u32 = 0x20;
    /// CLI-only: state not yet known.
    pub const UNKNOWN: u32 = 0x40;
    /// Mask: UNHEALTHY | PERMANENTLY_DISABLED.
    pub const DISABLED: u32 = UNHEALTHY | PERMANENTLY_DISABLED;
    /// Mask: DELETED | DISCONNECTED | BANNED | STOPPED.
    pub const INACTIVE: u32 = DELETED | DISCONNECTED | BANNED | STOPPED;
}

/// Capabilities (GET_CAPABILITIES).
pub mod caps {
    /// May become leader (`LEADER:` in the CLI).
    pub const RECMASTER: u32 = 0x1;
    /// May be lmaster (enters the vnnmap).
    pub const LMASTER: u32 = 0x2;
    /// Obsolete.
    pub const LVS: u32 = 0x4;
    /// Obsolete.
    pub const NATGW: u32 = 0x8;
    /// Feature bit, always set.
    pub const PARALLEL_RECOVERY: u32 = 0x10000;
    /// Feature bit, always set.
    pub const FRAGMENTED_CONTROLS: u32 = 0x20000;
    /// What ctdbd reports by default.
    pub const DEFAULT: u32 = RECMASTER | LMASTER | PARALLEL_RECOVERY | FRAGMENTED_CONTROLS;
}

/// REQ_CONTROL `flags`.
pub mod ctrl_flags {
    /// Send no reply at all.
    pub const NOREPLY: u32 = 0x1;
    /// Mask of the bits whose meaning depends on the opcode.
    pub const OPCODE_SPECIFIC: u32 = 0xFFFF_0000;
    /// GET_PUBLIC_IPS: only addresses this node can host.
    pub const ONLY_AVAILABLE_IPS: u32 = 0x10000;
    /// DB_ATTACH*: attach from recovery.
    pub const ATTACH_RECOVERY: u32 = 0x20000;
}

/// Runstates (GET_RUNSTATE); they only ever increase.
pub mod runstate {
    /// Not yet known.
    pub const UNKNOWN: u32 = 0;
    /// Init event.
    pub const INIT: u32 = 1;
    /// Setup event.
    pub const SETUP: u32 = 2;
    /// Waiting for the first recovery.
    pub const FIRST_RECOVERY: u32 = 3;
    /// Startup event.
    pub const STARTUP: u32 = 4;
    /// Monitoring.
    pub const RUNNING: u32 = 5;
    /// Shutting down.
    pub const SHUTDOWN: u32 = 6;

    /// Samba's name of a runstate, `UNKNOWN` for anything else.
    pub const fn name(state: u32) -> &'static str {
        match state {
            INIT => "INIT",
            SETUP => "SETUP",
            FIRST_RECOVERY => "FIRST_RECOVERY",
            STARTUP => "STARTUP",
            RUNNING => "RUNNING",
            SHUTDOWN => "SHUTDOWN",
            _ => "UNKNOWN",
        }
    }
}

/// Recovery modes (GET_RECMODE status, SET_RECMODE data).
pub mod recmode {
    /// No recovery running.
    pub const NORMAL: u32 = 0;
    /// Recovery in progress (printed `RECOVERY`).
    pub const ACTIVE: u32 = 1;
}

/// Debug levels (GET_DEBUG / SET_DEBUG).
pub mod debug {
    /// Errors only.
    pub const ERROR: i32 = 0;
    /// Warnings.
    pub const WARNING: i32 = 1;
    /// Notices.
    pub const NOTICE: i32 = 3;
    /// Information.
    pub const INFO: i32 = 5;
    /// Everything.
    pub const DEBUG: i32 = 10;

    /// The name `ctdb getdebug` prints for a level.
    pub const fn name(level: i32) -> &'static str {
        match level {
            0 => "ERROR",
            1 | 2 => "WARNING",
            3 | 4 => "NOTICE",
            5..=9 => "INFO",
            10 => "DEBUG",
            _ => "UNKNOWN",
        }
    }
}

/// Database flags in `dbid.flags`.
pub mod db_flags {
    /// Persistent database.
    pub const PERSISTENT: u8 = 0x01;
    /// Read-only records enabled.
    pub const READONLY: u8 = 0x02;
    /// Sticky records enabled.
    pub const STICKY: u8 = 0x04;
    /// Replicated database.
    pub const REPLICATED: u8 = 0x08;
}

/// Record flags in the ltdb header (and after REQ/REPLY_DMASTER).
pub mod record_flags {
    /// Post-4.17.
    pub const PERSISTENT: u32 = 0x0000_0001;
    /// Post-4.17.
    pub const PERSISTENT_IN_PROGRESS: u32 = 0x0000_0002;
    /// The record moved with data (vacuuming hint).
    pub const MIGRATED_WITH_DATA: u32 = 0x0001_0000;
    /// Migrated by vacuuming.
    pub const VACUUM_MIGRATED: u32 = 0x0002_0000;
    /// Header synthesised for a missing record.
    pub const AUTOMATIC: u32 = 0x0004_0000;
    /// The dmaster has handed out read-only copies.
    pub const RO_HAVE_DELEGATIONS: u32 = 0x0100_0000;
    /// This node holds a read-only copy.
    pub const RO_HAVE_READONLY: u32 = 0x0200_0000;
    /// Revoke in progress.
    pub const RO_REVOKING_READONLY: u32 = 0x0400_0000;
    /// Revoke finished.
    pub const RO_REVOKE_COMPLETE: u32 = 0x0800_0000;
    /// All read-only bits.
    pub const RO_FLAGS: u32 = 0x0F00_0000;
}

/// REQ_CALL flags and call ids.
pub mod call {
    /// Migrate the record to the caller's node.
    pub const IMMEDIATE_MIGRATION: u32 = 0x1;
    /// Migration done by vacuuming.
    pub const VACUUM_MIGRATION: u32 = 0x2;
    /// A read-only copy is enough.
    pub const WANT_READONLY: u32 = 0x4;
    /// Call function that returns nothing (used to migrate).
    pub const NULL_FUNC: u32 = 0xFF00_0001;
    /// Call function that returns the value.
    pub const FETCH_FUNC: u32 = 0xFF00_0002;
    /// Call function that returns the ltdb header and the value.
    pub const FETCH_WITH_HEADER_FUNC: u32 = 0xFF00_0003;
}

/// REQ_TUNNEL flags.
pub mod tunnel_flags {
    /// A request.
    pub const REQUEST: u32 = 0x1;
    /// A reply.
    pub const REPLY: u32 = 0x2;
    /// No reply wanted.
    pub const NOREPLY: u32 = 0x10;
}

/// Control status values with a fixed meaning.
pub mod status {
    /// Generic failure.
    pub const FAILED: i32 = -1;
    /// GET_TUNABLE: no such tunable (-EINVAL).
    pub const NO_SUCH_TUNABLE: i32 = -22;
    /// SET_TUNABLE: the tunable is obsolete (value stored anyway).
    pub const OBSOLETE_TUNABLE: i32 = 1;
}
