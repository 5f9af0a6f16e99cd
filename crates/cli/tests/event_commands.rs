//! `ctdb event …` and `ctdb scriptstatus`: our `ctdb` against Debian's
//! `/usr/bin/ctdb`, each with its own copy of the same script tree and its
//! own Debian `ctdb-eventd` (test mode, watching a `sleep` we start).
//!
//! Every command must give the same standard output (start times and run
//! times masked), standard error and exit code, and leave the script
//! directories in the same state (modes, symlinks). The scripts behave
//! according to the event they run for ("$1"). Skipped, with a message,
//! when Debian's tool or eventd is not installed. Every command runs under
//! `timeout`.

use std::cell::RefCell;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEBIAN_CTDB: &str = "/usr/bin/ctdb";
const EVENTD: &str = "/usr/libexec/ctdb/ctdb-eventd";
const OURS: &str = env!("CARGO_BIN_EXE_ctdb");

/// Local scripts (`$CTDB_BASE/events/legacy`): name, mode, text.
const LOCAL_SCRIPTS: &[(&str, u32, &str)] = &[
    ("01.ok.script", 0o755, "#!/bin/sh\necho \"ok $1 $2\"\nexit 0\n"),
    ("02.off.script", 0o640, "#!/bin/sh\nexit 0\n"),
    (
        "03.fail.script",
        0o755,
        "#!/bin/sh\ncase \"$1\" in\n\
         failtest) printf 'failure line 1\\nline 2\\n'; exit 1 ;;\n\
         slowtest) echo sleeping; sleep 6 ;;\n\
         esac\nexit 0\n",
    ),
    ("04.after.script", 0o755, "#!/bin/sh\necho \"after $1\"\nexit 0\n"),
    ("README", 0o644, "not a script\n"),
];

/// Shipped scripts (`$CTDB_BASE/share/events/legacy`); the first is
/// enabled by a symlink from the local directory.
const SHIPPED_SCRIPTS: &[&str] = &["00.shipped.script", "20.notenabled.script"];

/// What one run printed.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// One script tree with Debian's eventd serving it.
struct Tree {
    dir: tempfile::TempDir,
    eventd: RefCell<Option<Child>>,
}

impl Tree {
    fn new(name: &str) -> Tree {
        let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let tree = Tree { dir, eventd: RefCell::new(None) };
        tree.install();
        tree
    }

    /// The base as the tools see it (the real path, so that symlink
    /// targets compare equal).
    fn base(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path()).unwrap_or_else(|e| panic!("canonicalize: {e}"))
    }

    fn local_dir(&self) -> PathBuf {
        self.base().join("events/legacy")
    }

    fn install(&self) {
        let b = self.base();
        for d in ["run", "events/legacy", "share/events/legacy"] {
            std::fs::create_dir_all(b.join(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
        }
        for (name, mode, text) in LOCAL_SCRIPTS {
            write_script(&self.local_dir().join(name), *mode, text);
        }
        for name in SHIPPED_SCRIPTS {
            write_script(&b.join("share/events/legacy").join(name), 0o755, "#!/bin/sh\nexit 0\n");
        }
        let shipped = b.join("share/events/legacy").join(SHIPPED_SCRIPTS[0]);
        std::os::unix::fs::symlink(&shipped, self.local_dir().join(SHIPPED_SCRIPTS[0]))
            .unwrap_or_else(|e| panic!("symlink: {e}"));
    }

    /// Starts Debian's eventd on this tree; it exits when `watched` does.
    fn start_eventd(&self, watched: u32) {
        let child = Command::new(EVENTD)
            .args(["-P", &watched.to_string()])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CTDB_TEST_MODE", "yes")
            .env("CTDB_BASE", self.base())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start eventd: {e}"));
        *self.eventd.borrow_mut() = Some(child);
        let socket = self.base().join("run/eventd.socket");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "eventd did not create {}", socket.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs a `ctdb` on this tree, with `extra` environment.
    fn run(&self, bin: &str, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let out = Command::new("timeout")
            .args(["-s", "KILL", "60", bin])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CTDB_TEST_MODE", "yes")
            .env("CTDB_BASE", self.base())
            .env("TZ", "UTC")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {bin}: {e}"));
        let base = self.base().display().to_string();
        let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&base, "<base>");
        Run { code: out.status.code(), stdout: mask_times(&text(&out.stdout)), stderr: text(&out.stderr) }
    }

    /// Every entry of the local script directory: name, mode, link target
    /// (base masked).
    fn state(&self) -> Vec<String> {
        let base = self.base().display().to_string();
        let mut entries: Vec<String> = std::fs::read_dir(self.local_dir())
            .unwrap_or_else(|e| panic!("read_dir: {e}"))
            .map(|e| {
                let e = e.unwrap_or_else(|e| panic!("entry: {e}"));
                let meta = std::fs::symlink_metadata(e.path()).unwrap_or_else(|e| panic!("lstat: {e}"));
                let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
                format!(
                    "{} {:o} {}",
                    e.file_name().to_string_lossy(),
                    meta.permissions().mode(),
                    target.replace(&base, "<base>")
                )
            })
            .collect();
        entries.sort();
        entries
    }
}

impl Tree {
    /// Stops the eventd (if running) and removes its socket.
    fn stop_eventd(&self) {
        if let Some(mut child) = self.eventd.borrow_mut().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.base().join("run/eventd.socket"));
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        self.stop_eventd();
    }
}

