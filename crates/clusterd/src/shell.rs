//! clusterd's I/O: the service loop and the cluster lock helper process.
//!
//! The helper is a child of the daemon that follows Samba's mutex-helper
//! contract (`ctdb_cluster_lock`). When processd exists it will start and
//! watch the helper on clusterd's behalf; until then this shell does.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ctdb_cluster_lock::LockReply;
use ctdb_config::{NodesFile, NodesSource};
use ctdb_proto::{Body, Msg, Packet, ServiceId};
use ctdb_service::{BoxFuture, Service, ServiceError, ServiceIo};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::{Clusterd, LockAction};

/// How long a helper may take to answer (Samba's leader uses 120 s).
const LOCK_TAKE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a `nodes list = !command` may run before it is killed.
const NODES_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A node list that was read for a request, and the request.
type NodesRead = (Packet, Option<Vec<Option<IpAddr>>>);

/// The clusterd service: the core plus how to run the lock helper and where
/// the node list comes from.
pub struct ClusterdShell {
    core: Clusterd,
    lock_command: Option<(PathBuf, Vec<String>)>,
    nodes: NodesSource,
    nodes_tx: mpsc::UnboundedSender<NodesRead>,
    nodes_rx: Option<mpsc::UnboundedReceiver<NodesRead>>,
}

impl ClusterdShell {
    /// A service around `core`; `lock_command` is the helper's program and
    /// arguments (`None`: no cluster lock configured); `nodes` is read again
    /// for GET_NODES_FILE and RELOAD_NODES_FILE.
    pub fn new(core: Clusterd, lock_command: Option<(PathBuf, Vec<String>)>, nodes: NodesSource) -> ClusterdShell {
        let (nodes_tx, nodes_rx) = mpsc::unbounded_channel();
        ClusterdShell { core, lock_command, nodes, nodes_tx, nodes_rx: Some(nodes_rx) }
    }

    /// Requests that need the node list read: the shell reads it in a task
    /// of its own (a hanging `nodes list` command must not stall
    /// leadership), the core decides when the result is back. Anything else
    /// goes to the core as it is.
    fn dispatch(&mut self, now: Instant, p: Packet) {
        match &p.body {
            Body::Msg(Msg::NodesFileRequest) | Body::Msg(Msg::ReloadNodes) => {
                let source = self.nodes.clone();
                let tx = self.nodes_tx.clone();
                tokio::spawn(async move {
                    let nodes = read_nodes(&source).await;
                    let _ = tx.send((p, nodes));
                });
            }
            _ => self.core.dispatch(now, p),
        }
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
    }
}

/// Read the node list from its source; errors are logged.
pub async fn read_nodes(source: &NodesSource) -> Option<Vec<Option<IpAddr>>> {
    let result = match source {
        NodesSource::File(path) => NodesFile::load(path).map_err(|e| e.to_string()),
        NodesSource::Command(program, args) => run_nodes_command(program, args)
            .await
            .and_then(|text| NodesFile::parse(&text, Path::new(&source.describe())).map_err(|e| e.to_string())),
    };
    match result {
        Ok(f) => Some(f.nodes.iter().map(|n| n.addr).collect()),
        Err(e) => {
            error!("Failed to read nodes from {}: {e}", source.describe());
            None
        }
    }
}

async fn run_nodes_command(program: &Path, args: &[String]) -> Result<String, String> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let out = tokio::time::timeout(NODES_COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("{} did not finish within {NODES_COMMAND_TIMEOUT:?}; killed", program.display()))?
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{} printed something that is not UTF-8", program.display()))
}

struct Helper {
    child: Child,
    stdout: ChildStdout,
    /// Pings go here (our helper's PING_TIMEOUT; others ignore stdin).
    stdin: Option<ChildStdin>,
    answered: bool,
    deadline: tokio::time::Instant,
}

enum HelperEvent {
    Answer(LockReply),
    Exited,
}

impl Helper {
    async fn event(&mut self) -> HelperEvent {
        let mut b = [0u8; 1];
        if !self.answered {
            return match tokio::time::timeout_at(self.deadline, self.stdout.read(&mut b)).await {
                Ok(Ok(1)) => HelperEvent::Answer(LockReply::from_byte(Some(b[0]))),
                Ok(_) => HelperEvent::Answer(LockReply::Error),
                Err(_) => HelperEvent::Answer(LockReply::Timeout),
            };
        }
        // After '0' the helper says nothing more; end of file (or any
        // read error) means it exited and the lock is gone.
        loop {
            match self.stdout.read(&mut b).await {
                Ok(0) | Err(_) => return HelperEvent::Exited,
                Ok(_) => continue,
            }
        }
    }
}

/// How often the loop proves to a holding helper that it is not wedged.
const HELPER_PING_INTERVAL: Duration = Duration::from_secs(1);

/// One byte to a holding helper, from the loop that leads: if this loop
/// wedges, the pings stop and our helper gives the lock up. Never blocks (a
/// full pipe means the helper is not reading; the byte is skipped).
fn ping_helper(h: &mut Option<Helper>) {
    let Some(h) = h.as_mut().filter(|h| h.answered) else { return };
    let Some(stdin) = h.stdin.as_ref() else { return };
    if let Err(e) = nix::unistd::write(stdin, b"p") {
        if e != nix::errno::Errno::EAGAIN {
            // A helper that ignores stdin may have closed it: stop pinging.
            h.stdin = None;
        }
    }
}

