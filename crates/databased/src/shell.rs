//! databased as a service of the daemon: the core behind the service
//! trait, fed by the transport's packets and its own timers, plus the lock
//! helper processes it asks for (see `core::work`).
//!
//! databased starts no process itself: processd runs each
//! `ctdb_lock_helper` ([`LockHelpers`]). Its stdout is streamed, so the
//! `'0'` it prints once it holds the lock comes at once as a
//! [`Msg::ProcessOutput`] (its stderr goes to the log); it is let go with
//! SIGTERM, on which it unlocks and exits (one still waiting for the lock
//! just dies). processd's messages arrive in databased's inbox like any
//! packet; they are handled here and never reach the core.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ctdb_proto::{Body, Endpoint, Msg, Packet, ProcessOutcome, ProcessSpec, ServiceId};
use ctdb_service::{BoxFuture, Service, ServiceError, ServiceIo};
use tracing::{debug, warn};

use crate::core::{Databased, LockAction};

/// The databased service.
pub struct DatabasedService {
    core: Databased,
    helpers: LockHelpers,
}

impl DatabasedService {
    /// A service around `core`; `helper` is the `ctdb_lock_helper` binary
    /// (without one, busy records are only retried, never waited for).
    pub fn new(mut core: Databased, helper: Option<PathBuf>) -> DatabasedService {
        core.enable_lock_helpers(helper.is_some());
        let helpers = LockHelpers::new(core.pnn(), helper);
        DatabasedService { core, helpers }
    }

    /// `ctdb_lock_helper` next to the running executable, if it is there.
    pub fn helper_beside_exe() -> Option<PathBuf> {
        let p = std::env::current_exe().ok()?.parent()?.join("ctdb_lock_helper");
        p.is_file().then_some(p)
    }

    /// Carry out the core's lock actions, and feed back what comes of
    /// them at once (which may ask for more).
    fn lock_actions(&mut self, now: Instant) {
        while let Some(a) = self.core.poll_lock_action() {
            if let Some((id, ok)) = self.helpers.act(a) {
                self.core.lock_result(now, id, ok);
            }
        }
    }
}

impl Service for DatabasedService {
    fn id(&self) -> ServiceId {
        ServiceId::DATABASED
    }
    fn dispatch(&mut self, now: Instant, packet: Packet) {
        if packet.header.src.service == ServiceId::PROCESSD {
            if let Some((id, ok)) = self.helpers.processd_said(packet) {
                self.core.lock_result(now, id, ok);
            }
        } else {
            self.core.dispatch(now, packet);
        }
        self.lock_actions(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.lock_actions(now);
    }
    fn deactivate(&mut self, _now: Instant) {
        self.helpers.release_all();
    }
    fn poll_output(&mut self) -> Option<Packet> {
        // A release first: smbd may be waiting for that lock.
        self.helpers.out.pop_front().or_else(|| self.core.poll_output())
    }
    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(run(self, io))
    }
}

fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a lock helper stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Helper {
    /// Started (or being started); waits for the lock.
    Waiting,
    /// Said `'0'`: holds the lock until let go.
    Holding,
    /// Said anything else (or nothing): it exits by itself.
    Failed,
    /// Let go: it is on its way out.
    Released,
}

/// The lock helpers that processd runs for databased, by the core's helper
/// id, which is also the reqid of the helper's run request (the replies
/// are told apart from the core's by their source, processd). Sans-IO:
/// lock actions and processd's messages in, packets to processd and the
/// results for the core out.
struct LockHelpers {
    me: Endpoint,
    processd: Endpoint,
    /// The `ctdb_lock_helper` binary.
    program: Option<PathBuf>,
    helpers: HashMap<u64, Helper>,
    /// Packets to processd.
    out: VecDeque<Packet>,
}

impl LockHelpers {
    fn new(pnn: u32, program: Option<PathBuf>) -> LockHelpers {
        LockHelpers {
            me: Endpoint::new(pnn, ServiceId::DATABASED),
            processd: Endpoint::new(pnn, ServiceId::PROCESSD),
            program,
            helpers: HashMap::new(),
            out: VecDeque::new(),
        }
    }

