//! `ctdb uptime`: daemon start and last recovery times (UPTIME).

use serde::Serialize;

use ctdb_legacy_proto::Uptime as WireUptime;

use super::Ctx;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};
use crate::timefmt::{ctime, elapsed, Timestamp};

/// `ctdb uptime`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Uptime {
    /// The node asked.
    pub node: u32,
    /// The daemon's clock when it answered.
    pub current_time: Timestamp,
    /// When ctdbd started.
    pub ctdbd_start_time: Timestamp,
    /// When the last recovery (or failover) started.
    pub last_recovery_started: Timestamp,
    /// When it finished.
    pub last_recovery_finished: Timestamp,
}

impl Uptime {
    /// Builds the result from the UPTIME payload.
    pub fn from_wire(node: u32, u: &WireUptime) -> Uptime {
        let t = |tv: &ctdb_legacy_proto::Timeval| Timestamp { sec: tv.sec, usec: tv.usec };
        Uptime {
            node,
            current_time: t(&u.current_time),
            ctdbd_start_time: t(&u.ctdbd_start_time),
            last_recovery_started: t(&u.last_recovery_started),
            last_recovery_finished: t(&u.last_recovery_finished),
        }
    }
}

impl Render for Uptime {
    fn text(&self, cx: &RenderCx) -> String {
        let now = self.current_time.sec;
        let mut out = String::new();
        out.push_str(&format!("Current time of node {:<4}     :                {}\n", self.node, ctime(now, cx.zone)));
        out.push_str(&format!(
            "Ctdbd start time              : {} {}\n",
            elapsed(now - self.ctdbd_start_time.sec),
            ctime(self.ctdbd_start_time.sec, cx.zone)
        ));
        out.push_str(&format!(
            "Time of last recovery/failover: {} {}\n",
            elapsed(now - self.last_recovery_finished.sec),
            ctime(self.last_recovery_finished.sec, cx.zone)
        ));
        out.push_str(&format!(
            "Duration of last recovery/failover: {:.6} seconds\n",
            self.last_recovery_finished.seconds_since(&self.last_recovery_started)
        ));
        out
    }
}

/// Runs the command; extra arguments are ignored, as Samba's tool does.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx) -> Result<Reply, CliError> {
    let u = session.uptime().await?;
    Ok(cx.reply(&Uptime::from_wire(session.target(), &u)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    fn ts(sec: i64, usec: i64) -> Timestamp {
        Timestamp { sec, usec }
    }

    #[test]
    fn matches_captured_output() {
        // Values of the UPTIME reply captured with the output (B_uptime).
        let r = Uptime {
            node: 0,
            current_time: ts(0x6b02_76a9, 0x0001_81d2),
            ctdbd_start_time: ts(0x6b02_7588, 0x0008_fbc0),
            last_recovery_started: ts(0x6b02_769f, 0x0000_af70),
            last_recovery_finished: ts(0x6b02_769f, 0x0000_f724),
        };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/B_uptime.txt"));
        // -X prints the text form in 4.17.
        assert_eq!(r.machine(&cx), r.text(&cx));
    }

    #[test]
    fn never_recovered_shows_zero_duration() {
        // In FIRST_RECOVERY the recovery times equal the start time (E_uptime).
        let r = Uptime {
            node: 0,
            current_time: ts(0x6b02_76fc, 0x000e_e70a),
            ctdbd_start_time: ts(0x6b02_76d9, 0x0002_25e4),
            last_recovery_started: ts(0x6b02_76d9, 0x0002_25e4),
            last_recovery_finished: ts(0x6b02_76d9, 0x0002_25e4),
        };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/E_uptime.txt"));
    }
}
