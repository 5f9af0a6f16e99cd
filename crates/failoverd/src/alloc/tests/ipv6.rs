//! IPv6 and mixed IPv4/IPv6 cases. Samba's test suite has none, so these
//! results were produced by Samba 4.17's own `ipalloc()` (its C sources and
//! test driver built outside Samba) for the inputs in `testdata/ipv6/`.

use super::case;

#[test]
fn lcp2_ipv6_new_nodes_spread_each_prefix() {
    case!("ipv6/lcp2.ipv6.001");
}

#[test]
fn lcp2_ipv6_a_failed_nodes_addresses_spread_over_the_survivors() {
    case!("ipv6/lcp2.ipv6.002");
}

#[test]
fn lcp2_ipv6_a_recovered_node_gets_addresses_back() {
    case!("ipv6/lcp2.ipv6.003");
}

#[test]
fn lcp2_ipv6_distance_counts_every_word_not_just_the_prefix() {
    case!("ipv6/lcp2.ipv6.004");
}

#[test]
fn lcp2_ipv6_no_ip_failback_only_fills_in_unassigned_addresses() {
    case!("ipv6/lcp2.ipv6.005");
}

#[test]
fn lcp2_mixed_families_ipv6_comes_first_in_the_order() {
    case!("ipv6/lcp2.mixed.001");
}

#[test]
fn lcp2_mixed_families_a_stopped_nodes_addresses_move() {
    case!("ipv6/lcp2.mixed.002");
}

#[test]
fn nondet_mixed_families_a_failed_nodes_addresses_go_by_count() {
    case!("ipv6/nondet.ipv6.001");
}

#[test]
fn det_mixed_families_round_robin_follows_the_order() {
    case!("ipv6/det.mixed.001");
}

#[test]
fn det_mixed_families_a_banned_nodes_homes_go_to_the_least_loaded() {
    case!("ipv6/det.mixed.002");
}

#[test]
fn lcp2_balances_prefix_distance_not_counts_for_widely_spread_addresses() {
    case!("ipv6/lcp2.spread.001");
}
