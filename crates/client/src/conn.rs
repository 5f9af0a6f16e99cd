//! One connection to ctdbd's Unix socket.
//!
//! Three parts share the socket:
//!
//! ```text
//!  callers ── request()/send() ──► writer task ──► socket
//!     ▲                                              │
//!     │ oneshot per reqid      messages channel      ▼
//!     └──────────────────── reader task ◄────────────┘
//! ```
//!
//! The writer task owns the write half, so a caller that gives up (timeout,
//! cancelled future) can never leave half a packet on the stream. The reader
//! task routes replies to the waiting caller by reqid and queues REQ_MESSAGE
//! packets, which may arrive at any time, also between a request and its
//! reply.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ctdb_legacy_proto::{
    ctrl_flags, peek_packet_len, pnn, Frame, Opcode, Packet, ProtoError, ReplyCall, ReplyControl, ReqCall, ReqControl,
    ReqMessage, HEADER_LEN,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::ClientError;

/// Timeout of the implicit GET_PNN in [`Client::connect`] and of calls that
/// take none; the `ctdb` tool's default `-t`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// State shared by the handle and its two tasks.
struct Shared {
    state: Mutex<State>,
    next_reqid: AtomicU32,
    pnn: AtomicU32,
}

#[derive(Default)]
struct State {
    closed: bool,
    pending: HashMap<u32, oneshot::Sender<Frame>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (single inserts and removes), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Mark the connection dead and wake every waiter with `Closed`.
    fn close(&self) {
        let pending = {
            let mut st = self.lock();
            st.closed = true;
            std::mem::take(&mut st.pending)
        };
        drop(pending);
    }

    /// Request ids count from 1 like Samba's per-connection counter; 0 is
    /// never used because messages carry 0.
    fn next_reqid(&self) -> u32 {
        loop {
            let id = self.next_reqid.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }
}

/// Removes a pending reqid when the waiting future ends, however it ends.
struct PendingGuard<'a> {
    shared: &'a Shared,
    reqid: u32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().pending.remove(&self.reqid);
    }
}

/// One connection to ctdbd's client socket.
///
/// All methods take `&self`: requests may be issued concurrently from
/// several tasks and are matched to their replies by reqid.
pub struct Client {
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    // Messages are queued without bound, as Samba's client does, so that a
    // caller waiting for a reply can never deadlock against a full queue.
    messages: tokio::sync::Mutex<mpsc::UnboundedReceiver<ReqMessage>>,
    reader: JoinHandle<()>,
    // Not aborted on drop: the writer ends by itself once it has written
    // what was queued (see Client::close).
    writer: Option<JoinHandle<()>>,
    default_timeout: Duration,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("pnn", &self.pnn()).finish_non_exhaustive()
    }
}

impl Client {
    /// Connect to the socket at `path`, then learn our pnn with GET_PNN to
    /// CURRENT_NODE (as the `ctdb` tool does), waiting at most
    /// [`DEFAULT_TIMEOUT`].
    pub async fn connect(path: &Path) -> Result<Client, ClientError> {
        Client::connect_with_timeout(path, DEFAULT_TIMEOUT).await
    }

    /// [`Client::connect`] with an explicit timeout for the GET_PNN.
    pub async fn connect_with_timeout(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let client = Client::connect_raw(path).await?;
        let reply = client.control(pnn::CURRENT_NODE, Opcode::GET_PNN, 0, 0, Vec::new(), timeout).await?;
        let Ok(my_pnn) = u32::try_from(reply.status) else {
            return Err(ClientError::ControlFailed {
                opcode: Opcode::GET_PNN,
                status: reply.status,
                errmsg: reply.errmsg,
            });
        };
        client.shared.pnn.store(my_pnn, Ordering::Relaxed);
        Ok(client)
    }

