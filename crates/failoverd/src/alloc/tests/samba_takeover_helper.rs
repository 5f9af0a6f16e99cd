//! The allocation part of Samba's takeover helper tests
//! (`ctdb/tests/UNIT/takeover_helper/`): a fake ctdbd with a node map and
//! public addresses, the tunables set with `ctdb setvar`, the helper's
//! force-rebalance argument, and `ctdb ip all` afterwards. Inputs and results
//! are in `testdata/takeover_helper/`, one file per script.

use super::case;

#[test]
fn helper_unassigned_addresses_spread_over_all_nodes() {
    case!("takeover_helper/010"); // 010.sh: 3 nodes, all ok, IPs all unassigned
}

#[test]
fn helper_only_the_healthy_node_takes_unassigned_addresses() {
    case!("takeover_helper/011"); // 011.sh: 3 nodes, 1 ok, IPs all unassigned
}

#[test]
fn helper_one_unassigned_address_goes_to_the_empty_node() {
    case!("takeover_helper/012"); // 012.sh: 3 nodes, all ok, 1 IP unassigned
}

#[test]
fn helper_an_unhealthy_nodes_address_moves() {
    case!("takeover_helper/013"); // 013.sh: 3 nodes, 1 unhealthy, IPs all assigned
}

#[test]
fn helper_all_nodes_unhealthy_releases_every_address() {
    case!("takeover_helper/014"); // 014.sh: 3 nodes, all unhealthy, all IPs assigned
}

#[test]
fn helper_no_ip_failback_leaves_an_empty_node_empty() {
    case!("takeover_helper/017"); // 017.sh: 3 nodes, all healthy, IPs unbalanced, NoIPFailback
}

#[test]
fn helper_an_empty_node_gets_an_address_back() {
    case!("takeover_helper/018"); // 018.sh: 3 nodes, all healthy, IPs unbalanced
}

#[test]
fn helper_no_ip_takeover_leaves_an_unhealthy_nodes_address_unassigned() {
    case!("takeover_helper/019"); // 019.sh: 3 nodes, 1 node unhealthy, NoIPTakeover
}

#[test]
fn helper_no_ip_takeover_leaves_an_unassigned_address_unassigned() {
    case!("takeover_helper/021"); // 021.sh: 3 nodes, all healthy, IPs all assigned
}

#[test]
fn helper_lcp2_does_not_rebalance_nodes_that_all_hold_addresses() {
    case!("takeover_helper/022"); // 022.sh: IPs very unbalanced, no force rebalance
}

#[test]
fn helper_force_rebalance_moves_an_address_onto_the_forced_node() {
    case!("takeover_helper/023"); // 023.sh: IPs very unbalanced, force rebalance 1
}

#[test]
fn helper_force_rebalance_of_all_nodes_evens_them_out() {
    case!("takeover_helper/024"); // 024.sh: IPs very unbalanced, force rebalance all
}

#[test]
fn helper_det_ignores_the_current_holders() {
    case!("takeover_helper/025"); // 025.sh: IPs all assigned randomly, deterministic IPs
}

#[test]
fn helper_nondet_evens_out_counts_without_being_forced() {
    case!("takeover_helper/026"); // 026.sh: IPs assigned, unbalanced, non-deterministic IPs
}

#[test]
fn helper_banned_nodes_host_nothing() {
    case!("takeover_helper/027"); // 027.sh: 3 nodes, 2 banned, IPs all unassigned
}

#[test]
fn helper_disconnected_nodes_host_nothing() {
    case!("takeover_helper/028"); // 028.sh: 3 nodes, flags 0x1 (disconnected)
}

#[test]
fn helper_addresses_defined_on_two_nodes_stay_on_those_two() {
    case!("takeover_helper/030"); // 030.sh: 3 nodes, all ok, IPs defined on 2, IPs all unassigned
}
