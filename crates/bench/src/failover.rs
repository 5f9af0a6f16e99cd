//! The failover workload: how fast clients reach a public address again
//! after the node hosting it fails, ctdb-rs's `ctdbd` against Debian's
//! (Samba's) in the same run, each with its **own defaults**.
//!
//! ```text
//! cargo run --release -p ctdb-bench -- --only failover            # 3 runs of every case, about 15 minutes
//! cargo run --release -p ctdb-bench -- --only failover --runs 5 --failover-cases kill,shutdown
//! ```
//!
//! Not part of the default run nor of `--smoke` (it needs root and takes
//! minutes); `--smoke --only failover` is one `kill -9` per daemon.
//!
//! Each measurement gets a fresh bed of [`ctdb_itest::netns`] (3 nodes in
//! network namespaces, 6 public addresses on `eth1` put there by Debian's
//! `10.interface`, a client namespace on the public segment), and is made
//! with [`ctdb_itest::failover_measure`], the same code as the failover
//! tests: the victim is a node that hosts an address and is not the
//! leader; an idle client connection to that address is registered with
//! `ctdb addtickle` on the victim and waited for until every node lists it;
//! a prober opens a new connection every 50 ms; then, after a random delay
//! of up to 5 s (so the fault does not always fall at the same phase of the
//! daemons' keepalive and recovery timers, which run in step with the
//! bed's start), the fault. Cases:
//!
//! * `kill` — `kill -9` of the victim's daemon;
//! * `cut` — the victim's two switch ports down (a pulled cable);
//! * `shutdown` — `ctdb shutdown` of the victim;
//! * `cut-keepalive-1-2` — `cut` with KeepaliveInterval=1 and
//!   KeepaliveLimit=2 in every node's `ctdb.tunables`, for both daemons;
//! * `cut-leader` (only when named in `--failover-cases`) — the leader's
//!   links cut, and the leader fenced from the cluster lock right after
//!   (recipe §6), defaults.
//!
//! Figures (seconds from the fault, median and min–max of the runs):
//! the first new connection answered by another node, and the idle
//! connection's reset (a tickle ACK from the new owner; a connection not
//! reset within 10 s of the first new connection is counted apart, not
//! timed). Also shown: `ctdb shutdown` until the daemon exited, start until
//! the bed was ready, and how long the tickle took to reach every node.
//! A case where no other node answers within 60 s fails the run.
//!
//! The beds run one at a time, after the loopback clusters of the other
//! workloads have stopped, with the daemons alternating who goes first.
//! Every bed is torn down when its measurement ends, fails, or the bench
//! is interrupted ([`interrupt`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_itest::failover_measure::{self, Fault, Measurement, Victim};
use ctdb_itest::netns::{BedConfig, PUBLIC_ADDRESSES};
use serde_json::json;

use crate::cluster::Kind;
use crate::report::Row;
use crate::workload::{Better, Metric, Unit};

/// The `--only` name of this workload.
pub const NAME: &str = "failover";

/// How long a bed may take from start until ready (Samba's first recovery
/// and takeover run take 10–25 s).
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// How long the tickle may take to reach every node (Samba sends tickle
/// lists every TickleUpdateInterval, 20 s by default).
const TICKLE_TIMEOUT: Duration = Duration::from_secs(45);

/// The fault comes a random delay up to this long after the prober is
/// running: one period of Samba's default keepalive (5 s), longer than its
/// recovery daemon's 1 s loop and ctdb-rs's keepalives, so the fault falls
/// at every phase of their timers rather than always at the same one.
const FAULT_JITTER: Duration = Duration::from_secs(5);

/// How long after the fault another node must answer for the address
/// (Samba's defaults detect a cut node after 25–30 s).
const FAULT_BOUND: Duration = Duration::from_secs(60);

/// Nodes per bed.
const NODES: u32 = 3;

/// Set when the bench is interrupted: every wait of the running
/// measurement gives up, and its bed is torn down.
static STOP: AtomicBool = AtomicBool::new(false);

