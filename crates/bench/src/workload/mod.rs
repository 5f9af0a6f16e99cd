//! Workloads: what the bench runs against a cluster.
//!
//! A workload talks to the cluster only through the legacy client protocol
//! ([`ctdb_client::Client`] on each node's Unix socket), so the same code
//! runs against Samba's ctdbd and against ours. Each run checks its own
//! results and fails on the first wrong one (lost, duplicated, reordered or
//! corrupted message, bad reply): a fast wrong daemon cannot score.
//!
//! Adding a workload: implement [`Workload`] in a file of this module and
//! add it to [`registry`]. The harness measures daemon CPU per 100k units
//! and RSS around every run by itself; a workload reports only its own
//! figures. The database workloads ([`FetchLockRing`], [`HotKey`],
//! [`VolatileRecovery`], [`PersistentRecovery`], [`TransactionLoop`],
//! [`CommitLatency`]) open the daemon's TDB files as smbd does (records
//! locked through [`ctdb_client::record::VolatileDb`]; persistent
//! transactions through [`ctdb_client::persistent`]; the persistent
//! recovery's database filled through Debian's `ctdb ptrans`) and so need
//! a real daemon on this machine. Workloads whose clients are processes of
//! their own start this executable again (see `worker`).

mod broadcast;
mod commit_latency;
mod control;
mod db;
#[cfg(test)]
mod fake;
mod fetch_lock_ring;
pub mod hot_key;
mod persistent_recovery;
mod ring;
pub mod transaction_loop;
mod volatile_recovery;
mod worker;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::Client;
use ctdb_legacy_proto::ReqMessage;

pub use broadcast::Broadcast;
pub use commit_latency::CommitLatency;
pub use control::{ControlRoundTrip, Destination};
pub use fetch_lock_ring::FetchLockRing;
pub use hot_key::HotKey;
pub use persistent_recovery::PersistentRecovery;
pub use ring::MessageRing;
pub use transaction_loop::TransactionLoop;
pub use volatile_recovery::VolatileRecovery;

/// A boxed future, so that [`Workload`] stays object safe and the registry
/// can hold workloads of different types.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One benchmark, runnable against any cluster that speaks the legacy
/// client protocol.
pub trait Workload: Send + Sync {
    /// Short stable name: the `--only` argument and the JSON key.
    fn name(&self) -> &'static str;

    /// The counts this instance runs with, for the JSON file.
    fn params(&self) -> serde_json::Value;

    /// The figures one run yields, in the order of [`Outcome::values`].
    fn metrics(&self) -> Vec<Metric>;

    /// What [`Outcome::units`] counts, plural ("controls", "messages").
    fn unit_noun(&self) -> &'static str;

    /// Run once against `nodes`. Must finish within `limit` (else fail),
    /// leave no client connected, and check every result it receives.
    fn run<'a>(&'a self, nodes: &'a Nodes, limit: Duration) -> BoxFuture<'a, Result<Outcome>>;

    /// Whether it opens the daemons' database files (and so cannot run
    /// against the fake cluster of the tests).
    fn uses_databases(&self) -> bool {
        false
    }
}

/// What a workload sees of a cluster.
#[derive(Clone, Debug)]
pub struct Nodes {
    /// Client socket of each node, in pnn order.
    pub sockets: Vec<PathBuf>,
}

impl Nodes {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Connect one client to node `pnn`, and check that the daemon agrees
    /// it is that node.
    pub async fn connect(&self, pnn: usize) -> Result<Client> {
        let socket = self.sockets.get(pnn).with_context(|| format!("no node {pnn}"))?;
        let client = Client::connect(socket).await.with_context(|| format!("connecting to node {pnn}"))?;
        if usize::try_from(client.pnn()).ok() != Some(pnn) {
            bail!("the daemon on node {pnn}'s socket says it is pnn {}", client.pnn());
        }
        Ok(client)
    }
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// One value per [`Workload::metrics`] entry.
    pub values: Vec<f64>,
    /// How much work the run did (controls, messages, deliveries), for the
    /// daemon CPU time per 100k units.
    pub units: u64,
}

