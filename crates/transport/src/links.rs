//! Sans-IO core of the node links: who should be dialled, when a keepalive is
//! due, when a silent peer is declared dead.
//!
//! Inputs are [`Input`] values with the current time; after each input the
//! shell drains [`Links::poll_action`] and then sleeps until
//! [`Links::poll_timeout`].
//!
//! One TCP connection per pair of nodes: the node with the lower pnn dials,
//! the higher one accepts. So a restarted node is redialled by its lower
//! neighbours and redials its higher ones, and there is never a question of
//! which of two connections to keep.
//!
//! ```text
//!  Down ──Dial──► Dialing ──LinkUp──► Up ──(silent interval×limit | LinkDown)──► Down
//!    ▲              │ DialFailed                                              │
//!    └──────────────┴──── retry after DIAL_RETRY ◄────────────────────────────┘
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long to wait between attempts to dial a peer that is down.
pub const DIAL_RETRY: Duration = Duration::from_millis(500);

/// Samba's default KeepaliveInterval and KeepaliveLimit (seconds, count).
pub const SAMBA_KEEPALIVE_DEFAULTS: (u32, u32) = (5, 5);

/// Where the keepalive interval and limit come from.
///
/// Samba's tunables KeepaliveInterval and KeepaliveLimit count whole
/// seconds, so the fastest detection they allow is one to two seconds and
/// their defaults take 25 s. ctdb-rs has its own finer setting (`[cluster]
/// keepalive interval ms` and `keepalive limit`, 200 ms × 5 by default),
/// used while the tunables are at Samba's defaults; an operator who sets
/// either tunable (in `ctdb.tunables` or with `ctdb setvar`) gets exactly
/// what Samba would do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// ctdb-rs's interval.
    pub fine_interval: Duration,
    /// ctdb-rs's limit.
    pub fine_limit: u32,
    /// The tunables KeepaliveInterval (seconds) and KeepaliveLimit.
    pub tunables: (u32, u32),
}

impl Keepalive {
    /// The interval and limit in force.
    pub fn effective(&self) -> (Duration, u32) {
        let (interval, limit) = if self.tunables == SAMBA_KEEPALIVE_DEFAULTS {
            (self.fine_interval, self.fine_limit)
        } else {
            // Zero would mean "send keepalives continuously" and "dead at
            // once": the smallest sane values instead.
            (Duration::from_secs(u64::from(self.tunables.0.max(1))), self.tunables.1)
        };
        (interval.max(Duration::from_millis(10)), limit.max(1))
    }
}

/// Something that happened, fed to [`Links::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Time passed.
    Tick,
    /// A link to `pnn` completed its handshake (dialled or accepted).
    LinkUp {
        /// Peer.
        pnn: u32,
        /// Identifies this connection, so a late report about an older one
        /// is ignored.
        link: u64,
    },
    /// A link closed or failed (EOF, I/O error, protocol error).
    LinkDown {
        /// Peer.
        pnn: u32,
        /// Which connection.
        link: u64,
    },
    /// Dialling `pnn` failed.
    DialFailed {
        /// Peer.
        pnn: u32,
    },
    /// A packet (of any kind) arrived from `pnn`.
    Received {
        /// Peer.
        pnn: u32,
    },
    /// A packet was sent to `pnn`.
    Sent {
        /// Peer.
        pnn: u32,
    },
    /// The nodes file was reloaded: every slot (index = pnn, `None` =
    /// deleted). New nodes are linked to, deleted ones dropped.
    Nodes(Vec<Option<IpAddr>>),
    /// The keepalive tunables changed (seconds, count).
    Keepalive {
        /// KeepaliveInterval.
        interval: u32,
        /// KeepaliveLimit.
        limit: u32,
    },
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to the peer and handshake; report LinkUp or
    /// DialFailed.
    Dial {
        /// Peer.
        pnn: u32,
        /// Its address from the nodes file.
        addr: IpAddr,
    },
    /// Send a keepalive packet on the link.
    SendKeepalive {
        /// Peer.
        pnn: u32,
    },
    /// Close the connection (the peer is declared dead already).
    Close {
        /// Peer.
        pnn: u32,
        /// Which connection.
        link: u64,
        /// For the log.
        reason: &'static str,
    },
    /// Tell clusterd the peer is connected. Emitted after the link is ready
    /// to carry packets.
    PeerUp {
        /// Peer.
        pnn: u32,
    },
    /// Tell clusterd the peer is gone.
    PeerDown {
        /// Peer.
        pnn: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Down { retry_at: Instant },
    Dialing,
    Up { link: u64 },
}

