//! The sans-IO core of processd: which processes run, for whom, until when,
//! and what to answer.
//!
//! The core never touches the OS. It is fed
//! - packets ([`Processd::dispatch`]): run requests and kill requests,
//! - timer ticks ([`Processd::poll_timeout`] / [`Processd::handle_timeout`]),
//! - what the shell saw happen to a child ([`Processd::spawned`],
//!   [`Processd::spawn_failed`], [`Processd::output`],
//!   [`Processd::output_closed`], [`Processd::stderr`],
//!   [`Processd::stderr_closed`], [`Processd::exited`]),
//!
//! and answers with packets ([`Processd::poll_output`]) and [`Action`]s
//! ([`Processd::poll_action`]) for the shell to carry out.
//!
//! A process's life, as the core sees it:
//!
//! ```text
//!   Starting ──spawned──► Running ──exited──► Ended ──pipes closed / drain timeout──► (answered, forgotten)
//!      │                     │ deadline: answer TimedOut, then kill the group
//!      └─spawn failed: answer NotStarted   (after the on-timeout command, if any)
//! ```
//!
//! When the main process exits, the core asks for its group to be killed
//! and only then for it to be reaped: until it is reaped its pid (which is
//! also the group id) cannot be reused, so the kill cannot hit a stranger.
//! For the same reason the core never asks to signal a process it already
//! asked to reap.

mod output;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use ctdb_proto::{Body, Endpoint, Flags, Msg, Packet, ProcessOutcome, ProcessResult, ProcessSpec, ServiceId};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use tracing::{debug, info, warn};

use output::{Emit, LineLog, Mode, Output};

/// How long output is still read after the main process exited and its
/// group was killed. Everything in the group is dead by then, so the pipe
/// closes at once, unless something left the group (a daemon a script
/// started with `setsid`) and holds it open: then it is not waited for.
pub const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

/// Output of an on-timeout command logged at most (the rest is counted).
pub const DEBUG_OUTPUT_LIMIT: u32 = 64 * 1024;

/// processd's name for one child process (a request's, or one of its own
/// on-timeout commands).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcId(pub u64);

/// How a child ended, as `waitid` tells.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// What to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Program and arguments (never empty).
    pub argv: Vec<String>,
    /// `argv[0]` as the process sees it, when not the program.
    pub arg0: Option<String>,
    /// Variables set on top of the daemon's environment.
    pub env: Vec<(String, String)>,
    /// Give stderr a pipe of its own (reported with [`Processd::stderr`])
    /// instead of sharing the output pipe: for streaming processes, whose
    /// stdout is a channel to the requester (a lock helper's status byte)
    /// that stderr text must not get into.
    pub split_stderr: bool,
}

/// What the core asks the shell to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start `command` in a new process group, stdin from /dev/null,
    /// stdout and stderr into one pipe (or two, with
    /// [`Command::split_stderr`]); then report [`Processd::spawned`] or
    /// [`Processd::spawn_failed`].
    Spawn {
        /// The process.
        id: ProcId,
        /// What to run.
        command: Command,
    },
    /// Send `signal` to the process group `pgid` (not yet reaped).
    Signal {
        /// The process whose group it is.
        id: ProcId,
        /// Its pid, which is its group id.
        pgid: i32,
        /// The signal.
        signal: Signal,
    },
    /// The process exited and its group was killed: reap it.
    Reap {
        /// The process.
        id: ProcId,
        /// Its pid.
        pid: i32,
    },
    /// Stop reading the process's output (close its pipes).
    CloseOutput {
        /// The process.
        id: ProcId,
    },
}

/// Who asked for a process: answers go there, and the pair names the
/// process in later requests from the same requester.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct Requester {
    ep: Endpoint,
    reqid: u64,
}

#[derive(Copy, Clone, Debug)]
enum Phase {
    /// Asked the shell to start it.
    Starting,
    /// Runs as `pid` since `since`.
    Running { pid: i32, since: Instant },
    /// The main process exited (and was reaped); output is read until the
    /// pipes close or `drain_until`.
    Ended { pid: i32, since: Instant, status: ExitStatus, drain_until: Instant },
}

