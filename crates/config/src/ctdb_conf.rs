//! `ctdb.conf`: the daemon's INI configuration file.
//!
//! Same sections, keys, types and defaults as ctdbd 4.17. One deliberate
//! difference: ctdbd ignores unknown sections and options and reads `7x` as
//! 7; here an unknown section, unknown option or malformed value is an error
//! naming the file, line and option, because a typo silently ignored has cost
//! real clusters their cluster lock.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::ini::{self, IniLine};
use crate::{ConfigError, DebugLevel, LogLocation, Paths};

/// The whole of ctdb.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtdbConf {
    /// `[logging]`.
    pub logging: LoggingConf,
    /// `[cluster]`.
    pub cluster: ClusterConf,
    /// `[database]`.
    pub database: DatabaseConf,
    /// `[event]`.
    pub event: EventConf,
    /// `[failover]`.
    pub failover: FailoverConf,
    /// `[legacy]`.
    pub legacy: LegacyConf,
}

/// `[logging]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggingConf {
    /// `location`, default `file:/var/log/ctdb/log.ctdb`.
    pub location: LogLocation,
    /// `log level`, default NOTICE (ctdbd's default).
    pub level: DebugLevel,
}

/// `[cluster]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConf {
    /// `transport`; only `tcp` is valid.
    pub transport: String,
    /// `node address`: selects own pnn and the bind address.
    pub node_address: Option<IpAddr>,
    /// `cluster lock`: `PATH` (fcntl helper) or `!cmd args`.
    pub cluster_lock: Option<String>,
    /// `recovery lock`: deprecated alias of `cluster lock`.
    pub recovery_lock: Option<String>,
    /// `leader timeout` in seconds, > 0, default 5.
    pub leader_timeout: u32,
    /// `leader capability`, default true.
    pub leader_capability: bool,
    /// `nodes list` (Samba 4.22+): a file path, or `!command args` whose
    /// output is the nodes list (Kubernetes-style deployments). Unset:
    /// `$CTDB_BASE/nodes`.
    pub nodes_list: Option<String>,
    /// `keepalive interval ms` (ctdb-rs): milliseconds between keepalives
    /// on an idle node link, default 200. Used while the tunables
    /// KeepaliveInterval and KeepaliveLimit are at Samba's defaults (5, 5);
    /// an operator who sets either of those gets Samba's whole-second
    /// behaviour instead.
    pub keepalive_interval_ms: u32,
    /// `keepalive limit` (ctdb-rs): silent intervals after which a node is
    /// declared dead, default 5 (so 1 s with the default interval).
    pub keepalive_limit: u32,
}

/// `[database]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseConf {
    /// `volatile database directory`.
    pub volatile_dir: PathBuf,
    /// `persistent database directory`.
    pub persistent_dir: PathBuf,
    /// `state database directory`.
    pub state_dir: PathBuf,
    /// `lock debug script`, as written (its basename is looked up in etcdir).
    pub lock_debug_script: Option<String>,
    /// `tdb mutexes`, default true.
    pub tdb_mutexes: bool,
}

/// `[event]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EventConf {
    /// `debug script`, as written (its basename is looked up in etcdir).
    pub debug_script: Option<String>,
    /// `monitor timeout count` (ctdb-rs): consecutive monitor timeouts
    /// that make the node UNHEALTHY; unset means 1 (CTDB behaves like 20,
    /// its MonitorTimeoutCount).
    pub monitor_timeout_count: Option<u32>,
}

impl EventConf {
    /// `monitor timeout count`, or its default 1.
    pub fn monitor_timeouts(&self) -> u32 {
        self.monitor_timeout_count.unwrap_or(1)
    }
}

/// `[failover]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverConf {
    /// `disabled`: no public IP handling.
    pub disabled: bool,
    /// `shutdown timeout` (ctdb-rs), seconds: how long a stopping node
    /// waits for its public addresses to be taken over elsewhere before it
    /// exits anyway; 0 = do not wait. Default 10.
    pub shutdown_timeout: u32,
}

impl Default for FailoverConf {
    fn default() -> FailoverConf {
        FailoverConf { disabled: false, shutdown_timeout: 10 }
    }
}

