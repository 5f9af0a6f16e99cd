//! processd as a service of the daemon: the core behind the service trait,
//! fed by the transport's packets, its own timers, and what happens to its
//! children; the core's actions carried out here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{drain, BoxFuture, Service, ServiceError, ServiceIo};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, warn};

use crate::core::{Action, Command, ExitStatus, ProcId, Processd};
use crate::{spawn, wait};

/// How long a stopping processd waits for its killed children to be
/// reaped (SIGKILL is not refused; this only bounds a wedged kernel).
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Bytes read from a pipe at once; also the largest streamed chunk.
const READ_CHUNK: usize = 64 * 1024;

/// Chunks read ahead of the loop. Bounded, so a child that prints faster
/// than the loop takes it waits on its full pipe instead of filling memory.
const OUTPUT_QUEUE: usize = 16;

/// The processd service.
pub struct ProcessdService {
    core: Processd,
}

impl ProcessdService {
    /// processd on node `pnn`.
    pub fn new(pnn: u32) -> ProcessdService {
        ProcessdService { core: Processd::new(pnn) }
    }
}

impl Service for ProcessdService {
    fn id(&self) -> ServiceId {
        ServiceId::PROCESSD
    }
    fn dispatch(&mut self, now: Instant, packet: Packet) {
        self.core.dispatch(now, packet);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }
    fn deactivate(&mut self, now: Instant) {
        self.core.shutdown(now);
    }
    fn poll_output(&mut self) -> Option<Packet> {
        self.core.poll_output()
    }
    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(run(self, io))
    }
}

/// Which pipe of a child.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
enum Pipe {
    /// Its output: stdout (and stderr unless split).
    Output,
    /// Its separate stderr.
    Stderr,
}

/// A chunk read from a child's pipe; `None` at end of file.
type Chunk = (ProcId, Pipe, Option<Vec<u8>>);

/// Something that happened to a child.
enum Event {
    Exited(ProcId, ExitStatus),
    Output(ProcId, Pipe, Vec<u8>),
    Closed(ProcId, Pipe),
}

/// The children of processd, as the OS has them.
struct Children {
    /// Started and not reaped: the only groups it is safe to signal.
    unreaped: HashMap<ProcId, i32>,
    /// Tasks reading pipes.
    readers: HashMap<(ProcId, Pipe), JoinHandle<()>>,
    exits_tx: mpsc::UnboundedSender<(ProcId, ExitStatus)>,
    exits_rx: mpsc::UnboundedReceiver<(ProcId, ExitStatus)>,
    output_tx: mpsc::Sender<Chunk>,
    output_rx: mpsc::Receiver<Chunk>,
}

impl Children {
    fn new() -> Children {
        let (exits_tx, exits_rx) = mpsc::unbounded_channel();
        let (output_tx, output_rx) = mpsc::channel(OUTPUT_QUEUE);
        Children { unreaped: HashMap::new(), readers: HashMap::new(), exits_tx, exits_rx, output_tx, output_rx }
    }

    /// Carry out everything the core asks, including what it asks in
    /// answer to what these actions report.
    fn act(&mut self, core: &mut Processd) {
        while let Some(a) = core.poll_action() {
            match a {
                Action::Spawn { id, command } => self.spawn(core, id, &command),
                Action::Signal { id, pgid, signal } => self.signal(id, pgid, signal),
                Action::Reap { id, pid } => {
                    self.unreaped.remove(&id);
                    if let Err(e) = wait::reap(pid) {
                        debug!("processd: reaping pid {pid}: {e}");
                    }
                }
                Action::CloseOutput { id } => {
                    for pipe in [Pipe::Output, Pipe::Stderr] {
                        if let Some(r) = self.readers.remove(&(id, pipe)) {
                            r.abort();
                        }
                    }
                }
            }
        }
    }

    fn spawn(&mut self, core: &mut Processd, id: ProcId, command: &Command) {
        let started = match spawn::start(command) {
            Ok(s) => s,
            Err(errno) => return core.spawn_failed(Instant::now(), id, errno),
        };
        let pid = started.pid;
        if let Err(e) = wait::watch(id, pid, self.exits_tx.clone()) {
            // A child nobody watches would never be reaped: take it back.
            error!("processd: cannot watch pid {pid}: {e}; killing it");
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = wait::reap(pid);
            return core.spawn_failed(Instant::now(), id, e.raw_os_error().unwrap_or(libc::EAGAIN));
        }
        self.unreaped.insert(id, pid);
        core.spawned(Instant::now(), id, pid);
        self.read(core, id, pid, Pipe::Output, started.output);
        if let Some(fd) = started.stderr {
            self.read(core, id, pid, Pipe::Stderr, fd);
        }
    }

