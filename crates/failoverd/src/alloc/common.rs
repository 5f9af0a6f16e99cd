//! The working state shared by the three algorithms: the addresses in
//! CTDB's order, who may host what, who holds what, and the steps more than
//! one algorithm uses.

use std::net::IpAddr;
use std::ops::Range;

use super::{AllocInput, Allocation, Assignment, Pnn};

/// The addresses in CTDB's order with their current holders.
pub(crate) struct Layout {
    num_nodes: Pnn,
    addrs: Vec<IpAddr>,
    keys: Vec<u128>,
    /// `available[i * num_nodes + pnn]`: node `pnn` can host address `i`.
    available: Vec<bool>,
    holders: Vec<Option<Pnn>>,
    /// How many addresses each node holds, kept in step with `holders`.
    counts: Vec<usize>,
    no_ip_takeover: bool,
}

/// Samba's key for an address: four 32-bit words, compared as one number.
/// An IPv4 address fills only the last word, so it sorts like the
/// IPv4-compatible IPv6 address `::a.b.c.d`.
pub(crate) fn ip_key(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl Layout {
    /// Sorts and merges the input's addresses into CTDB's order: largest key
    /// first. (CTDB builds the list by walking a tree of keys in ascending
    /// order and pushing each onto the front of a list.)
    pub(crate) fn new(input: &AllocInput) -> Self {
        let num_nodes = input.num_nodes;
        let in_range = |pnn: Pnn| pnn < num_nodes;

        let mut order: Vec<usize> = (0..input.addresses.len()).collect();
        // Stable, so that duplicates stay in input order and the later
        // holder wins below. An IPv4 address and `::a.b.c.d` share a key
        // (CTDB would even merge them); here they stay apart, IPv6 first.
        order.sort_by(|&a, &b| {
            let (a, b) = (input.addresses[a].addr, input.addresses[b].addr);
            ip_key(b).cmp(&ip_key(a)).then(a.is_ipv4().cmp(&b.is_ipv4()))
        });

        let mut layout = Self {
            num_nodes,
            addrs: Vec::new(),
            keys: Vec::new(),
            available: Vec::new(),
            holders: Vec::new(),
            counts: vec![0; num_nodes as usize],
            no_ip_takeover: input.options.no_ip_takeover,
        };
        for index in order {
            let address = &input.addresses[index];
            if layout.addrs.last() != Some(&address.addr) {
                layout.addrs.push(address.addr);
                layout.keys.push(ip_key(address.addr));
                layout.available.extend((0..num_nodes).map(|_| false));
                layout.holders.push(None);
            }
            let i = layout.addrs.len() - 1;
            for &pnn in address.available_on.iter().filter(|&&pnn| in_range(pnn)) {
                layout.available[i * num_nodes as usize + pnn as usize] = true;
            }
            if let Some(holder) = address.holder.filter(|&pnn| in_range(pnn)) {
                layout.set_holder(i, Some(holder));
            }
        }
        layout
    }

    /// The number of addresses.
    pub(crate) fn len(&self) -> usize {
        self.addrs.len()
    }

    /// All PNNs, lowest first.
    pub(crate) fn nodes(&self) -> Range<Pnn> {
        0..self.num_nodes
    }

    pub(crate) fn num_nodes(&self) -> Pnn {
        self.num_nodes
    }

    pub(crate) fn addr(&self, ip: usize) -> IpAddr {
        self.addrs[ip]
    }

    pub(crate) fn key(&self, ip: usize) -> u128 {
        self.keys[ip]
    }

    pub(crate) fn holder(&self, ip: usize) -> Option<Pnn> {
        self.holders[ip]
    }

    /// The indexes of the addresses `pnn` holds, in CTDB's order.
    pub(crate) fn held_by(&self, pnn: Pnn) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(move |&ip| self.holders[ip] == Some(pnn))
    }

    /// The indexes of the unassigned addresses, in CTDB's order.
    pub(crate) fn unassigned(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(move |&ip| self.holders[ip].is_none())
    }

    pub(crate) fn set_holder(&mut self, ip: usize, holder: Option<Pnn>) {
        if let Some(old) = self.holders[ip] {
            self.counts[old as usize] -= 1;
        }
        if let Some(new) = holder {
            self.counts[new as usize] += 1;
        }
        self.holders[ip] = holder;
    }

    /// How many addresses `pnn` holds (CTDB's `node_ip_coverage`).
    pub(crate) fn coverage(&self, pnn: Pnn) -> usize {
        self.counts[pnn as usize]
    }

    /// Whether `pnn` listed the address as available.
    pub(crate) fn can_host(&self, pnn: Pnn, ip: usize) -> bool {
        self.available[ip * self.num_nodes as usize + pnn as usize]
    }

    /// Whether `pnn` may gain the address: it can host it and
    /// `NoIPTakeover` is off.
    pub(crate) fn can_take_over(&self, pnn: Pnn, ip: usize) -> bool {
        !self.no_ip_takeover && self.can_host(pnn, ip)
    }

    /// Drops every address from a holder that can no longer host it
    /// (failed, disabled, stopped, no interface up, address removed).
    pub(crate) fn unassign_unsuitable(&mut self) {
        for ip in 0..self.len() {
            if let Some(holder) = self.holders[ip] {
                if !self.can_host(holder, ip) {
                    self.set_holder(ip, None);
                }
            }
        }
    }

    /// Gives the address to the node holding the fewest addresses among
    /// those that may take it over, the lowest PNN on a tie (CTDB's
    /// `find_takeover_node`). Returns false, changing nothing, if no node
    /// may take it.
    pub(crate) fn assign_to_least_loaded(&mut self, ip: usize) -> bool {
        let best = self.nodes().filter(|&pnn| self.can_take_over(pnn, ip)).min_by_key(|&pnn| self.coverage(pnn));
        match best {
            Some(pnn) => {
                self.set_holder(ip, Some(pnn));
                true
            }
            None => false,
        }
    }

    /// Gives every unassigned address, in order, to the least loaded node
    /// that may take it (CTDB's `basic_allocate_unassigned`).
    pub(crate) fn assign_unassigned_to_least_loaded(&mut self) {
        for ip in 0..self.len() {
            if self.holders[ip].is_none() {
                self.assign_to_least_loaded(ip);
            }
        }
    }

    pub(crate) fn into_allocation(self) -> Allocation {
        let assignments =
            self.addrs.into_iter().zip(self.holders).map(|(addr, holder)| Assignment { addr, holder }).collect();
        Allocation { assignments }
    }
}
