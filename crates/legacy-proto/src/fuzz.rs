//! Fuzz bodies, shared by the stable test suite and `fuzz/` (cargo-fuzz).
//!
//! [`decode_any`] feeds arbitrary bytes to every decoder of this crate. It
//! must never panic and never allocate more than a small multiple of the
//! input. Whatever decodes is re-encoded and decoded again: the second
//! encoding must equal the first (decoding may normalise — garbage after a
//! sockaddr, lossy error text — but only once).

use crate::eventd::{peek_event_packet_len, EventReply, EventRequest, EventRequestBody, EventStatus, ScriptStatus};
use crate::types::addr::{Connection, SockAddr};
use crate::types::db::{
    DbIdPadded, DbVacuum, Dbid, DbidMap, KeyData, LtdbHeader, PullDb, PullDbExt, RecBuffer, RecData, TransDb,
    TraverseAll, TraverseAllExt, TraverseStart, TraverseStartExt,
};
use crate::types::ip::{AddrInfo, Iface, IfaceList, PublicIp, PublicIpInfo, PublicIpList, TickleList};
use crate::types::node::{BanState, NodeAndFlags, NodeFlagChange, NodeMap, VnnMap};
use crate::types::srvid::{DisableMessage, EchoData, ElectionMessage, NotifyData, PidSrvid, ServerId, SrvidMessage};
use crate::types::stats::{DbStatistics, LatencyCounter, Statistics, StatisticsList};
use crate::types::strings::{CString, StringN, TdbDataN};
use crate::types::time::{Timeval, Uptime};
use crate::types::tunable::{TunableList, TunableSet, VarList};
use crate::{peek_packet_len, Frame, Header, Packet, Wire};

/// Decode `data` as a packet and as every payload type; check that what
/// decodes re-encodes stably. Panics only on a bug in this crate.
pub fn decode_any(data: &[u8]) {
    let _ = peek_packet_len(data);
    let _ = peek_event_packet_len(data);
    let _ = Header::decode_checked(data);
    decode_frame(data);
    decode_payloads(data);
}

/// The frame part of [`decode_any`]; control payloads inside a decoded frame
/// are fed to every payload decoder too.
pub fn decode_frame(data: &[u8]) {
    let Ok(frame) = Frame::decode(data) else {
        return;
    };
    for pad8 in [false, true] {
        let first = frame.encode(pad8);
        assert!(first.len() % 8 == 0 || !pad8, "padding");
        let again = match Frame::decode(&first) {
            Ok(f) => f,
            Err(e) => panic!("re-encoded frame does not decode: {e}"),
        };
        assert_eq!(again.encode(pad8), first, "frame encoding is not stable");
    }
    match &frame.packet {
        Packet::ReqControl(c) => decode_payloads(&c.data),
        Packet::ReplyControl(r) => decode_payloads(&r.data),
        Packet::ReqMessage(m) => decode_payloads(&m.data),
        _ => {}
    }
}

/// Try `data` as each control payload type and each eventd packet or part,
/// exact and as a prefix.
pub fn decode_payloads(data: &[u8]) {
    macro_rules! all {
        ($($t:ty),* $(,)?) => {$(
            check::<$t>(data);
        )*};
    }
    all!(
        u8,
        u16,
        u32,
        i32,
        u64,
        i64,
        f64,
        bool,
        SockAddr,
        Connection,
        NodeAndFlags,
        NodeMap,
        VnnMap,
        BanState,
        NodeFlagChange,
        Timeval,
        Uptime,
        LatencyCounter,
        Statistics,
        StatisticsList,
        DbStatistics,
        TunableSet,
        StringN,
        CString,
        TdbDataN,
        VarList,
        TunableList,
        PidSrvid,
        SrvidMessage,
        DisableMessage,
        ServerId,
        NotifyData,
        ElectionMessage,
        EchoData,
        Iface,
        IfaceList,
        PublicIp,
        PublicIpList,
        PublicIpInfo,
        AddrInfo,
        TickleList,
        Dbid,
        DbidMap,
        LtdbHeader,
        RecData,
        RecBuffer,
        TransDb,
        DbIdPadded,
        TraverseStart,
        TraverseStartExt,
        TraverseAll,
        TraverseAllExt,
        PullDb,
        PullDbExt,
        KeyData,
        DbVacuum,
        EventRequest,
        EventRequestBody,
        EventReply,
        EventStatus,
        ScriptStatus,
    );
}

fn check<T: Wire>(data: &[u8]) {
    if let Ok(v) = T::from_bytes(data) {
        stable(&v);
    }
    let mut rest = data;
    if let Ok(v) = T::decode(&mut rest) {
        assert!(rest.len() <= data.len(), "decode grew the buffer");
        stable(&v);
    }
}

fn stable<T: Wire>(v: &T) {
    let first = v.to_bytes();
    assert_eq!(first.len(), v.wire_len(), "wire_len disagrees with encode");
    let again = match T::from_bytes(&first) {
        Ok(x) => x,
        Err(e) => panic!("{}: re-encoded value does not decode: {e}", std::any::type_name::<T>()),
    };
    assert_eq!(again.to_bytes(), first, "{}: encoding is not stable", std::any::type_name::<T>());
}
