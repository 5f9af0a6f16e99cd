//! Unit tests of the core, without processes: the shell's part is played by
//! hand (spawned, output, exited), and the actions and packets are checked.

use std::time::{Duration, Instant};

use ctdb_proto::{Body, Endpoint, Flags, Msg, Packet, ProcessOutcome, ProcessResult, ProcessSpec, ServiceId};
use nix::sys::signal::Signal::{SIGKILL, SIGTERM};

use super::{Action, Command, ExitStatus, ProcId, Processd, DRAIN_TIMEOUT};

const EVENTD: Endpoint = Endpoint::new(0, ServiceId::EVENTD);
const CLUSTERD: Endpoint = Endpoint::new(0, ServiceId::CLUSTERD);
const EINVAL: i32 = libc::EINVAL;

fn spec(argv: &[&str]) -> ProcessSpec {
    ProcessSpec {
        name: "test".into(),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        arg0: None,
        env: vec![("CTDB_TEST".into(), "1".into())],
        timeout_ms: None,
        on_timeout: None,
        output_limit: 1024,
        stream_output: false,
    }
}

fn timed(ms: u64, on_timeout: Option<&[&str]>) -> ProcessSpec {
    ProcessSpec {
        timeout_ms: Some(ms),
        on_timeout: on_timeout.map(|a| a.iter().map(|s| s.to_string()).collect()),
        ..spec(&["script"])
    }
}

fn kill(pgid: i32) -> Action {
    signal(pgid, SIGKILL)
}

fn signal(pgid: i32, signal: nix::sys::signal::Signal) -> Action {
    // The id is checked separately where it matters; here it is wildcarded.
    Action::Signal { id: ProcId(0), pgid, signal }
}

fn reap(pid: i32) -> Action {
    Action::Reap { id: ProcId(0), pid }
}

/// Actions with the ids blanked, to compare with [`kill`] and [`reap`].
fn blank(actions: Vec<Action>) -> Vec<Action> {
    actions
        .into_iter()
        .map(|a| match a {
            Action::Signal { pgid, signal, .. } => Action::Signal { id: ProcId(0), pgid, signal },
            Action::Reap { pid, .. } => Action::Reap { id: ProcId(0), pid },
            other => other,
        })
        .collect()
}

/// One core and a clock.
struct T {
    core: Processd,
    now: Instant,
}

impl T {
    fn new() -> T {
        T { core: Processd::new(0), now: Instant::now() }
    }

    fn send(&mut self, from: Endpoint, reqid: u64, msg: Msg) {
        let p = Packet::new(Endpoint::new(0, ServiceId::PROCESSD), from, reqid, Body::Msg(msg));
        self.core.dispatch(self.now, p);
    }

    fn request(&mut self, reqid: u64, spec: ProcessSpec) {
        self.send(EVENTD, reqid, Msg::ProcessRun(spec));
    }

    fn kill_request(&mut self, from: Endpoint, reqid: u64, signal: i32) {
        self.send(from, 99, Msg::ProcessKill { reqid, signal });
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.core.poll_action()).collect()
    }

    fn packets(&mut self) -> Vec<Packet> {
        std::iter::from_fn(|| self.core.poll_output()).collect()
    }

    /// The one `ProcessDone` queued (checked to be a reply to `reqid`).
    fn done(&mut self, reqid: u64) -> ProcessResult {
        let mut out = self.packets();
        assert_eq!(out.len(), 1, "{out:?}");
        let p = out.remove(0);
        assert!(p.header.flags.contains(Flags::REPLY));
        assert_eq!((p.header.dst, p.header.reqid), (EVENTD, reqid));
        match p.body {
            Body::Msg(Msg::ProcessDone(r)) => r,
            other => panic!("not ProcessDone: {other:?}"),
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        if self.core.poll_timeout().is_some_and(|t| t <= self.now) {
            self.core.handle_timeout(self.now);
        }
    }

    /// Request `spec` as `reqid` and start it as `pid`; the Spawn and the
    /// Started message are checked and consumed.
    fn start(&mut self, reqid: u64, spec: ProcessSpec, pid: i32) -> ProcId {
        self.request(reqid, spec.clone());
        let id = match self.actions().as_slice() {
            [Action::Spawn { id, command }] => {
                let split_stderr = spec.stream_output;
                assert_eq!(command, &Command { argv: spec.argv, arg0: spec.arg0, env: spec.env, split_stderr });
                *id
            }
            other => panic!("expected one Spawn, got {other:?}"),
        };
        self.core.spawned(self.now, id, pid);
        let started = self.packets();
        assert_eq!(started.len(), 1);
        assert!(!started[0].header.flags.contains(Flags::REPLY));
        assert_eq!(started[0].header.dst, EVENTD);
        assert_eq!(started[0].body, Body::Msg(Msg::ProcessStarted { reqid, pid }));
        id
    }

    /// The main process exits and its pipes close.
    fn ends(&mut self, id: ProcId, status: ExitStatus) -> Vec<Action> {
        self.core.exited(self.now, id, status);
        let actions = self.actions();
        self.core.output_closed(self.now, id);
        self.core.stderr_closed(self.now, id);
        actions
    }
}

