//! The gateway's I/O: the Unix socket, one reader and one writer task per
//! client, and the loop that feeds the core.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use ctdb_legacy_proto::peek_packet_len;
use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{BoxFuture, Service, ServiceError, ServiceIo};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::core::{Action, ClientId, Gateway};

/// Packets the client readers may have queued towards the core before a
/// reader waits: a flooding client is slowed down by its own socket buffer
/// instead of growing the daemon's memory.
const EVENT_QUEUE: usize = 1024;

/// Bytes read from a client socket at once.
const READ_BUFFER: usize = 64 * 1024;

/// What the gateway needs.
#[derive(Clone)]
pub struct GatewayConfig {
    /// This node.
    pub pnn: u32,
    /// The Unix socket path.
    pub socket: PathBuf,
    /// Daemon start (wall clock), for UPTIME.
    pub start: SystemTime,
    /// Initial log level (legacy number).
    pub debug_level: i32,
    /// Log handle, for SET_DEBUG.
    pub log: Option<ctdb_log::LogHandle>,
    /// Whether failoverd runs (public-address controls go there).
    pub failover: bool,
}

enum Event {
    Packet { client: ClientId, bytes: Vec<u8> },
    Bad { client: ClientId, reason: String },
    Gone { client: ClientId },
}

struct ClientIo {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
}

/// The gateway service.
pub struct GatewayShell {
    cfg: GatewayConfig,
    core: Gateway,
    listener: Option<UnixListener>,
}

impl GatewayShell {
    /// A gateway for `cfg`; call [`GatewayShell::bind`] before running.
    pub fn new(cfg: GatewayConfig) -> GatewayShell {
        let core = Gateway::new(cfg.pnn, cfg.start, cfg.debug_level).with_failover(cfg.failover);
        GatewayShell { cfg, core, listener: None }
    }

    /// Create the socket: refuse if a daemon already answers on it, remove
    /// a stale file, make the directory private, chmod the socket 0700.
    pub fn bind(&mut self) -> Result<(), ServiceError> {
        let path = self.cfg.socket.clone();
        let io_err = |context: String, source| ServiceError::Io { service: "gateway", context, source };
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return Err(ServiceError::Config {
                    service: "gateway",
                    message: format!("another daemon is listening on {}", path.display()),
                });
            }
            std::fs::remove_file(&path).map_err(|e| io_err(format!("remove stale socket {}", path.display()), e))?;
        }
        if let Some(dir) = path.parent() {
            make_private_dir(dir).map_err(|e| io_err(format!("socket directory {}", dir.display()), e))?;
        }
        let listener = UnixListener::bind(&path).map_err(|e| io_err(format!("bind {}", path.display()), e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err(format!("chmod {}", path.display()), e))?;
        self.listener = Some(listener);
        Ok(())
    }

    async fn run_inner(mut self, mut io: ServiceIo) -> Result<(), ServiceError> {
        if self.listener.is_none() {
            self.bind()?;
        }
        let listener = self.listener.take().ok_or(ServiceError::TransportClosed)?;
        let (ev_tx, mut ev_rx) = mpsc::channel::<Event>(EVENT_QUEUE);
        let mut clients: HashMap<ClientId, ClientIo> = HashMap::new();
        let mut next_client: ClientId = 1;
        loop {
            let deadline = self.core.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                acc = listener.accept() => match acc {
                    Ok((stream, _)) => {
                        let id = next_client;
                        next_client += 1;
                        let pid = stream.peer_cred().ok().and_then(|c| c.pid()).unwrap_or(0);
                        debug!("gateway: client {id} connected (pid {pid})");
                        clients.insert(id, spawn_client(id, stream, ev_tx.clone()));
                        self.core.client_connected(id, pid);
                    }
                    Err(e) => warn!("gateway: accept failed: {e}"),
                },
                ev = ev_rx.recv() => match ev {
                    Some(Event::Packet { client, bytes }) => self.core.client_packet(Instant::now(), SystemTime::now(), client, &bytes),
                    Some(Event::Bad { client, reason }) => {
                        warn!("gateway: client {client}: {reason}; dropping connection");
                        if let Some(c) = clients.remove(&client) { c.reader.abort(); }
                        self.core.client_gone(client);
                    }
                    Some(Event::Gone { client }) => {
                        debug!("gateway: client {client} disconnected");
                        clients.remove(&client);
                        self.core.client_gone(client);
                    }
                    None => break,
                },
                p = io.inbox.recv() => match p {
                    Some(p) => self.core.internal(Instant::now(), SystemTime::now(), p),
                    None => break,
                },
                _ = sleep => self.core.handle_timeout(Instant::now()),
                r = io.shutdown.changed() => if r.is_err() || *io.shutdown.borrow() { break },
            }
            self.apply(&mut clients, &io)?;
        }
        for (_, c) in clients.drain() {
            c.reader.abort();
        }
        Ok(())
    }

    fn apply(&mut self, clients: &mut HashMap<ClientId, ClientIo>, io: &ServiceIo) -> Result<(), ServiceError> {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::ToClient { client, bytes } => {
                    if let Some(c) = clients.get(&client) {
                        let _ = c.tx.send(bytes);
                    }
                }
                Action::Disconnect { client, reason } => {
                    info!("gateway: disconnecting client {client}: {reason}");
                    if let Some(c) = clients.remove(&client) {
                        c.reader.abort();
                    }
                }
                Action::Send(p) => io.outbox.send(p).map_err(|_| ServiceError::TransportClosed)?,
                Action::SetDebug(level) => {
                    if let Some(log) = &self.cfg.log {
                        log.set_level(ctdb_config::DebugLevel(level));
                    }
                }
            }
        }
        Ok(())
    }
}

fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
    }
    let meta = std::fs::metadata(dir)?;
    if meta.permissions().mode() & 0o1000 != 0 {
        // A shared sticky directory such as /tmp: never change its mode.
        warn!("gateway: socket directory {} is shared; the socket itself is mode 0700", dir.display());
        return Ok(());
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn spawn_client(id: ClientId, stream: UnixStream, ev_tx: mpsc::Sender<Event>) -> ClientIo {
    let (rd, mut wr) = stream.into_split();
    // One read syscall brings in every packet the client has queued; the
    // framing then splits them out of the buffer.
    let mut rd = BufReader::with_capacity(READ_BUFFER, rd);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        let _ = ctdb_service::write_queued(&mut wr, &mut rx).await;
    });
    let reader = tokio::spawn(async move {
        let ev = loop {
            match read_legacy(&mut rd).await {
                Ok(Some(bytes)) => {
                    if ev_tx.send(Event::Packet { client: id, bytes }).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break Event::Gone { client: id },
                Err(reason) => break Event::Bad { client: id, reason },
            }
        };
        let _ = ev_tx.send(ev).await;
    });
    ClientIo { tx, reader }
}

/// Read one legacy packet: the length comes first (host order), bounded
/// before allocating.
async fn read_legacy<R: AsyncRead + Unpin>(rd: &mut R) -> Result<Option<Vec<u8>>, String> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = rd.read(&mut len[got..]).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return if got == 0 { Ok(None) } else { Err("connection closed mid-packet".into()) };
        }
        got += n;
    }
    let total = match peek_packet_len(&len) {
        Ok(Some(n)) => n,
        Ok(None) => return Err("short length".into()),
        Err(e) => return Err(format!("bad packet length: {e}")),
    };
    let mut buf = vec![0u8; total];
    buf[..4].copy_from_slice(&len);
    rd.read_exact(&mut buf[4..]).await.map_err(|e| format!("truncated packet: {e}"))?;
    Ok(Some(buf))
}

impl Service for GatewayShell {
    fn id(&self) -> ServiceId {
        ServiceId::GATEWAY
    }

    fn dispatch(&mut self, now: Instant, packet: Packet) {
        self.core.internal(now, SystemTime::now(), packet);
    }

    /// Always `None`: the gateway's actions mix client writes and internal
    /// packets whose order matters, so its own loop ([`Service::run`])
    /// drains the core and carries out every action in order.
    fn poll_output(&mut self) -> Option<Packet> {
        None
    }

    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(self.run_inner(io))
    }
}
