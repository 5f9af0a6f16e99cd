//! Where CTDB's files live: compiled-in Debian layout, or everything under
//! `$CTDB_BASE` in test mode.

use std::path::PathBuf;

use crate::ConfigError;

/// Configuration directory of a normal install.
pub const ETCDIR: &str = "/etc/ctdb";
/// Runtime directory of a normal install (systemd `RuntimeDirectory=ctdb`).
pub const RUNDIR: &str = "/run/ctdb";
/// State directory of a normal install.
pub const VARDIR: &str = "/var/lib/ctdb";
/// Shipped scripts of a normal install.
pub const DATADIR: &str = "/usr/share/ctdb";
/// Helper programs, in both modes.
pub const HELPERDIR: &str = "/usr/libexec/ctdb";

/// The directories and files ctdbd and its tools find by convention.
///
/// Built from `CTDB_BASE`, `CTDB_TEST_MODE` and `CTDB_SOCKET`:
///
/// | field | normal | test mode |
/// | --- | --- | --- |
/// | `base` | `$CTDB_BASE`, else /etc/ctdb | `$CTDB_BASE` (required) |
/// | `etcdir` | /etc/ctdb (never `$CTDB_BASE`) | `$CTDB_BASE` |
/// | `rundir` | /run/ctdb | `$CTDB_BASE/run` |
/// | `vardir` | /var/lib/ctdb | `$CTDB_BASE/var` |
/// | `datadir` | /usr/share/ctdb | `$CTDB_BASE/share` |
/// | `socket` | `$CTDB_SOCKET`, else `rundir/ctdbd.socket` | same |
/// | `pidfile` | `rundir/ctdbd.pid` | same |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// `$CTDB_BASE`: nodes, public_addresses, notify.sh, functions, script.options.
    pub base: PathBuf,
    /// ctdb.conf, ctdb.tunables, event script root, debug scripts.
    pub etcdir: PathBuf,
    /// Sockets and pid files.
    pub rundir: PathBuf,
    /// Default database directories and script state.
    pub vardir: PathBuf,
    /// Shipped event scripts.
    pub datadir: PathBuf,
    /// The client socket smbd and the `ctdb` tool connect to.
    pub socket: PathBuf,
    /// ctdbd's pid file.
    pub pidfile: PathBuf,
    /// Whether `CTDB_TEST_MODE` was set (to anything, even empty).
    pub test_mode: bool,
}

impl Paths {
    /// Reads the process environment.
    pub fn from_env() -> Result<Paths, ConfigError> {
        Paths::from_vars(|name| std::env::var(name).ok())
    }