#[derive(Debug)]
struct Proc {
    name: String,
    /// Whom to answer; `None` once answered (the deadline passed) and for
    /// processd's own on-timeout commands.
    requester: Option<Requester>,
    /// For an on-timeout command: the hung process it is about.
    debug_of: Option<ProcId>,
    on_timeout: Option<Vec<String>>,
    env: Vec<(String, String)>,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    timed_out: bool,
    output: Output,
    eof: bool,
    /// The separate stderr of a streaming process, logged line by line.
    stderr: Option<LineLog>,
    /// Whether stderr is read to its end (always, when it has no pipe of
    /// its own).
    stderr_eof: bool,
    phase: Phase,
}

impl Proc {
    /// Every pipe of the process reported end of file.
    fn drained(&self) -> bool {
        self.eof && self.stderr_eof
    }
}

/// The processd state machine.
pub struct Processd {
    me: Endpoint,
    /// Ordered, so that shutdown and tests see a stable order.
    procs: BTreeMap<ProcId, Proc>,
    /// Requests not answered yet.
    by_request: HashMap<Requester, ProcId>,
    next_id: u64,
    stopping: bool,
    out: VecDeque<Packet>,
    actions: VecDeque<Action>,
}

/// Why a [`ProcessSpec`] is refused.
fn invalid(spec: &ProcessSpec) -> Option<&'static str> {
    if spec.argv.is_empty() {
        return Some("empty argv");
    }
    if spec.on_timeout.as_ref().is_some_and(|a| a.is_empty()) {
        return Some("empty on_timeout command");
    }
    None
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn outcome_of(status: ExitStatus) -> ProcessOutcome {
    match status {
        ExitStatus::Exited(c) => ProcessOutcome::Exited(c),
        ExitStatus::Signaled(s) => ProcessOutcome::Signaled(s),
    }
}

/// The one log line of a run that ended: successes at debug, a non-zero
/// exit at info (often an expected answer, e.g. a failing monitor event),
/// signals, deadlines and failures to start at warn.
fn log_end(name: &str, pid: i32, outcome: ProcessOutcome, ms: u64) {
    match outcome {
        ProcessOutcome::Exited(0) => debug!("{name} (pid {pid}) exited 0 after {ms} ms"),
        ProcessOutcome::Exited(c) => info!("{name} (pid {pid}) exited {c} after {ms} ms"),
        ProcessOutcome::Signaled(s) => warn!("{name} (pid {pid}) killed by signal {s} after {ms} ms"),
        ProcessOutcome::TimedOut => warn!("{name} (pid {pid}) timed out; its process group was killed after {ms} ms"),
        ProcessOutcome::NotStarted(e) => warn!("{name}: could not start: {}", Errno::from_raw(e).desc()),
    }
}

