//! A node in normal mode (recmode 0) has a valid generation.
//!
//! Recovery mode NORMAL says "a recovery has established the databases at
//! this generation"; clients and the databases trust it. Normal mode with
//! generation 1 (INVALID) would let a node serve before any recovery.

use ctdb_clusterd::INVALID_GENERATION;

use super::Invariant;
use crate::Sim;

/// recmode 0 ⇒ generation ≠ INVALID.
pub struct NormalModeHasGeneration;

impl Invariant for NormalModeHasGeneration {
    fn name(&self) -> &'static str {
        "normal_mode_has_generation"
    }

    fn check(&mut self, sim: &Sim) -> Result<(), String> {
        for (who, core) in sim.live() {
            let st = core.state();
            if st.recmode == 0 && st.generation == INVALID_GENERATION {
                return Err(format!("node {} is in normal mode with generation INVALID", who.node));
            }
        }
        Ok(())
    }
}