#[test]
fn an_exit_kills_the_group_before_the_reap_and_answers_once_the_pipe_closes() {
    let mut t = T::new();
    let id = t.start(7, spec(&["sh", "-c", "echo hello"]), 100);
    t.core.output(t.now, id, b"hello\n");
    t.advance(30);
    t.core.exited(t.now, id, ExitStatus::Exited(0));
    assert_eq!(t.actions(), vec![Action::Signal { id, pgid: 100, signal: SIGKILL }, Action::Reap { id, pid: 100 }]);
    assert!(t.packets().is_empty(), "no answer before the output is all read");
    t.core.output_closed(t.now, id);
    assert_eq!(
        t.done(7),
        ProcessResult {
            pid: 100,
            outcome: ProcessOutcome::Exited(0),
            output: "hello\n".into(),
            dropped: 0,
            duration_ms: 30
        }
    );
    assert!(t.actions().is_empty(), "the pipe closed by itself");
    assert!(t.core.is_idle());
}

#[test]
fn exit_statuses_become_outcomes() {
    for (status, outcome) in [
        (ExitStatus::Exited(0), ProcessOutcome::Exited(0)),
        (ExitStatus::Exited(3), ProcessOutcome::Exited(3)),
        (ExitStatus::Signaled(11), ProcessOutcome::Signaled(11)),
    ] {
        let mut t = T::new();
        let id = t.start(1, spec(&["x"]), 100);
        t.ends(id, status);
        assert_eq!(t.done(1).outcome, outcome, "{status:?}");
    }
}

#[test]
fn output_is_kept_up_to_the_limit_and_the_rest_counted() {
    // (limit, chunks, kept, dropped)
    let cases: &[(u32, &[&str], &str, u64)] = &[
        (10, &["abc", "def"], "abcdef", 0),
        (4, &["abc", "def"], "abcd", 2),
        (0, &["abc"], "", 3),
        (3, &["abc", "defgh", "ij"], "abc", 7),
    ];
    for &(limit, chunks, kept, dropped) in cases {
        let mut t = T::new();
        let id = t.start(1, ProcessSpec { output_limit: limit, ..spec(&["x"]) }, 100);
        for c in chunks {
            t.core.output(t.now, id, c.as_bytes());
        }
        t.ends(id, ExitStatus::Exited(0));
        let r = t.done(1);
        assert_eq!((r.output.as_str(), r.dropped), (kept, dropped), "limit {limit}, chunks {chunks:?}");
    }
}

#[test]
fn streamed_output_goes_out_as_it_comes_and_not_in_the_result() {
    let mut t = T::new();
    let id = t.start(5, ProcessSpec { stream_output: true, output_limit: 2, ..spec(&["x"]) }, 100);
    t.core.output(t.now, id, b"first ");
    t.core.output(t.now, id, b"second");
    let out: Vec<Body> = t.packets().into_iter().map(|p| p.body).collect();
    assert_eq!(
        out,
        vec![
            Body::Msg(Msg::ProcessOutput { reqid: 5, data: "first ".into() }),
            Body::Msg(Msg::ProcessOutput { reqid: 5, data: "second".into() }),
        ]
    );
    t.ends(id, ExitStatus::Exited(0));
    let mut out = t.packets();
    assert_eq!(out.remove(0).body, Body::Msg(Msg::ProcessOutput { reqid: 5, data: String::new() }), "end of stream");
    match out.as_slice() {
        [p] => match &p.body {
            Body::Msg(Msg::ProcessDone(r)) => assert_eq!((r.output.as_str(), r.dropped), ("", 0)),
            other => panic!("not ProcessDone: {other:?}"),
        },
        other => panic!("expected the answer alone, got {other:?}"),
    }
}

