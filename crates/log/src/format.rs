//! Line formats, byte for byte as ctdbd 4.17 writes them (captured from the
//! Debian binary in test mode):
//!
//! | location | line |
//! | --- | --- |
//! | `file:PATH` | `2026-11-22T04:55:39.644427+00:00 host ctdbd[6083]: msg` |
//! | `file:` (stderr) | `msg` |
//! | `syslog` (libc) | `<29>Nov 22 04:56:20 ctdbd[7192]: msg` |
//! | `syslog:nonblocking`, `syslog:udp` | `<29>ctdbd[6846]: msg` |
//! | `syslog:udp-rfc5424` | `<29>1 2026-11-22T04:56:03.467996+00:00 vm ctdbd 6932 - - msg` |
//!
//! Facility is daemon (3); severity follows the debug level.

use chrono::{DateTime, FixedOffset};
use ctdb_config::DebugLevel;

/// Syslog facility LOG_DAEMON.
pub const FACILITY_DAEMON: u8 = 3;

/// Longest syslog datagram sent; longer messages are cut (RFC 3164's limit,
/// and the size of ctdbd's own buffer).
pub const MAX_SYSLOG_DATAGRAM: usize = 1024;

/// Syslog severity of a debug level: 0 → err (3), 1–2 → warning (4),
/// 3–4 → notice (5), 5–9 → info (6), 10 and above → debug (7).
pub fn syslog_severity(level: DebugLevel) -> u8 {
    match level.0 {
        i32::MIN..=0 => 3,
        1 | 2 => 4,
        3 | 4 => 5,
        5..=9 => 6,
        _ => 7,
    }
}

/// `<PRI>` value: facility × 8 + severity.
pub fn priority(level: DebugLevel) -> u8 {
    FACILITY_DAEMON * 8 + syslog_severity(level)
}

/// RFC 3339 with microseconds and the offset, e.g.
/// `2026-11-22T04:55:39.644427+00:00`.
pub fn rfc3339_micros(time: &DateTime<FixedOffset>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
}

/// A log-file line, without its newline.
pub fn file_line(time: &DateTime<FixedOffset>, host: &str, prog: &str, pid: u32, message: &str) -> String {
    format!("{} {host} {prog}[{pid}]: {message}", rfc3339_micros(time))
}

/// `syslog` (the C library's format on /dev/log): local time, no host.
pub fn syslog_libc(level: DebugLevel, time: &DateTime<FixedOffset>, prog: &str, pid: u32, message: &str) -> String {
    let stamp = time.format("%b %e %H:%M:%S");
    truncate(format!("<{}>{stamp} {prog}[{pid}]: {message}", priority(level)))
}

/// `syslog:nonblocking` and `syslog:udp`: RFC 3164 as ctdbd sends it, with
/// neither timestamp nor host (the receiver adds them).
pub fn syslog_rfc3164(level: DebugLevel, prog: &str, pid: u32, message: &str) -> String {
    truncate(format!("<{}>{prog}[{pid}]: {message}", priority(level)))
}

/// `syslog:udp-rfc5424`: RFC 5424, no structured data, no message id.
pub fn syslog_rfc5424(
    level: DebugLevel,
    time: &DateTime<FixedOffset>,
    host: &str,
    prog: &str,
    pid: u32,
    message: &str,
) -> String {
    truncate(format!("<{}>1 {} {host} {prog} {pid} - - {message}", priority(level), rfc3339_micros(time)))
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_SYSLOG_DATAGRAM {
        let mut end = MAX_SYSLOG_DATAGRAM;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn file_line_matches_ctdbd() {
        let t = at("2026-11-22T02:13:27.057398+00:00");
        assert_eq!(
            file_line(&t, "rt1", "ctdbd", 14680, "CTDB starting on node"),
            "2026-11-22T02:13:27.057398+00:00 rt1 ctdbd[14680]: CTDB starting on node"
        );
        let t = at("2026-01-02T03:04:05.000007+05:30");
        assert_eq!(file_line(&t, "h", "p", 1, "m"), "2026-01-02T03:04:05.000007+05:30 h p[1]: m");
    }

    #[test]
    fn priorities_use_facility_daemon() {
        assert_eq!(priority(DebugLevel::ERROR), 27);
        assert_eq!(priority(DebugLevel::WARNING), 28);
        assert_eq!(priority(DebugLevel(1)), 28);
        assert_eq!(priority(DebugLevel::NOTICE), 29);
        assert_eq!(priority(DebugLevel(4)), 29);
        assert_eq!(priority(DebugLevel::INFO), 30);
        assert_eq!(priority(DebugLevel(9)), 30);
        assert_eq!(priority(DebugLevel::DEBUG), 31);
        assert_eq!(priority(DebugLevel(-1)), 27);
    }

    #[test]
    fn syslog_formats_match_captures() {
        let t = at("2026-11-22T04:56:03.467996+00:00");
        assert_eq!(
            syslog_rfc3164(DebugLevel::NOTICE, "ctdbd", 6846, "CTDB starting on node"),
            "<29>ctdbd[6846]: CTDB starting on node"
        );
        assert_eq!(
            syslog_rfc5424(DebugLevel::NOTICE, &t, "vm", "ctdbd", 6932, "CTDB starting on node"),
            "<29>1 2026-11-22T04:56:03.467996+00:00 vm ctdbd 6932 - - CTDB starting on node"
        );
        assert_eq!(
            syslog_libc(DebugLevel::WARNING, &t, "ctdbd", 7192, "Cluster lock not set"),
            "<28>Nov 22 04:56:03 ctdbd[7192]: Cluster lock not set"
        );
        // The day of month is padded with a blank, as syslog(3) does.
        let t = at("2026-11-02T04:56:03+00:00");
        assert_eq!(syslog_libc(DebugLevel::ERROR, &t, "p", 1, "m"), "<27>Nov  2 04:56:03 p[1]: m");
    }

    #[test]
    fn syslog_datagrams_are_cut_on_a_char_boundary() {
        let long = "é".repeat(2000);
        let line = syslog_rfc3164(DebugLevel::ERROR, "ctdbd", 1, &long);
        assert!(line.len() <= MAX_SYSLOG_DATAGRAM);
        assert!(line.len() >= MAX_SYSLOG_DATAGRAM - 1);
    }
}
