//! The eventd service: the core behind the transport, and the eventd
//! socket (`$rundir/eventd.socket`) that Debian's `ctdb event` tool
//! speaks to (CTDB's eventd protocol, `ctdb_legacy_proto::eventd`).
//!
//! Each connection gets a reader task that cuts the byte stream into
//! requests and a writer fed by a channel; the core sees requests tagged
//! with the connection's number and answers through
//! [`Action::SocketReply`]. A malformed request closes its connection, as
//! CTDB's eventd does; the service goes on.

use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctdb_legacy_proto::eventd::{self as wire, EventCommand, EventReply, EventRequest, EventRequestBody, ScriptAction};
use ctdb_legacy_proto::{Timeval, Wire};
use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{drain, BoxFuture, Service, ServiceError, ServiceIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::core::{Action, EventStatus, Eventd, Origin, Reply, RunRequest};

/// eventd as a service of the daemon.
pub struct EventdService {
    core: Eventd,
    /// `$rundir/eventd.socket` (None: no socket, as in tests).
    socket: Option<PathBuf>,
    out: VecDeque<Packet>,
    replies: VecDeque<(u64, Vec<u8>)>,
}

impl EventdService {
    /// A service around `core`, listening on `socket`.
    pub fn new(core: Eventd, socket: Option<PathBuf>) -> EventdService {
        EventdService { core, socket, out: VecDeque::new(), replies: VecDeque::new() }
    }

    fn pump(&mut self) {
        while let Some(a) = self.core.poll_action() {
            match a {
                Action::Send(p) => self.out.push_back(p),
                Action::SocketReply { conn, reqid, reply } => {
                    self.replies.push_back((conn, encode_reply(reqid, reply).to_bytes()))
                }
            }
        }
    }

    /// A request from a socket client.
    fn request(&mut self, now: Instant, conn: u64, req: EventRequest) {
        let reqid = req.reqid;
        match req.body {
            EventRequestBody::Run { component, event, args, timeout_secs, flags } => {
                let run = RunRequest {
                    component,
                    event,
                    args: args.unwrap_or_default(),
                    timeout: Duration::from_secs(u64::from(timeout_secs)),
                    run_all: flags & wire::RUN_ALL != 0,
                };
                self.core.submit(now, run, Origin::Socket { conn, reqid });
            }
            EventRequestBody::Status { component, event } => {
                let r = self.core.status(&component, &event);
                self.replies.push_back((conn, encode_reply(reqid, r).to_bytes()));
            }
            EventRequestBody::Script { component, script, action } => {
                let r = self.core.script(&component, &script, action == ScriptAction::Enable);
                self.replies.push_back((conn, encode_reply(reqid, r).to_bytes()));
            }
        }
        self.pump();
    }
}

fn timeval(t: SystemTime) -> Timeval {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timeval { sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), usec: i64::from(d.subsec_micros()) }
}

fn wire_status(s: EventStatus) -> wire::EventStatus {
    wire::EventStatus {
        summary: s.summary,
        scripts: s
            .scripts
            .into_iter()
            .map(|x| wire::ScriptStatus {
                name: x.name,
                begin: timeval(x.begin),
                end: timeval(x.end),
                result: x.result,
                output: (!x.output.is_empty()).then(|| x.output.into_bytes()),
            })
            .collect(),
    }
}

fn encode_reply(reqid: u32, r: Reply) -> EventReply {
    match r {
        Reply::Run(result) => EventReply::new(reqid, EventCommand::Run, result),
        Reply::Status(0, Some(s)) => EventReply::with_status(reqid, wire_status(s)),
        Reply::Status(result, _) => EventReply::new(reqid, EventCommand::Status, result),
        Reply::Script(result) => EventReply::new(reqid, EventCommand::Script, result),
    }
}

/// What connection tasks tell the service loop.
enum SocketEvent {
    Request(u64, EventRequest),
    Closed(u64),
}

