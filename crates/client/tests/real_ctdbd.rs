//! The client against Debian's real ctdbd 4.17: a 1-node cluster in test
//! mode, started by this test under a temporary directory and always
//! stopped at the end (a Drop guard), also when an assertion fails.
//!
//! Skipped, with a message, when /usr/sbin/ctdbd is not installed.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ctdb_client::{Client, ClientError};
use ctdb_legacy_proto::{caps, flags, pnn, recmode, runstate, Opcode, ReqMessage};

const CTDBD: &str = "/usr/sbin/ctdbd";
const LIBEXEC: &str = "/usr/libexec/ctdb";
const T: Duration = Duration::from_secs(10);

/// A running ctdbd; dropping it stops the daemon and its children.
struct Daemon {
    dir: tempfile::TempDir,
    addr: Ipv4Addr,
}

impl Daemon {
    fn base(&self) -> &Path {
        self.dir.path()
    }

    fn socket(&self) -> PathBuf {
        self.base().join("run/ctdbd.socket")
    }

    fn pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.base().join("run/ctdbd.pid")).ok()?;
        text.trim().parse().ok()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.base().join("log.ctdb")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Start ctdbd (it daemonizes; the command returns once it forked).
    fn start() -> Daemon {
        let dir = match tempfile::Builder::new().prefix("ctdb-client-test-").tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        // A loopback address of our own, so that other ctdbds on this
        // machine (127.0.0.1:4379 and friends) do not collide with ours.
        let pid = std::process::id();
        let addr = Ipv4Addr::new(127, 99, ((pid / 253) % 256) as u8, (1 + pid % 253) as u8);
        let daemon = Daemon { dir, addr };
        let b = daemon.base().to_path_buf();
        for d in ["run", "var/volatile", "var/persistent", "var/state", "events/legacy"] {
            if let Err(e) = std::fs::create_dir_all(b.join(d)) {
                panic!("mkdir {d}: {e}");
            }
        }
        let conf = format!(
            "[logging]\n\tlocation = file:{b}/log.ctdb\n\tlog level = NOTICE\n\
             [cluster]\n\tnode address = {addr}\n\
             [database]\n\tvolatile database directory = {b}/var/volatile\n\
             \tpersistent database directory = {b}/var/persistent\n\
             \tstate database directory = {b}/var/state\n\
             [failover]\n\tdisabled = true\n",
            b = b.display(),
        );
        let write = |name: &str, text: &str| {
            if let Err(e) = std::fs::write(b.join(name), text) {
                panic!("write {name}: {e}");
            }
        };
        write("ctdb.conf", &conf);
        write("nodes", &format!("{addr}\n"));
        let status = Command::new(CTDBD)
            .env_remove("CTDB_SOCKET")
            .env("CTDB_TEST_MODE", "yes")
            .env("CTDB_BASE", &b)
            .env("CTDB_EVENTD", format!("{LIBEXEC}/ctdb-eventd"))
            .env("CTDB_EVENT_HELPER", format!("{LIBEXEC}/ctdb-event"))
            .env("CTDB_LOCK_HELPER", format!("{LIBEXEC}/ctdb_lock_helper"))
            .env("CTDB_RECOVERY_HELPER", format!("{LIBEXEC}/ctdb_recovery_helper"))
            .env("CTDB_TAKEOVER_HELPER", format!("{LIBEXEC}/ctdb_takeover_helper"))
            .env("CTDB_CLUSTER_MUTEX_HELPER", format!("{LIBEXEC}/ctdb_mutex_fcntl_helper"))
            .status();
        match status {
            Ok(s) if s.success() => daemon,
            Ok(s) => panic!("ctdbd exited with {s}:\n{}", daemon.log_tail()),
            Err(e) => panic!("cannot run {CTDBD}: {e}"),
        }
    }

    /// Connect once the daemon is RUNNING, or panic after `limit`.
    async fn ready(&self, limit: Duration) -> Client {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(c) = Client::connect_with_timeout(&self.socket(), Duration::from_secs(2)).await {
                if let Ok(runstate::RUNNING) = c.get_runstate(pnn::CURRENT_NODE, T).await {
                    return c;
                }
            }
            if Instant::now() > deadline {
                panic!("ctdbd not RUNNING after {limit:?}:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: kill with signal 0 only checks the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let Some(pid) = self.pid() else {
            return;
        };
        // ctdbd daemonizes into its own session: its process group holds
        // ctdb-eventd and ctdb-recoverd too. Only signal the group if it
        // really is the daemon's own.
        // SAFETY: getpgid has no memory effects.
        let own_group = unsafe { libc::getpgid(pid) } == pid;
        let signal = |sig: i32| {
            // SAFETY: sending a signal to processes this test started.
            unsafe {
                if own_group {
                    libc::kill(-pid, sig);
                }
                libc::kill(pid, sig);
            }
        };
        signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Daemon::alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        signal(libc::SIGKILL);
    }
}