    /// Builds the paths from a variable lookup, so tests need not touch the
    /// process environment.
    ///
    /// Test mode without `CTDB_BASE` is an error, as it aborts ctdbd; an empty
    /// `CTDB_BASE` is treated as unset (ctdbd would use `/run`, `/var`… of
    /// the root directory, which is never what was meant).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Paths, ConfigError> {
        let test_mode = get("CTDB_TEST_MODE").is_some();
        let base = get("CTDB_BASE").filter(|b| !b.is_empty()).map(PathBuf::from);
        let (base, etcdir, rundir, vardir, datadir) = if test_mode {
            let Some(base) = base else {
                return Err(ConfigError::Environment("Broken CTDB setup, CTDB_BASE not set in test mode".into()));
            };
            (base.clone(), base.clone(), base.join("run"), base.join("var"), base.join("share"))
        } else {
            (
                base.unwrap_or_else(|| PathBuf::from(ETCDIR)),
                PathBuf::from(ETCDIR),
                PathBuf::from(RUNDIR),
                PathBuf::from(VARDIR),
                PathBuf::from(DATADIR),
            )
        };
        let socket = get("CTDB_SOCKET")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| rundir.join("ctdbd.socket"));
        let pidfile = rundir.join("ctdbd.pid");
        Ok(Paths { base, etcdir, rundir, vardir, datadir, socket, pidfile, test_mode })
    }

    /// `$etcdir/ctdb.conf`.
    pub fn ctdb_conf(&self) -> PathBuf {
        self.etcdir.join("ctdb.conf")
    }

    /// `$CTDB_BASE/nodes` (4.17 has no `nodes list` option).
    pub fn nodes_file(&self) -> PathBuf {
        self.base.join("nodes")
    }

    /// `$CTDB_BASE/public_addresses`.
    pub fn public_addresses_file(&self) -> PathBuf {
        self.base.join("public_addresses")
    }

    /// `$etcdir/ctdb.tunables`.
    pub fn tunables_file(&self) -> PathBuf {
        self.etcdir.join("ctdb.tunables")
    }

    /// `$CTDB_BASE/notify.sh`.
    pub fn notify_script(&self) -> PathBuf {
        self.base.join("notify.sh")
    }

    /// `$rundir/eventd.socket`.
    pub fn eventd_socket(&self) -> PathBuf {
        self.rundir.join("eventd.socket")
    }

    /// `$rundir/eventd.pid`.
    pub fn eventd_pidfile(&self) -> PathBuf {
        self.rundir.join("eventd.pid")
    }

    /// `$etcdir/events`: root of the event script directories.
    pub fn events_dir(&self) -> PathBuf {
        self.etcdir.join("events")
    }

    /// Where helper programs live (the same in both modes).
    pub fn helper_dir(&self) -> PathBuf {
        PathBuf::from(HELPERDIR)
    }

    /// The host name to put in log lines: the basename of `CTDB_BASE` in test
    /// mode (so local nodes are told apart), else `None` for the real one.
    pub fn log_host_override(&self) -> Option<String> {
        if !self.test_mode {
            return None;
        }
        self.base.file_name().map(|n| n.to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn normal_layout_ignores_base_for_etcdir() {
        let p = Paths::from_vars(vars(&[("CTDB_BASE", "/srv/ctdb")])).map_err(|e| e.to_string());
        let p = p.as_ref().map(|p| {
            (
                p.base.clone(),
                p.etcdir.clone(),
                p.rundir.clone(),
                p.vardir.clone(),
                p.datadir.clone(),
                p.socket.clone(),
                p.pidfile.clone(),
                p.test_mode,
                p.nodes_file(),
                p.ctdb_conf(),
                p.tunables_file(),
            )
        });
        assert_eq!(
            p,
            Ok((
                "/srv/ctdb".into(),
                "/etc/ctdb".into(),
                "/run/ctdb".into(),
                "/var/lib/ctdb".into(),
                "/usr/share/ctdb".into(),
                "/run/ctdb/ctdbd.socket".into(),
                "/run/ctdb/ctdbd.pid".into(),
                false,
                "/srv/ctdb/nodes".into(),
                "/etc/ctdb/ctdb.conf".into(),
                "/etc/ctdb/ctdb.tunables".into(),
            ))
        );
    }

    #[test]
    fn normal_layout_defaults_base_to_etc_ctdb() {
        let p = Paths::from_vars(vars(&[])).map(|p| p.nodes_file());
        assert_eq!(p.ok(), Some(PathBuf::from("/etc/ctdb/nodes")));
    }

    #[test]
    fn test_mode_puts_everything_under_base() {
        let p = Paths::from_vars(vars(&[("CTDB_TEST_MODE", "yes"), ("CTDB_BASE", "/tmp/n1")]));
        let Ok(p) = p else { panic!("test mode with base must work") };
        assert!(p.test_mode);
        assert_eq!(p.etcdir, PathBuf::from("/tmp/n1"));
        assert_eq!(p.rundir, PathBuf::from("/tmp/n1/run"));
        assert_eq!(p.vardir, PathBuf::from("/tmp/n1/var"));
        assert_eq!(p.datadir, PathBuf::from("/tmp/n1/share"));
        assert_eq!(p.socket, PathBuf::from("/tmp/n1/run/ctdbd.socket"));
        assert_eq!(p.pidfile, PathBuf::from("/tmp/n1/run/ctdbd.pid"));
        assert_eq!(p.ctdb_conf(), PathBuf::from("/tmp/n1/ctdb.conf"));
        assert_eq!(p.tunables_file(), PathBuf::from("/tmp/n1/ctdb.tunables"));
        assert_eq!(p.log_host_override().as_deref(), Some("n1"));
    }

    #[test]
    fn test_mode_is_on_even_when_empty() {
        let p = Paths::from_vars(vars(&[("CTDB_TEST_MODE", ""), ("CTDB_BASE", "/b")]));
        assert_eq!(p.map(|p| p.test_mode).ok(), Some(true));
    }

    #[test]
    fn test_mode_without_base_is_an_error() {
        let e = Paths::from_vars(vars(&[("CTDB_TEST_MODE", "yes")])).map(|_| ());
        let Err(e) = e else { panic!("must fail") };
        assert!(e.to_string().contains("CTDB_BASE not set in test mode"));
        assert!(Paths::from_vars(vars(&[("CTDB_TEST_MODE", "yes"), ("CTDB_BASE", "")])).is_err());
    }

    #[test]
    fn ctdb_socket_overrides_only_the_socket() {
        let p = Paths::from_vars(vars(&[("CTDB_SOCKET", "/tmp/x.sock")]));
        let Ok(p) = p else { panic!("must work") };
        assert_eq!(p.socket, PathBuf::from("/tmp/x.sock"));
        assert_eq!(p.pidfile, PathBuf::from("/run/ctdb/ctdbd.pid"));
    }
}
