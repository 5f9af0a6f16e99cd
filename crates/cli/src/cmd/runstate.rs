//! `ctdb runstate [STATE...]`: the node's runstate, optionally required to
//! be one of the given states.

use serde::Serialize;

use ctdb_legacy_proto::runstate;

use super::Ctx;
use crate::error::CliError;
use crate::render::{Format, Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb runstate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Runstate {
    /// The node asked.
    pub node: u32,
    /// The runstate's name (`RUNNING`).
    pub runstate: String,
    /// Its number (6.3).
    pub value: u32,
    /// The states asked for, upper-case (empty: no requirement).
    pub required: Vec<String>,
    /// Whether the node is in one of them (true when none were asked for).
    pub matched: bool,
}

impl Render for Runstate {
    fn text(&self, _cx: &RenderCx) -> String {
        // Samba's tool prints the mismatch on standard output too.
        if self.matched {
            format!("{}\n", self.runstate)
        } else {
            format!("CTDB not in required run state (got {})\n", self.runstate)
        }
    }
}

/// Parses a runstate name as the tool does: case-insensitive; `UNKNOWN`
/// is not a state one can ask for.
pub fn parse_runstate(name: &str) -> Option<u32> {
    [
        runstate::INIT,
        runstate::SETUP,
        runstate::FIRST_RECOVERY,
        runstate::STARTUP,
        runstate::RUNNING,
        runstate::SHUTDOWN,
    ]
    .into_iter()
    .find(|s| runstate::name(*s).eq_ignore_ascii_case(name))
}

/// Checks the wanted states in order: the first one that matches ends the
/// check (so `runstate running bogus` succeeds), an invalid name before any
/// match is an error. Returns the matching state.
pub fn check_required(current: u32, wanted: &[String]) -> Result<bool, CliError> {
    for name in wanted {
        let Some(state) = parse_runstate(name) else {
            return Err(CliError::stdout_line(format!("Invalid run state ({name})")));
        };
        if state == current {
            return Ok(true);
        }
    }
    Ok(wanted.is_empty())
}

/// Runs the command: GET_RUNSTATE first, then the arguments are checked.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let target = session.target();
    let value = session.runstate_of(target).await?;
    let matched = check_required(value, args)?;
    let result = Runstate {
        node: target,
        runstate: runstate::name(value).to_string(),
        value,
        required: args.iter().map(|a| a.to_ascii_uppercase()).collect(),
        matched,
    };
    let reply = cx.reply(&result);
    if matched {
        return Ok(reply);
    }
    // The text forms carry the message on standard output (as Samba);
    // with --json standard output is the document, so say it on stderr.
    let reply = reply.with_exit(1);
    Ok(if cx.format == Format::Json {
        reply.with_stderr(format!("CTDB not in required run state (got {})\n", result.runstate))
    } else {
        reply
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn prints_the_state_name() {
        let cx = RenderCx::new(Zone::Utc);
        let r = Runstate { node: 0, runstate: "RUNNING".into(), value: 5, required: vec![], matched: true };
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/B_runstate.txt"));
        assert_eq!(r.machine(&cx), "RUNNING\n");
    }

    #[test]
    fn required_states_are_checked_in_order() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(check_required(5, &v(&["startup", "RUNNING"])), Ok(true));
        assert_eq!(check_required(5, &v(&["setup", "first_recovery"])), Ok(false));
        assert_eq!(check_required(5, &v(&["running", "bogus"])), Ok(true));
        assert_eq!(check_required(5, &v(&["Init"])), Ok(false));
        assert_eq!(
            check_required(5, &v(&["bogus", "running"])),
            Err(CliError::stdout_line("Invalid run state (bogus)"))
        );
        assert_eq!(check_required(5, &v(&["unknown"])), Err(CliError::stdout_line("Invalid run state (unknown)")));
    }
}