/// `[legacy]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyConf {
    /// `realtime scheduling`, default true (always off in test mode).
    pub realtime_scheduling: bool,
    /// `lmaster capability`, default true.
    pub lmaster_capability: bool,
    /// `start as stopped`, default false.
    pub start_as_stopped: bool,
    /// `start as disabled`, default false.
    pub start_as_disabled: bool,
    /// `script log level`, default ERROR.
    pub script_log_level: DebugLevel,
}

/// The sections, in the order `ctdb-config dump` prints them.
/// Default `[cluster] keepalive interval ms`.
pub const DEFAULT_KEEPALIVE_INTERVAL_MS: u32 = 200;
/// Default `[cluster] keepalive limit`.
pub const DEFAULT_KEEPALIVE_LIMIT: u32 = 5;

const SECTIONS: [&str; 6] = ["logging", "cluster", "database", "event", "failover", "legacy"];

/// Why one option could not be applied.
enum Rejection {
    UnknownKey,
    Invalid(String),
}

impl CtdbConf {
    /// The values ctdbd uses when ctdb.conf says nothing.
    ///
    /// Database directories are `vardir/volatile`, `vardir/persistent` and
    /// `vardir/state`. In a normal install that is ctdbd's compiled-in
    /// /var/lib/ctdb/…; in test mode it is `$CTDB_BASE/var/…` so that local
    /// test nodes never share databases (ctdbd 4.17 keeps /var/lib/ctdb
    /// there too).
    pub fn defaults(paths: &Paths) -> CtdbConf {
        CtdbConf {
            logging: LoggingConf { location: LogLocation::default(), level: DebugLevel::NOTICE },
            cluster: ClusterConf {
                transport: "tcp".into(),
                node_address: None,
                cluster_lock: None,
                recovery_lock: None,
                leader_timeout: 5,
                leader_capability: true,
                nodes_list: None,
                keepalive_interval_ms: DEFAULT_KEEPALIVE_INTERVAL_MS,
                keepalive_limit: DEFAULT_KEEPALIVE_LIMIT,
            },
            database: DatabaseConf {
                volatile_dir: paths.vardir.join("volatile"),
                persistent_dir: paths.vardir.join("persistent"),
                state_dir: paths.vardir.join("state"),
                lock_debug_script: None,
                tdb_mutexes: true,
            },
            event: EventConf::default(),
            failover: FailoverConf::default(),
            legacy: LegacyConf {
                realtime_scheduling: true,
                lmaster_capability: true,
                start_as_stopped: false,
                start_as_disabled: false,
                script_log_level: DebugLevel::ERROR,
            },
        }
    }

    /// Reads and parses `path`; a missing file means all defaults.
    pub fn load(path: &Path, paths: &Paths) -> Result<CtdbConf, ConfigError> {
        match fs::read(path) {
            Ok(bytes) => CtdbConf::parse(&String::from_utf8_lossy(&bytes), path, paths),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(CtdbConf::defaults(paths)),
            Err(source) => Err(ConfigError::Io { path: path.to_path_buf(), source }),
        }
    }

    /// Parses ctdb.conf text; `path` is only used in error messages. Stops at
    /// the first error.
    pub fn parse(text: &str, path: &Path, paths: &Paths) -> Result<CtdbConf, ConfigError> {
        let mut conf = CtdbConf::defaults(paths);
        let mut section: Option<&'static str> = None;
        for item in ini::lex(text) {
            let item =
                item.map_err(|e| ConfigError::Syntax { path: path.to_path_buf(), line: e.line, message: e.message })?;
            match item {
                IniLine::Section { line, name } => {
                    let known = SECTIONS.iter().find(|s| s.eq_ignore_ascii_case(&name));
                    let Some(known) = known else {
                        return Err(ConfigError::UnknownSection { path: path.to_path_buf(), line, section: name });
                    };
                    section = Some(known);
                }
                IniLine::Param { line, key, value } => {
                    let Some(sect) = section else {
                        return Err(ConfigError::NoSection { path: path.to_path_buf(), line, key });
                    };
                    match conf.apply(sect, &key, &value) {
                        Ok(()) => {}
                        Err(Rejection::UnknownKey) => {
                            return Err(ConfigError::UnknownOption {
                                path: path.to_path_buf(),
                                line,
                                section: sect.into(),
                                key,
                            })
                        }
                        Err(Rejection::Invalid(problem)) => {
                            return Err(ConfigError::InvalidValue {
                                path: path.to_path_buf(),
                                line,
                                section: sect.into(),
                                key,
                                problem,
                            })
                        }
                    }
                }
                // ctdbd ignores a line without `=`; so do we (5.1).
                IniLine::NoEquals { .. } => {}
            }
        }
        Ok(conf)
    }

