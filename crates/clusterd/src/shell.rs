//! clusterd's I/O: the service loop, and the two child processes clusterd
//! needs, both run by processd on its behalf (clusterd starts none itself).
//!
//! - The **cluster lock helper** follows Samba's mutex-helper contract
//!   (`ctdb_cluster_lock`). It is asked for with `stream_output`, so that
//!   its stdout comes as [`Msg::ProcessOutput`] as it is written (its stderr
//!   goes to the log): the first byte is the answer. After a `'0'` the end
//!   of its stdout (an empty `ProcessOutput`) or its [`Msg::ProcessDone`],
//!   whichever comes first, means the lock is lost. It is released
//!   with SIGTERM ([`Msg::ProcessKill`]), and killed if it does not go
//!   within [`HELPER_EXIT_TIMEOUT`]. While it holds the lock it is pinged
//!   every second with [`PING_SIGNAL`] from this loop, so that a wedged
//!   daemon cannot sit on the lock (our fcntl helper lets go without pings).
//! - A **`nodes list = !command`** is run with a deadline for
//!   GET_NODES_FILE and RELOAD_NODES_FILE; streamed too, so that its stdout
//!   (the list) stays apart from its stderr (logged), as it did when this
//!   shell read the pipes itself.
//!
//! processd's messages arrive in clusterd's inbox like any packet; they are
//! handled here and never reach the core. Everything but reading a nodes
//! file is synchronous (packets in, packets out), so the whole exchange is
//! unit-tested without processes.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ctdb_cluster_lock::{LockReply, PING_SIGNAL};
use ctdb_config::{NodesFile, NodesSource};
use ctdb_proto::{Body, Endpoint, Msg, Packet, ProcessOutcome, ProcessResult, ProcessSpec, ServiceId};
use ctdb_service::{BoxFuture, Service, ServiceError, ServiceIo};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::{Clusterd, LockAction};

