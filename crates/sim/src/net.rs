//! The simulated network: every node's transport and the wires between
//! them, as one sans-IO machine.
//!
//! Inputs: packets a clusterd core emitted ([`Net::send`]), the fault verbs
//! ([`Net::partition`], [`Net::repair`], [`Net::hold`], [`Net::release`],
//! [`Net::drop_in_flight`], [`Net::crash`], [`Net::restart`]) and timer
//! expiry ([`Net::handle_timeout`], due at [`Net::poll_timeout`]). Output:
//! one packet for one node's clusterd per expired item
//! ([`Net::poll_output`]) — a delivered packet, or the transport's
//! `PeerUp`/`PeerDown`.
//!
//! The model is the real transport's (`ctdb-transport::links`) seen from
//! outside:
//!
//! ```text
//!  reachable ──connect (0.3–0.7 s)──► connection c: Hello both ways
//!      │                               (each side: PeerUp when the peer's
//!      │                                Hello arrives; a side still holding
//!      │                                an older connection first gets
//!      │                                PeerDown: "replaced")
//!      ▼
//!  Up: data in order per direction, 0.1–20 ms each (TCP)
//!      │ partition / hold              │ peer crashes
//!      ▼                               ▼
//!  Stalled: data held, not lost     in-flight data still arrives, then EOF:
//!      │ repair before   │ silence    PeerDown at once
//!      │ detection       │ for 1.5–2.5 s on one side (keepalives)
//!      ▼                 ▼
//!  Up again, held     that side: PeerDown; the connection is dead, held
//!  data delivered     data lost; the other side notices on its own
//!  (TCP retransmit)   keepalive timeout, or by a reset soon after repair
//! ```
//!
//! Packets a node sends to itself go through a per-node loopback queue (the
//! transport's mailbox), in order, lost if the node crashes first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use ctdb_proto::{Body, Endpoint, Msg, Packet, ServiceId};
use rand::rngs::StdRng;
use rand::RngExt;

/// One TCP connection between two nodes (ids are never reused).
pub type ConnId = u64;

/// Delays of the simulated network; each is drawn uniformly from
/// `(min, max)` for every packet or event.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// One packet over a live link.
    pub latency: (Duration, Duration),
    /// A packet a node sends to itself (through its transport's mailbox).
    pub loopback: (Duration, Duration),
    /// Silence after which a side declares the link dead
    /// (KeepaliveInterval × KeepaliveLimit, with the keepalive phase).
    pub detect: (Duration, Duration),
    /// From "reachable again" (repair, restart) to a new connection.
    pub connect: (Duration, Duration),
    /// From a peer's crash to the end-of-file on the link.
    pub eof: (Duration, Duration),
    /// From repair to a side noticing that its old connection was closed
    /// by the other side (the next keepalive meets a reset).
    pub reset: (Duration, Duration),
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        let ms = Duration::from_millis;
        NetConfig {
            latency: (Duration::from_micros(100), ms(20)),
            loopback: (Duration::from_micros(10), Duration::from_micros(200)),
            detect: (ms(1500), ms(2500)),
            connect: (ms(300), ms(700)),
            eof: (Duration::from_micros(50), ms(1)),
            reset: (ms(1), ms(1000)),
        }
    }
}

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Packets handed to the network by a core (a broadcast counts once
    /// per receiver).
    pub sent: u64,
    /// Packets that reached a core.
    pub delivered: u64,
    /// Packets lost: no link, a dead connection, a crashed receiver.
    pub lost: u64,
    /// Packets lost to the drop fault.
    pub dropped: u64,
    /// Packets that waited on a stalled link.
    pub held: u64,
    /// Connections established.
    pub connections: u64,
    /// `PeerDown` notifications delivered.
    pub peer_downs: u64,
}

#[derive(Debug)]
enum Segment {
    Data(Packet),
    /// "A newer connection replaces yours": PeerDown if the receiver still
    /// holds an older one. Always directly before a Hello.
    Replace,
    Hello,
    Eof,
}