impl Processd {
    /// The core of processd on node `pnn`.
    pub fn new(pnn: u32) -> Processd {
        Processd {
            me: Endpoint::new(pnn, ServiceId::PROCESSD),
            procs: BTreeMap::new(),
            by_request: HashMap::new(),
            next_id: 1,
            stopping: false,
            out: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    /// One packet from the transport.
    pub fn dispatch(&mut self, _now: Instant, p: Packet) {
        let src = p.header.src;
        if p.header.flags.contains(Flags::REPLY) {
            warn!("processd: unexpected reply from {src:?} (reqid {}): dropped", p.header.reqid);
            return;
        }
        match p.body {
            Body::Msg(Msg::ProcessRun(spec)) => self.run(Requester { ep: src, reqid: p.header.reqid }, spec),
            Body::Msg(Msg::ProcessKill { reqid, signal }) => self.kill(Requester { ep: src, reqid }, signal),
            other => warn!("processd: unexpected message from {src:?}: {other:?}"),
        }
    }

    fn run(&mut self, req: Requester, spec: ProcessSpec) {
        let refusal = if let Some(why) = invalid(&spec) {
            Some((why, Errno::EINVAL))
        } else if self.by_request.contains_key(&req) {
            Some(("request id already in use", Errno::EINVAL))
        } else if self.stopping {
            Some(("processd is stopping", Errno::ESHUTDOWN))
        } else {
            None
        };
        if let Some((why, errno)) = refusal {
            warn!("processd: refusing to run {:?} for {:?} (reqid {}): {why}", spec.name, req.ep, req.reqid);
            self.answer(req, 0, ProcessOutcome::NotStarted(errno as i32), String::new(), 0, 0);
            return;
        }
        let id = self.new_id();
        self.by_request.insert(req, id);
        let mode = if spec.stream_output { Mode::Stream } else { Mode::Keep };
        // Streamed stdout is a channel to the requester; its stderr goes
        // to the log, where Samba sends its helpers' stderr.
        let stderr = spec.stream_output.then(LineLog::default);
        self.start(
            id,
            Proc {
                name: spec.name,
                requester: Some(req),
                debug_of: None,
                on_timeout: spec.on_timeout,
                env: spec.env,
                timeout: spec.timeout_ms.map(Duration::from_millis),
                deadline: None,
                timed_out: false,
                output: Output::new(mode, spec.output_limit),
                eof: false,
                stderr_eof: stderr.is_none(),
                stderr,
                phase: Phase::Starting,
            },
            spec.argv,
            spec.arg0,
        );
    }

    fn new_id(&mut self) -> ProcId {
        let id = ProcId(self.next_id);
        self.next_id += 1;
        id
    }

    fn start(&mut self, id: ProcId, p: Proc, argv: Vec<String>, arg0: Option<String>) {
        let command = Command { argv, arg0, env: p.env.clone(), split_stderr: p.stderr.is_some() };
        self.procs.insert(id, p);
        self.actions.push_back(Action::Spawn { id, command });
    }

    fn kill(&mut self, req: Requester, signal: i32) {
        let Some(&id) = self.by_request.get(&req) else {
            warn!("processd: kill from {:?} for unknown request {}: ignored", req.ep, req.reqid);
            return;
        };
        let Ok(sig) = Signal::try_from(signal) else {
            warn!("processd: kill from {:?} (request {}) with bad signal {signal}: ignored", req.ep, req.reqid);
            return;
        };
        match self.procs.get(&id).map(|p| (p.phase, p.name.as_str())) {
            Some((Phase::Running { pid, .. }, name)) => {
                debug!("{name} (pid {pid}): sending {sig} to its process group, as {:?} asks", req.ep);
                self.actions.push_back(Action::Signal { id, pgid: pid, signal: sig });
            }
            Some((_, name)) => {
                warn!("processd: kill for {name} (request {}), which is not running: ignored", req.reqid)
            }
            None => warn!("processd: kill for request {}, which has no process: ignored", req.reqid),
        }
    }

    /// The shell started process `id` as `pid` (also its group).
    pub fn spawned(&mut self, now: Instant, id: ProcId, pid: i32) {
        let Some(p) = self.procs.get_mut(&id) else {
            warn!("processd: spawned an unknown process {id:?} (pid {pid})");
            return;
        };
        if !matches!(p.phase, Phase::Starting) {
            warn!("processd: {} spawned twice (pid {pid})", p.name);
            return;
        }
        p.phase = Phase::Running { pid, since: now };
        p.deadline = p.timeout.and_then(|t| now.checked_add(t));
        debug!("{} started as pid {pid}", p.name);
        if self.stopping {
            // Asked for just before the stop: it goes with the rest.
            self.actions.push_back(Action::Signal { id, pgid: pid, signal: Signal::SIGKILL });
        }
        if let Some(req) = p.requester {
            // Not a reply: the reply is ProcessDone. The header's reqid is
            // left 0 so that nothing mistakes it for the answer.
            let msg = Msg::ProcessStarted { reqid: req.reqid, pid };
            self.out.push_back(Packet::new(req.ep, self.me, 0, Body::Msg(msg)));
        }
    }

    /// The shell could not start process `id` (`errno`: ENOENT, EACCES,
    /// ENOEXEC, …).
    pub fn spawn_failed(&mut self, _now: Instant, id: ProcId, errno: i32) {
        let Some(mut p) = self.procs.remove(&id) else {
            warn!("processd: spawn of an unknown process {id:?} failed");
            return;
        };
        log_end(&p.name, 0, ProcessOutcome::NotStarted(errno), 0);
        if let Some(req) = p.requester.take() {
            self.by_request.remove(&req);
            self.answer(req, 0, ProcessOutcome::NotStarted(errno), String::new(), 0, 0);
        }
        if let Some(hung) = p.debug_of {
            self.kill_group(hung);
        }
    }

    /// A chunk of process `id`'s output.
    pub fn output(&mut self, _now: Instant, id: ProcId, data: &[u8]) {
        // Output still in flight for a process already answered and
        // forgotten (drain deadline) is of no use.
        let Some(p) = self.procs.get_mut(&id) else { return };
        match p.output.push(data) {
            Emit::Nothing => {}
            Emit::Send(data) => {
                if let Some(req) = p.requester {
                    let msg = Msg::ProcessOutput { reqid: req.reqid, data };
                    self.out.push_back(Packet::new(req.ep, self.me, 0, Body::Msg(msg)));
                }
            }
            Emit::Lines(lines) => {
                for line in lines {
                    info!("debug: {line}");
                }
            }
        }
    }

    /// Process `id`'s output pipe closed (every writer is gone).
    pub fn output_closed(&mut self, now: Instant, id: ProcId) {
        let Some(p) = self.procs.get_mut(&id) else { return };
        p.eof = true;
        if let (Mode::Stream, Some(req)) = (p.output.mode(), p.requester) {
            // The end of the stream, which may come well before the exit:
            // in CTDB's helper contracts, a closed stdout is news by itself
            // (an etcd lock helper closes it the moment the lock is lost,
            // then takes a while to revoke its lease and exit).
            let msg = Msg::ProcessOutput { reqid: req.reqid, data: String::new() };
            self.out.push_back(Packet::new(req.ep, self.me, 0, Body::Msg(msg)));
        }
        if matches!(p.phase, Phase::Ended { .. }) && p.drained() {
            self.finish(now, id);
        }
    }

    /// A chunk of process `id`'s separate stderr ([`Command::split_stderr`]):
    /// its complete lines are logged under the process's name.
    pub fn stderr(&mut self, _now: Instant, id: ProcId, data: &[u8]) {
        let Some(p) = self.procs.get_mut(&id) else { return };
        let Some(log) = p.stderr.as_mut() else { return };
        for line in log.push(data) {
            info!("{}: {line}", p.name);
        }
    }

    /// Process `id`'s stderr pipe closed.
    pub fn stderr_closed(&mut self, now: Instant, id: ProcId) {
        let Some(p) = self.procs.get_mut(&id) else { return };
        p.stderr_eof = true;
        if let Some(line) = p.stderr.as_mut().and_then(LineLog::last_line) {
            info!("{}: {line}", p.name);
        }
        if matches!(p.phase, Phase::Ended { .. }) && p.drained() {
            self.finish(now, id);
        }
    }

    /// Process `id`'s main process exited (not reaped yet).
    pub fn exited(&mut self, now: Instant, id: ProcId, status: ExitStatus) {
        let Some(p) = self.procs.get_mut(&id) else {
            warn!("processd: exit of an unknown process {id:?}: {status:?}");
            return;
        };
        let Phase::Running { pid, since } = p.phase else {
            warn!("processd: exit of {}, which was not running: {status:?}", p.name);
            return;
        };
        // Whatever it started goes with it. The group is killed before the
        // leader is reaped: until then its pid, the group id, cannot be
        // reused, so the kill cannot reach anyone else.
        self.actions.push_back(Action::Signal { id, pgid: pid, signal: Signal::SIGKILL });
        self.actions.push_back(Action::Reap { id, pid });
        p.phase = Phase::Ended { pid, since, status, drain_until: now + DRAIN_TIMEOUT };
        p.deadline = None;
        let (drained, debug_of) = (p.drained(), p.debug_of);
        // An on-timeout command ended: now the hung process may go.
        if let Some(hung) = debug_of {
            self.kill_group(hung);
        }
        if drained {
            self.finish(now, id);
        }
    }

    /// When the core next wants [`Processd::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.procs
            .values()
            .filter_map(|p| match p.phase {
                Phase::Running { .. } => p.deadline,
                Phase::Ended { drain_until, .. } => Some(drain_until),
                Phase::Starting => None,
            })
            .min()
    }

    /// Deadlines and drain timeouts that passed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<(ProcId, bool)> = self
            .procs
            .iter()
            .filter_map(|(&id, p)| match p.phase {
                Phase::Running { .. } if p.deadline.is_some_and(|d| d <= now) => Some((id, false)),
                Phase::Ended { drain_until, .. } if drain_until <= now => Some((id, true)),
                _ => None,
            })
            .collect();
        for (id, ended) in due {
            if ended {
                self.finish(now, id);
            } else {
                self.deadline_passed(now, id);
            }
        }
    }

