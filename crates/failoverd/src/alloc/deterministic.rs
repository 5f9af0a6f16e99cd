//! The deterministic algorithm (`IPAllocAlgorithm = 0`).
//!
//! Each address has a home node: the `i`-th address in CTDB's order (see
//! the [module docs](super)) lives on node `i % nodes`, unless
//! [`home_nodes`](super::AllocOptions::home_nodes) names another. The
//! current holders are ignored: every address starts on its home node, then
//! those whose home cannot host them go, in order, to the least loaded node
//! that may take them over (lowest PNN on a tie).
//!
//! So the layout depends only on which nodes can host which addresses, and
//! an address always returns to its home node once that node is back:
//! failback is built in and `NoIPFailback` has no effect (CTDB warns that
//! the two are incompatible).

use super::common::Layout;
use super::{AllocOptions, Pnn};

pub(super) fn allocate(layout: &mut Layout, options: &AllocOptions) {
    let num_nodes = layout.num_nodes();
    if num_nodes == 0 {
        // No node, no home (CTDB never runs with an empty nodes file).
        return;
    }
    for ip in 0..layout.len() {
        let round_robin = Pnn::try_from(ip % num_nodes as usize).unwrap_or(0);
        let home =
            options.home_nodes.get(&layout.addr(ip)).copied().filter(|&pnn| pnn < num_nodes).unwrap_or(round_robin);
        layout.set_holder(ip, Some(home));
    }
    layout.unassign_unsuitable();
    layout.assign_unassigned_to_least_loaded();
}
