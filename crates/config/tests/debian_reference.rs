//! Checks against Debian's ctdb 4.17 tools, when they are installed:
//! our ctdb.conf defaults equal `ctdb-config dump`, and every file that
//! `ctdb-config validate` rejects is rejected here too. Skipped (passing)
//! where `/usr/libexec/ctdb/ctdb-config` is absent.

use std::path::Path;
use std::process::Command;

use ctdb_config::ini::{self, IniLine};
use ctdb_config::{CtdbConf, DebugLevel, Paths};

const TOOL: &str = "/usr/libexec/ctdb/ctdb-config";

/// Runs the tool in test mode with `conf` as `$CTDB_BASE/ctdb.conf` (none if
/// `None`); returns (exit code, stdout).
fn run_tool(base: &Path, conf: Option<&str>, args: &[&str]) -> (i32, String) {
    let file = base.join("ctdb.conf");
    match conf {
        Some(text) => std::fs::write(&file, text).unwrap(),
        None => {
            let _ = std::fs::remove_file(&file);
        }
    }
    let out = Command::new(TOOL).args(args).env("CTDB_TEST_MODE", "yes").env("CTDB_BASE", base).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn tool_present() -> bool {
    Path::new(TOOL).exists()
}

#[test]
fn defaults_equal_ctdb_config_dump() {
    if !tool_present() {
        eprintln!("skipped: {TOOL} not installed");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let (rc, dump) = run_tool(base.path(), None, &["dump"]);
    assert_eq!(rc, 0);
    // The dump prints every default commented out: `\t# key = value`.
    let uncommented: String =
        dump.lines().map(|l| l.trim_start().trim_start_matches("# ")).collect::<Vec<_>>().join("\n");
    let mut section = String::new();
    let mut seen = 0;
    // The tool's compiled-in directories are those of a normal install.
    let ours = CtdbConf::defaults(&Paths::from_vars(|_| None).unwrap());
    for item in ini::lex(&uncommented) {
        match item.unwrap() {
            IniLine::Section { name, .. } => section = name,
            IniLine::Param { key, value, .. } => {
                seen += 1;
                let mine: String = match (section.as_str(), key.as_str()) {
                    ("logging", "location") => ours.logging.location.to_string(),
                    // The tool's own default is ERROR; ctdbd's is NOTICE.
                    ("logging", "log level") => {
                        assert_eq!(value, "ERROR");
                        assert_eq!(ours.logging.level, DebugLevel::NOTICE);
                        continue;
                    }
                    ("cluster", "transport") => ours.cluster.transport.clone(),
                    ("cluster", "node address") => ours.cluster.node_address.map(|a| a.to_string()).unwrap_or_default(),
                    ("cluster", "cluster lock") => ours.cluster.cluster_lock.clone().unwrap_or_default(),
                    ("cluster", "recovery lock") => ours.cluster.recovery_lock.clone().unwrap_or_default(),
                    ("database", "lock debug script") => ours.database.lock_debug_script.clone().unwrap_or_default(),
                    ("event", "debug script") => ours.event.debug_script.clone().unwrap_or_default(),
                    ("cluster", "leader timeout") => ours.cluster.leader_timeout.to_string(),
                    ("cluster", "leader capability") => ours.cluster.leader_capability.to_string(),
                    ("database", "volatile database directory") => ours.database.volatile_dir.display().to_string(),
                    ("database", "persistent database directory") => ours.database.persistent_dir.display().to_string(),
                    ("database", "state database directory") => ours.database.state_dir.display().to_string(),
                    ("database", "tdb mutexes") => ours.database.tdb_mutexes.to_string(),
                    ("failover", "disabled") => ours.failover.disabled.to_string(),
                    ("legacy", "realtime scheduling") => ours.legacy.realtime_scheduling.to_string(),
                    ("legacy", "lmaster capability") => ours.legacy.lmaster_capability.to_string(),
                    ("legacy", "start as stopped") => ours.legacy.start_as_stopped.to_string(),
                    ("legacy", "start as disabled") => ours.legacy.start_as_disabled.to_string(),
                    ("legacy", "script log level") => ours.legacy.script_log_level.name().to_string(),
                    other => panic!("dump has an option we do not know: {other:?}"),
                };
                assert_eq!(mine, value, "[{section}] {key}");
            }
            IniLine::NoEquals { text, .. } => panic!("unexpected dump line {text:?}"),
        }
    }
    assert_eq!(seen, 20, "{dump}");
}

/// Inputs ctdbd 4.17 rejects; each must be rejected here as well.
const REJECTED_BY_CTDB: &[&str] = &[
    "[cluster]\nleader timeout = abc\n",
    "[cluster]\nleader timeout = 0\n",
    "[cluster]\nleader timeout = -1\n",
    "[cluster]\nleader timeout = 2147483648\n",
    "[cluster]\nleader timeout = 08\n",
    "[cluster]\ntransport = ib\n",
    "[cluster]\ntransport = TCP\n",
    "[cluster]\nnode address = 1.2.3\n",
    "[cluster]\nnode address = 127.0.0.01\n",
    "[cluster]\ncluster lock =\n",
    "[cluster]\nleader timeout =\n",
    "[logging]\nlocation = stderr\n",
    "[logging]\nlocation = SYSLOG\n",
    "[logging]\nlocation = syslog:foo\n",
    "[logging]\nlog level = 11\n",
    "[logging]\nlog level = -1\n",
    "[logging]\nlog level = WARNINGX\n",
    "[legacy]\nrealtime scheduling = maybe\n",
    "[legacy]\nrealtime scheduling = on\n",
    "[legacy]\nrealtime scheduling = 1\n",
    "[legacy]\nscript log level = foo\n",
    "[foo]\n",
    "[ cluster ]\nleader timeout = 3\n",
    "[]\n",
    "key = 1\n",
    "[cluster]\nbogus key = 1\n",
    "[cluster]\nLeader Timeout = 3\n",
    "[cluster]\ncluster\tlock = x\n",
    "\u{feff}[cluster]\nleader timeout = 3\n",
];

/// Inputs ctdbd 4.17 accepts and so do we.
const ACCEPTED_BY_BOTH: &[&str] = &[
    "",
    "[Cluster]\nleader timeout = 3\n",
    "[cluster]\nleader  timeout = 3\n",
    "[cluster]\n  leader   timeout   =   3  \n",
    "[cluster]\nleader timeout = 0x10\n",
    "[cluster]\nleader timeout = 010\n",
    "[cluster]\nleader timeout = +3\n",
    "[cluster]\nbogus\n",
    "[cluster]\nnode address = fd00::1\n",
    "[cluster]\nnode address = ::ffff:1.2.3.4\n",
    "[cluster]\ncluster lock = /a  b\n",
    "[cluster]\ncluster lock = a\\\n  b\n",
    "[cluster]x]\nleader timeout = 3\n",
    "[cluster]\r\ncluster lock = x\r\n",
    "[legacy]\nrealtime scheduling = YES\n",
    "[legacy]\nrealtime scheduling = No\n",
    "[logging]\nlog level = warn\n",
    "[logging]\nlog level = 7\n",
    "[logging]\nlog level = e\n",
    "[logging]\nlocation = file\n",
    "[logging]\nlocation = file:\n",
    "[logging]\nlocation = file:-\n",
    "[logging]\nlocation = syslog:\n",
    "[logging]\nlocation = syslog:nonblocking\n",
    "[logging]\nlocation = syslog:udp\n",
    "[logging]\nlocation = syslog:udp-rfc5424\n",
    "[cluster]\ncluster lock = x\n[cluster]\nleader timeout = 3\n",
];

fn ours(text: &str) -> Result<CtdbConf, String> {
    CtdbConf::parse(text, Path::new("ctdb.conf"), &Paths::from_vars(|_| None).unwrap()).map_err(|e| e.to_string())
}

#[test]
fn whatever_ctdb_rejects_we_reject() {
    for text in REJECTED_BY_CTDB {
        assert!(ours(text).is_err(), "we accept {text:?}");
    }
    if !tool_present() {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    for text in REJECTED_BY_CTDB {
        let (rc, _) = run_tool(base.path(), Some(text), &["validate"]);
        assert_ne!(rc, 0, "ctdb-config accepts {text:?}: table out of date");
    }
}

#[test]
fn what_both_accept() {
    for text in ACCEPTED_BY_BOTH {
        assert!(ours(text).is_ok(), "we reject {text:?}: {:?}", ours(text).err());
    }
    if !tool_present() {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    for text in ACCEPTED_BY_BOTH {
        let (rc, _) = run_tool(base.path(), Some(text), &["validate"]);
        assert_eq!(rc, 0, "ctdb-config rejects {text:?}: table out of date");
    }
}

/// Nodes files compared with `ctdb listnodes -X` (pnn and address of every
/// live node; deleted slots are not listed but shift the pnns).
#[test]
fn nodes_files_read_as_ctdb_listnodes_reads_them() {
    const FILES: &[&str] = &[
        "192.0.2.77\n#\n\n  192.0.2.78  \n# comment\nfd00::5\n",
        "10.0.0.1\r\n10.0.0.2\n",
        "\t10.0.0.1\t\n  # gone\n10.0.0.2",
        "\r10.0.0.1\n10.0.0.5\n",
        "10.0.0.1\r5\n \r \n# x\r\n10.0.0.2\n",
        "",
        "10.0.0.1 x\n",
        "10.0.0.01\n",
        "10.0.0.1:4379\n",
        "fe80::1%eth0\n",
        "10.0.0.1 # c\n",
        "10.0.0.1\u{b}\n",
    ];
    let cli = Path::new("/usr/bin/ctdb");
    if !cli.exists() {
        eprintln!("skipped: {} not installed", cli.display());
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let path = base.path().join("nodes");
    for text in FILES {
        std::fs::write(&path, text).unwrap();
        let out = Command::new(cli).args(["listnodes", "-X"]).env("CTDB_BASE", base.path()).output().unwrap();
        let theirs = out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned());
        let ours = ctdb_config::NodesFile::parse(text, &path)
            .ok()
            .map(|n| n.nodes.iter().filter_map(|e| e.addr.map(|a| format!("|{}|{a}|\n", e.pnn))).collect::<String>());
        assert_eq!(ours, theirs, "{text:?}");
    }
}
