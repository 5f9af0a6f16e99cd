//! Generations only move forward on each node.
//!
//! Generation numbers are random, so "forward" cannot mean "larger". It
//! means: a node's generation changes only to a generation some leader
//! started a recovery to (seen as a `Recover` on the network), never back
//! to 1 (INVALID) once a recovery finished, and never back to a generation
//! the node already left — a stale `Recovered` applied late would do that,
//! and databased will use the generation to reject stale record traffic.
//! A restarted node is a new life and starts again at INVALID; a node that
//! becomes inactive (banned, stopped) drops to INVALID by design, as CTDB's
//! do, until a recovery takes it back in.

use std::collections::{BTreeMap, BTreeSet};

use ctdb_clusterd::{node_flags, INVALID_GENERATION};

use super::Invariant;
use crate::lock::Owner;
use crate::Sim;

#[derive(Debug)]
struct Seen {
    current: u32,
    left: BTreeSet<u32>,
}

/// Tracks each node life's generations.
#[derive(Default)]
pub struct GenerationForward {
    seen: BTreeMap<Owner, Seen>,
}

impl Invariant for GenerationForward {
    fn name(&self) -> &'static str {
        "generation_forward"
    }

    fn check(&mut self, sim: &Sim) -> Result<(), String> {
        // Forget lives that ended, so memory stays bounded over restarts.
        self.seen.retain(|o, _| sim.owner(o.node) == Some(*o));
        for (who, core) in sim.live() {
            let g = core.state().generation;
            let seen = self.seen.entry(who).or_insert(Seen { current: INVALID_GENERATION, left: BTreeSet::new() });
            if g == seen.current {
                continue;
            }
            let from = seen.current;
            if g == INVALID_GENERATION {
                let own = core.state().nodes.get(who.node as usize).map_or(0, |n| n.flags);
                if own & node_flags::INACTIVE == 0 {
                    return Err(format!("node {} went back from generation {from} to INVALID", who.node));
                }
                seen.left.insert(from);
                seen.current = g;
                continue;
            }
            if !sim.issued_generations().contains(&g) {
                return Err(format!("node {} adopted generation {g}, which no recovery started", who.node));
            }
            if seen.left.contains(&g) {
                return Err(format!(
                    "node {} went back from generation {from} to its earlier generation {g}",
                    who.node
                ));
            }
            seen.left.insert(from);
            seen.current = g;
        }
        Ok(())
    }
}
