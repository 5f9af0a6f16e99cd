//! Unmodified Debian smbd on the failover bed (`ctdb_itest::netns_samba`):
//! issue 9's "smbclient connected through a public address is reset when
//! the address moves and reconnects through the new node; `ctdb
//! gettickles` on the new node listed that connection before the move".
//!
//! Three ctdb-rs nodes in network namespaces with default tunables, one
//! clustered smbd per node (the clustered-samba recipe, listening on every
//! address of its namespace), the client in its own namespace on the public
//! segment. The victim is a node that hosts a public address and is not
//! the leader. From the client an interactive `smbclient //VIP/share` logs
//! on through the victim's address and creates a directory; its
//! connection must then be listed by `ctdb gettickles VIP` on every node
//! (smbd's TCP_CLIENT, replicated). Then the address moves:
//!
//! * `kill -9` of the victim's daemon: the victim's smbd loses its daemon
//!   and exits (closing its end), the new holder tickles the client; the
//!   client's socket must be gone (reset) within [`RESET_BOUND`] of the
//!   fault, and the open smbclient session must report the failure on its
//!   next command.
//! * `ctdb disable` of the victim: the victim releases the address; its
//!   `10.interface releaseip` resets smbd's end of the connection only
//!   (`ctdb_killtcp` is one-way for ports 139 and 445: the client's end is
//!   left to the new holder's tickle ACK), another node takes it and must
//!   tickle the client. The victim's smbd child exits during the release;
//!   its connection must then be forgotten on the victim only, or the new
//!   holder would have nobody to tickle.
//!
//! After each move a **new** smbclient session to the same address must log
//! on, be served by the address's new holder (its TCP connection is in
//! that node's namespace and no other; `ctdb ip` names that node) and list
//! the directory made before the move; the new holder lists the new
//! connection in `ctdb gettickles`. Times are printed.

use std::net::Ipv4Addr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctdb_itest::failover_measure::{secs, start_ready, Ready, Victim};
use ctdb_itest::netns::{Bed, BedConfig};
use ctdb_itest::netns_samba::{BedSamba, SmbSession, SMB_PORT};
use ctdb_itest::{samba, wait_for};

/// How soon after the fault the client's connection must be reset: issue
/// 9 wants the address elsewhere within 2 s of a kill -9 and "clients told
/// at once"; a client that is not tickled learns of it only when it next
/// sends, and the sessions here send nothing while idle (see
/// `SmbSession`).
const RESET_BOUND: Duration = Duration::from_secs(3);

/// How soon the open smbclient session must report the failure of a
/// command sent after the reset.
const NOTICE_BOUND: Duration = Duration::from_secs(5);

/// One bed at a time in this file.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Panic with `what`, the nodes' views and the ends of the daemon and
/// smbd logs.
fn fail(s: &BedSamba<'_>, what: &str) -> ! {
    panic!("{what}\n{}{}{}", s.bed().describe(), s.bed().log_tails(40), s.logs())
}

/// A healthy bed (or `None`, with the reason printed, when network
/// namespaces cannot be made here), its leader, and the victim: the node
/// holding the lowest address that is not the leader, and that address.
fn bed() -> Option<Ready> {
    if !samba::smbd_installed() {
        println!("skipping: {} is not installed (the README's test command installs samba)", samba::SMBD);
        return None;
    }
    // INFO: the daemon then logs each tickle ACK it sends (evidence).
    let cfg = BedConfig { options: vec!["logging:log level=INFO".into()], ..BedConfig::default() };
    let bed = match Bed::new(cfg) {
        Ok(b) => b,
        Err(e) => {
            println!("skipping: cannot build the netns failover bed: {e:#}");
            return None;
        }
    };
    let r = start_ready(bed, Victim::Follower, Duration::from_secs(70), &|| false).unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!(
        "bed {} ready in {}: leader {}, allocation {:?}",
        r.bed.id(),
        secs(r.ready_after),
        r.leader,
        r.allocation
    );
    Some(r)
}