    fn apply(&mut self, section: &str, key: &str, value: &str) -> Result<(), Rejection> {
        // Look the key up before judging the value, so a typo in a key name
        // is reported as such even when its value is empty.
        if !is_known(section, key) {
            return Err(Rejection::UnknownKey);
        }
        if value.is_empty() {
            return Err(Rejection::Invalid("empty value".into()));
        }
        match (section, key) {
            ("logging", "location") => {
                self.logging.location = LogLocation::parse(value)
                    .ok_or_else(|| Rejection::Invalid(format!("invalid log location \"{value}\"")))?;
            }
            ("logging", "log level") => self.logging.level = debug_level(value)?,
            ("cluster", "transport") => {
                if value != "tcp" {
                    return Err(Rejection::Invalid(format!(
                        "invalid transport \"{value}\": only \"tcp\" is supported"
                    )));
                }
                self.cluster.transport = value.into();
            }
            ("cluster", "node address") => {
                let addr = value
                    .parse::<IpAddr>()
                    .map_err(|_| Rejection::Invalid(format!("invalid IP address \"{value}\"")))?;
                self.cluster.node_address = Some(addr);
            }
            ("cluster", "cluster lock") => self.cluster.cluster_lock = Some(value.into()),
            ("cluster", "recovery lock") => self.cluster.recovery_lock = Some(value.into()),
            ("cluster", "leader timeout") => {
                let n = integer(value)?;
                if n <= 0 {
                    return Err(Rejection::Invalid(format!("invalid value \"{value}\": must be greater than 0")));
                }
                // integer() bounds n to i32, so it fits in u32 once positive.
                self.cluster.leader_timeout =
                    u32::try_from(n).map_err(|_| Rejection::Invalid(format!("integer \"{value}\" out of range")))?;
            }
            ("cluster", "leader capability") => self.cluster.leader_capability = boolean(value)?,
            ("cluster", "nodes list") => self.cluster.nodes_list = Some(value.into()),
            ("cluster", "keepalive interval ms") => {
                let n = integer(value)?;
                if !(10..=60_000).contains(&n) {
                    return Err(Rejection::Invalid(format!("invalid value \"{value}\": must be 10 to 60000")));
                }
                self.cluster.keepalive_interval_ms = n as u32;
            }
            ("cluster", "keepalive limit") => {
                let n = integer(value)?;
                if !(1..=1000).contains(&n) {
                    return Err(Rejection::Invalid(format!("invalid value \"{value}\": must be 1 to 1000")));
                }
                self.cluster.keepalive_limit = n as u32;
            }
            ("database", "volatile database directory") => self.database.volatile_dir = value.into(),
            ("database", "persistent database directory") => self.database.persistent_dir = value.into(),
            ("database", "state database directory") => self.database.state_dir = value.into(),
            ("database", "lock debug script") => self.database.lock_debug_script = Some(value.into()),
            ("database", "tdb mutexes") => self.database.tdb_mutexes = boolean(value)?,
            ("event", "debug script") => self.event.debug_script = Some(value.into()),
            ("event", "monitor timeout count") => {
                let n = integer(value)?;
                if n <= 0 {
                    return Err(Rejection::Invalid(format!("invalid value \"{value}\": must be greater than 0")));
                }
                self.event.monitor_timeout_count = u32::try_from(n).ok();
            }
            ("failover", "disabled") => self.failover.disabled = boolean(value)?,
            ("failover", "shutdown timeout") => {
                let n = integer(value)?;
                self.failover.shutdown_timeout = u32::try_from(n)
                    .map_err(|_| Rejection::Invalid(format!("invalid value \"{value}\": must not be negative")))?;
            }
            ("legacy", "realtime scheduling") => self.legacy.realtime_scheduling = boolean(value)?,
            ("legacy", "lmaster capability") => self.legacy.lmaster_capability = boolean(value)?,
            ("legacy", "start as stopped") => self.legacy.start_as_stopped = boolean(value)?,
            ("legacy", "start as disabled") => self.legacy.start_as_disabled = boolean(value)?,
            ("legacy", "script log level") => self.legacy.script_log_level = debug_level(value)?,
            _ => return Err(Rejection::UnknownKey),
        }
        Ok(())
    }

