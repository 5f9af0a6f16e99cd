//! With a cluster lock, never two live nodes acting as leader at once.
//!
//! This is the split-brain guarantee the cluster lock exists for (issue 3):
//! two leaders would run two recoveries and two public-IP allocations over
//! the same databases. Without a lock a partition may have a leader on each
//! side, so the check applies only with a lock configured.

use super::Invariant;
use crate::Sim;

/// At most one `is_leader()` among live nodes (with a cluster lock).
pub struct SingleLeader;

impl Invariant for SingleLeader {
    fn name(&self) -> &'static str {
        "single_leader"
    }

    fn check(&mut self, sim: &Sim) -> Result<(), String> {
        if !sim.with_lock() {
            return Ok(());
        }
        let leaders: Vec<u32> = sim.live().filter(|(_, c)| c.is_leader()).map(|(o, _)| o.node).collect();
        if leaders.len() > 1 {
            return Err(format!("nodes {leaders:?} all act as leader (lock held by {:?})", sim.lock_holder()));
        }
        Ok(())
    }
}