/// An smbclient session through `vip`, served by `holder`, that made the
/// directory `marker`; returned once every node lists its connection in
/// `ctdb gettickles` (printed: how long that took).
fn tracked_session(s: &BedSamba<'_>, vip: Ipv4Addr, holder: u32, marker: &str) -> SmbSession {
    let t = Instant::now();
    let mut sess = s.open_session(vip, Duration::from_secs(20)).unwrap_or_else(|e| fail(s, &format!("{e:#}")));
    eprintln!("smbclient //{vip}/share logged on in {} ({} -> {})", secs(t.elapsed()), sess.local, sess.server);
    let serving = s.serving_nodes(sess.local, sess.server).unwrap();
    if serving != [holder] {
        fail(s, &format!("the session's connection is in the namespaces of nodes {serving:?}, not node {holder}"));
    }
    sess.send(&format!("mkdir {marker}")).unwrap();
    let ls = sess.command("ls", Duration::from_secs(10)).unwrap_or_else(|e| fail(s, &format!("{e:#}")));
    assert!(ls.contains(marker), "ls after mkdir {marker} does not list it:\n{ls}");
    let t = Instant::now();
    let bed = s.bed();
    wait_for(Duration::from_secs(10), "every node listing the smbclient connection in ctdb gettickles", || {
        (0..bed.n()).all(|i| bed.knows_tickle(i, sess.local.into(), vip, SMB_PORT))
    })
    .unwrap_or_else(|e| {
        let views: String = (0..bed.n())
            .map(|i| {
                let o = bed.ctdb(i, &["gettickles", &vip.to_string()]).unwrap();
                format!(
                    "node {i}: ctdb gettickles {vip}:\n{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .collect();
        fail(s, &format!("{e}\n{views}"))
    });
    eprintln!("ctdb gettickles {vip} lists {} on every node after {}", sess.local, secs(t.elapsed()));
    sess
}

/// What became of the session's TCP connection after the fault at `t0`.
struct Ending {
    /// First seen in another state than ESTAB (e.g. CLOSE-WAIT: the old
    /// smbd closed its end), and that state.
    left_estab: Option<(Duration, String)>,
    /// Gone from the client's namespace (reset).
    gone: Option<Duration>,
}

/// Watch the session's connection from the client namespace until it is
/// gone or `bound` has passed since `t0`.
fn watch_reset(s: &BedSamba<'_>, sess: &SmbSession, t0: Instant, bound: Duration) -> Ending {
    let mut e = Ending { left_estab: None, gone: None };
    let left = bound.saturating_sub(t0.elapsed());
    let _ =
        wait_for(left, "the session's connection to be reset", || match s.client_conn_state(sess.local, sess.server) {
            Ok(None) => {
                e.gone = Some(t0.elapsed());
                true
            }
            Ok(Some(state)) => {
                if state != "ESTAB" && e.left_estab.is_none() {
                    e.left_estab = Some((t0.elapsed(), state));
                }
                false
            }
            Err(_) => false,
        });
    e
}

/// After the reset: the open session's next command fails (or smbclient
/// has already exited, having noticed by its echo); when, after `t0`.
fn session_notices(s: &BedSamba<'_>, sess: &mut SmbSession, t0: Instant) -> (Duration, String) {
    if let Some(st) = sess.exited() {
        return (t0.elapsed(), format!("smbclient had exited ({st})"));
    }
    let _ = sess.send("ls");
    let mut how = String::new();
    let r = wait_for(NOTICE_BOUND, "the open smbclient session to report the lost connection", || {
        let out = sess.output();
        let tail = out.rsplit("blocks available").next().unwrap_or_default();
        if let Some(l) = tail.lines().find(|l| l.contains("NT_STATUS_")) {
            how = l.trim().to_string();
            return true;
        }
        if let Some(st) = sess.exited() {
            how = format!("smbclient exited ({st})");
            return true;
        }
        false
    });
    if let Err(e) = r {
        fail(s, &format!("{e}; smbclient printed:\n{}", sess.output()));
    }
    (t0.elapsed(), how)
}

/// Wait until the running nodes `survivors` agree that `vip` is held by a
/// node other than `victim`; that node.
fn new_holder(s: &BedSamba<'_>, vip: Ipv4Addr, victim: u32, survivors: &[u32]) -> u32 {
    let bed = s.bed();
    let mut holder = None;
    wait_for(Duration::from_secs(15), "the survivors agreeing on a new holder", || {
        let views: Vec<Option<i64>> =
            survivors.iter().map(|&i| bed.ctdb_ip(i).and_then(|m| m.get(&vip).copied())).collect();
        holder = views[0].filter(|&h| h >= 0 && h != i64::from(victim) && views.iter().all(|v| *v == views[0]));
        holder.is_some()
    })
    .unwrap_or_else(|e| fail(s, &e.to_string()));
    holder.unwrap() as u32
}

/// A new session through `vip` is served by `holder`, lists `marker`, and
/// `holder` tracks its connection.
fn reconnect(s: &BedSamba<'_>, vip: Ipv4Addr, holder: u32, marker: &str, t0: Instant) -> Duration {
    let mut sess =
        s.open_session(vip, Duration::from_secs(20)).unwrap_or_else(|e| fail(s, &format!("reconnect: {e:#}")));
    let took = t0.elapsed();
    let serving = s.serving_nodes(sess.local, sess.server).unwrap();
    if serving != [holder] {
        fail(s, &format!("the new session's connection is in the namespaces of nodes {serving:?}, not node {holder}"));
    }
    let ls = sess.command("ls", Duration::from_secs(10)).unwrap_or_else(|e| fail(s, &format!("{e:#}")));
    if !ls.contains(marker) {
        fail(s, &format!("ls through the new node does not list {marker}:\n{ls}"));
    }
    let bed = s.bed();
    wait_for(Duration::from_secs(10), "the new holder listing the new connection", || {
        bed.knows_tickle(holder, sess.local.into(), vip, SMB_PORT)
    })
    .unwrap_or_else(|e| fail(s, &e.to_string()));
    took
}

/// The tickle ACK lines of node `i`'s log for the connection, each with
/// its time after `t0_wall` when the log's UTC timestamp can be read.
fn tickle_lines(bed: &Bed, i: u32, sess: &SmbSession, t0_wall: SystemTime) -> Vec<(Option<f64>, String)> {
    let needle = format!("{} -> {}", sess.server, sess.local);
    let t0 = t0_wall.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() % 86_400.0).unwrap_or(0.0);
    bed.log(i)
        .lines()
        .filter(|l| l.contains("tickle") && l.contains(&needle))
        .map(|l| (utc_seconds_of_day(l).map(|t| t - t0), l.to_string()))
        .collect()
}

/// Seconds since midnight of a log line that starts with an RFC 3339 UTC
/// timestamp (`2026-12-06T22:54:27.904368+00:00 …`).
fn utc_seconds_of_day(line: &str) -> Option<f64> {
    let ts = line.split_whitespace().next()?;
    let time = ts.split_once('T')?.1.strip_suffix("+00:00")?;
    let mut f = time.split(':');
    let (h, m, sec): (f64, f64, f64) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?);
    Some(h * 3600.0 + m * 60.0 + sec)
}

/// How the address is moved away from its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// `kill -9` of the holder's daemon (its kernel stays up).
    Kill9,
    /// `ctdb disable` of the holder.
    Disable,
}