    /// Checks that the three database directories exist, as ctdbd does
    /// before starting: `volatile database directory "/x" does not exist`.
    pub fn validate_dirs(&self) -> Result<(), ConfigError> {
        let dirs = [
            ("volatile database directory", &self.database.volatile_dir),
            ("persistent database directory", &self.database.persistent_dir),
            ("state database directory", &self.database.state_dir),
        ];
        for (what, dir) in dirs {
            if !dir.is_dir() {
                return Err(ConfigError::BadPath {
                    what: what.into(),
                    path: dir.clone(),
                    problem: "does not exist".into(),
                });
            }
        }
        Ok(())
    }

    /// Every check ctdbd makes on the file system when it loads ctdb.conf:
    /// database directories, the log file's directory, and the debug
    /// scripts (which must exist in etcdir and be executable).
    pub fn validate(&self, paths: &Paths) -> Result<(), ConfigError> {
        self.validate_dirs()?;
        if let LogLocation::File(file) = &self.logging.location {
            let dir = match file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dir.is_dir() {
                return Err(ConfigError::BadPath {
                    what: "log file directory".into(),
                    path: dir,
                    problem: "does not exist".into(),
                });
            }
        }
        let scripts = [
            ("lock debug script", self.lock_debug_script_path(paths)),
            ("debug script", self.event_debug_script_path(paths)),
        ];
        for (what, script) in scripts {
            let Some(script) = script else { continue };
            let problem = match fs::metadata(&script) {
                Err(_) => Some("does not exist"),
                Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => Some("is not executable"),
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                return Err(ConfigError::BadPath { what: what.into(), path: script, problem: problem.into() });
            }
        }
        Ok(())
    }

    /// `[database] lock debug script` resolved as ctdbd does: its basename
    /// in etcdir (an absolute path is not honoured).
    pub fn lock_debug_script_path(&self, paths: &Paths) -> Option<PathBuf> {
        self.database.lock_debug_script.as_deref().map(|s| in_etcdir(s, paths))
    }

    /// `[event] debug script` resolved as ctdbd does: its basename in etcdir.
    pub fn event_debug_script_path(&self, paths: &Paths) -> Option<PathBuf> {
        self.event.debug_script.as_deref().map(|s| in_etcdir(s, paths))
    }
}

impl ClusterConf {
    /// The cluster lock to use: `cluster lock`, else the deprecated
    /// `recovery lock`.
    pub fn effective_cluster_lock(&self) -> Option<&str> {
        self.cluster_lock.as_deref().or(self.recovery_lock.as_deref())
    }
}

fn in_etcdir(script: &str, paths: &Paths) -> PathBuf {
    let base = Path::new(script).file_name().map(Path::new).unwrap_or(Path::new(script));
    paths.etcdir.join(base)
}

fn is_known(section: &str, key: &str) -> bool {
    let keys: &[&str] = match section {
        "logging" => &["location", "log level"],
        "cluster" => &[
            "transport",
            "node address",
            "cluster lock",
            "recovery lock",
            "leader timeout",
            "leader capability",
            "nodes list",
            "keepalive interval ms",
            "keepalive limit",
        ],
        "database" => &[
            "volatile database directory",
            "persistent database directory",
            "state database directory",
            "lock debug script",
            "tdb mutexes",
        ],
        "event" => &["debug script", "monitor timeout count"],
        "failover" => &["disabled", "shutdown timeout"],
        "legacy" => {
            &["realtime scheduling", "lmaster capability", "start as stopped", "start as disabled", "script log level"]
        }
        _ => &[],
    };
    keys.contains(&key)
}

