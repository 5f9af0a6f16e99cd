//! Debian's `ctdb event …` and `ctdb scriptstatus` against ctdb-rs's eventd
//! print what they print against Debian's own `ctdb-eventd` for the same
//! scripts (127.0.53.x): OK, ERROR with OUTPUT, TIMEDOUT, DISABLED, the
//! errors for an event that never ran and a missing component, and the
//! script list after enable/disable. Times are masked; everything else is
//! compared byte for byte, exit codes included.

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ctdb_itest::{debian_ctdb, wait_for, Cluster};

/// Scripts with behaviour keyed on the event, so the daemon's own events
/// (init, startup, monitor…) pass.
const SCRIPTS: &[(&str, u32, &str)] = &[
    ("01.ok.script", 0o755, "#!/bin/sh\necho \"ok $1 $2\"\nexit 0\n"),
    ("02.off.script", 0o644, "#!/bin/sh\nexit 0\n"),
    (
        "03.fail.script",
        0o755,
        "#!/bin/sh\ncase \"$1\" in\nfailtest) printf 'failure line 1\\nline 2\\n'; exit 1 ;;\nslowtest) echo sleeping; sleep 30 ;;\nesac\nexit 0\n",
    ),
    ("04.after.script", 0o755, "#!/bin/sh\nexit 0\n"),
];

/// Scripts that misbehave: each prints its own pid, and its children's,
/// into `$CTDB_BASE` so the test can check they are gone.
const BAD_SCRIPTS: &[(&str, u32, &str)] = &[
    ("01.nointerp.script", 0o755, "#!/nonexistent/sh\nexit 0\n"),
    ("02.noexec.script", 0o644, "#!/bin/sh\nexit 0\n"),
    ("03.big.script", 0o755, "#!/bin/sh\nhead -c 10000000 /dev/zero | tr '\\0' x\nexit 0\n"),
    (
        "04.forks.script",
        0o755,
        "#!/bin/sh\nsleep 1000 &\necho $! > \"$CTDB_BASE/fork1.pid\"\n(sleep 1000; true) &\necho $! > \"$CTDB_BASE/fork2.pid\"\nexit 0\n",
    ),
    (
        "05.noterm.script",
        0o755,
        "#!/bin/sh\ntrap '' TERM\nif [ \"$1\" = hang ]; then echo $$ > \"$CTDB_BASE/noterm.pid\"; sleep 1000; fi\nexit 0\n",
    ),
];

fn install(base: &Path) {
    install_scripts(base, SCRIPTS);
}

