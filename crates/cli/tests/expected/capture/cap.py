#!/usr/bin/env python3
"""Run Debian's ctdb under strace; save stdout, stderr, rc, the data of
each control reply (by request opcode) and of each message received as
hex, and the messages the tool sent (`sent DEST SRVID DATA` lines)."""
import re, subprocess, sys, struct, os
name = sys.argv[1]; args = sys.argv[2:]
out = os.path.join(os.environ.get("CAPTURE_DIR", "."), name)
for suf in (".replies", ".stderr"):
    if os.path.exists(out + suf): os.unlink(out + suf)
tr = out + ".trace"
p = subprocess.run(["strace", "-e", "trace=read,write", "-xx", "-s", "100000", "-o", tr, "ctdb"] + args,
                   capture_output=True, start_new_session=True)
open(out + ".txt", "wb").write(p.stdout)
if p.stderr: open(out + ".stderr", "wb").write(p.stderr)
open(out + ".rc", "w").write(f"{p.returncode}\n")
# socket fd: the one we write ctdb packets to
rx = re.compile(r'^(read|write)\((\d+), "((?:\\x[0-9a-f]{2})*)"')
writes = {}; reads = []
ops = {}
buf = b''
pending = []
sockfd = None  # the daemon socket: the fd the first packet is written to
for line in open(tr):
    m = rx.match(line)
    if not m: continue
    kind, fd, data = m.group(1), int(m.group(2)), bytes.fromhex(m.group(3).replace('\\x', ''))
    if fd < 4: continue
    if kind == 'write' and len(data) >= 32 and data[4:8] == b'BDTC':
        sockfd = fd
    if fd != sockfd: continue  # other files the tool reads (the nodes file)
    if kind == 'write' and len(data) >= 32 and data[4:8] == b'BDTC':
        op = struct.unpack_from('<I', data, 16)[0]
        reqid = struct.unpack_from('<I', data, 28)[0]
        if op == 7:
            ops[reqid] = (struct.unpack_from('<I', data, 32)[0], struct.unpack_from('<I', data, 20)[0], data[60:60+struct.unpack_from('<I', data, 56)[0]].hex())
        elif op == 5:
            dest = struct.unpack_from('<I', data, 20)[0]
            srvid, dlen = struct.unpack_from('<QI', data, 32)
            with open(f"{out}.replies", "a") as f:
                f.write(f"sent {dest:#x} {srvid:#x} {data[44:44+dlen].hex() or '-'}\n")
    elif kind == 'read':
        buf += data
        while len(buf) >= 4:
            ln = struct.unpack_from('<I', buf, 0)[0]
            if len(buf) < ln: break
            pkt, buf = buf[:ln], buf[ln:]
            op = struct.unpack_from('<I', pkt, 16)[0]; reqid = struct.unpack_from('<I', pkt, 28)[0]
            if op == 8:
                status, dlen, elen = struct.unpack_from('<iII', pkt, 32)
                c, dest, req = ops.get(reqid, (-1, -1, ''))
                with open(f"{out}.replies", "a") as f:
                    f.write(f"control {c} {dest:#x} {req or '-'} {status} {pkt[44:44+dlen].hex() or '-'} {pkt[44+dlen:44+dlen+elen].hex() or '-'}\n")
            elif op == 5:
                srvid, dlen = struct.unpack_from('<QI', pkt, 32)
                with open(f"{out}.replies", "a") as f:
                    f.write(f"message {srvid:#x} {pkt[44:44+dlen].hex() or '-'}\n")
os.unlink(tr)
sys.stdout.buffer.write(p.stdout); sys.stderr.buffer.write(p.stderr)
print("rc", p.returncode)