    /// Connect without sending anything; [`Client::pnn`] stays
    /// [`pnn::UNKNOWN`] until [`Client::set_pnn`].
    pub async fn connect_raw(path: &Path) -> Result<Client, ClientError> {
        let stream =
            UnixStream::connect(path).await.map_err(|source| ClientError::Connect { path: path.to_owned(), source })?;
        let (rd, wr) = stream.into_split();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            next_reqid: AtomicU32::new(1),
            pnn: AtomicU32::new(pnn::UNKNOWN),
        });
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (msg_tx, msg_rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(BufReader::new(rd), shared.clone(), msg_tx));
        let writer = tokio::spawn(write_loop(wr, out_rx, shared.clone()));
        Ok(Client {
            shared,
            out: out_tx,
            messages: tokio::sync::Mutex::new(msg_rx),
            reader,
            writer: Some(writer),
            default_timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Write everything queued (messages, NOREPLY controls), then close
    /// the connection. Dropping a `Client` also lets queued packets be
    /// written, but only while the runtime keeps running.
    pub async fn close(mut self) {
        // With its only sender gone, the writer loop ends after draining.
        let (dead, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.out, dead));
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
    }

    /// Our pnn as learned at connect ([`pnn::UNKNOWN`] before).
    pub fn pnn(&self) -> u32 {
        self.shared.pnn.load(Ordering::Relaxed)
    }

    /// Override the pnn used as `srcnode` (and by calls that address our
    /// own node).
    pub fn set_pnn(&self, my_pnn: u32) {
        self.shared.pnn.store(my_pnn, Ordering::Relaxed);
    }

    /// Timeout of the calls that take none (register/deregister srvid).
    pub fn default_timeout(&self) -> Duration {
        self.default_timeout
    }

    /// Set the timeout of the calls that take none.
    pub fn set_default_timeout(&mut self, timeout: Duration) {
        self.default_timeout = timeout;
    }

    /// Whether the connection has failed or been closed by the daemon.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Send `frame` with a fresh reqid and wait for the packet that carries
    /// the same reqid back (REPLY_CONTROL, REPLY_CALL or REPLY_ERROR).
    ///
    /// The packet is padded to 8 bytes like Samba's client library pads it.
    pub async fn request(&self, mut frame: Frame, timeout: Duration) -> Result<Frame, ClientError> {
        let reqid = self.shared.next_reqid();
        frame.header.reqid = reqid;
        let bytes = frame.try_encode(true)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.lock();
            if st.closed {
                return Err(ClientError::Closed);
            }
            st.pending.insert(reqid, tx);
        }
        let _guard = PendingGuard { shared: &self.shared, reqid };
        if self.out.send(bytes).is_err() {
            return Err(ClientError::Closed);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout),
        }
    }

    /// Queue a packet that expects no reply (message, NOREPLY control).
    /// Packets are written in order by the connection's writer task;
    /// [`Client::close`] waits until they are.
    pub fn send_frame(&self, frame: &Frame) -> Result<(), ClientError> {
        let bytes = frame.try_encode(true)?;
        if self.is_closed() || self.out.send(bytes).is_err() {
            return Err(ClientError::Closed);
        }
        Ok(())
    }

    /// Send a control to `destnode` and wait at most `timeout` for the
    /// reply. A reply with a non-zero status is returned as is; only a
    /// timeout, a closed connection or an undecodable reply is an error.
    ///
    /// srcnode is our pnn; reqids count from 1.
    pub async fn control(
        &self,
        destnode: u32,
        opcode: Opcode,
        srvid: u64,
        flags: u32,
        data: Vec<u8>,
        timeout: Duration,
    ) -> Result<ReplyControl, ClientError> {
        let frame = self.control_frame(destnode, opcode, srvid, flags, data);
        let reply = self.request(frame, timeout).await?;
        match reply.packet {
            Packet::ReplyControl(r) => Ok(r),
            _ => Err(ClientError::Proto(ProtoError::Malformed("reply to a control is not a REPLY_CONTROL"))),
        }
    }

    /// Send a REQ_CALL (run a call function on a record, e.g. NULL_FUNC
    /// with IMMEDIATE_MIGRATION to make this node the record's dmaster)
    /// and wait at most `timeout` for its REPLY_CALL.
    ///
    /// As Samba's client library sends it: destnode CURRENT_NODE, srcnode
    /// our pnn. A REPLY_ERROR (or any other answer) is
    /// [`ClientError::Proto`]. ctdbd sends nothing back for an unknown
    /// database or a failed call, so only the timeout ends the wait then.
    pub async fn call(&self, request: ReqCall, timeout: Duration) -> Result<ReplyCall, ClientError> {
        let frame = Frame::new(Packet::ReqCall(request), pnn::CURRENT_NODE, self.pnn(), 0);
        let reply = self.request(frame, timeout).await?;
        match reply.packet {
            Packet::ReplyCall(r) => Ok(r),
            _ => Err(ClientError::Proto(ProtoError::Malformed("reply to a call is not a REPLY_CALL"))),
        }
    }

    /// Send a control with [`ctrl_flags::NOREPLY`]; nothing is awaited.
    /// Broadcast destinations are only accepted this way.
    pub async fn control_noreply(
        &self,
        destnode: u32,
        opcode: Opcode,
        srvid: u64,
        data: Vec<u8>,
    ) -> Result<(), ClientError> {
        let mut frame = self.control_frame(destnode, opcode, srvid, ctrl_flags::NOREPLY, data);
        // The C library still numbers NOREPLY controls.
        frame.header.reqid = self.shared.next_reqid();
        self.send_frame(&frame)
    }

    /// Send a message to every registration of `srvid` on `destnode` (a pnn
    /// or a broadcast value). Messages carry reqid 0.
    pub async fn send_message(&self, destnode: u32, srvid: u64, data: Vec<u8>) -> Result<(), ClientError> {
        let frame = Frame::new(Packet::ReqMessage(ReqMessage { srvid, data }), destnode, self.pnn(), 0);
        self.send_frame(&frame)
    }

    /// Register `srvid` (REGISTER_SRVID, port in the header) so that
    /// messages to it are delivered to [`Client::next_message`].
    pub async fn register_srvid(&self, srvid: u64) -> Result<(), ClientError> {
        self.srvid_control(Opcode::REGISTER_SRVID, srvid).await
    }

    /// Deregister `srvid`.
    pub async fn deregister_srvid(&self, srvid: u64) -> Result<(), ClientError> {
        self.srvid_control(Opcode::DEREGISTER_SRVID, srvid).await
    }

    /// The next REQ_MESSAGE received, in arrival order; `None` once the
    /// connection is closed and every queued message was taken.
    pub async fn next_message(&self) -> Option<ReqMessage> {
        self.messages.lock().await.recv().await
    }

    /// A queued message if there is one, without waiting.
    pub fn try_next_message(&self) -> Option<ReqMessage> {
        self.messages.try_lock().ok()?.try_recv().ok()
    }

    fn control_frame(&self, destnode: u32, opcode: Opcode, srvid: u64, flags: u32, data: Vec<u8>) -> Frame {
        Frame::new(Packet::ReqControl(ReqControl { opcode, srvid, client_id: 0, flags, data }), destnode, self.pnn(), 0)
    }

    async fn srvid_control(&self, opcode: Opcode, srvid: u64) -> Result<(), ClientError> {
        // The tool addresses its own node by pnn once it knows it.
        let dest = match self.pnn() {
            pnn::UNKNOWN => pnn::CURRENT_NODE,
            p => p,
        };
        let r = self.control(dest, opcode, srvid, 0, Vec::new(), self.default_timeout).await?;
        if r.status != 0 {
            return Err(ClientError::ControlFailed { opcode, status: r.status, errmsg: r.errmsg });
        }
        Ok(())
    }
}

