//! What "the cluster has recovered" means, checked at the end of the
//! liveness phase (faults off, everything repaired and restarted).

use ctdb_clusterd::{node_flags, INVALID_GENERATION};

use crate::Sim;

/// Every node is up and agrees on one leader (which acts as leader and,
/// with a lock, holds it), one valid generation and vnnmap, normal mode,
/// and sees every other node connected. `Err` says what is still off.
pub fn converged(sim: &Sim) -> Result<(), String> {
    let live: Vec<_> = sim.live().collect();
    if live.len() != sim.n() {
        return Err(format!("only {} of {} nodes are up", live.len(), sim.n()));
    }
    let Some((_, first)) = live.first() else { return Ok(()) };
    let first = first.state();
    let Some(leader) = first.leader else { return Err(format!("node {} knows no leader", first.pnn)) };
    for (who, core) in &live {
        let st = core.state();
        let x = who.node;
        if st.leader != Some(leader) {
            return Err(format!("node {x} follows {:?}, node {} follows {leader}", st.leader, first.pnn));
        }
        if st.generation == INVALID_GENERATION {
            return Err(format!("node {x} has generation INVALID"));
        }
        if st.generation != first.generation || st.vnnmap != first.vnnmap {
            return Err(format!(
                "node {x} is at generation {} {:?}, node {} at {} {:?}",
                st.generation, st.vnnmap, first.pnn, first.generation, first.vnnmap
            ));
        }
        if st.recmode != 0 {
            return Err(format!("node {x} is in recovery mode {}", st.recmode));
        }
        if let Some(n) = st.nodes.iter().find(|n| n.flags & node_flags::DISCONNECTED != 0) {
            return Err(format!("node {x} sees node {} disconnected", n.pnn));
        }
    }
    let Some(lc) = sim.core(leader) else { return Err(format!("leader {leader} is down")) };
    if !lc.is_leader() {
        return Err(format!("every node follows {leader}, which does not act as leader"));
    }
    if sim.with_lock() && sim.lock_holder() != sim.owner(leader) {
        return Err(format!("leader {leader} does not hold the lock (holder {:?})", sim.lock_holder()));
    }
    Ok(())
}