/// How a figure is measured.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Unit {
    /// Microseconds (latency).
    #[serde(rename = "us")]
    Micros,
    /// Milliseconds (durations of whole operations, e.g. a recovery).
    #[serde(rename = "ms")]
    Millis,
    /// Seconds (failover times).
    #[serde(rename = "s")]
    Seconds,
    /// Events per second.
    #[serde(rename = "per_s")]
    PerSecond,
    /// Mebibytes.
    #[serde(rename = "MiB")]
    MiB,
    /// Milliseconds of CPU time.
    #[serde(rename = "cpu_ms")]
    CpuMs,
    /// A plain count.
    #[serde(rename = "count")]
    Count,
    /// Percent.
    #[serde(rename = "percent")]
    Percent,
}

impl Unit {
    /// Short label for the table.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Micros => "us",
            Unit::Millis => "ms",
            Unit::Seconds => "s",
            Unit::PerSecond => "/s",
            Unit::MiB => "MiB",
            Unit::CpuMs => "ms CPU",
            Unit::Count => "",
            Unit::Percent => "%",
        }
    }
}

/// Which direction is better.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Throughput.
    Higher,
    /// Latency, memory, CPU.
    Lower,
}

/// Goal for the ratio ctdb-rs ÷ Samba (issue 4's targets). Reported, never
/// asserted: a run that misses a target still succeeds.
#[derive(Copy, Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// The ratio must be at least this.
    AtLeast(f64),
    /// The ratio must be at most this.
    AtMost(f64),
}

impl Goal {
    /// Whether `ratio` (ctdb-rs ÷ Samba) meets the goal.
    pub fn met(self, ratio: f64) -> bool {
        match self {
            Goal::AtLeast(x) => ratio >= x,
            Goal::AtMost(x) => ratio <= x,
        }
    }

    /// "≥2.00×" style text.
    pub fn label(self) -> String {
        match self {
            Goal::AtLeast(x) => format!(">={x:.2}x"),
            Goal::AtMost(x) => format!("<={x:.2}x"),
        }
    }
}

/// One figure a workload reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Metric {
    /// Stable key, `workload.figure`.
    pub key: String,
    /// Row label in the table.
    pub label: String,
    /// Unit of the value.
    pub unit: Unit,
    /// Which way is better.
    pub better: Better,
    /// Key of the floor figure to read this one against, if any.
    pub floor: Option<&'static str>,
    /// Target for ctdb-rs ÷ Samba, if issue 4 sets one.
    pub goal: Option<Goal>,
}

impl Metric {
    /// A metric without floor or goal.
    pub fn new(key: String, label: String, unit: Unit, better: Better) -> Metric {
        Metric { key, label, unit, better, floor: None, goal: None }
    }

    /// Read against floor figure `key`.
    pub fn floor(mut self, key: &'static str) -> Metric {
        self.floor = Some(key);
        self
    }

    /// With a goal.
    pub fn goal(mut self, goal: Goal) -> Metric {
        self.goal = Some(goal);
        self
    }
}

/// The counts of every workload for one kind of run.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// Controls in the one-client runs.
    pub controls: u64,
    /// Concurrent clients in the many-client run.
    pub concurrent_clients: usize,
    /// Controls per client in the many-client run.
    pub controls_per_client: u64,
    /// Tokens each node puts on the message ring.
    pub ring_window: u32,
    /// Laps each token makes.
    pub ring_laps: u32,
    /// Messages the broadcast sender sends.
    pub broadcasts: u64,
    /// Broadcast messages in flight at most (sent, not yet received by
    /// every receiver).
    pub broadcast_window: u64,
    /// Bytes of payload in every message.
    pub payload: usize,
    /// Turns (increments) on the fetch-lock ring.
    pub ring_increments: u64,
    /// Hot-key clients on every node.
    pub hot_clients_per_node: usize,
    /// Hot keys they share.
    pub hot_keys: usize,
    /// Increments each hot-key client makes.
    pub hot_per_client: u64,
    /// Records in the volatile database before the recovery.
    pub recovery_records: u64,
    /// Records in the persistent database before its recoveries.
    pub persistent_records: u64,
    /// Commits of the transaction loops (all clients together).
    pub loop_commits: u64,
    /// Seconds a transaction loop may run at most.
    pub loop_seconds: u64,
    /// Sequential commits of the commit-latency run.
    pub latency_commits: u64,
    /// Seconds the commit-latency run may take at most.
    pub latency_seconds: u64,
}

