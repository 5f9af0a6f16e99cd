//! Commit latency: one client on node 0 commits small transactions one
//! after the other, with nobody else around.
//!
//! The client is the transaction loop's ([`super::transaction_loop`]), a
//! process of its own, alone on node 0 with a counter in the persistent
//! database `bench_commit.tdb`: each transaction takes the g_lock (which
//! stays on node 0 after the first), reads the counter, stores it plus one
//! (8 bytes, a new value every time) and commits. Bounded by `commits` and
//! `seconds`, whichever ends first.
//!
//! Measured: the latency of a whole transaction (start to commit returned)
//! as p50, p99 and mean, and the p50 of its commit alone (TRANS3_COMMIT,
//! which returns once every node has the record, and the unlock).
//!
//! Checked as in the transaction loop: every node's file holds the counter
//! at the number of commits, and the sequence number grew by as many.

use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::json;

use super::db::fresh_tag;
use super::transaction_loop::{check_nodes, run_clients, ClientSpec};
use super::{Better, BoxFuture, Deadline, Goal, Metric, Nodes, Outcome, Unit, Workload};

/// The persistent database of the commits.
pub const DB_NAME: &str = "bench_commit.tdb";

/// The commit-latency workload.
#[derive(Debug)]
pub struct CommitLatency {
    commits: u64,
    seconds: u64,
}

impl CommitLatency {
    /// `commits` sequential commits or `seconds`, whichever ends first.
    pub fn new(commits: u64, seconds: u64) -> CommitLatency {
        CommitLatency { commits: commits.max(1), seconds: seconds.max(1) }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let deadline = Deadline::after(limit);
        let key = format!("commit-{}", fresh_tag());
        let spec = ClientSpec { pnn: 0, db: DB_NAME.to_string(), key: key.clone(), stop_at: self.commits };
        let mut run = run_clients(nodes, &[spec], Duration::from_secs(self.seconds), &deadline).await?;
        let total = run.commits();
        if total == 0 {
            bail!("commit latency: no commit within {} s", self.seconds);
        }
        if run.clients[0].last != total {
            bail!("CORRECTNESS: {total} commits, but the last one stored {}", run.clients[0].last);
        }
        check_nodes(nodes, DB_NAME, &key, total, &run.seqnums[DB_NAME], &deadline).await?;
        let mean_us = run.lat.nanos().iter().map(|&n| n as f64).sum::<f64>() / run.lat.len() as f64 / 1000.0;
        Ok(Outcome {
            values: vec![
                run.lat.percentile_us(50.0),
                run.lat.percentile_us(99.0),
                mean_us,
                run.commit_lat.percentile_us(50.0),
            ],
            units: total,
        })
    }
}

impl Workload for CommitLatency {
    fn name(&self) -> &'static str {
        "commit-latency"
    }

    fn params(&self) -> serde_json::Value {
        json!({
            "database": DB_NAME,
            "clients": "one process on node 0",
            "commits": self.commits,
            "seconds": self.seconds,
            "value_bytes": super::db::COUNTER_LEN,
        })
    }

    fn metrics(&self) -> Vec<Metric> {
        let what = "commit latency, one client, small transactions";
        let m = |k: &str, label: String| Metric::new(format!("commit-latency.{k}"), label, Unit::Micros, Better::Lower);
        vec![
            m("p50", format!("{what}: p50 transaction")),
            m("p99", format!("{what}: p99 transaction")).goal(Goal::AtMost(1.0)),
            m("mean", format!("{what}: mean transaction")),
            m("commit_p50", "  of which the commit (TRANS3_COMMIT + unlock): p50".into()),
        ]
    }

    fn unit_noun(&self) -> &'static str {
        "commits"
    }

    fn run<'a>(&'a self, nodes: &'a Nodes, limit: Duration) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(self.run_inner(nodes, limit))
    }

    fn uses_databases(&self) -> bool {
        true
    }
}
