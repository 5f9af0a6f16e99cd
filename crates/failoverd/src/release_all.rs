//! A node that may not host addresses lets all of them go at once, as
//! CTDB's `ctdb_release_all_ips`: when it is stopped or banned (CTDB does
//! it as the node becomes inactive) and when it has been in recovery mode
//! for longer than the RecoveryDropAllIPs tunable (120 s by default; a
//! node cut off from the others never finishes a recovery, and its
//! addresses are by then served elsewhere).
//!
//! The addresses it held become unassigned in its own view (CTDB's "node
//! -1") and releaseip runs for each; nothing is taken again until the
//! condition is over and the leader's next takeover run gives it
//! addresses.

use std::time::{Duration, Instant};

use ctdb_legacy_proto::flags as node_flags;
use tracing::{error, info, warn};

use crate::core::Failoverd;

impl Failoverd {
    /// When the recovery this node is in becomes too long (RecoveryDropAllIPs
    /// after recovery mode became ACTIVE), unless everything is already let go.
    pub(crate) fn release_all_deadline(&self) -> Option<Instant> {
        if self.drop_all {
            return None;
        }
        let secs = u64::from(self.tunables().recovery_drop_all_ips());
        self.recovery_since.map(|t| t + Duration::from_secs(secs))
    }

    /// Look at this node's flags and recovery mode: release everything
    /// when it may host nothing, allow hosting again when that is over.
    pub(crate) fn check_release_all(&mut self, now: Instant) {
        let Some(st) = &self.state else { return };
        let own = st.nodes.get(self.cfg.pnn as usize).map_or(0, |n| n.flags);
        let in_recovery = st.recmode != 0;
        if in_recovery {
            self.recovery_since.get_or_insert(now);
        } else {
            self.recovery_since = None;
        }
        let inactive = own & (node_flags::STOPPED | node_flags::BANNED) != 0;
        let secs = u64::from(self.tunables().recovery_drop_all_ips());
        let too_long = self.recovery_since.is_some_and(|t| now >= t + Duration::from_secs(secs));
        let drop = inactive || too_long;
        if drop == self.drop_all {
            return;
        }
        self.drop_all = drop;
        if !drop {
            info!("failoverd: this node may host public addresses again");
            return;
        }
        if inactive {
            let what = if own & node_flags::BANNED != 0 { "banned" } else { "stopped" };
            warn!("failoverd: this node is {what}; releasing all its public addresses");
        } else {
            error!(
                "failoverd: in recovery mode for longer than RecoveryDropAllIPs ({} s); releasing all public addresses",
                self.tunables().recovery_drop_all_ips()
            );
        }
        let me = self.cfg.pnn;
        for h in self.holders.values_mut() {
            if *h == Some(me) {
                *h = None;
            }
        }
        self.next_event();
    }
}
