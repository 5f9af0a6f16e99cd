//! `ctdb statistics`: the daemon's counters (STATISTICS, 488 bytes, 6.10).

use serde::Serialize;

use ctdb_legacy_proto::{LatencyCounter, Statistics as WireStatistics};

use super::{no_args, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};
use crate::timefmt::{ctime, elapsed, Timestamp};

/// A latency counter as the tool shows it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Latency {
    /// Number of samples.
    pub num: i32,
    /// Shortest, seconds.
    pub min: f64,
    /// Mean (total / num; 0 without samples), seconds.
    pub avg: f64,
    /// Longest, seconds.
    pub max: f64,
}

impl Latency {
    fn from_wire(l: &LatencyCounter) -> Latency {
        Latency { num: l.num, min: l.min, avg: if l.num == 0 { 0.0 } else { l.total / f64::from(l.num) }, max: l.max }
    }
}

/// Packet counters of one direction (`node.*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
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

/// Packets from clients (`client.*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
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

/// Timeouts (`timeouts.*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TimeoutCounters {
    /// Calls.
    pub call: u32,
    /// Controls.
    pub control: u32,
    /// Traverses.
    pub traverse: u32,
}

/// Record locks (`locks.*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LockCounters {
    /// Lock requests.
    pub num_calls: u32,
    /// Locks being taken.
    pub num_current: u32,
    /// Waiting requests.
    pub num_pending: u32,
    /// Failed requests.
    pub num_failed: u32,
}

/// `ctdb statistics`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// The node asked.
    pub node: u32,
    /// The daemon's clock when it answered.
    pub current_time: Timestamp,
    /// When counting started (daemon start or the last reset).
    pub start_time: Timestamp,
    /// Connected clients.
    pub num_clients: u32,
    /// Databases frozen.
    pub frozen: u32,
    /// Recovery running.
    pub recovering: u32,
    /// Recoveries so far.
    pub num_recoveries: u32,
    /// Packets to clients.
    pub client_packets_sent: u32,
    /// Packets from clients.
    pub client_packets_recv: u32,
    /// Packets to other nodes.
    pub node_packets_sent: u32,
    /// Packets from other nodes.
    pub node_packets_recv: u32,
    /// Keepalives sent.
    pub keepalive_packets_sent: u32,
    /// Keepalives received.
    pub keepalive_packets_recv: u32,
    /// Packets from other nodes by operation.
    #[serde(rename = "node")]
    pub node_counters: NodeCounters,
    /// Packets from clients by operation.
    pub client: ClientCounters,
    /// Timeouts.
    pub timeouts: TimeoutCounters,
    /// Record locks.
    pub locks: LockCounters,
    /// Calls.
    pub total_calls: u32,
    /// Calls in progress.
    pub pending_calls: u32,
    /// Child writes.
    pub childwrite_calls: u32,
    /// Child writes in progress.
    pub pending_childwrite_calls: u32,
    /// Memory in use by ctdbd (bytes).
    pub memory_used: u32,
    /// Longest call forwarding chain.
    pub max_hop_count: u32,
    /// Read-only delegations handed out.
    pub total_ro_delegations: u32,
    /// Read-only delegations revoked.
    pub total_ro_revokes: u32,
    /// Histogram of hop counts.
    pub hop_count_buckets: Vec<u32>,
    /// Histogram of lock wait times.
    pub lock_buckets: Vec<u32>,
    /// Lock wait latency.
    pub locks_latency: Latency,
    /// Cluster lock check latency measured by ctdbd.
    pub reclock_ctdbd: Latency,
    /// Cluster lock latency measured by the recovery daemon.
    pub reclock_recd: Latency,
    /// Call latency.
    pub call_latency: Latency,
    /// Child write latency.
    pub childwrite_latency: Latency,
}