/// How long a helper may take to answer (Samba's leader uses 120 s).
const LOCK_TAKE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a `nodes list = !command` may run before it is killed.
const NODES_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Most stdout a `nodes list` command may print (a node list of thousands
/// of lines is far below); past it the command is killed and the read
/// fails. processd does not bound streamed output: this is the bound.
const NODES_OUTPUT_LIMIT: usize = 1024 * 1024;

/// How often the loop proves to a holding helper that it is not wedged.
const HELPER_PING_INTERVAL: Duration = Duration::from_secs(1);

/// How long a helper that was let go may take to exit (an etcd helper
/// revokes its lease first) before it is killed.
const HELPER_EXIT_TIMEOUT: Duration = Duration::from_secs(3);

const SIGTERM: i32 = Signal::SIGTERM as i32;
const SIGKILL: i32 = Signal::SIGKILL as i32;

/// A node list that was read from a file for a request, and the request.
type NodesRead = (Packet, Option<Vec<Option<IpAddr>>>);

/// The lock helper of the current Take.
#[derive(Debug)]
struct Helper {
    /// The request that started it (its name with processd).
    reqid: u64,
    /// Its command line, for the logs.
    cmd: String,
    /// Whether its first byte came.
    answered: bool,
    /// No byte by then: [`LockReply::Timeout`].
    answer_by: Instant,
    /// When to ping it next (while it holds the lock).
    next_ping: Option<Instant>,
}

/// A `nodes list` command running for a request.
#[derive(Debug)]
struct NodesRun {
    /// The request to answer.
    req: Packet,
    /// Its program, for the logs.
    program: String,
    /// Its stdout so far.
    stdout: String,
    /// It printed more than [`NODES_OUTPUT_LIMIT`] and was killed.
    too_long: bool,
}

/// The clusterd service: the core plus how to run the lock helper and where
/// the node list comes from.
pub struct ClusterdShell {
    core: Clusterd,
    lock_command: Option<(PathBuf, Vec<String>)>,
    nodes: NodesSource,
    nodes_tx: mpsc::UnboundedSender<NodesRead>,
    nodes_rx: Option<mpsc::UnboundedReceiver<NodesRead>>,
    helper: Option<Helper>,
    /// Helpers let go (by reqid) that have not ended yet, and when they are
    /// killed if they still have not.
    releasing: HashMap<u64, Instant>,
    nodes_runs: HashMap<u64, NodesRun>,
    /// Request ids towards processd (clusterd's own; its replies are told
    /// apart by their source, so they cannot clash with the core's).
    next_reqid: u64,
    /// Packets to processd.
    out: VecDeque<Packet>,
}

impl ClusterdShell {
    /// A service around `core`; `lock_command` is the helper's program and
    /// arguments (`None`: no cluster lock configured); `nodes` is read again
    /// for GET_NODES_FILE and RELOAD_NODES_FILE.
    pub fn new(core: Clusterd, lock_command: Option<(PathBuf, Vec<String>)>, nodes: NodesSource) -> ClusterdShell {
        let (nodes_tx, nodes_rx) = mpsc::unbounded_channel();
        ClusterdShell {
            core,
            lock_command,
            nodes,
            nodes_tx,
            nodes_rx: Some(nodes_rx),
            helper: None,
            releasing: HashMap::new(),
            nodes_runs: HashMap::new(),
            next_reqid: 0,
            out: VecDeque::new(),
        }
    }

    /// One packet from the transport: processd's news of our children is
    /// handled here; requests that need the node list read are started
    /// here (a hanging `nodes list` command must not stall leadership) and
    /// answered when the list is back; anything else goes to the core.
    fn dispatch(&mut self, now: Instant, p: Packet) {
        if p.header.src.service == ServiceId::PROCESSD {
            self.processd_said(now, p);
        } else {
            match &p.body {
                Body::Msg(Msg::NodesFileRequest) | Body::Msg(Msg::ReloadNodes) => self.read_nodes(p),
                _ => self.core.dispatch(now, p),
            }
        }
        self.lock_actions(now);
    }

    /// When [`ClusterdShell::handle_timeout`] is next due.
    fn poll_timeout(&self) -> Option<Instant> {
        let helper = self.helper.as_ref().and_then(|h| if h.answered { h.next_ping } else { Some(h.answer_by) });
        [self.core.poll_timeout(), helper, self.releasing.values().min().copied()].into_iter().flatten().min()
    }

    /// The core's timers, the helper's answer deadline and pings, and the
    /// kill of helpers that do not let go.
    fn handle_timeout(&mut self, now: Instant) {
        if let Some(h) = self.helper.as_mut() {
            if !h.answered && h.answer_by <= now {
                warn!("Cluster lock helper did not answer within {LOCK_TAKE_TIMEOUT:?}");
                self.let_go(now, true);
                self.core.lock_reply(now, LockReply::Timeout);
            } else if h.next_ping.is_some_and(|t| t <= now) {
                h.next_ping = Some(now + HELPER_PING_INTERVAL);
                let reqid = h.reqid;
                self.signal(reqid, PING_SIGNAL);
            }
        }
        self.kill_stuck(now);
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
        }
        self.lock_actions(now);
    }

    /// Next packet to send: ours to processd first (a release should not
    /// wait behind a burst of broadcasts), then the core's.
    fn poll_output(&mut self) -> Option<Packet> {
        self.out.pop_front().or_else(|| self.core.poll_output())
    }

    /// Carry out what the core asks of the lock helper.
    fn lock_actions(&mut self, now: Instant) {
        while let Some(a) = self.core.poll_lock() {
            match a {
                LockAction::Take => {
                    self.let_go(now, true);
                    self.take(now);
                }
                LockAction::Release => {
                    info!("Releasing the cluster lock");
                    self.let_go(now, true);
                }
            }
        }
    }

    /// Ask processd to start the helper.
    fn take(&mut self, now: Instant) {
        let Some((program, args)) = &self.lock_command else {
            self.core.lock_reply(now, LockReply::Error);
            return;
        };
        let mut argv = vec![program.to_string_lossy().into_owned()];
        argv.extend(args.iter().cloned());
        let cmd = argv.join(" ");
        let reqid = self.new_reqid();
        self.send_processd(
            reqid,
            // It lives as long as it holds the lock; the answer has a
            // deadline of its own.
            Msg::ProcessRun(ProcessSpec::streamed("cluster lock helper", argv)),
        );
        self.helper = Some(Helper { reqid, cmd, answered: false, answer_by: now + LOCK_TAKE_TIMEOUT, next_ping: None });
    }

    /// Let the current helper go, with SIGTERM (which releases the lock)
    /// if `term`; a helper that answered anything but `'0'` ends by itself
    /// and is not signalled (it may be gone already). One that has not
    /// ended within [`HELPER_EXIT_TIMEOUT`] is killed.
    fn let_go(&mut self, now: Instant, term: bool) {
        let Some(h) = self.helper.take() else { return };
        if term {
            self.signal(h.reqid, SIGTERM);
        }
        self.releasing.insert(h.reqid, now + HELPER_EXIT_TIMEOUT);
    }

    /// Kill the helpers let go that have not ended in time.
    fn kill_stuck(&mut self, now: Instant) {
        let stuck: Vec<u64> = self.releasing.iter().filter(|(_, &t)| t <= now).map(|(&r, _)| r).collect();
        for reqid in stuck {
            warn!("Cluster lock helper did not exit within {HELPER_EXIT_TIMEOUT:?} of being let go; killing it");
            self.releasing.remove(&reqid);
            self.signal(reqid, SIGKILL);
        }
    }

    fn processd_said(&mut self, now: Instant, p: Packet) {
        match p.body {
            Body::Msg(Msg::ProcessStarted { reqid, pid }) => match &self.helper {
                Some(h) if h.reqid == reqid => info!("Cluster lock helper started: {} (pid {pid})", h.cmd),
                _ => debug!("clusterd: request {reqid} runs as pid {pid}"),
            },
            Body::Msg(Msg::ProcessOutput { reqid, data }) => self.process_output(now, reqid, &data),
            Body::Msg(Msg::ProcessDone(r)) => self.process_done(now, p.header.reqid, r),
            other => warn!("clusterd: unexpected message from processd: {other:?}"),
        }
    }

    fn process_output(&mut self, now: Instant, reqid: u64, data: &str) {
        if let Some(run) = self.nodes_runs.get_mut(&reqid) {
            if run.too_long {
                return;
            }
            if run.stdout.len() + data.len() > NODES_OUTPUT_LIMIT {
                run.too_long = true;
                self.signal(reqid, SIGKILL);
            } else {
                run.stdout.push_str(data);
            }
            return;
        }
        // Output of a helper already let go is moot.
        let Some(h) = self.helper.as_mut().filter(|h| h.reqid == reqid) else { return };
        let Some(&byte) = data.as_bytes().first() else {
            // End of file on its stdout, which the contract reads as its
            // exit; it may still take a while to exit (an etcd helper
            // revokes its lease first), and is let go without a signal.
            let answered = h.answered;
            self.let_go(now, false);
            if answered {
                info!("Cluster lock helper closed its output: the lock is gone");
                self.core.lock_lost(now);
            } else {
                warn!("Cluster lock helper closed its output without an answer");
                self.core.lock_reply(now, LockReply::Error);
            }
            return;
        };
        if h.answered {
            // Nothing it prints after its answer means anything.
            return;
        }
        h.answered = true;
        let reply = LockReply::from_byte(Some(byte));
        if reply == LockReply::Held {
            h.next_ping = Some(now + HELPER_PING_INTERVAL);
        } else {
            // The contract: it exits after any other answer.
            self.let_go(now, false);
        }
        self.core.lock_reply(now, reply);
    }

    fn process_done(&mut self, now: Instant, reqid: u64, r: ProcessResult) {
        if self.releasing.remove(&reqid).is_some() {
            debug!("clusterd: cluster lock helper let go: {}", outcome_text(r.outcome));
            return;
        }
        if let Some(run) = self.nodes_runs.remove(&reqid) {
            self.nodes_done(now, run, r.outcome);
            return;
        }
        let Some(h) = self.helper.take_if(|h| h.reqid == reqid) else {
            debug!("clusterd: processd answered request {reqid}, which is gone: {}", outcome_text(r.outcome));
            return;
        };
        // The first news of its end (no end of output came before): it
        // could not start, or something it started holds its stdout open.
        if h.answered {
            // It exited holding the lock: the lock is gone with it.
            info!("Cluster lock helper exited: {}", outcome_text(r.outcome));
            self.core.lock_lost(now);
            return;
        }
        match r.outcome {
            ProcessOutcome::NotStarted(errno) => {
                error!("Unable to run cluster lock helper {}: {}", h.cmd, Errno::from_raw(errno).desc())
            }
            other => warn!("Cluster lock helper exited without an answer: {}", outcome_text(other)),
        }
        self.core.lock_reply(now, LockReply::Error);
    }

    /// Read the node list for `req`: a file in a task (answered through
    /// the channel), a command through processd.
    fn read_nodes(&mut self, req: Packet) {
        match &self.nodes {
            NodesSource::File(path) => {
                let (path, source) = (path.clone(), self.nodes.describe());
                let tx = self.nodes_tx.clone();
                tokio::spawn(async move {
                    let nodes = NodesFile::load(&path).map_err(|e| e.to_string());
                    let _ = tx.send((req, addresses(&source, nodes)));
                });
            }
            NodesSource::Command(program, args) => {
                let program = program.to_string_lossy().into_owned();
                let mut argv = vec![program.clone()];
                argv.extend(args.iter().cloned());
                let reqid = self.new_reqid();
                self.send_processd(
                    reqid,
                    // stdout alone is the list; stderr is logged.
                    Msg::ProcessRun(ProcessSpec {
                        timeout_ms: Some(NODES_COMMAND_TIMEOUT.as_millis() as u64),
                        ..ProcessSpec::streamed("nodes list", argv)
                    }),
                );
                self.nodes_runs.insert(reqid, NodesRun { req, program, stdout: String::new(), too_long: false });
            }
        }
    }

    /// A `nodes list` command ended.
    fn nodes_done(&mut self, now: Instant, run: NodesRun, outcome: ProcessOutcome) {
        let program = &run.program;
        let text = match outcome {
            _ if run.too_long => Err(format!("{program} printed more than {NODES_OUTPUT_LIMIT} bytes; killed")),
            ProcessOutcome::Exited(0) => Ok(run.stdout),
            ProcessOutcome::TimedOut => {
                Err(format!("{program} did not finish within {NODES_COMMAND_TIMEOUT:?}; killed"))
            }
            ProcessOutcome::NotStarted(errno) => {
                Err(format!("cannot run {program}: {}", Errno::from_raw(errno).desc()))
            }
            other => Err(format!("{program} failed ({})", outcome_text(other))),
        };
        let source = self.nodes.describe();
        let nodes = text.and_then(|t| NodesFile::parse(&t, Path::new(&source)).map_err(|e| e.to_string()));
        let nodes = addresses(&source, nodes);
        self.nodes_read(now, run.req, nodes);
    }

    /// A node list read for `req` is back.
    fn nodes_read(&mut self, now: Instant, req: Packet, nodes: Option<Vec<Option<IpAddr>>>) {
        match (&req.body, nodes) {
            (Body::Msg(Msg::NodesFileRequest), Some(nodes)) => self.core.reply(&req, Msg::NodesFile { nodes }),
            (Body::Msg(Msg::ReloadNodes), Some(nodes)) => {
                info!("Reloading nodes from {}", self.nodes.describe());
                let status = self.core.reload_nodes(now, nodes);
                self.core.reply(&req, Msg::Status { status });
            }
            _ => self.core.reply(&req, Msg::Status { status: -1 }),
        }
        self.lock_actions(now);
    }

    fn new_reqid(&mut self) -> u64 {
        self.next_reqid += 1;
        self.next_reqid
    }

    fn send_processd(&mut self, reqid: u64, msg: Msg) {
        let me = Endpoint::new(self.core.pnn(), ServiceId::CLUSTERD);
        let processd = Endpoint::new(self.core.pnn(), ServiceId::PROCESSD);
        self.out.push_back(Packet::new(processd, me, reqid, Body::Msg(msg)));
    }

    /// Send `signal` to the process group of request `reqid`.
    fn signal(&mut self, reqid: u64, signal: i32) {
        // Not a request of its own: reqid 0, the process is named inside.
        self.send_processd(0, Msg::ProcessKill { reqid, signal });
    }

    /// At shutdown: let the helper go, so that the next leader finds the
    /// lock free.
    fn stop_helper(&mut self, now: Instant) {
        // Whatever the core asks now (a Release after stepping down), the
        // helper goes.
        while self.core.poll_lock().is_some() {}
        // The current helper is either still to answer or holds the lock.
        self.let_go(now, true);
    }
}

