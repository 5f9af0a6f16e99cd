//! Public address allocation: which node should hold each public address.
//!
//! This is CTDB's `ipalloc()`, rewritten from the behaviour of Samba CTDB
//! 4.17 and pinned by Samba's own takeover unit tests (see `tests/`). It is
//! pure: no I/O, no clock, no randomness, and the same input always gives
//! the same [`Allocation`].
//!
//! # Inputs
//!
//! The takeover run (run by the leader) asks every connected node for the
//! public addresses it is configured with — its *known* list, each with the
//! holder that node believes in — and every active node that has any for the
//! subset it can host right now — its *available* list. A node answers
//! "available" only while it is in runstate RUNNING, neither INACTIVE
//! (disconnected, banned, stopped, deleted) nor DISABLED (unhealthy or
//! administratively disabled), and has a link up on one of the address's
//! interfaces. [`AllocInput::from_node_lists`] merges those per-node lists
//! into one list of [`PublicAddress`]es exactly as Samba does; an
//! [`AllocInput`] can also be built directly.
//!
//! Whether a node may *host* an address is just "is it in that node's
//! available list". A node may *take over* an address if it may host it and
//! the `NoIPTakeover` tunable is off.
//!
//! # The address order
//!
//! Every algorithm walks the addresses in one fixed order, and ties are
//! broken by it: Samba keys each address as four 32-bit words (an IPv4
//! address is the last word, the first three are zero; an IPv6 address is
//! its four words) and walks them from the largest key to the smallest. So
//! IPv6 addresses (other than `::a.b.c.d`) come first, then IPv4 addresses,
//! each from high to low. [`Allocation`] lists the addresses in that order.
//! Nodes are always tried from the lowest PNN up.
//!
//! # Algorithms
//!
//! * [`Algorithm::Lcp2`] (the default, see [`lcp2`]): keep addresses where
//!   they are, give unassigned ones to the node where they add least to the
//!   "longest common prefix" imbalance, then move addresses onto nodes that
//!   just became able to host until no move improves the imbalance.
//! * [`Algorithm::NonDeterministic`] (see [`nondeterministic`]): keep
//!   addresses where they are, give unassigned ones to the least loaded
//!   node, then even out the counts.
//! * [`Algorithm::Deterministic`] (see [`deterministic`]): the `i`-th
//!   address goes to node `i % nodes` when that node can host it, otherwise
//!   to the least loaded node that can.
//!
//! # Tunables that are not here
//!
//! `NoIPHostOnAllDisabled` is obsolete since Samba 4.9: a disabled node
//! never answers with available addresses, so when every node is unhealthy
//! no address is hosted. CTDB 4.17 accepts the tunable and ignores it, and
//! so does this crate.

mod common;
pub mod deterministic;
pub mod lcp2;
mod merge;
pub mod nondeterministic;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use common::Layout;

/// A node's number in the cluster (CTDB's PNN), an index into the nodes file.
pub type Pnn = u32;

/// The allocation algorithm, CTDB's `IPAllocAlgorithm` tunable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `IPAllocAlgorithm = 0`: addresses go round-robin over the nodes.
    Deterministic,
    /// `IPAllocAlgorithm = 1`: least loaded node, then even out the counts.
    NonDeterministic,
    /// `IPAllocAlgorithm = 2` (the default): LCP2.
    #[default]
    Lcp2,
}

impl Algorithm {
    /// The algorithm a value of the `IPAllocAlgorithm` tunable selects.
    ///
    /// Like CTDB, any value other than 0 and 1 selects LCP2.
    pub fn from_tunable(value: u32) -> Self {
        match value {
            0 => Self::Deterministic,
            1 => Self::NonDeterministic,
            _ => Self::Lcp2,
        }
    }

    /// The `IPAllocAlgorithm` value that selects this algorithm.
    pub fn tunable(self) -> u32 {
        match self {
            Self::Deterministic => 0,
            Self::NonDeterministic => 1,
            Self::Lcp2 => 2,
        }
    }
}

