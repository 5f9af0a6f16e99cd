//! The eventd core: runs events one at a time, script by script, through
//! processd, keeps the status of the last run of every event, and drives
//! the node's own events (init, setup, startup, the recovery events and the
//! periodic monitor, see [`crate::monitor`]).
//!
//! ```text
//!  request (socket RUN, recovery event, monitor tick)
//!    └─► queue ─► list scripts ─► for each, in order:
//!                  disabled  → −ENOEXEC (DISABLED), next
//!                  enabled   → ProcessRun{path event args…, deadline left}
//!                              ◄─ ProcessDone: 0 → next; else stop
//!        ◄─ reply: 0 | ENOEXEC (a script failed) | ETIMEDOUT | ECANCELED | ENOENT
//! ```
//!
//! One deadline covers the whole event. A monitor is cancelled by any
//! other event, and a monitor asked for while another event runs is
//! cancelled at once. Sans-IO: `now` comes in, packets and socket replies
//! go out; the scripts directory is reached through [`ScriptDir`].

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use ctdb_config::{Tunables, TUNABLE_COUNT};
use ctdb_proto::{
    Body, ClusterState, Endpoint, Flags, Msg, Packet, ProcessOutcome, ProcessResult, ProcessSpec, ServiceId,
};
use tracing::{debug, info, warn};

use crate::monitor::Monitor;
use crate::scripts::{valid_name, Script, ScriptDir};

/// errno values of the eventd protocol.
pub mod errno {
    /// Interrupted: a script killed by a signal.
    pub const EINTR: i32 = 4;
    /// No such component or script.
    pub const ENOENT: i32 = 2;
    /// A script failed (or is disabled, as a script result).
    pub const ENOEXEC: i32 = 8;
    /// Bad name, or an event that never ran.
    pub const EINVAL: i32 = 22;
    /// No data (scripts after a failed one).
    pub const ENOMSG: i32 = 42;
    /// Bad action.
    pub const EPROTO: i32 = 71;
    /// The event's deadline passed.
    pub const ETIMEDOUT: i32 = 110;
    /// A monitor ended by another event.
    pub const ECANCELED: i32 = 125;
    /// I/O error.
    pub const EIO: i32 = 5;
}

/// The only component CTDB has.
pub const LEGACY: &str = "legacy";

/// What eventd needs to know at start.
#[derive(Debug, Clone)]
pub struct EventdConfig {
    /// This node.
    pub pnn: u32,
    /// Variables every script gets (CTDB_BASE, CTDB_LOGGING,
    /// CTDB_DEBUGLEVEL, CTDB_TEST_MODE, …).
    pub env: Vec<(String, String)>,
    /// `[event] debug script`, run with the pid of a hung script.
    pub debug_script: Option<String>,
    /// `$CTDB_BASE/notify.sh`.
    pub notify_script: Option<String>,
    /// `[event] monitor timeout count`: this many consecutive monitor
    /// timeouts make the node UNHEALTHY.
    pub monitor_timeout_count: u32,
    /// Output kept per script.
    pub output_limit: u32,
}

impl EventdConfig {
    /// Defaults for node `pnn`: no scripts' environment, no debug or
    /// notification script, one monitor timeout is a failure.
    pub fn new(pnn: u32) -> EventdConfig {
        EventdConfig {
            pnn,
            env: Vec::new(),
            debug_script: None,
            notify_script: None,
            monitor_timeout_count: 1,
            output_limit: 64 * 1024,
        }
    }
}

/// An event to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// Component (`legacy`).
    pub component: String,
    /// Event name (`monitor`, `takeip`, …).
    pub event: String,
    /// Arguments, split on single spaces for the scripts.
    pub args: String,
    /// Deadline of the whole event.
    pub timeout: Duration,
    /// Go on after a failed script (RUN flag 0x1).
    pub run_all: bool,
}

/// Who asked for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A client of the eventd socket (`ctdb event run`).
    Socket {
        /// Connection.
        conn: u64,
        /// Its request id.
        reqid: u32,
    },
    /// The node's own start-up events (init, setup, startup).
    Lifecycle,
    /// The periodic monitor.
    Monitor,
    /// startrecovery / recovered.
    Recovery,
    /// Another service (failoverd's takeip, releaseip, ipreallocated),
    /// answered with `EventDone`.
    Service {
        /// Who asked.
        from: Endpoint,
        /// Its request id.
        reqid: u64,
    },
}

