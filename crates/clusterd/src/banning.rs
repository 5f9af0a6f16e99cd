//! Banning of culprits: the leader counts, per node, the recoveries it made
//! fail (did not answer in time). A node that reaches twice the number of
//! nodes in credits is banned for RecoveryBanPeriod, so one broken node
//! cannot keep the whole cluster in recovery. Credits are forgotten after
//! RecoveryGracePeriod without a new one. `EnableBans = 0` turns it off.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ctdb_proto::Msg;
use tracing::warn;

use crate::Clusterd;

const SLOT_RECOVERY_GRACE_PERIOD: usize = 15;
const SLOT_RECOVERY_BAN_PERIOD: usize = 16;
const SLOT_ENABLE_BANS: usize = 20;

/// Ban credits per node: count and when the last one was given.
#[derive(Debug, Default)]
pub struct BanCredits {
    credits: BTreeMap<u32, (u32, Instant)>,
}

impl Clusterd {
    fn tunable(&self, slot: usize, default: u32) -> u32 {
        self.state.tunables.get(slot).copied().unwrap_or(default)
    }

    /// Leader: node `pnn` made a recovery fail.
    pub(crate) fn culprit(&mut self, now: Instant, pnn: u32) {
        let grace = Duration::from_secs(u64::from(self.tunable(SLOT_RECOVERY_GRACE_PERIOD, 120)));
        let entry = self.ban_credits.credits.entry(pnn).or_insert((0, now));
        if now.saturating_duration_since(entry.1) > grace {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = now;
        let count = entry.0;
        let limit = 2 * self.state.nodes.iter().filter(|n| n.addr.is_some()).count() as u32;
        warn!("Node {pnn} caused a failed recovery ({count} of {limit} ban credits)");
        if count < limit {
            return;
        }
        self.ban_credits.credits.remove(&pnn);
        if self.tunable(SLOT_ENABLE_BANS, 1) == 0 {
            warn!("Node {pnn} reached the ban threshold, but EnableBans is 0");
            return;
        }
        let secs = self.tunable(SLOT_RECOVERY_BAN_PERIOD, 300);
        warn!("Banning node {pnn} for {secs} seconds");
        if pnn == self.state.pnn {
            self.ban(now, secs);
        } else {
            self.send(pnn, Msg::Ban { secs });
        }
    }
}
