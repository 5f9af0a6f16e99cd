//! The event trace: a hash of every event (the determinism check compares
//! it between two runs of one seed) and, when asked for, the last lines in
//! readable form (for failure reports).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use ctdb_proto::{Body, Msg, Packet};

/// FNV-1a, 64 bit: stable across Rust versions and platforms, unlike
/// `DefaultHasher`, so a hash printed today means the same tomorrow.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn u64(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Fnv::PRIME);
        }
    }
}

/// A hash of what a packet says that matters to clusterd (cheap: no
/// formatting, no JSON).
pub(crate) fn packet_hash(p: &Packet) -> u64 {
    let mut h = Fnv(Fnv::OFFSET);
    h.u64(u64::from(p.header.src.node) << 32 | u64::from(p.header.src.service.0));
    h.u64(u64::from(p.header.dst.node) << 32 | u64::from(p.header.dst.service.0));
    let Body::Msg(m) = &p.body else {
        h.u64(u64::from(p.header.kind.0));
        return h.0;
    };
    let (code, a, b) = match m {
        Msg::PeerUp { pnn } => (1, u64::from(*pnn), 0),
        Msg::PeerDown { pnn } => (2, u64::from(*pnn), 0),
        Msg::Leader { pnn, generation } => (3, u64::from(*pnn), u64::from(*generation)),
        Msg::Recover { generation, vnnmap } => (4, u64::from(*generation), vnnmap.len() as u64),
        Msg::RecoverAck { generation } => (5, u64::from(*generation), 0),
        Msg::Recovered { generation, vnnmap } => (6, u64::from(*generation), vnnmap.len() as u64),
        Msg::RecoverRequest => (7, 0, 0),
        _ => (8, 0, 0),
    };
    h.u64(code);
    h.u64(a);
    h.u64(b);
    h.0
}

/// Hash and (optionally) readable lines of every event.
#[derive(Debug)]
pub(crate) struct Trace {
    hash: Fnv,
    cap: usize,
    lines: VecDeque<String>,
    /// Last printed state summary per node, to print only changes.
    summaries: BTreeMap<u32, String>,
}

impl Trace {
    pub(crate) fn new(cap: usize) -> Trace {
        Trace { hash: Fnv(Fnv::OFFSET), cap, lines: VecDeque::new(), summaries: BTreeMap::new() }
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash.0
    }

    pub(crate) fn keeps_lines(&self) -> bool {
        self.cap > 0
    }

    /// One event: `kind` and `node` and `detail` go into the hash; the line
    /// is formatted only when lines are kept.
    pub(crate) fn event(&mut self, now: Duration, kind: u64, node: u32, detail: u64, line: impl FnOnce() -> String) {
        self.hash.u64(now.as_nanos() as u64);
        self.hash.u64(kind << 32 | u64::from(node));
        self.hash.u64(detail);
        if self.cap > 0 {
            let l = line();
            self.push(format!("{:>12.6} {l}", now.as_secs_f64()));
        }
    }

    /// A line that is not an event (state summaries).
    pub(crate) fn line(&mut self, line: impl FnOnce() -> String) {
        if self.cap > 0 {
            let l = line();
            self.push(l);
        }
    }

    pub(crate) fn summary_of(&self, pnn: u32) -> Option<String> {
        if self.cap == 0 {
            return None;
        }
        self.summaries.get(&pnn).cloned()
    }

    pub(crate) fn set_summary(&mut self, pnn: u32, s: String) {
        self.summaries.insert(pnn, s);
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }

    fn push(&mut self, l: String) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(l);
    }
}
