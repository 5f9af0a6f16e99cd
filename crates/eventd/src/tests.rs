//! The core without processes: scripts answered by hand as processd would.

use std::time::{Duration, Instant, SystemTime};

use ctdb_legacy_proto::flags as node_flags;
use ctdb_proto::{
    Body, ClusterState, Endpoint, Flags, Msg, NodeInfo, Packet, ProcessOutcome, ProcessResult, ProcessSpec, ServiceId,
};

use crate::core::errno;
use crate::{Action, Eventd, EventdConfig, MemScriptDir, Origin, Reply, RunRequest};

struct T {
    core: Eventd,
    now: Instant,
}

impl T {
    fn new(scripts: &[(&str, bool)]) -> T {
        let now = Instant::now();
        let mut cfg = EventdConfig::new(0);
        cfg.debug_script = Some("/etc/ctdb/debug-hung-script.sh".into());
        cfg.notify_script = Some("/etc/ctdb/notify.sh".into());
        let core = Eventd::new(cfg, Box::new(MemScriptDir::with("legacy", scripts)), now, SystemTime::UNIX_EPOCH);
        T { core, now }
    }

    /// Everything the core did; notification runs are answered at once
    /// (they go one at a time), so later ones show up too.
    fn actions(&mut self) -> Vec<Action> {
        let mut all = Vec::new();
        loop {
            let batch: Vec<Action> = std::iter::from_fn(|| self.core.poll_action()).collect();
            if batch.is_empty() {
                return all;
            }
            let notifies: Vec<u64> = T::runs(&batch)
                .into_iter()
                .filter(|(_, s)| s.argv[0].ends_with("notify.sh"))
                .map(|(id, _)| id)
                .collect();
            all.extend(batch);
            for id in notifies {
                self.done(id, ProcessOutcome::Exited(0), "");
            }
        }
    }

