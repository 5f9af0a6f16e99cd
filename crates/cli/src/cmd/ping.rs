//! `ctdb ping`: round trip of a PING control and the daemon's client count.

use std::time::Instant;

use serde::Serialize;

use super::Ctx;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb ping`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ping {
    /// The node that answered.
    pub node: u32,
    /// Round-trip time in seconds, measured by the tool.
    pub seconds: f64,
    /// Connected clients, including this tool (the PING status).
    pub clients: i32,
}

impl Render for Ping {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("response from {} time={:.6} sec  ({} clients)\n", self.node, self.seconds, self.clients)
    }
}

/// Runs the command; extra arguments are ignored, as Samba's tool does.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx) -> Result<Reply, CliError> {
    let start = Instant::now();
    let clients = session.ping().await?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(cx.reply(&Ping { node: session.target(), seconds, clients }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn matches_samba_layout() {
        let cx = RenderCx::new(Zone::Utc);
        let r = Ping { node: 0, seconds: 0.000151, clients: 2 };
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/B_ping.txt"));
        // -X prints the same line in 4.17.
        assert_eq!(r.machine(&cx), r.text(&cx));
    }
}