/// One script's result in an event's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatus {
    /// Script name (`00.ctdb`).
    pub name: String,
    /// When it started.
    pub begin: SystemTime,
    /// When it ended.
    pub end: SystemTime,
    /// 0 OK, > 0 exit status, −ENOEXEC disabled, −ETIMEDOUT, −errno.
    pub result: i32,
    /// Its output.
    pub output: String,
}

/// The last run of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStatus {
    /// The failing script's result, or 0.
    pub summary: i32,
    /// Scripts up to the one that failed.
    pub scripts: Vec<ScriptStatus>,
}

/// An answer for a socket client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// RUN: 0 or a positive errno.
    Run(i32),
    /// STATUS: 0 with the status, or a positive errno.
    Status(i32, Option<EventStatus>),
    /// SCRIPT (enable/disable): 0 or a positive errno.
    Script(i32),
}

/// What the shell does for the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A packet into the transport.
    Send(Packet),
    /// An answer on the eventd socket.
    SocketReply {
        /// Connection.
        conn: u64,
        /// Request id to echo.
        reqid: u32,
        /// The answer.
        reply: Reply,
    },
}

/// The event running now.
#[derive(Debug)]
struct Running {
    req: RunRequest,
    origin: Origin,
    deadline: Instant,
    scripts: Vec<Script>,
    index: usize,
    results: Vec<ScriptStatus>,
    /// processd request of the script running now, and when it started.
    proc: Option<(u64, Instant)>,
    /// A script failed (RUN_ALL goes on regardless).
    failed: Option<i32>,
}

/// Extra time past an event's deadline before the core stops waiting for
/// processd's answer (processd enforces the deadline itself).
const DEADLINE_GRACE: Duration = Duration::from_secs(5);

/// The eventd core.
pub struct Eventd {
    pub(crate) cfg: EventdConfig,
    dir: Box<dyn ScriptDir>,
    queue: VecDeque<(RunRequest, Origin)>,
    running: Option<Running>,
    status: BTreeMap<(String, String), EventStatus>,
    next_reqid: u64,
    /// The notification (or other fire-and-forget) run in flight.
    side_runs: BTreeMap<u64, String>,
    /// Side runs waiting for the one in flight: one at a time, in order,
    /// as CTDB calls notify.sh synchronously.
    side_queue: VecDeque<(String, Vec<String>)>,
    pub(crate) state: Option<ClusterState>,
    pub(crate) monitor: Monitor,
    warned_no_dir: bool,
    actions: VecDeque<Action>,
    instant_start: Instant,
    wall_start: SystemTime,
}

impl Eventd {
    /// A core reading scripts from `dir`; `now`/`wall` anchor its clock.
    pub fn new(cfg: EventdConfig, dir: Box<dyn ScriptDir>, now: Instant, wall: SystemTime) -> Eventd {
        Eventd {
            cfg,
            dir,
            queue: VecDeque::new(),
            running: None,
            status: BTreeMap::new(),
            next_reqid: 0,
            side_runs: BTreeMap::new(),
            side_queue: VecDeque::new(),
            state: None,
            monitor: Monitor::default(),
            warned_no_dir: false,
            actions: VecDeque::new(),
            instant_start: now,
            wall_start: wall,
        }
    }

    pub(crate) fn wall(&self, now: Instant) -> SystemTime {
        self.wall_start + now.saturating_duration_since(self.instant_start)
    }

    /// The live tunables (defaults until clusterd has told us).
    pub(crate) fn tunables(&self) -> Tunables {
        let values = self.state.as_ref().and_then(|s| <[u32; TUNABLE_COUNT]>::try_from(s.tunables.as_slice()).ok());
        values.map_or_else(Tunables::defaults, Tunables::from_array)
    }