    /// ProcessRun requests among `a`: (reqid, spec).
    fn runs(a: &[Action]) -> Vec<(u64, ProcessSpec)> {
        a.iter()
            .filter_map(|a| match a {
                Action::Send(p) => match &p.body {
                    Body::Msg(Msg::ProcessRun(s)) => Some((p.header.reqid, s.clone())),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    fn replies(a: &[Action]) -> Vec<(u32, Reply)> {
        a.iter()
            .filter_map(|a| match a {
                Action::SocketReply { reqid, reply, .. } => Some((*reqid, reply.clone())),
                _ => None,
            })
            .collect()
    }

    fn msgs(a: &[Action]) -> Vec<Msg> {
        a.iter()
            .filter_map(|a| match a {
                Action::Send(Packet { body: Body::Msg(m), .. }) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    fn run(&mut self, event: &str, reqid: u32) {
        let req = RunRequest {
            component: "legacy".into(),
            event: event.into(),
            args: String::new(),
            timeout: Duration::from_secs(30),
            run_all: false,
        };
        self.core.submit(self.now, req, Origin::Socket { conn: 1, reqid });
    }

    fn done(&mut self, reqid: u64, outcome: ProcessOutcome, output: &str) {
        let res = ProcessResult { pid: 100, outcome, output: output.into(), dropped: 0, duration_ms: 1 };
        let mut p = Packet::new(
            Endpoint::new(0, ServiceId::EVENTD),
            Endpoint::new(0, ServiceId::PROCESSD),
            reqid,
            Body::Msg(Msg::ProcessDone(res)),
        );
        p.header.flags = Flags::REPLY;
        self.core.dispatch(self.now, p);
    }
}

#[test]
fn scripts_run_in_order_and_a_failure_stops_the_event() {
    let mut t = T::new(&[("00.a", true), ("05.off", false), ("10.b", true), ("20.c", true)]);
    t.run("monitor", 7);
    let a = t.actions();
    let runs = T::runs(&a);
    assert_eq!(runs.len(), 1, "one script at a time");
    let (id, spec) = &runs[0];
    assert_eq!(spec.argv, vec!["/ev/00.a.script".to_string(), "monitor".into()]);
    assert_eq!(spec.arg0.as_deref(), Some("00.a"), "scripts see their short name as argv[0]");
    assert_eq!(spec.on_timeout, Some(vec!["/etc/ctdb/debug-hung-script.sh".into(), "{pid}".into(), "monitor".into()]));
    t.done(*id, ProcessOutcome::Exited(0), "");
    let a = t.actions();
    let runs = T::runs(&a);
    assert_eq!(runs[0].1.argv[0], "/ev/10.b.script", "the disabled script is skipped");
    t.done(runs[0].0, ProcessOutcome::Exited(1), "smbd not running\n");
    let a = t.actions();
    assert!(T::runs(&a).is_empty(), "20.c ran after a failure");
    assert_eq!(T::replies(&a), vec![(7, Reply::Run(errno::ENOEXEC))]);
    let Reply::Status(0, Some(s)) = t.core.status("legacy", "monitor") else { panic!("no status") };
    assert_eq!(s.summary, 1);
    let got: Vec<(&str, i32, &str)> =
        s.scripts.iter().map(|x| (x.name.as_str(), x.result, x.output.as_str())).collect();
    assert_eq!(got, vec![("00.a", 0, ""), ("05.off", -errno::ENOEXEC, ""), ("10.b", 1, "smbd not running\n")]);
    assert_eq!(t.core.status("legacy", "takeip"), Reply::Status(errno::EINVAL, None), "never ran");
    assert_eq!(t.core.status("nosuch", "monitor"), Reply::Status(errno::ENOENT, None));
}

#[test]
fn arguments_split_on_spaces_and_a_timeout_ends_the_event() {
    let mut t = T::new(&[("10.interface", true), ("11.next", true)]);
    let req = RunRequest {
        component: "legacy".into(),
        event: "takeip".into(),
        args: "eth0 10.0.0.1 24".into(),
        timeout: Duration::from_secs(3),
        run_all: false,
    };
    t.core.submit(t.now, req, Origin::Socket { conn: 1, reqid: 9 });
    let runs = T::runs(&t.actions());
    let spec = &runs[0].1;
    assert_eq!(spec.argv[1..], ["takeip", "eth0", "10.0.0.1", "24"].map(String::from));
    assert_eq!(spec.timeout_ms, Some(3000), "the event's deadline");
    t.now += Duration::from_secs(3);
    t.done(runs[0].0, ProcessOutcome::TimedOut, "sleeping\n");
    let a = t.actions();
    assert!(T::runs(&a).is_empty());
    assert_eq!(T::replies(&a), vec![(9, Reply::Run(errno::ETIMEDOUT))]);
    let Reply::Status(0, Some(s)) = t.core.status("legacy", "takeip") else { panic!() };
    assert_eq!((s.summary, s.scripts.len()), (-errno::ETIMEDOUT, 1));
}

#[test]
fn another_event_cancels_a_monitor_and_a_monitor_waits_for_nobody() {
    let mut t = T::new(&[("00.a", true)]);
    t.run("monitor", 1);
    let first = T::runs(&t.actions())[0].0;
    t.run("startrecovery", 2);
    let a = t.actions();
    assert!(T::msgs(&a).iter().any(|m| matches!(m, Msg::ProcessKill { reqid, .. } if *reqid == first)));
    assert_eq!(T::replies(&a), vec![(1, Reply::Run(errno::ECANCELED))]);
    let second = T::runs(&a)[0].0;
    // A monitor while startrecovery runs: cancelled at once.
    t.run("monitor", 3);
    assert_eq!(T::replies(&t.actions()), vec![(3, Reply::Run(errno::ECANCELED))]);
    // The cancelled script's late answer changes nothing.
    t.done(first, ProcessOutcome::Signaled(9), "");
    assert!(t.actions().is_empty());
    // Events queue behind each other.
    t.run("recovered", 4);
    assert!(T::runs(&t.actions()).is_empty(), "recovered started while startrecovery runs");
    t.done(second, ProcessOutcome::Exited(0), "");
    let a = t.actions();
    assert_eq!(T::replies(&a), vec![(2, Reply::Run(0))]);
    assert_eq!(T::runs(&a)[0].1.argv[1], "recovered");
}

#[test]
fn a_missing_component_and_a_script_that_cannot_start() {
    let mut t = T::new(&[("00.a", true)]);
    let req = RunRequest {
        component: "nosuch".into(),
        event: "monitor".into(),
        args: String::new(),
        timeout: Duration::from_secs(30),
        run_all: false,
    };
    t.core.submit(t.now, req, Origin::Socket { conn: 1, reqid: 5 });
    assert_eq!(T::replies(&t.actions()), vec![(5, Reply::Run(errno::ENOENT))]);
    t.run("monitor", 6);
    let id = T::runs(&t.actions())[0].0;
    t.done(id, ProcessOutcome::NotStarted(errno::ENOENT), "");
    assert_eq!(T::replies(&t.actions()), vec![(6, Reply::Run(errno::ENOEXEC))]);
    let Reply::Status(0, Some(s)) = t.core.status("legacy", "monitor") else { panic!() };
    assert_eq!(s.scripts[0].result, -errno::ENOENT, "shown as CANNOT RUN");
}

fn running_state(recmode: u32) -> ClusterState {
    ClusterState {
        pnn: 0,
        nodes: vec![NodeInfo { pnn: 0, addr: None, flags: 0 }],
        runstate: 5,
        capabilities: 0,
        generation: 2,
        vnnmap: vec![0],
        recmode,
        leader: Some(0),
        tunables: ctdb_config::Tunables::defaults().as_array().to_vec(),
        cluster_lock: None,
        last_recovery: (0, 0, 0, 0),
    }
}

fn state_packet(st: ClusterState) -> Packet {
    Packet::new(
        Endpoint::new(0, ServiceId::EVENTD),
        Endpoint::new(0, ServiceId::CLUSTERD),
        0,
        Body::Msg(Msg::ClusterState(st)),
    )
}

/// Through startup to the first monitor; returns its processd reqid.
fn first_monitor(t: &mut T) -> u64 {
    t.core.dispatch(t.now, state_packet(running_state(0)));
    let runs = T::runs(&t.actions());
    assert_eq!(runs[0].1.argv[1], "startup");
    t.done(runs[0].0, ProcessOutcome::Exited(0), "");
    let a = t.actions();
    assert!(T::runs(&a).iter().any(|(_, s)| s.argv == ["/etc/ctdb/notify.sh", "startup"]));
    let due = t.core.poll_timeout().expect("monitor scheduled");
    assert_eq!(due, t.now + Duration::from_secs(2), "first monitor 2 s after startup");
    t.now = due;
    t.core.handle_timeout(t.now);
    let runs = T::runs(&t.actions());
    assert_eq!(runs[0].1.argv[1], "monitor");
    runs[0].0
}

fn flag_changes(a: &[Action]) -> Vec<(u32, u32)> {
    T::msgs(a)
        .into_iter()
        .filter_map(|m| match m {
            Msg::SetOwnFlags { set, clear } => Some((set, clear)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_failing_monitor_makes_the_node_unhealthy_and_a_pass_heals_it() {
    let mut t = T::new(&[("50.samba", true)]);
    let id = first_monitor(&mut t);
    t.done(id, ProcessOutcome::Exited(0), "");
    assert_eq!(flag_changes(&t.actions()), vec![(0, node_flags::UNHEALTHY)], "healthy told once");
    // Intervals double up to MonitorInterval (15 s).
    let mut gaps = Vec::new();
    let mut last = t.now;
    for _ in 0..4 {
        let due = t.core.poll_timeout().unwrap();
        gaps.push(due - last);
        last = due;
        t.now = due;
        t.core.handle_timeout(t.now);
        let id = T::runs(&t.actions())[0].0;
        t.done(id, ProcessOutcome::Exited(0), "");
        assert!(flag_changes(&t.actions()).is_empty(), "no change, no message");
    }
    assert_eq!(gaps, [2, 4, 8, 15].map(Duration::from_secs));
    t.now = t.core.poll_timeout().unwrap();
    t.core.handle_timeout(t.now);
    let id = T::runs(&t.actions())[0].0;
    t.done(id, ProcessOutcome::Exited(1), "ERROR: samba tcp port 445 is not responding\n");
    let a = t.actions();
    assert_eq!(flag_changes(&a), vec![(node_flags::UNHEALTHY, 0)]);
    assert!(T::runs(&a).iter().any(|(_, s)| s.argv == ["/etc/ctdb/notify.sh", "unhealthy"]));
    assert_eq!(t.core.poll_timeout(), Some(t.now + Duration::from_secs(5)), "5 s after a change");
    t.now += Duration::from_secs(5);
    t.core.handle_timeout(t.now);
    let id = T::runs(&t.actions())[0].0;
    t.done(id, ProcessOutcome::Exited(0), "");
    assert_eq!(flag_changes(&t.actions()), vec![(0, node_flags::UNHEALTHY)]);
}

#[test]
fn monitor_timeouts_count_up_to_the_configured_limit() {
    for (limit, unhealthy_after) in [(1u32, 1usize), (3, 3)] {
        let mut t = T::new(&[("99.hang", true)]);
        t.core.cfg.monitor_timeout_count = limit;
        let mut id = first_monitor(&mut t);
        let mut changes = Vec::new();
        for round in 1..=3 {
            t.done(id, ProcessOutcome::TimedOut, "");
            let a = t.actions();
            if !flag_changes(&a).is_empty() {
                changes.push(round);
            }
            t.now = t.core.poll_timeout().unwrap();
            t.core.handle_timeout(t.now);
            id = T::runs(&t.actions())[0].0;
        }
        assert_eq!(changes, vec![unhealthy_after], "limit {limit}");
    }
}

#[test]
fn no_monitor_while_the_cluster_recovers() {
    let mut t = T::new(&[("00.a", true)]);
    let id = first_monitor(&mut t);
    t.done(id, ProcessOutcome::Exited(0), "");
    t.actions();
    t.core.dispatch(t.now, state_packet(running_state(1)));
    t.now = t.core.poll_timeout().unwrap();
    t.core.handle_timeout(t.now);
    assert!(T::runs(&t.actions()).is_empty(), "monitor during recovery");
    t.core.dispatch(t.now, state_packet(running_state(0)));
    t.now = t.core.poll_timeout().unwrap();
    t.core.handle_timeout(t.now);
    assert_eq!(T::runs(&t.actions())[0].1.argv[1], "monitor");
}
