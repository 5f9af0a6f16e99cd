//! `ctdb_statistics` (488 bytes), its list, and `ctdb_latency_counter`.
//!
//! Offsets (protocol notes 6.10) are asserted by the tests below.

use crate::error::ProtoError;
use crate::types::time::Timeval;
use crate::wire::{decode_vec, encode_all, len_all, len_u32, put_pad, skip_pad, take, Wire};

/// Size of [`Statistics`] on the wire.
pub const STATISTICS_LEN: usize = 488;
/// Number of buckets in the lock and hop-count histograms.
pub const MAX_COUNT_BUCKETS: usize = 16;

/// `ctdb_latency_counter` (32 bytes).
#[derive(Copy, Clone, PartialEq, Debug, Default)]
pub struct LatencyCounter {
    /// Number of samples.
    pub num: i32,
    /// Smallest sample, seconds.
    pub min: f64,
    /// Largest sample, seconds.
    pub max: f64,
    /// Sum of the samples, seconds.
    pub total: f64,
}

impl Wire for LatencyCounter {
    fn wire_len(&self) -> usize {
        32
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.num.encode(out);
        put_pad(out, 4);
        self.min.encode(out);
        self.max.encode(out);
        self.total.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let num = i32::decode(buf)?;
        skip_pad(buf, 4, "latency_counter pad")?;
        Ok(LatencyCounter { num, min: f64::decode(buf)?, max: f64::decode(buf)?, total: f64::decode(buf)? })
    }
}

/// Packets received from other nodes, by operation.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct NodeCounters {
    /// REQ_CALL.
    pub req_call: u32,
    /// REPLY_CALL.
    pub reply_call: u32,
    /// REQ_DMASTER.
    pub req_dmaster: u32,
    /// REPLY_DMASTER.
    pub reply_dmaster: u32,
    /// REPLY_ERROR.
    pub reply_error: u32,
    /// REQ_MESSAGE.
    pub req_message: u32,
    /// REQ_CONTROL.
    pub req_control: u32,
    /// REPLY_CONTROL.
    pub reply_control: u32,
    /// REQ_TUNNEL.
    pub req_tunnel: u32,
}

/// Packets received from local clients, by operation.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ClientCounters {
    /// REQ_CALL.
    pub req_call: u32,
    /// REQ_MESSAGE.
    pub req_message: u32,
    /// REQ_CONTROL.
    pub req_control: u32,
    /// REQ_TUNNEL.
    pub req_tunnel: u32,
}

/// Requests that timed out.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TimeoutCounters {
    /// Calls.
    pub call: u32,
    /// Controls.
    pub control: u32,
    /// Traverses.
    pub traverse: u32,
}

/// Cluster lock latencies.
#[derive(Copy, Clone, PartialEq, Debug, Default)]
pub struct ReclockLatency {
    /// Measured by ctdbd (recmode check).
    pub ctdbd: LatencyCounter,
    /// Measured by the recovery daemon.
    pub recd: LatencyCounter,
}

/// Record lock statistics.
#[derive(Copy, Clone, PartialEq, Debug, Default)]
pub struct LockCounters {
    /// Lock requests.
    pub num_calls: u32,
    /// Locks being taken now.
    pub num_current: u32,
    /// Lock requests waiting.
    pub num_pending: u32,
    /// Failed lock requests.
    pub num_failed: u32,
    /// Time to take a lock.
    pub latency: LatencyCounter,
    /// Histogram of lock wait times.
    pub buckets: [u32; MAX_COUNT_BUCKETS],
}

/// `ctdb_statistics` (STATISTICS, each GET_STAT_HISTORY slot).
#[derive(Copy, Clone, PartialEq, Debug, Default)]
pub struct Statistics {
    /// Connected clients.
    pub num_clients: u32,
    /// Databases frozen.
    pub frozen: u32,
    /// Recovery in progress.
    pub recovering: u32,
    /// Packets sent to clients.
    pub client_packets_sent: u32,
    /// Packets received from clients.
    pub client_packets_recv: u32,
    /// Packets sent to nodes.
    pub node_packets_sent: u32,
    /// Packets received from nodes.
    pub node_packets_recv: u32,
    /// Keepalives sent.
    pub keepalive_packets_sent: u32,
    /// Keepalives received.
    pub keepalive_packets_recv: u32,
    /// Node packets by operation (offset 36).
    pub node: NodeCounters,
    /// Client packets by operation (offset 72).
    pub client: ClientCounters,
    /// Timeouts (offset 88).
    pub timeouts: TimeoutCounters,
    /// Cluster lock latencies (offset 104).
    pub reclock: ReclockLatency,
    /// Record locks (offset 168).
    pub locks: LockCounters,
    /// Calls handled (offset 280).
    pub total_calls: u32,
    /// Calls in progress.
    pub pending_calls: u32,
    /// Obsolete counter.
    pub childwrite_calls: u32,
    /// Obsolete counter.
    pub pending_childwrite_calls: u32,
    /// Memory in use.
    pub memory_used: u32,
    /// C `__last_counter` marker.
    pub last_counter: u32,
    /// Largest hop count seen.
    pub max_hop_count: u32,
    /// Histogram of hop counts (offset 308).
    pub hop_count_bucket: [u32; MAX_COUNT_BUCKETS],
    /// Call latency (offset 376).
    pub call_latency: LatencyCounter,
    /// Obsolete latency (offset 408).
    pub childwrite_latency: LatencyCounter,
    /// Recoveries run (offset 440).
    pub num_recoveries: u32,
    /// Start of the collection period (offset 448).
    pub statistics_start_time: Timeval,
    /// End of the collection period (offset 464).
    pub statistics_current_time: Timeval,
    /// Read-only delegations handed out (offset 480).
    pub total_ro_delegations: u32,
    /// Read-only delegations revoked (offset 484).
    pub total_ro_revokes: u32,
}