/// Read one whole packet; `Ok(None)` on a clean EOF between packets.
async fn read_frame(r: &mut BufReader<OwnedReadHalf>) -> Result<Option<Vec<u8>>, ClientError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    // peek_packet_len bounds the length before we allocate for it.
    let Some(total) = peek_packet_len(&len)? else {
        return Err(ClientError::Proto(ProtoError::Malformed("short length")));
    };
    debug_assert!(total >= HEADER_LEN);
    let mut buf = vec![0u8; total];
    buf[..4].copy_from_slice(&len);
    r.read_exact(&mut buf[4..]).await?;
    Ok(Some(buf))
}

async fn read_loop(mut r: BufReader<OwnedReadHalf>, shared: Arc<Shared>, messages: mpsc::UnboundedSender<ReqMessage>) {
    loop {
        let buf = match read_frame(&mut r).await {
            Ok(Some(buf)) => buf,
            Ok(None) => {
                tracing::debug!("ctdbd closed the connection");
                break;
            }
            Err(e) => {
                tracing::warn!("reading from ctdbd failed: {e}");
                break;
            }
        };
        // A well-framed packet we cannot decode is skipped: the stream is
        // still in sync because its length was valid.
        let frame = match Frame::decode(&buf) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("dropping undecodable packet from ctdbd: {e}");
                continue;
            }
        };
        match frame.packet {
            Packet::ReqMessage(m) => {
                // The receiver lives as long as the Client, which aborts
                // this task when dropped.
                let _ = messages.send(m);
            }
            Packet::ReplyControl(_) | Packet::ReplyCall(_) | Packet::ReplyError(_) => {
                let reqid = frame.header.reqid;
                let waiter = shared.lock().pending.remove(&reqid);
                match waiter {
                    Some(tx) => {
                        let _ = tx.send(frame);
                    }
                    None => tracing::debug!("discarding reply for unknown reqid {reqid}"),
                }
            }
            other => tracing::debug!("ignoring {} from ctdbd", other.operation()),
        }
    }
    shared.close();
}

async fn write_loop(mut w: OwnedWriteHalf, mut out: mpsc::UnboundedReceiver<Vec<u8>>, shared: Arc<Shared>) {
    while let Some(buf) = out.recv().await {
        if let Err(e) = w.write_all(&buf).await {
            tracing::warn!("writing to ctdbd failed: {e}");
            break;
        }
    }
    shared.close();
}
