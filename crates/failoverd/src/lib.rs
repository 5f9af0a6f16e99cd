//! failoverd: CTDB's public-IP failover service.
//!
//! A CTDB cluster serves a set of *public addresses*; every address is held
//! by at most one node at a time, and when a node fails, is stopped, banned
//! or disabled, its addresses move to the nodes that remain. Deciding who
//! holds what is the *allocation*; applying it (releasing and taking
//! addresses, gratuitous ARP, tickle ACKs) is the *takeover run*.
//!
//! At its heart is the allocation core, [`alloc`]: pure functions with no I/O, no clock and no randomness, which give for the same
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
//! and interfaces, the public-address controls in `controls`, takeover
//! runs led by the leader with takeip/releaseip/ipreallocated through
//! eventd, gratuitous ARP and tickle ACKs after a takeip, connection
//! tracking), with the features around the runs each in a module of its
//! own: `moveip` (RELEASE_IP / TAKEOVER_IP, and the RELEASE_IP / TAKE_IP
//! messages to local clients), `pause` (DISABLE_TAKEOVER_RUNS,
//! DISABLE_IP_CHECK, REBALANCE_NODE), `reload` (RELOAD_PUBLIC_IPS),
//! `gratarp` (SEND_GRATUITOUS_ARP), `release_all` (a stopped or banned
//! node, or one too long in recovery, lets everything go) and `ipcheck`
//! (what is hosted against what is on the interfaces). [`shell`] does the
//! I/O: [`garp`] (gratuitous ARP, IPv6 unsolicited neighbour
//! advertisements), [`tickle`] (IPv4 and IPv6 tickle ACKs), [`host_addrs`],
//! reading `public_addresses`.

pub mod alloc;
mod controls;
pub mod core;
pub mod garp;
mod gratarp;
pub mod host_addrs;
mod ipcheck;
mod moveip;
mod pause;
mod release_all;
mod reload;
pub mod shell;
#[cfg(test)]
mod tests;
pub mod tickle;

pub use crate::core::{Address, Failoverd, FailoverdConfig};
pub use shell::FailoverdService;