impl Sizes {
    /// The full comparison: each run long enough (about a second) that
    /// start-up costs and timer resolution vanish.
    pub fn full(payload: usize, ring_window: u32) -> Sizes {
        Sizes {
            controls: 20_000,
            concurrent_clients: 16,
            controls_per_client: 4_000,
            ring_window,
            ring_laps: 1_200,
            broadcasts: 30_000,
            broadcast_window: 256,
            payload,
            ring_increments: 10_000,
            hot_clients_per_node: 4,
            hot_keys: 3,
            hot_per_client: 20_000,
            recovery_records: 1_000_000,
            persistent_records: 100_000,
            loop_commits: 3_000,
            loop_seconds: 5,
            latency_commits: 1_000,
            latency_seconds: 5,
        }
    }

    /// The smoke run: the same paths with tiny counts.
    pub fn smoke(payload: usize, ring_window: u32) -> Sizes {
        Sizes {
            controls: 200,
            concurrent_clients: 16,
            controls_per_client: 20,
            ring_window,
            ring_laps: 5,
            broadcasts: 200,
            broadcast_window: 32,
            payload,
            ring_increments: 30,
            hot_clients_per_node: 4,
            hot_keys: 3,
            hot_per_client: 10,
            recovery_records: 1_000,
            persistent_records: 200,
            loop_commits: 30,
            loop_seconds: 2,
            latency_commits: 20,
            latency_seconds: 1,
        }
    }
}

/// Every workload, in table order.
pub fn registry(sizes: &Sizes) -> Vec<Box<dyn Workload>> {
    vec![
        Box::new(ControlRoundTrip::new(Destination::Local, 1, sizes.controls)),
        Box::new(ControlRoundTrip::new(Destination::Local, sizes.concurrent_clients, sizes.controls_per_client)),
        Box::new(ControlRoundTrip::new(Destination::Remote, 1, sizes.controls / 2)),
        Box::new(MessageRing::new(sizes.ring_window, sizes.ring_laps, sizes.payload)),
        Box::new(Broadcast::new(sizes.broadcasts, sizes.broadcast_window, sizes.payload)),
        Box::new(FetchLockRing::new(sizes.ring_increments)),
        Box::new(HotKey::new(sizes.hot_clients_per_node, sizes.hot_keys, sizes.hot_per_client)),
        Box::new(VolatileRecovery::new(sizes.recovery_records, volatile_recovery::VALUE_BYTES)),
        Box::new(PersistentRecovery::new(sizes.persistent_records, persistent_recovery::VALUE_BYTES)),
        Box::new(TransactionLoop::new(sizes.loop_commits, sizes.loop_seconds, false)),
        Box::new(TransactionLoop::new(sizes.loop_commits, sizes.loop_seconds, true)),
        Box::new(CommitLatency::new(sizes.latency_commits, sizes.latency_seconds)),
    ]
}

/// The time a run may take; every wait in a workload is bounded by it.
#[derive(Copy, Clone, Debug)]
pub struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        Deadline { at: Instant::now() + limit, limit }
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Fail once the deadline has passed.
    pub fn check(&self, what: &str) -> Result<()> {
        if Instant::now() >= self.at {
            bail!("{what}: not done within the run's time limit of {:?}", self.limit);
        }
        Ok(())
    }

    /// `fut`, or an error naming `what` if the deadline passes first.
    pub async fn wait<T>(&self, what: &str, fut: impl Future<Output = T>) -> Result<T> {
        match tokio::time::timeout(self.remaining(), fut).await {
            Ok(v) => Ok(v),
            Err(_) => bail!("{what}: not done within the run's time limit of {:?}", self.limit),
        }
    }
}

/// The next message for `client`, within the deadline.
pub async fn receive(client: &Client, deadline: &Deadline, who: &str) -> Result<ReqMessage> {
    match deadline.wait(who, client.next_message()).await? {
        Some(m) => Ok(m),
        None => bail!("{who}: the daemon closed the connection"),
    }
}

/// After a workload: give late duplicates a moment to show up, then fail
/// if any client received anything more.
pub async fn expect_silence(clients: &[&Client], what: &str) -> Result<()> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    for (i, c) in clients.iter().enumerate() {
        if let Some(m) = c.try_next_message() {
            bail!("{what}: client {i} received an extra message after the last expected one (srvid {:#x}, {} bytes): a duplicate", m.srvid, m.data.len());
        }
    }
    Ok(())
}