impl Wire for Statistics {
    fn wire_len(&self) -> usize {
        STATISTICS_LEN
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.num_clients,
            self.frozen,
            self.recovering,
            self.client_packets_sent,
            self.client_packets_recv,
            self.node_packets_sent,
            self.node_packets_recv,
            self.keepalive_packets_sent,
            self.keepalive_packets_recv,
        ] {
            v.encode(out);
        }
        let n = &self.node;
        for v in [
            n.req_call,
            n.reply_call,
            n.req_dmaster,
            n.reply_dmaster,
            n.reply_error,
            n.req_message,
            n.req_control,
            n.reply_control,
            n.req_tunnel,
        ] {
            v.encode(out);
        }
        let c = &self.client;
        for v in [c.req_call, c.req_message, c.req_control, c.req_tunnel] {
            v.encode(out);
        }
        let t = &self.timeouts;
        for v in [t.call, t.control, t.traverse] {
            v.encode(out);
        }
        put_pad(out, 4);
        self.reclock.ctdbd.encode(out);
        self.reclock.recd.encode(out);
        let l = &self.locks;
        for v in [l.num_calls, l.num_current, l.num_pending, l.num_failed] {
            v.encode(out);
        }
        l.latency.encode(out);
        l.buckets.encode(out);
        for v in [
            self.total_calls,
            self.pending_calls,
            self.childwrite_calls,
            self.pending_childwrite_calls,
            self.memory_used,
            self.last_counter,
            self.max_hop_count,
        ] {
            v.encode(out);
        }
        self.hop_count_bucket.encode(out);
        put_pad(out, 4);
        self.call_latency.encode(out);
        self.childwrite_latency.encode(out);
        self.num_recoveries.encode(out);
        put_pad(out, 4);
        self.statistics_start_time.encode(out);
        self.statistics_current_time.encode(out);
        self.total_ro_delegations.encode(out);
        self.total_ro_revokes.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let num_clients = u32::decode(buf)?;
        let frozen = u32::decode(buf)?;
        let recovering = u32::decode(buf)?;
        let client_packets_sent = u32::decode(buf)?;
        let client_packets_recv = u32::decode(buf)?;
        let node_packets_sent = u32::decode(buf)?;
        let node_packets_recv = u32::decode(buf)?;
        let keepalive_packets_sent = u32::decode(buf)?;
        let keepalive_packets_recv = u32::decode(buf)?;
        // Struct literal fields are evaluated in the order written, which
        // is the wire order.
        let node = NodeCounters {
            req_call: u32::decode(buf)?,
            reply_call: u32::decode(buf)?,
            req_dmaster: u32::decode(buf)?,
            reply_dmaster: u32::decode(buf)?,
            reply_error: u32::decode(buf)?,
            req_message: u32::decode(buf)?,
            req_control: u32::decode(buf)?,
            reply_control: u32::decode(buf)?,
            req_tunnel: u32::decode(buf)?,
        };
        let client = ClientCounters {
            req_call: u32::decode(buf)?,
            req_message: u32::decode(buf)?,
            req_control: u32::decode(buf)?,
            req_tunnel: u32::decode(buf)?,
        };
        let timeouts =
            TimeoutCounters { call: u32::decode(buf)?, control: u32::decode(buf)?, traverse: u32::decode(buf)? };
        skip_pad(buf, 4, "statistics pad")?;
        let reclock = ReclockLatency { ctdbd: LatencyCounter::decode(buf)?, recd: LatencyCounter::decode(buf)? };
        let locks = LockCounters {
            num_calls: u32::decode(buf)?,
            num_current: u32::decode(buf)?,
            num_pending: u32::decode(buf)?,
            num_failed: u32::decode(buf)?,
            latency: LatencyCounter::decode(buf)?,
            buckets: <[u32; MAX_COUNT_BUCKETS]>::decode(buf)?,
        };
        let total_calls = u32::decode(buf)?;
        let pending_calls = u32::decode(buf)?;
        let childwrite_calls = u32::decode(buf)?;
        let pending_childwrite_calls = u32::decode(buf)?;
        let memory_used = u32::decode(buf)?;
        let last_counter = u32::decode(buf)?;
        let max_hop_count = u32::decode(buf)?;
        let hop_count_bucket = <[u32; MAX_COUNT_BUCKETS]>::decode(buf)?;
        skip_pad(buf, 4, "statistics pad")?;
        let call_latency = LatencyCounter::decode(buf)?;
        let childwrite_latency = LatencyCounter::decode(buf)?;
        let num_recoveries = u32::decode(buf)?;
        skip_pad(buf, 4, "statistics pad")?;
        let statistics_start_time = Timeval::decode(buf)?;
        let statistics_current_time = Timeval::decode(buf)?;
        let total_ro_delegations = u32::decode(buf)?;
        let total_ro_revokes = u32::decode(buf)?;
        Ok(Statistics {
            num_clients,
            frozen,
            recovering,
            client_packets_sent,
            client_packets_recv,
            node_packets_sent,
            node_packets_recv,
            keepalive_packets_sent,
            keepalive_packets_recv,
            node,
            client,
            timeouts,
            reclock,
            locks,
            total_calls,
            pending_calls,
            childwrite_calls,
            pending_childwrite_calls,
            memory_used,
            last_counter,
            max_hop_count,
            hop_count_bucket,
            call_latency,
            childwrite_latency,
            num_recoveries,
            statistics_start_time,
            statistics_current_time,
            total_ro_delegations,
            total_ro_revokes,
        })
    }
}

