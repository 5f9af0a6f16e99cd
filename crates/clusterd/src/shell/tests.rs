//! The shell's exchange with processd, without processes: processd's part
//! is played by hand, and what goes to processd and to the core is checked.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use ctdb_cluster_lock::PING_SIGNAL;
use ctdb_config::{NodesSource, Tunables};
use ctdb_proto::{Body, Endpoint, Flags, Msg, Packet, ProcessOutcome, ProcessResult, ProcessSpec, ServiceId};

use super::{
    ClusterdShell, HELPER_EXIT_TIMEOUT, HELPER_PING_INTERVAL, LOCK_TAKE_TIMEOUT, NODES_COMMAND_TIMEOUT,
    NODES_OUTPUT_LIMIT, SIGKILL, SIGTERM,
};
use crate::{Clusterd, ClusterdConfig};

const LEADER_TIMEOUT: Duration = Duration::from_secs(5);
const CLUSTERD: Endpoint = Endpoint::new(0, ServiceId::CLUSTERD);
const PROCESSD: Endpoint = Endpoint::new(0, ServiceId::PROCESSD);
const GATEWAY: Endpoint = Endpoint::new(0, ServiceId::GATEWAY);

fn ip(n: u8) -> Option<IpAddr> {
    Some(IpAddr::from([127, 0, 0, n]))
}

/// A shell on node 0 whose lock helper is `/helper /shared/lock` and whose
/// node list comes from `/bin/nodes-cmd -x`.
struct T {
    shell: ClusterdShell,
    now: Instant,
}

impl T {
    fn new() -> T {
        let now = Instant::now();
        let core = Clusterd::new(
            now,
            ClusterdConfig {
                databases: false,
                pnn: 0,
                nodes: vec![ip(1), None, ip(3)],
                tunables: Tunables::defaults(),
                cluster_lock: Some("/shared/lock".into()),
                capabilities: 0x3_0003,
                start_flags: 0,
                leader_timeout: LEADER_TIMEOUT,
                seed: 7,
                wall_start: SystemTime::UNIX_EPOCH,
            },
        );
        let lock = Some((PathBuf::from("/helper"), vec!["/shared/lock".to_string()]));
        let nodes = NodesSource::Command(PathBuf::from("/bin/nodes-cmd"), vec!["-x".into()]);
        let mut t = T { shell: ClusterdShell::new(core, lock, nodes), now };
        ctdb_service::Service::activate(&mut t.shell, now);
        t.out();
        t
    }

    /// Everything the shell sends now.
    fn out(&mut self) -> Vec<Packet> {
        std::iter::from_fn(|| self.shell.poll_output()).collect()
    }

    /// What the shell sends processd now: (header reqid, message).
    fn sent(&mut self) -> Vec<(u64, Msg)> {
        self.out()
            .into_iter()
            .filter(|p| p.header.dst == PROCESSD)
            .map(|p| {
                assert_eq!(p.header.src, CLUSTERD);
                match p.body {
                    Body::Msg(m) => (p.header.reqid, m),
                    other => panic!("not a message: {other:?}"),
                }
            })
            .collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        if self.shell.poll_timeout().is_some_and(|t| t <= self.now) {
            self.shell.handle_timeout(self.now);
        }
    }

    fn processd_says(&mut self, reqid: u64, msg: Msg) {
        let mut p = Packet::new(CLUSTERD, PROCESSD, reqid, Body::Msg(msg));
        if matches!(p.body, Body::Msg(Msg::ProcessDone(_))) {
            p.header.flags = Flags::REPLY;
        }
        self.shell.dispatch(self.now, p);
    }

    fn done(&mut self, reqid: u64, outcome: ProcessOutcome) {
        let r = ProcessResult { pid: 100, outcome, output: String::new(), dropped: 0, duration_ms: 1 };
        self.processd_says(reqid, Msg::ProcessDone(r));
    }

    /// After the leader timeout the core races for the lock: the helper's
    /// run request, checked, by reqid.
    fn take(&mut self) -> u64 {
        self.advance(LEADER_TIMEOUT);
        match self.sent().as_slice() {
            [(reqid, Msg::ProcessRun(spec))] => {
                assert_eq!(
                    spec,
                    &ProcessSpec {
                        name: "cluster lock helper".into(),
                        argv: vec!["/helper".into(), "/shared/lock".into()],
                        arg0: None,
                        env: vec![],
                        timeout_ms: None,
                        on_timeout: None,
                        output_limit: 0,
                        stream_output: true,
                    }
                );
                *reqid
            }
            other => panic!("expected the helper's run request, got {other:?}"),
        }
    }

