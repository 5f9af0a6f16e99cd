//! The transport's I/O: the router loop, the node listener, dialling, and one
//! reader and one writer task per node link.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ctdb_proto::{Body, Endpoint, Flags, Msg, Packet, ServiceId, TransportStats};
use ctdb_service::{BoxFuture, Service, ServiceError, ServiceIo};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::links::{Action, Input, Keepalive, Links};
use crate::wire::read_packet;

/// How long a new connection may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// Tunable slots the transport reads from clusterd's state.
const SLOT_KEEPALIVE_INTERVAL: usize = 4;
const SLOT_KEEPALIVE_LIMIT: usize = 5;

/// What the transport needs to know.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// This node.
    pub pnn: u32,
    /// Every slot of the nodes file (index = pnn, `None` = deleted).
    pub nodes: Vec<Option<IpAddr>>,
    /// The node port (4379).
    pub port: u16,
    /// The keepalive settings at start (the tunables follow clusterd's
    /// state afterwards).
    pub keepalive: Keepalive,
}

enum Event {
    LinkReady { pnn: u32, stream: TcpStream },
    DialFailed { pnn: u32, error: String },
    Packet { pnn: u32, link: u64, packet: Packet },
    Closed { pnn: u32, link: u64, reason: String },
}

struct LinkHandle {
    id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
}

/// The transport of one node. Register every service with
/// [`Transport::register`] before running.
pub struct Transport {
    cfg: TransportConfig,
    mailboxes: HashMap<ServiceId, mpsc::UnboundedSender<Packet>>,
    out_tx: mpsc::UnboundedSender<Packet>,
    out_rx: mpsc::UnboundedReceiver<Packet>,
    shutdown: watch::Receiver<bool>,
    listener: Option<TcpListener>,
    links: HashMap<u32, LinkHandle>,
    next_link: u64,
    stats: TransportStats,
    /// The keepalive tunables last seen (seconds, count).
    keepalive: (u32, u32),
    pending_out: Vec<Packet>,
    /// Inputs for the link core that arrived as messages.
    pending_inputs: Vec<Input>,
}

impl Transport {
    /// A transport for `cfg`; stops when `shutdown` becomes true.
    pub fn new(cfg: TransportConfig, shutdown: watch::Receiver<bool>) -> Transport {
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let keepalive = cfg.keepalive.tunables;
        Transport {
            cfg,
            mailboxes: HashMap::new(),
            out_tx,
            out_rx,
            shutdown,
            listener: None,
            links: HashMap::new(),
            next_link: 1,
            stats: TransportStats::default(),
            keepalive,
            pending_out: Vec::new(),
            pending_inputs: Vec::new(),
        }
    }

    /// Give a service its mailbox and outbox; it stops with the transport.
    pub fn register(&mut self, id: ServiceId) -> ServiceIo {
        let shutdown = self.shutdown.clone();
        self.register_with_shutdown(id, shutdown)
    }

    /// Like [`Transport::register`], with a shutdown signal of its own, so
    /// masterd can stop services in order (clusterd lets go of the cluster
    /// lock while the node links still carry its goodbye).
    pub fn register_with_shutdown(&mut self, id: ServiceId, shutdown: watch::Receiver<bool>) -> ServiceIo {
        let (tx, rx) = mpsc::unbounded_channel();
        self.mailboxes.insert(id, tx);
        ServiceIo { pnn: self.cfg.pnn, inbox: rx, outbox: self.out_tx.clone(), shutdown }
    }

    /// Bind the node port on this node's address. Done before the daemon
    /// reports itself started, so a busy port is a start-up error.
    pub async fn bind(&mut self) -> Result<SocketAddr, ServiceError> {
        let ip = self.own_addr()?;
        let addr = SocketAddr::new(ip, self.cfg.port);
        let io_err = |context: String, source| ServiceError::Io { service: "transport", context, source };
        let sock = match ip {
            IpAddr::V4(_) => TcpSocket::new_v4(),
            IpAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| io_err("socket".into(), e))?;
        sock.set_reuseaddr(true).map_err(|e| io_err("SO_REUSEADDR".into(), e))?;
        sock.bind(addr).map_err(|e| io_err(format!("bind {addr}"), e))?;
        let listener = sock.listen(128).map_err(|e| io_err(format!("listen {addr}"), e))?;
        self.listener = Some(listener);
        Ok(addr)
    }

    fn own_addr(&self) -> Result<IpAddr, ServiceError> {
        self.cfg.nodes.get(self.cfg.pnn as usize).copied().flatten().ok_or_else(|| ServiceError::Config {
            service: "transport",
            message: format!("pnn {} has no address in the nodes file", self.cfg.pnn),
        })
    }

