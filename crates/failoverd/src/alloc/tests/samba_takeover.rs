//! Samba's takeover unit tests (`ctdb/tests/UNIT/takeover/`), one test per
//! script, each named for what it shows. The inputs and required results
//! are in `testdata/takeover/`, one file per script, named like it.
//! (`lcp2.004.sh` and `lcp2.005.sh` repeat `lcp2.003.sh` with more logging
//! and are not repeated here.)

use super::case;

// Deterministic.

#[test]
fn det_two_unhealthy_nodes_leave_every_address_on_the_healthy_one() {
    case!("takeover/det.001"); // det.001.sh: 3 nodes, 1 healthy
}

#[test]
fn det_unhealthy_nodes_addresses_go_to_the_least_loaded_healthy_node() {
    case!("takeover/det.002"); // det.002.sh: 3 nodes, 2 healthy
}

#[test]
fn det_every_address_returns_to_its_round_robin_home() {
    case!("takeover/det.003"); // det.003.sh: 3 nodes, 1 -> all healthy
}

#[test]
fn det_home_nodes_override_the_round_robin_home() {
    case!("takeover/det.004"); // det.004.sh: 3 nodes, all healthy with home_nodes
}

#[test]
fn det_an_unhealthy_home_node_loses_its_addresses_to_the_least_loaded() {
    case!("takeover/det.005"); // det.005.sh: 3 nodes, 2 healthy with home_nodes
}

#[test]
fn det_home_nodes_with_one_healthy_node_put_everything_there() {
    case!("takeover/det.006"); // det.006.sh: 3 nodes, 1 healthy with home_nodes
}

// Non-deterministic.

#[test]
fn nondet_two_unhealthy_nodes_leave_every_address_on_the_healthy_one() {
    case!("takeover/nondet.001"); // nondet.001.sh: 3 nodes, 1 healthy
}

#[test]
fn nondet_an_unhealthy_nodes_addresses_are_spread_by_count() {
    case!("takeover/nondet.002"); // nondet.002.sh: 3 nodes, 2 healthy
}

#[test]
fn nondet_recovered_nodes_get_addresses_back_by_count() {
    case!("takeover/nondet.003"); // nondet.003.sh: 3 nodes, 1 -> all healthy
}

// LCP2: nodes failing and recovering.

#[test]
fn lcp2_two_nodes_fail_and_the_last_healthy_node_takes_everything() {
    case!("takeover/lcp2.001"); // lcp2.001.sh: 3 nodes, 3 -> 1 healthy
}

#[test]
fn lcp2_a_failed_nodes_addresses_spread_over_the_survivors() {
    case!("takeover/lcp2.002"); // lcp2.002.sh: 3 nodes, 3 -> 2 healthy
}

#[test]
fn lcp2_recovered_nodes_get_addresses_back_by_prefix_distance() {
    case!("takeover/lcp2.003"); // lcp2.003.sh: 3 nodes, 1 -> all healthy
}

#[test]
fn lcp2_first_healthy_node_takes_every_unassigned_address() {
    case!("takeover/lcp2.006"); // lcp2.006.sh: 3 nodes, 0 -> 1 healthy
}

#[test]
fn lcp2_two_nodes_become_healthy_and_split_the_addresses() {
    case!("takeover/lcp2.007"); // lcp2.007.sh: 3 nodes, 0 -> 2 healthy
}

#[test]
fn lcp2_all_nodes_become_healthy_and_split_the_addresses() {
    case!("takeover/lcp2.008"); // lcp2.008.sh: 3 nodes, 0 -> all healthy
}

#[test]
fn lcp2_all_nodes_disconnected_leaves_every_address_unassigned() {
    case!("takeover/lcp2.009"); // lcp2.009.sh: 3 nodes, 3 healthy -> all disconnected
}

#[test]
fn lcp2_all_nodes_unhealthy_and_no_address_held_assigns_nothing() {
    case!("takeover/lcp2.014"); // lcp2.014.sh: 3 nodes, no IPs assigned, all unhealthy
}

