#!/bin/bash
# start 3-node Debian ctdbd test cluster on $NET.1..3 (NET default 127.0.7)
R=${CAPTURE_ROOT:-/tmp/clicap}
NET=${CAPTURE_NET:-127.0.7}
for N in 1 2 3; do
B=$R/n$N
mkdir -p $B/run $B/var/volatile $B/var/persistent $B/var/state $B/events/legacy
printf '%s.1\n%s.2\n%s.3\n' $NET $NET $NET > $B/nodes
cat > $B/ctdb.conf <<EOC
[logging]
	location = file:$B/log.ctdb
[cluster]
	node address = $NET.$N
	cluster lock = $R/cluster.lock
[database]
	volatile database directory = $B/var/volatile
	persistent database directory = $B/var/persistent
	state database directory = $B/var/state
[failover]
	disabled = true
EOC
env CTDB_TEST_MODE=yes CTDB_BASE=$B CTDB_EVENTD=/usr/libexec/ctdb/ctdb-eventd CTDB_EVENT_HELPER=/usr/libexec/ctdb/ctdb-event CTDB_LOCK_HELPER=/usr/libexec/ctdb/ctdb_lock_helper CTDB_RECOVERY_HELPER=/usr/libexec/ctdb/ctdb_recovery_helper CTDB_TAKEOVER_HELPER=/usr/libexec/ctdb/ctdb_takeover_helper CTDB_CLUSTER_MUTEX_HELPER=/usr/libexec/ctdb/ctdb_mutex_fcntl_helper /usr/sbin/ctdbd
done
