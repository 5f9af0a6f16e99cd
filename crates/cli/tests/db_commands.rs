//! The database commands, our `ctdb` against Debian's `/usr/bin/ctdb`, both
//! talking to a 1-node Debian ctdbd 4.17 started in test mode in a
//! temporary directory (node address 127.0.50.x).
//!
//! Commands that only look are run by both tools on the same state and must
//! print the same bytes and exit the same way. Commands that change the
//! state run once per tool on twin databases (`d*.tdb` by Debian's tool,
//! `o*.tdb` by ours); their outputs, and then the twins' contents as both
//! tools show them, must match once the names are swapped. Backup dates
//! are masked where the two backups were taken at different seconds.
//!
//! Skipped, with a message, when Debian's ctdbd is not installed.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Daemon, Run, CTDBD, DEBIAN_CTDB, OURS};

impl Run {
    /// The run with `from` replaced by `to` in both outputs.
    fn renamed(&self, from: &str, to: &str) -> Run {
        Run { stdout: self.stdout.replace(from, to), stderr: self.stderr.replace(from, to), code: self.code }
    }
}

/// A Debian ctdbd on an address of our own in 127.0.50.0/24, once it runs
/// in normal recovery mode with a leader, so that database controls are
/// served.
fn start() -> Daemon {
    let ip = format!("127.0.50.{}", 2 + std::process::id() % 250);
    Daemon::start("ctdb-cli-db", ip, Duration::from_millis(250), |d| {
        let runstate = d.run(DEBIAN_CTDB, &["runstate"]);
        let status = d.run(DEBIAN_CTDB, &["-t", "2", "status"]);
        let ready = runstate.stdout == "RUNNING\n" && status.stdout.contains("Recovery mode:NORMAL");
        (ready, format!("{runstate:?} {status:?}"))
    })
}

/// Both tools, same arguments, same state: everything must match. Debian's
/// runs first (some of the commands compared change the state).
#[track_caller]
fn same(d: &Daemon, args: &[&str]) -> Run {
    let theirs = d.run(DEBIAN_CTDB, args);
    let ours = d.run(OURS, args);
    assert_eq!(ours, theirs, "ctdb {}", args.join(" "));
    ours
}

/// `args` with `{}` replaced by `prefix`.
fn with_prefix(args: &[&str], prefix: &str) -> Vec<String> {
    args.iter().map(|a| a.replace("{}", prefix)).collect()
}

/// `run` with every `o`-twin argument replaced by its `d`-twin (database
/// names, file names), so that the twins' outputs compare.
fn as_d_twin(run: &Run, args: &[&str]) -> Run {
    let mut out = Run { stdout: run.stdout.clone(), stderr: run.stderr.clone(), code: run.code };
    for a in args.iter().filter(|a| a.contains("{}")) {
        out = out.renamed(&a.replace("{}", "o"), &a.replace("{}", "d"));
    }
    out
}

