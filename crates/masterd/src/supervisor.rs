//! Run the services of one node in this process until shutdown.

use std::time::{Instant, SystemTime};

use ctdb_clusterd::shell::ClusterdShell;
use ctdb_clusterd::{Clusterd, ClusterdConfig};
use ctdb_config::{LogLocation, CTDB_PORT};
use ctdb_gateway::{GatewayConfig, GatewayShell};
use ctdb_legacy_proto::caps;
use ctdb_proto::{Body, Msg, Packet, ServiceId};
use ctdb_service::{run_loop, BoxFuture, Service, ServiceError, ServiceIo};
use ctdb_transport::{Keepalive, Transport, TransportConfig};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::daemonize::Ready;
use crate::pidfile::PidFile;
use crate::setup::Loaded;

/// masterd's own endpoint: it receives the request to stop the daemon.
struct Supervisor {
    stop: watch::Sender<bool>,
}

impl Service for Supervisor {
    fn id(&self) -> ServiceId {
        ServiceId::MASTERD
    }

    fn dispatch(&mut self, _now: Instant, p: Packet) {
        if let Body::Msg(Msg::Shutdown) = p.body {
            info!("Received SHUTDOWN command.");
            let _ = self.stop.send(true);
        }
    }

    fn poll_output(&mut self) -> Option<Packet> {
        None
    }

    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(run_loop(self, io))
    }
}

/// Start logging, take the pid file, bind the sockets, report readiness,
/// then run until a SHUTDOWN control or SIGTERM/SIGINT. `Err(code)` is the
/// exit status for a failed start.
pub fn run(l: Loaded, interactive: bool, ready: Option<Ready>) -> Result<(), u8> {
    let host = if l.paths.test_mode {
        l.paths.base.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    } else {
        nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default()
    };
    let location = if interactive { LogLocation::Stderr } else { l.conf.logging.location.clone() };
    let log = match ctdb_log::init(&location, l.conf.logging.level, "ctdbd", &host) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("ctdbd: cannot set up logging: {e}");
            return Err(1);
        }
    };
    info!("CTDB starting on node {} (ctdb-rs {})", l.pnn, env!("CARGO_PKG_VERSION"));
    for w in &l.tunable_warnings {
        warn!("{w}");
    }
    let _pid = match PidFile::create(&l.paths.pidfile) {
        Ok(p) => p,
        Err(e) => {
            error!("Failed to create PID file {}: {e}", l.paths.pidfile.display());
            log.flush();
            return Err(11);
        }
    };
    // One thread, like CTDB's single event loop: every hop between services
    // is a channel hand-off, and on one thread it costs no cross-CPU
    // wake-up (measured: context switches per ring message 3.5x -> 1.1x
    // Samba's). Nothing in the services blocks: helpers and commands are
    // child processes, logging goes through its own thread.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the async runtime: {e}");
            return Err(1);
        }
    };
    let result = rt.block_on(serve(l, log.clone(), ready));
    log.flush();
    result
}