fn install_scripts(base: &Path, scripts: &[(&str, u32, &str)]) {
    for d in ["run", "events/legacy", "share/events/legacy"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    for (name, mode, text) in scripts {
        let p = base.join("events/legacy").join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
}

/// Debian's eventd in test mode under `base`, watching a `sleep` (it exits
/// when that pid goes).
struct Reference {
    base: tempfile::TempDir,
    watched: Child,
    eventd: Child,
}

impl Reference {
    fn start(scripts: &[(&str, u32, &str)]) -> Reference {
        let base = tempfile::Builder::new().prefix("ctdb-ref-eventd").tempdir().unwrap();
        install_scripts(base.path(), scripts);
        // The shipped scripts, linked as ctdb-local links them.
        if let Ok(entries) = std::fs::read_dir("/usr/share/ctdb/events/legacy") {
            for e in entries.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".script")) {
                let _ =
                    std::os::unix::fs::symlink(e.path(), base.path().join("share/events/legacy").join(e.file_name()));
            }
        }
        let watched = Command::new("sleep").arg("600").spawn().unwrap();
        let eventd = Command::new("/usr/libexec/ctdb/ctdb-eventd")
            .args(["-P", &watched.id().to_string()])
            .env("CTDB_TEST_MODE", "yes")
            .env("CTDB_BASE", base.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let socket = base.path().join("run/eventd.socket");
        wait_for(Duration::from_secs(10), "Debian's eventd socket", || socket.exists()).unwrap();
        Reference { base, watched, eventd }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.eventd.kill();
        let _ = self.eventd.wait();
        let _ = self.watched.kill();
        let _ = self.watched.wait();
    }
}

fn tool(base: &Path, args: &[&str]) -> Output {
    let ctdb = debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: the README test command installs it");
    Command::new("timeout")
        .args(["-s", "KILL", "60"])
        .arg(ctdb)
        .args(args)
        .env("CTDB_TEST_MODE", "yes")
        .env("CTDB_BASE", base)
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

/// Status lines keep name and state; the duration and date go.
fn mask(text: &str) -> String {
    text.lines()
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let is_status = fields.len() >= 3
                && !l.starts_with(' ')
                && matches!(fields[1], "OK" | "ERROR" | "TIMEDOUT" | "DISABLED")
                && fields.len() >= 2;
            if is_status {
                format!("{} {} <time>", fields[0], fields[1])
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn same(reference: &Path, ours: &Path, args: &[&str]) -> String {
    let r = tool(reference, args);
    let o = tool(ours, args);
    let show = |o: &Output| {
        (o.status.code(), mask(&String::from_utf8_lossy(&o.stdout)), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    assert_eq!(show(&o), show(&r), "ctdb {args:?}: ctdb-rs (left) and Debian's eventd (right) differ");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn debian_event_tool_sees_the_same_eventd() {
    let reference = Reference::start(SCRIPTS);
    let c = Cluster::setup(1, Ipv4Addr::new(127, 0, 53, 1), &[]).unwrap();
    install(&c.node_dir(0));
    c.local(&["start", "all"]).unwrap();
    c.wait_ready(Duration::from_secs(30)).unwrap();
    let ours: PathBuf = c.node_dir(0);
    let r = reference.base.path();

    same(r, &ours, &["event", "run", "20", "legacy", "okevent"]);
    let out = same(r, &ours, &["event", "status", "legacy", "okevent"]);
    assert!(out.contains("02.off") && out.contains("DISABLED"), "{out}");
    same(r, &ours, &["event", "run", "20", "legacy", "failtest"]);
    let out = same(r, &ours, &["event", "status", "legacy", "failtest"]);
    assert!(out.contains("ERROR") && out.contains("  OUTPUT: failure line 1\nline 2\n"), "{out}");
    same(r, &ours, &["event", "run", "2", "legacy", "slowtest"]);
    let out = same(r, &ours, &["event", "status", "legacy", "slowtest"]);
    assert!(out.contains("TIMEDOUT"), "{out}");
    same(r, &ours, &["event", "run", "20", "legacy", "takeip", "lo", "10.0.0.1", "24"]);
    same(r, &ours, &["event", "status", "legacy", "takeip"]);
    same(r, &ours, &["event", "status", "legacy", "neverran"]);
    same(r, &ours, &["event", "status", "nosuch", "monitor"]);
    same(r, &ours, &["event", "run", "20", "nosuch", "monitor"]);
    same(r, &ours, &["event", "script", "list", "legacy"]);
    same(r, &ours, &["event", "script", "disable", "legacy", "01.ok"]);
    same(r, &ours, &["event", "script", "enable", "legacy", "02.off"]);
    same(r, &ours, &["event", "script", "list", "legacy"]);

    // scriptstatus: the monitor status. Ours comes from the daemon's own
    // monitor; the reference's from a run by hand.
    tool(r, &["event", "run", "20", "legacy", "monitor"]);
    wait_for(Duration::from_secs(30), "a monitor with the changed scripts on node 0", || {
        let o = tool(&ours, &["scriptstatus"]);
        String::from_utf8_lossy(&o.stdout).contains("01.ok                DISABLED")
    })
    .unwrap();
    same(r, &ours, &["scriptstatus"]);
}

fn alive(pid_file: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(pid_file) else { return false };
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => false,
        // A zombie holds nothing; this container's pid 1 may not reap.
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Bad scripts: a missing interpreter (CANNOT RUN), not executable
/// (DISABLED), 10 MB of output, children left behind, SIGTERM ignored
/// while hung (TIMEDOUT). The statuses match Debian's eventd; with ctdb-rs
/// nothing is left running and the daemon goes on serving.
#[test]
fn bad_scripts_get_their_status_and_leave_nothing_running() {
    let reference = Reference::start(BAD_SCRIPTS);
    let c = Cluster::setup(1, Ipv4Addr::new(127, 0, 54, 1), &[]).unwrap();
    c.local(&["start", "all"]).unwrap();
    c.wait_ready(Duration::from_secs(30)).unwrap();
    let ours: PathBuf = c.node_dir(0);
    // Installed once the node runs, so that its own events do not race
    // the ones run here.
    install_scripts(&ours, BAD_SCRIPTS);
    let r = reference.base.path();

    // One run with every script (RUN_ALL, as CTDB_EVENT_RUN_ALL in test
    // mode asks), then the statuses.
    let run_all = |base: &Path, args: &[&str]| {
        let ctdb = debian_ctdb().expect("Debian's ctdb");
        Command::new("timeout")
            .args(["-s", "KILL", "60"])
            .arg(ctdb)
            .args(args)
            .env("CTDB_TEST_MODE", "yes")
            .env("CTDB_BASE", base)
            .env("CTDB_EVENT_RUN_ALL", "1")
            .env("TZ", "UTC")
            .output()
            .unwrap()
    };
    let (ro, oo) = (
        run_all(r, &["event", "run", "30", "legacy", "badtest"]),
        run_all(&ours, &["event", "run", "30", "legacy", "badtest"]),
    );
    assert_eq!(oo.status.code(), ro.status.code(), "{ro:?} {oo:?}");
    let out = same(r, &ours, &["event", "status", "legacy", "badtest"]);
    assert!(out.contains("01.nointerp          CANNOT RUN (No such file or directory)"), "{out}");
    assert!(out.contains("02.noexec            DISABLED"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("03.big") && l.contains(" OK ")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("04.forks") && l.contains(" OK ")), "{out}");
    // What 04.forks left behind is gone with ctdb-rs.
    wait_for(Duration::from_secs(10), "04.forks's children killed", || {
        !alive(&ours.join("fork1.pid")) && !alive(&ours.join("fork2.pid"))
    })
    .unwrap();

    // A hung script that ignores SIGTERM: TIMEDOUT, and killed.
    let (ro, oo) = (
        run_all(r, &["event", "run", "2", "legacy", "hang"]),
        run_all(&ours, &["event", "run", "2", "legacy", "hang"]),
    );
    assert_eq!((oo.status.code(), &oo.stderr), (ro.status.code(), &ro.stderr));
    let out = same(r, &ours, &["event", "status", "legacy", "hang"]);
    assert!(out.lines().any(|l| l.starts_with("05.noterm") && l.contains("TIMEDOUT")), "{out}");
    wait_for(Duration::from_secs(10), "the hung 05.noterm killed", || !alive(&ours.join("noterm.pid"))).unwrap();

    // The daemon goes on serving, its own events included.
    let o = tool(&ours, &["event", "run", "30", "legacy", "okevent"]);
    assert_eq!(o.status.code(), Some(8), "01.nointerp still fails the event: {o:?}");
    let st = c.ctdb(0, &["status"]);
    assert!(st.status.success(), "ctdb status after the bad scripts: {st:?}");
    let log = c.log(0);
    assert!(!log.contains("panicked"), "{log}");
}