/// `ctdb_statistics_list` (GET_STAT_HISTORY): i32 count, 4 pad bytes
/// (uninitialised on the wire), then the entries.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct StatisticsList {
    /// One entry per history slot, oldest first.
    pub stats: Vec<Statistics>,
}

impl Wire for StatisticsList {
    fn wire_len(&self) -> usize {
        8 + len_all(&self.stats)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        len_u32(self.stats.len()).encode(out);
        put_pad(out, 4);
        encode_all(&self.stats, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let num = i32::decode(buf)?;
        skip_pad(buf, 4, "statistics_list pad")?;
        let Ok(num) = u32::try_from(num) else {
            return Err(ProtoError::Malformed("statistics_list count is negative"));
        };
        Ok(StatisticsList { stats: decode_vec(buf, num, STATISTICS_LEN, "statistics_list")? })
    }
}

/// Number of hot keys in [`DbStatistics`].
pub const MAX_HOT_KEYS: usize = 10;
/// Size of the fixed part of [`DbStatistics`].
pub const DB_STATISTICS_LEN: usize = 464;

/// One hot key of a database: how often it was fetched, and the key.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct HotKey {
    /// Hop count when the key was recorded.
    pub count: u32,
    /// The key (empty for an unused slot).
    pub key: Vec<u8>,
}

/// Per-database record lock statistics.
#[derive(Copy, Clone, PartialEq, Debug, Default)]
pub struct DbLockCounters {
    /// Lock requests.
    pub num_calls: u32,
    /// Locks being taken now.
    pub num_current: u32,
    /// Lock requests waiting.
    pub num_pending: u32,
    /// Failed lock requests.
    pub num_failed: u32,
    /// Time to take a lock.
    pub latency: LatencyCounter,
    /// Histogram of lock wait times.
    pub buckets: [u32; MAX_COUNT_BUCKETS],
}

/// `ctdb_db_statistics` (GET_DB_STATISTICS): 464 fixed bytes, then the
/// bytes of the hot keys back to back.
///
/// Each of the 10 hot-key slots is {count u32, pad 4, key pointer (8 bytes
/// of ctdbd's memory, meaningless here), key length u64}; the pointer is
/// ignored on decode and written as 0.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct DbStatistics {
    /// Record locks.
    pub locks: DbLockCounters,
    /// Vacuuming run time.
    pub vacuum_latency: LatencyCounter,
    /// Read-only delegations handed out.
    pub db_ro_delegations: u32,
    /// Read-only delegations revoked.
    pub db_ro_revokes: u32,
    /// Histogram of hop counts.
    pub hop_count_bucket: [u32; MAX_COUNT_BUCKETS],
    /// Number of hot-key slots whose keys follow (ctdbd always sends 10).
    pub num_hot_keys: u32,
    /// The hot-key slots.
    pub hot_keys: [HotKey; MAX_HOT_KEYS],
}

impl DbStatistics {
    fn keys_sent(&self) -> usize {
        // Only the first num_hot_keys slots carry key bytes.
        (self.num_hot_keys as usize).min(MAX_HOT_KEYS)
    }
}

