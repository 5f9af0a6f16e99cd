//! `ctdb getpid`: ctdbd's process id (GET_PID).

use serde::Serialize;

use super::Ctx;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb getpid`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pid {
    /// ctdbd's pid as the daemon reported it (the reply status, printed
    /// unsigned as Samba's tool does).
    pub pid: u32,
}

impl Render for Pid {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("{}\n", self.pid)
    }
}

/// Runs the command; extra arguments are ignored, as Samba's tool does.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx) -> Result<Reply, CliError> {
    let pid = session.pid().await?;
    Ok(cx.reply(&Pid { pid }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn prints_the_status_unsigned() {
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(Pid { pid: 4546 }.text(&cx), "4546\n");
        // A daemon answering -1 prints 4294967295 (observed).
        assert_eq!(Pid { pid: -1i32 as u32 }.machine(&cx), "4294967295\n");
    }
}