/// Beds alive right now (0 or 1).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Ask a running failover measurement to stop, and wait (up to `timeout`)
/// until its bed is torn down, so no namespace or daemon outlives the
/// bench. Returns at once when no bed is alive.
pub fn interrupt(timeout: Duration) {
    STOP.store(true, Ordering::SeqCst);
    let until = Instant::now() + timeout;
    while LIVE.load(Ordering::SeqCst) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    if LIVE.load(Ordering::SeqCst) > 0 {
        eprintln!("ctdb-bench: a failover bed is still being torn down; the next bed removes what is left");
    }
}

fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Counts a bed as alive while it exists; declared before the bed, so it
/// is dropped after it.
struct Live;

impl Live {
    fn new() -> Live {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Live
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One fault with one set of tunables.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Case {
    /// `kill -9` of the hosting node's daemon.
    Kill,
    /// The hosting node's links cut, default tunables.
    Cut,
    /// `ctdb shutdown` of the hosting node.
    Shutdown,
    /// Links cut with KeepaliveInterval=1, KeepaliveLimit=2.
    CutTuned,
    /// The leader's links cut and the leader fenced, defaults.
    CutLeader,
}

impl Case {
    /// Every case, in table order.
    pub const ALL: [Case; 5] = [Case::Kill, Case::Cut, Case::Shutdown, Case::CutTuned, Case::CutLeader];

    /// The cases run when `--failover-cases` is not given.
    pub const DEFAULT: [Case; 4] = [Case::Kill, Case::Cut, Case::Shutdown, Case::CutTuned];

    /// The `--failover-cases` name and JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Case::Kill => "kill",
            Case::Cut => "cut",
            Case::Shutdown => "shutdown",
            Case::CutTuned => "cut-keepalive-1-2",
            Case::CutLeader => "cut-leader",
        }
    }

    /// By `--failover-cases` name.
    pub fn parse(s: &str) -> Result<Case> {
        match Case::ALL.into_iter().find(|c| c.key() == s) {
            Some(c) => Ok(c),
            None => bail!("no failover case {s:?} (one of {})", Case::ALL.map(Case::key).join(", ")),
        }
    }

    fn fault(self) -> Fault {
        match self {
            Case::Kill => Fault::Kill,
            Case::Cut | Case::CutTuned | Case::CutLeader => Fault::CutLinks,
            Case::Shutdown => Fault::Shutdown,
        }
    }

    fn victim(self) -> Victim {
        match self {
            Case::CutLeader => Victim::Leader,
            _ => Victim::Follower,
        }
    }

    /// `ctdb.tunables` lines of every node.
    fn tunables(self) -> Vec<String> {
        match self {
            Case::CutTuned => vec!["KeepaliveInterval=1".into(), "KeepaliveLimit=2".into()],
            _ => Vec::new(),
        }
    }

