//! Fetch-lock ring: one record passed round the nodes, like Samba's
//! `ctdb_fetch_ring` test tool.
//!
//! One client per node, each with the volatile database `bench_ring.tdb`
//! open as smbd has it ([`VolatileDb`]). In turn — node 0, 1, 2, 0, … —
//! the turn's client fetch-locks the record (which migrates it from the
//! previous node: REQ_CALL with IMMEDIATE_MIGRATION to its daemon, that
//! daemon asks the lmaster, the lmaster has the dmaster hand the record
//! over), reads the u64 counter in its data, stores it incremented and
//! unlocks.
//!
//! The turns run one after the other from one task over the three
//! connections, so what is measured is the record migration itself (plus
//! the chain lock and the store in the file, which cost the same for both
//! daemons). Samba's tool passes the turn with a message through the
//! daemons; that would add a message round trip per turn, which the
//! message ring already measures.
//!
//! Checked: every turn reads exactly the count of increments so far (a
//! lost or repeated update, or a stale copy, shows at once); every turn
//! after the first needed a migration (else two nodes were dmaster at
//! once); at the end the node that took the last turn holds the record
//! with the count of all increments, and no other node claims it.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::record::VolatileDb;
use ctdb_client::Client;
use serde_json::json;

use super::db::{decode_counter, encode_counter, fresh_tag, op_timeout};
use super::{Better, BoxFuture, Deadline, Metric, Nodes, Outcome, Unit, Workload};
use crate::stats::{rate, Latencies};

/// The database the ring's record lives in.
pub const DB_NAME: &str = "bench_ring.tdb";

/// The fetch-lock ring workload.
#[derive(Debug)]
pub struct FetchLockRing {
    increments: u64,
}

impl FetchLockRing {
    /// `increments` measured turns (after one unmeasured lap that creates
    /// the record and warms every node up).
    pub fn new(increments: u64) -> FetchLockRing {
        FetchLockRing { increments: increments.max(1) }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let n = nodes.len();
        if n < 2 {
            bail!("the fetch-lock ring needs at least 2 nodes");
        }
        let deadline = Deadline::after(limit);
        let mut clients = Vec::with_capacity(n);
        let mut dbs = Vec::with_capacity(n);
        for pnn in 0..n {
            let c = deadline.wait("connecting ring clients", nodes.connect(pnn)).await??;
            let t = op_timeout(&deadline, "attaching")?;
            let db =
                VolatileDb::attach(&c, DB_NAME, t).await.with_context(|| format!("node {pnn}: attaching {DB_NAME}"))?;
            clients.push(c);
            dbs.push(db);
        }
        let key = format!("fetch-lock-ring-{}", fresh_tag()).into_bytes();
        let warmup = n as u64;
        let total = warmup + self.increments;
        let mut lat = Latencies::with_capacity(usize::try_from(self.increments).unwrap_or(0));
        let mut start = Instant::now();
        for turn in 0..total {
            if turn == warmup {
                start = Instant::now();
            }
            let me = (turn % n as u64) as usize;
            let t = Instant::now();
            turn_once(&mut dbs[me], &clients[me], &key, turn, &deadline)
                .await
                .with_context(|| format!("fetch-lock ring, turn {turn} on node {me}"))?;
            if turn >= warmup {
                lat.record(t.elapsed());
            }
        }
        let elapsed = start.elapsed();

        // The node of the last turn holds the record; no other claims it.
        let last = ((total - 1) % n as u64) as usize;
        for (pnn, db) in dbs.iter().enumerate() {
            let local = db.local_value(&key).with_context(|| format!("reading the record on node {pnn}"))?;
            let Some((header, data)) = local else {
                if pnn == last {
                    bail!("fetch-lock ring: node {pnn} took the last turn but has no record");
                }
                continue;
            };
            let here = u32::try_from(pnn).context("pnn")?;
            if pnn == last {
                if header.dmaster != here {
                    bail!(
                        "fetch-lock ring: node {pnn} took the last turn but its copy names dmaster {}",
                        header.dmaster
                    );
                }
                let count = decode_counter(&data).context("fetch-lock ring: final record")?;
                if count != total {
                    bail!("fetch-lock ring: the counter ends at {count} after {total} increments");
                }
            } else if header.dmaster == here {
                bail!("fetch-lock ring: node {pnn} also claims to be the record's dmaster (the last turn was node {last}'s)");
            }
        }
        drop(dbs);
        for c in clients {
            c.close().await;
        }
        Ok(Outcome {
            values: vec![rate(self.increments, elapsed), lat.percentile_us(50.0), lat.percentile_us(99.0)],
            units: self.increments,
        })
    }
}

/// One turn: lock (migrating the record here), check the count, store it
/// incremented, unlock.
async fn turn_once(db: &mut VolatileDb, client: &Client, key: &[u8], turn: u64, deadline: &Deadline) -> Result<()> {
    let t = op_timeout(deadline, "fetch-lock")?;
    let mut locked = db.fetch_locked(client, key, t).await.context("fetch-lock")?;
    let count = decode_counter(&locked.data)?;
    if count != turn {
        bail!("the record holds {count}, but {turn} increments were made before this turn: an update was lost or a stale copy served");
    }
    if turn > 0 && locked.migrations == 0 {
        bail!("the record was already here although another node held it the turn before: two dmasters");
    }
    locked.store(&encode_counter(count + 1)).context("storing the record")?;
    Ok(())
}

impl Workload for FetchLockRing {
    fn name(&self) -> &'static str {
        "fetch-lock-ring"
    }

    fn params(&self) -> serde_json::Value {
        json!({
            "database": DB_NAME,
            "increments": self.increments,
            "turns": "sequential from one task, one client per node, node 0, 1, 2, 0, ...",
            "warmup_turns": "one lap",
        })
    }

    fn metrics(&self) -> Vec<Metric> {
        let key = |k: &str| format!("fetch-lock-ring.{k}");
        let lat = |p: &str| {
            Metric::new(key(p), format!("fetch-lock ring: {p} latency of a turn"), Unit::Micros, Better::Lower)
        };
        vec![
            Metric::new(
                key("rate"),
                "fetch-lock ring (migrate, +1, store): increments".into(),
                Unit::PerSecond,
                Better::Higher,
            ),
            lat("p50"),
            lat("p99"),
        ]
    }

    fn unit_noun(&self) -> &'static str {
        "increments"
    }

    fn run<'a>(&'a self, nodes: &'a Nodes, limit: Duration) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(self.run_inner(nodes, limit))
    }

    fn uses_databases(&self) -> bool {
        true
    }
}
