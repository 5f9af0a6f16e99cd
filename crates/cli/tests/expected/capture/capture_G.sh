#!/bin/bash
# State G: a fresh 3-node cluster from start_cluster.sh (all OK). Each
# command below is undone by a later one, so the cluster ends as it began.
# Run from tests/expected with CTDB_SOCKET and CTDB_BASE of node 0 (n1),
# CAPTURE_ROOT as given to start_cluster.sh.
set -e
R=${CAPTURE_ROOT:-/tmp/clicap}
C=$(dirname "$0")
cap() { "$C/cap.py" "$@" >/dev/null; }
nodes() { for n in 1 2 3; do printf "$1" > "$R/n$n/nodes"; done; }
snap() { cp "$CTDB_BASE/nodes" "$1.nodes"; }
cap G_getreclock getreclock
cap G_getreclock_n1 -n 1 getreclock
cap G_disable_n1 -n 1 disable
cap G_disable_n1_again -n 1 disable
cap G_enable_n1 -n 1 enable
cap G_enable_n1_again -n 1 enable
cap G_stop_n2 -n 2 stop
cap G_stop_n2_again -n 2 stop
cap G_continue_n2 -n 2 continue
cap G_continue_n2_again -n 2 continue
cap G_ban_n1 -n 1 ban 100
cap G_ban_n1_again -n 1 ban 100
cap G_ban_n1_abc -n 1 ban abc
cap G_unban_n1 -n 1 unban
cap G_unban_n1_again -n 1 unban
cap G_ban_zero ban 0
cap G_ban_abc ban abc
cap G_disable disable
cap G_enable enable
cap G_ipreallocate ipreallocate
cap G_sync sync
cap G_recover recover
cap G_recover_n2 -n 2 recover
cap G_setlmasterrole_off_n2 -n 2 setlmasterrole off
cap G_setlmasterrole_on_n2 -n 2 setlmasterrole on
cap G_setleaderrole_off setleaderrole off
cap G_setleaderrole_on setleaderrole on
cap G_reloadnodes_nochange reloadnodes; snap G_reloadnodes_nochange
cap G_reloadnodes_n1 -n 1 reloadnodes
nodes '127.0.7.1\n127.0.7.2\n127.0.7.3\n127.0.7.4\n'
cap G_reloadnodes_new reloadnodes; snap G_reloadnodes_new
nodes '127.0.7.1\n#127.0.7.2\n127.0.7.3\n127.0.7.4\n'
cap G_reloadnodes_connected reloadnodes; snap G_reloadnodes_connected
nodes '127.0.7.1\n127.0.7.9\n127.0.7.3\n127.0.7.4\n'
cap G_reloadnodes_changed_ip reloadnodes; snap G_reloadnodes_changed_ip
nodes '127.0.7.1\n127.0.7.2\n127.0.7.3\n#\n'
cap G_reloadnodes_deleted reloadnodes; snap G_reloadnodes_deleted
nodes '127.0.7.1\n127.0.7.2\n127.0.7.3\n127.0.7.4\n'
printf '127.0.7.1\n127.0.7.2\n127.0.7.3\n127.0.7.4\n127.0.7.5\n' > "$R/n2/nodes"
cap G_reloadnodes_differs reloadnodes; snap G_reloadnodes_differs
nodes '127.0.7.1\n127.0.7.2\n127.0.7.3\n127.0.7.4\n'
cap G_reloadnodes_undeleted reloadnodes; snap G_reloadnodes_undeleted
