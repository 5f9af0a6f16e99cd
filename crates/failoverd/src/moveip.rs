//! `ctdb moveip`: RELEASE_IP (88) and TAKEOVER_IP (89), one address at a
//! time outside the leader's takeover runs, and the messages that tell
//! local clients (smbd) when this node lets an address go or takes one.
//!
//! ```text
//!  ctdb moveip A N:  DISABLE_IP_CHECK (every node: runs and checks paused)
//!    RELEASE_IP{A, N} ──► every other active node: holder of A := N;
//!                          the node hosting A runs releaseip first
//!    TAKEOVER_IP{A, N} ──► node N: takeip, then Moved{A} to every
//!                          other connected node (holder := N, pause over)
//! ```
//!
//! Both controls answer when their event is over (as CTDB's, they are
//! asynchronous); a control for an address with an event under way is
//! refused, like CTDB's "update for this IP already in flight". After the
//! move every node names N as the holder, so the next takeover run starts
//! from there and moves A only if the allocation says so.

use std::net::IpAddr;

use ctdb_legacy_proto::{pnn, Frame, Packet as LPacket, PublicIp, ReplyControl, ReqMessage, Wire};
use ctdb_proto::{Body, Endpoint, FailoverMsg, Packet, ServiceId};
use tracing::{debug, info, warn};

use crate::core::Failoverd;

/// A RELEASE_IP or TAKEOVER_IP control waiting for its event.
#[derive(Debug, Clone)]
pub(crate) struct IpWaiter {
    gw: Endpoint,
    reqid: u64,
    addr: IpAddr,
    /// TAKEOVER_IP (true) or RELEASE_IP.
    take: bool,
}

fn fail(msg: &str) -> Option<ReplyControl> {
    Some(ReplyControl { status: -1, data: Vec::new(), errmsg: Some(msg.to_string()) })
}

fn done() -> Option<ReplyControl> {
    Some(ReplyControl { status: 0, data: Vec::new(), errmsg: None })
}

impl Failoverd {
    /// Whether a takeip or releaseip of `addr` is running.
    fn in_flight(&self, addr: IpAddr) -> bool {
        self.event_target_addr() == Some(addr)
    }

    /// RELEASE_IP: `addr` now belongs to the node the control names. If
    /// this node hosts it, releaseip runs and the answer comes when it is
    /// over (`None` here); otherwise only the holder is noted (CTDB's
    /// "redundant release", which is how every node learns where an
    /// address went).
    pub(crate) fn release_ip(&mut self, gw: Endpoint, reqid: u64, data: &[u8]) -> Option<ReplyControl> {
        let Ok(pip) = PublicIp::from_bytes(data) else {
            warn!("failoverd: malformed RELEASE_IP");
            return fail("malformed public_ip");
        };
        let addr = pip.addr.ip().to_canonical();
        if !self.holders.contains_key(&addr) {
            debug!("failoverd: RELEASE_IP for {addr}, not a public address");
            return done();
        }
        let new_holder = (pip.pnn != pnn::UNKNOWN).then_some(pip.pnn);
        // Announcements of an address that moves away stop at once.
        self.announce.retain(|a| a.1 != addr);
        if !self.hosted.contains_key(&addr) {
            self.holders.insert(addr, new_holder);
            return done();
        }
        if self.in_flight(addr) {
            warn!("failoverd: release of {addr} refused: an event for it is already running");
            return fail("update for this IP already in flight");
        }
        info!("failoverd: releasing {addr} for node {}", pip.pnn as i32);
        self.holders.insert(addr, new_holder);
        self.failed.remove(&addr);
        self.forced_take.remove(&addr);
        self.ip_waiters.push(IpWaiter { gw, reqid, addr, take: false });
        self.next_event();
        None
    }