fn control_failed(e: &ClientError) -> Option<(Opcode, i32, Option<&str>)> {
    match e {
        ClientError::ControlFailed { opcode, status, errmsg } => Some((*opcode, *status, errmsg.as_deref())),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_against_debian_ctdbd() {
    if !Path::new(CTDBD).exists() {
        eprintln!("SKIPPED: {CTDBD} is not installed (Debian package ctdb)");
        return;
    }
    let daemon = Daemon::start();
    let c = daemon.ready(Duration::from_secs(90)).await;

    // pnn, learned at connect with GET_PNN.
    assert_eq!(c.pnn(), 0);
    assert_eq!(c.get_pnn(pnn::CURRENT_NODE, T).await.ok(), Some(0));

    // PING counts connected clients.
    let n1 = c.ping(0, T).await.unwrap_or(-1);
    assert!(n1 >= 1, "ping: {n1}");
    let c2 = daemon.ready(T).await;
    let n2 = c2.ping(0, T).await.unwrap_or(-1);
    assert!(n2 > n1, "a second client is counted: {n1} then {n2}");

    // Node map: one node, our address, port 4379, active.
    let map = match c.get_nodemap(0, T).await {
        Ok(m) => m,
        Err(e) => panic!("nodemap: {e}"),
    };
    assert_eq!(map.nodes.len(), 1);
    assert_eq!(map.nodes[0].pnn, 0);
    assert_eq!(map.nodes[0].addr.ip(), IpAddr::V4(daemon.addr));
    assert_eq!(map.nodes[0].addr.port(), 4379);
    assert_eq!(map.nodes[0].flags & flags::INACTIVE, 0);

    // Tunables.
    assert_eq!(c.get_tunable(0, "ControlTimeout", T).await.ok(), Some(60));
    assert_eq!(c.set_tunable(0, "ControlTimeout", 61, T).await.ok(), Some(0));
    assert_eq!(c.get_tunable(0, "controltimeout", T).await.ok(), Some(61));
    assert_eq!(c.set_tunable(0, "ControlTimeout", 60, T).await.ok(), Some(0));
    assert!(matches!(
        c.get_tunable(0, "NoSuchTunable", T).await,
        Err(ClientError::NoSuchTunable(n)) if n == "NoSuchTunable"
    ));
    let err = c.set_tunable(0, "NoSuchTunable", 1, T).await.err();
    assert_eq!(err.as_ref().and_then(control_failed).map(|(_, s, _)| s), Some(-1));
    let names = c.list_tunables(0, T).await.unwrap_or_default();
    assert_eq!(names.len(), 49);
    assert_eq!(names.first().map(String::as_str), Some("SeqnumInterval"));
    let all = c.get_all_tunables(0, T).await.ok();
    // ControlTimeout is slot 2 of the tunable struct.
    assert_eq!(all.map(|t| t.values[2]), Some(60));

    // Messages: register a port, broadcast to it, receive it exactly once.
    let port = 0xAE00_0000_0000_0000 | u64::from(std::process::id());
    let me = std::process::id() as i32;
    assert!(c.register_srvid(port).await.is_ok());
    assert_eq!(c.check_pid_srvid(0, me, port, T).await.ok(), Some(true));
    assert!(c.send_message(pnn::BROADCAST_CONNECTED, port, b"hello".to_vec()).await.is_ok());
    let got = tokio::time::timeout(Duration::from_secs(5), c.next_message()).await;
    assert_eq!(got.ok().flatten(), Some(ReqMessage { srvid: port, data: b"hello".to_vec() }));
    let again = tokio::time::timeout(Duration::from_millis(1500), c.next_message()).await;
    assert!(again.is_err(), "message delivered twice: {again:?}");
    // Another client's message reaches us; one to an unregistered port
    // does not.
    assert!(c2.send_message(0, port + 1, b"nobody".to_vec()).await.is_ok());
    assert!(c2.send_message(0, port, b"from c2".to_vec()).await.is_ok());
    let got = tokio::time::timeout(Duration::from_secs(5), c.next_message()).await;
    assert_eq!(got.ok().flatten().map(|m| m.data), Some(b"from c2".to_vec()));
    assert!(c.deregister_srvid(port).await.is_ok());
    assert_eq!(c.check_pid_srvid(0, me, port, T).await.ok(), Some(false));

    // Concurrent requests from several tasks are matched by reqid.
    let shared = std::sync::Arc::new(c);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let c = shared.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                c.get_pnn(0, T).await.ok()
            } else {
                c.get_tunable(0, "ControlTimeout", T).await.ok().map(|v| v - 60)
            }
        });
    }
    let results = tasks.join_all().await;
    assert!(results.iter().all(|r| *r == Some(0)), "{results:?}");
    let Ok(c) = std::sync::Arc::try_unwrap(shared) else {
        panic!("tasks still hold the client");
    };

    // A control to a node that does not exist: status -1 with error text.
    let err = c.ping(7, T).await.err();
    assert_eq!(
        err.as_ref().and_then(control_failed),
        Some((Opcode::PING, -1, Some("ctdb_control to disconnected node")))
    );

    // Assorted typed controls.
    assert_eq!(c.get_runstate(0, T).await.ok(), Some(runstate::RUNNING));
    assert_eq!(c.get_capabilities(0, T).await.ok(), Some(caps::DEFAULT));
    let rm = c.get_recmode(0, T).await.ok();
    assert!(matches!(rm, Some(recmode::NORMAL | recmode::ACTIVE)), "{rm:?}");
    let vnn = c.get_vnnmap(0, T).await.ok();
    assert_eq!(vnn.map(|v| v.map), Some(vec![0]));
    let level = c.get_debug(0, T).await.ok();
    assert_eq!(level, Some(3), "log level NOTICE from ctdb.conf");
    assert!(c.set_debug(0, 3, T).await.is_ok());
    assert_eq!(c.get_pid(0, T).await.ok(), daemon.pid());
    assert_eq!(c.process_exists(0, me, T).await.ok(), Some(true));
    let up = c.uptime(0, T).await.ok();
    assert!(up.is_some_and(|u| u.ctdbd_start_time <= u.current_time));
    let stats = c.statistics(0, T).await.ok();
    assert!(stats.is_some_and(|s| s.num_clients >= 2));
    assert!(c.statistics_reset(0, T).await.is_ok());
    assert_eq!(c.get_reclock_file(0, T).await.ok(), Some(None));
    let ifaces = c.get_ifaces(0, T).await.ok();
    assert_eq!(ifaces.map(|l| l.ifaces.len()), Some(0), "no public addresses");

    // SHUTDOWN, NOREPLY like the CLI: the daemon goes away and our
    // connections see EOF.
    let pid = daemon.pid();
    assert!(c2.shutdown(0, true, T).await.is_ok());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.is_closed() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(c.ping(0, T).await, Err(ClientError::Closed)));
    assert_eq!(c.next_message().await, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while pid.is_some_and(Daemon::alive) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!pid.is_some_and(Daemon::alive), "ctdbd still running");
    drop(daemon);
}
