//! Merging every node's public address lists into one list.
//!
//! No node knows all public addresses (each has its own
//! `public_addresses` file), so the allocation starts from the union of
//! every node's list.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{AllocInput, AllocOptions, NodePublicIps, Pnn, PublicAddress};

impl AllocInput {
    /// Builds the input from every node's GET_PUBLIC_IPS answers, as CTDB's
    /// takeover helper does: `nodes[pnn]` is node `pnn`'s answer, and the
    /// node count is `nodes.len()`.
    ///
    /// The current holder of an address is taken only from the node that
    /// says it holds it itself: what a node believes about the others may be
    /// out of date (a release it has not heard of yet). If several nodes
    /// claim the same address the one with the highest PNN wins, as in CTDB.
    /// An address in some available list but in no known list is ignored.
    pub fn from_node_lists(nodes: &[NodePublicIps], options: AllocOptions) -> Self {
        let mut merged: BTreeMap<IpAddr, PublicAddress> = BTreeMap::new();
        for (pnn, node) in (0..).zip(nodes) {
            for known in &node.known {
                let entry = merged.entry(known.addr).or_insert_with(|| PublicAddress {
                    addr: known.addr,
                    holder: None,
                    known_on: Default::default(),
                    available_on: Default::default(),
                });
                entry.known_on.insert(pnn);
                if known.holder == Some(pnn) {
                    entry.holder = Some(pnn);
                }
            }
        }
        for (pnn, node) in (0..).zip(nodes) {
            for addr in &node.available {
                if let Some(entry) = merged.get_mut(addr) {
                    entry.available_on.insert(pnn);
                    // CTDB counts an available address as known even when
                    // the node's known list (fetched separately) lacks it.
                    entry.known_on.insert(pnn);
                }
            }
        }
        let num_nodes = Pnn::try_from(nodes.len()).unwrap_or(Pnn::MAX);
        Self { num_nodes, addresses: merged.into_values().collect(), options }
    }
}