fn write_script(path: &Path, mode: u32, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Status lines keep name and state (the first 32 columns); the run time
/// and start time go.
fn mask_times(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let state = line.get(21..31).map(str::trim_end);
            let timed = matches!(state, Some("OK" | "ERROR" | "TIMEDOUT")) && !line.starts_with(' ');
            match line.get(..32) {
                Some(head) if timed => format!("{head}<time>\n"),
                _ => line.to_string(),
            }
        })
        .collect()
}

/// A `sleep` the eventds watch; killed on drop (which stops them too).
struct Watched(Child);

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's tool on `reference`, ours on `ours`: same output, same exit
/// code, same script directory afterwards. Returns our run.
fn same(reference: &Tree, ours: &Tree, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let theirs = reference.run(DEBIAN_CTDB, args, extra);
    let mine = ours.run(OURS, args, extra);
    assert_eq!(mine, theirs, "ctdb {args:?}: ours (left) and Debian's (right) differ");
    assert_eq!(ours.state(), reference.state(), "ctdb {args:?}: script directories differ (ours left)");
    mine
}

#[test]
fn event_commands_match_debian() {
    for needed in [DEBIAN_CTDB, EVENTD] {
        if !Path::new(needed).exists() {
            eprintln!("skipped: {needed} is not installed");
            return;
        }
    }
    let watched = Watched(Command::new("sleep").arg("600").spawn().unwrap_or_else(|e| panic!("start sleep: {e}")));
    let reference = Tree::new("ctdb-event-ref");
    let ours = Tree::new("ctdb-event-ours");
    reference.start_eventd(watched.0.id());
    ours.start_eventd(watched.0.id());
    let check = |args: &[&str]| same(&reference, &ours, args, &[]);

    // Runs and their status: OK, ERROR with OUTPUT, TIMEDOUT, DISABLED.
    let r = check(&["event", "run", "20", "legacy", "okevent"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), ""));
    let r = check(&["event", "status", "legacy", "okevent"]);
    assert!(r.stdout.contains("01.ok                OK         <time>"), "{r:?}");
    assert!(r.stdout.contains("02.off               DISABLED  \n"), "{r:?}");
    let r = check(&["event", "run", "20", "legacy", "failtest"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(8), "Event failtest in legacy failed\n"));
    let r = check(&["event", "status", "legacy", "failtest"]);
    assert!(r.stdout.contains("03.fail              ERROR      <time>\n  OUTPUT: failure line 1\nline 2\n\n"), "{r:?}");
    assert!(!r.stdout.contains("04.after"), "{r:?}");
    assert_eq!(r.code, Some(1));
    let r = check(&["event", "run", "2", "legacy", "slowtest"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (Some(46), "Event slowtest in legacy timed out\n", "event daemon helper failed with error 46\n")
    );
    let r = check(&["event", "status", "legacy", "slowtest"]);
    assert!(r.stdout.contains("03.fail              TIMEDOUT   <time>\n  OUTPUT: sleeping\n"), "{r:?}");
    assert_eq!(r.code, Some(46));
    check(&["event", "run", "20", "legacy", "takeip", "lo", "10.0.0.1", "24"]);
    check(&["event", "status", "legacy", "takeip"]);
    // CTDB_EVENT_RUN_ALL (test mode): the scripts after the failure run too.
    let r = same(&reference, &ours, &["event", "run", "20", "legacy", "failtest"], &[("CTDB_EVENT_RUN_ALL", "1")]);
    assert_eq!(r.code, Some(8));
    let r = check(&["event", "status", "legacy", "failtest"]);
    assert!(r.stdout.contains("04.after             OK"), "{r:?}");
    // A timeout text reads as 0 seconds.
    let r = check(&["event", "run", "abc", "legacy", "instant"]);
    assert_eq!(r.code, Some(46));

    // Errors from eventd.
    let r = check(&["event", "status", "legacy", "neverran"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(22), "Event neverran has never run in legacy\n"));
    let r = check(&["event", "status", "nosuch", "monitor"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(2), "Event dir for nosuch does not exist\n"));
    check(&["event", "run", "20", "nosuch", "monitor"]);

    // scriptstatus always exits 0.
    let r = check(&["scriptstatus"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "Event monitor has never run in legacy\n"));
    check(&["event", "run", "20", "legacy", "monitor"]);
    let r = check(&["scriptstatus"]);
    assert!(r.stdout.contains("00.shipped           OK"), "{r:?}");
    let r = check(&["scriptstatus", "failtest"]);
    assert_eq!(r.code, Some(0));
    let r = check(&["scriptstatus", "slowtest"]);
    assert_eq!((r.code, r.stderr.as_str()), (Some(0), "event daemon helper failed with error 46\n"));
    check(&["scriptstatus", "startup"]);

    // The helper's log (-d after --).
    let r = check(&["event", "--", "-d", "NOTICE", "status", "legacy", "neverran"]);
    assert_eq!(r.stderr, "Command status finished with result=22\n");

    // Script list, enable and disable, shipped and local.
    let r = check(&["event", "script", "list", "legacy"]);
    assert_eq!(r.stdout, "* 00.shipped\n  20.notenabled\n\n* 01.ok\n  02.off\n* 03.fail\n* 04.after\n");
    check(&["event", "script", "enable", "legacy", "20.notenabled"]);
    check(&["event", "script", "enable", "legacy", "20.notenabled"]);
    check(&["event", "script", "disable", "legacy", "00.shipped"]);
    check(&["event", "script", "disable", "legacy", "01.ok"]);
    check(&["event", "script", "enable", "legacy", "02.off"]);
    let r = check(&["event", "script", "list", "legacy"]);
    assert_eq!(r.stdout, "  00.shipped\n* 20.notenabled\n\n  01.ok\n* 02.off\n* 03.fail\n* 04.after\n");
    check(&["event", "run", "20", "legacy", "monitor"]);
    let r = check(&["scriptstatus"]);
    assert!(
        r.stdout.contains("01.ok                DISABLED") && r.stdout.contains("20.notenabled        OK"),
        "{r:?}"
    );
    for args in [
        ["event", "script", "enable", "legacy", "02.off.script"],
        ["event", "script", "enable", "legacy", "99.missing"],
        ["event", "script", "disable", "legacy", "99.missing"],
        ["event", "script", "enable", "nosuch", "00.shipped"],
    ] {
        check(&args);
    }
    check(&["event", "script", "list", "nosuch"]);

    // Usage errors and -n.
    for args in [
        &["event"][..],
        &["event", "bogus"],
        &["event", "script"],
        &["event", "run"],
        &["event", "run", "10", "legacy"],
        &["event", "status", "legacy"],
        &["event", "status", "legacy", "x", "y"],
        &["event", "script", "list"],
        &["event", "script", "enable", "legacy"],
        &["event", "script", "disable", "legacy"],
        &["event", "--", "run", "-h"],
        &["event", "--", "run", "-1", "legacy", "x"],
        &["scriptstatus", "a", "b"],
        &["-n", "1", "event", "status", "legacy", "monitor"],
        &["-n", "1", "scriptstatus"],
    ] {
        let r = check(args);
        assert_eq!(r.code, Some(1), "{args:?}: {r:?}");
    }

    // Another helper program, as CTDB_EVENT_HELPER names it.
    let helper = ours.base().join("helper.sh");
    write_script(&helper, 0o755, "#!/bin/sh\necho \"helper: $*\"\necho oops >&2\nexit 110\n");
    let helper = helper.display().to_string();
    let r = same(&reference, &ours, &["event", "status", "legacy", "x"], &[("CTDB_EVENT_HELPER", &helper)]);
    assert_eq!(r.stderr, "oops\nevent daemon helper failed with error 46\n");
    same(&reference, &ours, &["scriptstatus"], &[("CTDB_EVENT_HELPER", &helper)]);

    // The tool's maximum runtime cuts a long run short; the next event
    // waits for eventd to time the slow one out (so no script outlives
    // the test).
    let r = check(&["-T", "1", "event", "run", "3", "legacy", "slowtest"]);
    assert_eq!((r.code, r.stderr.as_str()), (Some(1), "Maximum runtime exceeded - exiting\n"));
    check(&["event", "run", "20", "legacy", "okevent"]);

    // No eventd at all.
    reference.stop_eventd();
    ours.stop_eventd();
    drop(watched);
    let r = check(&["event", "status", "legacy", "monitor"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(5), "socket connect failed - <base>/run/eventd.socket\nFailed to initialize event client, ret=5\n")
    );
    check(&["event", "run", "5", "legacy", "monitor"]);
    check(&["scriptstatus"]);
}
