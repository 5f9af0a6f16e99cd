//! Logging for the CTDB daemon and tools, on top of `tracing`, in the exact
//! formats of Samba's ctdbd (see [`format`](mod@format)).
//!
//! Logging never blocks the daemon: an event becomes a [`Record`] pushed onto
//! a bounded queue that a dedicated writer thread drains into a [`Sink`].
//! When the queue is full the record is dropped and counted, and the next
//! line written is preceded by `N log messages dropped`.
//!
//! The level is a CTDB [`DebugLevel`] held in an atomic, changeable at run
//! time ([`LogHandle::set_level`], for SET_DEBUG). tracing levels map as
//! ERROR→ERROR, WARN→WARNING, INFO→NOTICE, DEBUG→INFO, TRACE→DEBUG.
//!
//! ```no_run
//! use ctdb_config::{DebugLevel, LogLocation};
//! let log = ctdb_log::init(&LogLocation::Stderr, DebugLevel::NOTICE, "ctdbd", "node0")?;
//! tracing::info!(pnn = 0, "CTDB starting on node");
//! log.flush();
//! # Ok::<(), ctdb_log::LogError>(())
//! ```

pub mod format;
mod layer;
mod logger;
pub mod sink;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ctdb_config::{DebugLevel, LogLocation, SyslogMode};
use tracing_subscriber::layer::SubscriberExt;

pub use layer::CtdbLayer;
pub use logger::{LogHandle, DEFAULT_QUEUE_CAPACITY};
pub use sink::{FileSink, Record, Sink, StderrSink, UdpSyslogSink, UnixSyslogSink};

/// The local syslog socket.
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// Where `syslog:udp` and `syslog:udp-rfc5424` send: 127.0.0.1:514.
pub const SYSLOG_UDP_TARGET: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 514);

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log file could not be opened.
    #[error("failed to open log file {}: {source}", path.display())]
    OpenFile {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The UDP socket for syslog could not be created.
    #[error("failed to create syslog socket: {0}")]
    Socket(io::Error),
    /// The writer thread could not be started.
    #[error("failed to start log writer thread: {0}")]
    Thread(io::Error),
    /// A global `tracing` subscriber is already installed.
    #[error("a global tracing subscriber is already set")]
    AlreadyInitialised,
}

/// Maps a CTDB level to the `tracing` level its messages are emitted at.
pub fn level_to_tracing(level: DebugLevel) -> tracing::Level {
    match level.0 {
        i32::MIN..=0 => tracing::Level::ERROR,
        1 | 2 => tracing::Level::WARN,
        3 | 4 => tracing::Level::INFO,
        5..=9 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    }
}

/// Maps a `tracing` level to the CTDB level it counts as for filtering.
pub fn debug_level_of(level: tracing::Level) -> DebugLevel {
    match level {
        tracing::Level::ERROR => DebugLevel::ERROR,
        tracing::Level::WARN => DebugLevel::WARNING,
        tracing::Level::INFO => DebugLevel::NOTICE,
        tracing::Level::DEBUG => DebugLevel::INFO,
        tracing::Level::TRACE => DebugLevel::DEBUG,
    }
}

/// Starts logging to `location` and installs it as the global `tracing`
/// subscriber.
///
/// `host` is what file lines carry: the host name, or in test mode the
/// basename of `CTDB_BASE`. RFC 5424 lines carry the real host name, as
/// ctdbd's do. Call after any fork: the writer is a thread.
pub fn init(location: &LogLocation, level: DebugLevel, prog: &str, host: &str) -> Result<LogHandle, LogError> {
    let handle = LogBuilder::new(location, level, prog, host).build()?;
    let subscriber = tracing_subscriber::registry().with(handle.layer());
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogError::AlreadyInitialised)?;
    Ok(handle)
}

/// Builds a logger without installing it, with knobs for tests (syslog
/// destinations, queue size). `build` starts the writer thread; install
/// `handle.layer()` in any subscriber.
#[derive(Clone, Debug)]
pub struct LogBuilder {
    location: LogLocation,
    level: DebugLevel,
    prog: String,
    host: String,
    syslog_host: Option<String>,
    syslog_socket: PathBuf,
    udp_target: SocketAddr,
    capacity: usize,
}

impl LogBuilder {
    /// A builder with production destinations and the default queue.
    pub fn new(location: &LogLocation, level: DebugLevel, prog: &str, host: &str) -> LogBuilder {
        LogBuilder {
            location: location.clone(),
            level,
            prog: prog.into(),
            host: host.into(),
            syslog_host: None,
            syslog_socket: PathBuf::from(SYSLOG_SOCKET),
            udp_target: SYSLOG_UDP_TARGET,
            capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }

    /// Sends UDP syslog here instead of 127.0.0.1:514.
    pub fn udp_target(mut self, target: SocketAddr) -> LogBuilder {
        self.udp_target = target;
        self
    }

    /// Sends local syslog to this socket instead of /dev/log.
    pub fn syslog_socket(mut self, path: &Path) -> LogBuilder {
        self.syslog_socket = path.to_path_buf();
        self
    }

    /// The RFC 5424 HOSTNAME; default: the system's host name.
    pub fn syslog_hostname(mut self, host: &str) -> LogBuilder {
        self.syslog_host = Some(host.into());
        self
    }

    /// Queue length in lines (at least 1).
    pub fn queue_capacity(mut self, lines: usize) -> LogBuilder {
        self.capacity = lines;
        self
    }

    /// Opens the destination and starts the writer thread.
    pub fn build(self) -> Result<LogHandle, LogError> {
        let sink: Box<dyn Sink> = match &self.location {
            LogLocation::File(path) => Box::new(
                FileSink::open(path, &self.host, &self.prog)
                    .map_err(|source| LogError::OpenFile { path: path.clone(), source })?,
            ),
            LogLocation::Stderr => Box::new(StderrSink),
            LogLocation::Syslog(mode @ (SyslogMode::Default | SyslogMode::Nonblocking)) => {
                Box::new(UnixSyslogSink::new(&self.syslog_socket, *mode, &self.prog))
            }
            LogLocation::Syslog(mode @ (SyslogMode::Udp | SyslogMode::UdpRfc5424)) => {
                let host = self.syslog_host.clone().unwrap_or_else(|| system_hostname(&self.host));
                Box::new(UdpSyslogSink::new(self.udp_target, *mode, &host, &self.prog).map_err(LogError::Socket)?)
            }
        };
        LogHandle::start(sink, self.level, self.capacity)
    }

    /// Starts the writer thread on a sink of the caller's (tests, or a
    /// destination this crate does not know).
    pub fn build_with_sink(self, sink: Box<dyn Sink>) -> Result<LogHandle, LogError> {
        LogHandle::start(sink, self.level, self.capacity)
    }
}

/// The kernel's host name, or `fallback` if it cannot be read.
fn system_hostname(fallback: &str) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| fallback.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_mappings_round_trip_on_named_levels() {
        for level in [DebugLevel::ERROR, DebugLevel::WARNING, DebugLevel::NOTICE, DebugLevel::INFO, DebugLevel::DEBUG] {
            assert_eq!(debug_level_of(level_to_tracing(level)), level);
        }
        assert_eq!(level_to_tracing(DebugLevel::NOTICE), tracing::Level::INFO);
        assert_eq!(level_to_tracing(DebugLevel(4)), tracing::Level::INFO);
        assert_eq!(level_to_tracing(DebugLevel(7)), tracing::Level::DEBUG);
    }
}