#[test]
fn the_end_of_a_stream_is_told_when_it_comes_before_the_exit() {
    let mut t = T::new();
    let id = t.start(5, ProcessSpec { stream_output: true, ..spec(&["helper"]) }, 100);
    t.core.output(t.now, id, b"0");
    t.core.output_closed(t.now, id);
    let out: Vec<Body> = t.packets().into_iter().map(|p| p.body).collect();
    assert_eq!(
        out,
        vec![
            Body::Msg(Msg::ProcessOutput { reqid: 5, data: "0".into() }),
            Body::Msg(Msg::ProcessOutput { reqid: 5, data: String::new() }),
        ]
    );
    assert!(t.actions().is_empty(), "it still runs");
    t.core.stderr_closed(t.now, id);
    t.core.exited(t.now, id, ExitStatus::Exited(1));
    assert_eq!(t.done(5).outcome, ProcessOutcome::Exited(1));
}

#[test]
fn a_streaming_process_keeps_stderr_out_of_the_stream_and_is_answered_once_both_pipes_close() {
    let mut t = T::new();
    let id = t.start(5, ProcessSpec { stream_output: true, ..spec(&["helper"]) }, 100);
    // stderr is logged, never sent: only stdout reaches the requester.
    t.core.stderr(t.now, id, b"helper: taking the lock\npartial");
    t.core.output(t.now, id, b"0");
    let out: Vec<Body> = t.packets().into_iter().map(|p| p.body).collect();
    assert_eq!(out, vec![Body::Msg(Msg::ProcessOutput { reqid: 5, data: "0".into() })]);
    t.core.exited(t.now, id, ExitStatus::Exited(0));
    assert_eq!(blank(t.actions()), vec![kill(100), reap(100)]);
    t.core.output_closed(t.now, id);
    let end = Body::Msg(Msg::ProcessOutput { reqid: 5, data: String::new() });
    assert_eq!(t.packets().into_iter().map(|p| p.body).collect::<Vec<_>>(), vec![end], "stderr is still open");
    t.core.stderr_closed(t.now, id);
    assert_eq!(t.done(5).outcome, ProcessOutcome::Exited(0));
    assert!(t.actions().is_empty(), "both pipes closed by themselves");
    assert!(t.core.is_idle());
}

#[test]
fn a_stderr_pipe_held_open_is_given_up_after_the_drain_timeout_too() {
    let mut t = T::new();
    let id = t.start(5, ProcessSpec { stream_output: true, ..spec(&["helper"]) }, 100);
    t.core.exited(t.now, id, ExitStatus::Exited(1));
    t.actions();
    t.core.output_closed(t.now, id);
    t.packets();
    t.advance(DRAIN_TIMEOUT.as_millis() as u64);
    assert_eq!(t.done(5).outcome, ProcessOutcome::Exited(1));
    assert_eq!(t.actions(), vec![Action::CloseOutput { id }]);
    assert!(t.core.is_idle());
}

#[test]
fn a_pipe_held_open_is_given_up_after_the_drain_timeout() {
    let mut t = T::new();
    let id = t.start(1, spec(&["x"]), 100);
    t.core.exited(t.now, id, ExitStatus::Exited(0));
    t.actions();
    t.advance(DRAIN_TIMEOUT.as_millis() as u64 - 1);
    assert!(t.packets().is_empty());
    t.advance(1);
    assert_eq!(t.done(1).outcome, ProcessOutcome::Exited(0));
    assert_eq!(t.actions(), vec![Action::CloseOutput { id }]);
    assert!(t.core.is_idle());
}

#[test]
fn at_the_deadline_the_requester_hears_timed_out_at_once_then_the_group_is_killed() {
    let mut t = T::new();
    let id = t.start(1, timed(1000, None), 100);
    t.core.output(t.now, id, b"so far");
    t.advance(999);
    assert!(t.packets().is_empty() && t.actions().is_empty());
    t.advance(1);
    assert_eq!(
        t.done(1),
        ProcessResult {
            pid: 100,
            outcome: ProcessOutcome::TimedOut,
            output: "so far".into(),
            dropped: 0,
            duration_ms: 1000
        }
    );
    assert_eq!(blank(t.actions()), vec![kill(100)]);
    // The kill takes effect: reaped as usual, nothing more is said.
    assert_eq!(blank(t.ends(id, ExitStatus::Signaled(9))), vec![kill(100), reap(100)]);
    assert!(t.packets().is_empty());
    assert!(t.core.is_idle());
}