#[derive(Debug)]
enum Item {
    /// Something travelling on connection `conn` from `from` to `to`.
    Stream { from: u32, to: u32, conn: ConnId, what: Segment },
    /// A packet to the sending node itself.
    Loop { node: u32, life: u64, packet: Packet },
    /// Try to establish a connection between `a` < `b`.
    Connect { a: u32, b: u32 },
    /// `side` has heard nothing on `conn` for the keepalive limit.
    Detect { side: u32, peer: u32, conn: ConnId, stall: u64 },
    /// `side` learns that `conn` was closed by its peer.
    Reset { side: u32, peer: u32, conn: ConnId },
}

#[derive(Debug, Default)]
struct Link {
    /// The live connection, if any.
    conn: Option<ConnId>,
    /// Set while the live connection cannot carry traffic (partition or
    /// hold); the id tells a keepalive timeout which stall it belongs to.
    stall: Option<u64>,
    /// What was sent (or in flight) while stalled, in order.
    held: Vec<(u32, u32, Segment)>,
    connect_pending: bool,
}

/// The network machine.
#[derive(Debug)]
pub struct Net {
    n: usize,
    cfg: NetConfig,
    alive: Vec<bool>,
    /// Bumped on crash and restart: loopback packets of an earlier life
    /// are lost.
    life: Vec<u64>,
    /// Partition group of each node; nodes talk only within a group.
    group: Vec<u32>,
    /// Links cut by `hold` (a < b).
    cut: BTreeSet<(u32, u32)>,
    /// Links by `a * n + b`, a < b.
    links: Vec<Link>,
    /// `view[x * n + y]`: the connection x's transport uses to reach y.
    view: Vec<Option<ConnId>>,
    /// Latest arrival time scheduled per direction `from * n + to`; keeps
    /// each direction in order, like TCP.
    last: Vec<Duration>,
    /// Data packets still to lose per direction `from * n + to`.
    to_drop: Vec<u32>,
    queue: BTreeMap<(Duration, u64), Item>,
    seq: u64,
    next_conn: ConnId,
    next_stall: u64,
    out: VecDeque<(u32, Packet)>,
    stats: NetStats,
}

fn draw(rng: &mut StdRng, (lo, hi): (Duration, Duration)) -> Duration {
    if hi <= lo {
        return lo;
    }
    Duration::from_nanos(rng.random_range(lo.as_nanos() as u64..=hi.as_nanos() as u64))
}

fn transport_note(to: u32, msg: Msg) -> Packet {
    Packet::new(Endpoint::new(to, ServiceId::CLUSTERD), Endpoint::new(to, ServiceId::TRANSPORT), 0, Body::Msg(msg))
}

impl Net {
    /// A network of `n` nodes, all alive, no connections yet (call
    /// [`Net::restart`] or [`Net::repair`] to let them connect).
    pub fn new(n: usize, cfg: NetConfig) -> Net {
        Net {
            n,
            cfg,
            alive: vec![true; n],
            life: vec![0; n],
            group: vec![0; n],
            cut: BTreeSet::new(),
            links: (0..n * n).map(|_| Link::default()).collect(),
            view: vec![None; n * n],
            last: vec![Duration::ZERO; n * n],
            to_drop: vec![0; n * n],
            queue: BTreeMap::new(),
            seq: 0,
            next_conn: 1,
            next_stall: 1,
            out: VecDeque::new(),
            stats: NetStats::default(),
        }
    }

    /// What the network did so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Whether `x`'s transport has a link to `y` (what `BROADCAST_CONNECTED`
    /// reaches, what x's clusterd was last told).
    pub fn connected(&self, x: u32, y: u32) -> bool {
        self.view[x as usize * self.n + y as usize].is_some()
    }

    /// Whether `a` and `b` can talk: both alive, same partition group, the
    /// link not held.
    pub fn reachable(&self, a: u32, b: u32) -> bool {
        let (a, b) = (a.min(b), a.max(b));
        self.alive[a as usize]
            && self.alive[b as usize]
            && self.group[a as usize] == self.group[b as usize]
            && !self.cut.contains(&(a, b))
    }