async fn serve(l: Loaded, log: ctdb_log::LogHandle, ready: Option<Ready>) -> Result<(), u8> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // SHUTDOWN from a client or a signal asks; the ordered stop follows.
    let (request_tx, request_rx) = watch::channel(false);
    let tcfg = TransportConfig {
        pnn: l.pnn,
        nodes: l.nodes.clone(),
        port: CTDB_PORT,
        keepalive: Keepalive {
            fine_interval: std::time::Duration::from_millis(u64::from(l.conf.cluster.keepalive_interval_ms)),
            fine_limit: l.conf.cluster.keepalive_limit,
            tunables: (l.tunables.keepalive_interval(), l.tunables.keepalive_limit()),
        },
    };
    let mut transport = Transport::new(tcfg, stop_rx.clone());
    match transport.bind().await {
        Ok(addr) => info!("Listening for node connections on {addr}"),
        Err(e) => {
            error!("{e}");
            return Err(1);
        }
    }

    let mut capabilities = caps::PARALLEL_RECOVERY | caps::FRAGMENTED_CONTROLS;
    if l.conf.cluster.leader_capability {
        capabilities |= caps::RECMASTER;
    }
    if l.conf.legacy.lmaster_capability {
        capabilities |= caps::LMASTER;
    }
    let mut start_flags = 0;
    if l.conf.legacy.start_as_stopped {
        start_flags |= ctdb_clusterd::node_flags::STOPPED;
    }
    if l.conf.legacy.start_as_disabled {
        start_flags |= ctdb_clusterd::node_flags::PERMANENTLY_DISABLED;
    }
    let cluster_lock = l.conf.cluster.cluster_lock.clone().or_else(|| l.conf.cluster.recovery_lock.clone());
    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 32;
    let clusterd = Clusterd::new(
        Instant::now(),
        ClusterdConfig {
            databases: true,
            pnn: l.pnn,
            nodes: l.nodes.clone(),
            tunables: l.tunables.clone(),
            cluster_lock,
            capabilities,
            start_flags,
            leader_timeout: std::time::Duration::from_secs(u64::from(l.conf.cluster.leader_timeout)),
            seed,
            wall_start: SystemTime::now(),
        },
    );
    let clusterd = ClusterdShell::new(clusterd, l.lock_command.clone(), l.nodes_source.clone());

    let failoverd = match failoverd_service(&l) {
        Ok(f) => f,
        Err(e) => {
            error!("{e}");
            error!("Unable to setup public IP addresses");
            return Err(1);
        }
    };
    let mut gateway = GatewayShell::new(GatewayConfig {
        pnn: l.pnn,
        socket: l.paths.socket.clone(),
        start: SystemTime::now(),
        debug_level: l.conf.logging.level.0,
        log: Some(log),
        failover: failoverd.is_some(),
    });
    if let Err(e) = gateway.bind() {
        error!("{e}");
        return Err(1);
    }
    info!("Listening for clients on {}", l.paths.socket.display());

    let backend = ctdb_databased::TdbBackend::new(ctdb_databased::TdbBackendConfig {
        volatile_dir: l.conf.database.volatile_dir.clone(),
        persistent_dir: l.conf.database.persistent_dir.clone(),
        mutexes: l.conf.database.tdb_mutexes,
        hash_size: l.tunables.database_hash_size(),
        state_dir: Some(l.conf.database.state_dir.clone()),
    });
    let databased = ctdb_databased::DatabasedService::new(
        ctdb_databased::Databased::new(l.pnn, Box::new(backend)),
        ctdb_databased::DatabasedService::helper_beside_exe(),
    );

    // Services stop in phases. failoverd first: it hands its public
    // addresses to other nodes (bounded by `[failover] shutdown timeout`)
    // while the leader and eventd still run. Then clusterd: it yields
    // leadership and waits for the lock helper to let go while the links
    // still carry the news, so the next leader does not find the lock
    // still held; eventd with it, running the shutdown event while
    // processd still runs scripts. Then everything else.
    let (failover_stop_tx, failover_stop_rx) = watch::channel(false);
    let (clusterd_stop_tx, clusterd_stop_rx) = watch::channel(false);
    let mut services: Vec<(Box<dyn Service>, Phase)> = vec![
        (Box::new(clusterd), Phase::Second),
        (Box::new(gateway), Phase::Last),
        (Box::new(databased), Phase::Last),
        (Box::new(ctdb_processd::ProcessdService::new(l.pnn)), Phase::Last),
        (Box::new(eventd_service(&l)), Phase::Second),
        (Box::new(Supervisor { stop: request_tx.clone() }), Phase::Last),
    ];
    let failover_timeout = std::time::Duration::from_secs(u64::from(l.conf.failover.shutdown_timeout));
    if let Some(f) = failoverd {
        services.push((Box::new(f), Phase::First));
    }
    let mut tasks: [Vec<tokio::task::JoinHandle<()>>; 3] = Default::default();
    for (mut svc, phase) in services {
        let io = match phase {
            Phase::First => transport.register_with_shutdown(svc.id(), failover_stop_rx.clone()),
            Phase::Second => transport.register_with_shutdown(svc.id(), clusterd_stop_rx.clone()),
            Phase::Last => transport.register(svc.id()),
        };
        if let Err(e) = svc.init(Instant::now()) {
            error!("{e}");
            return Err(1);
        }
        let name = svc.id().name();
        let task = tokio::spawn(async move {
            if let Err(e) = svc.run(io).await {
                error!("{name} stopped: {e}");
            }
        });
        tasks[phase as usize].push(task);
    }
    let tio = transport.register(ServiceId::TRANSPORT);
    let transport_done = match transport.spawn_thread(tio) {
        Ok(done) => done,
        Err(e) => {
            error!("cannot start the transport's thread: {e}");
            return Err(1);
        }
    };

    if let Some(r) = ready {
        r.done();
    }

    let mut requested = request_rx.clone();
    let signals = async {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            }
            _ => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = signals => info!("Received a signal, shutting down"),
        _ = requested.wait_for(|s| *s) => {}
    }
    let [first, second, last] = tasks;
    let _ = failover_stop_tx.send(true);
    for t in first {
        // failoverd bounds itself by the shutdown timeout; a second more.
        let _ = tokio::time::timeout(failover_timeout + std::time::Duration::from_secs(1), t).await;
    }
    let _ = clusterd_stop_tx.send(true);
    for t in second {
        // Bounded: clusterd waits at most a few seconds for its helper.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), t).await;
    }
    let _ = stop_tx.send(true);
    for t in last {
        let _ = t.await;
    }
    if let Ok(Err(e)) = transport_done.await {
        error!("transport stopped: {e}");
    }
    info!("Shutdown sequence complete, exiting.");
    Ok(())
}