#[test]
fn on_timeout_the_debug_command_gets_the_pid_and_runs_before_the_kill() {
    let mut t = T::new();
    let hung = t.start(1, timed(1000, Some(&["debug.sh", "{pid}", "--pid={pid}"])), 100);
    t.advance(1000);
    assert_eq!(t.done(1).outcome, ProcessOutcome::TimedOut);
    let debug = match t.actions().as_slice() {
        [Action::Spawn { id, command }] => {
            assert_eq!(command.argv, ["debug.sh", "100", "--pid=100"]);
            assert_eq!(command.env, spec(&[]).env, "same environment as the hung process");
            *id
        }
        other => panic!("expected the debug command, got {other:?}"),
    };
    t.core.spawned(t.now, debug, 200);
    assert!(t.packets().is_empty(), "processd's own commands have no requester");
    t.core.output(t.now, debug, b"stack of 100\n");
    t.advance(500);
    assert!(t.actions().is_empty(), "the hung process waits for the debug command");
    // The debug command ends: its group, then the hung one.
    assert_eq!(blank(t.ends(debug, ExitStatus::Exited(0))), vec![kill(200), reap(200), kill(100)]);
    assert_eq!(blank(t.ends(hung, ExitStatus::Signaled(9))), vec![kill(100), reap(100)]);
    assert!(t.packets().is_empty());
    assert!(t.core.is_idle());
}

#[test]
fn a_debug_command_that_overruns_is_killed_with_the_hung_process() {
    let mut t = T::new();
    t.start(1, timed(1000, Some(&["debug.sh", "{pid}"])), 100);
    t.advance(1000);
    t.done(1);
    let [Action::Spawn { id: debug, .. }] = t.actions()[..] else { panic!("no debug command") };
    t.core.spawned(t.now, debug, 200);
    t.advance(999);
    assert!(t.actions().is_empty());
    t.advance(1);
    assert_eq!(blank(t.actions()), vec![kill(200), kill(100)]);
    assert!(t.packets().is_empty());
}

#[test]
fn a_debug_command_that_cannot_start_does_not_delay_the_kill() {
    let mut t = T::new();
    t.start(1, timed(1000, Some(&["missing", "{pid}"])), 100);
    t.advance(1000);
    t.done(1);
    let [Action::Spawn { id: debug, .. }] = t.actions()[..] else { panic!("no debug command") };
    t.core.spawn_failed(t.now, debug, libc::ENOENT);
    assert_eq!(blank(t.actions()), vec![kill(100)]);
    assert!(t.packets().is_empty());
}

#[test]
fn a_kill_request_signals_the_group_and_the_result_follows() {
    let mut t = T::new();
    let id = t.start(4, spec(&["x"]), 100);
    t.kill_request(EVENTD, 4, libc::SIGTERM);
    assert_eq!(t.actions(), vec![Action::Signal { id, pgid: 100, signal: SIGTERM }]);
    assert!(t.packets().is_empty());
    t.ends(id, ExitStatus::Signaled(libc::SIGTERM));
    assert_eq!(t.done(4).outcome, ProcessOutcome::Signaled(libc::SIGTERM));
}

#[test]
fn a_process_that_cannot_start_is_answered_not_started() {
    let mut t = T::new();
    t.request(3, spec(&["/nonexistent"]));
    let [Action::Spawn { id, .. }] = t.actions()[..] else { panic!("no spawn") };
    t.core.spawn_failed(t.now, id, libc::ENOENT);
    assert_eq!(
        t.done(3),
        ProcessResult {
            pid: 0,
            outcome: ProcessOutcome::NotStarted(libc::ENOENT),
            output: "".into(),
            dropped: 0,
            duration_ms: 0
        }
    );
    // The request id is free again.
    t.request(3, spec(&["x"]));
    assert!(matches!(t.actions()[..], [Action::Spawn { .. }]));
}