/// Read requests from one client until it goes or sends garbage.
async fn read_requests(conn: u64, mut rd: tokio::net::unix::OwnedReadHalf, tx: mpsc::UnboundedSender<SocketEvent>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    'outer: loop {
        loop {
            let need = match wire::peek_event_packet_len(&buf) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    warn!("eventd: client {conn}: bad packet length: {e}; closing");
                    break 'outer;
                }
            };
            if buf.len() < need {
                break;
            }
            let packet: Vec<u8> = buf.drain(..need).collect();
            match EventRequest::from_bytes(&packet) {
                Ok(req) => {
                    if tx.send(SocketEvent::Request(conn, req)).is_err() {
                        break 'outer;
                    }
                }
                Err(e) => {
                    warn!("eventd: client {conn}: malformed request: {e}; closing");
                    break 'outer;
                }
            }
        }
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = tx.send(SocketEvent::Closed(conn));
}

async fn write_replies(mut wr: tokio::net::unix::OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(bytes) = rx.recv().await {
        if wr.write_all(&bytes).await.is_err() {
            break;
        }
    }
}

fn bind(path: &PathBuf) -> std::io::Result<UnixListener> {
    // A socket left by a daemon that died; the pid file guards against a
    // second live daemon.
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(l)
}

impl Service for EventdService {
    fn id(&self) -> ServiceId {
        ServiceId::EVENTD
    }

    fn activate(&mut self, now: Instant) {
        self.core.activate(now);
        self.pump();
    }

    fn dispatch(&mut self, now: Instant, packet: Packet) {
        self.core.dispatch(now, packet);
        self.pump();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.pump();
    }

    /// The shutdown event, while processd still runs (eventd stops with
    /// the first group), bounded by its deadline.
    fn begin_stop(&mut self, now: Instant) -> Duration {
        self.core.shutdown(now);
        self.pump();
        self.core.script_timeout() + Duration::from_secs(1)
    }

    fn stop_done(&self) -> bool {
        self.core.idle()
    }

    fn poll_output(&mut self) -> Option<Packet> {
        self.out.pop_front()
    }

    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(serve(*self, io))
    }
}

async fn serve(mut svc: EventdService, mut io: ServiceIo) -> Result<(), ServiceError> {
    let listener = match &svc.socket {
        Some(path) => match bind(path) {
            Ok(l) => {
                info!("eventd: listening on {}", path.display());
                Some(l)
            }
            Err(e) => {
                return Err(ServiceError::Io {
                    service: "eventd",
                    context: format!("binding {}", path.display()),
                    source: e,
                })
            }
        },
        None => None,
    };
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<SocketEvent>();
    let mut writers: HashMap<u64, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut next_conn = 0u64;
    let mut stop_by: Option<Instant> = None;
    svc.activate(Instant::now());
    loop {
        drain(&mut svc, &io.outbox)?;
        while let Some((conn, bytes)) = svc.replies.pop_front() {
            // A client that left before its answer: nothing to do.
            if let Some(w) = writers.get(&conn) {
                let _ = w.send(bytes);
            }
        }
        let deadline = [svc.poll_timeout(), stop_by].into_iter().flatten().min();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        let accept = async {
            match &listener {
                Some(l) => l.accept().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            p = io.inbox.recv() => match p {
                Some(p) => svc.dispatch(Instant::now(), p),
                None => break,
            },
            _ = sleep => svc.handle_timeout(Instant::now()),
            a = accept => match a {
                Ok((stream, _)) => {
                    next_conn += 1;
                    let (rd, wr) = UnixStream::into_split(stream);
                    let (tx, rx) = mpsc::unbounded_channel();
                    writers.insert(next_conn, tx);
                    tokio::spawn(read_requests(next_conn, rd, ev_tx.clone()));
                    tokio::spawn(write_replies(wr, rx));
                    debug!("eventd: client {next_conn} connected");
                }
                Err(e) => warn!("eventd: accept: {e}"),
            },
            e = ev_rx.recv() => match e {
                Some(SocketEvent::Request(conn, req)) => svc.request(Instant::now(), conn, req),
                Some(SocketEvent::Closed(conn)) => {
                    writers.remove(&conn);
                }
                None => {}
            },
            r = io.shutdown.changed(), if stop_by.is_none() => {
                if r.is_err() || *io.shutdown.borrow() {
                    let now = Instant::now();
                    stop_by = Some(now + svc.begin_stop(now));
                }
            }
        }
        if stop_by.is_some_and(|t| svc.stop_done() || Instant::now() >= t) {
            break;
        }
    }
    drain(&mut svc, &io.outbox)?;
    if let Some(path) = &svc.socket {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