    /// Run the transport on a thread of its own with its own runtime, so
    /// that keepalives go out and are noticed on time whatever the other
    /// services' loop is busy with (a long database operation must not
    /// make the other nodes think this one is dead). The receiver reports
    /// the end of the run.
    pub fn spawn_thread(
        self,
        io: ServiceIo,
    ) -> std::io::Result<tokio::sync::oneshot::Receiver<Result<(), ServiceError>>> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new().name("transport".into()).spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(Box::new(self).run(io)),
                Err(source) => {
                    Err(ServiceError::Io { service: "transport", context: "starting its runtime".into(), source })
                }
            };
            let _ = done_tx.send(result);
        })?;
        Ok(done_rx)
    }

    async fn run_inner(mut self) -> Result<(), ServiceError> {
        if self.listener.is_none() {
            self.bind().await?;
        }
        let listener = self.listener.take().ok_or(ServiceError::TransportClosed)?;
        // Bound before the daemon reported itself started, maybe on another
        // runtime: move the socket to this one's reactor.
        let io_err = |context: &str, source| ServiceError::Io { service: "transport", context: context.into(), source };
        let listener = listener
            .into_std()
            .and_then(TcpListener::from_std)
            .map_err(|e| io_err("moving the listener to the transport's thread", e))?;
        let own_ip = self.own_addr()?;
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
        let now = Instant::now();
        let mut core = Links::new(now, self.cfg.pnn, &self.cfg.nodes, self.cfg.keepalive);
        let (interval, limit) = core.keepalive();
        info!("transport: keepalive every {interval:?}, a node is dead after {limit} silent intervals");
        core.handle(now, Input::Tick);
        let mut shutdown = self.shutdown.clone();
        loop {
            for input in std::mem::take(&mut self.pending_inputs) {
                core.handle(Instant::now(), input);
            }
            self.apply(&mut core, own_ip, &ev_tx);
            let deadline = core.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                p = self.out_rx.recv() => match p {
                    Some(p) => self.route(&mut core, p),
                    None => break,
                },
                ev = ev_rx.recv() => if let Some(ev) = ev { self.event(&mut core, ev, &ev_tx) },
                acc = listener.accept() => match acc {
                    Ok((stream, peer)) => self.accept(&core, stream, peer, ev_tx.clone()),
                    Err(e) => warn!("transport: accept failed: {e}"),
                },
                _ = sleep => core.handle(Instant::now(), Input::Tick),
                r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { break },
            }
        }
        for (_, link) in self.links.drain() {
            link.reader.abort();
        }
        Ok(())
    }

    /// Carry out the core's actions.
    fn apply(&mut self, core: &mut Links, own_ip: IpAddr, ev_tx: &mpsc::UnboundedSender<Event>) {
        while let Some(action) = core.poll_action() {
            match action {
                Action::Dial { pnn, addr } => {
                    let ev_tx = ev_tx.clone();
                    let me = self.cfg.pnn;
                    let port = self.cfg.port;
                    tokio::spawn(async move {
                        let ev = match dial(me, pnn, own_ip, SocketAddr::new(addr, port)).await {
                            Ok(stream) => Event::LinkReady { pnn, stream },
                            Err(error) => Event::DialFailed { pnn, error },
                        };
                        let _ = ev_tx.send(ev);
                    });
                }
                Action::SendKeepalive { pnn } => {
                    let p = Packet::new(
                        Endpoint::new(pnn, ServiceId::TRANSPORT),
                        Endpoint::new(self.cfg.pnn, ServiceId::TRANSPORT),
                        0,
                        Body::Keepalive,
                    );
                    if self.send_link(pnn, &p) {
                        self.stats.keepalive_packets_sent = self.stats.keepalive_packets_sent.wrapping_add(1);
                    }
                }
                Action::Close { pnn, link, reason } => {
                    if self.links.get(&pnn).is_some_and(|l| l.id == link) {
                        if let Some(l) = self.links.remove(&pnn) {
                            l.reader.abort();
                        }
                    }
                    warn!("transport: closing link to node {pnn}: {reason}");
                }
                Action::PeerUp { pnn } => {
                    info!("transport: node {pnn} connected");
                    self.local(self.msg_to_clusterd(Msg::PeerUp { pnn }));
                }
                Action::PeerDown { pnn } => {
                    if let Some(l) = self.links.get(&pnn) {
                        if !core.is_up(pnn) {
                            l.reader.abort();
                            self.links.remove(&pnn);
                        }
                    }
                    warn!("transport: node {pnn} disconnected");
                    self.local(self.msg_to_clusterd(Msg::PeerDown { pnn }));
                }
            }
        }
    }

    fn msg_to_clusterd(&self, msg: Msg) -> Packet {
        Packet::new(
            Endpoint::new(self.cfg.pnn, ServiceId::CLUSTERD),
            Endpoint::new(self.cfg.pnn, ServiceId::TRANSPORT),
            0,
            Body::Msg(msg),
        )
    }

    fn event(&mut self, core: &mut Links, ev: Event, ev_tx: &mpsc::UnboundedSender<Event>) {
        let now = Instant::now();
        match ev {
            Event::LinkReady { pnn, stream } => {
                let id = self.next_link;
                self.next_link += 1;
                let _ = stream.set_nodelay(true);
                let (rd, mut wr) = stream.into_split();
                // Read what the peer has sent in one go; framing splits it.
                let mut rd = tokio::io::BufReader::with_capacity(64 * 1024, rd);
                let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
                tokio::spawn(async move {
                    let _ = ctdb_service::write_queued(&mut wr, &mut rx).await;
                    let _ = wr.shutdown().await;
                });
                let ev_tx = ev_tx.clone();
                let reader = tokio::spawn(async move {
                    let reason = loop {
                        match read_packet(&mut rd).await {
                            Ok(Some(packet)) => {
                                if ev_tx.send(Event::Packet { pnn, link: id, packet }).is_err() {
                                    return;
                                }
                            }
                            Ok(None) => break "connection closed by peer".to_string(),
                            Err(e) => break format!("{e}"),
                        }
                    };
                    let _ = ev_tx.send(Event::Closed { pnn, link: id, reason });
                });
                if let Some(old) = self.links.insert(pnn, LinkHandle { id, tx, reader }) {
                    old.reader.abort();
                }
                core.handle(now, Input::LinkUp { pnn, link: id });
            }
            Event::DialFailed { pnn, error } => {
                debug!("transport: dialling node {pnn} failed: {error}");
                core.handle(now, Input::DialFailed { pnn });
            }
            Event::Packet { pnn, link, packet } => {
                if self.links.get(&pnn).map(|l| l.id) != Some(link) {
                    return;
                }
                core.handle(now, Input::Received { pnn });
                self.stats.node_packets_recv = self.stats.node_packets_recv.wrapping_add(1);
                if packet.body == Body::Keepalive {
                    self.stats.keepalive_packets_recv = self.stats.keepalive_packets_recv.wrapping_add(1);
                    return;
                }
                let dst = packet.header.dst.node;
                if dst == self.cfg.pnn || dst == Endpoint::BROADCAST_CONNECTED || dst == Endpoint::BROADCAST_OTHERS {
                    self.local(packet);
                } else {
                    warn!("transport: node {pnn} sent a packet for node {dst}; dropped (no relaying)");
                }
            }
            Event::Closed { pnn, link, reason } => {
                if self.links.get(&pnn).map(|l| l.id) == Some(link) {
                    warn!("transport: link to node {pnn} failed: {reason}");
                    self.links.remove(&pnn);
                    core.handle(now, Input::LinkDown { pnn, link });
                }
            }
        }
    }

    fn accept(&self, core: &Links, stream: TcpStream, peer: SocketAddr, ev_tx: mpsc::UnboundedSender<Event>) {
        // An IPv4-mapped IPv6 peer address is the IPv4 node it came from.
        let ip = peer.ip().to_canonical();
        let Some(pnn) = core.pnn_of(ip).filter(|&p| core.accepts(p, ip)) else {
            warn!("transport: refusing connection from {peer}: not a lower-numbered node of the nodes file");
            return;
        };
        let me = self.cfg.pnn;
        tokio::spawn(async move {
            match handshake_accept(me, pnn, stream).await {
                Ok(stream) => {
                    let _ = ev_tx.send(Event::LinkReady { pnn, stream });
                }
                Err(e) => warn!("transport: dropping connection from {peer}: {e}"),
            }
        });
    }

    /// Route a packet a local service sent.
    fn route(&mut self, core: &mut Links, p: Packet) {
        let dst = p.header.dst.node;
        if dst == self.cfg.pnn {
            self.local(p);
        } else if dst == Endpoint::BROADCAST_CONNECTED || dst == Endpoint::BROADCAST_OTHERS {
            let peers: Vec<u32> = core.up_peers().collect();
            for pnn in peers {
                if self.send_link(pnn, &p) {
                    core.handle(Instant::now(), Input::Sent { pnn });
                }
            }
            if dst == Endpoint::BROADCAST_CONNECTED {
                self.local(p);
            }
        } else if core.is_up(dst) {
            if self.send_link(dst, &p) {
                core.handle(Instant::now(), Input::Sent { pnn: dst });
            }
        } else {
            debug!("transport: node {dst} is not connected; dropping packet for {}", p.header.dst.service.name());
        }
    }

    fn send_link(&mut self, pnn: u32, p: &Packet) -> bool {
        let Some(link) = self.links.get(&pnn) else {
            return false;
        };
        if link.tx.send(p.encode()).is_err() {
            return false;
        }
        self.stats.node_packets_sent = self.stats.node_packets_sent.wrapping_add(1);
        true
    }

    /// Deliver to a service of this node.
    fn local(&mut self, p: Packet) {
        let svc = p.header.dst.service;
        if svc == ServiceId::TRANSPORT {
            self.dispatch(Instant::now(), p);
            while let Some(out) = self.poll_output() {
                // Replies of the transport's own endpoint go back through
                // the outbox so remote requesters are served too.
                let _ = self.out_tx.send(out);
            }
            return;
        }
        match self.mailboxes.get(&svc) {
            Some(tx) => {
                if tx.send(p).is_err() {
                    debug!("transport: {} has stopped; packet dropped", svc.name());
                }
            }
            None => debug!("transport: no service {} on this node; packet dropped", svc.name()),
        }
    }
}

