//! The address consistency check: every node compares, once per check
//! interval, the public addresses it hosts with the addresses really on the
//! host's interfaces, and repairs what differs — Samba users know the
//! mismatch as "IP assigned but not on the interface, node still healthy".
//!
//! * An address this node took, that was seen on its interface, and that
//!   is gone (an administrator's `ip addr del`, a network manager): takeip
//!   runs again at once, with gratuitous ARPs after it, and a warning is
//!   logged. (CTDB's recovery daemon asks the leader for a takeover run,
//!   whose TAKEOVER_IP finds the address missing and runs takeip; taking
//!   it back locally is the same result without the round trip.)
//! * An address whose takeip passed but that never showed up on an
//!   interface (an event script that does not add addresses, as in a test
//!   cluster without `10.interface`): reported once, not retried in a loop.
//! * A public address on an interface of this node that it does not hold
//!   (left over from a daemon that was killed, added by hand): releaseip
//!   runs for it ("IP incorrectly on an interface" in CTDB). Not in test
//!   mode, where every node of a local cluster shares the host's
//!   interfaces (CTDB skips all these checks in test mode).
//!
//! The check waits while an event runs or is due, while takeover runs are
//! paused (`ctdb moveip`, `ctdb reloadips`, as CTDB's) and while the
//! daemon stops. Its interval is the RecoverInterval tunable (CTDB's
//! recovery daemon loop, which does the same check; 1 s by default,
//! `ctdb setvar RecoverInterval N` changes it at run time). The core asks
//! ([`Failoverd::ip_check_due`]); the shell reads the host's addresses and
//! hands them over ([`Failoverd::ip_check`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::core::Failoverd;

/// The check's state.
#[derive(Debug, Default)]
pub(crate) struct IpCheck {
    /// When the next periodic check is due.
    pub(crate) next: Option<Instant>,
    /// The shell is to read the host's addresses now.
    due: bool,
    /// Hosted addresses seen on an interface since they were taken.
    seen: BTreeSet<IpAddr>,
    /// Hosted addresses reported as never seen (reported once per take).
    reported: BTreeSet<IpAddr>,
    /// Also release public addresses found here that this node does not
    /// hold (off in test mode).
    foreign: bool,
}

impl IpCheck {
    /// takeip of `addr` passed: look soon, and report anew.
    pub(crate) fn taken(&mut self, addr: IpAddr) {
        self.reported.remove(&addr);
        self.seen.remove(&addr);
        self.due = true;
    }

    /// releaseip of `addr` passed.
    pub(crate) fn released(&mut self, addr: IpAddr) {
        self.seen.remove(&addr);
        self.reported.remove(&addr);
    }
}

impl Failoverd {
    /// Whether public addresses found on this host's interfaces but not
    /// held by this node are released (true outside test mode; default
    /// false).
    pub fn set_check_foreign_addresses(&mut self, on: bool) {
        self.check.foreign = on;
    }

    /// The check interval (RecoverInterval, at least 1 s).
    pub fn ip_check_interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.tunables().recover_interval().max(1)))
    }

    /// Whether the shell should read the host's addresses now and call
    /// [`Failoverd::ip_check`].
    pub fn ip_check_due(&mut self) -> bool {
        std::mem::take(&mut self.check.due)
    }

    /// Arm the periodic check (first cluster state) and mark it due when
    /// its time has come.
    pub(crate) fn check_tick(&mut self, now: Instant) {
        if self.cfg.addresses.is_empty() {
            self.check.next = None;
            return;
        }
        match self.check.next {
            None => self.check.next = Some(now + self.ip_check_interval()),
            Some(t) if now >= t => {
                self.check.due = true;
                self.check.next = Some(now + self.ip_check_interval());
            }
            Some(_) => {}
        }
    }

    /// Compare with `on_host` (every address on the host's interfaces →
    /// its interface) and repair.
    pub fn ip_check(&mut self, now: Instant, on_host: &BTreeMap<IpAddr, String>) {
        let busy = self.event_running.is_some() || self.next_needed().is_some();
        if busy || self.stopping || self.runs_paused(now) {
            // Look again after the next input (an event's end, say): the
            // check right after a takeip is what records the address as
            // seen, and it comes while ipreallocated still runs.
            self.check.due = !self.stopping;
            return;
        }
        let mut repair = false;
        let hosted: Vec<(IpAddr, String)> = self.hosted.iter().map(|(a, i)| (*a, i.clone())).collect();
        for (addr, iface) in hosted {
            if on_host.contains_key(&addr) {
                self.check.seen.insert(addr);
            } else if self.check.seen.remove(&addr) {
                warn!("failoverd: public address {addr} is assigned to this node but no longer on interface {iface}; adding it again");
                self.hosted.remove(&addr);
                self.forced_take.insert(addr);
                repair = true;
            } else if self.check.reported.insert(addr) {
                warn!("failoverd: public address {addr} was taken but is not on interface {iface} (does an event script add it?)");
            }
        }
        if self.check.foreign {
            let me = self.cfg.pnn;
            let strays: Vec<(IpAddr, String)> = self
                .cfg
                .addresses
                .iter()
                .filter(|a| !self.hosted.contains_key(&a.addr))
                .filter_map(|a| on_host.get(&a.addr).map(|i| (a.addr, i.clone())))
                .collect();
            for (addr, iface) in strays {
                // Recorded as hosted: releaseip follows unless it is ours.
                self.hosted.insert(addr, iface.clone());
                self.check.seen.insert(addr);
                if !self.drop_all && self.holders.get(&addr).copied().flatten() == Some(me) {
                    info!("failoverd: public address {addr} already on interface {iface}");
                } else {
                    warn!("failoverd: public address {addr} is on interface {iface} but not assigned to this node; releasing it");
                    repair = true;
                }
            }
        }
        if repair {
            self.next_event();
        }
    }
}
