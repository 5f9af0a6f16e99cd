//! failoverd: CTDB's public-IP failover service.
//!
//! A CTDB cluster serves a set of *public addresses*; every address is held
//! by at most one node at a time, and when a node fails, is stopped, banned
//! or disabled, its addresses move to the nodes that remain. Deciding who
//! holds what is the *allocation*; applying it (releasing and taking
//! addresses, gratuitous ARP, tickle ACKs) is the *takeover run*.
//!
//! This crate so far holds only the allocation core, [`alloc`]: pure
//! functions with no I/O, no clock and no randomness, which give for the same
//! input the same answer as Samba CTDB 4.17's `ipalloc()` (the three
//! algorithms behind the `IPAllocAlgorithm` tunable, with `NoIPTakeover`,
//! `NoIPFailback` and the takeover helper's force-rebalance list).
//!
//! ```text
//!  per-node lists (GET_PUBLIC_IPS,           AllocInput ──allocate()──► Allocation
//!  known and available-only) ──from_node_lists──►   │                    (address → new holder)
//!  tunables ──────────────────────────────────────► AllocOptions
//! ```
//!
//! Around it, [`core`]: the service's sans-IO core (this node's addresses
//! and interfaces, the public-address controls in [`controls`], takeover
//! runs led by the leader with takeip/releaseip/ipreallocated through
//! eventd), and [`shell`]. Still to come: gratuitous ARP, tickles,
//! connection tracking, address checks, fast failure detection.

pub mod alloc;
mod controls;
pub mod core;
pub mod garp;
pub mod shell;
pub mod tickle;

pub use crate::core::{Address, Failoverd, FailoverdConfig};
pub use shell::FailoverdService;
