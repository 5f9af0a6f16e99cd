//! ctdb-sim: N clusterd cores in one process on a simulated network, with
//! faults, invariants checked after every step, and replay from a seed.
//! Dev only (not published, not part of the daemon).
//!
//! One seed, one virtual clock, one thread. The cores are the real
//! [`ctdb_clusterd::Clusterd`] sans-IO state machines; everything around
//! them is simulated:
//!
//! ```text
//!             dispatch / handle_timeout / lock_reply / lock_lost
//!   ┌──────────────┐   ┌──────────────┐        ┌──────────────┐
//!   │ Clusterd n0  │   │ Clusterd n1  │  ...   │ Clusterd nN  │
//!   └──────┬───────┘   └──────┬───────┘        └──────┬───────┘
//!          │ poll_output      │ poll_lock             │
//!   ┌──────▼──────────────────▼───────────────────────▼───────┐
//!   │ Net (net.rs): transports + wires, sans-IO               │
//!   │ ClusterLock (lock.rs): one exclusive lock + helpers     │
//!   └─────────────────────────────────────────────────────────┘
//!   Sim::step: the earliest of net item, lock answer, core timer
//!   (ties: net, lock, timers by pnn) → one input → drain → check
//! ```
//!
//! **Inputs the cores get**: packets from other clusterds (over a live
//! link: 0.1–20 ms, in order per direction, like TCP), `PeerUp` /
//! `PeerDown` from their transport (down at once when a peer crashes;
//! 1.5–2.5 s after a partition, the keepalive limit; up 0.3–0.7 s after a
//! repair or restart), lock answers (`Held` if the single lock is free,
//! else `Contended`, 1–50 ms after `Take`), and their timers. Packets for
//! local services (gateway, transport) are counted and dropped.
//!
//! **Fault verbs** ([`Sim`]): [`Sim::partition`] (groups; packets on a cut
//! link wait, as TCP retransmits, until repair or until keepalives declare
//! the link dead, when they are lost), [`Sim::repair`], [`Sim::hold`] /
//! [`Sim::release`] (one link: partial, non-transitive partitions),
//! [`Sim::drop_packets`] (lose packets on the wire and the next few), [`Sim::crash`] (core
//! dropped, its lock freed, links down at once), [`Sim::restart`] (a fresh
//! core, new seed), [`Sim::lose_lock`] (lock file removed under the
//! holder), and the administrator's [`Sim::set_stopped`] and [`Sim::ban`].
//! [`Sim::run_random_schedule`] picks them at random.
//!
//! **Invariants** ([`invariants`], one file each, checked after every step
//! and every fault): with a cluster lock, never two live leaders
//! (`single_leader`) and a leader always holds the lock
//! (`leader_holds_lock`); generations only move forward per node
//! (`generation_forward`); normal mode implies a valid generation
//! (`normal_mode_has_generation`). Then the **liveness phase**
//! ([`Sim::run_liveness`]): faults off, everything repaired, restarted,
//! continued and unbanned, and after 30 virtual seconds every node must agree on one leader, one
//! generation ≠ INVALID, normal mode ([`liveness::converged`]).
//!
//! **Replay**: a failing schedule prints its seed and the exact command,
//! e.g. `CTDB_SIM_SEED=123 CTDB_SIM_LOCK=1 CTDB_SIM_DROPS=0 cargo test -p
//! ctdb-sim --test schedules replay -- --nocapture`, which runs that seed
//! alone and prints its trace. Determinism holds for one build: the seed
//! drives `rand`'s `StdRng`, whose stream may change with a new `rand`
//! version (Cargo.lock pins it).
//!
//! ```
//! let mut sim = ctdb_sim::Sim::new(7, 3, true);
//! sim.run_for(std::time::Duration::from_secs(10)).unwrap();
//! sim.crash(0).unwrap();
//! ```

pub mod invariants;
pub mod liveness;
pub mod lock;
pub mod net;
mod schedule;
mod sim;
mod trace;

pub use schedule::{
    nodes_for_seed, run_schedule, run_schedule_traced, schedule_seed, Failure, FaultMix, Outcome, Schedule,
};
pub use sim::{FaultStats, Sim, SimConfig, Violation};
