//! `ctdb statisticsreset`: zero the daemon's statistics.

use serde::Serialize;

use super::{no_args, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb statisticsreset` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatisticsReset {
    /// The node reset.
    pub node: u32,
}

impl Render for StatisticsReset {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("statisticsreset", args)?;
    session.statistics_reset().await?;
    Ok(cx.reply(&StatisticsReset { node: session.target() }))
}
