//! processd with real processes: the service runs on in-memory channels
//! (as the transport would run it) and is asked to run shell commands.
//! Nothing here waits a fixed time: every wait is for a condition, with a
//! deadline.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ctdb_processd::ProcessdService;
use ctdb_proto::{Body, Endpoint, Flags, Msg, Packet, ProcessOutcome, ProcessResult, ProcessSpec, ServiceId};
use ctdb_service::{Service, ServiceError, ServiceIo};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

const ME: Endpoint = Endpoint::new(0, ServiceId::EVENTD);
const PROCESSD: Endpoint = Endpoint::new(0, ServiceId::PROCESSD);
/// Longest any single wait in these tests may take before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// processd running as a task, and the requester's end of its channels.
struct Harness {
    inbox: mpsc::UnboundedSender<Packet>,
    outbox: mpsc::UnboundedReceiver<Packet>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ServiceError>>,
    reqid: u64,
}

impl Harness {
    fn start() -> Harness {
        let (inbox, inbox_rx) = mpsc::unbounded_channel();
        let (outbox_tx, outbox) = mpsc::unbounded_channel();
        let (stop, shutdown) = watch::channel(false);
        let io = ServiceIo { pnn: 0, inbox: inbox_rx, outbox: outbox_tx, shutdown };
        let task = tokio::spawn(Box::new(ProcessdService::new(0)).run(io));
        Harness { inbox, outbox, stop, task, reqid: 0 }
    }

    fn send(&mut self, reqid: u64, msg: Msg) {
        self.inbox.send(Packet::new(PROCESSD, ME, reqid, Body::Msg(msg))).expect("processd is running");
    }

    fn run(&mut self, spec: ProcessSpec) -> u64 {
        self.reqid += 1;
        self.send(self.reqid, Msg::ProcessRun(spec));
        self.reqid
    }

    async fn next(&mut self) -> Packet {
        match tokio::time::timeout(PATIENCE, self.outbox.recv()).await {
            Ok(Some(p)) => p,
            Ok(None) => panic!("processd stopped"),
            Err(_) => panic!("nothing from processd within {PATIENCE:?}"),
        }
    }

    /// The pid of `ProcessStarted` for `reqid`.
    async fn started(&mut self, reqid: u64) -> i32 {
        match self.next().await.body {
            Body::Msg(Msg::ProcessStarted { reqid: r, pid }) if r == reqid => pid,
            other => panic!("expected ProcessStarted for {reqid}, got {other:?}"),
        }
    }

