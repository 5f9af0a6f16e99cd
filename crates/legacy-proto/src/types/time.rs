//! `timeval` and `ctdb_uptime`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::ProtoError;
use crate::wire::Wire;

/// C `struct timeval` on LP64: i64 seconds, i64 microseconds.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct Timeval {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Microseconds.
    pub usec: i64,
}

impl Timeval {
    /// The time `t` as a timeval (times before the epoch become 0).
    pub fn from_system_time(t: SystemTime) -> Timeval {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Timeval { sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), usec: i64::from(d.subsec_micros()) }
    }

    /// Whether both fields are 0 (ctdbd's "never").
    pub fn is_zero(&self) -> bool {
        self.sec == 0 && self.usec == 0
    }

    /// Seconds as a float (what the CLI prints).
    pub fn as_secs_f64(&self) -> f64 {
        self.sec as f64 + self.usec as f64 / 1e6
    }
}

impl Wire for Timeval {
    fn wire_len(&self) -> usize {
        16
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.sec.encode(out);
        self.usec.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(Timeval { sec: i64::decode(buf)?, usec: i64::decode(buf)? })
    }
}

/// `ctdb_uptime` (UPTIME reply, 64 bytes).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Uptime {
    /// Now, by the daemon's clock.
    pub current_time: Timeval,
    /// When ctdbd started.
    pub ctdbd_start_time: Timeval,
    /// When the last recovery started.
    pub last_recovery_started: Timeval,
    /// When the last recovery finished.
    pub last_recovery_finished: Timeval,
}

impl Wire for Uptime {
    fn wire_len(&self) -> usize {
        64
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.current_time.encode(out);
        self.ctdbd_start_time.encode(out);
        self.last_recovery_started.encode(out);
        self.last_recovery_finished.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(Uptime {
            current_time: Timeval::decode(buf)?,
            ctdbd_start_time: Timeval::decode(buf)?,
            last_recovery_started: Timeval::decode(buf)?,
            last_recovery_finished: Timeval::decode(buf)?,
        })
    }
}