/// A srvid no earlier run used, so a stray message from an earlier run can
/// never count as a result of this one. Outside the ranges CTDB reserves
/// (top byte 0xF0..0xFF) and unlike Samba's own (pid-based) ones.
pub fn fresh_srvid() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    0x00BE_0000_0000_0000 | (u64::from(std::process::id() & 0xF_FFFF) << 24) | (n & 0xFF_FFFF)
}

/// Size of the stamp at the front of every message payload.
pub const STAMP_LEN: usize = 24;

/// What every benchmark message carries at the front of its payload; the
/// rest of the payload is a pattern derived from it, so that corrupted
/// bytes anywhere are noticed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Who sent this message (node or sender index).
    pub from: u32,
    /// Sequence number of this message from `from` to this receiver
    /// (counts from 0, one per message, so gaps and repeats show).
    pub seq: u64,
    /// Workload-specific (ring: origin node).
    pub a: u32,
    /// Workload-specific (ring: token number).
    pub b: u32,
    /// Workload-specific (ring: hops made).
    pub c: u32,
}

impl Stamp {
    /// The payload of `len` bytes (at least [`STAMP_LEN`]) carrying this stamp.
    pub fn encode(&self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len.max(STAMP_LEN));
        out.extend_from_slice(&self.from.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.a.to_le_bytes());
        out.extend_from_slice(&self.b.to_le_bytes());
        out.extend_from_slice(&self.c.to_le_bytes());
        let fill = self.fill();
        out.extend((out.len()..len).map(|i| fill.wrapping_add(i as u8)));
        out
    }

    /// Decode a payload of exactly `len` bytes; every byte is checked.
    pub fn decode(data: &[u8], len: usize) -> Result<Stamp> {
        if data.len() != len.max(STAMP_LEN) {
            bail!("payload is {} bytes, sent {}", data.len(), len.max(STAMP_LEN));
        }
        let u32_at = |o: usize| u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&data[4..12]);
        let stamp =
            Stamp { from: u32_at(0), seq: u64::from_le_bytes(seq), a: u32_at(12), b: u32_at(16), c: u32_at(20) };
        let fill = stamp.fill();
        if let Some(i) = (STAMP_LEN..data.len()).find(|&i| data[i] != fill.wrapping_add(i as u8)) {
            bail!("payload byte {i} corrupted (message from {} seq {})", stamp.from, stamp.seq);
        }
        Ok(stamp)
    }

    fn fill(&self) -> u8 {
        (self.seq as u8) ^ (self.from as u8).rotate_left(4)
    }
}

/// Per-sender sequence check: every message exactly once, in order.
#[derive(Debug)]
pub struct SeqCheck {
    next: Vec<u64>,
}

impl SeqCheck {
    /// For senders `0..senders`.
    pub fn new(senders: usize) -> SeqCheck {
        SeqCheck { next: vec![0; senders] }
    }