/// When a service stops, in order.
#[derive(Clone, Copy)]
enum Phase {
    /// failoverd.
    First = 0,
    /// clusterd, eventd.
    Second = 1,
    /// The rest.
    Last = 2,
}

/// eventd for this node: the scripts under `$etcdir/events`, the
/// environment CTDB gives them, the debug and notification scripts.
fn eventd_service(l: &Loaded) -> ctdb_eventd::EventdService {
    let p = &l.paths;
    let mut cfg = ctdb_eventd::EventdConfig::new(l.pnn);
    cfg.env = vec![
        ("CTDB_BASE".into(), p.base.display().to_string()),
        ("CTDB_LOGGING".into(), l.conf.logging.location.to_string()),
        ("CTDB_DEBUGLEVEL".into(), l.conf.logging.level.name().to_string()),
    ];
    if p.test_mode {
        cfg.env.push(("CTDB_TEST_MODE".into(), "yes".into()));
    }
    cfg.debug_script = l.conf.event_debug_script_path(p).map(|s| s.display().to_string());
    // Looked for once, at start: without one there is nothing to call
    // (CTDB checks each time and logs that it could not stat it).
    let notify = p.base.join("notify.sh");
    if notify.is_file() {
        cfg.notify_script = Some(notify.display().to_string());
    } else {
        info!("eventd: no notification script {}", notify.display());
    }
    cfg.monitor_timeout_count = l.conf.event.monitor_timeouts();
    let dir = ctdb_eventd::FsScriptDir::new(p.etcdir.join("events"));
    let core = ctdb_eventd::Eventd::new(cfg, Box::new(dir), Instant::now(), SystemTime::now());
    ctdb_eventd::EventdService::new(core, Some(p.eventd_socket()))
}

/// failoverd for this node, unless `[failover] disabled`: the addresses of
/// `$CTDB_BASE/public_addresses` (none without the file). A bad file stops
/// the daemon, as in CTDB.
fn failoverd_service(l: &Loaded) -> Result<Option<ctdb_failoverd::FailoverdService>, String> {
    if l.conf.failover.disabled {
        return Ok(None);
    }
    let path = l.paths.public_addresses_file();
    let addresses = ctdb_failoverd::shell::load_public_addresses(&path)?;
    info!("failoverd: {} public addresses from {}", addresses.len(), path.display());
    let core = ctdb_failoverd::Failoverd::new(ctdb_failoverd::FailoverdConfig { pnn: l.pnn, addresses });
    let timeout = std::time::Duration::from_secs(u64::from(l.conf.failover.shutdown_timeout));
    Ok(Some(ctdb_failoverd::FailoverdService::new(core, timeout, path, l.paths.test_mode)))
}