/// The whole scenario for one fault; see the module documentation.
fn scenario(fault: Fault) {
    let _serial = serial();
    let start = Instant::now();
    let Some(r) = bed() else { return };
    let s = BedSamba::start(&r.bed).unwrap_or_else(|e| r.fail(&format!("{e:#}")));
    let (bed, vip, victim, leader) = (&r.bed, r.vip, r.victim, r.leader);
    let marker = format!("made-before-{fault:?}").to_lowercase();
    eprintln!("victim: node {victim} (leader {leader}), address {vip}");
    let mut sess = tracked_session(&s, vip, victim, &marker);

    let t0_wall = SystemTime::now();
    let t0 = Instant::now();
    let survivors: Vec<u32> = match fault {
        Fault::Kill9 => {
            bed.kill_node(victim).unwrap();
            (0..bed.n()).filter(|&i| i != victim).collect()
        }
        Fault::Disable => {
            let o = bed.ctdb(victim, &["disable"]).unwrap();
            assert!(o.status.success(), "ctdb disable on node {victim}: {o:?}");
            (0..bed.n()).collect()
        }
    };
    let tool = t0.elapsed();
    let ending = watch_reset(&s, &sess, t0, RESET_BOUND + Duration::from_secs(7));
    let (noticed, how) = session_notices(&s, &mut sess, t0);
    let holder = new_holder(&s, vip, victim, &survivors);
    let reconnected = reconnect(&s, vip, holder, &marker, t0);
    let tickles = tickle_lines(bed, holder, &sess, t0_wall);
    eprintln!(
        "{fault:?} of node {victim} (tool returned after {}): client connection {} -> {}: left ESTAB {}, \
         reset (gone) after {}; the open smbclient noticed after {} ({how}); new holder node {holder}; \
         a new smbclient session through node {holder} logged on and listed the share {} after the fault; \
         whole test {}",
        secs(tool),
        sess.local,
        sess.server,
        ending.left_estab.as_ref().map(|(d, st)| format!("({st}) at {}", secs(*d))).unwrap_or_else(|| "never".into()),
        ending.gone.map(secs).unwrap_or_else(|| "never".into()),
        secs(noticed),
        secs(reconnected),
        secs(start.elapsed()),
    );
    eprintln!(
        "node {holder}, the new holder, listed the connection in ctdb gettickles before the fault; \
         tickle ACKs for it in its log: {}",
        tickles.len()
    );
    for (at, l) in &tickles {
        eprintln!("  at {}: {l}", at.map(|t| format!("{t:+.3} s")).unwrap_or_else(|| "?".into()));
    }
    match ending.gone {
        Some(d) if d <= RESET_BOUND => {}
        other => fail(
            &s,
            &format!(
                "the smbclient connection was not reset within {} of the {fault:?} (gone: {other:?}, left ESTAB: {:?})",
                secs(RESET_BOUND),
                ending.left_estab
            ),
        ),
    }
}

/// kill -9 of the holder's daemon: its smbd exits with it (closing its end
/// of the connection, CLOSE-WAIT on the client), and the new holder's
/// tickle ACK makes the client's stack answer and be reset.
#[test]
fn smbclient_reset_by_kill_9_reconnects_through_the_new_node() {
    scenario(Fault::Kill9);
}

/// `ctdb disable` of the holder: it releases the address (resetting
/// smbd's end of the connection), another node takes it and tickles the
/// client.
///
/// The victim's smbd child exits when `10.interface releaseip` resets its
/// socket. Its connection must be forgotten on the victim only, as CTDB
/// does: when the removal was broadcast, every node (the next holder too)
/// forgot the connection about 0.15 s before the next holder's `takeip`,
/// and the client's connection stayed ESTABLISHED until the client sent
/// something (10 s here).
#[test]
fn smbclient_reset_by_disable_reconnects_through_the_new_node() {
    scenario(Fault::Disable);
}
