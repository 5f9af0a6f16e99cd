//! Packets captured from Debian's ctdbd 4.17 and `ctdb` tool (see
//! `testdata/README.md`): each decodes to the expected fields and re-encodes
//! byte for byte (requests padded as the tool pads them, replies as ctdbd
//! pads them).

use std::net::SocketAddr;

use ctdb_legacy_proto::{
    call, caps, debug, pnn, runstate, srvid, status, CString, DbStatistics, Dbid, DbidMap, Frame, Header, IfaceList,
    NodeMap, Opcode, Operation, Packet, PidSrvid, PublicIpInfo, PublicIpList, ReplyCall, ReplyControl, ReqControl,
    ReqMessage, SockAddr, Statistics, StatisticsList, StringN, TunableList, TunableSet, Uptime, VarList, VnnMap, Wire,
    CTDB_MAGIC, CTDB_PROTOCOL,
};

fn load(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => panic!("cannot read {path}: {e}"),
    }
}

/// Decode, check the re-encoding is identical, return the frame.
fn frame(name: &str) -> Frame {
    let bytes = load(name);
    let f = match Frame::decode(&bytes) {
        Ok(f) => f,
        Err(e) => panic!("{name}: {e}"),
    };
    assert_eq!(f.header.magic, CTDB_MAGIC);
    assert_eq!(f.header.version, CTDB_PROTOCOL);
    assert_eq!(f.header.length as usize, bytes.len());
    assert_eq!(bytes.len() % 8, 0, "{name}: ctdbd and the CLI pad to 8");
    assert_eq!(f.encode(true), bytes, "{name}: re-encoding differs");
    f
}

/// A request as the CLI sends it: generation 0, destnode pnn 0 (after
/// learning it), srcnode pnn 0, client_id 0, flags 0.
fn request(name: &str, opcode: Opcode) -> (Header, ReqControl) {
    let f = frame(&format!("{name}.req"));
    assert_eq!(f.header.operation, Operation::REQ_CONTROL);
    assert_eq!(f.header.generation, 0);
    let Packet::ReqControl(c) = f.packet else {
        panic!("{name}: not a control request");
    };
    assert_eq!(c.opcode, opcode);
    assert_eq!(c.client_id, 0);
    assert_eq!(c.flags, 0);
    (f.header, c)
}

/// The reply to `name`: same reqid, destnode 0, srcnode = ctdbd's pnn 0.
fn reply(name: &str, req: &Header) -> (Header, ReplyControl) {
    let f = frame(&format!("{name}.reply"));
    assert_eq!(f.header.operation, Operation::REPLY_CONTROL);
    assert_eq!(f.header.reqid, req.reqid, "{name}: reply reqid");
    assert_eq!(f.header.destnode, 0);
    assert_eq!(f.header.srcnode, 0);
    assert_ne!(f.header.generation, 0, "ctdbd fills its generation");
    let Packet::ReplyControl(r) = f.packet else {
        panic!("{name}: not a control reply");
    };
    (f.header, r)
}

fn pair(name: &str, opcode: Opcode) -> (ReqControl, ReplyControl) {
    let (h, req) = request(name, opcode);
    let (_, rep) = reply(name, &h);
    (req, rep)
}

fn ok_data(name: &str, opcode: Opcode) -> (ReqControl, Vec<u8>) {
    let (req, rep) = pair(name, opcode);
    assert_eq!(rep.status, 0, "{name}: status");
    assert_eq!(rep.errmsg, None);
    (req, rep.data)
}