/// The transport as a service: its endpoint answers statistics requests and
/// follows clusterd's state for the keepalive tunables.
impl Service for Transport {
    fn id(&self) -> ServiceId {
        ServiceId::TRANSPORT
    }

    fn dispatch(&mut self, _now: Instant, p: Packet) {
        let Body::Msg(msg) = p.body else { return };
        match msg {
            Msg::ClusterState(st) => {
                let get = |slot: usize| st.tunables.get(slot).copied();
                if let (Some(i), Some(l)) = (get(SLOT_KEEPALIVE_INTERVAL), get(SLOT_KEEPALIVE_LIMIT)) {
                    if (i, l) != self.keepalive {
                        self.keepalive = (i, l);
                        self.pending_inputs.push(Input::Keepalive { interval: i, limit: l });
                    }
                }
            }
            Msg::StatsRequest => {
                let mut reply =
                    Packet::new(p.header.src, p.header.dst, p.header.reqid, Body::Msg(Msg::Stats(self.stats)));
                reply.header.flags = Flags::REPLY;
                self.pending_out.push(reply);
            }
            Msg::StatsReset => self.stats = TransportStats::default(),
            Msg::NodesChanged { nodes } => {
                self.cfg.nodes = nodes.clone();
                self.pending_inputs.push(Input::Nodes(nodes));
            }
            other => debug!("transport: unexpected message {other:?}"),
        }
    }