#[test]
fn lcp2_all_nodes_unhealthy_releases_every_address() {
    // The obsolete NoIPHostOnAllDisabled=0 would have kept them hosted.
    case!("takeover/lcp2.015"); // lcp2.015.sh: 3 nodes, all IPs assigned, all unhealthy
}

#[test]
fn lcp2_the_last_healthy_node_failing_releases_every_address() {
    case!("takeover/lcp2.016"); // lcp2.016.sh: 3 nodes, all IPs assigned, 2->3 unhealthy
}

#[test]
fn lcp2_one_unhealthy_node_of_four_spreads_its_addresses() {
    case!("takeover/lcp2.027"); // lcp2.027.sh: 4 nodes, all IPs assigned, 3->4 unhealthy
}

// LCP2: runstate.

#[test]
fn lcp2_nodes_not_yet_running_host_nothing() {
    case!("takeover/lcp2.024"); // lcp2.024.sh: all healthy, all in STARTUP runstate
}

#[test]
fn lcp2_a_node_not_yet_running_is_skipped() {
    case!("takeover/lcp2.025"); // lcp2.025.sh: all healthy, 1 in STARTUP runstate
}

// LCP2: node-specific address lists.

#[test]
fn lcp2_disjoint_groups_a_node_becoming_healthy_gets_addresses_in_its_group() {
    case!("takeover/lcp2.010"); // lcp2.010.sh: 2 disjoint groups, a node becomes healthy
}

#[test]
fn lcp2_disjoint_groups_a_continued_node_gets_addresses_in_its_group() {
    case!("takeover/lcp2.011"); // lcp2.011.sh: 2 disjoint groups, continue a stopped node
}

#[test]
fn lcp2_a_node_without_public_addresses_gets_none() {
    case!("takeover/lcp2.034"); // lcp2.034.sh: 3 nodes, 1 without IP addresses
}

#[test]
fn lcp2_only_a_nodes_own_claim_to_an_address_counts() {
    // Each node has its own (stale) view of the holders: "multi" mode.
    case!("takeover/lcp2.029"); // lcp2.029.sh: 4 nodes, some IPs unassigned on target nodes
}

// LCP2: NoIPTakeover.

#[test]
fn lcp2_no_ip_takeover_nodes_do_not_gain_addresses() {
    case!("takeover/lcp2.012"); // lcp2.012.sh: NoIPTakeover - nodes don't gain IPs
}

#[test]
fn lcp2_no_ip_takeover_nodes_do_not_lose_addresses() {
    case!("takeover/lcp2.013"); // lcp2.013.sh: NoIPTakeover: nodes don't lose IPs
}

// LCP2: rebalancing.

#[test]
fn lcp2_a_cluster_where_every_node_holds_addresses_is_not_rebalanced() {
    case!("takeover/lcp2.028"); // lcp2.028.sh: 4 nodes, all healthy/assigned, stays unbalanced
}

#[test]
fn lcp2_a_fourth_node_becoming_healthy_takes_one_address_per_subnet_group() {
    case!("takeover/lcp2.031"); // lcp2.031.sh: 12+4 IPs, 4 nodes, 3 -> 4 healthy
}

#[test]
fn lcp2_stopping_and_continuing_each_node_in_turn() {
    case!("takeover/lcp2.032"); // lcp2.032.sh: 12+4 IPs, 4 nodes, multiple transitions
}

#[test]
fn lcp2_nodes_attaching_one_by_one() {
    case!("takeover/lcp2.033"); // lcp2.033.sh: 12+4 IPs, 4 nodes, 2 -> 3 -> 4 healthy
}

// LCP2: scale.

#[test]
fn lcp2_nine_hundred_addresses_over_five_new_nodes() {
    case!("takeover/lcp2.030"); // lcp2.030.sh: 900 IPs, 5 nodes, 0 -> 5 healthy
}

#[test]
fn lcp2_nine_hundred_addresses_already_placed_stay_put() {
    case!("takeover/lcp2.035"); // lcp2.035.sh: 900 IPs, all 5 nodes healthy, all assigned, no-op
}