    fn deadline_passed(&mut self, now: Instant, id: ProcId) {
        let Some(p) = self.procs.get_mut(&id) else { return };
        let Phase::Running { pid, since } = p.phase else { return };
        p.deadline = None;
        p.timed_out = true;
        let ms = millis(now.saturating_duration_since(since));
        let name = p.name.clone();
        // The requester hears at once; the process is dealt with after.
        if let Some(req) = p.requester.take() {
            let (output, dropped) = (p.output.text(), p.output.dropped());
            self.by_request.remove(&req);
            self.answer(req, pid, ProcessOutcome::TimedOut, output, dropped, ms);
        }
        let Some(p) = self.procs.get(&id) else { return };
        if let Some(hung) = p.debug_of {
            warn!("{name} (pid {pid}) did not finish within {ms} ms: killing it and the process it was about");
            self.kill_group(id);
            self.kill_group(hung);
        } else if let Some(argv) = p.on_timeout.clone() {
            let program = argv.first().map_or("", String::as_str);
            warn!("{name} (pid {pid}) timed out after {ms} ms; running {program} before killing it");
            let argv = argv.into_iter().map(|a| a.replace("{pid}", &pid.to_string())).collect();
            let debug = Proc {
                name: format!("{name} on-timeout command"),
                requester: None,
                debug_of: Some(id),
                on_timeout: None,
                env: p.env.clone(),
                timeout: p.timeout,
                deadline: None,
                timed_out: false,
                output: Output::new(Mode::Log, DEBUG_OUTPUT_LIMIT),
                eof: false,
                stderr: None,
                stderr_eof: true,
                phase: Phase::Starting,
            };
            let debug_id = self.new_id();
            self.start(debug_id, debug, argv, None);
        } else {
            warn!("{name} (pid {pid}) timed out after {ms} ms; killing its process group");
            self.kill_group(id);
        }
    }