    /// Row label prefix.
    fn label(self) -> &'static str {
        match self {
            Case::Kill => "kill -9",
            Case::Cut => "links cut (defaults)",
            Case::Shutdown => "ctdb shutdown",
            Case::CutTuned => "links cut (keepalive 1 s x 2)",
            Case::CutLeader => "leader's links cut (fenced)",
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Measurements per case and daemon.
    pub runs: usize,
    /// The cases, in table order.
    pub cases: Vec<Case>,
    /// Each daemon and its `ctdbd`.
    pub daemons: Vec<(Kind, PathBuf)>,
}

/// The workload's results.
pub struct Report {
    /// The figures, for the table and the JSON `figures`.
    pub rows: Vec<Row>,
    /// Everything else for the JSON file: the bed, every measurement.
    pub json: serde_json::Value,
}

/// Indexes of a case's figures in the figure list.
const NEW_CONNECTION: usize = 0;
const IDLE_RESET: usize = 1;
const NOT_RESET: usize = 2;
const DAEMON_EXIT: usize = 3;

/// Run every case `plan.runs` times on both daemons. Blocking: call it on
/// a thread of its own.
pub fn run(plan: &Plan) -> Result<Report> {
    if plan.daemons.is_empty() || plan.cases.is_empty() {
        bail!("the failover workload needs a daemon and a case");
    }
    // Per case: new connection, idle reset, not reset (count), daemon exit.
    let mut figures: BTreeMap<Case, [BTreeMap<Kind, Vec<f64>>; 4]> = BTreeMap::new();
    let mut ready: BTreeMap<Kind, Vec<f64>> = BTreeMap::new();
    let mut tickle: BTreeMap<Kind, Vec<f64>> = BTreeMap::new();
    let mut runs_json = Vec::new();
    let total = plan.runs * plan.cases.len() * plan.daemons.len();
    let mut done = 0;
    for r in 0..plan.runs {
        for &case in &plan.cases {
            // Alternate who goes first, as the other workloads do.
            let mut order: Vec<&(Kind, PathBuf)> = plan.daemons.iter().collect();
            if r % 2 == 1 {
                order.reverse();
            }
            for (kind, daemon) in order {
                let kind = *kind;
                let one = measure_one(case, daemon)
                    .with_context(|| format!("failover {} on {kind} (run {} of {})", case.key(), r + 1, plan.runs))?;
                done += 1;
                let m = &one.measurement;
                eprintln!("ctdb-bench: [{done}/{total}] failover {:<18} {kind:<8} {}", case.key(), m.summary());
                let f = figures.entry(case).or_default();
                f[NEW_CONNECTION].entry(kind).or_default().push(m.new_connection.as_secs_f64());
                if let Some(d) = m.idle_ended {
                    f[IDLE_RESET].entry(kind).or_default().push(d.as_secs_f64());
                }
                f[NOT_RESET].entry(kind).or_default().push(if m.idle_ended.is_some() { 0.0 } else { 1.0 });
                if let Some(d) = m.daemon_exited {
                    f[DAEMON_EXIT].entry(kind).or_default().push(d.as_secs_f64());
                }
                ready.entry(kind).or_default().push(one.ready_after.as_secs_f64());
                tickle.entry(kind).or_default().push(one.tickle_after.as_secs_f64());
                runs_json.push(one.json(kind, case, r));
            }
        }
    }

    let mut rows = Vec::new();
    let none = BTreeMap::new();
    for (case, f) in figures {
        let key = |what: &str| format!("{NAME}.{}.{what}", case.key());
        let label = |what: &str| format!("{}: {what}", case.label());
        rows.push(Row::new(
            Metric::new(
                key("new_connection"),
                label("new connection answered elsewhere"),
                Unit::Seconds,
                Better::Lower,
            ),
            &f[NEW_CONNECTION],
            &none,
        ));
        rows.push(Row::new(
            Metric::new(key("idle_reset"), label("idle connection reset"), Unit::Seconds, Better::Lower),
            &f[IDLE_RESET],
            &none,
        ));
        // Shown only when it happened, so that the table stays short.
        if f[NOT_RESET].values().flatten().any(|n| *n > 0.0) {
            let sums: BTreeMap<Kind, Vec<f64>> =
                f[NOT_RESET].iter().map(|(k, v)| (*k, vec![v.iter().sum::<f64>()])).collect();
            rows.push(Row::new(
                Metric::new(
                    key("idle_not_reset"),
                    label("runs whose idle connection was NOT reset"),
                    Unit::Count,
                    Better::Lower,
                ),
                &sums,
                &none,
            ));
        }
        if case == Case::Shutdown {
            rows.push(Row::new(
                Metric::new(key("daemon_exit"), label("daemon exited"), Unit::Seconds, Better::Lower),
                &f[DAEMON_EXIT],
                &none,
            ));
        }
    }
    rows.push(Row::new(
        Metric::new(
            format!("{NAME}.bed_ready"),
            "bed: daemons started until all OK, addresses placed".into(),
            Unit::Seconds,
            Better::Lower,
        ),
        &ready,
        &none,
    ));
    rows.push(Row::new(
        Metric::new(
            format!("{NAME}.tickle_replicated"),
            "bed: addtickle on the victim until every node lists it".into(),
            Unit::Seconds,
            Better::Lower,
        ),
        &tickle,
        &none,
    ));

    let json = json!({
        "bed": {
            "nodes": NODES,
            "public_addresses": PUBLIC_ADDRESSES.map(|a| a.to_string()),
            "victim": "a node hosting an address, not the leader (cut-leader: the leader)",
            "probe_every_ms": failover_measure::PROBE_EVERY.as_millis() as u64,
            "probe_timeout_ms": failover_measure::PROBE_TIMEOUT.as_millis() as u64,
            "idle_grace_s": failover_measure::IDLE_GRACE.as_secs(),
            "fault_bound_s": FAULT_BOUND.as_secs(),
            "fault_jitter_s": FAULT_JITTER.as_secs(),
        },
        "daemons": plan.daemons.iter().map(|(k, p)| (k.key().to_string(), json!(p))).collect::<serde_json::Map<_, _>>(),
        "cases": plan.cases.iter().map(|c| json!({
            "name": c.key(), "fault": c.fault().describe(), "victim": format!("{:?}", c.victim()), "tunables": c.tunables(),
        })).collect::<Vec<_>>(),
        "runs": plan.runs,
        "measurements": runs_json,
    });
    Ok(Report { rows, json })
}

/// One measurement and the bed's own timings.
struct One {
    measurement: Measurement,
    victim: u32,
    leader: u32,
    vip: std::net::Ipv4Addr,
    ready_after: Duration,
    tickle_after: Duration,
    /// The random delay before the fault.
    delay: Duration,
}

impl One {
    fn json(&self, kind: Kind, case: Case, run: usize) -> serde_json::Value {
        let m = &self.measurement;
        let s = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        json!({
            "daemon": kind.key(),
            "case": case.key(),
            "run": run + 1,
            "victim": self.victim,
            "leader": self.leader,
            "address": self.vip.to_string(),
            "ready_s": self.ready_after.as_secs_f64(),
            "tickle_replicated_s": self.tickle_after.as_secs_f64(),
            "delay_before_fault_s": self.delay.as_secs_f64(),
            "new_connection_s": m.new_connection.as_secs_f64(),
            "answered_by": m.answered_by,
            "idle_fate": format!("{:?}", m.idle_fate),
            "idle_reset_s": s(m.idle_ended),
            "tool_returned_s": s(m.tool_returned),
            "daemon_exited_s": s(m.daemon_exited),
            "attempts_after_fault": m.attempts,
            "answered_by_victim": m.answered_by_victim,
            "failed_attempts": m.failed,
        })
    }
}

/// A fresh bed running `daemon` with `case`'s tunables, the fault, the
/// bed torn down.
fn measure_one(case: Case, daemon: &std::path::Path) -> Result<One> {
    if stopped() {
        bail!("interrupted");
    }
    // Declared first, dropped last: the bed counts as alive until it is
    // torn down.
    let _live = Live::new();
    let cfg = BedConfig { nodes: NODES, daemon: daemon.to_path_buf(), tunables: case.tunables(), options: Vec::new() };
    let ready = failover_measure::ready_bed(cfg, case.victim(), READY_TIMEOUT, &stopped)?;
    let (idle, tickle_after) = failover_measure::tickled_connection(&ready, TICKLE_TIMEOUT, &stopped)?;
    let delay = failover_measure::random_delay(FAULT_JITTER);
    let measurement = failover_measure::measure(&ready, case.fault(), idle, delay, FAULT_BOUND, &stopped)?;
    Ok(One {
        measurement,
        victim: ready.victim,
        leader: ready.leader,
        vip: ready.vip,
        ready_after: ready.ready_after,
        tickle_after,
        delay,
    })
}
