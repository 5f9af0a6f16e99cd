//! `ctdb scriptstatus [EVENT]`: `ctdb event status legacy EVENT` (default
//! `monitor`), whose output it prints, exiting 0 whatever happened. No
//! ctdbd needed.

use ctdb_config::Paths;

use super::{event, usage, Ctx};
use crate::error::CliError;
use crate::render::Reply;

/// The event shown when none is named.
pub const DEFAULT_EVENT: &str = "monitor";

/// The `ctdb event` arguments that `scriptstatus ARGS` stands for.
pub fn event_args(args: &[String]) -> Result<Vec<String>, CliError> {
    let event = match args {
        [] => DEFAULT_EVENT,
        [event] => event.as_str(),
        _ => return Err(usage("scriptstatus")),
    };
    Ok(["status", "legacy", event].map(String::from).to_vec())
}

/// Runs the command.
pub async fn run(cx: &Ctx, args: &[String], paths: &Paths) -> Result<Reply, CliError> {
    let reply = event::run(cx, &event_args(args)?, paths).await?;
    Ok(reply.with_exit(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_event_is_monitor_and_one_argument_at_most() {
        let argv = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(event_args(&[]).ok(), Some(argv(&["status", "legacy", "monitor"])));
        assert_eq!(event_args(&argv(&["startup"])).ok(), Some(argv(&["status", "legacy", "startup"])));
        assert_eq!(event_args(&argv(&["a", "b"])).err(), Some(usage("scriptstatus")));
    }
}