    /// Carry out one lock action; a helper that cannot be asked for is a
    /// result at once: `Some((id, false))`.
    fn act(&mut self, a: LockAction) -> Option<(u64, bool)> {
        match a {
            LockAction::Spawn { id, path, flags, key } => {
                let Some(program) = &self.program else { return Some((id, false)) };
                if self.helpers.contains_key(&id) {
                    warn!("databased: lock helper {id} asked for twice");
                    return Some((id, false));
                }
                let argv =
                    vec![program.to_string_lossy().into_owned(), path_text(&path), format!("0x{flags:x}"), hex(&key)];
                // It waits as long as smbd holds the record: the core gives
                // up on it, not a deadline.
                let spec = ProcessSpec::streamed(format!("lock helper {id} for {}", file_name(&path)), argv);
                self.helpers.insert(id, Helper::Waiting);
                self.send(id, Msg::ProcessRun(spec));
                None
            }
            LockAction::Release { id } => {
                self.release(id);
                None
            }
        }
    }

    /// Let helper `id` go: SIGTERM unlocks a holding helper (and ends one
    /// still waiting); one that failed exits by itself (and may be gone
    /// already), so it is not signalled.
    fn release(&mut self, id: u64) {
        let Some(state) = self.helpers.get_mut(&id) else { return };
        let was = std::mem::replace(state, Helper::Released);
        if matches!(was, Helper::Waiting | Helper::Holding) {
            self.send(0, Msg::ProcessKill { reqid: id, signal: libc::SIGTERM });
        }
    }

    /// At shutdown: let every helper go.
    fn release_all(&mut self) {
        let ids: Vec<u64> = self.helpers.keys().copied().collect();
        for id in ids {
            self.release(id);
        }
    }

    /// A message from processd; `Some((id, ok))` when it is the answer of
    /// helper `id` for the core.
    fn processd_said(&mut self, p: Packet) -> Option<(u64, bool)> {
        match p.body {
            Body::Msg(Msg::ProcessStarted { reqid, pid }) => {
                debug!("databased: lock helper {reqid} runs as pid {pid}");
                None
            }
            Body::Msg(Msg::ProcessOutput { reqid, data }) => {
                let state = self.helpers.get_mut(&reqid)?;
                if *state != Helper::Waiting {
                    return None;
                }
                // Its first byte is the answer; end of file before it
                // (empty output) is a failure.
                let ok = data.as_bytes().first() == Some(&b'0');
                *state = if ok { Helper::Holding } else { Helper::Failed };
                Some((reqid, ok))
            }
            Body::Msg(Msg::ProcessDone(r)) => {
                let id = p.header.reqid;
                if self.helpers.remove(&id)? != Helper::Waiting {
                    return None;
                }
                match r.outcome {
                    ProcessOutcome::NotStarted(errno) => {
                        warn!("databased: cannot start lock helper {id}: {}", std::io::Error::from_raw_os_error(errno))
                    }
                    other => warn!("databased: lock helper {id} ended without an answer: {other:?}"),
                }
                Some((id, false))
            }
            other => {
                warn!("databased: unexpected message from processd: {other:?}");
                None
            }
        }
    }

    fn send(&mut self, reqid: u64, msg: Msg) {
        self.out.push_back(Packet::new(self.processd, self.me, reqid, Body::Msg(msg)));
    }
}

/// A path as an argument (helpers are handed paths databased made itself).
fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| path_text(p), |n| n.to_string_lossy().into_owned())
}

