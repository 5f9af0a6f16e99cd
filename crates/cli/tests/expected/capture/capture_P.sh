#!/bin/bash
# State P: public addresses, interfaces and tickles. Debian's `ctdb`
# against a 3-node ctdb-rs cluster (the daemon does not change what the
# tool sends; its replies are recorded with the tool's output):
#   ctdb-local DIR setup -n 3 --base-addr 127.0.61.1 \
#       --option "cluster:leader timeout=2" --option failover:disabled=false
#   public_addresses of every node: 127.0.61.101-104/32 lo, node 2 also .105
#   ctdb-local DIR start all; wait until `ctdb ip all` shows every holder
# Run from tests/expected with CTDB_SOCKET and CTDB_BASE of node 0.
set -e
C=$(dirname "$0")
cap() { "$C/cap.py" "$@" >/dev/null; }
cap P_ip ip
cap P_ip_all ip all
cap P_ip_v -v ip
cap P_ip_all_v -v ip all
cap P_ip_X -X ip
cap P_ip_all_Xv -X -v ip all
cap P_ip_Ysemi_v -x \; -Y -v ip
cap P_ip_n2 -n 2 ip
cap P_ip_bogus ip bogus
cap P_ipinfo ipinfo 127.0.61.101
cap P_ipinfo_unknown ipinfo 127.0.61.199
cap P_ipinfo_n2 -n 2 ipinfo 127.0.61.105
cap P_ipinfo_invalid ipinfo 127.0.61
cap P_ifaces ifaces
cap P_ifaces_X -X ifaces
cap P_setifacelink_unknown setifacelink eth9 down
cap P_setifacelink_bad_state setifacelink lo sideways
cap P_setifacelink_down_n1 -n 1 setifacelink lo down
sleep 3
cap P_ifaces_n1_down -n 1 ifaces
cap P_ip_v_n1_down -n 1 -v ip
cap P_setifacelink_up_n1 -n 1 setifacelink lo up
sleep 3
cap P_addtickle addtickle 127.0.61.200:5000 127.0.61.101:445
cap P_gettickles gettickles 127.0.61.101
cap P_gettickles_X -X gettickles 127.0.61.101
cap P_gettickles_port gettickles 127.0.61.101 445
cap P_gettickles_badport gettickles 127.0.61.101 x
cap P_deltickle deltickle 127.0.61.200:5000 127.0.61.101:445
cap P_gettickles_unknown gettickles 127.0.61.199
cap P_addtickle_invalid addtickle 127.0.61.200 127.0.61.101:445
cap P_addip addip 127.0.61.106/32 lo
cap P_addip_known addip 127.0.61.106/32 lo
cap P_addip_invalid addip 127.0.61.106 lo
cap P_delip delip 127.0.61.106
cap P_delip_unknown delip 127.0.61.106
cap P_gratarp gratarp 127.0.61.101 lo
cap P_moveip moveip 127.0.61.103 0
cap P_moveip_invalid_pnn moveip 127.0.61.103 x
cap P_moveip_n1 -n 1 moveip 127.0.61.103 0
cap P_reloadips -t 2 reloadips
cap P_reloadips_missing reloadips 7
