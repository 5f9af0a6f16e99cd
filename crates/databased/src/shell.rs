//! databased as a service of the daemon: the core behind the service
//! trait, fed by the transport's packets and its own timers, plus the lock
//! helper processes it asks for (see `core::work`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{drain, BoxFuture, Service, ServiceError, ServiceIo};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tracing::warn;

use crate::core::{Databased, LockAction};

/// The databased service.
pub struct DatabasedService {
    core: Databased,
    helper: Option<PathBuf>,
}

impl DatabasedService {
    /// A service around `core`; `helper` is the `ctdb_lock_helper` binary
    /// (without one, busy records are only retried, never waited for).
    pub fn new(mut core: Databased, helper: Option<PathBuf>) -> DatabasedService {
        core.enable_lock_helpers(helper.is_some());
        DatabasedService { core, helper }
    }

    /// `ctdb_lock_helper` next to the running executable, if it is there.
    pub fn helper_beside_exe() -> Option<PathBuf> {
        let p = std::env::current_exe().ok()?.parent()?.join("ctdb_lock_helper");
        p.is_file().then_some(p)
    }
}

impl Service for DatabasedService {
    fn id(&self) -> ServiceId {
        ServiceId::DATABASED
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
    fn poll_output(&mut self) -> Option<Packet> {
        self.core.poll_output()
    }
    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(run(self, io))
    }
}

fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Helpers holding (or waiting for) a lock: dropping one closes its stdin,
/// which lets it go.
struct Running {
    children: HashMap<u64, Child>,
    results: mpsc::UnboundedSender<(u64, bool)>,
}

impl Running {
    fn spawn(&mut self, helper: &PathBuf, id: u64, path: PathBuf, flags: i32, key: &[u8]) -> bool {
        let child = Command::new(helper)
            .arg(&path)
            .arg(format!("0x{flags:x}"))
            .arg(hex(key))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                warn!("databased: cannot start {}: {e}", helper.display());
                return false;
            }
        };
        let Some(mut out) = child.stdout.take() else { return false };
        let tx = self.results.clone();
        tokio::spawn(async move {
            let mut b = [0u8; 1];
            let ok = matches!(out.read(&mut b).await, Ok(1)) && b[0] == b'0';
            let _ = tx.send((id, ok));
        });
        self.children.insert(id, child);
        true
    }

    fn release(&mut self, id: u64) {
        if let Some(mut child) = self.children.remove(&id) {
            // Closing stdin makes the helper unlock and exit; reap it.
            drop(child.stdin.take());
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

async fn run(mut svc: Box<DatabasedService>, mut io: ServiceIo) -> Result<(), ServiceError> {
    let (tx, mut results) = mpsc::unbounded_channel();
    let mut running = Running { children: HashMap::new(), results: tx };
    loop {
        drain(svc.as_mut(), &io.outbox)?;
        while let Some(a) = svc.core.poll_lock_action() {
            match a {
                LockAction::Spawn { id, path, flags, key } => {
                    let started = match &svc.helper {
                        Some(h) => running.spawn(h, id, path, flags, &key),
                        None => false,
                    };
                    if !started {
                        svc.core.lock_result(Instant::now(), id, false);
                    }
                }
                LockAction::Release { id } => running.release(id),
            }
        }
        drain(svc.as_mut(), &io.outbox)?;
        let deadline = svc.core.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            p = io.inbox.recv() => match p {
                Some(p) => svc.core.dispatch(Instant::now(), p),
                None => break,
            },
            Some((id, ok)) = results.recv() => svc.core.lock_result(Instant::now(), id, ok),
            _ = sleep => svc.core.handle_timeout(Instant::now()),
            r = io.shutdown.changed() => {
                if r.is_err() || *io.shutdown.borrow() {
                    break;
                }
            }
        }
    }
    for id in running.children.keys().copied().collect::<Vec<_>>() {
        running.release(id);
    }
    Ok(())
}