    /// Accept the message `seq` from `from`, or say what went wrong.
    pub fn accept(&mut self, from: u32, seq: u64) -> Result<()> {
        let Some(next) = usize::try_from(from).ok().and_then(|f| self.next.get_mut(f)) else {
            bail!("message from unknown sender {from}");
        };
        match seq.cmp(next) {
            std::cmp::Ordering::Equal => {
                *next += 1;
                Ok(())
            }
            std::cmp::Ordering::Less => {
                bail!("message {seq} from sender {from} arrived again or out of order (expected {next})")
            }
            std::cmp::Ordering::Greater => {
                bail!("messages {next}..{seq} from sender {from} lost or overtaken (got {seq}, expected {next})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_and_catches_corruption() {
        let s = Stamp { from: 2, seq: 0x1_0000_0007, a: 1, b: 9, c: 4 };
        let mut p = s.encode(64);
        assert_eq!(p.len(), 64);
        assert_eq!(Stamp::decode(&p, 64).unwrap(), s);
        p[40] ^= 1;
        assert!(Stamp::decode(&p, 64).is_err());
        assert!(Stamp::decode(&s.encode(64)[..63], 64).is_err());
        // A payload smaller than the stamp still carries the stamp.
        assert_eq!(Stamp::decode(&s.encode(8), 8).unwrap(), s);
    }

    #[test]
    fn seqcheck_rejects_gaps_repeats_and_strangers() {
        let mut c = SeqCheck::new(2);
        c.accept(0, 0).unwrap();
        c.accept(1, 0).unwrap();
        c.accept(0, 1).unwrap();
        assert!(c.accept(0, 1).is_err(), "repeat");
        assert!(c.accept(1, 2).is_err(), "gap");
        assert!(c.accept(2, 0).is_err(), "unknown sender");
        assert_eq!(c.next, vec![2, 1]);
    }

    #[test]
    fn fresh_srvids_differ_and_avoid_ctdb_ranges() {
        let (a, b) = (fresh_srvid(), fresh_srvid());
        assert_ne!(a, b);
        assert!(a >> 56 < 0xF0 && b >> 56 < 0xF0);
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    }

    /// Run `w` against a fake 3-node cluster with `fault`.
    fn run_with(w: &dyn Workload, fault: fake::Fault, limit: Duration) -> Result<Outcome> {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let nodes = fake::start(dir.path(), 3, fault).unwrap();
            w.run(&nodes, limit).await
        })
    }

    #[test]
    fn a_correct_daemon_passes_every_workload() {
        for w in registry(&Sizes::smoke(64, 2)).into_iter().filter(|w| !w.uses_databases()) {
            let out = run_with(w.as_ref(), fake::Fault::None, Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("{}: {e:#}", w.name()));
            assert_eq!(out.values.len(), w.metrics().len(), "{}", w.name());
            assert!(out.units > 0 && out.values.iter().all(|v| *v > 0.0), "{}: {out:?}", w.name());
        }
    }

    /// Message ring of 3 nodes, 2 tokens each, 3 laps: 54 messages.
    const RING_MESSAGES: u64 = 54;

    #[test]
    fn lost_duplicated_reordered_or_corrupted_messages_fail_the_ring() {
        let ring = MessageRing::new(2, 3, 64);
        for (fault, why) in [
            (fake::Fault::Duplicate(7), "again"),
            (fake::Fault::Duplicate(RING_MESSAGES - 1), "a duplicate"),
            (fake::Fault::Drop(7), "lost"),
            (fake::Fault::Drop(RING_MESSAGES - 1), "time limit"),
            (fake::Fault::Swap(7), "overtaken"),
            (fake::Fault::Corrupt(7), "corrupted"),
        ] {
            let err = run_with(&ring, fault, Duration::from_secs(1)).expect_err(&format!("{fault:?} must fail"));
            assert!(format!("{err:#}").contains(why), "{fault:?}: {err:#}");
        }
    }

    #[test]
    fn lost_duplicated_reordered_or_corrupted_messages_fail_the_broadcast() {
        // 20 messages to 3 receivers: 60 deliveries.
        let b = Broadcast::new(20, 4, 64);
        for (fault, why) in [
            (fake::Fault::Duplicate(10), "again"),
            (fake::Fault::Duplicate(59), "a duplicate"),
            (fake::Fault::Drop(10), "lost"),
            (fake::Fault::Drop(59), "time limit"),
            (fake::Fault::Swap(10), "overtaken"),
            (fake::Fault::Corrupt(10), "corrupted"),
        ] {
            let err = run_with(&b, fault, Duration::from_secs(1)).expect_err(&format!("{fault:?} must fail"));
            assert!(format!("{err:#}").contains(why), "{fault:?}: {err:#}");
        }
    }

    #[test]
    fn a_wrong_ping_reply_fails_the_control_workload() {
        let w = ControlRoundTrip::new(Destination::Local, 2, 5);
        let err = run_with(&w, fake::Fault::PingZero, Duration::from_secs(5)).unwrap_err();
        assert!(format!("{err:#}").contains("PING reply says 0 clients"), "{err:#}");
    }

    #[test]
    fn goals() {
        assert!(Goal::AtLeast(2.0).met(2.0));
        assert!(!Goal::AtLeast(2.0).met(1.9));
        assert!(Goal::AtMost(1.0).met(0.5));
        assert!(!Goal::AtMost(1.0).met(1.1));
    }
}
