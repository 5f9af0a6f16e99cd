//! `ctdb shutdown`: stop ctdbd (SHUTDOWN, NOREPLY).

use serde::Serialize;

use super::{no_args, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb shutdown` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shutdown {
    /// The node told to stop.
    pub node: u32,
}

impl Render for Shutdown {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command; for the local node it returns once the daemon has
/// closed the connection.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("shutdown", args)?;
    session.shutdown().await?;
    Ok(cx.reply(&Shutdown { node: session.target() }))
}
