//! `ctdb leader`: the leader's pnn, from LEADER broadcasts.

use serde::Serialize;

use super::Ctx;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb leader`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Leader {
    /// The leader's pnn; `None` (printed `UNKNOWN`) when no LEADER
    /// broadcast naming a node arrived within `-t` seconds.
    pub leader: Option<u32>,
}

/// Samba's text for a leader: the pnn or `UNKNOWN`.
pub fn leader_text(leader: Option<u32>) -> String {
    match leader {
        Some(p) => p.to_string(),
        None => "UNKNOWN".to_string(),
    }
}

impl Render for Leader {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("{}\n", leader_text(self.leader))
    }
}

/// Runs the command; extra arguments are ignored, as Samba's tool does.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx) -> Result<Reply, CliError> {
    let leader = session.leader().await?;
    Ok(cx.reply(&Leader { leader }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn known_and_unknown() {
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(Leader { leader: Some(0) }.text(&cx), include_str!("../../tests/expected/B_leader.txt"));
        assert_eq!(Leader { leader: None }.machine(&cx), include_str!("../../tests/expected/E_leader.txt"));
    }
}
