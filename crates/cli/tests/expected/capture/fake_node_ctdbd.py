#!/usr/bin/env python3
"""A fake ctdbd for the node-state commands' error paths.

Usage: fake_node_ctdbd.py SOCKET SPEC SECONDS

It plays a 3-node cluster (127.0.7.1-3, we are node 0) with state:
DISABLE_NODE/ENABLE_NODE/STOP_NODE/CONTINUE_NODE/SET_BAN_STATE change the
target's flags in the nodemap, SET_RECMODE(1) starts a recovery that ends
one second later with a new generation, TAKEOVER_RUN and DISABLE_RECOVERIES
messages are answered to the reply srvid. SPEC is comma separated:

  OPCODE:STATUS   reply STATUS (no data) to that control; 'none' = never
                  reply, 'close' = hang up
  leader:N|none   broadcast LEADER N every second (default 0)
  takeover:V|none reply V to TAKEOVER_RUN (default: the leader's pnn)
  disrec:V|none   reply V to DISABLE_RECOVERIES (default: the dest pnn)
  flags:A/B/C     initial node flags (default 0/0/0)
  nochange:1      the flag-changing controls succeed but change nothing
  reclock:PATH    GET_RECLOCK_FILE answer ('-' = no lock)
  file:A/B/C      nodes file each node reports ('#' = deleted slot)
  regtool:STATUS  status of REGISTER_SRVID for the tool's reply ports
  recfail:1       GET_RECMODE fails (-1) once SET_RECMODE was asked for
"""
import os, socket, struct, sys, threading, time

path, spec_arg, life = sys.argv[1], sys.argv[2], float(sys.argv[3])
spec = dict(x.split(':', 1) for x in spec_arg.split(',') if x)
overrides = {int(k): v for k, v in spec.items() if k.isdigit()}
leader = spec.get('leader', '0')
flags = [int(f, 0) for f in spec.get('flags', '0/0/0').split('/')]
state = {'recmode': 0, 'generation': 0x11223344, 'recovery_end': None}
lock = threading.Lock()


def addr(i):
    return struct.pack('<HH4s20s', 2, 0x1b11, bytes([127, 0, 7, i + 1]), b'\0' * 20)


def nodemap():
    out = struct.pack('<I', len(flags))
    for i, f in enumerate(flags):
        out += struct.pack('<II', i, f) + addr(i)
    return out


def nodes_file():
    entries = spec.get('file', '127.0.7.1/127.0.7.2/127.0.7.3').split('/')
    out = struct.pack('<I', len(entries))
    for i, e in enumerate(entries):
        if e == '#':
            out += struct.pack('<II', i, 0x10) + struct.pack('<HH24s', 2, 0x1b11, b'\0' * 24)
        else:
            ip = bytes(int(x) for x in e.split('.'))
            out += struct.pack('<II', i, 0) + struct.pack('<HH4s20s', 2, 0x1b11, ip, b'\0' * 20)
    return out


def packet(op, dest, reqid, body):
    ln = 32 + len(body)
    pad = (-ln) % 8
    return struct.pack('<IIIIIIII', ln + pad, 0x43544442, 1, 5, op, dest, 0, reqid) + body + b'\0' * pad


def reply(c, reqid, status, data=b''):
    c.sendall(packet(8, 0, reqid, struct.pack('<iII', status, len(data), 0) + data))


def message(c, srvid, data):
    c.sendall(packet(5, 0, 0, struct.pack('<QI', srvid, len(data)) + data))


def answer(opcode, dest, data):
    """Status and data for a control nobody overrode."""
    with lock:
        if state['recovery_end'] and time.time() >= state['recovery_end']:
            state['recmode'], state['generation'], state['recovery_end'] = 0, state['generation'] + 1, None
        nochange = spec.get('nochange') == '1'
        bits = {157: (0x4, True), 158: (0x4, False), 101: (0x20, True), 102: (0x20, False)}
        if opcode in bits and dest < len(flags):
            bit, on = bits[opcode]
            if not nochange:
                flags[dest] = flags[dest] | bit if on else flags[dest] & ~bit
            return 0, b''
        if opcode == 109:
            pnn, secs = struct.unpack('<II', data[:8])
            if not nochange and pnn < len(flags):
                flags[pnn] = flags[pnn] | 0x8 if secs else flags[pnn] & ~0x8
            return 0, b''
        if opcode == 16:
            state['asked'] = True
            if struct.unpack('<I', data[:4])[0] == 1:
                state['recmode'], state['recovery_end'] = 1, time.time() + 1.0
            return 0, b''
        if opcode == 15:
            if spec.get('recfail') == '1' and state.get('asked'):
                return -1, b''
            return state['recmode'], b''
        if opcode == 5:
            return 0, struct.pack('<II', state['generation'], 3) + struct.pack('<III', 0, 1, 2)
        if opcode == 35:
            return 0, b''
        if opcode == 91:
            return 0, nodemap()
        if opcode == 140:
            return 0, nodes_file()
        if opcode == 99:
            path = spec.get('reclock', '/tmp/fake.lock')
            return 0, b'' if path == '-' else path.encode() + b'\0'
        if opcode in (23, 24, 72, 104, 105):
            return 0, b''
    return -1, b''


def serve(c):
    stop = threading.Event()

    def beacon():
        while not stop.wait(1.0):
            if leader != 'none':
                try:
                    message(c, 0xF101000000000000, struct.pack('<I', int(leader) & 0xffffffff))
                except OSError:
                    return

    threading.Thread(target=beacon, daemon=True).start()
    try:
        while True:
            h = c.recv(4)
            if len(h) < 4:
                break
            ln = struct.unpack('<I', h)[0]
            pkt = h
            while len(pkt) < ln:
                more = c.recv(ln - len(pkt))
                if not more:
                    return
                pkt += more
            op, dest, reqid = struct.unpack_from('<I', pkt, 16)[0], struct.unpack_from('<I', pkt, 20)[0], struct.unpack_from('<I', pkt, 28)[0]
            if op == 5:
                srvid, dlen = struct.unpack_from('<QI', pkt, 32)
                data = pkt[44:44 + dlen]
                if srvid == 0xFB00000000000000:
                    v = spec.get('takeover', leader)
                    if v != 'none':
                        _, rsrvid = struct.unpack_from('<I4xQ', data, 0)
                        message(c, rsrvid, struct.pack('<i', int(v)))
                elif srvid == 0xFB04000000000000:
                    v = spec.get('disrec', str(dest))
                    if v != 'none':
                        _, rsrvid = struct.unpack_from('<I4xQ', data, 0)
                        message(c, rsrvid, struct.pack('<i', int(v)))
                continue
            if op != 7:
                continue
            opcode, = struct.unpack_from('<I', pkt, 32)
            dlen, = struct.unpack_from('<I', pkt, 56)
            data = pkt[60:60 + dlen]
            o = overrides.get(opcode)
            srvid_hdr, = struct.unpack_from('<Q', pkt, 40)
            if opcode == 23 and srvid_hdr >> 48 == 0xCE01 and 'regtool' in spec:
                o = spec['regtool']
            if o == 'close':
                c.close()
                return
            if o == 'none':
                continue
            if o is not None:
                reply(c, reqid, int(o))
                continue
            st, out = answer(opcode, dest, data)
            reply(c, reqid, st, out)
    except OSError:
        pass
    finally:
        stop.set()


try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(5)
s.settimeout(life)
end = time.time() + life
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    threading.Thread(target=serve, args=(c,), daemon=True).start()
