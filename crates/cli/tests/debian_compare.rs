//! Our `ctdb` against Debian's `/usr/bin/ctdb`, both talking to a 1-node
//! Debian ctdbd 4.17 started in test mode in a temporary directory.
//!
//! Every command whose output is deterministic must give the same standard
//! output, standard error and exit code; the others (times, counters) must
//! have the same shape. Skipped, with a message, when Debian's ctdbd is not
//! installed.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, CTDBD, DEBIAN_CTDB, OURS};

/// A Debian ctdbd on a loopback address of our own (127.0.0.0/8 is all
/// local), once it is RUNNING, healthy and knows its leader, so outputs
/// stop changing.
fn start() -> Daemon {
    let pid = std::process::id();
    let ip = format!("127.{}.{}.1", 100 + pid % 100, (pid / 100) % 250);
    Daemon::start("ctdb-cli-compare", ip, Duration::from_millis(500), |d| {
        let runstate = d.run(DEBIAN_CTDB, &["runstate"]);
        let health = d.run(DEBIAN_CTDB, &["nodestatus"]);
        let leader = d.run(DEBIAN_CTDB, &["-t", "2", "leader"]);
        let ready = runstate.stdout == "RUNNING\n" && health.code == 0 && leader.stdout == "0\n";
        (ready, format!("{runstate:?} {health:?} {leader:?}"))
    })
}

/// Both tools, same arguments: everything must match.
#[track_caller]
fn same(d: &Daemon, args: &[&str]) -> common::Run {
    common::same(&d.base(), args, None, "")
}

/// Both tools, same arguments; outputs compared after `normalize`.
#[track_caller]
fn same_shape(d: &Daemon, args: &[&str], normalize: fn(&str) -> String) {
    let ours = d.run(OURS, args);
    let theirs = d.run(DEBIAN_CTDB, args);
    assert_eq!(
        (normalize(&ours.stdout), ours.stderr.as_str(), ours.code),
        (normalize(&theirs.stdout), theirs.stderr.as_str(), theirs.code),
        "ctdb {}\nours:\n{}\ntheirs:\n{}",
        args.join(" "),
        ours.stdout,
        theirs.stdout
    );
}

