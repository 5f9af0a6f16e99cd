//! Message ring: one client per node, messages passed round the ring
//! through srvids, like Samba's `message_ring` test.
//!
//! Every node's client registers the same fresh srvid and starts `window`
//! tokens towards the next node; each client forwards what it receives to
//! the next node, until a token has made `laps` laps and is back at its
//! origin. So `window × nodes` messages are in flight all the time and
//! every message crosses client → daemon → node link → daemon → client.
//!
//! Checked on every message: it comes from the ring neighbour, with that
//! link's next sequence number (nothing lost, repeated or reordered), its
//! payload intact, and the token is where its hop count says it must be.
//! Every node must receive exactly `nodes × window × laps` messages and
//! retire exactly its own `window` tokens; nothing may arrive after that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::Client;
use serde_json::json;

use super::{
    expect_silence, fresh_srvid, receive, Better, BoxFuture, Deadline, Goal, Metric, Nodes, Outcome, SeqCheck, Stamp,
    Unit, Workload,
};
use crate::stats::rate;

/// The message ring workload.
#[derive(Debug)]
pub struct MessageRing {
    window: u32,
    laps: u32,
    payload: usize,
}

impl MessageRing {
    /// `window` tokens per node, each making `laps` laps, `payload` bytes
    /// per message.
    pub fn new(window: u32, laps: u32, payload: usize) -> MessageRing {
        MessageRing { window: window.max(1), laps: laps.max(1), payload }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let n = nodes.len();
        if n < 2 {
            bail!("the message ring needs at least 2 nodes");
        }
        let n32 = u32::try_from(n).context("too many nodes")?;
        let deadline = Deadline::after(limit);
        let srvid = fresh_srvid();
        let mut clients = Vec::with_capacity(n);
        for pnn in 0..n {
            let c = deadline.wait("connecting ring clients", nodes.connect(pnn)).await??;
            // The reply comes after the daemon recorded the registration, so
            // every receiver exists before the first token moves.
            deadline.wait("registering the ring srvid", c.register_srvid(srvid)).await??;
            clients.push(Arc::new(c));
        }

        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (me, c) in clients.iter().enumerate() {
            let node = RingNode {
                me: me as u32,
                nodes: n32,
                window: self.window,
                laps: self.laps,
                payload: self.payload,
                srvid,
                client: Arc::clone(c),
            };
            tasks.spawn(async move { node.run(&deadline).await });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.context("ring node task")??;
        }
        let elapsed = start.elapsed();
        let refs: Vec<&Client> = clients.iter().map(|c| c.as_ref()).collect();
        expect_silence(&refs, "message ring").await?;
        drop(refs);
        for c in clients {
            if let Ok(c) = Arc::try_unwrap(c) {
                c.close().await;
            }
        }
        let total = u64::from(n32) * u64::from(n32) * u64::from(self.window) * u64::from(self.laps);
        Ok(Outcome { values: vec![rate(total, elapsed)], units: total })
    }
}

/// One node's part of the ring.
struct RingNode {
    me: u32,
    nodes: u32,
    window: u32,
    laps: u32,
    payload: usize,
    srvid: u64,
    client: Arc<Client>,
}

impl RingNode {
    async fn run(&self, deadline: &Deadline) -> Result<()> {
        let (me, n) = (self.me, self.nodes);
        let next = (me + 1) % n;
        let prev = (me + n - 1) % n;
        let hops = self.laps * n;
        let who = format!("ring node {me}");
        let mut out_seq = 0u64;
        let mut check = SeqCheck::new(n as usize);
        for token in 0..self.window {
            let stamp = Stamp { from: me, seq: out_seq, a: me, b: token, c: 1 };
            self.client.send_message(next, self.srvid, stamp.encode(self.payload)).await?;
            out_seq += 1;
        }
        // Each token passes every node exactly `laps` times.
        let expected = u64::from(n) * u64::from(self.window) * u64::from(self.laps);
        let mut retired = 0u32;
        for _ in 0..expected {
            let m = receive(&self.client, deadline, &who).await?;
            if m.srvid != self.srvid {
                bail!("{who}: message for srvid {:#x}, registered only {:#x}", m.srvid, self.srvid);
            }
            let s = Stamp::decode(&m.data, self.payload).with_context(|| who.clone())?;
            if s.from != prev {
                bail!("{who}: message from node {}, but only node {prev} sends to it", s.from);
            }
            check.accept(s.from, s.seq).with_context(|| who.clone())?;
            // Token `b` of origin `a` after `c` hops sits at node (a + c) mod n.
            if s.a >= n || s.b >= self.window || s.c == 0 || s.c > hops || (s.a + s.c) % n != me {
                bail!("{who}: token {}/{} with hop count {} cannot be here", s.a, s.b, s.c);
            }
            if s.c == hops {
                retired += 1;
                continue;
            }
            let stamp = Stamp { from: me, seq: out_seq, a: s.a, b: s.b, c: s.c + 1 };
            self.client.send_message(next, self.srvid, stamp.encode(self.payload)).await?;
            out_seq += 1;
        }
        if retired != self.window {
            bail!("{who}: {retired} of its {} tokens came home", self.window);
        }
        Ok(())
    }
}

impl Workload for MessageRing {
    fn name(&self) -> &'static str {
        "message-ring"
    }

    fn params(&self) -> serde_json::Value {
        json!({ "tokens_per_node": self.window, "laps": self.laps, "payload_bytes": self.payload })
    }

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric::new(
            "message-ring.rate".into(),
            format!("message ring, {} in flight per node: messages", self.window),
            Unit::PerSecond,
            Better::Higher,
        )
        .floor("tcp-ring.rate")
        .goal(Goal::AtLeast(2.0))]
    }

    fn unit_noun(&self) -> &'static str {
        "messages"
    }

    fn run<'a>(&'a self, nodes: &'a Nodes, limit: Duration) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(self.run_inner(nodes, limit))
    }
}