    /// Take the lock: the helper runs and says '0'.
    fn hold(&mut self) -> u64 {
        let reqid = self.take();
        self.processd_says(0, Msg::ProcessStarted { reqid, pid: 100 });
        self.processd_says(0, Msg::ProcessOutput { reqid, data: "0".into() });
        assert!(self.shell.core.is_leader());
        reqid
    }
}

fn kill(reqid: u64, signal: i32) -> (u64, Msg) {
    (0, Msg::ProcessKill { reqid, signal })
}

#[test]
fn a_zero_makes_a_leader_pings_follow_and_the_helpers_end_is_the_lock_lost() {
    let mut t = T::new();
    let reqid = t.hold();
    assert!(t.sent().is_empty(), "nothing to processd until the first ping");
    assert_eq!(t.shell.poll_timeout(), Some(t.now + HELPER_PING_INTERVAL));
    for _ in 0..3 {
        t.advance(HELPER_PING_INTERVAL);
        assert_eq!(t.sent(), vec![kill(reqid, PING_SIGNAL)]);
    }
    // Anything after the answer is not an answer.
    t.processd_says(0, Msg::ProcessOutput { reqid, data: "3".into() });
    assert!(t.shell.core.is_leader());
    t.done(reqid, ProcessOutcome::Exited(1));
    assert!(!t.shell.core.is_leader(), "stepped down: the lock is lost");
    assert!(t.sent().is_empty(), "the helper is gone: nothing to release");
    t.advance(HELPER_PING_INTERVAL);
    assert!(t.sent().iter().all(|(_, m)| !matches!(m, Msg::ProcessKill { .. })), "no more pings");
}

#[test]
fn the_end_of_the_helpers_output_is_the_lock_lost_before_it_exits() {
    let mut t = T::new();
    let reqid = t.hold();
    t.processd_says(0, Msg::ProcessOutput { reqid, data: String::new() });
    assert!(!t.shell.core.is_leader(), "stepped down at the end of the output");
    assert!(t.sent().is_empty(), "it is on its way out: no signal");
    t.done(reqid, ProcessOutcome::Exited(1));
    t.advance(HELPER_EXIT_TIMEOUT);
    assert!(t.sent().iter().all(|(_, m)| !matches!(m, Msg::ProcessKill { .. })), "nothing to kill");
}

#[test]
fn the_end_of_the_output_before_an_answer_is_an_error() {
    let mut t = T::new();
    let reqid = t.take();
    t.processd_says(0, Msg::ProcessOutput { reqid, data: String::new() });
    assert!(t.shell.helper.is_none());
    assert!(!t.shell.core.is_leader());
    // Retried after the retry interval, with a new helper.
    t.advance(crate::election::LOCK_RETRY);
    assert!(matches!(t.sent().as_slice(), [(r, Msg::ProcessRun(_))] if *r != reqid));
}

#[test]
fn contention_is_not_signalled_and_the_helpers_end_is_no_news() {
    let mut t = T::new();
    let reqid = t.take();
    t.processd_says(0, Msg::ProcessOutput { reqid, data: "1".into() });
    assert!(!t.shell.core.is_leader());
    assert!(t.sent().is_empty(), "a helper that answered '1' exits by itself");
    t.done(reqid, ProcessOutcome::Exited(0));
    assert!(t.sent().is_empty());
    assert!(t.shell.releasing.is_empty());
}

#[test]
fn a_helper_that_stays_after_answering_no_is_killed() {
    let mut t = T::new();
    let reqid = t.take();
    t.processd_says(0, Msg::ProcessOutput { reqid, data: "3".into() });
    t.advance(HELPER_EXIT_TIMEOUT);
    assert!(t.sent().contains(&kill(reqid, SIGKILL)));
}

#[test]
fn no_answer_in_time_is_a_timeout_and_the_helper_is_terminated() {
    let mut t = T::new();
    let reqid = t.take();
    t.now += LOCK_TAKE_TIMEOUT - LEADER_TIMEOUT;
    t.advance(LEADER_TIMEOUT);
    assert!(t.sent().contains(&kill(reqid, SIGTERM)));
    // A late '0' from it does not make a leader.
    t.processd_says(0, Msg::ProcessOutput { reqid, data: "0".into() });
    assert!(!t.shell.core.is_leader());
    t.done(reqid, ProcessOutcome::Signaled(15));
    assert!(t.shell.releasing.is_empty());
}

#[test]
fn a_helper_that_cannot_start_or_ends_without_an_answer_is_an_error() {
    for outcome in [ProcessOutcome::NotStarted(nix::errno::Errno::ENOENT as i32), ProcessOutcome::Exited(0)] {
        let mut t = T::new();
        let reqid = t.take();
        t.done(reqid, outcome);
        assert!(!t.shell.core.is_leader());
        assert!(t.shell.helper.is_none());
        assert!(t.sent().is_empty(), "{outcome:?}: nothing to stop");
    }
}