    /// Read pipe `which` of process `id` in a task of its own.
    fn read(&mut self, core: &mut Processd, id: ProcId, pid: i32, which: Pipe, fd: std::os::fd::OwnedFd) {
        match pipe::Receiver::from_owned_fd(fd) {
            Ok(rx) => {
                self.readers.insert((id, which), tokio::spawn(read_pipe(id, which, rx, self.output_tx.clone())));
            }
            Err(e) => {
                warn!("processd: cannot read the {which:?} pipe of pid {pid}: {e}");
                match which {
                    Pipe::Output => core.output_closed(Instant::now(), id),
                    Pipe::Stderr => core.stderr_closed(Instant::now(), id),
                }
            }
        }
    }

    fn signal(&self, id: ProcId, pgid: i32, signal: Signal) {
        // The core never asks for a reaped group; checked again because a
        // wrong kill here could hit an unrelated process.
        if self.unreaped.get(&id) != Some(&pgid) {
            warn!("processd: not signalling group {pgid}: not an unreaped child of ours");
            return;
        }
        if let Err(e) = killpg(Pid::from_raw(pgid), signal) {
            warn!("processd: {signal} to process group {pgid}: {e}");
        }
    }

    async fn next(&mut self) -> Event {
        tokio::select! {
            Some((id, status)) = self.exits_rx.recv() => Event::Exited(id, status),
            Some((id, which, data)) = self.output_rx.recv() => match data {
                Some(data) => Event::Output(id, which, data),
                None => Event::Closed(id, which),
            },
            // Not reached: both senders live in `self`.
            else => std::future::pending().await,
        }
    }

    fn feed(&mut self, core: &mut Processd, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::Exited(id, status) => core.exited(now, id, status),
            Event::Output(id, Pipe::Output, data) => core.output(now, id, &data),
            Event::Output(id, Pipe::Stderr, data) => core.stderr(now, id, &data),
            Event::Closed(id, which) => {
                self.readers.remove(&(id, which));
                match which {
                    Pipe::Output => core.output_closed(now, id),
                    Pipe::Stderr => core.stderr_closed(now, id),
                }
            }
        }
    }
}

impl Drop for Children {
    /// Only reached with children left when the stop gave up on them:
    /// at least nothing keeps running.
    fn drop(&mut self) {
        for (_, pgid) in self.unreaped.drain() {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        for (_, r) in self.readers.drain() {
            r.abort();
        }
    }
}

/// Read a child's pipe until every writer is gone (`None` then).
async fn read_pipe(id: ProcId, which: Pipe, mut rx: pipe::Receiver, tx: mpsc::Sender<Chunk>) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match rx.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send((id, which, Some(buf[..n].to_vec()))).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = tx.send((id, which, None)).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

async fn run(mut svc: Box<ProcessdService>, mut io: ServiceIo) -> Result<(), ServiceError> {
    let mut kids = Children::new();
    let result = serve(&mut svc, &mut kids, &mut io).await;
    // However serving ended, no child outlives the service.
    stop(&mut svc, &mut kids, &io).await;
    result
}

async fn serve(svc: &mut ProcessdService, kids: &mut Children, io: &mut ServiceIo) -> Result<(), ServiceError> {
    loop {
        kids.act(&mut svc.core);
        drain(svc, &io.outbox)?;
        tokio::select! {
            p = io.inbox.recv() => match p {
                Some(p) => svc.core.dispatch(Instant::now(), p),
                None => return Ok(()),
            },
            ev = kids.next() => kids.feed(&mut svc.core, ev),
            _ = sleep_until(svc.core.poll_timeout()) => svc.core.handle_timeout(Instant::now()),
            r = io.shutdown.changed() => {
                if r.is_err() || *io.shutdown.borrow() {
                    return Ok(());
                }
            }
        }
    }
}

/// Kill every group, and reap and answer as usual until no child is left
/// or [`STOP_GRACE`] has passed.
async fn stop(svc: &mut ProcessdService, kids: &mut Children, io: &ServiceIo) {
    svc.core.shutdown(Instant::now());
    let give_up = tokio::time::Instant::now() + STOP_GRACE;
    loop {
        kids.act(&mut svc.core);
        // The transport may be gone already; the answers are then moot.
        let _ = drain(svc, &io.outbox);
        if svc.core.is_idle() {
            return;
        }
        tokio::select! {
            ev = kids.next() => kids.feed(&mut svc.core, ev),
            _ = sleep_until(svc.core.poll_timeout()) => svc.core.handle_timeout(Instant::now()),
            _ = tokio::time::sleep_until(give_up) => {
                warn!("processd: {} children not reaped {STOP_GRACE:?} after SIGKILL", kids.unreaped.len());
                return;
            }
        }
    }
}
