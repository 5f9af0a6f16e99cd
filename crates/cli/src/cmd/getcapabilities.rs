//! `ctdb getcapabilities`: the node's LEADER and LMASTER roles.

use serde::Serialize;

use ctdb_legacy_proto::caps;

use super::{no_args, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb getcapabilities`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The node asked.
    pub node: u32,
    /// The raw capability bits (6.2).
    pub capabilities: u32,
    /// May become leader (RECMASTER bit, shown as `LEADER`).
    pub leader: bool,
    /// May be an lmaster.
    pub lmaster: bool,
}

impl Capabilities {
    /// Decodes the capability bits.
    pub fn from_bits(node: u32, bits: u32) -> Capabilities {
        Capabilities {
            node,
            capabilities: bits,
            leader: bits & caps::RECMASTER != 0,
            lmaster: bits & caps::LMASTER != 0,
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "YES"
    } else {
        "NO"
    }
}

impl Render for Capabilities {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("LEADER: {}\nLMASTER: {}\n", yes_no(self.leader), yes_no(self.lmaster))
    }

    fn machine(&self, cx: &RenderCx) -> String {
        let bit = |b: bool| if b { "1" } else { "0" };
        let mut out = cx.row(["LEADER", "LMASTER"]);
        out.push_str(&cx.row([bit(self.leader), bit(self.lmaster)]));
        out
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("getcapabilities", args)?;
    let bits = session.capabilities().await?;
    Ok(cx.reply(&Capabilities::from_bits(session.target(), bits)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn default_capabilities() {
        let cx = RenderCx::new(Zone::Utc);
        let r = Capabilities::from_bits(0, 0x0003_0003);
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/B_getcapabilities.txt"));
        assert_eq!(r.machine(&cx), include_str!("../../tests/expected/B_getcapabilities_X.txt"));
        assert_eq!(r.machine(&cx.with_sep(";")), include_str!("../../tests/expected/B_getcapabilities_Ysemi.txt"));
    }

    #[test]
    fn lmaster_role_off() {
        let cx = RenderCx::new(Zone::Utc);
        let r = Capabilities::from_bits(0, 0x0003_0001);
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/F_getcapabilities_nolmaster.txt"));
        assert_eq!(r.machine(&cx), include_str!("../../tests/expected/F_getcapabilities_nolmaster_X.txt"));
    }
}
