//! With a cluster lock, a node acts as leader only while it holds the lock.
//!
//! Stronger than [`super::SingleLeader`]: it also catches a lone leader that
//! kept leading after its lock was freed (released, lost, or never taken),
//! which becomes a second leader as soon as another node wins the lock.

use super::Invariant;
use crate::Sim;

/// Every live `is_leader()` node is the simulated lock's holder.
pub struct LeaderHoldsLock;

impl Invariant for LeaderHoldsLock {
    fn name(&self) -> &'static str {
        "leader_holds_lock"
    }

    fn check(&mut self, sim: &Sim) -> Result<(), String> {
        if !sim.with_lock() {
            return Ok(());
        }
        for (who, core) in sim.live() {
            if core.is_leader() && sim.lock_holder() != Some(who) {
                return Err(format!(
                    "node {} (life {}) acts as leader but the lock is held by {:?}",
                    who.node,
                    who.life,
                    sim.lock_holder()
                ));
            }
        }
        Ok(())
    }
}