impl Stats {
    /// Builds the result from the STATISTICS payload.
    pub fn from_wire(node: u32, s: &WireStatistics) -> Stats {
        let ts = |t: &ctdb_legacy_proto::Timeval| Timestamp { sec: t.sec, usec: t.usec };
        Stats {
            node,
            current_time: ts(&s.statistics_current_time),
            start_time: ts(&s.statistics_start_time),
            num_clients: s.num_clients,
            frozen: s.frozen,
            recovering: s.recovering,
            num_recoveries: s.num_recoveries,
            client_packets_sent: s.client_packets_sent,
            client_packets_recv: s.client_packets_recv,
            node_packets_sent: s.node_packets_sent,
            node_packets_recv: s.node_packets_recv,
            keepalive_packets_sent: s.keepalive_packets_sent,
            keepalive_packets_recv: s.keepalive_packets_recv,
            node_counters: NodeCounters {
                req_call: s.node.req_call,
                reply_call: s.node.reply_call,
                req_dmaster: s.node.req_dmaster,
                reply_dmaster: s.node.reply_dmaster,
                reply_error: s.node.reply_error,
                req_message: s.node.req_message,
                req_control: s.node.req_control,
                reply_control: s.node.reply_control,
                req_tunnel: s.node.req_tunnel,
            },
            client: ClientCounters {
                req_call: s.client.req_call,
                req_message: s.client.req_message,
                req_control: s.client.req_control,
                req_tunnel: s.client.req_tunnel,
            },
            timeouts: TimeoutCounters {
                call: s.timeouts.call,
                control: s.timeouts.control,
                traverse: s.timeouts.traverse,
            },
            locks: LockCounters {
                num_calls: s.locks.num_calls,
                num_current: s.locks.num_current,
                num_pending: s.locks.num_pending,
                num_failed: s.locks.num_failed,
            },
            total_calls: s.total_calls,
            pending_calls: s.pending_calls,
            childwrite_calls: s.childwrite_calls,
            pending_childwrite_calls: s.pending_childwrite_calls,
            memory_used: s.memory_used,
            max_hop_count: s.max_hop_count,
            total_ro_delegations: s.total_ro_delegations,
            total_ro_revokes: s.total_ro_revokes,
            hop_count_buckets: s.hop_count_bucket.to_vec(),
            lock_buckets: s.locks.buckets.to_vec(),
            locks_latency: Latency::from_wire(&s.locks.latency),
            reclock_ctdbd: Latency::from_wire(&s.reclock.ctdbd),
            reclock_recd: Latency::from_wire(&s.reclock.recd),
            call_latency: Latency::from_wire(&s.call_latency),
            childwrite_latency: Latency::from_wire(&s.childwrite_latency),
        }
    }

    /// The counters in Samba's order: `(group, name, value)`; `group` is
    /// `Some` for fields shown under a group line (`node`, `client`, …).
    fn counters(&self) -> Vec<(Option<&'static str>, &'static str, u32)> {
        let n = &self.node_counters;
        let c = &self.client;
        let t = &self.timeouts;
        let l = &self.locks;
        vec![
            (None, "num_clients", self.num_clients),
            (None, "frozen", self.frozen),
            (None, "recovering", self.recovering),
            (None, "num_recoveries", self.num_recoveries),
            (None, "client_packets_sent", self.client_packets_sent),
            (None, "client_packets_recv", self.client_packets_recv),
            (None, "node_packets_sent", self.node_packets_sent),
            (None, "node_packets_recv", self.node_packets_recv),
            (None, "keepalive_packets_sent", self.keepalive_packets_sent),
            (None, "keepalive_packets_recv", self.keepalive_packets_recv),
            (Some("node"), "req_call", n.req_call),
            (Some("node"), "reply_call", n.reply_call),
            (Some("node"), "req_dmaster", n.req_dmaster),
            (Some("node"), "reply_dmaster", n.reply_dmaster),
            (Some("node"), "reply_error", n.reply_error),
            (Some("node"), "req_message", n.req_message),
            (Some("node"), "req_control", n.req_control),
            (Some("node"), "reply_control", n.reply_control),
            (Some("node"), "req_tunnel", n.req_tunnel),
            (Some("client"), "req_call", c.req_call),
            (Some("client"), "req_message", c.req_message),
            (Some("client"), "req_control", c.req_control),
            (Some("client"), "req_tunnel", c.req_tunnel),
            (Some("timeouts"), "call", t.call),
            (Some("timeouts"), "control", t.control),
            (Some("timeouts"), "traverse", t.traverse),
            (Some("locks"), "num_calls", l.num_calls),
            (Some("locks"), "num_current", l.num_current),
            (Some("locks"), "num_pending", l.num_pending),
            (Some("locks"), "num_failed", l.num_failed),
            (None, "total_calls", self.total_calls),
            (None, "pending_calls", self.pending_calls),
            (None, "childwrite_calls", self.childwrite_calls),
            (None, "pending_childwrite_calls", self.pending_childwrite_calls),
            (None, "memory_used", self.memory_used),
            (None, "max_hop_count", self.max_hop_count),
            (None, "total_ro_delegations", self.total_ro_delegations),
            (None, "total_ro_revokes", self.total_ro_revokes),
        ]
    }

