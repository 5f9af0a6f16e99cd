#!/usr/bin/env python3
"""Capture legacy CTDB test vectors from Debian's ctdbd and ctdb CLI.

Starts a 1-node ctdbd in test mode under a temporary directory, puts a
logging Unix-socket proxy between `/usr/bin/ctdb` (CTDB_SOCKET=proxy) and the
daemon's socket, runs a list of CLI commands plus a few raw probes, and writes
the selected packets (exact bytes as seen on the socket) into this directory
as `<name>.bin`.  The daemon is shut down at the end, also on failure.

Usage: python3 capture.py [--out DIR] [--list]
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CTDBD = "/usr/sbin/ctdbd"
CTDB = "/usr/bin/ctdb"
LIBEXEC = "/usr/libexec/ctdb"

MAGIC = 0x43544442
REQ_CALL = 0
REPLY_CALL = 1
REQ_MESSAGE = 5
REQ_CONTROL = 7
REPLY_CONTROL = 8
CURRENT_NODE = 0xF0000001
SRVID_LEADER = 0xF101000000000000

# opcode numbers used below
OP = {
    "PROCESS_EXISTS": 0, "STATISTICS": 1, "PING": 3, "GETVNNMAP": 5,
    "GET_DEBUG": 7, "SET_DEBUG": 8, "GET_DBMAP": 9, "GET_RECMODE": 15,
    "REGISTER_SRVID": 23, "GET_PID": 30, "GET_PNN": 35,
    "SET_TUNABLE": 48, "GET_TUNABLE": 49, "LIST_TUNABLES": 50,
    "GET_ALL_TUNABLES": 53, "UPTIME": 69, "GET_CAPABILITIES": 80,
    "GET_NODEMAP": 91, "GET_RECLOCK_FILE": 99, "GET_IFACES": 124, "GET_PUBLIC_IPS": 90, "GET_PUBLIC_IP_INFO": 123,
    "GET_STAT_HISTORY": 127, "GET_RUNSTATE": 138, "GET_NODES_FILE": 140,
    "CHECK_PID_SRVID": 151, "DB_ATTACH": 18, "GETDBPATH": 4,
    "DB_OPEN_FLAGS": 149, "GET_DB_STATISTICS": 132,
}


def helper_env(base):
    env = dict(os.environ)
    env.update({
        "CTDB_TEST_MODE": "yes",
        "CTDB_BASE": base,
        "CTDB_EVENTD": f"{LIBEXEC}/ctdb-eventd",
        "CTDB_EVENT_HELPER": f"{LIBEXEC}/ctdb-event",
        "CTDB_LOCK_HELPER": f"{LIBEXEC}/ctdb_lock_helper",
        "CTDB_RECOVERY_HELPER": f"{LIBEXEC}/ctdb_recovery_helper",
        "CTDB_TAKEOVER_HELPER": f"{LIBEXEC}/ctdb_takeover_helper",
        "CTDB_CLUSTER_MUTEX_HELPER": f"{LIBEXEC}/ctdb_mutex_fcntl_helper",
    })
    return env


def setup_base(base):
    for d in ("run", "var/volatile", "var/persistent", "var/state",
              "events/legacy"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    with open(os.path.join(base, "nodes"), "w") as f:
        f.write("127.0.0.1\n")
    # Only configuration: no event scripts are installed, so nothing is ever
    # added to an interface.  It gives GET_IFACES and the IP controls data.
    with open(os.path.join(base, "public_addresses"), "w") as f:
        f.write("127.0.77.11/8 lo\n127.0.77.12/8 lo\n")
    with open(os.path.join(base, "ctdb.conf"), "w") as f:
        f.write(f"""[logging]
