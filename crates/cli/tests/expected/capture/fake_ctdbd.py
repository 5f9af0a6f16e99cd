import socket, os, sys, struct, time
# fake ctdbd with canned good replies; argv[2] = "op:status[,op:status]" overrides
# (status 'close' closes the connection, 'none' never replies)
p = sys.argv[1]; spec = dict(x.split(':') for x in sys.argv[2].split(',') if x); life = float(sys.argv[3])
try: os.unlink(p)
except FileNotFoundError: pass
s = socket.socket(socket.AF_UNIX); s.bind(p); s.listen(5); s.settimeout(life)
nodemap = struct.pack('<I', 1) + struct.pack('<II', 0, 0) + struct.pack('<HH4s20s', 2, 0x1b11, bytes([127,0,7,1]), b'\0'*20)
names = b':MonitorInterval:EnableBans\0'
canned = {35: (0, b''), 23: (0, b''), 91: (0, nodemap), 138: (0, struct.pack('<I', 5)),
  5: (0, struct.pack('<III', 7, 1, 0)), 15: (0, b''), 124: (0, struct.pack('<I', 0)),
  50: (0, struct.pack('<I', len(names)) + names), 49: (0, struct.pack('<I', 15)), 48: (0, b''),
  3: (2, b''), 30: (123, b''), 7: (0, struct.pack('<i', 3)), 8: (0, b''), 80: (0, struct.pack('<I', 0x30003)),
  0: (0, b''), 151: (0, b''), 36: (0, b''), 17: (0, b'')}
def reply(c, reqid, status, data=b'', err=b''):
    body = struct.pack('<iII', status, len(data), len(err)) + data + err
    ln = 32 + len(body); pad = (-ln) % 8
    c.sendall(struct.pack('<IIIIIIII', ln+pad, 0x43544442, 1, 5, 8, 0, 0, reqid) + body + b'\0'*pad)
end = time.time() + life
while time.time() < end:
    try: c, _ = s.accept()
    except socket.timeout: break
    c.settimeout(life)
    try:
        while True:
            h = c.recv(4)
            if len(h) < 4: break
            ln = struct.unpack('<I', h)[0]; pkt = h
            while len(pkt) < ln: pkt += c.recv(ln - len(pkt))
            op, reqid = struct.unpack_from('<I', pkt, 16)[0], struct.unpack_from('<I', pkt, 28)[0]
            if op != 7: continue
            opcode, = struct.unpack_from('<I', pkt, 32)
            o = spec.get(str(opcode))
            if o == 'close': c.close(); break
            if o == 'none': continue
            st, data = canned.get(opcode, (-1, b''))
            if o is not None: st = int(o); data = b''
            reply(c, reqid, st, data)
    except Exception as e:
        pass