    /// Latencies in the text order.
    fn text_latencies(&self) -> [(&'static str, &Latency); 5] {
        [
            ("locks_latency", &self.locks_latency),
            ("reclock_ctdbd", &self.reclock_ctdbd),
            ("reclock_recd", &self.reclock_recd),
            ("call_latency", &self.call_latency),
            ("childwrite_latency", &self.childwrite_latency),
        ]
    }

    /// Latencies in the machine-readable order (the lock latency is called
    /// `lockwait` there).
    fn machine_latencies(&self) -> [(&'static str, &Latency); 5] {
        [
            ("reclock_ctdbd", &self.reclock_ctdbd),
            ("reclock_recd", &self.reclock_recd),
            ("call", &self.call_latency),
            ("lockwait", &self.locks_latency),
            ("childwrite", &self.childwrite_latency),
        ]
    }
}

/// `CTDB_PROTOCOL`, printed as "CTDB version".
const CTDB_PROTOCOL_VERSION: u32 = 1;

impl Render for Stats {
    fn text(&self, cx: &RenderCx) -> String {
        let mut out = format!("CTDB version {CTDB_PROTOCOL_VERSION}\n");
        out.push_str(&format!(
            "Current time of statistics  :                {}\n",
            ctime(self.current_time.sec, cx.zone)
        ));
        out.push_str(&format!(
            "Statistics collected since  : {} {}\n",
            elapsed(self.current_time.sec - self.start_time.sec),
            ctime(self.start_time.sec, cx.zone)
        ));
        let mut group = None;
        for (g, name, value) in self.counters() {
            if g != group {
                if let Some(g) = g {
                    out.push_str(&format!(" {g}\n"));
                }
                group = g;
            }
            // Top-level names are padded to 22 and followed by 4 spaces;
            // grouped ones are indented by 4 instead. Longer names push the
            // number right, as in C's printf.
            match g {
                None => out.push_str(&format!(" {name:<22}    {value:>10}\n")),
                Some(_) => out.push_str(&format!("     {name:<22}{value:>10}\n")),
            }
        }
        let buckets = |v: &[u32]| v.iter().map(|b| format!(" {b}")).collect::<String>();
        out.push_str(&format!(" hop_count_buckets:{}\n", buckets(&self.hop_count_buckets)));
        out.push_str(&format!(" lock_buckets:{}\n", buckets(&self.lock_buckets)));
        for (name, l) in self.text_latencies() {
            out.push_str(&format!(
                " {name:<18} MIN/AVG/MAX     {:.6}/{:.6}/{:.6} sec out of {}\n",
                l.min, l.avg, l.max, l.num
            ));
        }
        out
    }

    fn machine(&self, cx: &RenderCx) -> String {
        let sep = &cx.sep;
        // Statistics rows have no leading separator, only a trailing one.
        let mut header = vec![
            "CTDB version".to_string(),
            "Current time of statistics".to_string(),
            "Statistics collected since".to_string(),
        ];
        let mut row =
            vec![CTDB_PROTOCOL_VERSION.to_string(), self.current_time.sec.to_string(), self.start_time.sec.to_string()];
        for (g, name, value) in self.counters() {
            header.push(match g {
                Some(g) => format!("{g}.{name}"),
                None => name.to_string(),
            });
            row.push(value.to_string());
        }
        for (name, l) in self.machine_latencies() {
            for part in ["num", "min", "avg", "max"] {
                header.push(format!("{part}_{name}_latency"));
            }
            row.push(l.num.to_string());
            row.push(format!("{:.6}", l.min));
            row.push(format!("{:.6}", l.avg));
            row.push(format!("{:.6}", l.max));
        }
        let line = |fields: Vec<String>| {
            let mut s = String::new();
            for f in fields {
                s.push_str(&f);
                s.push_str(sep);
            }
            s.push('\n');
            s
        };
        let mut out = line(header);
        out.push_str(&line(row));
        out
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("statistics", args)?;
    let s = session.statistics().await?;
    Ok(cx.reply(&Stats::from_wire(session.target(), &s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::replies;
    use crate::timefmt::Zone;
    use ctdb_legacy_proto::Wire;

    /// Decodes the STATISTICS reply recorded together with an output.
    fn captured(name: &str) -> Stats {
        let recorded = replies(name);
        let data = recorded.iter().find(|r| r.opcode == 1).map(|r| r.data.clone()).unwrap_or_default();
        match WireStatistics::from_bytes(&data) {
            Ok(s) => Stats::from_wire(0, &s),
            Err(e) => panic!("{name}: {e}"),
        }
    }

    #[test]
    fn text_matches_debian_for_the_same_reply() {
        let cx = RenderCx::new(Zone::Utc);
        let s = captured("B_statistics");
        assert_eq!(s.text(&cx), include_str!("../../tests/expected/B_statistics.txt"));
        let s = captured("B_statistics_n2");
        assert_eq!(s.text(&cx), include_str!("../../tests/expected/B_statistics_n2.txt"));
    }

    #[test]
    fn machine_matches_debian_for_the_same_reply() {
        let cx = RenderCx::new(Zone::Utc);
        let s = captured("B_statistics_X");
        assert_eq!(s.machine(&cx), include_str!("../../tests/expected/B_statistics_X.txt"));
        let s = captured("B_statistics_Ysemi");
        assert_eq!(s.machine(&cx.with_sep(";")), include_str!("../../tests/expected/B_statistics_Ysemi.txt"));
    }

    #[test]
    fn average_without_samples_is_zero() {
        let l = Latency::from_wire(&LatencyCounter::default());
        assert_eq!(l.avg, 0.0);
    }
}