async fn run(mut svc: Box<DatabasedService>, mut io: ServiceIo) -> Result<(), ServiceError> {
    loop {
        ctdb_service::drain(svc.as_mut(), &io.outbox)?;
        let deadline = svc.core.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            p = io.inbox.recv() => match p {
                Some(p) => svc.dispatch(Instant::now(), p),
                None => break,
            },
            _ = sleep => svc.handle_timeout(Instant::now()),
            r = io.shutdown.changed() => {
                if r.is_err() || *io.shutdown.borrow() {
                    break;
                }
            }
        }
    }
    // The helpers go now rather than when processd stops (it kills what is
    // left); the transport may already be gone, and then so are they.
    svc.helpers.release_all();
    let _ = ctdb_service::drain(svc.as_mut(), &io.outbox);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctdb_proto::{Flags, ProcessResult};

    const DATABASED: Endpoint = Endpoint::new(2, ServiceId::DATABASED);
    const PROCESSD: Endpoint = Endpoint::new(2, ServiceId::PROCESSD);

    fn helpers() -> LockHelpers {
        LockHelpers::new(2, Some(PathBuf::from("/bin/ctdb_lock_helper")))
    }

    fn spawn(id: u64) -> LockAction {
        LockAction::Spawn { id, path: PathBuf::from("/var/db/l.tdb.2"), flags: 0x1c41, key: b"k\x01".to_vec() }
    }

    fn sent(h: &mut LockHelpers) -> Vec<(u64, Msg)> {
        std::iter::from_fn(|| h.out.pop_front())
            .map(|p| {
                assert_eq!((p.header.dst, p.header.src), (PROCESSD, DATABASED));
                match p.body {
                    Body::Msg(m) => (p.header.reqid, m),
                    other => panic!("{other:?}"),
                }
            })
            .collect()
    }

    fn from_processd(h: &mut LockHelpers, reqid: u64, msg: Msg) -> Option<(u64, bool)> {
        let mut p = Packet::new(DATABASED, PROCESSD, reqid, Body::Msg(msg));
        if matches!(p.body, Body::Msg(Msg::ProcessDone(_))) {
            p.header.flags = Flags::REPLY;
        }
        h.processd_said(p)
    }

    fn output(h: &mut LockHelpers, id: u64, data: &str) -> Option<(u64, bool)> {
        from_processd(h, 0, Msg::ProcessOutput { reqid: id, data: data.into() })
    }

    fn done(h: &mut LockHelpers, id: u64, outcome: ProcessOutcome) -> Option<(u64, bool)> {
        let r = ProcessResult { pid: 50, outcome, output: String::new(), dropped: 0, duration_ms: 1 };
        from_processd(h, id, Msg::ProcessDone(r))
    }

    fn term(id: u64) -> (u64, Msg) {
        (0, Msg::ProcessKill { reqid: id, signal: libc::SIGTERM })
    }

    #[test]
    fn a_helper_is_run_streaming_its_zero_is_the_lock_and_sigterm_lets_it_go() {
        let mut h = helpers();
        assert_eq!(h.act(spawn(4)), None);
        let run = sent(&mut h);
        let [(4, Msg::ProcessRun(spec))] = run.as_slice() else { panic!("{run:?}") };
        assert_eq!(spec.argv, ["/bin/ctdb_lock_helper", "/var/db/l.tdb.2", "0x1c41", "6b01"]);
        assert_eq!(
            (spec.name.as_str(), spec.stream_output, spec.timeout_ms),
            ("lock helper 4 for l.tdb.2", true, None)
        );
        assert_eq!(from_processd(&mut h, 0, Msg::ProcessStarted { reqid: 4, pid: 50 }), None);
        assert_eq!(output(&mut h, 4, "0"), Some((4, true)));
        assert_eq!(output(&mut h, 4, ""), None, "only the first answer counts");
        assert!(sent(&mut h).is_empty());
        assert_eq!(h.act(LockAction::Release { id: 4 }), None);
        assert_eq!(sent(&mut h), vec![term(4)]);
        assert_eq!(done(&mut h, 4, ProcessOutcome::Exited(0)), None);
        assert!(h.helpers.is_empty());
        assert_eq!(h.act(LockAction::Release { id: 4 }), None);
        assert!(sent(&mut h).is_empty(), "gone: nothing to signal");
    }

    #[test]
    fn a_failed_helper_is_a_failure_and_is_not_signalled() {
        for (what, answer) in [("'1'", "1"), ("end of output", "")] {
            let mut h = helpers();
            h.act(spawn(1));
            sent(&mut h);
            assert_eq!(output(&mut h, 1, answer), Some((1, false)), "{what}");
            h.act(LockAction::Release { id: 1 });
            assert!(sent(&mut h).is_empty(), "{what}: it exits by itself");
            assert_eq!(done(&mut h, 1, ProcessOutcome::Exited(1)), None);
        }
    }

    #[test]
    fn a_helper_that_ends_or_cannot_start_without_an_answer_is_a_failure() {
        for outcome in [ProcessOutcome::NotStarted(libc::ENOENT), ProcessOutcome::Signaled(9)] {
            let mut h = helpers();
            h.act(spawn(3));
            sent(&mut h);
            assert_eq!(done(&mut h, 3, outcome), Some((3, false)), "{outcome:?}");
            assert!(h.helpers.is_empty());
        }
    }

    #[test]
    fn without_the_binary_every_helper_fails_at_once() {
        let mut h = LockHelpers::new(2, None);
        assert_eq!(h.act(spawn(9)), Some((9, false)));
        assert!(sent(&mut h).is_empty());
    }

    #[test]
    fn at_shutdown_waiting_and_holding_helpers_are_let_go() {
        let mut h = helpers();
        for id in 1..=3 {
            h.act(spawn(id));
        }
        sent(&mut h);
        output(&mut h, 1, "0");
        output(&mut h, 2, "1");
        h.release_all();
        let mut kills = sent(&mut h);
        kills.sort_by_key(|(_, m)| format!("{m:?}"));
        assert_eq!(kills, vec![term(1), term(3)]);
        assert_eq!(output(&mut h, 3, "0"), None, "a late answer after the release is moot");
    }
}