/// Digits replaced by `#`, for outputs with times and counters.
fn digits(s: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// Counters padded to a width: collapse runs of blanks as well.
fn digits_and_blanks(s: &str) -> String {
    let d = digits(s);
    let mut out = String::new();
    let mut blank = false;
    for c in d.chars() {
        if c == ' ' {
            if !blank {
                out.push(' ');
            }
            blank = true;
        } else {
            blank = false;
            out.push(c);
        }
    }
    out
}

#[test]
fn our_tool_matches_debians() {
    if !Path::new(CTDBD).exists() || !Path::new(DEBIAN_CTDB).exists() {
        eprintln!("skipping: Debian's ctdbd/ctdb (package ctdb) is not installed");
        return;
    }
    let d = start();
    let ip = d.ip.clone();

    // Node state and cluster state.
    let status = same(&d, &["status"]);
    assert!(status.stdout.contains(&format!("pnn:0 {ip}")), "{status:?}");
    same(&d, &["-X", "status"]);
    same(&d, &["-x", ";", "-Y", "status"]);
    same(&d, &["status", "-X"]);
    same(&d, &["-n", "0", "status"]);
    same(&d, &["status", "extra"]);
    same(&d, &["nodestatus"]);
    same(&d, &["nodestatus", "all"]);
    same(&d, &["-X", "nodestatus", "all"]);
    same(&d, &["nodestatus", "0"]);
    // Not compared: `nodestatus 0,0` on a healthy node makes Debian's tool
    // print both lines and then hang until -T expires (it asks GET_IFACES of
    // node 0 twice at once); ours prints the lines and exits 0.
    same(&d, &["nodestatus", "5"]);
    same(&d, &["nodestatus", "bogus"]);
    same(&d, &["nodestatus", "0,-1"]);
    same(&d, &["listnodes"]);
    same(&d, &["-X", "listnodes"]);
    same(&d, &["-x", "ab", "-X", "listnodes"]);
    same(&d, &["-n", "0", "listnodes"]);
    // checktcpport: free, held by a listener (exit 98, what 50.samba
    // reads), bad arguments.
    same(&d, &["checktcpport", "0"]);
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let r = same(&d, &["checktcpport", &port]);
    assert_eq!(r.code, 98, "{r:?}");
    same(&d, &["checktcpport"]);
    same(&d, &["checktcpport", "abc"]);
    same(&d, &["pnn"]);
    same(&d, &["-n", "0", "pnn"]);
    same(&d, &["leader"]);
    same(&d, &["-X", "leader"]);
    same(&d, &["runstate"]);
    same(&d, &["runstate", "startup", "running"]);
    same(&d, &["runstate", "setup"]);
    same(&d, &["runstate", "bogus"]);
    same(&d, &["runstate", "running", "bogus"]);
    same(&d, &["getcapabilities"]);
    same(&d, &["-X", "getcapabilities"]);
    same(&d, &["getpid"]);
    same(&d, &["-n", "5", "ping"]);
    same(&d, &["-t", "0", "ping"]);
    same_shape(&d, &["ping"], digits);
    same_shape(&d, &["-n", "0", "-X", "ping"], digits);
    same_shape(&d, &["uptime"], digits);
    same_shape(&d, &["statistics"], digits_and_blanks);
    same_shape(&d, &["-X", "statistics"], digits);

    // Tunables: each tool sees what the other set.
    same(&d, &["getvar", "MonitorInterval"]);
    same(&d, &["getvar", "monitorinterval"]);
    same(&d, &["getvar", "bogus"]);
    same(&d, &["getvar", "VacuumLimit"]);
    same(&d, &["listvars"]);
    same(&d, &["-X", "listvars"]);
    assert_eq!(d.run(OURS, &["setvar", "MonitorInterval", "0x10"]).code, 0);
    same(&d, &["getvar", "MonitorInterval"]);
    assert_eq!(d.run(DEBIAN_CTDB, &["setvar", "MonitorInterval", "15"]).code, 0);
    assert_eq!(d.run(OURS, &["getvar", "MonitorInterval"]).stdout, format!("{:<26} = 15\n", "MonitorInterval"));
    same(&d, &["setvar", "MonitorInterval", "abc"]);
    same(&d, &["setvar", "bogus", "1"]);
    same(&d, &["setvar", "MonitorInterval"]);

    // Debug level.
    same(&d, &["getdebug"]);
    assert_eq!(d.run(OURS, &["setdebug", "w"]).code, 0);
    same(&d, &["getdebug"]);
    assert_eq!(d.run(OURS, &["setdebug", "7"]).code, 0);
    same(&d, &["getdebug"]);
    same(&d, &["setdebug", "bogus"]);
    same(&d, &["setdebug", "11"]);
    assert_eq!(d.run(DEBIAN_CTDB, &["setdebug", "NOTICE"]).code, 0);
    same(&d, &["getdebug"]);

    // Statistics reset moves the start time for both.
    same(&d, &["statisticsreset"]);
    same(&d, &["statisticsreset", "x"]);

    // process-exists: no such client, and a bad srvid.
    same(&d, &["process-exists", "1"]);
    same(&d, &["process-exists", "1", "0xf100000000000000"]);
    same(&d, &["process-exists", "1", "abc"]);
    same(&d, &["process-exists"]);

    // Options and command errors.
    same(&d, &[]);
    same(&d, &["xpnn"]);
    same(&d, &["-n", "all", "ping"]);
    same(&d, &["-Z", "ping"]);
    same(&d, &["--usage"]);
    same(&d, &["getvar"]);

    // Connect failure (no daemon at that path).
    let ours = {
        let mut c = Command::new(OURS);
        c.arg("ping").env("CTDB_SOCKET", d.base().join("nosock")).env("CTDB_BASE", d.base());
        c.output().unwrap_or_else(|e| panic!("{e}"))
    };
    let theirs = Command::new(DEBIAN_CTDB)
        .arg("ping")
        .env("CTDB_SOCKET", d.base().join("nosock"))
        .env("CTDB_BASE", d.base())
        .process_group(0)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours.stderr, theirs.stderr);
    assert_eq!(ours.status.code(), theirs.status.code());

    // Shutdown with ours: returns once the daemon is gone.
    let pid = d.pid();
    let down = d.run(OURS, &["shutdown"]);
    assert_eq!((down.stdout.as_str(), down.stderr.as_str(), down.code), ("", "", 0));
    if let Some(pid) = pid {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "ctdbd {pid} still running after shutdown");
    }
}