#[derive(Debug)]
struct Peer {
    addr: IpAddr,
    state: State,
    last_rx: Instant,
    last_tx: Instant,
}

/// The link table.
#[derive(Debug)]
pub struct Links {
    pnn: u32,
    peers: BTreeMap<u32, Peer>,
    keepalive: Keepalive,
    /// What `keepalive` comes to: the interval and limit in force.
    interval: Duration,
    limit: u32,
    actions: VecDeque<Action>,
}

impl Links {
    /// Links of node `pnn` to every other non-deleted node of `nodes`
    /// (index = pnn, `None` = deleted), with keepalive settings `keepalive`.
    pub fn new(now: Instant, pnn: u32, nodes: &[Option<IpAddr>], keepalive: Keepalive) -> Links {
        let peers = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, a)| Some((i as u32, (*a)?)))
            .filter(|(p, _)| *p != pnn)
            .map(|(p, addr)| {
                let peer = Peer { addr, state: State::Down { retry_at: now }, last_rx: now, last_tx: now };
                (p, peer)
            })
            .collect();
        let (interval, limit) = keepalive.effective();
        Links { pnn, peers, keepalive, interval, limit, actions: VecDeque::new() }
    }

    /// The keepalive interval and limit in force.
    pub fn keepalive(&self) -> (Duration, u32) {
        (self.interval, self.limit)
    }

    /// Whether `pnn` is a peer we accept connections from (lower pnn, in the
    /// nodes file) and with which address.
    pub fn accepts(&self, pnn: u32, addr: IpAddr) -> bool {
        pnn < self.pnn && self.peers.get(&pnn).is_some_and(|p| p.addr == addr)
    }

    /// The pnn that owns `addr`, if any.
    pub fn pnn_of(&self, addr: IpAddr) -> Option<u32> {
        self.peers.iter().find(|(_, p)| p.addr == addr).map(|(pnn, _)| *pnn)
    }

    /// Whether the link to `pnn` is up.
    pub fn is_up(&self, pnn: u32) -> bool {
        self.peers.get(&pnn).is_some_and(|p| matches!(p.state, State::Up { .. }))
    }

    /// Every peer whose link is up.
    pub fn up_peers(&self) -> impl Iterator<Item = u32> + '_ {
        self.peers.iter().filter(|(_, p)| matches!(p.state, State::Up { .. })).map(|(pnn, _)| *pnn)
    }

    /// Feed one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Tick => {}
            Input::Keepalive { interval, limit } => {
                self.keepalive.tunables = (interval, limit);
                (self.interval, self.limit) = self.keepalive.effective();
            }
            Input::Nodes(nodes) => self.set_nodes(now, &nodes),
            Input::LinkUp { pnn, link } => {
                let Some(peer) = self.peers.get_mut(&pnn) else {
                    return;
                };
                if let State::Up { link: old } = peer.state {
                    // The peer reconnected before we noticed it went away
                    // (it restarted): the old connection is dead.
                    self.actions.push_back(Action::Close { pnn, link: old, reason: "replaced by a new connection" });
                    self.actions.push_back(Action::PeerDown { pnn });
                }
                peer.state = State::Up { link };
                peer.last_rx = now;
                peer.last_tx = now;
                self.actions.push_back(Action::PeerUp { pnn });
            }
            Input::LinkDown { pnn, link } => {
                let Some(peer) = self.peers.get_mut(&pnn) else {
                    return;
                };
                if peer.state == (State::Up { link }) {
                    peer.state = State::Down { retry_at: now };
                    self.actions.push_back(Action::PeerDown { pnn });
                }
            }
            Input::DialFailed { pnn } => {
                if let Some(peer) = self.peers.get_mut(&pnn) {
                    if peer.state == State::Dialing {
                        peer.state = State::Down { retry_at: now + DIAL_RETRY };
                    }
                }
            }
            Input::Received { pnn } => {
                if let Some(peer) = self.peers.get_mut(&pnn) {
                    peer.last_rx = now;
                }
            }
            Input::Sent { pnn } => {
                if let Some(peer) = self.peers.get_mut(&pnn) {
                    peer.last_tx = now;
                }
            }
        }
        self.check(now);
    }

    fn set_nodes(&mut self, now: Instant, nodes: &[Option<IpAddr>]) {
        let gone: Vec<u32> =
            self.peers.keys().copied().filter(|&p| nodes.get(p as usize).copied().flatten().is_none()).collect();
        for pnn in gone {
            if let Some(peer) = self.peers.remove(&pnn) {
                if let State::Up { link } = peer.state {
                    self.actions.push_back(Action::Close { pnn, link, reason: "node deleted" });
                    self.actions.push_back(Action::PeerDown { pnn });
                }
            }
        }
        for (i, addr) in nodes.iter().enumerate() {
            let pnn = i as u32;
            let Some(addr) = *addr else { continue };
            if pnn == self.pnn || self.peers.contains_key(&pnn) {
                continue;
            }
            let peer = Peer { addr, state: State::Down { retry_at: now }, last_rx: now, last_tx: now };
            self.peers.insert(pnn, peer);
        }
    }

    fn check(&mut self, now: Instant) {
        let dead_after = self.interval * self.limit;
        for (&pnn, peer) in self.peers.iter_mut() {
            match peer.state {
                State::Down { retry_at } if pnn > self.pnn && now >= retry_at => {
                    peer.state = State::Dialing;
                    self.actions.push_back(Action::Dial { pnn, addr: peer.addr });
                }
                State::Up { link } => {
                    if now.duration_since(peer.last_rx) >= dead_after {
                        peer.state = State::Down { retry_at: now };
                        self.actions.push_back(Action::Close { pnn, link, reason: "keepalive timeout" });
                        self.actions.push_back(Action::PeerDown { pnn });
                    } else if now.duration_since(peer.last_tx) >= self.interval {
                        peer.last_tx = now;
                        self.actions.push_back(Action::SendKeepalive { pnn });
                    }
                }
                _ => {}
            }
        }
    }

    /// Next action, until `None`.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Input::Tick`] is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let dead_after = self.interval * self.limit;
        self.peers
            .iter()
            .filter_map(|(&pnn, p)| match p.state {
                State::Down { retry_at } if pnn > self.pnn => Some(retry_at),
                State::Up { .. } => Some((p.last_rx + dead_after).min(p.last_tx + self.interval)),
                _ => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, n]))
    }

    /// ctdb-rs's defaults (200 ms × 5) with the tunables at `(i, l)`.
    fn tunables(i: u32, l: u32) -> Keepalive {
        Keepalive { fine_interval: Duration::from_millis(200), fine_limit: 5, tunables: (i, l) }
    }

    fn drain(l: &mut Links) -> Vec<Action> {
        std::iter::from_fn(|| l.poll_action()).collect()
    }

    #[test]
    fn lower_pnn_dials_higher_and_skips_deleted_slots() {
        let t0 = Instant::now();
        let mut l = Links::new(t0, 1, &[ip(1), ip(2), None, ip(4)], tunables(5, 5));
        l.handle(t0, Input::Tick);
        assert_eq!(drain(&mut l), vec![Action::Dial { pnn: 3, addr: IpAddr::from([127, 0, 0, 4]) }]);
        assert!(l.accepts(0, IpAddr::from([127, 0, 0, 1])));
        assert!(!l.accepts(0, IpAddr::from([127, 0, 0, 9])), "address must match the nodes file");
        assert!(!l.accepts(3, IpAddr::from([127, 0, 0, 4])), "higher pnns are dialled, never accepted");
    }

    #[test]
    fn silent_peer_is_declared_dead_after_interval_times_limit() {
        let t0 = Instant::now();
        let mut l = Links::new(t0, 0, &[ip(1), ip(2)], tunables(1, 3));
        l.handle(t0, Input::Tick);
        drain(&mut l);
        l.handle(t0, Input::LinkUp { pnn: 1, link: 7 });
        assert_eq!(drain(&mut l), vec![Action::PeerUp { pnn: 1 }]);
        // Keepalives go out every interval while the peer stays silent.
        l.handle(t0 + Duration::from_secs(1), Input::Tick);
        assert_eq!(drain(&mut l), vec![Action::SendKeepalive { pnn: 1 }]);
        l.handle(t0 + Duration::from_millis(2999), Input::Tick);
        assert_eq!(drain(&mut l), vec![Action::SendKeepalive { pnn: 1 }]);
        l.handle(t0 + Duration::from_secs(3), Input::Tick);
        assert_eq!(
            drain(&mut l),
            vec![Action::Close { pnn: 1, link: 7, reason: "keepalive timeout" }, Action::PeerDown { pnn: 1 }]
        );
        // … and it is redialled.
        l.handle(t0 + Duration::from_secs(3), Input::Tick);
        assert!(matches!(drain(&mut l).as_slice(), [Action::Dial { pnn: 1, .. }]));
    }

    #[test]
    fn traffic_keeps_a_link_alive() {
        let t0 = Instant::now();
        let mut l = Links::new(t0, 0, &[ip(1), ip(2)], tunables(1, 2));
        l.handle(t0, Input::LinkUp { pnn: 1, link: 1 });
        drain(&mut l);
        for s in 1..10 {
            let t = t0 + Duration::from_millis(900 * s);
            l.handle(t, Input::Received { pnn: 1 });
            l.handle(t, Input::Sent { pnn: 1 });
            assert!(!drain(&mut l).contains(&Action::PeerDown { pnn: 1 }));
        }
        assert!(l.is_up(1));
    }

    #[test]
    fn stale_link_down_is_ignored_and_reconnect_replaces_old_link() {
        let t0 = Instant::now();
        let mut l = Links::new(t0, 1, &[ip(1), ip(2)], tunables(5, 5));
        l.handle(t0, Input::LinkUp { pnn: 0, link: 1 });
        drain(&mut l);
        l.handle(t0, Input::LinkUp { pnn: 0, link: 2 });
        assert_eq!(
            drain(&mut l),
            vec![
                Action::Close { pnn: 0, link: 1, reason: "replaced by a new connection" },
                Action::PeerDown { pnn: 0 },
                Action::PeerUp { pnn: 0 }
            ]
        );
        l.handle(t0, Input::LinkDown { pnn: 0, link: 1 });
        assert_eq!(drain(&mut l), vec![]);
        assert!(l.is_up(0));
    }

    #[test]
    fn reloaded_nodes_are_dialled_and_deleted_ones_dropped() {
        let t0 = Instant::now();
        let mut l = Links::new(t0, 0, &[ip(1), ip(2)], tunables(5, 5));
        l.handle(t0, Input::LinkUp { pnn: 1, link: 4 });
        drain(&mut l);
        l.handle(t0, Input::Nodes(vec![ip(1), None, ip(3)]));
        assert_eq!(
            drain(&mut l),
            vec![
                Action::Close { pnn: 1, link: 4, reason: "node deleted" },
                Action::PeerDown { pnn: 1 },
                Action::Dial { pnn: 2, addr: IpAddr::from([127, 0, 0, 3]) }
            ]
        );
    }

    #[test]
    fn failed_dial_is_retried_after_a_pause() {
        let t0 = Instant::now();
        let mut l = Links::new(t0, 0, &[ip(1), ip(2)], tunables(5, 5));
        l.handle(t0, Input::Tick);
        drain(&mut l);
        l.handle(t0, Input::DialFailed { pnn: 1 });
        assert_eq!(drain(&mut l), vec![]);
        assert_eq!(l.poll_timeout(), Some(t0 + DIAL_RETRY));
        l.handle(t0 + DIAL_RETRY, Input::Tick);
        assert!(matches!(drain(&mut l).as_slice(), [Action::Dial { pnn: 1, .. }]));
    }

    #[test]
    fn with_samba_default_tunables_the_fine_setting_declares_a_silent_peer_dead_in_one_second() {
        let t0 = Instant::now();
        let mut l = Links::new(t0, 0, &[ip(1), ip(2)], tunables(5, 5));
        assert_eq!(l.keepalive(), (Duration::from_millis(200), 5));
        l.handle(t0, Input::LinkUp { pnn: 1, link: 3 });
        drain(&mut l);
        l.handle(t0 + Duration::from_millis(200), Input::Tick);
        assert_eq!(drain(&mut l), vec![Action::SendKeepalive { pnn: 1 }]);
        assert_eq!(l.poll_timeout(), Some(t0 + Duration::from_millis(400)));
        l.handle(t0 + Duration::from_millis(999), Input::Tick);
        assert!(!drain(&mut l).contains(&Action::PeerDown { pnn: 1 }));
        l.handle(t0 + Duration::from_millis(1000), Input::Tick);
        assert_eq!(
            drain(&mut l),
            vec![Action::Close { pnn: 1, link: 3, reason: "keepalive timeout" }, Action::PeerDown { pnn: 1 }]
        );
    }

    #[test]
    fn setting_a_tunable_switches_to_samba_seconds_and_back() {
        let t0 = Instant::now();
        let mut l = Links::new(t0, 0, &[ip(1), ip(2)], tunables(5, 5));
        l.handle(t0, Input::Keepalive { interval: 1, limit: 5 });
        assert_eq!(l.keepalive(), (Duration::from_secs(1), 5));
        l.handle(t0, Input::Keepalive { interval: 5, limit: 2 });
        assert_eq!(l.keepalive(), (Duration::from_secs(5), 2));
        l.handle(t0, Input::Keepalive { interval: 0, limit: 0 });
        assert_eq!(l.keepalive(), (Duration::from_secs(1), 1), "zeros are clamped, not continuous or instant");
        l.handle(t0, Input::Keepalive { interval: 5, limit: 5 });
        assert_eq!(l.keepalive(), (Duration::from_millis(200), 5));
    }
}