    /// EventScriptTimeout.
    pub(crate) fn script_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.tunables().event_script_timeout().max(1)))
    }

    // ---- requests ----

    /// Ask for an event.
    pub fn submit(&mut self, now: Instant, req: RunRequest, origin: Origin) {
        let is_monitor = req.event == "monitor";
        if let Some(r) = &self.running {
            let running_monitor = r.req.event == "monitor";
            if is_monitor {
                // One monitor at a time, and none while another event runs.
                info!("eventd: {} event monitor cancelled: {} event running", req.component, r.req.event);
                self.answer(now, origin, &req, Reply::Run(errno::ECANCELED), errno::ECANCELED);
                return;
            }
            if running_monitor {
                self.cancel_running(now);
            } else {
                self.queue.push_back((req, origin));
                return;
            }
        }
        self.start(now, req, origin);
    }

    /// The status of the last run of `event`.
    pub fn status(&self, component: &str, event: &str) -> Reply {
        if !valid_name(component) || self.dir.list(component).is_err() {
            return Reply::Status(errno::ENOENT, None);
        }
        match self.status.get(&(component.to_string(), event.to_string())) {
            Some(s) => Reply::Status(0, Some(s.clone())),
            None => Reply::Status(errno::EINVAL, None),
        }
    }

    /// Enable or disable a script (chmod).
    pub fn script(&mut self, component: &str, script: &str, enable: bool) -> Reply {
        if !valid_name(script) {
            return Reply::Script(errno::EINVAL);
        }
        match self.dir.set_enabled(component, script, enable) {
            Ok(()) => {
                info!("eventd: {component} script {script} {}", if enable { "enabled" } else { "disabled" });
                Reply::Script(0)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Reply::Script(errno::ENOENT),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Reply::Script(errno::EINVAL),
            Err(e) => {
                warn!("eventd: {component} script {script}: {e}");
                Reply::Script(e.raw_os_error().unwrap_or(errno::EIO))
            }
        }
    }

    // ---- running ----

    fn start(&mut self, now: Instant, req: RunRequest, origin: Origin) {
        let scripts = match self.dir.list(&req.component) {
            Ok(s) => s,
            // The node's own events with no scripts directory: nothing to
            // run (a socket client is told ENOENT, as by CTDB's eventd).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !matches!(origin, Origin::Socket { .. }) => {
                if !self.warned_no_dir {
                    self.warned_no_dir = true;
                    warn!("eventd: no {} scripts directory; events run no scripts", req.component);
                }
                Vec::new()
            }
            Err(e) => {
                let code = if e.kind() == std::io::ErrorKind::NotFound {
                    errno::ENOENT
                } else {
                    e.raw_os_error().unwrap_or(errno::EIO)
                };
                warn!("eventd: {} event {}: cannot list scripts: {e}", req.component, req.event);
                self.answer(now, origin, &req, Reply::Run(code), code);
                self.next(now);
                return;
            }
        };
        debug!("eventd: running {} event {} ({} scripts)", req.component, req.event, scripts.len());
        let deadline = now + req.timeout;
        self.running =
            Some(Running { req, origin, deadline, scripts, index: 0, results: Vec::new(), proc: None, failed: None });
        self.run_next(now);
    }

    /// Start the next enabled script, or finish.
    fn run_next(&mut self, now: Instant) {
        let wall = self.wall(now);
        loop {
            let Some(r) = &mut self.running else { return };
            let Some(script) = r.scripts.get(r.index).cloned() else { break };
            if !script.enabled {
                r.results.push(ScriptStatus {
                    name: script.name,
                    begin: wall,
                    end: wall,
                    result: -errno::ENOEXEC,
                    output: String::new(),
                });
                r.index += 1;
                continue;
            }
            let left = r.deadline.saturating_duration_since(now);
            if left.is_zero() {
                r.results.push(ScriptStatus {
                    name: script.name,
                    begin: wall,
                    end: wall,
                    result: -errno::ETIMEDOUT,
                    output: String::new(),
                });
                r.failed = Some(-errno::ETIMEDOUT);
                break;
            }
            let mut argv = vec![script.path.display().to_string(), r.req.event.clone()];
            // Arguments split on single spaces, as CTDB does.
            argv.extend(r.req.args.split(' ').filter(|a| !a.is_empty()).map(str::to_string));
            let on_timeout =
                self.cfg.debug_script.as_ref().map(|d| vec![d.clone(), "{pid}".to_string(), r.req.event.clone()]);
            let spec = ProcessSpec {
                arg0: Some(script.name.clone()),
                on_timeout,
                ..script_spec(&self.cfg, format!("{} {}", script.name, r.req.event), argv, left)
            };
            self.next_reqid += 1;
            let id = self.next_reqid;
            if let Some(r) = &mut self.running {
                r.proc = Some((id, now));
            }
            self.send_processd(id, spec);
            return;
        }
        self.finish(now);
    }

    /// processd's answer for one of our runs.
    pub fn process_done(&mut self, now: Instant, reqid: u64, res: ProcessResult) {
        if let Some(what) = self.side_runs.remove(&reqid) {
            match res.outcome {
                ProcessOutcome::Exited(0) => debug!("eventd: {what} done"),
                ProcessOutcome::NotStarted(e) if e == errno::ENOENT => {
                    debug!("eventd: {what}: no such script")
                }
                o => info!("eventd: {what}: {o:?}: {}", res.output.trim_end()),
            }
            if let Some((what, argv)) = self.side_queue.pop_front() {
                self.start_side_run(what, argv);
            }
            return;
        }
        let wall = self.wall(now);
        let Some(r) = &mut self.running else { return };
        let Some((id, started)) = r.proc else { return };
        if id != reqid {
            // A script of a cancelled event, ended late.
            return;
        }
        r.proc = None;
        let Some(script) = r.scripts.get(r.index).cloned() else { return };
        let result = match res.outcome {
            ProcessOutcome::Exited(code) => code,
            ProcessOutcome::Signaled(_) => -errno::EINTR,
            ProcessOutcome::TimedOut => -errno::ETIMEDOUT,
            ProcessOutcome::NotStarted(e) => -e,
        };
        let began = wall.checked_sub(now.saturating_duration_since(started)).unwrap_or(wall);
        for line in res.output.lines() {
            info!("eventd: {}: {line}", script.name);
        }
        r.results.push(ScriptStatus { name: script.name, begin: began, end: wall, result, output: res.output });
        r.index += 1;
        if result == -errno::ETIMEDOUT {
            // A timeout decides the event's result even after another
            // script failed (RUN_ALL), as in CTDB.
            r.failed = Some(result);
        } else if result != 0 {
            r.failed.get_or_insert(result);
        }
        if result != 0 && (!r.req.run_all || result == -errno::ETIMEDOUT) {
            self.finish(now);
            return;
        }
        self.run_next(now);
    }

    /// The running event is over: keep its status, answer, go on.
    fn finish(&mut self, now: Instant) {
        let Some(r) = self.running.take() else { return };
        let summary = r.failed.unwrap_or(0);
        let code = match summary {
            0 => 0,
            s if s == -errno::ETIMEDOUT => errno::ETIMEDOUT,
            _ => errno::ENOEXEC,
        };
        if code != 0 {
            let failed = r.results.iter().find(|s| s.result == summary).map_or("?", |s| s.name.as_str());
            info!(
                "eventd: {} event {} {} ({failed})",
                r.req.component,
                r.req.event,
                if code == errno::ETIMEDOUT { "timed out" } else { "failed" }
            );
        }
        self.status.insert((r.req.component.clone(), r.req.event.clone()), EventStatus { summary, scripts: r.results });
        self.answer(now, r.origin, &r.req, Reply::Run(code), code);
        self.next(now);
    }

    /// A running monitor gives way to another event.
    fn cancel_running(&mut self, now: Instant) {
        let Some(r) = self.running.take() else { return };
        info!("eventd: {} event {} cancelled", r.req.component, r.req.event);
        if let Some((id, _)) = r.proc {
            self.send(
                Endpoint::new(self.cfg.pnn, ServiceId::PROCESSD),
                0,
                Msg::ProcessKill { reqid: id, signal: nix::libc::SIGKILL },
            );
        }
        self.answer(now, r.origin, &r.req, Reply::Run(errno::ECANCELED), errno::ECANCELED);
    }

    fn next(&mut self, now: Instant) {
        if self.running.is_none() {
            if let Some((req, origin)) = self.queue.pop_front() {
                self.start(now, req, origin);
            }
        }
    }

    fn answer(&mut self, now: Instant, origin: Origin, req: &RunRequest, reply: Reply, code: i32) {
        match origin {
            Origin::Socket { conn, reqid } => self.actions.push_back(Action::SocketReply { conn, reqid, reply }),
            Origin::Monitor => self.monitor_done(now, code),
            Origin::Lifecycle => self.lifecycle_done(now, &req.event, code),
            Origin::Service { from, reqid } => {
                let mut p = Packet::new(
                    from,
                    Endpoint::new(self.cfg.pnn, ServiceId::EVENTD),
                    reqid,
                    Body::Msg(Msg::EventDone { result: code }),
                );
                p.header.flags = Flags::REPLY;
                self.actions.push_back(Action::Send(p));
            }
            Origin::Recovery => {
                if code != 0 {
                    // CTDB ignores hung recovery scripts; a failure is logged.
                    warn!("eventd: {} event failed ({code})", req.event);
                }
            }
        }
    }

    // ---- timers ----

    /// When [`Eventd::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let stuck = self.running.as_ref().map(|r| r.deadline + DEADLINE_GRACE);
        [stuck, self.monitor.due()].into_iter().flatten().min()
    }

    /// Timers: the monitor schedule, and an event processd never answered.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.running.as_ref().is_some_and(|r| now >= r.deadline + DEADLINE_GRACE) {
            warn!("eventd: no answer from processd past the event's deadline");
            if let Some(r) = &mut self.running {
                r.failed = Some(-errno::ETIMEDOUT);
                r.proc = None;
            }
            self.finish(now);
        }
        self.monitor_tick(now);
    }

    // ---- transport ----

    /// A packet from the transport.
    pub fn dispatch(&mut self, now: Instant, p: Packet) {
        let is_reply = p.header.flags.contains(Flags::REPLY);
        match p.body {
            Body::Msg(Msg::ProcessDone(res)) if is_reply => self.process_done(now, p.header.reqid, res),
            Body::Msg(Msg::ProcessStarted { .. }) | Body::Msg(Msg::ProcessOutput { .. }) => {}
            Body::Msg(Msg::ClusterState(st)) => self.cluster_state(now, st),
            Body::Msg(Msg::RecoveryEvent { event, .. }) => {
                let timeout = self.script_timeout();
                let req = RunRequest { component: LEGACY.into(), event, args: String::new(), timeout, run_all: false };
                self.submit(now, req, Origin::Recovery);
            }
            Body::Msg(Msg::EventRun { event, args, timeout_secs }) => {
                let timeout = Duration::from_secs(u64::from(timeout_secs.max(1)));
                let req = RunRequest { component: LEGACY.into(), event, args, timeout, run_all: false };
                self.submit(now, req, Origin::Service { from: p.header.src, reqid: p.header.reqid });
            }
            // clusterd's answer to our flag changes.
            Body::Msg(Msg::Status { .. }) if is_reply => {}
            other => debug!("eventd: unexpected packet {other:?}"),
        }
    }

    /// Next action for the shell.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub(crate) fn send(&mut self, to: Endpoint, reqid: u64, m: Msg) {
        let from = Endpoint::new(self.cfg.pnn, ServiceId::EVENTD);
        self.actions.push_back(Action::Send(Packet::new(to, from, reqid, Body::Msg(m))));
    }

    fn send_processd(&mut self, reqid: u64, spec: ProcessSpec) {
        self.send(Endpoint::new(self.cfg.pnn, ServiceId::PROCESSD), reqid, Msg::ProcessRun(spec));
    }

    /// Run a command we do not wait for (notification script).
    pub(crate) fn side_run(&mut self, what: &str, argv: Vec<String>) {
        if self.side_runs.is_empty() {
            self.start_side_run(what.to_string(), argv);
        } else {
            self.side_queue.push_back((what.to_string(), argv));
        }
    }

    fn start_side_run(&mut self, what: String, argv: Vec<String>) {
        self.next_reqid += 1;
        let id = self.next_reqid;
        self.side_runs.insert(id, what.clone());
        let spec = script_spec(&self.cfg, what, argv, self.script_timeout());
        self.send_processd(id, spec);
    }

    /// Whether an event is running (tests, status).
    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// No event running or waiting.
    pub fn idle(&self) -> bool {
        self.running.is_none() && self.queue.is_empty()
    }
}

/// A script run: the scripts' environment, output kept up to the limit,
/// killed after `timeout`.
fn script_spec(cfg: &EventdConfig, name: String, argv: Vec<String>, timeout: Duration) -> ProcessSpec {
    ProcessSpec {
        name,
        argv,
        arg0: None,
        env: cfg.env.clone(),
        timeout_ms: Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1)),
        on_timeout: None,
        output_limit: cfg.output_limit,
        stream_output: false,
    }
}