fn decode<T: Wire>(name: &str, data: &[u8]) -> T {
    match T::from_bytes(data) {
        Ok(v) => v,
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn get_pnn_is_the_first_packet_of_the_cli() {
    let (h, req) = request("get_pnn", Opcode::GET_PNN);
    assert_eq!(h.destnode, pnn::CURRENT_NODE);
    assert_eq!(h.srcnode, pnn::UNKNOWN, "CLI does not know its pnn yet");
    assert_eq!(h.length, 64, "60 bytes padded to 64");
    assert!(req.data.is_empty());
    let (_, rep) = reply("get_pnn", &h);
    assert_eq!(rep.status, 0, "pnn 0 is returned in status");
    assert!(rep.data.is_empty());

    // Samba's smbd sends the same control unpadded.
    let f = Frame::decode(&load("get_pnn.req")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.encode(false).len(), 60);
}

#[test]
fn register_srvid_carries_the_port_in_the_header() {
    let (h, req) = request("register_srvid", Opcode::REGISTER_SRVID);
    assert_eq!(h.destnode, 0);
    assert_eq!(h.srcnode, 0);
    assert_eq!(req.srvid, srvid::LEADER);
    assert!(req.data.is_empty());
    let (_, rep) = reply("register_srvid", &h);
    assert_eq!(rep.status, 0);
}

#[test]
fn get_nodemap() {
    let (_, data) = ok_data("get_nodemap", Opcode::GET_NODEMAP);
    let map: NodeMap = decode("get_nodemap", &data);
    assert_eq!(map.nodes.len(), 1);
    assert_eq!(map.nodes[0].pnn, 0);
    assert_eq!(map.nodes[0].flags, 0);
    let addr: SocketAddr = "127.0.0.1:4379".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(map.nodes[0].addr, SockAddr(addr));
    assert_eq!(map.to_bytes(), data);
}

#[test]
fn get_nodes_file() {
    let (_, data) = ok_data("get_nodes_file", Opcode::GET_NODES_FILE);
    let map: NodeMap = decode("get_nodes_file", &data);
    assert_eq!(map.nodes.len(), 1);
    assert_eq!(map.nodes[0].addr.port(), 4379);
}

#[test]
fn get_runstate() {
    let (_, data) = ok_data("get_runstate", Opcode::GET_RUNSTATE);
    assert_eq!(decode::<u32>("get_runstate", &data), runstate::RUNNING);
}

#[test]
fn get_ifaces() {
    let (_, data) = ok_data("get_ifaces", Opcode::GET_IFACES);
    let list: IfaceList = decode("get_ifaces", &data);
    assert_eq!(list.ifaces.len(), 1);
    assert_eq!(list.ifaces[0].name, "lo");
    assert_eq!(list.ifaces[0].link_state, 1);
    assert_eq!(list.ifaces[0].references, 0);
}

#[test]
fn getvnnmap_generation_is_the_header_generation() {
    let (h, _) = request("getvnnmap", Opcode::GETVNNMAP);
    let (rh, rep) = reply("getvnnmap", &h);
    let map: VnnMap = decode("getvnnmap", &rep.data);
    assert_eq!(map.generation, rh.generation);
    assert_eq!(map.map, vec![0]);
}

#[test]
fn get_recmode_is_in_status() {
    let (_, rep) = pair("get_recmode", Opcode::GET_RECMODE);
    assert_eq!(rep.status, 0, "NORMAL");
    assert!(rep.data.is_empty());
}

#[test]
fn ping_status_counts_clients() {
    let (req, rep) = pair("ping", Opcode::PING);
    assert!(req.data.is_empty());
    assert!(rep.status >= 1);
}

#[test]
fn ping_with_data_is_refused() {
    let (h, req) = {
        let f = frame("ping_bad_size.req");
        let Packet::ReqControl(c) = f.packet else { panic!("not a control") };
        (f.header, c)
    };
    assert_eq!(req.data.len(), 4);
    let (_, rep) = reply("ping_bad_size", &h);
    assert_eq!(rep.status, -1);
    assert_eq!(rep.errmsg, None);
}

#[test]
fn control_to_missing_node_has_an_error_text_without_nul() {
    let f = frame("ping_disconnected_node.req");
    assert_eq!(f.header.destnode, 7);
    let (_, rep) = reply("ping_disconnected_node", &f.header);
    assert_eq!(rep.status, -1);
    assert_eq!(rep.errmsg.as_deref(), Some("ctdb_control to disconnected node"));
    assert_eq!(rep.wire_len(), 12 + 33);
}

#[test]
fn uptime() {
    let (_, data) = ok_data("uptime", Opcode::UPTIME);
    let u: Uptime = decode("uptime", &data);
    assert!(u.ctdbd_start_time <= u.current_time);
    assert!(u.last_recovery_started <= u.last_recovery_finished);
    assert!(u.ctdbd_start_time.sec > 1_600_000_000);
}

#[test]
fn get_capabilities() {
    let (_, data) = ok_data("get_capabilities", Opcode::GET_CAPABILITIES);
    assert_eq!(decode::<u32>("get_capabilities", &data), caps::DEFAULT);
}

#[test]
fn list_tunables_follows_the_name_table_with_a_leading_colon() {
    let (_, data) = ok_data("list_tunables", Opcode::LIST_TUNABLES);
    assert_eq!(data[4], b':');
    assert_eq!(data.last(), Some(&0));
    let list: VarList = decode("list_tunables", &data);
    let expected: Vec<&str> = ctdb_config::Tunables::listed_names().collect();
    assert_eq!(list.names, expected);
    assert_eq!(list.to_bytes(), data, "leading ':' is reproduced");
}

#[test]
fn get_tunable() {
    let (req, data) = ok_data("get_tunable", Opcode::GET_TUNABLE);
    assert_eq!(decode::<StringN>("get_tunable", &req.data), StringN::from("ControlTimeout"));
    assert_eq!(decode::<u32>("get_tunable", &data), 60);
}

#[test]
fn get_tunable_unknown_name_is_einval() {
    let f = frame("get_tunable_unknown.req");
    let (_, rep) = reply("get_tunable_unknown", &f.header);
    assert_eq!(rep.status, status::NO_SUCH_TUNABLE);
}

#[test]
fn set_tunable() {
    let (req, data) = ok_data("set_tunable", Opcode::SET_TUNABLE);
    let t: TunableSet = decode("set_tunable", &req.data);
    assert_eq!(t, TunableSet { value: 60, name: "ControlTimeout".into() });
    assert!(data.is_empty());
}

#[test]
fn get_all_tunables_are_the_defaults_in_struct_order() {
    let (_, data) = ok_data("get_all_tunables", Opcode::GET_ALL_TUNABLES);
    let list: TunableList = decode("get_all_tunables", &data);
    assert_eq!(list.values, ctdb_config::Tunables::defaults().as_array());
}

#[test]
fn get_and_set_debug() {
    let (_, data) = ok_data("get_debug", Opcode::GET_DEBUG);
    assert_eq!(decode::<i32>("get_debug", &data), debug::NOTICE);
    let (req, data) = ok_data("set_debug", Opcode::SET_DEBUG);
    assert_eq!(decode::<i32>("set_debug", &req.data), debug::NOTICE);
    assert!(data.is_empty());
}

#[test]
fn statistics() {
    let (_, data) = ok_data("statistics", Opcode::STATISTICS);
    let s: Statistics = decode("statistics", &data);
    assert!(s.num_clients >= 1);
    assert!(s.client.req_control > 0);
    assert!(s.statistics_start_time <= s.statistics_current_time);
    assert_eq!(s.to_bytes(), data);
}

#[test]
fn get_stat_history_has_100_slots() {
    let (_, data) = ok_data("get_stat_history", Opcode::GET_STAT_HISTORY);
    let l: StatisticsList = decode("get_stat_history", &data);
    assert_eq!(l.stats.len(), 100);
    assert_eq!(data.len(), 8 + 100 * 488);
}

#[test]
fn get_pid_is_in_status() {
    let (_, rep) = pair("get_pid", Opcode::GET_PID);
    assert!(rep.status > 1);
}

#[test]
fn process_exists() {
    let (req, rep) = pair("process_exists", Opcode::PROCESS_EXISTS);
    assert!(decode::<i32>("process_exists", &req.data) > 1);
    assert_eq!(rep.status, 0);
}

#[test]
fn check_pid_srvid_is_12_bytes() {
    let (req, rep) = pair("check_pid_srvid", Opcode::CHECK_PID_SRVID);
    assert_eq!(req.data.len(), 12);
    let p: PidSrvid = decode("check_pid_srvid", &req.data);
    assert_eq!(p.srvid, srvid::LEADER);
    assert!(p.pid > 1);
    assert_eq!(rep.status, 0);
}

#[test]
fn get_dbmap_empty() {
    let (_, data) = ok_data("get_dbmap", Opcode::GET_DBMAP);
    assert_eq!(decode::<DbidMap>("get_dbmap", &data), DbidMap::default());
}

#[test]
fn get_reclock_file_without_lock_is_zero_bytes() {
    let (_, data) = ok_data("get_reclock_file", Opcode::GET_RECLOCK_FILE);
    assert!(data.is_empty());
    assert_eq!(decode::<CString>("get_reclock_file", &data), CString::default());
}

#[test]
fn get_public_ips() {
    let (_, data) = ok_data("get_public_ips", Opcode::GET_PUBLIC_IPS);
    let l: PublicIpList = decode("get_public_ips", &data);
    let ips: Vec<String> = l.ips.iter().map(|p| p.addr.ip().to_string()).collect();
    assert_eq!(ips, ["127.0.77.12", "127.0.77.11"]);
    assert!(l.ips.iter().all(|p| p.pnn == pnn::UNKNOWN && p.addr.port() == 0));
}

#[test]
fn get_public_ip_info() {
    let (req, data) = ok_data("get_public_ip_info", Opcode::GET_PUBLIC_IP_INFO);
    let addr: SockAddr = decode("get_public_ip_info", &req.data);
    assert_eq!(addr.to_string(), "127.0.77.12:0");
    let info: PublicIpInfo = decode("get_public_ip_info", &data);
    assert_eq!(info.ip.addr, addr);
    assert_eq!(info.ip.pnn, pnn::UNKNOWN);
    assert_eq!(info.active_idx, u32::MAX);
    assert_eq!(info.ifaces.len(), 1);
    assert_eq!(info.ifaces[0].name, "lo");
}

#[test]
fn leader_broadcast_message() {
    let f = frame("leader_message");
    assert_eq!(f.header.operation, Operation::REQ_MESSAGE);
    assert_eq!(f.header.reqid, 0);
    assert_eq!(f.header.destnode, 0);
    assert_eq!(f.header.srcnode, 0, "local pnn, not the originator");
    let Packet::ReqMessage(ReqMessage { srvid: port, data }) = f.packet else {
        panic!("not a message");
    };
    assert_eq!(port, srvid::LEADER);
    assert_eq!(decode::<u32>("leader_message", &data), 0, "leader is pnn 0");
}

#[test]
fn db_attach_getdbpath_and_open_flags() {
    let (req, data) = ok_data("db_attach", Opcode::DB_ATTACH);
    assert_eq!(decode::<CString>("db_attach", &req.data), CString::from("test.tdb"));
    let db_id = decode::<u32>("db_attach", &data);
    let (req, data) = ok_data("getdbpath", Opcode::GETDBPATH);
    assert_eq!(decode::<u32>("getdbpath", &req.data), db_id);
    let path = decode::<CString>("getdbpath", &data).0;
    assert!(path.ends_with("/var/volatile/test.tdb.0"), "{path}");
    let (req, data) = ok_data("db_open_flags", Opcode::DB_OPEN_FLAGS);
    assert_eq!(decode::<u32>("db_open_flags", &req.data), db_id);
    assert_eq!(decode::<i32>("db_open_flags", &data), 0x1C41, "volatile + mutexes");
    let (_, data) = ok_data("get_dbmap_attached", Opcode::GET_DBMAP);
    let map: DbidMap = decode("get_dbmap_attached", &data);
    assert_eq!(map.dbs, vec![Dbid { db_id, flags: 0 }]);
}

#[test]
fn get_db_statistics_always_has_10_hot_key_slots() {
    let (req, data) = ok_data("get_db_statistics", Opcode::GET_DB_STATISTICS);
    let (_, attach) = ok_data("db_attach", Opcode::DB_ATTACH);
    assert_eq!(req.data, attach, "input is the db_id");
    assert_eq!(data.len(), 464, "no hot keys yet");
    let s: DbStatistics = decode("get_db_statistics", &data);
    assert_eq!(s.num_hot_keys, 10);
    assert!(s.hot_keys.iter().all(|k| k.key.is_empty()));
    assert_eq!(s.to_bytes(), data);
}

#[test]
fn req_call_migrates_a_record_for_the_cli() {
    let f = frame("req_call");
    assert_eq!(f.header.operation, Operation::REQ_CALL);
    assert_eq!(f.header.destnode, pnn::CURRENT_NODE);
    assert_eq!(f.header.srcnode, 0);
    let Packet::ReqCall(c) = f.packet else { panic!("not a call") };
    assert_eq!(c.flags, call::IMMEDIATE_MIGRATION);
    assert_eq!(c.callid, call::NULL_FUNC);
    assert_eq!(c.hopcount, 0);
    assert_eq!(c.key, b"key1");
    assert!(c.calldata.is_empty());
    let (_, attach) = ok_data("db_attach", Opcode::DB_ATTACH);
    assert_eq!(c.db_id.to_le_bytes().to_vec(), attach);

    let r = frame("reply_call");
    assert_eq!(r.header.operation, Operation::REPLY_CALL);
    assert_eq!(r.header.reqid, f.header.reqid);
    assert_eq!(r.packet, Packet::ReplyCall(ReplyCall { status: 0, data: vec![] }));
}

#[test]
fn every_vector_survives_the_fuzz_body() {
    let dir = format!("{}/testdata", env!("CARGO_MANIFEST_DIR"));
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let mut n = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "bin") {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(Frame::decode(&bytes).is_ok(), "{}", path.display());
            ctdb_legacy_proto::fuzz::decode_any(&bytes);
            n += 1;
        }
    }
    assert!(n >= 50, "only {n} vectors found");
}