    /// SIGKILL the group of `id` if it still runs (never after its reap
    /// was asked for: the pid could belong to someone else by then).
    fn kill_group(&mut self, id: ProcId) {
        if let Some(Phase::Running { pid, .. }) = self.procs.get(&id).map(|p| p.phase) {
            self.actions.push_back(Action::Signal { id, pgid: pid, signal: Signal::SIGKILL });
        }
    }

    /// The process ended and its output is read (or no longer waited for):
    /// answer, log, forget.
    fn finish(&mut self, now: Instant, id: ProcId) {
        let Some(mut p) = self.procs.remove(&id) else { return };
        let Phase::Ended { pid, since, status, .. } = p.phase else {
            self.procs.insert(id, p);
            return;
        };
        if !p.drained() {
            self.actions.push_back(Action::CloseOutput { id });
        }
        if let Some(line) = p.stderr.as_mut().and_then(LineLog::last_line) {
            info!("{}: {line}", p.name);
        }
        if p.output.mode() == Mode::Log {
            if let Some(line) = p.output.last_line() {
                info!("debug: {line}");
            }
            if p.output.dropped() > 0 {
                info!("debug: ({} more bytes not logged)", p.output.dropped());
            }
        }
        let outcome = if p.timed_out { ProcessOutcome::TimedOut } else { outcome_of(status) };
        let ms = millis(now.saturating_duration_since(since));
        log_end(&p.name, pid, outcome, ms);
        if let Some(req) = p.requester.take() {
            self.by_request.remove(&req);
            self.answer(req, pid, outcome, p.output.text(), p.output.dropped(), ms);
        }
    }

    /// Reply to `req` with its one `ProcessDone`.
    fn answer(&mut self, req: Requester, pid: i32, outcome: ProcessOutcome, output: String, dropped: u64, ms: u64) {
        let result = ProcessResult { pid, outcome, output, dropped, duration_ms: ms };
        let mut p = Packet::new(req.ep, self.me, req.reqid, Body::Msg(Msg::ProcessDone(result)));
        p.header.flags = Flags::REPLY;
        self.out.push_back(p);
    }

    /// The service stops: kill every group. Their ends are reported as
    /// usual, and requesters still get their `ProcessDone` (Signaled(9)).
    pub fn shutdown(&mut self, _now: Instant) {
        self.stopping = true;
        let running: Vec<ProcId> = self.procs.keys().copied().collect();
        for id in running {
            self.kill_group(id);
        }
    }

    /// No process left (after [`Processd::shutdown`]: all reaped).
    pub fn is_idle(&self) -> bool {
        self.procs.is_empty()
    }

    /// Next packet to send.
    pub fn poll_output(&mut self) -> Option<Packet> {
        self.out.pop_front()
    }

    /// Next action for the shell.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
}