fn debug_level(value: &str) -> Result<DebugLevel, Rejection> {
    DebugLevel::parse(value).ok_or_else(|| Rejection::Invalid(format!("invalid log level \"{value}\"")))
}

fn boolean(value: &str) -> Result<bool, Rejection> {
    if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") || value.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(Rejection::Invalid(format!("invalid boolean \"{value}\"")))
    }
}

/// A C `int` written as `strtol` base 0 reads it (`0x1f`, `010` octal,
/// optional sign), but the whole value must be the number.
fn integer(value: &str) -> Result<i64, Rejection> {
    let invalid = || Rejection::Invalid(format!("invalid integer \"{value}\""));
    let n = parse_c_integer(value).ok_or_else(invalid)?;
    if n < i64::from(i32::MIN) || n > i64::from(i32::MAX) {
        return Err(Rejection::Invalid(format!("integer \"{value}\" out of range")));
    }
    Ok(n)
}

/// Parses an integer with C base-0 prefixes; `None` unless every character
/// is part of it. Values beyond `i64` are `None`.
pub(crate) fn parse_c_integer(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths::from_vars(|_| None).unwrap()
    }

    fn parse(text: &str) -> Result<CtdbConf, String> {
        CtdbConf::parse(text, Path::new("/etc/ctdb/ctdb.conf"), &paths()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_match_ctdb_config_dump() {
        // `ctdb-config dump` of 4.17 (log level there is the tool's ERROR;
        // ctdbd's own default is NOTICE).
        let c = CtdbConf::defaults(&paths());
        assert_eq!(c.logging.location, LogLocation::File("/var/log/ctdb/log.ctdb".into()));
        assert_eq!(c.logging.level, DebugLevel::NOTICE);
        assert_eq!(c.cluster.transport, "tcp");
        assert_eq!(c.cluster.node_address, None);
        assert_eq!(c.cluster.cluster_lock, None);
        assert_eq!(c.cluster.recovery_lock, None);
        assert_eq!(c.cluster.leader_timeout, 5);
        assert!(c.cluster.leader_capability);
        assert_eq!((c.cluster.keepalive_interval_ms, c.cluster.keepalive_limit), (200, 5), "ctdb-rs: dead after 1 s");
        assert_eq!(c.database.volatile_dir, PathBuf::from("/var/lib/ctdb/volatile"));
        assert_eq!(c.database.persistent_dir, PathBuf::from("/var/lib/ctdb/persistent"));
        assert_eq!(c.database.state_dir, PathBuf::from("/var/lib/ctdb/state"));
        assert_eq!(c.database.lock_debug_script, None);
        assert!(c.database.tdb_mutexes);
        assert_eq!(c.event.debug_script, None);
        assert_eq!(c.event.monitor_timeouts(), 1, "ctdb-rs default: one hung monitor is a failure");
        assert!(!c.failover.disabled);
        assert!(c.legacy.realtime_scheduling);
        assert!(c.legacy.lmaster_capability);
        assert!(!c.legacy.start_as_stopped);
        assert!(!c.legacy.start_as_disabled);
        assert_eq!(c.legacy.script_log_level, DebugLevel::ERROR);
    }

    #[test]
    fn keepalive_settings_are_bounded() {
        let c = parse("[cluster]\nkeepalive interval ms = 100\nkeepalive limit = 3\n").unwrap();
        assert_eq!((c.cluster.keepalive_interval_ms, c.cluster.keepalive_limit), (100, 3));
        for bad in
            ["keepalive interval ms = 9", "keepalive interval ms = 60001", "keepalive limit = 0", "keepalive limit = x"]
        {
            assert!(parse(&format!("[cluster]\n{bad}\n")).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn test_mode_database_dirs_follow_vardir() {
        let p = Paths::from_vars(|n| match n {
            "CTDB_TEST_MODE" => Some("yes".into()),
            "CTDB_BASE" => Some("/tmp/n0".into()),
            _ => None,
        })
        .unwrap();
        let c = CtdbConf::defaults(&p);
        assert_eq!(c.database.volatile_dir, PathBuf::from("/tmp/n0/var/volatile"));
    }

    #[test]
    fn every_key_is_settable() {
        let text = "\
[logging]
    location = syslog:udp
    log level = INFO
[CLUSTER]
    transport = tcp
    node address = fd00::1
    cluster lock = !/usr/bin/helper arg
    recovery lock = /cluster/reclock
    leader timeout = 0x1f
    leader capability = No
[database]
    volatile database directory = /v
    persistent database directory = /p
    state database directory = /s
    lock debug script = debug_locks.sh
    tdb mutexes = FALSE
[event]
    debug script = debug-hung-script.sh
    monitor timeout count = 20
[failover]
    disabled = yes
[legacy]
    realtime scheduling = no
    lmaster capability = false
    start as stopped = true
    start as disabled = YES
    script log level = warn
";
        let c = parse(text).unwrap();
        assert_eq!(c.logging.location, LogLocation::Syslog(crate::SyslogMode::Udp));
        assert_eq!(c.logging.level, DebugLevel::INFO);
        assert_eq!(c.cluster.node_address, "fd00::1".parse().ok());
        assert_eq!(c.cluster.cluster_lock.as_deref(), Some("!/usr/bin/helper arg"));
        assert_eq!(c.cluster.recovery_lock.as_deref(), Some("/cluster/reclock"));
        assert_eq!(c.cluster.effective_cluster_lock(), Some("!/usr/bin/helper arg"));
        assert_eq!(c.cluster.leader_timeout, 31);
        assert!(!c.cluster.leader_capability);
        assert_eq!(c.database.volatile_dir, PathBuf::from("/v"));
        assert_eq!(c.database.persistent_dir, PathBuf::from("/p"));
        assert_eq!(c.database.state_dir, PathBuf::from("/s"));
        assert_eq!(c.database.lock_debug_script.as_deref(), Some("debug_locks.sh"));
        assert!(!c.database.tdb_mutexes);
        assert_eq!(c.event.debug_script.as_deref(), Some("debug-hung-script.sh"));
        assert_eq!(c.event.monitor_timeouts(), 20);
        assert!(c.failover.disabled);
        assert!(!c.legacy.realtime_scheduling);
        assert!(!c.legacy.lmaster_capability);
        assert!(c.legacy.start_as_stopped);
        assert!(c.legacy.start_as_disabled);
        assert_eq!(c.legacy.script_log_level, DebugLevel::WARNING);
    }

    #[test]
    fn recovery_lock_is_used_when_cluster_lock_is_unset() {
        let c = parse("[cluster]\nrecovery lock = /r\n").unwrap();
        assert_eq!(c.cluster.effective_cluster_lock(), Some("/r"));
    }

    #[test]
    fn debian_shipped_file_parses() {
        let text = "# See ctdb.conf(5) for documentation\n#\n[logging]\n\t# Enable logging to syslog\n\tlocation = syslog\n\n\t# Default log level\n\tlog level = NOTICE\n\n[cluster]\n\t# cluster lock = !/bin/false CLUSTER LOCK NOT CONFIGURED\n";
        let c = parse(text).unwrap();
        assert_eq!(c.logging.location, LogLocation::Syslog(crate::SyslogMode::Default));
        assert_eq!(c.logging.level, DebugLevel::NOTICE);
    }

    #[test]
    fn integers_follow_strtol_base_0() {
        for (text, want) in [("010", 8), ("0x1f", 31), ("+3", 3), ("2147483647", 2147483647)] {
            let c = parse(&format!("[cluster]\nleader timeout = {text}\n")).unwrap();
            assert_eq!(c.cluster.leader_timeout, want, "{text}");
        }
    }

    #[test]
    fn last_value_wins_and_sections_merge() {
        let c = parse("[cluster]\nleader timeout = 3\n[legacy]\n[Cluster]\nleader timeout = 4\n").unwrap();
        assert_eq!(c.cluster.leader_timeout, 4);
    }

    #[test]
    fn line_without_equals_is_ignored() {
        assert!(parse("[cluster]\nbogus\n").is_ok());
    }

    #[test]
    fn error_messages_name_file_line_and_key() {
        let cases = [
            (
                "[cluster]\n\n\n\n\n\nleader timeout = abc\n",
                "/etc/ctdb/ctdb.conf:7: [cluster] leader timeout: invalid integer \"abc\"",
            ),
            ("[cluster]\n\nbogus key = 1\n", "/etc/ctdb/ctdb.conf:3: unknown option [cluster] -> \"bogus key\""),
            ("[foo]\n", "/etc/ctdb/ctdb.conf:1: unknown section [foo]"),
            ("[ cluster ]\n", "/etc/ctdb/ctdb.conf:1: unknown section [ cluster ]"),
            ("key = 1\n", "/etc/ctdb/ctdb.conf:1: unknown section for option \"key\""),
            (
                "[cluster]\nleader timeout = 7x\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] leader timeout: invalid integer \"7x\"",
            ),
            (
                "[cluster]\nleader timeout = 3 # c\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] leader timeout: invalid integer \"3 # c\"",
            ),
            (
                "[cluster]\nleader timeout = 2147483648\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] leader timeout: integer \"2147483648\" out of range",
            ),
            (
                "[cluster]\nleader timeout = 99999999999999999999\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] leader timeout: invalid integer \"99999999999999999999\"",
            ),
            (
                "[cluster]\nleader timeout = 0\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] leader timeout: invalid value \"0\": must be greater than 0",
            ),
            (
                "[cluster]\nleader timeout = -1\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] leader timeout: invalid value \"-1\": must be greater than 0",
            ),
            (
                "[cluster]\ntransport = ib\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] transport: invalid transport \"ib\": only \"tcp\" is supported",
            ),
            (
                "[cluster]\ntransport = TCP\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] transport: invalid transport \"TCP\": only \"tcp\" is supported",
            ),
            (
                "[cluster]\nnode address = 1.2.3\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] node address: invalid IP address \"1.2.3\"",
            ),
            (
                "[cluster]\nnode address = 127.0.0.01\n",
                "/etc/ctdb/ctdb.conf:2: [cluster] node address: invalid IP address \"127.0.0.01\"",
            ),
            ("[cluster]\ncluster lock =\n", "/etc/ctdb/ctdb.conf:2: [cluster] cluster lock: empty value"),
            ("[cluster]\nleader timeout =  \n", "/etc/ctdb/ctdb.conf:2: [cluster] leader timeout: empty value"),
            (
                "[legacy]\nrealtime scheduling = maybe\n",
                "/etc/ctdb/ctdb.conf:2: [legacy] realtime scheduling: invalid boolean \"maybe\"",
            ),
            (
                "[legacy]\nrealtime scheduling = 1\n",
                "/etc/ctdb/ctdb.conf:2: [legacy] realtime scheduling: invalid boolean \"1\"",
            ),
            (
                "[logging]\nlocation = stderr\n",
                "/etc/ctdb/ctdb.conf:2: [logging] location: invalid log location \"stderr\"",
            ),
            ("[logging]\nlog level = 11\n", "/etc/ctdb/ctdb.conf:2: [logging] log level: invalid log level \"11\""),
            (
                "[legacy]\nscript log level = foo\n",
                "/etc/ctdb/ctdb.conf:2: [legacy] script log level: invalid log level \"foo\"",
            ),
            (
                "[cluster]\nLeader Timeout = 3\n",
                "/etc/ctdb/ctdb.conf:2: unknown option [cluster] -> \"Leader Timeout\"",
            ),
            ("[cluster]\ncluster\tlock = x\n", "/etc/ctdb/ctdb.conf:2: unknown option [cluster] -> \"cluster\tlock\""),
            ("[cluster]\n= x\n", "/etc/ctdb/ctdb.conf:2: unknown option [cluster] -> \"\""),
            ("[cluster]\nbogus =\n", "/etc/ctdb/ctdb.conf:2: unknown option [cluster] -> \"bogus\""),
            ("[cluster]\nleader timeout = 3\n[foo\n", "/etc/ctdb/ctdb.conf:3: missing ']' in section header \"[foo\""),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).err().as_deref(), Some(want), "{text:?}");
        }
    }

    #[test]
    fn byte_order_mark_is_not_whitespace() {
        // ctdbd reads a BOM as part of the first line too.
        assert!(parse("\u{feff}[cluster]\nleader timeout = 3\n").is_err());
    }

    #[test]
    fn continuation_lines_join() {
        let c = parse("[cluster]\ncluster lock = /a\\\n  b\n").unwrap();
        assert_eq!(c.cluster.cluster_lock.as_deref(), Some("/a b"));
    }

    #[test]
    fn missing_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let c = CtdbConf::load(&dir.path().join("ctdb.conf"), &paths()).unwrap();
        assert_eq!(c, CtdbConf::defaults(&paths()));
    }

    #[test]
    fn load_reads_the_file_and_errors_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ctdb.conf");
        fs::write(&file, "[cluster]\nleader timeout = 9\n").unwrap();
        assert_eq!(CtdbConf::load(&file, &paths()).unwrap().cluster.leader_timeout, 9);
        fs::write(&file, "[cluster]\nleader timeout = x\n").unwrap();
        let e = CtdbConf::load(&file, &paths()).unwrap_err().to_string();
        assert_eq!(e, format!("{}:2: [cluster] leader timeout: invalid integer \"x\"", file.display()));
    }

    #[test]
    fn validate_dirs_requires_existing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = CtdbConf::defaults(&paths());
        for sub in ["v", "p", "s"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        c.database.volatile_dir = dir.path().join("v");
        c.database.persistent_dir = dir.path().join("p");
        c.database.state_dir = dir.path().join("s");
        assert!(c.validate_dirs().is_ok());
        c.database.state_dir = dir.path().join("nonexistent");
        let e = c.validate_dirs().unwrap_err().to_string();
        assert_eq!(
            e,
            format!("state database directory \"{}\" does not exist", dir.path().join("nonexistent").display())
        );
        // A plain file is not a directory.
        fs::write(dir.path().join("f"), "").unwrap();
        c.database.state_dir = dir.path().join("f");
        assert!(c.validate_dirs().is_err());
    }

    #[test]
    fn validate_checks_log_dir_and_scripts_in_etcdir() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let p = Paths::from_vars(|n| match n {
            "CTDB_TEST_MODE" => Some("yes".into()),
            "CTDB_BASE" => Some(base.display().to_string()),
            _ => None,
        })
        .unwrap();
        for sub in ["volatile", "persistent", "state"] {
            fs::create_dir_all(p.vardir.join(sub)).unwrap();
        }
        let mut c = CtdbConf::defaults(&p);
        c.logging.location = LogLocation::File(base.join("log.ctdb"));
        assert!(c.validate(&p).is_ok());

        c.logging.location = LogLocation::File(base.join("nodir/log.ctdb"));
        assert!(c.validate(&p).is_err());
        c.logging.location = LogLocation::Stderr;

        // An absolute script path is reduced to its basename in etcdir.
        c.event.debug_script = Some("/bin/true".into());
        let e = c.validate(&p).unwrap_err().to_string();
        assert_eq!(e, format!("debug script \"{}\" does not exist", base.join("true").display()));

        let script = base.join("true");
        fs::write(&script, "#!/bin/sh\n").unwrap();
        let e = c.validate(&p).unwrap_err().to_string();
        assert!(e.ends_with("is not executable"), "{e}");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(c.validate(&p).is_ok());

        c.database.lock_debug_script = Some("nosuch.sh".into());
        let e = c.validate(&p).unwrap_err().to_string();
        assert!(e.starts_with("lock debug script"), "{e}");
    }

    #[test]
    fn c_integers() {
        assert_eq!(parse_c_integer("0"), Some(0));
        assert_eq!(parse_c_integer("-0x10"), Some(-16));
        assert_eq!(parse_c_integer("017"), Some(15));
        assert_eq!(parse_c_integer("08"), None);
        assert_eq!(parse_c_integer("0x"), None);
        assert_eq!(parse_c_integer(""), None);
        assert_eq!(parse_c_integer("-"), None);
        assert_eq!(parse_c_integer(" 1"), None);
        assert_eq!(parse_c_integer("1e3"), None);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "(?s).{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_conf_like_text(
            lines in proptest::collection::vec(
                "(\\[(cluster|logging|legacy|database|x)\\]|(leader timeout|location|log level|node address|tdb mutexes) ?= ?[-+0-9a-zx:.]{0,12}|#.*)",
                0..12,
            )
        ) {
            let _ = parse(&lines.join("\n"));
        }
    }
}