    fn poll_output(&mut self) -> Option<Packet> {
        self.pending_out.pop()
    }

    fn run(self: Box<Self>, _io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(self.run_inner())
    }
}

fn hello(me: u32, to: u32) -> Vec<u8> {
    Packet::new(
        Endpoint::new(to, ServiceId::TRANSPORT),
        Endpoint::new(me, ServiceId::TRANSPORT),
        0,
        Body::Msg(Msg::Hello { pnn: me, version: env!("CARGO_PKG_VERSION").into() }),
    )
    .encode()
}

async fn expect_hello(stream: &mut TcpStream, from: u32) -> Result<(), String> {
    let p = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_packet(stream))
        .await
        .map_err(|_| "no hello within the handshake timeout".to_string())?
        .map_err(|e| e.to_string())?
        .ok_or("closed before hello")?;
    match p.body {
        Body::Msg(Msg::Hello { pnn, .. }) if pnn == from => Ok(()),
        Body::Msg(Msg::Hello { pnn, .. }) => Err(format!("says it is node {pnn}, address belongs to node {from}")),
        _ => Err("first packet is not a hello".into()),
    }
}

async fn dial(me: u32, pnn: u32, own_ip: IpAddr, to: SocketAddr) -> Result<TcpStream, String> {
    let sock = match to {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| e.to_string())?;
    // Bind to our node address so the peer can tell who we are by the
    // source address (it only accepts addresses from the nodes file).
    sock.bind(SocketAddr::new(own_ip, 0)).map_err(|e| format!("bind {own_ip}: {e}"))?;
    let mut stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, sock.connect(to))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    stream.write_all(&hello(me, pnn)).await.map_err(|e| e.to_string())?;
    expect_hello(&mut stream, pnn).await?;
    Ok(stream)
}

async fn handshake_accept(me: u32, pnn: u32, mut stream: TcpStream) -> Result<TcpStream, String> {
    expect_hello(&mut stream, pnn).await?;
    stream.write_all(&hello(me, pnn)).await.map_err(|e| e.to_string())?;
    Ok(stream)
}
