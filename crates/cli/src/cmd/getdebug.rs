//! `ctdb getdebug`: the daemon's log level (GET_DEBUG).

use serde::Serialize;

use ctdb_legacy_proto::debug;

use super::{no_args, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb getdebug`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DebugLevel {
    /// The node asked.
    pub node: u32,
    /// The level's number.
    pub level: i32,
    /// Its name (6.5), `UNKNOWN` outside 0..=10.
    pub name: String,
}

impl DebugLevel {
    /// Names a level.
    pub fn new(node: u32, level: i32) -> DebugLevel {
        DebugLevel { node, level, name: debug::name(level).to_string() }
    }
}

impl Render for DebugLevel {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("{}\n", self.name)
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("getdebug", args)?;
    let level = session.debug_level().await?;
    Ok(cx.reply(&DebugLevel::new(session.target(), level)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn names_levels() {
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(DebugLevel::new(0, 3).text(&cx), include_str!("../../tests/expected/B_getdebug.txt"));
        assert_eq!(DebugLevel::new(0, 2).machine(&cx), "WARNING\n");
        assert_eq!(DebugLevel::new(0, 7).text(&cx), "INFO\n");
        assert_eq!(DebugLevel::new(0, 11).text(&cx), "UNKNOWN\n");
    }
}