/// The addresses of a node list, or `None` after logging why there are none.
fn addresses(source: &str, nodes: Result<NodesFile, String>) -> Option<Vec<Option<IpAddr>>> {
    match nodes {
        Ok(f) => Some(f.nodes.iter().map(|n| n.addr).collect()),
        Err(e) => {
            error!("Failed to read nodes from {source}: {e}");
            None
        }
    }
}

/// How a process ended, in words (`exit status: 3`, as std says it).
fn outcome_text(o: ProcessOutcome) -> String {
    match o {
        ProcessOutcome::Exited(c) => format!("exit status: {c}"),
        ProcessOutcome::Signaled(s) => format!("signal: {s}"),
        ProcessOutcome::TimedOut => "timed out".into(),
        ProcessOutcome::NotStarted(e) => format!("not started: {}", Errno::from_raw(e).desc()),
    }
}

/// Send everything queued; `Err` once the transport is gone.
fn flush(shell: &mut ClusterdShell, outbox: &mpsc::UnboundedSender<Packet>) -> Result<(), ServiceError> {
    while let Some(p) = shell.poll_output() {
        outbox.send(p).map_err(|_| ServiceError::TransportClosed)?;
    }
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// The service loop.
pub async fn run(mut shell: ClusterdShell, mut io: ServiceIo) -> Result<(), ServiceError> {
    let Some(mut nodes_rx) = shell.nodes_rx.take() else {
        return Err(ServiceError::TransportClosed);
    };
    let now = Instant::now();
    shell.core.activate(now);
    shell.lock_actions(now);
    loop {
        flush(&mut shell, &io.outbox)?;
        tokio::select! {
            p = io.inbox.recv() => match p {
                Some(p) => shell.dispatch(Instant::now(), p),
                None => break,
            },
            read = nodes_rx.recv() => if let Some((req, nodes)) = read {
                shell.nodes_read(Instant::now(), req, nodes);
            },
            _ = sleep_until(shell.poll_timeout()) => shell.handle_timeout(Instant::now()),
            r = io.shutdown.changed() => if r.is_err() || *io.shutdown.borrow() { break },
        }
    }
    shell.core.deactivate(Instant::now());
    shell.stop_helper(Instant::now());
    // The transport may be gone already: then processd is too, and it
    // killed every child as it stopped.
    if flush(&mut shell, &io.outbox).is_err() {
        return Ok(());
    }
    // Wait (bounded) for the helpers to let go: a helper killed before it
    // frees the lock (processd kills what is left when it stops) would
    // leave it to expire (an etcd lease) before the next leader gets it.
    while let Some(deadline) = shell.releasing.values().min().copied() {
        tokio::select! {
            p = io.inbox.recv() => match p {
                Some(p) if p.header.src.service == ServiceId::PROCESSD => {
                    if let Body::Msg(Msg::ProcessDone(_)) = &p.body {
                        shell.releasing.remove(&p.header.reqid);
                    }
                }
                Some(_) => {}
                None => break,
            },
            _ = sleep_until(Some(deadline)) => shell.kill_stuck(Instant::now()),
        }
        if flush(&mut shell, &io.outbox).is_err() {
            break;
        }
    }
    Ok(())
}

impl Service for ClusterdShell {
    fn id(&self) -> ServiceId {
        ServiceId::CLUSTERD
    }

    fn activate(&mut self, now: Instant) {
        self.core.activate(now);
        self.lock_actions(now);
    }

    fn deactivate(&mut self, now: Instant) {
        self.core.deactivate(now);
        self.stop_helper(now);
    }

    fn dispatch(&mut self, now: Instant, packet: Packet) {
        ClusterdShell::dispatch(self, now, packet);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        ClusterdShell::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        ClusterdShell::handle_timeout(self, now);
    }

    fn poll_output(&mut self) -> Option<Packet> {
        ClusterdShell::poll_output(self)
    }

    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(run(*self, io))
    }
}

#[cfg(test)]
mod tests;
