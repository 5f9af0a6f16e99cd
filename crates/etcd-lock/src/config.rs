//! The helper's configuration file: `key = value` lines, as Samba's etcd
//! helper reads from `$CTDB_BASE/etcd`.
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `endpoints` | `host:port` | etcd client endpoints, separated by commas or blanks (`http://` optional) |
//! | `host` | `127.0.0.1` | the one endpoint's host when `endpoints` is not given |
//! | `port` | `2379` | the one endpoint's port when `endpoints` is not given |
//! | `locks_dir` | `_ctdb` | prefix of the lock key |
//! | `cluster_name` | `ctdb` | last part of the lock key (`-n` overrides it) |
//! | `lock_ttl` | `9` | lease time to live, seconds |
//! | `lock_refresh` | `2` | seconds between lease renewals and ownership checks |
//! | `timeout` | `5` | seconds etcd has to answer before the helper reports a timeout |
//!
//! Blank lines and lines starting with `#` are ignored. An unknown key is
//! reported as a warning, not an error, so that a configuration written for
//! Samba's helper still works; a bad value for a known key is an error
//! naming the file, the line and the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Error;

/// The configuration file name under `$CTDB_BASE`.
pub const FILE_NAME: &str = "etcd";

/// Everything the helper needs to know, with Samba's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// etcd client endpoints, `host:port` or URLs.
    pub endpoints: Vec<String>,
    /// Prefix of the lock key.
    pub locks_dir: String,
    /// Names the cluster; the lock key's last part.
    pub cluster_name: String,
    /// Lease time to live: how long the lock outlives a holder that
    /// vanished without releasing it.
    pub lock_ttl: Duration,
    /// How often the holder renews its lease and checks it still owns the
    /// key.
    pub lock_refresh: Duration,
    /// How long one exchange with etcd may take.
    pub timeout: Duration,
    /// Unknown keys, as `file:line: key`, for the caller to log.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoints: vec!["127.0.0.1:2379".to_string()],
            locks_dir: "_ctdb".to_string(),
            cluster_name: "ctdb".to_string(),
            lock_ttl: Duration::from_secs(9),
            lock_refresh: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// The etcd key that is the lock: `<locks_dir>/<cluster_name>`.
    pub fn lock_key(&self) -> String {
        let dir = self.locks_dir.trim_end_matches('/');
        if dir.is_empty() {
            self.cluster_name.clone()
        } else {
            format!("{dir}/{}", self.cluster_name)
        }
    }

    /// Parse the text of a configuration file; `path` only names it in
    /// messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let mut c = Config::default();
        let mut endpoints: Option<Vec<String>> = None;
        let mut host = "127.0.0.1".to_string();
        let mut port: u16 = 2379;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |msg: String| Error::Config { path: path.to_path_buf(), line: i + 1, msg };
            let Some((key, value)) = line.split_once('=') else {
                return Err(bad(format!("expected `key = value`, got {line:?}")));
            };
            let (key, value) = (key.trim(), value.trim());
            let secs = |min: u64| match value.parse::<u64>() {
                Ok(n) if n >= min => Ok(Duration::from_secs(n)),
                _ => Err(bad(format!("{key}: expected whole seconds ≥ {min}, got {value:?}"))),
            };
            match key {
                "endpoints" => {
                    let list: Vec<String> =
                        value.split([',', ' ', '\t']).filter(|e| !e.is_empty()).map(str::to_string).collect();
                    if list.is_empty() {
                        return Err(bad("endpoints: empty list".to_string()));
                    }
                    endpoints = Some(list);
                }
                "host" if !value.is_empty() => host = value.to_string(),
                "port" => port = value.parse().map_err(|_| bad(format!("port: expected 1–65535, got {value:?}")))?,
                "locks_dir" => c.locks_dir = value.to_string(),
                "cluster_name" if !value.is_empty() => c.cluster_name = value.to_string(),
                "lock_ttl" => c.lock_ttl = secs(2)?,
                "lock_refresh" => c.lock_refresh = secs(1)?,
                "timeout" => c.timeout = secs(1)?,
                "host" | "cluster_name" => return Err(bad(format!("{key}: empty value"))),
                _ => c.warnings.push(format!("{}:{}: unknown key {key:?} ignored", path.display(), i + 1)),
            }
        }
        if port == 0 {
            return Err(Error::Config { path: path.to_path_buf(), line: 0, msg: "port: 0 is not a port".into() });
        }
        c.endpoints = endpoints.unwrap_or_else(|| vec![format!("{host}:{port}")]);
        // The holder renews every lock_refresh and gives the lock up one
        // second before the lease could expire; with less room than that a
        // single slow answer would already cost the lock.
        if c.lock_refresh + Duration::from_secs(1) >= c.lock_ttl {
            return Err(Error::Config {
                path: path.to_path_buf(),
                line: 0,
                msg: format!(
                    "lock_refresh ({}) must be at least 2 s shorter than lock_ttl ({})",
                    c.lock_refresh.as_secs(),
                    c.lock_ttl.as_secs()
                ),
            });
        }
        Ok(c)
    }

    /// Read the configuration: `path` if given (it must exist), else
    /// `$CTDB_BASE/etcd` (default `/etc/ctdb/etcd`) if it exists, else the
    /// defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, Error> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (default_path(), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Error::Config { path, line: 0, msg: format!("cannot read: {e}") }),
        }
    }
}

