//! Broadcast fan-out: one sender on node 0 sends to BROADCAST_CONNECTED,
//! one receiver on every node (node 0 included) gets every message.
//!
//! The sender keeps at most `window` messages ahead of the slowest
//! receiver. That flow control runs inside this process (the receivers
//! report progress through shared counters), not through the daemons, so
//! it adds no traffic to what is measured; it only keeps the daemons'
//! queues bounded.
//!
//! Checked: every receiver gets exactly the sender's messages, each once,
//! in order, payload intact, and nothing after the last one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::Client;
use ctdb_legacy_proto::pnn;
use serde_json::json;
use tokio::sync::Notify;

use super::{
    expect_silence, fresh_srvid, receive, Better, BoxFuture, Deadline, Metric, Nodes, Outcome, SeqCheck, Stamp, Unit,
    Workload,
};
use crate::stats::rate;

/// The broadcast workload.
#[derive(Debug)]
pub struct Broadcast {
    messages: u64,
    window: u64,
    payload: usize,
}

/// How far each receiver has got; the sender waits on `changed`.
struct Progress {
    received: Vec<AtomicU64>,
    changed: Notify,
}

impl Progress {
    fn slowest(&self) -> u64 {
        self.received.iter().map(|r| r.load(Ordering::Acquire)).min().unwrap_or(0)
    }
}

impl Broadcast {
    /// `messages` broadcasts of `payload` bytes, at most `window` ahead.
    pub fn new(messages: u64, window: u64, payload: usize) -> Broadcast {
        Broadcast { messages: messages.max(1), window: window.max(1), payload }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let n = nodes.len();
        let deadline = Deadline::after(limit);
        let srvid = fresh_srvid();
        let sender = deadline.wait("connecting the sender", nodes.connect(0)).await??;
        let mut receivers = Vec::with_capacity(n);
        for pnn in 0..n {
            let c = deadline.wait("connecting receivers", nodes.connect(pnn)).await??;
            deadline.wait("registering the broadcast srvid", c.register_srvid(srvid)).await??;
            receivers.push(Arc::new(c));
        }
        let progress =
            Arc::new(Progress { received: (0..n).map(|_| AtomicU64::new(0)).collect(), changed: Notify::new() });

        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, c) in receivers.iter().enumerate() {
            let (c, progress) = (Arc::clone(c), Arc::clone(&progress));
            let (messages, payload) = (self.messages, self.payload);
            tasks.spawn(async move {
                let who = format!("broadcast receiver on node {i}");
                let result = async {
                    let mut check = SeqCheck::new(1);
                    for k in 1..=messages {
                        let m = receive(&c, &deadline, &who).await?;
                        if m.srvid != srvid {
                            bail!("{who}: message for srvid {:#x}, registered only {srvid:#x}", m.srvid);
                        }
                        let s = Stamp::decode(&m.data, payload).with_context(|| who.clone())?;
                        check.accept(s.from, s.seq).with_context(|| who.clone())?;
                        progress.received[i].store(k, Ordering::Release);
                        progress.changed.notify_one();
                    }
                    anyhow::Ok(())
                }
                .await;
                // Also on failure, so that the sender looks at us at once.
                progress.changed.notify_one();
                result
            });
        }

        for seq in 0..self.messages {
            // notify_one keeps a permit when nobody waits, so a receiver's
            // progress between the check and the wait is never missed.
            while seq.saturating_sub(progress.slowest()) >= self.window {
                deadline.wait("broadcast sender waiting for receivers", progress.changed.notified()).await?;
                // A receiver that failed stops making progress: its error
                // is the one to report, not the sender's timeout.
                if let Some(joined) = tasks.try_join_next() {
                    joined.context("broadcast receiver task")??;
                }
            }
            let stamp = Stamp { from: 0, seq, a: 0, b: 0, c: 0 };
            sender.send_message(pnn::BROADCAST_CONNECTED, srvid, stamp.encode(self.payload)).await?;
        }
        while let Some(joined) = tasks.join_next().await {
            joined.context("broadcast receiver task")??;
        }
        let elapsed = start.elapsed();
        let mut all: Vec<&Client> = receivers.iter().map(|c| c.as_ref()).collect();
        all.push(&sender);
        expect_silence(&all, "broadcast").await?;
        drop(all);
        sender.close().await;
        for c in receivers {
            if let Ok(c) = Arc::try_unwrap(c) {
                c.close().await;
            }
        }
        let deliveries = self.messages * n as u64;
        Ok(Outcome { values: vec![rate(deliveries, elapsed)], units: deliveries })
    }
}

impl Workload for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn params(&self) -> serde_json::Value {
        json!({ "messages": self.messages, "window": self.window, "payload_bytes": self.payload, "destnode": "BROADCAST_CONNECTED" })
    }

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric::new(
            "broadcast.rate".into(),
            "broadcast to all nodes: deliveries".into(),
            Unit::PerSecond,
            Better::Higher,
        )
        .floor("tcp-fanout.rate")]
    }

    fn unit_noun(&self) -> &'static str {
        "deliveries"
    }

    fn run<'a>(&'a self, nodes: &'a Nodes, limit: Duration) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(self.run_inner(nodes, limit))
    }
}