    /// Links currently held, as `(a, b)` with a < b.
    pub fn held_links(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.cut.iter().copied()
    }

    /// Whether the nodes are split into more than one group.
    pub fn partitioned(&self) -> bool {
        self.group.iter().any(|&g| g != self.group[0])
    }

    /// When [`Net::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.queue.keys().next().map(|&(t, _)| t)
    }

    /// Process the first item due at or before `now` (one at a time, so the
    /// simulation checks its invariants after each).
    pub fn handle_timeout(&mut self, now: Duration, rng: &mut StdRng) {
        let Some(entry) = self.queue.first_entry() else { return };
        if entry.key().0 > now {
            return;
        }
        let item = entry.remove();
        self.fire(now, rng, item);
    }

    /// The next packet for a node's clusterd: `(pnn, packet)`.
    pub fn poll_output(&mut self) -> Option<(u32, Packet)> {
        self.out.pop_front()
    }

    /// Node `from` sends `packet`; routed by its destination node like the
    /// transport does (a pnn, itself, `BROADCAST_CONNECTED`,
    /// `BROADCAST_OTHERS`).
    pub fn send(&mut self, now: Duration, rng: &mut StdRng, from: u32, packet: Packet) {
        let dst = packet.header.dst.node;
        match dst {
            Endpoint::BROADCAST_CONNECTED | Endpoint::BROADCAST_OTHERS => {
                if dst == Endpoint::BROADCAST_CONNECTED {
                    self.send_loop(now, rng, from, packet.clone());
                }
                for y in 0..self.n as u32 {
                    if y != from && self.connected(from, y) {
                        self.send_link(now, rng, from, y, packet.clone());
                    }
                }
            }
            d if d == from => self.send_loop(now, rng, from, packet),
            d => self.send_link(now, rng, from, d, packet),
        }
    }

    /// Split the nodes into `groups`; nodes in no group form one more.
    pub fn partition(&mut self, now: Duration, rng: &mut StdRng, groups: &[Vec<u32>]) {
        self.group.iter_mut().for_each(|g| *g = 0);
        for (i, members) in groups.iter().enumerate() {
            for &m in members {
                if let Some(g) = self.group.get_mut(m as usize) {
                    *g = i as u32 + 1;
                }
            }
        }
        self.refresh(now, rng);
    }

    /// Heal every partition and every held link; no more packets are lost
    /// to [`Net::drop_next`].
    pub fn repair(&mut self, now: Duration, rng: &mut StdRng) {
        self.group.iter_mut().for_each(|g| *g = 0);
        self.cut.clear();
        self.to_drop.iter_mut().for_each(|d| *d = 0);
        self.refresh(now, rng);
    }

    /// Cut the one link between `a` and `b`: traffic waits, keepalives
    /// time out (a partition that need not be transitive).
    pub fn hold(&mut self, now: Duration, rng: &mut StdRng, a: u32, b: u32) {
        if a != b {
            self.cut.insert((a.min(b), a.max(b)));
            self.refresh(now, rng);
        }
    }

    /// Undo [`Net::hold`].
    pub fn release(&mut self, now: Duration, rng: &mut StdRng, a: u32, b: u32) {
        self.cut.remove(&(a.min(b), a.max(b)));
        self.refresh(now, rng);
    }

    /// Lose every data packet now in flight between `a` and `b` (both
    /// directions), the connection staying up. TCP never does this; it
    /// stands for a lost message anywhere on the way. Returns how many.
    pub fn drop_in_flight(&mut self, a: u32, b: u32) -> usize {
        let on_link = |from: u32, to: u32| (from == a && to == b) || (from == b && to == a);
        let before = self.queue.len();
        self.queue.retain(
            |_, it| !matches!(it, Item::Stream { from, to, what: Segment::Data(_), .. } if on_link(*from, *to)),
        );
        let mut n = before - self.queue.len();
        let link = self.link_mut(a, b);
        let held = link.held.len();
        link.held.retain(|(_, _, s)| !matches!(s, Segment::Data(_)));
        n += held - link.held.len();
        self.stats.dropped += n as u64;
        n
    }

    /// Lose the next `k` data packets `from` sends to `to` (the connection
    /// stays up; see [`Net::drop_in_flight`]).
    pub fn drop_next(&mut self, from: u32, to: u32, k: u32) {
        if let Some(d) = self.to_drop.get_mut(from as usize * self.n + to as usize) {
            *d += k;
        }
    }

    /// Node `x` dies: its peers get end-of-file after whatever it had sent
    /// (or, cut off from it, notice by keepalive timeout); everything to it
    /// is lost.
    pub fn crash(&mut self, now: Duration, rng: &mut StdRng, x: u32) {
        let xi = x as usize;
        if !self.alive[xi] {
            return;
        }
        self.alive[xi] = false;
        self.life[xi] += 1;
        for y in 0..self.n as u32 {
            if y == x {
                continue;
            }
            self.view[xi * self.n + y as usize] = None;
            let link = self.link_mut(x, y);
            let Some(c) = link.conn.take() else { continue };
            if link.stall.take().is_some() {
                let lost = link.held.len() as u64;
                link.held.clear();
                self.stats.lost += lost;
            } else {
                let at = now + draw(rng, self.cfg.eof);
                self.push_stream(at, x, y, c, Segment::Eof);
            }
        }
    }

    /// Node `x` is back with a fresh transport: it connects to every node
    /// it can reach.
    pub fn restart(&mut self, now: Duration, rng: &mut StdRng, x: u32) {
        let xi = x as usize;
        if self.alive[xi] {
            return;
        }
        self.alive[xi] = true;
        self.life[xi] += 1;
        self.refresh(now, rng);
    }

    fn link_mut(&mut self, a: u32, b: u32) -> &mut Link {
        let (a, b) = (a.min(b) as usize, a.max(b) as usize);
        &mut self.links[a * self.n + b]
    }

    fn schedule(&mut self, at: Duration, item: Item) {
        self.seq += 1;
        self.queue.insert((at, self.seq), item);
    }

    /// Put `what` on the `from → to` stream, no earlier than `at` and after
    /// everything already on it.
    fn push_stream(&mut self, at: Duration, from: u32, to: u32, conn: ConnId, what: Segment) {
        let dir = from as usize * self.n + to as usize;
        let at = at.max(self.last[dir]);
        self.last[dir] = at;
        self.schedule(at, Item::Stream { from, to, conn, what });
    }

    fn send_loop(&mut self, now: Duration, rng: &mut StdRng, x: u32, packet: Packet) {
        self.stats.sent += 1;
        let dir = x as usize * self.n + x as usize;
        let at = (now + draw(rng, self.cfg.loopback)).max(self.last[dir]);
        self.last[dir] = at;
        let life = self.life[x as usize];
        self.schedule(at, Item::Loop { node: x, life, packet });
    }

    fn send_link(&mut self, now: Duration, rng: &mut StdRng, from: u32, to: u32, packet: Packet) {
        self.stats.sent += 1;
        if to as usize >= self.n {
            self.stats.lost += 1;
            return;
        }
        let dir = from as usize * self.n + to as usize;
        if self.to_drop[dir] > 0 {
            self.to_drop[dir] -= 1;
            self.stats.dropped += 1;
            return;
        }
        let mine = self.view[dir];
        let link = self.link_mut(from, to);
        match mine {
            Some(c) if link.conn == Some(c) => {
                if link.stall.is_some() {
                    link.held.push((from, to, Segment::Data(packet)));
                    self.stats.held += 1;
                } else {
                    let at = now + draw(rng, self.cfg.latency);
                    self.push_stream(at, from, to, c, Segment::Data(packet));
                }
            }
            // No link, or one the peer already closed: the transport drops
            // the packet (a real one fails the write).
            _ => self.stats.lost += 1,
        }
    }

    /// Bring every link in line with who can reach whom now.
    fn refresh(&mut self, now: Duration, rng: &mut StdRng) {
        let n = self.n as u32;
        for a in 0..n {
            for b in a + 1..n {
                let reach = self.reachable(a, b);
                let link = self.link_mut(a, b);
                match (link.conn, link.stall) {
                    (Some(c), None) if !reach => self.stall(now, rng, a, b, c),
                    (Some(_), Some(_)) if reach => self.unstall(now, rng, a, b),
                    (None, _) if reach => self.maybe_connect(now, rng, a, b),
                    _ => {}
                }
                if !reach {
                    continue;
                }
                // A side that still holds a connection its peer closed
                // learns so from the reset its next keepalive meets.
                let live = self.link_mut(a, b).conn;
                for (x, y) in [(a, b), (b, a)] {
                    if let Some(c) = self.view[x as usize * self.n + y as usize] {
                        if live != Some(c) {
                            let at = now + draw(rng, self.cfg.reset);
                            self.schedule(at, Item::Reset { side: x, peer: y, conn: c });
                        }
                    }
                }
            }
        }
    }

    fn stall(&mut self, now: Duration, rng: &mut StdRng, a: u32, b: u32, conn: ConnId) {
        let id = self.next_stall;
        self.next_stall += 1;
        // What is already on the wire waits too, in its order.
        let keys: Vec<(Duration, u64)> = self
            .queue
            .iter()
            .filter(|(_, it)| matches!(it, Item::Stream { conn: c, .. } if *c == conn))
            .map(|(k, _)| *k)
            .collect();
        let mut moved = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(Item::Stream { from, to, what, .. }) = self.queue.remove(&k) {
                moved.push((from, to, what));
            }
        }
        self.stats.held += moved.len() as u64;
        let link = self.link_mut(a, b);
        link.stall = Some(id);
        link.held = moved;
        for (side, peer) in [(a, b), (b, a)] {
            let at = now + draw(rng, self.cfg.detect);
            self.schedule(at, Item::Detect { side, peer, conn, stall: id });
        }
    }

    fn unstall(&mut self, now: Duration, rng: &mut StdRng, a: u32, b: u32) {
        let link = self.link_mut(a, b);
        link.stall = None;
        let Some(conn) = link.conn else { return };
        let held = std::mem::take(&mut link.held);
        for (from, to, what) in held {
            let at = now + draw(rng, self.cfg.latency);
            self.push_stream(at, from, to, conn, what);
        }
    }

    fn maybe_connect(&mut self, now: Duration, rng: &mut StdRng, a: u32, b: u32) {
        let link = self.link_mut(a, b);
        if link.connect_pending || link.conn.is_some() {
            return;
        }
        link.connect_pending = true;
        let at = now + draw(rng, self.cfg.connect);
        self.schedule(at, Item::Connect { a: a.min(b), b: a.max(b) });
    }

    fn fire(&mut self, now: Duration, rng: &mut StdRng, item: Item) {
        match item {
            Item::Stream { from, to, conn, what } => self.arrive(from, to, conn, what),
            Item::Loop { node, life, packet } => {
                if self.alive[node as usize] && self.life[node as usize] == life {
                    self.stats.delivered += 1;
                    self.out.push_back((node, packet));
                } else {
                    self.stats.lost += 1;
                }
            }
            Item::Connect { a, b } => {
                self.link_mut(a, b).connect_pending = false;
                if !self.reachable(a, b) || self.link_mut(a, b).conn.is_some() {
                    // Repair or restart schedules the next attempt.
                    return;
                }
                let c = self.next_conn;
                self.next_conn += 1;
                self.stats.connections += 1;
                let link = self.link_mut(a, b);
                link.conn = Some(c);
                link.stall = None;
                link.held.clear();
                // The lower pnn dials; the acceptor sees its Hello first and
                // answers with its own.
                let t1 = now + draw(rng, self.cfg.latency);
                self.push_stream(t1, a, b, c, Segment::Replace);
                self.push_stream(t1, a, b, c, Segment::Hello);
                let t2 = t1 + draw(rng, self.cfg.latency);
                self.push_stream(t2, b, a, c, Segment::Replace);
                self.push_stream(t2, b, a, c, Segment::Hello);
            }
            Item::Detect { side, peer, conn, stall } => {
                let link = self.link_mut(side, peer);
                let still_stalled = link.conn == Some(conn) && link.stall == Some(stall);
                let closed = link.conn != Some(conn);
                if !(still_stalled || closed) {
                    return;
                }
                if still_stalled {
                    // This side closes the connection: what waited is lost.
                    let lost = link.held.len() as u64;
                    link.conn = None;
                    link.stall = None;
                    link.held.clear();
                    self.stats.lost += lost;
                }
                self.link_down(side, peer, conn);
            }
            Item::Reset { side, peer, conn } => {
                if self.link_mut(side, peer).conn != Some(conn) {
                    self.link_down(side, peer, conn);
                }
            }
        }
    }

    fn arrive(&mut self, from: u32, to: u32, conn: ConnId, what: Segment) {
        let slot = to as usize * self.n + from as usize;
        if !self.alive[to as usize] {
            if matches!(what, Segment::Data(_)) {
                self.stats.lost += 1;
            }
            return;
        }
        match what {
            Segment::Data(p) => {
                if self.view[slot] == Some(conn) {
                    self.stats.delivered += 1;
                    self.out.push_back((to, p));
                } else {
                    self.stats.lost += 1;
                }
            }
            Segment::Replace => {
                if let Some(old) = self.view[slot] {
                    if old != conn {
                        self.link_down(to, from, old);
                    }
                }
            }
            Segment::Hello => {
                if self.view[slot].is_none() {
                    self.view[slot] = Some(conn);
                    self.out.push_back((to, transport_note(to, Msg::PeerUp { pnn: from })));
                }
            }
            Segment::Eof => self.link_down(to, from, conn),
        }
    }

    /// `side`'s transport drops its connection `conn` to `peer`.
    fn link_down(&mut self, side: u32, peer: u32, conn: ConnId) {
        let slot = side as usize * self.n + peer as usize;
        if self.view[slot] != Some(conn) {
            return;
        }
        self.view[slot] = None;
        self.stats.peer_downs += 1;
        self.out.push_back((side, transport_note(side, Msg::PeerDown { pnn: peer })));
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// What node `to` got: a data packet's reqid, or "up n" / "down n".
    fn what(p: &Packet) -> String {
        match &p.body {
            Body::Msg(Msg::PeerUp { pnn }) => format!("up {pnn}"),
            Body::Msg(Msg::PeerDown { pnn }) => format!("down {pnn}"),
            _ => p.header.reqid.to_string(),
        }
    }

    fn data(from: u32, to: u32, id: u64) -> Packet {
        let ep = |n| Endpoint::new(n, ServiceId::CLUSTERD);
        Packet::new(ep(to), ep(from), id, Body::Msg(Msg::RecoverRequest))
    }

    /// Run the network alone until `until`; returns `(time, node, what)`.
    fn run(net: &mut Net, rng: &mut StdRng, until: Duration) -> Vec<(Duration, u32, String)> {
        let mut got = Vec::new();
        while let Some(t) = net.poll_timeout().filter(|&t| t <= until) {
            net.handle_timeout(t, rng);
            while let Some((to, p)) = net.poll_output() {
                got.push((t, to, what(&p)));
            }
        }
        got
    }

    fn at(got: &[(Duration, u32, String)], node: u32) -> Vec<String> {
        got.iter().filter(|(_, n, _)| *n == node).map(|(_, _, w)| w.clone()).collect()
    }

    /// Two nodes, linked.
    fn pair() -> (Net, StdRng) {
        let mut rng = StdRng::seed_from_u64(1);
        let mut net = Net::new(2, NetConfig::default());
        net.repair(Duration::ZERO, &mut rng);
        let got = run(&mut net, &mut rng, 2000 * MS);
        assert_eq!((at(&got, 0), at(&got, 1)), (vec!["up 1".to_string()], vec!["up 0".to_string()]));
        (net, rng)
    }

    #[test]
    fn each_direction_delivers_in_send_order() {
        let (mut net, mut rng) = pair();
        let t = 2000 * MS;
        for id in 0..100 {
            net.send(t + id as u32 * Duration::from_micros(10), &mut rng, 0, data(0, 1, id));
        }
        let got = run(&mut net, &mut rng, t + 1000 * MS);
        assert_eq!(at(&got, 1), (0..100).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn a_partition_shorter_than_the_keepalive_limit_loses_nothing() {
        let (mut net, mut rng) = pair();
        let t = 2000 * MS;
        net.send(t, &mut rng, 0, data(0, 1, 1));
        net.partition(t, &mut rng, &[vec![0]]);
        net.send(t + MS, &mut rng, 0, data(0, 1, 2));
        assert_eq!(run(&mut net, &mut rng, t + 1000 * MS), vec![], "held while cut");
        net.repair(t + 1000 * MS, &mut rng);
        let got = run(&mut net, &mut rng, t + 5000 * MS);
        assert_eq!(at(&got, 1), vec!["1", "2"], "delivered in order after the repair");
        assert_eq!(at(&got, 0), Vec::<String>::new(), "the link never went down");
    }

    #[test]
    fn a_long_partition_takes_the_link_down_on_both_sides_and_repair_brings_it_back() {
        let (mut net, mut rng) = pair();
        let t = 2000 * MS;
        net.partition(t, &mut rng, &[vec![0]]);
        net.send(t + MS, &mut rng, 0, data(0, 1, 1));
        let got = run(&mut net, &mut rng, t + 3000 * MS);
        assert_eq!((at(&got, 0), at(&got, 1)), (vec!["down 1".to_string()], vec!["down 0".to_string()]));
        assert!(got.iter().all(|(when, _, _)| *when >= t + 1500 * MS), "keepalive limit: {got:?}");
        net.repair(t + 3000 * MS, &mut rng);
        let got = run(&mut net, &mut rng, t + 5000 * MS);
        assert_eq!((at(&got, 0), at(&got, 1)), (vec!["up 1".to_string()], vec!["up 0".to_string()]));
        assert_eq!(net.stats().lost, 1, "what was sent into the dead link");
    }

    #[test]
    fn a_crashed_peers_last_packets_arrive_before_its_end_of_file() {
        let (mut net, mut rng) = pair();
        let t = 2000 * MS;
        net.send(t, &mut rng, 0, data(0, 1, 1));
        net.send(t, &mut rng, 1, data(1, 0, 2));
        net.crash(t, &mut rng, 0);
        let got = run(&mut net, &mut rng, t + 100 * MS);
        assert_eq!(at(&got, 1), vec!["1", "down 0"]);
        assert_eq!(at(&got, 0), Vec::<String>::new(), "nothing reaches a dead node");
    }

    #[test]
    fn a_node_restarted_behind_a_partition_replaces_the_old_link_after_repair() {
        let (mut net, mut rng) = pair();
        let t = 2000 * MS;
        net.partition(t, &mut rng, &[vec![0]]);
        net.crash(t + 100 * MS, &mut rng, 0);
        net.restart(t + 200 * MS, &mut rng, 0);
        // Repaired before node 1's keepalive limit: node 1 still holds the
        // old connection when the new one arrives.
        net.repair(t + 300 * MS, &mut rng);
        let got = run(&mut net, &mut rng, t + 5000 * MS);
        assert_eq!(at(&got, 1), vec!["down 0", "up 0"]);
        assert_eq!(at(&got, 0), vec!["up 1"]);
    }

    #[test]
    fn a_held_link_cuts_only_that_pair() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut net = Net::new(3, NetConfig::default());
        net.repair(Duration::ZERO, &mut rng);
        run(&mut net, &mut rng, 2000 * MS);
        net.hold(2000 * MS, &mut rng, 1, 2);
        let got = run(&mut net, &mut rng, 6000 * MS);
        assert_eq!((at(&got, 0), at(&got, 1), at(&got, 2)), (vec![], vec!["down 2".into()], vec!["down 1".into()]));
        assert!(net.connected(0, 1) && net.connected(0, 2) && !net.connected(1, 2));
    }
}
