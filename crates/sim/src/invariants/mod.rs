//! Safety invariants, checked after every step of the simulation. One file
//! per invariant; each says what it rules out and why it must hold.

mod generation_forward;
mod leader_holds_lock;
mod normal_mode_has_generation;
mod single_leader;

pub use generation_forward::GenerationForward;
pub use leader_holds_lock::LeaderHoldsLock;
pub use normal_mode_has_generation::NormalModeHasGeneration;
pub use single_leader::SingleLeader;

use crate::Sim;

/// A property of the whole simulated cluster that must hold at every
/// instant. It may keep state between checks (what it saw before).
pub trait Invariant {
    /// Short name, printed on failure.
    fn name(&self) -> &'static str;

    /// Look at the cluster after a step; `Err` explains the violation.
    fn check(&mut self, sim: &Sim) -> Result<(), String>;
}

/// Every invariant, in the order they are checked.
pub fn standard() -> Vec<Box<dyn Invariant>> {
    vec![
        Box::new(SingleLeader),
        Box::new(LeaderHoldsLock),
        Box::new(GenerationForward::default()),
        Box::new(NormalModeHasGeneration),
    ]
}