impl Wire for DbStatistics {
    fn wire_len(&self) -> usize {
        DB_STATISTICS_LEN + self.hot_keys[..self.keys_sent()].iter().map(|k| k.key.len()).sum::<usize>()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        let l = &self.locks;
        for v in [l.num_calls, l.num_current, l.num_pending, l.num_failed] {
            v.encode(out);
        }
        l.latency.encode(out);
        l.buckets.encode(out);
        self.vacuum_latency.encode(out);
        self.db_ro_delegations.encode(out);
        self.db_ro_revokes.encode(out);
        self.hop_count_bucket.encode(out);
        self.num_hot_keys.encode(out);
        put_pad(out, 4);
        let sent = self.keys_sent();
        for (i, k) in self.hot_keys.iter().enumerate() {
            k.count.encode(out);
            put_pad(out, 4 + 8);
            let len = if i < sent { k.key.len() } else { 0 };
            (len as u64).encode(out);
        }
        for k in &self.hot_keys[..sent] {
            out.extend_from_slice(&k.key);
        }
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let locks = DbLockCounters {
            num_calls: u32::decode(buf)?,
            num_current: u32::decode(buf)?,
            num_pending: u32::decode(buf)?,
            num_failed: u32::decode(buf)?,
            latency: LatencyCounter::decode(buf)?,
            buckets: <[u32; MAX_COUNT_BUCKETS]>::decode(buf)?,
        };
        let vacuum_latency = LatencyCounter::decode(buf)?;
        let db_ro_delegations = u32::decode(buf)?;
        let db_ro_revokes = u32::decode(buf)?;
        let hop_count_bucket = <[u32; MAX_COUNT_BUCKETS]>::decode(buf)?;
        let num_hot_keys = u32::decode(buf)?;
        if num_hot_keys as usize > MAX_HOT_KEYS {
            return Err(ProtoError::Malformed("db_statistics has more than 10 hot keys"));
        }
        skip_pad(buf, 4, "db_statistics pad")?;
        let mut lens = [0u64; MAX_HOT_KEYS];
        let mut hot_keys: [HotKey; MAX_HOT_KEYS] = Default::default();
        for (k, len) in hot_keys.iter_mut().zip(lens.iter_mut()) {
            k.count = u32::decode(buf)?;
            skip_pad(buf, 4 + 8, "db_statistics hot key")?;
            *len = u64::decode(buf)?;
        }
        for (k, len) in hot_keys.iter_mut().zip(lens).take(num_hot_keys as usize) {
            let len = usize::try_from(len).map_err(|_| ProtoError::Malformed("hot key length"))?;
            k.key = take(buf, len, "db_statistics hot key")?.to_vec();
        }
        Ok(DbStatistics {
            locks,
            vacuum_latency,
            db_ro_delegations,
            db_ro_revokes,
            hop_count_bucket,
            num_hot_keys,
            hot_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset_of_value(bytes: &[u8], v: u32) -> usize {
        let needle = v.to_le_bytes();
        bytes.windows(4).position(|w| w == needle).unwrap_or(usize::MAX)
    }

    #[test]
    fn field_offsets_match_the_c_layout() {
        let mut s = Statistics {
            num_clients: 0x1001,
            keepalive_packets_recv: 0x1002,
            total_calls: 0x1009,
            max_hop_count: 0x100A,
            num_recoveries: 0x100D,
            total_ro_delegations: 0x100E,
            total_ro_revokes: 0x100F,
            ..Statistics::default()
        };
        s.node.req_call = 0x1003;
        s.client.req_call = 0x1004;
        s.timeouts.traverse = 0x1005;
        s.reclock.ctdbd.num = 0x1006;
        s.locks.num_calls = 0x1007;
        s.locks.buckets[0] = 0x1008;
        s.hop_count_bucket[0] = 0x100B;
        s.call_latency.num = 0x100C;
        s.statistics_start_time.sec = 0x1010;
        s.statistics_current_time.sec = 0x1011;
        let b = s.to_bytes();
        assert_eq!(b.len(), STATISTICS_LEN);
        for (v, off) in [
            (0x1001, 0),
            (0x1002, 32),
            (0x1003, 36),
            (0x1004, 72),
            (0x1005, 96),
            (0x1006, 104),
            (0x1007, 168),
            (0x1008, 216),
            (0x1009, 280),
            (0x100A, 304),
            (0x100B, 308),
            (0x100C, 376),
            (0x100D, 440),
            (0x1010, 448),
            (0x1011, 464),
            (0x100E, 480),
            (0x100F, 484),
        ] {
            assert_eq!(offset_of_value(&b, v), off, "value {v:#x}");
        }
        assert_eq!(Statistics::from_bytes(&b), Ok(s));
    }
}