async fn next_helper_event(h: &mut Option<Helper>) -> HelperEvent {
    match h {
        Some(h) => h.event().await,
        None => std::future::pending().await,
    }
}

fn stop_helper(h: Option<Helper>) {
    if let Some(mut h) = h {
        if let Some(pid) = h.child.id() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
        }
        // Reap it off the loop.
        tokio::spawn(async move {
            let _ = h.child.wait().await;
        });
    }
}

fn spawn_helper(cmd: &(PathBuf, Vec<String>)) -> Option<Helper> {
    let (program, args) = cmd;
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            error!("Unable to run cluster lock helper {}: {e}", program.display());
            return None;
        }
    };
    if let Some(stderr) = child.stderr.take() {
        let name = program.display().to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                warn!("{name}: {line}");
            }
        });
    }
    let stdout = child.stdout.take()?;
    let stdin = child.stdin.take();
    info!("Cluster lock helper started: {} {}", program.display(), args.join(" "));
    Some(Helper { child, stdout, stdin, answered: false, deadline: tokio::time::Instant::now() + LOCK_TAKE_TIMEOUT })
}

impl ClusterdShell {
    fn lock_actions(&mut self, helper: &mut Option<Helper>) {
        while let Some(a) = self.core.poll_lock() {
            match a {
                LockAction::Take => {
                    stop_helper(helper.take());
                    match self.lock_command.as_ref().and_then(spawn_helper) {
                        Some(h) => *helper = Some(h),
                        None => self.core.lock_reply(Instant::now(), LockReply::Error),
                    }
                }
                LockAction::Release => {
                    info!("Releasing the cluster lock");
                    stop_helper(helper.take());
                }
            }
        }
    }
}

/// The service loop.
pub async fn run(mut shell: ClusterdShell, mut io: ServiceIo) -> Result<(), ServiceError> {
    let mut helper: Option<Helper> = None;
    let Some(mut nodes_rx) = shell.nodes_rx.take() else {
        return Err(ServiceError::TransportClosed);
    };
    let mut ping = tokio::time::interval(HELPER_PING_INTERVAL);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    shell.core.activate(Instant::now());
    loop {
        shell.lock_actions(&mut helper);
        while let Some(p) = shell.core.poll_output() {
            io.outbox.send(p).map_err(|_| ServiceError::TransportClosed)?;
        }
        let deadline = shell.core.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            p = io.inbox.recv() => match p {
                Some(p) => shell.dispatch(Instant::now(), p),
                None => break,
            },
            ev = next_helper_event(&mut helper) => match ev {
                HelperEvent::Answer(r) => {
                    if let Some(h) = helper.as_mut() {
                        h.answered = true;
                    }
                    if r != LockReply::Held {
                        stop_helper(helper.take());
                    }
                    shell.core.lock_reply(Instant::now(), r);
                }
                HelperEvent::Exited => {
                    stop_helper(helper.take());
                    shell.core.lock_lost(Instant::now());
                }
            },
            _ = ping.tick() => ping_helper(&mut helper),
            read = nodes_rx.recv() => if let Some((req, nodes)) = read {
                shell.nodes_read(Instant::now(), req, nodes);
            },
            _ = sleep => shell.core.handle_timeout(Instant::now()),
            r = io.shutdown.changed() => if r.is_err() || *io.shutdown.borrow() { break },
        }
    }
    shell.core.deactivate(Instant::now());
    while let Some(p) = shell.core.poll_output() {
        let _ = io.outbox.send(p);
    }
    // Whatever the core asks now (a Release after stepping down), the
    // helper goes: and we wait for it, bounded, because a reaper task
    // would die with the process and its SIGKILL could stop a helper
    // before it frees the lock (an etcd lease would then have to expire
    // before the next leader gets it).
    while shell.core.poll_lock().is_some() {}
    stop_helper_and_wait(helper.take()).await;
    Ok(())
}

/// How long a helper may take to let go of the lock at shutdown.
const HELPER_EXIT_TIMEOUT: Duration = Duration::from_secs(3);

async fn stop_helper_and_wait(h: Option<Helper>) {
    let Some(mut h) = h else { return };
    if let Some(pid) = h.child.id() {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
    }
    if tokio::time::timeout(HELPER_EXIT_TIMEOUT, h.child.wait()).await.is_err() {
        warn!("Cluster lock helper did not exit within {HELPER_EXIT_TIMEOUT:?} of SIGTERM; killing it");
        let _ = h.child.kill().await;
    }
}

impl Service for ClusterdShell {
    fn id(&self) -> ServiceId {
        ServiceId::CLUSTERD
    }

    fn activate(&mut self, now: Instant) {
        self.core.activate(now);
    }

    fn deactivate(&mut self, now: Instant) {
        self.core.deactivate(now);
    }

    fn dispatch(&mut self, now: Instant, packet: Packet) {
        ClusterdShell::dispatch(self, now, packet);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    fn poll_output(&mut self) -> Option<Packet> {
        self.core.poll_output()
    }

    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(run(*self, io))
    }
}