/// The tunables and requests that steer an allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocOptions {
    /// `IPAllocAlgorithm`.
    pub algorithm: Algorithm,
    /// `NoIPTakeover`: no node gains an address; addresses whose holder can
    /// no longer host them become unassigned. The deterministic algorithm
    /// still puts every address on its home node when that node can host
    /// it: CTDB applies the tunable only when looking for another node.
    pub no_ip_takeover: bool,
    /// `NoIPFailback`: no rebalancing step, so addresses stay where they are
    /// unless their holder cannot host them. Ignored by the deterministic
    /// algorithm, which always puts addresses back on their home node.
    pub no_ip_failback: bool,
    /// Nodes that LCP2 may move addresses onto even though they already
    /// hold some (the takeover helper's optional node list, sent after
    /// `ctdb reloadips` or a `ctdb ipreallocate` following `addip`).
    /// PNNs that are not below the node count are ignored, as in CTDB.
    pub force_rebalance_nodes: Vec<Pnn>,
    /// The deterministic algorithm's explicit home nodes, which override
    /// the round-robin home `i % nodes`. Samba reads them from
    /// `$CTDB_BASE/home_nodes` since 4.19; empty (the 4.17 behaviour)
    /// unless the caller fills it. Entries for a PNN that is not below the
    /// node count are ignored, as in CTDB.
    pub home_nodes: BTreeMap<IpAddr, Pnn>,
}

/// One public address, as the merged list of all nodes' lists knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicAddress {
    /// The address.
    pub addr: IpAddr,
    /// The node that holds it now, if any.
    pub holder: Option<Pnn>,
    /// The nodes whose public address list contains it (allocation does
    /// not look at this; the takeover run uses it to send releases).
    pub known_on: BTreeSet<Pnn>,
    /// The nodes that can host it now.
    pub available_on: BTreeSet<Pnn>,
}

/// Everything an allocation depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocInput {
    /// The number of nodes in the nodes file (PNNs are `0..num_nodes`).
    /// PNNs at or above it in `addresses` are ignored.
    pub num_nodes: u32,
    /// The public addresses, in any order. An address listed twice is
    /// merged: the nodes are united and the later holder wins.
    pub addresses: Vec<PublicAddress>,
    /// Tunables.
    pub options: AllocOptions,
}

/// One node's answer to GET_PUBLIC_IPS, the input of
/// [`AllocInput::from_node_lists`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodePublicIps {
    /// Every public address the node is configured with, each with the
    /// holder this node believes in. Empty for a node that was not asked
    /// (disconnected).
    pub known: Vec<KnownAddress>,
    /// The addresses the node can host now (GET_PUBLIC_IPS with the
    /// "available only" flag). Empty for a node that was not asked
    /// (inactive, or without known addresses).
    pub available: Vec<IpAddr>,
}

/// An entry of a node's known list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownAddress {
    /// The address.
    pub addr: IpAddr,
    /// Who the reporting node believes holds it.
    pub holder: Option<Pnn>,
}

/// The result of an allocation: the new holder of every address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// Every address once, in CTDB's order (see the module docs).
    pub assignments: Vec<Assignment>,
}

/// The new holder of one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The address.
    pub addr: IpAddr,
    /// The node that should hold it, or `None` when no node can.
    pub holder: Option<Pnn>,
}

impl Allocation {
    /// The node that should hold `addr`, or `None` if it is unassigned or
    /// not a public address.
    pub fn holder(&self, addr: IpAddr) -> Option<Pnn> {
        self.assignments.iter().find(|a| a.addr == addr).and_then(|a| a.holder)
    }

    /// The addresses no node can host (CTDB warns "Failed to find node to
    /// cover ip" for each).
    pub fn unassigned(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.assignments.iter().filter(|a| a.holder.is_none()).map(|a| a.addr)
    }
}

/// Decides the new holder of every public address.
///
/// Dispatches on [`AllocOptions::algorithm`]. Deterministic: the same input
/// gives the same output, and the order of `input.addresses` does not matter.
pub fn allocate(input: &AllocInput) -> Allocation {
    let mut layout = Layout::new(input);
    match input.options.algorithm {
        Algorithm::Lcp2 => lcp2::allocate(&mut layout, &input.options),
        Algorithm::NonDeterministic => nondeterministic::allocate(&mut layout, &input.options),
        Algorithm::Deterministic => deterministic::allocate(&mut layout, &input.options),
    }
    layout.into_allocation()
}

/// Whether a takeover run is worth doing at all: some node holds a public
/// address, or some node can host one.
///
/// CTDB's takeover helper skips the allocation (and goes straight to the
/// `ipreallocated` event) when this is false: then no node has a known
/// address, or none is held and no node can host any yet.
pub fn can_host_ips(nodes: &[NodePublicIps]) -> bool {
    let mut have_ips = false;
    for (pnn, node) in (0..).zip(nodes) {
        if node.known.is_empty() {
            continue;
        }
        have_ips = true;
        // Only a node's word about itself counts: others may be stale.
        if node.known.iter().any(|k| k.holder == Some(pnn)) {
            return true;
        }
    }
    have_ips && nodes.iter().any(|n| !n.available.is_empty())
}
