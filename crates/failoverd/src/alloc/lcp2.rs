//! LCP2, the default algorithm (`IPAllocAlgorithm = 2`).
//!
//! LCP2 spreads addresses so that addresses sharing a long prefix (the same
//! subnet) end up on different nodes, and it moves as few addresses as
//! possible.
//!
//! # The metric
//!
//! The *distance* between two addresses ([`ip_distance`]) is their common
//! prefix length as CTDB computes it: over Samba's four 32-bit key words
//! (IPv4 in the last word), each word whose XOR is zero adds 32 and any other
//! word adds the leading zeros of its XOR. Note that the count does not stop
//! at the first differing word, so it is only the true prefix length when
//! the addresses differ in the last word only (always the case for two IPv4
//! addresses: `96 +` the prefix of the 32-bit addresses).
//!
//! A node's *imbalance* is the sum of the squared distances over every pair
//! of addresses it holds; the *cost* of an address on a node is the sum of
//! its squared distances to the addresses the node holds (other than
//! itself).
//!
//! # The steps
//!
//! 1. Addresses whose holder can no longer host them become unassigned.
//! 2. The *rebalance candidates* are the nodes that now hold no address
//!    (they must have just become healthy: CTDB keeps no state between
//!    takeover runs), plus the force-rebalance nodes.
//! 3. While addresses are unassigned: over every unassigned address (in
//!    CTDB's order) and every node that may take it over (lowest PNN first),
//!    pick the pair with the lowest cost, the first one found on a tie, and
//!    assign it. Stop when no pair is left.
//! 4. Unless `NoIPFailback` is set or there is no rebalance candidate: sort
//!    the nodes by imbalance, highest first (ties in PNN order: CTDB's
//!    `qsort` is glibc's merge sort, which is stable). For the first node
//!    with a non-zero imbalance that has a useful move, make it, then sort
//!    again; stop when no node has one. A move takes one of the source's
//!    addresses to a rebalance candidate that may take it over, and is
//!    useful if the candidate's new imbalance stays below the source's old
//!    imbalance and the address costs less on the candidate than on the
//!    source. Of the useful moves the one with the smallest sum of the two
//!    nodes' new imbalances is made, the first found (addresses in order,
//!    then nodes by PNN) on a tie.
//!
//! Step 4 only moves addresses *onto* the candidates, so a cluster whose
//! nodes all hold addresses is never rebalanced, however uneven, unless
//! nodes are forced.
//!
//! # Arithmetic
//!
//! CTDB sums in 32 bits, which wraps once a node holds several hundred
//! addresses; this module sums in 64 bits. The results are the same
//! wherever CTDB's sums do not wrap.

use std::cmp::Reverse;
use std::net::IpAddr;

use super::common::{ip_key, Layout};
use super::{AllocOptions, Pnn};

/// CTDB's LCP2 distance between two addresses (see the module docs): the
/// sum over the four 32-bit words of Samba's address key of 32 for equal
/// words and the leading zeros of the XOR otherwise.
pub fn ip_distance(a: IpAddr, b: IpAddr) -> u32 {
    key_distance(ip_key(a), ip_key(b))
}

fn key_distance(a: u128, b: u128) -> u32 {
    let x = a ^ b;
    (0..4).map(|word| (x >> (96 - 32 * word)) as u32).map(u32::leading_zeros).sum()
}

pub(super) fn allocate(layout: &mut Layout, options: &AllocOptions) {
    layout.unassign_unsuitable();
    let mut state = Lcp2::new(layout, options);
    state.assign_unassigned(layout);
    if options.no_ip_failback || !state.candidates.iter().any(|&c| c) {
        return;
    }
    state.rebalance(layout);
}

/// The per-node bookkeeping of one LCP2 run.
struct Lcp2 {
    /// Each node's imbalance, kept up to date as addresses move.
    imbalance: Vec<u64>,
    /// The nodes that may receive addresses in the rebalancing step.
    candidates: Vec<bool>,
}

impl Lcp2 {
    /// Step 2, and the imbalances of the layout left by step 1.
    fn new(layout: &Layout, options: &AllocOptions) -> Self {
        let imbalance = layout
            .nodes()
            .map(|pnn| {
                let held: Vec<usize> = layout.held_by(pnn).collect();
                let pairs = held.iter().enumerate().flat_map(|(n, &a)| held[n + 1..].iter().map(move |&b| (a, b)));
                pairs.map(|(a, b)| squared_distance(layout, a, b)).sum()
            })
            .collect();
        let mut candidates: Vec<bool> = layout.nodes().map(|pnn| layout.coverage(pnn) == 0).collect();
        for &pnn in &options.force_rebalance_nodes {
            if let Some(candidate) = candidates.get_mut(pnn as usize) {
                *candidate = true;
            }
        }
        Self { imbalance, candidates }
    }