/// `$CTDB_BASE/etcd`, or `/etc/ctdb/etcd` without `CTDB_BASE`.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("CTDB_BASE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(ctdb_config::ETCDIR));
    base.join(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(text, Path::new("/etc/ctdb/etcd"))
    }

    #[test]
    fn empty_file_gives_samba_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.endpoints, vec!["127.0.0.1:2379"]);
        assert_eq!((c.lock_ttl.as_secs(), c.lock_refresh.as_secs()), (9, 2));
        assert_eq!(c.lock_key(), "_ctdb/ctdb");
    }

    #[test]
    fn keys_and_comments() {
        let c = parse(
            "# etcd helper\n\nport = 12379\nlocks_dir=locks/\ncluster_name = prod\nlock_ttl = 5\nlock_refresh = 1\n\
             timeout = 2\n",
        )
        .unwrap();
        assert_eq!(c.endpoints, vec!["127.0.0.1:12379"]);
        assert_eq!(c.lock_key(), "locks/prod");
        assert_eq!((c.lock_ttl.as_secs(), c.lock_refresh.as_secs(), c.timeout.as_secs()), (5, 1, 2));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn endpoints_win_over_host_and_port() {
        let c = parse("host = 127.0.0.9\nport = 1\nendpoints = http://127.0.0.2:2379, 127.0.0.3:2379\n").unwrap();
        assert_eq!(c.endpoints, vec!["http://127.0.0.2:2379", "127.0.0.3:2379"]);
        assert_eq!(parse("host = 127.0.0.9\n").unwrap().endpoints, vec!["127.0.0.9:2379"]);
    }

    #[test]
    fn empty_locks_dir_makes_the_name_the_key() {
        assert_eq!(parse("locks_dir =\n").unwrap().lock_key(), "ctdb");
    }

    #[test]
    fn unknown_key_is_a_warning_naming_the_line() {
        let c = parse("lock_ttl = 9\nprotocol = http\n").unwrap();
        assert_eq!(c.warnings, vec!["/etc/ctdb/etcd:2: unknown key \"protocol\" ignored"]);
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        for (text, want) in [
            ("lock_ttl = nine\n", "/etc/ctdb/etcd:1: lock_ttl: expected whole seconds ≥ 2, got \"nine\""),
            ("\nport = 70000\n", "/etc/ctdb/etcd:2: port: expected 1–65535, got \"70000\""),
            ("lock_refresh = 0\n", "/etc/ctdb/etcd:1: lock_refresh: expected whole seconds ≥ 1, got \"0\""),
            ("just words\n", "/etc/ctdb/etcd:1: expected `key = value`, got \"just words\""),
            ("endpoints = ,\n", "/etc/ctdb/etcd:1: endpoints: empty list"),
            ("cluster_name =\n", "/etc/ctdb/etcd:1: cluster_name: empty value"),
        ] {
            assert_eq!(parse(text).unwrap_err().to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn refresh_must_leave_room_before_the_lease_expires() {
        let e = parse("lock_ttl = 3\nlock_refresh = 2\n").unwrap_err().to_string();
        assert_eq!(e, "/etc/ctdb/etcd: lock_refresh (2) must be at least 2 s shorter than lock_ttl (3)");
        assert!(parse("lock_ttl = 3\nlock_refresh = 1\n").is_ok());
    }

    #[test]
    fn a_named_file_that_is_missing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("etcd");
        let e = Config::load(Some(&missing)).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: cannot read", missing.display())), "{e}");
    }
}
