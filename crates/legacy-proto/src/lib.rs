//! Samba CTDB's legacy client protocol, implemented once for both sides.
//!
//! This is the protocol Samba's `smbd`/`winbindd`, the `ctdb` tool and
//! ctdbd itself speak on the Unix socket (and, with the same framing,
//! between nodes): a 32-byte [`Header`], one of ten operations ([`Packet`]),
//! and for controls a payload whose layout is the C structure of CTDB 4.17
//! on LP64 little-endian, padding written out.
//!
//! * [`Frame::decode`] / [`Frame::encode`] handle whole packets;
//!   [`peek_packet_len`] tells a stream reader how much to read.
//! * [`Wire`] is the one marshalling trait; every payload type implements
//!   it (`to_bytes`, `from_bytes` for exact sizes, `from_prefix`).
//! * [`Opcode`] and [`Operation`] are integer newtypes with Samba's names, so
//!   unknown values round-trip.
//! * [`fuzz::decode_any`] is the fuzz body, shared by the stable test suite
//!   and the cargo-fuzz target in `fuzz/`.
//! * [`eventd`] is the separate, smaller protocol of the ctdb-eventd socket
//!   (`ctdb event …` and ctdbd to the event daemon).
//!
//! Byte layouts are checked against packets captured from Debian's ctdbd
//! 4.17 (`testdata/`).

mod consts;
mod error;
pub mod eventd;
pub mod fuzz;
mod opcode;
mod packet;
pub mod types;
mod wire;

pub use consts::{
    call, caps, ctrl_flags, db_flags, debug, flags, pnn, recmode, record_flags, runstate, srvid, status, tunnel_flags,
};
pub use error::{Fault, ProtoError};
pub use opcode::{Opcode, Operation};
pub use packet::{
    peek_packet_len, Frame, Header, Packet, ReplyCall, ReplyControl, ReplyDmaster, ReplyError, ReqCall, ReqControl,
    ReqDmaster, ReqKeepalive, ReqMessage, ReqTunnel,
};
pub use types::addr::{Connection, SockAddr, AF_INET, AF_INET6, SOCK_ADDR_LEN};
pub use types::db::{
    DbIdPadded, DbVacuum, Dbid, DbidMap, KeyData, LtdbHeader, PullDb, PullDbExt, RecBuffer, RecData, TransDb,
    TraverseAll, TraverseAllExt, TraverseStart, TraverseStartExt, LTDB_HEADER_LEN,
};
pub use types::ip::{AddrInfo, Iface, IfaceList, PublicIp, PublicIpInfo, PublicIpList, TickleList};
pub use types::node::{BanState, NodeAndFlags, NodeFlagChange, NodeMap, VnnMap};
pub use types::srvid::{DisableMessage, EchoData, ElectionMessage, NotifyData, PidSrvid, ServerId, SrvidMessage};
pub use types::stats::{
    ClientCounters, DbLockCounters, DbStatistics, HotKey, LatencyCounter, LockCounters, NodeCounters, ReclockLatency,
    Statistics, StatisticsList, TimeoutCounters, MAX_HOT_KEYS, STATISTICS_LEN,
};
pub use types::strings::{CString, StringN, TdbDataN};
pub use types::time::{Timeval, Uptime};
pub use types::tunable::{TunableList, TunableSet, VarList, NUM_TUNABLES};
pub use wire::Wire;

/// Header magic, "BDTC" on the wire.
pub const CTDB_MAGIC: u32 = 0x4354_4442;
/// Protocol version in every header.
pub const CTDB_PROTOCOL: u32 = 1;
/// Size of [`Header`].
pub const HEADER_LEN: usize = 32;
/// Largest packet a reader accepts before allocating for it. ctdbd's own
/// largest replies (GET_STAT_HISTORY, about 48 KiB; recovery record
/// batches bounded by RecBufferSizeLimit) stay far below.
pub const MAX_PACKET_LEN: u32 = 64 * 1024 * 1024;
/// Default inter-node TCP port.
pub const CTDB_PORT: u16 = 4379;
/// Samba version ctdbd 4.17 puts in keepalives: `(4 << 16) | 17`.
pub const KEEPALIVE_VERSION_4_17: u32 = 0x0004_0011;
