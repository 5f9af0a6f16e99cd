# state A: node 1 disabled, node 2 stopped
./cap.py A_status status
./cap.py A_status_X -X status
./cap.py A_status_n2 -n 2 status
./cap.py A_status_n2_X -n 2 -X status
./cap.py A_nodestatus nodestatus
./cap.py A_nodestatus_all nodestatus all
./cap.py A_nodestatus_all_X -X nodestatus all
./cap.py A_nodestatus_n1 -n 1 nodestatus
./cap.py A_nodestatus_n2 -n 2 nodestatus
./cap.py A_nodestatus_1_2 nodestatus 1,2
./cap.py A_nodestatus_1_0 nodestatus 1,0
./cap.py A_nodestatus_1_0_Ysemi -x ';' -Y nodestatus 1,0
# state B: all nodes OK
./cap.py B_status status
./cap.py B_status_X -X status
./cap.py B_status_Ysemi -x ';' -Y status
./cap.py B_status_n1 -n 1 status
./cap.py B_nodestatus nodestatus
./cap.py B_nodestatus_all nodestatus all
./cap.py B_nodestatus_all_X -X nodestatus all
./cap.py B_pnn pnn
./cap.py B_ping ping
./cap.py B_ping_n1 -n 1 ping
./cap.py B_uptime uptime
./cap.py B_uptime_n2 -n 2 uptime
./cap.py B_runstate runstate
./cap.py B_runstate_match runstate startup RUNNING
./cap.py B_runstate_nomatch runstate setup first_recovery
./cap.py B_runstate_bogus runstate bogus
./cap.py B_getcapabilities getcapabilities
./cap.py B_getcapabilities_X -X getcapabilities
./cap.py B_getcapabilities_Ysemi -x ';' -Y getcapabilities
./cap.py B_getvar getvar monitorinterval
./cap.py B_getvar_nosuch getvar VacuumLimit
./cap.py B_listvars listvars
./cap.py B_statistics statistics
./cap.py B_statistics_X -X statistics
./cap.py B_statistics_Ysemi -x ';' -Y statistics
./cap.py B_statistics_n2 -n 2 statistics
./cap.py B_getdebug getdebug
./cap.py B_getpid getpid
./cap.py B_leader leader
./cap.py B_version version
./cap.py B_listnodes listnodes
./cap.py B_listnodes_X -X listnodes
./cap.py B_process_exists_1 process-exists 1
./cap.py B_process_exists_1_srvid process-exists 1 0xf100000000000000
./cap.py B_setdebug_bogus setdebug bogus
./cap.py B_setvar_nosuch setvar bogus 1
