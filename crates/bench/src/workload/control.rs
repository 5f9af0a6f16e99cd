//! Control round trip: PING, one request at a time per client.
//!
//! PING is the cheapest control both daemons answer (status = number of
//! clients connected), so this measures the daemon's request path itself:
//! read, decode, dispatch, encode, write. The remote variant sends PING
//! from a client of node 0 to node 1, through both daemons and the
//! node-to-node link.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::Client;
use ctdb_legacy_proto::pnn;
use serde_json::json;

use super::{Better, BoxFuture, Deadline, Goal, Metric, Nodes, Outcome, Unit, Workload};
use crate::stats::{rate, Latencies};

/// Where the PINGs go.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// CURRENT_NODE: the daemon the client is connected to.
    Local,
    /// Node 1, from a client of node 0.
    Remote,
}

/// PINGs from `clients` clients, each sending `per_client` one after the
/// other, all clients at once.
#[derive(Debug)]
pub struct ControlRoundTrip {
    dest: Destination,
    clients: usize,
    per_client: u64,
}

/// Unmeasured PINGs per client before the clock starts, so that the first
/// connection's and the allocator's warm-up costs are not in the figures.
const WARMUP: u64 = 50;

impl ControlRoundTrip {
    /// A control workload.
    pub fn new(dest: Destination, clients: usize, per_client: u64) -> ControlRoundTrip {
        ControlRoundTrip { dest, clients: clients.max(1), per_client: per_client.max(1) }
    }

    fn what(&self) -> String {
        let to = match self.dest {
            Destination::Local => "",
            Destination::Remote => " to other node",
        };
        if self.clients == 1 {
            format!("control{to}, 1 client")
        } else {
            format!("control{to}, {} clients", self.clients)
        }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let deadline = Deadline::after(limit);
        let (dest, expect_min) = match self.dest {
            // Every client of this run is connected to the node it pings.
            Destination::Local => (pnn::CURRENT_NODE, self.clients as i32),
            Destination::Remote => {
                if nodes.len() < 2 {
                    bail!("the remote control workload needs at least 2 nodes");
                }
                (1, 0)
            }
        };
        let mut clients = Vec::with_capacity(self.clients);
        for _ in 0..self.clients {
            clients.push(Arc::new(deadline.wait("connecting clients", nodes.connect(0)).await??));
        }
        for c in &clients {
            for _ in 0..WARMUP {
                ping_checked(c, dest, expect_min, &deadline).await?;
            }
        }

        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for c in &clients {
            let c = Arc::clone(c);
            let per_client = self.per_client;
            tasks.spawn(async move {
                let mut lat = Latencies::with_capacity(usize::try_from(per_client).unwrap_or(0));
                for _ in 0..per_client {
                    let t = Instant::now();
                    ping_checked(&c, dest, expect_min, &deadline).await?;
                    lat.record(t.elapsed());
                }
                anyhow::Ok(lat)
            });
        }
        let mut all = Latencies::with_capacity(self.clients * usize::try_from(self.per_client).unwrap_or(0));
        while let Some(joined) = tasks.join_next().await {
            all.merge(joined.context("control client task")??);
        }
        let elapsed = start.elapsed();
        let total = self.per_client * self.clients as u64;
        if all.len() as u64 != total {
            bail!("{}: {} replies measured, {total} expected", self.what(), all.len());
        }
        for c in clients {
            if let Ok(c) = Arc::try_unwrap(c) {
                c.close().await;
            }
        }
        let values = if self.clients == 1 {
            vec![all.percentile_us(50.0), all.percentile_us(90.0), all.percentile_us(99.0), rate(total, elapsed)]
        } else {
            vec![rate(total, elapsed), all.percentile_us(50.0), all.percentile_us(99.0)]
        };
        Ok(Outcome { values, units: total })
    }
}

/// One PING within the deadline; its status must count at least the
/// clients we know are connected to the node.
async fn ping_checked(c: &Client, dest: u32, expect_min: i32, deadline: &Deadline) -> Result<()> {
    // A single control never waits longer than the client's own default.
    let timeout = deadline.remaining().min(ctdb_client::DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        deadline.check("PING")?;
    }
    let clients = c.ping(dest, timeout).await.context("PING")?;
    if clients < expect_min {
        bail!("PING reply says {clients} clients are connected, but this run alone has {expect_min}");
    }
    Ok(())
}

impl Workload for ControlRoundTrip {
    fn name(&self) -> &'static str {
        match (self.dest, self.clients) {
            (Destination::Local, 1) => "control",
            (Destination::Local, _) => "control-concurrent",
            (Destination::Remote, _) => "control-remote",
        }
    }

    fn params(&self) -> serde_json::Value {
        json!({
            "control": "PING",
            "destination": match self.dest { Destination::Local => "CURRENT_NODE", Destination::Remote => "node 1 from node 0" },
            "clients": self.clients,
            "per_client": self.per_client,
            "warmup_per_client": WARMUP,
        })
    }

    fn metrics(&self) -> Vec<Metric> {
        let name = self.name();
        let what = self.what();
        let key = |k: &str| format!("{name}.{k}");
        let (p50_floor, p99_floor, rate_floor) = match self.dest {
            Destination::Local => ("unix-echo.p50", "unix-echo.p99", "unix-echo.rate"),
            Destination::Remote => ("tcp-echo.p50", "tcp-echo.p99", "tcp-echo.rate"),
        };
        let lat = |p: &str| Metric::new(key(p), format!("{what}: {p} latency"), Unit::Micros, Better::Lower);
        let throughput = Metric::new(key("rate"), format!("{what}: throughput"), Unit::PerSecond, Better::Higher);
        match (self.dest, self.clients) {
            (Destination::Local, 1) => vec![
                lat("p50").floor(p50_floor).goal(Goal::AtMost(1.0)),
                lat("p90"),
                lat("p99").floor(p99_floor).goal(Goal::AtMost(1.0)),
                throughput.floor(rate_floor).goal(Goal::AtLeast(2.0)),
            ],
            (Destination::Local, _) => {
                vec![throughput.floor("unix-echo-many.rate").goal(Goal::AtLeast(2.0)), lat("p50"), lat("p99")]
            }
            (Destination::Remote, _) => {
                vec![lat("p50").floor(p50_floor), lat("p90"), lat("p99").floor(p99_floor), throughput.floor(rate_floor)]
            }
        }
    }

    fn unit_noun(&self) -> &'static str {
        "controls"
    }

    fn run<'a>(&'a self, nodes: &'a Nodes, limit: Duration) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(self.run_inner(nodes, limit))
    }
}