    /// Step 3: repeatedly assign the cheapest (unassigned address, node)
    /// pair.
    fn assign_unassigned(&mut self, layout: &mut Layout) {
        // cost[ip][pnn] for the unassigned addresses, updated as addresses
        // land, instead of being summed afresh in every round.
        let nodes = layout.num_nodes() as usize;
        let mut cost = vec![0u64; layout.len() * nodes];
        for ip in layout.unassigned() {
            for pnn in layout.nodes() {
                cost[ip * nodes + pnn as usize] = node_cost(layout, ip, pnn);
            }
        }
        loop {
            let mut best: Option<(usize, Pnn, u64)> = None;
            for ip in layout.unassigned() {
                for pnn in layout.nodes().filter(|&pnn| layout.can_take_over(pnn, ip)) {
                    let c = cost[ip * nodes + pnn as usize];
                    // Strictly cheaper: the first pair found wins a tie.
                    let cheaper = match best {
                        None => true,
                        Some((_, _, min)) => c < min,
                    };
                    if cheaper {
                        best = Some((ip, pnn, c));
                    }
                }
            }
            let Some((ip, pnn, c)) = best else {
                return;
            };
            layout.set_holder(ip, Some(pnn));
            self.imbalance[pnn as usize] += c;
            let unassigned: Vec<usize> = layout.unassigned().collect();
            for other in unassigned {
                cost[other * nodes + pnn as usize] += squared_distance(layout, other, ip);
            }
        }
    }

    /// Step 4: move addresses onto the candidates while that helps.
    fn rebalance(&mut self, layout: &mut Layout) {
        loop {
            let mut by_imbalance: Vec<(Pnn, u64)> =
                layout.nodes().map(|pnn| (pnn, self.imbalance[pnn as usize])).collect();
            // Stable: equal imbalances stay in PNN order.
            by_imbalance.sort_by_key(|&(_, imbalance)| Reverse(imbalance));
            // A node with no imbalance holds at most one address: nothing
            // after it in the order can be improved either.
            let moved = by_imbalance
                .into_iter()
                .take_while(|&(_, imbalance)| imbalance != 0)
                .any(|(source, _)| self.move_one_from(layout, source));
            if !moved {
                return;
            }
        }
    }

    /// Makes the best useful move of an address off `source`, if there is
    /// one (CTDB's `lcp2_failback_candidate`).
    fn move_one_from(&mut self, layout: &mut Layout, source: Pnn) -> bool {
        struct Move {
            ip: usize,
            target: Pnn,
            source_imbalance: u64,
            target_imbalance: u64,
        }
        let source_before = self.imbalance[source as usize];
        let mut best: Option<Move> = None;
        let held: Vec<usize> = layout.held_by(source).collect();
        for ip in held {
            let source_cost = node_cost(layout, ip, source);
            let source_imbalance = source_before - source_cost;
            for target in layout.nodes() {
                if !self.candidates[target as usize] || !layout.can_take_over(target, ip) {
                    continue;
                }
                let target_cost = node_cost(layout, ip, target);
                let target_imbalance = self.imbalance[target as usize] + target_cost;
                let useful = target_imbalance < source_before && target_cost < source_cost;
                // Strictly better: the first move found wins a tie.
                let better = match &best {
                    None => true,
                    Some(m) => source_imbalance + target_imbalance < m.source_imbalance + m.target_imbalance,
                };
                if useful && better {
                    best = Some(Move { ip, target, source_imbalance, target_imbalance });
                }
            }
        }
        let Some(m) = best else {
            return false;
        };
        self.imbalance[source as usize] = m.source_imbalance;
        self.imbalance[m.target as usize] = m.target_imbalance;
        layout.set_holder(m.ip, Some(m.target));
        true
    }
}

fn squared_distance(layout: &Layout, a: usize, b: usize) -> u64 {
    u64::from(key_distance(layout.key(a), layout.key(b))).pow(2)
}

/// The cost of address `ip` on `pnn`: its squared distances to every other
/// address `pnn` holds (CTDB's `ip_distance_2_sum`).
fn node_cost(layout: &Layout, ip: usize, pnn: Pnn) -> u64 {
    layout.held_by(pnn).filter(|&other| other != ip).map(|other| squared_distance(layout, ip, other)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> u32 {
        ip_distance(a.parse().unwrap(), b.parse().unwrap())
    }

    #[test]
    fn ipv4_distance_is_96_plus_the_common_prefix() {
        assert_eq!(distance("10.0.0.1", "10.0.0.1"), 128);
        // 31 ^ 34 = 0b111101: 26 leading zeros. Samba's takeover_helper/031.sh
        // logs this pair's squared distance: "10.0.0.31 -> 0 [+14884]" = 122².
        assert_eq!(distance("10.0.0.31", "10.0.0.34"), 122);
        assert_eq!(distance("192.168.20.249", "192.168.21.254"), 96 + 23);
        assert_eq!(distance("10.0.0.1", "192.168.0.1"), 96);
    }

    #[test]
    fn ipv6_distance_sums_every_words_leading_zeros() {
        assert_eq!(distance("fd00::1", "fd00::1"), 128);
        assert_eq!(distance("fd00::1", "fd00::2"), 96 + 30);
        // Differ in the first word: 0 there, yet 32 for each equal word after.
        assert_eq!(distance("fd00::1", "fe00::1"), 6 + 32 + 32 + 32);
        // Differ in words 0 and 3: not a prefix length at all.
        assert_eq!(distance("fd00::1", "fe00::2"), 6 + 32 + 32 + 30);
    }

    #[test]
    fn ipv4_and_ipv6_compare_through_the_padded_key() {
        // As words 00000000:0:0:0a000001 and fd000000:0:0:00000001: no
        // leading zero in the first XOR, 32 for each of the two equal words,
        // 4 in the last (0x0a000000).
        assert_eq!(distance("10.0.0.1", "fd00::1"), 32 + 32 + 4);
    }
}
