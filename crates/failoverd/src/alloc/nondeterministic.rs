//! The non-deterministic algorithm (`IPAllocAlgorithm = 1`).
//!
//! "Non-deterministic" because the result depends on where addresses were
//! before, not only on which nodes are up; for a given input it is as
//! deterministic as the others.
//!
//! 1. Addresses whose holder can no longer host them become unassigned.
//! 2. Each unassigned address, in CTDB's order, goes to the node that holds
//!    the fewest addresses among those that may take it over (lowest PNN on
//!    a tie).
//! 3. Unless `NoIPFailback` is set, counts are evened out: walking the
//!    assigned addresses in order, look at the nodes that may take the
//!    address over; if the most loaded of them (first such node on a tie)
//!    holds at least two more than the least loaded (likewise), the first
//!    address of the most loaded node is given to the least loaded node that
//!    may take *it*, and the walk starts again. CTDB bounds this at
//!    `addresses + 5` moves.

use super::common::Layout;
use super::{AllocOptions, Pnn};

pub(super) fn allocate(layout: &mut Layout, options: &AllocOptions) {
    layout.unassign_unsuitable();
    layout.assign_unassigned_to_least_loaded();
    if options.no_ip_failback {
        return;
    }
    even_out(layout);
}

/// Step 3: CTDB's `basic_failback`.
fn even_out(layout: &mut Layout) {
    let max_moves = layout.len() + 5;
    for _ in 0..max_moves {
        if !move_one(layout) {
            return;
        }
    }
}

/// Finds the first address whose candidate nodes differ by two or more in
/// count and moves one address off the most loaded of them. A "move" may
/// leave the address where it was (its node may still be the least loaded
/// that can take it); CTDB counts it all the same.
fn move_one(layout: &mut Layout) -> bool {
    for ip in 0..layout.len() {
        if layout.holder(ip).is_none() {
            continue;
        }
        let candidates = || layout.nodes().filter(|&pnn| layout.can_take_over(pnn, ip));
        // The first node with the highest count.
        let most = candidates().fold(None, |best: Option<(Pnn, usize)>, pnn| {
            let count = layout.coverage(pnn);
            match best {
                Some((_, max)) if count <= max => best,
                _ => Some((pnn, count)),
            }
        });
        let least = candidates().map(|pnn| layout.coverage(pnn)).min();
        let (Some((most_loaded, max)), Some(min)) = (most, least) else {
            continue;
        };
        if max > min + 1 {
            // `max >= 2`, so the most loaded node holds an address.
            let victim = layout.held_by(most_loaded).next();
            if let Some(victim) = victim {
                layout.assign_to_least_loaded(victim);
                return true;
            }
        }
    }
    false
}
