//! `ctdb process-exists PID [SRVID]`: is a client with that pid connected
//! (PROCESS_EXISTS), and has it registered SRVID (CHECK_PID_SRVID)?

use serde::Serialize;

use super::{usage, Ctx};
use crate::error::{exit_code, CliError};
use crate::numparse::{atoi, strtoull};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb process-exists`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessExists {
    /// The node asked.
    pub node: u32,
    /// The pid asked for.
    pub pid: i32,
    /// The srvid asked for (`None` when absent or 0).
    pub srvid: Option<u64>,
    /// The daemon's answer.
    pub exists: bool,
}

impl Render for ProcessExists {
    fn text(&self, _cx: &RenderCx) -> String {
        let what = match self.srvid {
            Some(srvid) => format!("PID {} with SRVID {:#x}", self.pid, srvid),
            None => format!("PID {}", self.pid),
        };
        if self.exists {
            format!("{what} exists\n")
        } else {
            format!("{what} does not exist\n")
        }
    }
}

/// Runs the command. The pid is read like `atoi()`, the srvid like
/// `strtoull(…, 0)` (a bad srvid exits with its errno silently); exit code
/// 0 when the process exists, else from the daemon's status (1 for -1).
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let (pid, srvid) = match args {
        [pid] => (atoi(pid), 0),
        [pid, srvid] => (atoi(pid), strtoull(srvid).map_err(|e| CliError::Silent(e.errno()))?),
        _ => return Err(usage("process-exists")),
    };
    let status =
        if srvid == 0 { session.process_exists(pid).await? } else { session.check_pid_srvid(pid, srvid).await? };
    let result =
        ProcessExists { node: session.target(), pid, srvid: (srvid != 0).then_some(srvid), exists: status == 0 };
    let exit = if status == 0 { 0 } else { exit_code(status) };
    Ok(cx.reply(&result).with_exit(exit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    fn r(pid: i32, srvid: Option<u64>, exists: bool) -> ProcessExists {
        ProcessExists { node: 0, pid, srvid, exists }
    }

    #[test]
    fn texts() {
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(r(1, None, false).text(&cx), include_str!("../../tests/expected/B_process_exists_1.txt"));
        assert_eq!(
            r(1, Some(0xf100_0000_0000_0000), false).text(&cx),
            include_str!("../../tests/expected/B_process_exists_1_srvid.txt")
        );
        assert_eq!(r(8046, None, true).text(&cx), "PID 8046 exists\n");
        assert_eq!(
            r(8046, Some(0xab00_0000_0000_0001), true).machine(&cx),
            "PID 8046 with SRVID 0xab00000000000001 exists\n"
        );
        assert_eq!(r(8046, Some(12345), false).text(&cx), "PID 8046 with SRVID 0x3039 does not exist\n");
    }
}
