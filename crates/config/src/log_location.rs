//! `[logging] location`: where log lines go.

use std::fmt;
use std::path::PathBuf;

/// The default `[logging] location` of ctdbd.
pub const DEFAULT_LOG_FILE: &str = "/var/log/ctdb/log.ctdb";

/// Where the daemon writes its log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogLocation {
    /// `file:PATH`: append lines to a file.
    File(PathBuf),
    /// `file`, `file:` or `file:-`: standard error.
    Stderr,
    /// `syslog[:MODE]`.
    Syslog(SyslogMode),
}

/// How syslog messages are delivered.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SyslogMode {
    /// `syslog` (or `syslog:`): the C library's way, to the local socket
    /// `/dev/log`; a full socket makes the sender wait.
    Default,
    /// `syslog:nonblocking`: RFC 3164 to `/dev/log`, dropped when the socket
    /// is full.
    Nonblocking,
    /// `syslog:udp`: RFC 3164 over UDP to 127.0.0.1:514.
    Udp,
    /// `syslog:udp-rfc5424`: RFC 5424 over UDP (RFC 5426) to 127.0.0.1:514.
    UdpRfc5424,
}

impl LogLocation {
    /// Parses a `[logging] location` value. Names are case-sensitive, as in
    /// ctdbd (`SYSLOG` and `stderr` are rejected).
    ///
    /// Whether a file's directory exists is not checked here; see
    /// [`crate::CtdbConf::validate`].
    pub fn parse(s: &str) -> Option<LogLocation> {
        let (backend, option) = match s.split_once(':') {
            Some((backend, option)) => (backend, Some(option)),
            None => (s, None),
        };
        match (backend, option) {
            ("file", None | Some("") | Some("-")) => Some(LogLocation::Stderr),
            ("file", Some(path)) => Some(LogLocation::File(PathBuf::from(path))),
            ("syslog", None | Some("")) => Some(LogLocation::Syslog(SyslogMode::Default)),
            ("syslog", Some("nonblocking")) => Some(LogLocation::Syslog(SyslogMode::Nonblocking)),
            ("syslog", Some("udp")) => Some(LogLocation::Syslog(SyslogMode::Udp)),
            ("syslog", Some("udp-rfc5424")) => Some(LogLocation::Syslog(SyslogMode::UdpRfc5424)),
            _ => None,
        }
    }
}

impl Default for LogLocation {
    fn default() -> Self {
        LogLocation::File(PathBuf::from(DEFAULT_LOG_FILE))
    }
}

impl fmt::Display for LogLocation {
    /// The value as it would be written in ctdb.conf, which is also what
    /// ctdbd exports to its children as `CTDB_LOGGING`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogLocation::File(path) => write!(f, "file:{}", path.display()),
            LogLocation::Stderr => f.write_str("file:"),
            LogLocation::Syslog(SyslogMode::Default) => f.write_str("syslog"),
            LogLocation::Syslog(SyslogMode::Nonblocking) => f.write_str("syslog:nonblocking"),
            LogLocation::Syslog(SyslogMode::Udp) => f.write_str("syslog:udp"),
            LogLocation::Syslog(SyslogMode::UdpRfc5424) => f.write_str("syslog:udp-rfc5424"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_form() {
        let cases = [
            ("file", LogLocation::Stderr),
            ("file:", LogLocation::Stderr),
            ("file:-", LogLocation::Stderr),
            ("file:/var/log/x", LogLocation::File("/var/log/x".into())),
            ("file:relative", LogLocation::File("relative".into())),
            ("syslog", LogLocation::Syslog(SyslogMode::Default)),
            ("syslog:", LogLocation::Syslog(SyslogMode::Default)),
            ("syslog:nonblocking", LogLocation::Syslog(SyslogMode::Nonblocking)),
            ("syslog:udp", LogLocation::Syslog(SyslogMode::Udp)),
            ("syslog:udp-rfc5424", LogLocation::Syslog(SyslogMode::UdpRfc5424)),
        ];
        for (text, want) in cases {
            assert_eq!(LogLocation::parse(text), Some(want), "{text}");
        }
    }

    #[test]
    fn rejected_forms() {
        for bad in ["stderr", "SYSLOG", "syslog:UDP", "syslog:foo", "", "File:/x"] {
            assert_eq!(LogLocation::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["file:/a/b", "file:", "syslog", "syslog:nonblocking", "syslog:udp", "syslog:udp-rfc5424"] {
            let loc = LogLocation::parse(text);
            assert_eq!(loc.map(|l| l.to_string()).as_deref(), Some(text));
        }
    }

    #[test]
    fn default_is_the_compiled_in_file() {
        assert_eq!(LogLocation::default(), LogLocation::File("/var/log/ctdb/log.ctdb".into()));
    }
}