    /// Everything up to the `ProcessDone` answering `reqid`: the streamed
    /// output and the result.
    async fn done(&mut self, reqid: u64) -> (String, ProcessResult) {
        let mut streamed = String::new();
        // Bounded by PATIENCE per packet and by the test's own output.
        loop {
            let p = self.next().await;
            match p.body {
                Body::Msg(Msg::ProcessDone(r)) => {
                    assert!(p.header.flags.contains(Flags::REPLY));
                    assert_eq!((p.header.dst, p.header.reqid), (ME, reqid));
                    return (streamed, r);
                }
                Body::Msg(Msg::ProcessOutput { reqid: r, data }) if r == reqid => streamed.push_str(&data),
                Body::Msg(Msg::ProcessStarted { .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Run `spec` to its end.
    async fn run_to_end(&mut self, spec: ProcessSpec) -> ProcessResult {
        let reqid = self.run(spec);
        self.done(reqid).await.1
    }

    async fn shut_down(self) {
        let _ = self.stop.send(true);
        let r = tokio::time::timeout(PATIENCE, self.task).await.expect("processd stops in time");
        r.expect("task did not panic").expect("processd stopped cleanly");
    }
}

fn spec(argv: &[&str]) -> ProcessSpec {
    ProcessSpec {
        name: "test".into(),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        arg0: None,
        env: vec![],
        timeout_ms: None,
        on_timeout: None,
        output_limit: 4096,
        stream_output: false,
    }
}

fn sh(script: &str) -> ProcessSpec {
    spec(&["/bin/sh", "-c", script])
}

/// Whether `pid` is gone: no such process, or a zombie waiting for a
/// parent that is not us (a reparented orphan, dead all the same).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Poll `cond` until it holds; fail after [`PATIENCE`].
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "not within {PATIENCE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A scratch directory for one test.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ctdb-processd-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str, text: &str, mode: u32) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn the_exit_status_is_reported() {
    let mut h = Harness::start();
    let reqid = h.run(sh("exit 3"));
    let pid = h.started(reqid).await;
    let (_, r) = h.done(reqid).await;
    assert_eq!((r.pid, r.outcome), (pid, ProcessOutcome::Exited(3)));
    assert!(gone(pid));
    h.shut_down().await;
}

#[tokio::test]
async fn stdout_and_stderr_arrive_in_one_stream_with_arg0_and_env_applied() {
    let mut h = Harness::start();
    let r = h
        .run_to_end(ProcessSpec {
            arg0: Some("short-name".into()),
            env: vec![("CTDB_TEST_VAR".into(), "value".into())],
            ..sh(r#"echo "out $CTDB_TEST_VAR"; echo err >&2; tr '\0' ' ' < /proc/$$/cmdline"#)
        })
        .await;
    assert_eq!(r.outcome, ProcessOutcome::Exited(0));
    assert!(r.output.starts_with("out value\nerr\nshort-name -c "), "{:?}", r.output);
    h.shut_down().await;
}

#[tokio::test]
async fn streamed_output_comes_as_messages() {
    let mut h = Harness::start();
    let reqid = h.run(ProcessSpec { stream_output: true, ..sh("echo one; echo two") });
    let (streamed, r) = h.done(reqid).await;
    assert_eq!((streamed.as_str(), r.output.as_str(), r.outcome), ("one\ntwo\n", "", ProcessOutcome::Exited(0)));
    h.shut_down().await;
}

#[tokio::test]
async fn a_streaming_process_streams_stdout_alone() {
    let mut h = Harness::start();
    // The stderr line comes first and has no newline at the end of the
    // script's output: neither it nor the tail gets into the stream.
    let reqid = h.run(ProcessSpec { stream_output: true, ..sh("echo chatter >&2; printf 0; printf tail >&2") });
    let (streamed, r) = h.done(reqid).await;
    assert_eq!((streamed.as_str(), r.output.as_str(), r.outcome), ("0", "", ProcessOutcome::Exited(0)));
    h.shut_down().await;
}

#[tokio::test]
async fn a_process_past_its_deadline_is_answered_timed_out_and_is_gone() {
    let mut h = Harness::start();
    let reqid = h.run(ProcessSpec { timeout_ms: Some(200), ..spec(&["sleep", "100"]) });
    let pid = h.started(reqid).await;
    let (_, r) = h.done(reqid).await;
    assert_eq!((r.pid, r.outcome), (pid, ProcessOutcome::TimedOut));
    assert!(r.duration_ms >= 200, "{r:?}");
    wait_for("the timed-out process is killed", || gone(pid)).await;
    h.shut_down().await;
}

#[tokio::test]
async fn a_process_that_ignores_sigterm_still_dies_at_its_deadline() {
    let mut h = Harness::start();
    let reqid =
        h.run(ProcessSpec { timeout_ms: Some(200), ..sh("trap '' TERM; echo ready; while :; do sleep 1; done") });
    let pid = h.started(reqid).await;
    let (_, r) = h.done(reqid).await;
    assert_eq!((r.outcome, r.output.as_str()), (ProcessOutcome::TimedOut, "ready\n"));
    wait_for("the TERM-proof process is killed", || gone(pid)).await;
    h.shut_down().await;
}

#[tokio::test]
async fn what_a_script_left_running_is_killed_when_it_exits() {
    let mut h = Harness::start();
    let r = h.run_to_end(sh("sleep 1000 & echo $!")).await;
    assert_eq!(r.outcome, ProcessOutcome::Exited(0));
    let child: i32 = r.output.trim().parse().expect("the script prints its child's pid");
    wait_for("the background child is killed", || gone(child)).await;
    h.shut_down().await;
}

#[tokio::test]
async fn ten_megabytes_of_output_are_bounded_and_counted() {
    const TOTAL: u64 = 10 * 1024 * 1024;
    const LIMIT: u32 = 64 * 1024;
    let mut h = Harness::start();
    let began = Instant::now();
    let r = h
        .run_to_end(ProcessSpec { output_limit: LIMIT, ..sh(&format!("head -c {TOTAL} /dev/zero | tr '\\0' a")) })
        .await;
    assert_eq!(r.outcome, ProcessOutcome::Exited(0));
    assert_eq!(r.output.len(), LIMIT as usize);
    assert!(r.output.bytes().all(|b| b == b'a'));
    assert_eq!(r.dropped, TOTAL - u64::from(LIMIT));
    assert!(began.elapsed() < Duration::from_secs(10), "took {:?}", began.elapsed());
    h.shut_down().await;
}

#[tokio::test]
async fn the_on_timeout_command_sees_the_hung_process_alive_then_it_is_killed() {
    let scratch = Scratch::new("on-timeout");
    let report = scratch.0.join("report");
    let mut h = Harness::start();
    let reqid = h.run(ProcessSpec {
        timeout_ms: Some(200),
        on_timeout: Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            // Write to a temporary name and rename: the test never sees
            // half a report.
            r#"if kill -0 "$1"; then s=alive; else s=dead; fi; echo "$1 $s" > "$2.tmp"; mv "$2.tmp" "$2"; echo "looked at $1""#
                .into(),
            "debug".into(),
            "{pid}".into(),
            report.to_string_lossy().into_owned(),
        ]),
        ..spec(&["sleep", "100"])
    });
    let pid = h.started(reqid).await;
    let (_, r) = h.done(reqid).await;
    assert_eq!(r.outcome, ProcessOutcome::TimedOut);
    wait_for("the on-timeout command reports", || report.exists()).await;
    let seen = std::fs::read_to_string(&report).expect("report");
    assert_eq!(seen.trim(), format!("{pid} alive"));
    wait_for("the hung process is killed after its debug command", || gone(pid)).await;
    h.shut_down().await;
}

#[tokio::test]
async fn a_kill_request_signals_the_process_group() {
    let mut h = Harness::start();
    let reqid = h.run(spec(&["sleep", "100"]));
    let pid = h.started(reqid).await;
    h.send(0, Msg::ProcessKill { reqid, signal: libc::SIGTERM });
    let (_, r) = h.done(reqid).await;
    assert_eq!((r.pid, r.outcome), (pid, ProcessOutcome::Signaled(libc::SIGTERM)));
    h.shut_down().await;
}

#[tokio::test]
async fn programs_that_cannot_be_executed_are_not_started_with_the_errno() {
    let scratch = Scratch::new("not-started");
    let cases = [
        ("missing program", "/nonexistent/program".to_string(), libc::ENOENT),
        ("not executable", scratch.file("plain", "#!/bin/sh\nexit 0\n", 0o644), libc::EACCES),
        ("missing interpreter", scratch.file("bad-interp", "#!/nonexistent/sh\nexit 0\n", 0o755), libc::ENOENT),
        ("neither binary nor script", scratch.file("garbage", "\x7fnot an ELF\n", 0o755), libc::ENOEXEC),
    ];
    let mut h = Harness::start();
    for (what, path, errno) in cases {
        let r = h.run_to_end(spec(&[&path])).await;
        assert_eq!((r.pid, r.outcome), (0, ProcessOutcome::NotStarted(errno)), "{what}");
    }
    h.shut_down().await;
}

#[tokio::test]
async fn stopping_processd_kills_what_still_runs() {
    let mut h = Harness::start();
    let reqid = h.run(spec(&["sleep", "100"]));
    let pid = h.started(reqid).await;
    let _ = h.stop.send(true);
    let (_, r) = h.done(reqid).await;
    assert_eq!(r.outcome, ProcessOutcome::Signaled(libc::SIGKILL));
    assert!(gone(pid));
    h.shut_down().await;
}
