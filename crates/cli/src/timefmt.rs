//! Time formats of Samba's tool: C `ctime()` timestamps and `(DDD HH:MM:SS)`
//! elapsed times (`uptime`, `statistics`).

use chrono::{DateTime, Local, TimeZone, Utc};
use serde::Serialize;

/// The zone timestamps are shown in.
///
/// Samba's tool uses `ctime()`, i.e. the local zone (`TZ`, `/etc/localtime`);
/// tests use UTC so expected strings do not depend on the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// The process's local time zone, as `ctime()`.
    Local,
    /// UTC.
    Utc,
}

/// A point in time as carried by CTDB's `struct timeval`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Microseconds.
    pub usec: i64,
}

impl Timestamp {
    /// Seconds (with microseconds) from `earlier` to `self`, as Samba's
    /// `timeval_delta`.
    pub fn seconds_since(&self, earlier: &Timestamp) -> f64 {
        (self.sec - earlier.sec) as f64 + (self.usec - earlier.usec) as f64 / 1_000_000.0
    }
}

/// `ctime()` without its trailing newline: `Sun Nov 22 02:13:58 2026`.
pub fn ctime(sec: i64, zone: Zone) -> String {
    const FMT: &str = "%a %b %e %H:%M:%S %Y";
    let formatted = match zone {
        Zone::Local => Local.timestamp_opt(sec, 0).single().map(|t| t.format(FMT).to_string()),
        Zone::Utc => DateTime::<Utc>::from_timestamp(sec, 0).map(|t| t.format(FMT).to_string()),
    };
    // glibc's ctime() fails only for years it cannot represent; show the raw
    // number rather than inventing a date.
    formatted.unwrap_or_else(|| format!("({sec})"))
}

/// `strftime("%Y/%m/%d %H:%M:%S", localtime())`, as the backup commands
/// print a backup's date: `2026/11/22 07:27:57`.
pub fn backup_time(sec: i64, zone: Zone) -> String {
    const FMT: &str = "%Y/%m/%d %H:%M:%S";
    let formatted = match zone {
        Zone::Local => Local.timestamp_opt(sec, 0).single().map(|t| t.format(FMT).to_string()),
        Zone::Utc => DateTime::<Utc>::from_timestamp(sec, 0).map(|t| t.format(FMT).to_string()),
    };
    formatted.unwrap_or_else(|| format!("({sec})"))
}

/// Elapsed seconds as Samba prints them: `(DDD HH:MM:SS)`.
pub fn elapsed(secs: i64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    format!("({:03} {:02}:{:02}:{:02})", days, rest / 3600, (rest % 3600) / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_c_layout_with_space_padded_day() {
        // 2026-11-22T02:13:58Z, the example of legacy-protocol.md 4.2.
        assert_eq!(ctime(1_795_313_638, Zone::Utc), "Sun Nov 22 02:13:58 2026");
        // Single-digit days are padded with a space, as ctime() does.
        assert_eq!(ctime(1_793_671_200, Zone::Utc), "Tue Nov  3 02:00:00 2026");
    }

    #[test]
    fn backup_time_is_zero_padded() {
        // The timestamp of a backup taken by Debian's `ctdb backupdb`, and
        // what its `dumpdbbackup` printed for it (TZ=UTC).
        assert_eq!(backup_time(0x6b02_997d, Zone::Utc), "2026/11/22 07:27:57");
        assert_eq!(backup_time(1_793_671_200, Zone::Utc), "2026/11/03 02:00:00");
    }

    #[test]
    fn elapsed_splits_days_hours_minutes_seconds() {
        assert_eq!(elapsed(23), "(000 00:00:23)");
        assert_eq!(elapsed(116), "(000 00:01:56)");
        assert_eq!(elapsed(86_400 * 3 + 3600 * 5 + 61), "(003 05:01:01)");
    }

    #[test]
    fn seconds_since_borrows_microseconds() {
        let a = Timestamp { sec: 10, usec: 738_796 };
        let b = Timestamp { sec: 10, usec: 749_390 };
        assert_eq!(format!("{:.6}", b.seconds_since(&a)), "0.010594");
        let c = Timestamp { sec: 11, usec: 100 };
        assert_eq!(format!("{:.6}", c.seconds_since(&b)), "0.250710");
    }
}
