//! `ctdb pnn`: the local node's number, learnt by the preamble's GET_PNN.

use serde::Serialize;

use super::Ctx;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb pnn`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pnn {
    /// The pnn of the node the tool is connected to.
    pub pnn: u32,
}

impl Render for Pnn {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("{}\n", self.pnn)
    }
}

/// Runs the command. Extra arguments are ignored, and `-n` naming another
/// node than the local one is refused (after connecting), as Samba's tool
/// does: `-n 0` on node 0 is fine.
pub fn run<L: Link>(session: &Session<L>, cx: &Ctx) -> Result<Reply, CliError> {
    if !session.target_is_local() {
        return Err(CliError::line("Node cannot be specified for command pnn"));
    }
    Ok(cx.reply(&Pnn { pnn: session.local_pnn() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn prints_the_number() {
        let cx = RenderCx::new(Zone::Utc);
        let r = Pnn { pnn: 0 };
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/B_pnn.txt"));
        assert_eq!(r.machine(&cx), "0\n");
    }
}