\tlocation = file:{base}/log.ctdb
\tlog level = NOTICE
[cluster]
\tnode address = 127.0.0.1
[database]
\tvolatile database directory = {base}/var/volatile
\tpersistent database directory = {base}/var/persistent
\tstate database directory = {base}/var/state
[failover]
\tdisabled = true
""")


def header(buf):
    return struct.unpack_from("<IIIIIIII", buf, 0)


class Proxy:
    """Forwards bytes unchanged and records every whole packet."""

    def __init__(self, listen_path, target_path):
        self.target = target_path
        self.frames = []  # (conn_id, "c2d"|"d2c", bytes)
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(listen_path)
        self.sock.listen(16)
        self.next_id = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.next_id += 1
            d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            d.connect(self.target)
            cid = self.next_id
            threading.Thread(target=self.pump, args=(c, d, cid, "c2d"),
                             daemon=True).start()
            threading.Thread(target=self.pump, args=(d, c, cid, "d2c"),
                             daemon=True).start()

    def pump(self, src, dst, cid, direction):
        buf = b""
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            buf += data
            while len(buf) >= 4:
                (length,) = struct.unpack_from("<I", buf, 0)
                if length == 0 or len(buf) < length:
                    break
                with self.lock:
                    self.frames.append((cid, direction, buf[:length]))
                buf = buf[length:]
            try:
                dst.sendall(data)
            except OSError:
                return

    def mark(self):
        with self.lock:
            return len(self.frames)

    def since(self, mark):
        with self.lock:
            return list(self.frames[mark:])


def describe(cid, direction, pkt):
    length, magic, ver, gen, op, dst, src, reqid = header(pkt)
    extra = ""
    if op == REQ_CONTROL:
        opcode, = struct.unpack_from("<I", pkt, 32)
        srvid, = struct.unpack_from("<Q", pkt, 40)
        extra = f"opcode={opcode} srvid={srvid:#x}"
    elif op == REPLY_CONTROL:
        status, dlen, elen = struct.unpack_from("<iII", pkt, 32)
        extra = f"status={status} datalen={dlen} errorlen={elen}"
    elif op == REQ_MESSAGE:
        srvid, dlen = struct.unpack_from("<QI", pkt, 32)
        extra = f"srvid={srvid:#x} datalen={dlen}"
    return (f"conn{cid} {direction} len={length} op={op} gen={gen} "
            f"dst={dst:#x} src={src:#x} reqid={reqid} {extra}")


def pick_control(frames, opcode, nth=0):
    """Request with `opcode` (nth occurrence) and its reply."""
    seen = 0
    for cid, direction, pkt in frames:
        if direction != "c2d" or header(pkt)[4] != REQ_CONTROL:
            continue
        if struct.unpack_from("<I", pkt, 32)[0] != opcode:
            continue
        if seen < nth:
            seen += 1
            continue
        reqid = header(pkt)[7]
        for cid2, d2, rep in frames:
            if (cid2 == cid and d2 == "d2c"
                    and header(rep)[4] == REPLY_CONTROL
                    and header(rep)[7] == reqid):
                return pkt, rep
        raise RuntimeError(f"no reply for opcode {opcode}")
    raise RuntimeError(f"no request with opcode {opcode}")


def pick_call(frames):
    """First REQ_CALL and the REPLY_CALL with its reqid."""
    for cid, direction, pkt in frames:
        if direction != "c2d" or header(pkt)[4] != REQ_CALL:
            continue
        reqid = header(pkt)[7]
        for cid2, d2, rep in frames:
            if (cid2 == cid and d2 == "d2c"
                    and header(rep)[4] == REPLY_CALL
                    and header(rep)[7] == reqid):
                return pkt, rep
        raise RuntimeError("no REPLY_CALL")
    raise RuntimeError("no REQ_CALL")


def pick_message(frames, srvid):
    for _cid, direction, pkt in frames:
        if (direction == "d2c" and header(pkt)[4] == REQ_MESSAGE
                and struct.unpack_from("<Q", pkt, 32)[0] == srvid):
            return pkt
    raise RuntimeError(f"no message for srvid {srvid:#x}")


def raw_control(path, opcode, data=b"", destnode=CURRENT_NODE, srvid=0,
                reqid=1, srcnode=0):
    """Send one control the way the CLI library does (padded to 8)."""
    body = struct.pack("<IIQIII", opcode, 0, srvid, 0, 0, len(data)) + data
    length = 32 + len(body)
    padded = (length + 7) & ~7
    pkt = struct.pack("<IIIIIIII", padded, MAGIC, 1, 0, REQ_CONTROL,
                      destnode, srcnode, reqid) + body
    pkt += b"\0" * (padded - length)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(pkt)
    buf = b""
    while True:
        while len(buf) < 4:
            buf += s.recv(65536)
        (length,) = struct.unpack_from("<I", buf, 0)
        while len(buf) < length:
            buf += s.recv(65536)
        rep, buf = buf[:length], buf[length:]
        if header(rep)[4] == REPLY_CONTROL and header(rep)[7] == reqid:
            s.close()
            return pkt, rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--list", action="store_true",
                    help="print every captured packet")
    args = ap.parse_args()

    base = tempfile.mkdtemp(prefix="ctdb-capture-")
    setup_base(base)
    env = helper_env(base)
    real = os.path.join(base, "run", "ctdbd.socket")
    proxy_path = os.path.join(base, "proxy.socket")
    try:
        subprocess.run([CTDBD], env=env, check=True)
        deadline = time.time() + 60
        while True:
            # RUNNING and healthy (first monitor event done), so that the
            # node map shows flags 0.
            r = subprocess.run([CTDB, "runstate", "running"],
                               env=dict(env, CTDB_SOCKET=real),
                               capture_output=True)
            h = subprocess.run([CTDB, "nodestatus"],
                               env=dict(env, CTDB_SOCKET=real),
                               capture_output=True)
            if r.returncode == 0 and h.returncode == 0:
                break
            if time.time() > deadline:
                raise RuntimeError("ctdbd did not become RUNNING and healthy")
            time.sleep(0.5)

        proxy = Proxy(proxy_path, real)
        cenv = dict(env, CTDB_SOCKET=proxy_path)
        mypid = os.getpid()  # the daemon sees the proxy's pid

        def cli(*argv):
            m = proxy.mark()
            r = subprocess.run([CTDB, *argv], env=cenv, capture_output=True,
                               text=True, timeout=60)
            time.sleep(0.2)
            frames = proxy.since(m)
            if args.list:
                print(f"$ ctdb {' '.join(argv)} -> rc={r.returncode}")
                print("  " + r.stdout.strip().replace("\n", "\n  "))
                for f in frames:
                    print("   ", describe(*f))
            return frames

        out = {}

        def save_pair(name, frames, opcode, nth=0):
            req, rep = pick_control(frames, opcode, nth)
            out[f"{name}.req"] = req
            out[f"{name}.reply"] = rep

        f = cli("pnn")
        save_pair("get_pnn", f, OP["GET_PNN"])
        save_pair("register_srvid", f, OP["REGISTER_SRVID"])
        f = cli("status")
        save_pair("get_nodemap", f, OP["GET_NODEMAP"])
        save_pair("getvnnmap", f, OP["GETVNNMAP"])
        save_pair("get_recmode", f, OP["GET_RECMODE"])
        save_pair("get_capabilities", cli("getcapabilities"),
                  OP["GET_CAPABILITIES"])
        save_pair("get_runstate", cli("runstate"), OP["GET_RUNSTATE"])
        save_pair("get_ifaces", cli("ifaces"), OP["GET_IFACES"])
        save_pair("get_public_ips", cli("ip"), OP["GET_PUBLIC_IPS"])
        save_pair("get_public_ip_info", cli("ipinfo", "127.0.77.12"),
                  OP["GET_PUBLIC_IP_INFO"])
        save_pair("ping", cli("ping"), OP["PING"])
        save_pair("uptime", cli("uptime"), OP["UPTIME"])
        save_pair("list_tunables", cli("listvars"), OP["LIST_TUNABLES"])
        save_pair("get_tunable", cli("getvar", "ControlTimeout"),
                  OP["GET_TUNABLE"])
        save_pair("set_tunable", cli("setvar", "ControlTimeout", "60"),
                  OP["SET_TUNABLE"])
        save_pair("get_debug", cli("getdebug"), OP["GET_DEBUG"])
        save_pair("set_debug", cli("setdebug", "NOTICE"), OP["SET_DEBUG"])
        save_pair("statistics", cli("statistics"), OP["STATISTICS"])
        save_pair("get_pid", cli("getpid"), OP["GET_PID"])
        save_pair("process_exists", cli("process-exists", str(mypid)),
                  OP["PROCESS_EXISTS"])
        save_pair("check_pid_srvid",
                  cli("process-exists", str(mypid), str(SRVID_LEADER)),
                  OP["CHECK_PID_SRVID"])
        save_pair("get_dbmap", cli("getdbmap"), OP["GET_DBMAP"])
        save_pair("get_reclock_file", cli("getreclock"),
                  OP["GET_RECLOCK_FILE"])
        save_pair("get_stat_history", cli("stats", "2"),
                  OP["GET_STAT_HISTORY"])
        out["leader_message"] = pick_message(cli("leader"), SRVID_LEADER)

        # A volatile database: attach, then a write that migrates the record
        # to this node with a REQ_CALL.
        f = cli("attach", "test.tdb")
        save_pair("db_attach", f, OP["DB_ATTACH"])
        f = cli("writekey", "test.tdb", "key1", "value1")
        save_pair("getdbpath", f, OP["GETDBPATH"])
        save_pair("db_open_flags", f, OP["DB_OPEN_FLAGS"])
        req, rep = pick_call(f)
        out["req_call"] = req
        out["reply_call"] = rep
        save_pair("get_dbmap_attached", cli("getdbmap"), OP["GET_DBMAP"])
        save_pair("get_db_statistics", cli("dbstatistics", "test.tdb"),
                  OP["GET_DB_STATISTICS"])

        # Raw probes (sent by this script, padded like the CLI library).
        def probe(name, *a, **kw):
            req, rep = raw_control(proxy_path, *a, **kw)
            out[f"{name}.req"] = req
            out[f"{name}.reply"] = rep
            if args.list:
                print(f"probe {name}:", describe(0, "d2c", rep))

        probe("get_all_tunables", OP["GET_ALL_TUNABLES"])
        probe("get_nodes_file", OP["GET_NODES_FILE"])
        probe("get_tunable_unknown", OP["GET_TUNABLE"],
              struct.pack("<I", 14) + b"NoSuchTunable\0")
        probe("ping_disconnected_node", OP["PING"], destnode=7)
        probe("ping_bad_size", OP["PING"], b"\1\2\3\4")

        os.makedirs(args.out, exist_ok=True)
        for name, pkt in sorted(out.items()):
            with open(os.path.join(args.out, f"{name}.bin"), "wb") as fh:
                fh.write(pkt)
        print(f"wrote {len(out)} packets to {args.out}")
    finally:
        subprocess.run([CTDB, "shutdown"], env=dict(env, CTDB_SOCKET=real),
                       capture_output=True, timeout=60)
        pidfile = os.path.join(base, "run", "ctdbd.pid")
        try:
            with open(pidfile) as fh:
                os.kill(int(fh.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        if os.environ.get("KEEP"):
            print("kept", base)
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
