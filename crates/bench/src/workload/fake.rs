//! A fake cluster for the workloads' own tests: N client sockets served by
//! one task, just enough of the legacy protocol (GET_PNN, PING,
//! REGISTER_SRVID, messages to a node or BROADCAST_CONNECTED), and a way to
//! make it deliver wrong results. It proves that a daemon that loses,
//! duplicates, reorders or corrupts messages fails the run instead of
//! scoring.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use ctdb_legacy_proto::{peek_packet_len, pnn, Frame, Opcode, Packet, ReplyControl, ReqMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::Nodes;

/// What the fake does wrong, to the `n`-th message it delivers (from 0).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: every message delivered once, in order.
    None,
    /// Deliver message n twice.
    Duplicate(u64),
    /// Drop message n.
    Drop(u64),
    /// Deliver message n after message n+1 (to the same client).
    Swap(u64),
    /// Flip a bit in the last payload byte of message n.
    Corrupt(u64),
    /// PING answers 0 clients.
    PingZero,
}

/// A connected client: its id and its writer's queue.
type ClientTx = (u64, mpsc::UnboundedSender<Vec<u8>>);

#[derive(Default)]
struct State {
    /// Per node: connected clients.
    clients: HashMap<u32, Vec<ClientTx>>,
    /// (node, srvid) → client ids.
    registered: HashMap<(u32, u64), Vec<u64>>,
    next_client: u64,
    delivered: u64,
    /// A message held back by [`Fault::Swap`], with its client's id.
    held: Option<(u64, Vec<u8>)>,
}

struct Fake {
    state: Mutex<State>,
    fault: Fault,
    nodes: u32,
}

impl Fake {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Deliver `msg` to every registration of its srvid on `node`,
    /// applying the fault.
    fn deliver(&self, node: u32, frame: &Frame, msg: &ReqMessage) {
        let mut st = self.lock();
        let ids = st.registered.get(&(node, msg.srvid)).cloned().unwrap_or_default();
        for id in ids {
            let Some(tx) =
                st.clients.get(&node).and_then(|cs| cs.iter().find(|(i, _)| *i == id)).map(|(_, tx)| tx.clone())
            else {
                continue;
            };
            let k = st.delivered;
            st.delivered += 1;
            let mut out = Frame::new(Packet::ReqMessage(msg.clone()), node, frame.header.srcnode, 0);
            if self.fault == Fault::Corrupt(k) {
                if let Packet::ReqMessage(m) = &mut out.packet {
                    if let Some(b) = m.data.last_mut() {
                        *b ^= 1;
                    }
                }
            }
            let bytes = out.encode(true);
            match self.fault {
                Fault::Drop(n) if n == k => {}
                Fault::Duplicate(n) if n == k => {
                    let _ = tx.send(bytes.clone());
                    let _ = tx.send(bytes);
                }
                Fault::Swap(n) if n == k => st.held = Some((id, bytes)),
                _ => {
                    let _ = tx.send(bytes);
                    // Only behind a later message to the same client is it
                    // reordered; to another client it would be just late.
                    if st.held.as_ref().is_some_and(|(held_id, _)| *held_id == id) {
                        if let Some((_, held)) = st.held.take() {
                            let _ = tx.send(held);
                        }
                    }
                }
            }
        }
    }
}

/// A fake cluster of `n` nodes with sockets in `dir`; served until the
/// runtime ends.
pub fn start(dir: &Path, n: u32, fault: Fault) -> std::io::Result<Nodes> {
    let fake = Arc::new(Fake { state: Mutex::new(State::default()), fault, nodes: n });
    let mut sockets = Vec::new();
    for node in 0..n {
        let path = dir.join(format!("node.{node}.socket"));
        let listener = UnixListener::bind(&path)?;
        sockets.push(path);
        let fake = Arc::clone(&fake);
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(Arc::clone(&fake), node, s));
            }
        });
    }
    Ok(Nodes { sockets })
}

async fn serve(fake: Arc<Fake>, node: u32, s: UnixStream) {
    let (mut rd, mut wr) = s.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let id = {
        let mut st = fake.lock();
        st.next_client += 1;
        let id = st.next_client;
        st.clients.entry(node).or_default().push((id, tx.clone()));
        id
    };
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    loop {
        let mut len = [0u8; 4];
        if rd.read_exact(&mut len).await.is_err() {
            break;
        }
        let Ok(Some(total)) = peek_packet_len(&len) else { break };
        let mut buf = vec![0u8; total];
        buf[..4].copy_from_slice(&len);
        if rd.read_exact(&mut buf[4..]).await.is_err() {
            break;
        }
        let Ok(frame) = Frame::decode(&buf) else { break };
        match &frame.packet {
            Packet::ReqControl(c) => {
                let status = match c.opcode {
                    Opcode::GET_PNN => node as i32,
                    Opcode::PING if fake.fault == Fault::PingZero => 0,
                    Opcode::PING => {
                        let dest =
                            if frame.header.destnode == pnn::CURRENT_NODE { node } else { frame.header.destnode };
                        fake.lock().clients.get(&dest).map_or(0, Vec::len) as i32
                    }
                    Opcode::REGISTER_SRVID => {
                        fake.lock().registered.entry((node, c.srvid)).or_default().push(id);
                        0
                    }
                    _ => -1,
                };
                let reply = Frame::new(
                    Packet::ReplyControl(ReplyControl { status, data: Vec::new(), errmsg: None }),
                    frame.header.srcnode,
                    node,
                    frame.header.reqid,
                );
                let _ = tx.send(reply.encode(true));
            }
            Packet::ReqMessage(m) => {
                let targets: Vec<u32> = match frame.header.destnode {
                    pnn::BROADCAST_CONNECTED => (0..fake.nodes).collect(),
                    pnn::CURRENT_NODE => vec![node],
                    d => vec![d],
                };
                for t in targets {
                    fake.deliver(t, &frame, m);
                }
            }
            _ => {}
        }
    }
    let mut st = fake.lock();
    if let Some(cs) = st.clients.get_mut(&node) {
        cs.retain(|(i, _)| *i != id);
    }
    for ids in st.registered.values_mut() {
        ids.retain(|i| *i != id);
    }
}