    /// TAKEOVER_IP: this node takes `addr` now (takeip; the answer comes
    /// when it is over). Refused when the control names another node, when
    /// no interface of the address has its link up (as CTDB), and — unlike
    /// CTDB, which does not look — while this node may host nothing
    /// (stopped, banned, stopping).
    pub(crate) fn takeover_ip(&mut self, gw: Endpoint, reqid: u64, data: &[u8]) -> Option<ReplyControl> {
        let Ok(pip) = PublicIp::from_bytes(data) else {
            warn!("failoverd: malformed TAKEOVER_IP");
            return fail("malformed public_ip");
        };
        let addr = pip.addr.ip().to_canonical();
        let me = self.cfg.pnn;
        if pip.pnn != me {
            warn!("failoverd: TAKEOVER_IP of {addr} for node {} sent to node {me}", pip.pnn as i32);
            return fail("takeover of an address for another node");
        }
        let Some(cfg) = self.cfg.addresses.iter().find(|a| a.addr == addr) else {
            debug!("failoverd: TAKEOVER_IP for {addr}, not a public address");
            return done();
        };
        if !cfg.ifaces.iter().any(|i| self.links.get(i).copied().unwrap_or(false)) {
            warn!("failoverd: cannot take {addr}: no interface of it has its link up");
            return fail("no usable interface");
        }
        if self.drop_all || self.stopping {
            warn!("failoverd: cannot take {addr}: this node hosts no addresses now");
            return fail("this node cannot host addresses now");
        }
        if self.in_flight(addr) {
            warn!("failoverd: takeover of {addr} refused: an event for it is already running");
            return fail("update for this IP already in flight");
        }
        self.holders.insert(addr, Some(me));
        if self.hosted.contains_key(&addr) {
            // Already here: nothing to run; the move is still over.
            self.announce_moved(addr);
            return done();
        }
        info!("failoverd: taking {addr} on request");
        self.failed.remove(&addr);
        self.forced_take.insert(addr);
        self.ip_waiters.push(IpWaiter { gw, reqid, addr, take: true });
        self.next_event();
        None
    }

    /// Answer the controls waiting for `addr` (all of them when `None`:
    /// nothing is left to run) from what this node hosts now.
    pub(crate) fn settle_ip_waiters(&mut self, addr: Option<IpAddr>) {
        if self.ip_waiters.is_empty() {
            return;
        }
        let (ready, waiting): (Vec<IpWaiter>, Vec<IpWaiter>) =
            std::mem::take(&mut self.ip_waiters).into_iter().partition(|w| addr.is_none_or(|a| a == w.addr));
        self.ip_waiters = waiting;
        for w in ready {
            let ok = self.hosted.contains_key(&w.addr) == w.take;
            if !ok {
                warn!("failoverd: {} of {} failed", if w.take { "takeover" } else { "release" }, w.addr);
            }
            let r = ReplyControl { status: if ok { 0 } else { -1 }, data: Vec::new(), errmsg: None };
            self.reply(w.gw, w.reqid, r);
            if ok && w.take {
                self.announce_moved(w.addr);
            }
        }
    }

    /// This node took `addr` on request: every node (this one too, through
    /// the transport) learns the new holder, and the pause the move asked
    /// for ends everywhere.
    fn announce_moved(&mut self, addr: IpAddr) {
        for n in self.connected_nodes() {
            self.send(n, FailoverMsg::Moved { addr });
        }
    }

    /// Another node took `addr` on request ([`FailoverMsg::Moved`]).
    pub(crate) fn moved(&mut self, now: std::time::Instant, from: u32, addr: IpAddr) {
        if self.holders.contains_key(&addr) {
            self.holders.insert(addr, Some(from));
        }
        // Should it still be here (a release that failed), it goes now.
        self.next_event();
        self.end_move_pause(now);
    }

    /// Send a message to this node's clients registered for `srvid`
    /// (RELEASE_IP, TAKE_IP): the address as NUL-terminated text, as CTDB
    /// sends it; smbd drops its connections to a released address.
    pub(crate) fn tell_clients(&mut self, srvid: u64, addr: IpAddr) {
        let mut data = addr.to_string().into_bytes();
        data.push(0);
        let frame = Frame::new(LPacket::ReqMessage(ReqMessage { srvid, data }), self.cfg.pnn, self.cfg.pnn, 0);
        let gw = Endpoint::new(self.cfg.pnn, ServiceId::GATEWAY);
        self.push_out(Packet::new(gw, self.me(), 0, Body::Legacy(frame.encode(true))));
    }
}