#[test]
fn bad_run_requests_are_refused_with_einval() {
    let cases: &[(&str, ProcessSpec)] =
        &[("empty argv", spec(&[])), ("empty on_timeout", ProcessSpec { on_timeout: Some(vec![]), ..timed(10, None) })];
    for (what, bad) in cases {
        let mut t = T::new();
        t.request(1, bad.clone());
        assert!(t.actions().is_empty(), "{what}");
        assert_eq!(t.done(1).outcome, ProcessOutcome::NotStarted(EINVAL), "{what}");
    }
}

#[test]
fn a_duplicate_request_id_is_refused_and_the_first_process_is_untouched() {
    let mut t = T::new();
    let id = t.start(1, spec(&["x"]), 100);
    t.request(1, spec(&["y"]));
    assert!(t.actions().is_empty());
    assert_eq!(t.done(1).outcome, ProcessOutcome::NotStarted(EINVAL));
    // Another requester may use the same reqid.
    t.send(CLUSTERD, 1, Msg::ProcessRun(spec(&["z"])));
    assert!(matches!(t.actions()[..], [Action::Spawn { .. }]));
    t.ends(id, ExitStatus::Exited(0));
    assert_eq!(t.done(1).pid, 100);
}

#[test]
fn bad_kill_requests_are_ignored() {
    let cases: &[(&str, Endpoint, u64, i32)] = &[
        ("unknown reqid", EVENTD, 2, libc::SIGTERM),
        ("another requester's process", CLUSTERD, 1, libc::SIGTERM),
        ("no such signal", EVENTD, 1, 1000),
        ("signal 0", EVENTD, 1, 0),
    ];
    for &(what, from, reqid, sig) in cases {
        let mut t = T::new();
        t.start(1, spec(&["x"]), 100);
        t.kill_request(from, reqid, sig);
        assert!(t.actions().is_empty(), "{what}");
        assert!(t.packets().is_empty(), "{what}");
    }
}

#[test]
fn no_signal_is_sent_once_the_process_was_reaped_or_answered() {
    let mut t = T::new();
    let id = t.start(1, spec(&["x"]), 100);
    t.core.exited(t.now, id, ExitStatus::Exited(0));
    t.actions();
    t.kill_request(EVENTD, 1, libc::SIGTERM);
    assert!(t.actions().is_empty(), "reap was asked for: the pid may be someone else's");

    let mut t = T::new();
    t.start(1, timed(10, None), 100);
    t.advance(10);
    t.done(1);
    t.actions();
    t.kill_request(EVENTD, 1, libc::SIGTERM);
    assert!(t.actions().is_empty(), "answered: the request id is no longer known");
}

#[test]
fn unexpected_messages_and_replies_are_dropped() {
    let mut t = T::new();
    t.send(EVENTD, 1, Msg::Shutdown);
    let mut reply =
        Packet::new(Endpoint::new(0, ServiceId::PROCESSD), EVENTD, 2, Body::Msg(Msg::ProcessRun(spec(&["x"]))));
    reply.header.flags = Flags::REPLY;
    t.core.dispatch(t.now, reply);
    assert!(t.actions().is_empty() && t.packets().is_empty());
}

#[test]
fn events_for_unknown_processes_are_ignored() {
    let mut t = T::new();
    let ghost = ProcId(42);
    t.core.spawned(t.now, ghost, 1);
    t.core.spawn_failed(t.now, ghost, libc::ENOENT);
    t.core.output(t.now, ghost, b"x");
    t.core.output_closed(t.now, ghost);
    t.core.exited(t.now, ghost, ExitStatus::Exited(0));
    assert!(t.actions().is_empty() && t.packets().is_empty());
}

#[test]
fn shutdown_kills_every_group_and_requesters_still_get_their_answer() {
    let mut t = T::new();
    let a = t.start(1, spec(&["a"]), 100);
    let b = t.start(2, timed(60_000, None), 101);
    t.core.shutdown(t.now);
    assert_eq!(blank(t.actions()), vec![kill(100), kill(101)]);
    t.ends(a, ExitStatus::Signaled(9));
    assert_eq!(t.done(1).outcome, ProcessOutcome::Signaled(9));
    t.ends(b, ExitStatus::Signaled(9));
    assert_eq!(t.done(2).outcome, ProcessOutcome::Signaled(9));
    assert!(t.core.is_idle());
    // Nothing new starts.
    t.request(3, spec(&["c"]));
    assert!(t.actions().is_empty());
    assert_eq!(t.done(3).outcome, ProcessOutcome::NotStarted(libc::ESHUTDOWN));
}