/// A changing command: Debian's tool on `d<name>`, ours on `o<name>`
/// (every argument containing `{}` gets the prefix); the outputs must
/// match with the names swapped.
#[track_caller]
fn twins(d: &Daemon, args: &[&str]) {
    let (dargs, oargs) = (with_prefix(args, "d"), with_prefix(args, "o"));
    let theirs = d.run(DEBIAN_CTDB, &dargs.iter().map(String::as_str).collect::<Vec<_>>());
    let ours = d.run(OURS, &oargs.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(as_d_twin(&ours, args), theirs, "ctdb {} (ours on o*, Debian's on d*)", args.join(" "));
}

/// Both tools show both twins the same way (names swapped; the twins' ids
/// differ, so `dbid:` lines are left out).
#[track_caller]
fn twins_look_alike(d: &Daemon, args: &[&str]) {
    let (dargs, oargs) = (with_prefix(args, "d"), with_prefix(args, "o"));
    let of_d = same(d, &dargs.iter().map(String::as_str).collect::<Vec<_>>());
    let of_o = same(d, &oargs.iter().map(String::as_str).collect::<Vec<_>>());
    let no_ids = |r: Run| Run {
        stdout: r.stdout.lines().filter(|l| !l.starts_with("dbid:")).map(|l| format!("{l}\n")).collect(),
        ..r
    };
    assert_eq!(no_ids(as_d_twin(&of_o, args)), no_ids(of_d), "ctdb {}: the twins differ", args.join(" "));
}

/// `Dumping database X from backup @ DATE` with the date masked.
fn mask_backup_date(s: &str) -> String {
    s.lines()
        .map(|l| match l.split_once(" from backup @ ") {
            Some((head, _)) => format!("{head} from backup @ <date>\n"),
            None => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn database_commands_match_debian() {
    for path in [CTDBD, DEBIAN_CTDB] {
        if !Path::new(path).exists() {
            eprintln!("skipped: {path} is not installed");
            return;
        }
    }
    let d = start();
    // No vacuuming while the twins are compared: it would remove deleted
    // records of one twin and not yet of the other.
    same(&d, &["setvar", "VacuumInterval", "3600"]);

    // Empty map, lookups that miss, wrong arguments.
    same(&d, &["getdbmap"]);
    same(&d, &["-X", "getdbmap"]);
    for args in [
        &["getdbstatus", "nosuch.tdb"][..],
        &["getdbstatus", "0x1234"],
        &["getdbstatus", "0xzz"],
        &["getdbstatus"],
        &["getdbmap", "extra"],
        &["attach"],
        &["attach", "x.tdb", "bogus"],
        &["readkey", "x.tdb", "k", "bogus"],
        &["catdb", "nosuch.tdb"],
        &["dumpdbbackup"],
        &["-n", "0", "dumpdbbackup", "/nonexistent"],
        &["dumpdbbackup", "/nonexistent"],
        &["getdbmap", "-n", "7"],
    ] {
        same(&d, args);
    }

    // Attach twins of every kind, then the whole map.
    twins(&d, &["attach", "{}vol.tdb"]);
    twins(&d, &["attach", "{}pers.tdb", "persistent"]);
    twins(&d, &["attach", "{}rep.tdb", "replicated"]);
    twins(&d, &["attach", "{}ro.tdb", "readonly"]);
    twins(&d, &["attach", "{}st.tdb", "sticky"]);
    twins(&d, &["attach", "{}flags.tdb"]);
    let map = same(&d, &["getdbmap"]);
    assert!(map.stdout.starts_with("Number of databases:12\n"), "{}", map.stdout);
    same(&d, &["-X", "getdbmap"]);
    same(&d, &["-Y", "-x", ";", "getdbmap"]);
    for db in ["vol", "pers", "rep", "ro", "st"] {
        twins_look_alike(&d, &["getdbstatus", &format!("{{}}{db}.tdb")]);
        twins_look_alike(&d, &["getdbseqnum", &format!("{{}}{db}.tdb")]);
    }
    let id = map
        .stdout
        .lines()
        .find(|l| l.contains(" name:dvol.tdb "))
        .and_then(|l| l.strip_prefix("dbid:"))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("dvol.tdb not in {}", map.stdout))
        .to_string();
    same(&d, &["getdbstatus", &id]);
    same(&d, &["-X", "getdbstatus", &id]);

    // Records: write, read (migrating when needed), delete.
    twins(&d, &["writekey", "{}vol.tdb", "key1", "value1"]);
    twins(&d, &["writekey", "{}vol.tdb", "0x6b6579", "0x00ff41"]);
    twins(&d, &["writekey", "{}vol.tdb", "key2", "two"]);
    twins(&d, &["writekey", "{}vol.tdb", "0x123", "x"]);
    twins(&d, &["writekey", "{}vol.tdb", "k", "0xgg"]);
    twins(&d, &["writekey", "{}pers.tdb", "k", "v"]);
    twins(&d, &["readkey", "{}vol.tdb", "missing"]);
    twins(&d, &["readkey", "{}rep.tdb", "k"]);
    for args in [
        &["readkey", "{}vol.tdb", "key1"][..],
        &["readkey", "{}vol.tdb", "key"],
        &["readkey", "{}vol.tdb", "key2", "readonly"],
        &["catdb", "{}vol.tdb"],
        &["-X", "catdb", "{}vol.tdb"],
        &["cattdb", "{}vol.tdb"],
        &["catdb", "{}pers.tdb"],
    ] {
        twins_look_alike(&d, args);
    }
    twins(&d, &["deletekey", "{}vol.tdb", "key2"]);
    twins(&d, &["deletekey", "{}pers.tdb", "k"]);
    twins_look_alike(&d, &["catdb", "{}vol.tdb"]);
    twins_look_alike(&d, &["cattdb", "{}vol.tdb"]);
    twins_look_alike(&d, &["readkey", "{}vol.tdb", "key2"]);

    // Persistent and replicated databases: transactions (g_lock in
    // g_lock.tdb, TRANS3_COMMIT), then the twins must hold the same
    // records with the same headers and sequence numbers.
    twins(&d, &["pstore", "{}pers.tdb", "key1", "value1"]);
    twins(&d, &["pstore", "{}pers.tdb", "0x6b6579", "0x00ff41"]);
    twins(&d, &["pstore", "{}pers.tdb", "key1", "value1"]);
    twins(&d, &["pstore", "{}pers.tdb", "key2", "two"]);
    twins(&d, &["pstore", "{}rep.tdb", "rk", "rv"]);
    twins(&d, &["pdelete", "{}pers.tdb", "missing"]);
    for args in [
        &["pstore", "{}vol.tdb", "k", "v"][..],
        &["pfetch", "{}vol.tdb", "k"],
        &["pdelete", "{}vol.tdb", "k"],
        &["ptrans", "{}vol.tdb", "/nonexistent"],
        &["pstore", "{}pers.tdb", "0x1", "v"],
        &["pstore", "{}pers.tdb", "k", "0xzz"],
        &["pfetch", "{}pers.tdb", "0xg0"],
        &["pstore", "{}pers.tdb", "k"],
        &["pdelete", "{}pers.tdb"],
        &["ptrans", "{}pers.tdb", "/nonexistent"],
    ] {
        twins(&d, args);
    }
    same(&d, &["pfetch", "nosuch.tdb", "k"]);
    same(&d, &["ptrans"]);
    let input = d.file("ptrans.in");
    std::fs::write(
        &input,
        "\"a\" \"1\"\n  \t\"b\"\t\"two words\"  trailing\nfoo bar\n\"0x6b33\" \"0x4142\"\n\"0x123\" \"x\"\n\
         \"c\" \"0xzz\"\n\"\" \"empty\"\n\"key2\" \"\"\n\"unterminated\n\"e\"\n\"e2\" noquote\n\n\"f\" \"last\"",
    )
    .unwrap_or_else(|e| panic!("ptrans input: {e}"));
    twins(&d, &["ptrans", "{}pers.tdb", &input]);
    twins(&d, &["ptrans", "{}rep.tdb", &input]);
    for args in [
        &["pfetch", "{}pers.tdb", "key1"][..],
        &["pfetch", "{}pers.tdb", "key"],
        &["pfetch", "{}pers.tdb", "key2"],
        &["pfetch", "{}pers.tdb", "b"],
        &["pfetch", "{}pers.tdb", "k3"],
        &["pfetch", "{}pers.tdb", "missing"],
        &["-X", "pfetch", "{}pers.tdb", "f"],
        &["pfetch", "{}rep.tdb", "rk"],
        &["cattdb", "{}pers.tdb"],
        &["cattdb", "{}rep.tdb"],
        &["getdbseqnum", "{}pers.tdb"],
        &["getdbseqnum", "{}rep.tdb"],
    ] {
        twins_look_alike(&d, args);
    }
    twins(&d, &["pdelete", "{}pers.tdb", "key1"]);
    twins_look_alike(&d, &["cattdb", "{}pers.tdb"]);
    twins_look_alike(&d, &["pfetch", "{}pers.tdb", "key1"]);

    // Records straight in a TDB file (no daemon involved after the
    // preamble; the daemon's mutex-locked volatile files do not open).
    for prefix in ["d", "o"] {
        let path = d.file(&format!("{prefix}t.tdb"));
        ctdb_tdb::Tdb::open(Path::new(&path), 0, 0, libc::O_RDWR | libc::O_CREAT, 0o600)
            .unwrap_or_else(|e| panic!("create {path}: {e}"));
    }
    let tfile = d.file("{}t.tdb");
    let tout = d.file("{}t.out");
    for args in [
        &["tstore", &tfile, "k1", "v1"][..],
        &["tstore", &tfile, "k2", "0x0041", "7"],
        &["tstore", &tfile, "k3", "v", "0x10", "3"],
        &["tstore", &tfile, "k4", "v", "1", " 12x"],
        &["tstore", &tfile, "k5", "v", "1", "99999999999"],
        &["tstore", &tfile, "k6", "v", "abc"],
        &["tstore", &tfile, "k6", "v", "99999999999999999999999"],
        &["tstore", &tfile, "k", "v", "1", "2", "3"],
        &["tstore", &tfile, "0x1", "v"],
        &["tstore", "/nonexistent/{}t.tdb", "k", "v"],
        &["tfetch", &tfile, "k3", &tout],
        &["tfetch", &tfile, "k1", "/nonexistent/dir/out"],
        &["tfetch", &tfile, "nokey"],
        &["tfetch", &tfile, "0xzz"],
        &["tfetch", &tfile],
    ] {
        twins(&d, args);
    }
    for key in ["k1", "k2", "k3", "k4", "k5"] {
        twins_look_alike(&d, &["tfetch", &tfile, key]);
    }
    let read = |p: String| std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read(d.file("ot.out")), read(d.file("dt.out")), "tfetch output files");
    same(&d, &["tfetch", &d.file("var/volatile/dvol.tdb.0"), "key1"]);
    same(&d, &["tfetch", &d.file("var/persistent/dpers.tdb.0"), "b"]);

    // Our client library's transactions, checked with Debian's tool.
    client_transactions(&d);

    // Per-database statistics (the lock counters of the twins may differ
    // in their timings, so each is compared between the tools only).
    same(&d, &["dbstatistics", "dvol.tdb"]);
    same(&d, &["dbstatistics", "ovol.tdb"]);
    same(&d, &["-X", "dbstatistics", "dpers.tdb"]);

    // Read-only and sticky records.
    twins(&d, &["setdbreadonly", "{}flags.tdb"]);
    twins(&d, &["setdbsticky", "{}flags.tdb"]);
    twins(&d, &["setdbreadonly", "{}pers.tdb"]);
    twins(&d, &["setdbsticky", "{}rep.tdb"]);
    twins_look_alike(&d, &["getdbstatus", "{}flags.tdb"]);
    same(&d, &["getdbmap"]);

    // Backups: each tool backs up its twin; both tools dump both files.
    let dfile = d.file("dvol.backup");
    let ofile = d.file("ovol.backup");
    twins(&d, &["backupdb", "{}vol.tdb", &d.file("{}vol.backup")]);
    twins(&d, &["backupdb", "{}vol.tdb", "/nonexistent/dir/file"]);
    same(&d, &["dumpdbbackup", &dfile]);
    same(&d, &["dumpdbbackup", &ofile]);
    same(&d, &["-X", "dumpdbbackup", &ofile]);
    same(&d, &["dumpdbbackup", &d.file("nodes")]);
    let of_d = d.run(DEBIAN_CTDB, &["dumpdbbackup", &dfile]);
    let of_o = d.run(DEBIAN_CTDB, &["dumpdbbackup", &ofile]);
    assert_eq!(
        mask_backup_date(&of_o.stdout).replace("ovol", "dvol"),
        mask_backup_date(&of_d.stdout),
        "the two backups hold different records"
    );
    assert!(of_d.stdout.contains("data(6) = \"value1\""), "{}", of_d.stdout);

    // Wipe, then restore each tool's backup with the other tool's file.
    twins(&d, &["wipedb", "{}vol.tdb"]);
    twins_look_alike(&d, &["cattdb", "{}vol.tdb"]);
    let theirs = d.run(DEBIAN_CTDB, &["restoredb", &ofile, "dvol.tdb"]);
    let ours = d.run(OURS, &["restoredb", &dfile, "ovol.tdb"]);
    assert_eq!(
        (mask_backup_date(&ours.stdout).replace("ovol", "dvol"), ours.stderr.as_str(), ours.code),
        (mask_backup_date(&theirs.stdout), theirs.stderr.as_str(), theirs.code),
        "restoredb"
    );
    twins_look_alike(&d, &["catdb", "{}vol.tdb"]);
    twins_look_alike(&d, &["cattdb", "{}vol.tdb"]);
    same(&d, &["restoredb", "/nonexistent"]);
    same(&d, &["restoredb", &d.file("nodes")]);

    // Detach needs AllowClientDBAttach=0 everywhere, and volatile DBs.
    // (Detaching a read-only database crashes Debian's ctdbd 4.17, so
    // those are left alone.)
    same(&d, &["detach", "dvol.tdb"]);
    same(&d, &["setvar", "AllowClientDBAttach", "0"]);
    same(&d, &["detach", "dpers.tdb"]);
    twins(&d, &["detach", "{}vol.tdb", "nosuch.tdb"]);
    same(&d, &["getdbmap"]);
    same(&d, &["setvar", "AllowClientDBAttach", "1"]);
}

/// `ctdb_client::persistent` against Debian's ctdbd and tool: a commit
/// lands (seqnum, headers), reads see the transaction's own writes, an
/// empty transaction sends nothing, and the g_lock entries of each side
/// keep the other one out.
fn client_transactions(d: &Daemon) {
    use ctdb_client::persistent::{PersistentDb, Transaction};
    use ctdb_client::{Client, ClientError};

    const T: Duration = Duration::from_secs(10);
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("runtime: {e}"));
    let socket = d.socket();
    rt.block_on(async {
        let client = Client::connect(&socket).await.unwrap_or_else(|e| panic!("connect: {e}"));
        let db = PersistentDb::attach(&client, "cpers.tdb", false, T).await.unwrap_or_else(|e| panic!("attach: {e}"));
        let mut tx = Transaction::start(&client, &db, false, T, T).await.unwrap_or_else(|e| panic!("start: {e}"));
        tx.store(b"ck1", b"one").unwrap_or_else(|e| panic!("store: {e}"));
        tx.store(b"ck2", b"two").unwrap_or_else(|e| panic!("store: {e}"));
        tx.store(b"ck2", b"deux").unwrap_or_else(|e| panic!("store: {e}"));
        tx.delete(b"missing").unwrap_or_else(|e| panic!("delete: {e}"));
        assert_eq!(tx.fetch(b"ck2").ok().flatten().as_deref(), Some(&b"deux"[..]));
        assert_eq!(db.fetch(b"ck2").ok().flatten(), None, "not committed yet");
        tx.commit(T).await.unwrap_or_else(|e| panic!("commit: {e}"));
        assert_eq!(db.fetch(b"ck2").ok().flatten().as_deref(), Some(&b"deux"[..]));
        assert_eq!(db.seqnum().ok(), Some(1));

        // Nothing written: nothing sent, the sequence number stays.
        let tx = Transaction::start(&client, &db, false, T, T).await.unwrap_or_else(|e| panic!("start: {e}"));
        tx.commit(T).await.unwrap_or_else(|e| panic!("empty commit: {e}"));
        assert_eq!(db.seqnum().ok(), Some(1));

        // Our lock keeps Debian's tool waiting (until its -T runs out).
        let tx = Transaction::start(&client, &db, false, T, T).await.unwrap_or_else(|e| panic!("start: {e}"));
        let blocked = d.run(DEBIAN_CTDB, &["-T", "2", "pstore", "cpers.tdb", "ck3", "x"]);
        assert_eq!(blocked.code, 1, "{blocked:?}");
        assert!(blocked.stderr.contains("Maximum runtime exceeded"), "{blocked:?}");
        tx.cancel().await.unwrap_or_else(|e| panic!("cancel: {e}"));
        let after = d.run(DEBIAN_CTDB, &["pstore", "cpers.tdb", "ck3", "x"]);
        assert_eq!((after.code, after.stderr.as_str()), (0, ""), "{after:?}");

        // Debian's lock (ptrans still reading its input) keeps ours out.
        let mut child = Command::new(DEBIAN_CTDB)
            .args(["ptrans", "cpers.tdb"])
            .env("CTDB_SOCKET", &socket)
            .env("CTDB_BASE", d.base())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("ptrans: {e}"));
        std::thread::sleep(Duration::from_secs(1));
        match Transaction::start(&client, &db, false, T, Duration::from_millis(500)).await {
            Err(ClientError::Timeout) => {}
            Err(e) => panic!("expected a timeout, got {e}"),
            Ok(_) => panic!("took the lock Debian's ptrans holds"),
        }
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"\"ck4\" \"four\"\n");
        }
        let status = child.wait().unwrap_or_else(|e| panic!("ptrans: {e}"));
        assert!(status.success(), "ptrans: {status}");
        let mut tx = Transaction::start(&client, &db, false, T, T).await.unwrap_or_else(|e| panic!("start: {e}"));
        assert_eq!(tx.fetch(b"ck4").ok().flatten().as_deref(), Some(&b"four"[..]));
        tx.delete(b"ck1").unwrap_or_else(|e| panic!("delete: {e}"));
        tx.commit(T).await.unwrap_or_else(|e| panic!("commit: {e}"));
        assert_eq!(db.seqnum().ok(), Some(4));
    });
    for (key, value) in [("ck1", "\n"), ("ck2", "deux\n"), ("ck3", "x\n"), ("ck4", "four\n"), ("missing", "\n")] {
        let run = d.run(DEBIAN_CTDB, &["pfetch", "cpers.tdb", key]);
        assert_eq!((run.stdout.as_str(), run.stderr.as_str(), run.code), (value, "", 0), "pfetch {key}");
    }
    assert_eq!(same(d, &["getdbseqnum", "cpers.tdb"]).stdout, "0x4\n");
    let dump = same(d, &["cattdb", "cpers.tdb"]).stdout;
    // Two writes of ck2 in one transaction: rsn 1 then 2, both dmaster 0.
    assert!(dump.contains("key(3) = \"ck2\"\ndmaster: 0\nrsn: 2\n"), "{dump}");
    assert!(dump.contains("key(3) = \"ck1\"\ndmaster: 0\nrsn: 2\nflags: 0x00000000\ndata(0) = \"\""), "{dump}");
}