#[test]
fn release_is_sigterm_and_sigkill_follows_if_the_helper_stays() {
    let mut t = T::new();
    let reqid = t.hold();
    ctdb_service::Service::deactivate(&mut t.shell, t.now);
    assert_eq!(t.sent(), vec![kill(reqid, SIGTERM)]);
    t.advance(HELPER_EXIT_TIMEOUT - Duration::from_millis(1));
    assert!(t.sent().is_empty());
    t.advance(Duration::from_millis(1));
    assert_eq!(t.sent(), vec![kill(reqid, SIGKILL)]);
}

#[test]
fn a_helper_that_lets_go_in_time_is_not_killed() {
    let mut t = T::new();
    let reqid = t.hold();
    ctdb_service::Service::deactivate(&mut t.shell, t.now);
    assert_eq!(t.sent(), vec![kill(reqid, SIGTERM)]);
    t.done(reqid, ProcessOutcome::Exited(0));
    t.advance(HELPER_EXIT_TIMEOUT);
    assert!(t.sent().is_empty());
}

/// GET_NODES_FILE from the gateway as `reqid`: the run request, checked.
fn ask_nodes(t: &mut T, reqid: u64) -> u64 {
    t.shell.dispatch(t.now, Packet::new(CLUSTERD, GATEWAY, reqid, Body::Msg(Msg::NodesFileRequest)));
    match t.sent().as_slice() {
        [(run, Msg::ProcessRun(spec))] => {
            assert_eq!(spec.name, "nodes list");
            assert_eq!(spec.argv, vec!["/bin/nodes-cmd".to_string(), "-x".into()]);
            assert_eq!(spec.timeout_ms, Some(NODES_COMMAND_TIMEOUT.as_millis() as u64));
            assert!(spec.stream_output, "stdout alone is the list");
            *run
        }
        other => panic!("expected the command's run request, got {other:?}"),
    }
}

/// The reply to the gateway's request `reqid`.
fn answer(t: &mut T, reqid: u64) -> Msg {
    let replies: Vec<Packet> = t.out().into_iter().filter(|p| p.header.dst == GATEWAY).collect();
    match replies.as_slice() {
        [p] => {
            assert!(p.header.flags.contains(Flags::REPLY));
            assert_eq!(p.header.reqid, reqid);
            match &p.body {
                Body::Msg(m) => m.clone(),
                other => panic!("{other:?}"),
            }
        }
        other => panic!("expected one reply, got {other:?}"),
    }
}

#[test]
fn the_nodes_list_is_the_commands_stdout() {
    let mut t = T::new();
    let run = ask_nodes(&mut t, 41);
    t.processd_says(0, Msg::ProcessOutput { reqid: run, data: "127.0.0.1\n127.0".into() });
    t.processd_says(0, Msg::ProcessOutput { reqid: run, data: ".0.3\n".into() });
    assert!(t.out().iter().all(|p| p.header.dst != GATEWAY), "no answer before the command ends");
    t.done(run, ProcessOutcome::Exited(0));
    assert_eq!(answer(&mut t, 41), Msg::NodesFile { nodes: vec![ip(1), ip(3)] });
}

#[test]
fn a_failing_hanging_or_missing_command_fails_the_request() {
    for outcome in [
        ProcessOutcome::Exited(3),
        ProcessOutcome::Signaled(9),
        ProcessOutcome::TimedOut,
        ProcessOutcome::NotStarted(nix::errno::Errno::ENOENT as i32),
    ] {
        let mut t = T::new();
        let run = ask_nodes(&mut t, 7);
        t.processd_says(0, Msg::ProcessOutput { reqid: run, data: "127.0.0.1\n".into() });
        t.done(run, outcome);
        assert_eq!(answer(&mut t, 7), Msg::Status { status: -1 }, "{outcome:?}");
    }
}

#[test]
fn a_command_printing_too_much_is_killed_and_fails_the_request() {
    let mut t = T::new();
    let run = ask_nodes(&mut t, 7);
    let line = "127.0.0.1\n".repeat(1000);
    let mut sent = 0;
    while sent <= NODES_OUTPUT_LIMIT {
        t.processd_says(0, Msg::ProcessOutput { reqid: run, data: line.clone() });
        sent += line.len();
    }
    assert_eq!(t.sent(), vec![kill(run, SIGKILL)]);
    t.processd_says(0, Msg::ProcessOutput { reqid: run, data: line });
    assert!(t.sent().is_empty(), "killed once");
    t.done(run, ProcessOutcome::Signaled(9));
    assert_eq!(answer(&mut t, 7), Msg::Status { status: -1 });
}
