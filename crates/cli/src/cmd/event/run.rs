//! `ctdb event run TIMEOUT COMPONENT EVENT [ARGS…]`: one RUN request.
//!
//! TIMEOUT is read with `atoi` (negative becomes 0, text 0, so the event
//! times out at once); ARGS are joined with single spaces, and sent as NULL
//! when there are none. In test mode `CTDB_EVENT_RUN_ALL` sets the RUN_ALL
//! flag (keep going after a failed script). Success prints nothing; the
//! exit status is the result:
//!
//! | result | standard output |
//! | --- | --- |
//! | ENOENT | `Event dir for C does not exist` |
//! | ETIMEDOUT | `Event E in C timed out` |
//! | ECANCELED | `Event E in C got cancelled` |
//! | ENOEXEC | `Event E in C failed` |
//! | other | `Failed to run event E in C, result=R` |

use ctdb_config::Paths;
use ctdb_legacy_proto::eventd::{errno, EventCommand, EventRequestBody, RUN_ALL};

use super::client::{Failure, EPROTO};
use super::cmdline::Command;
use super::log::Log;
use super::{connect, exit, says, usage};
use crate::numparse::atoi;
use crate::render::Reply;

/// The variable that asks for RUN_ALL (honoured in test mode only).
const RUN_ALL_VAR: &str = "CTDB_EVENT_RUN_ALL";

/// Runs the command; the reply's exit is the helper's status.
pub async fn run(args: &[String], paths: &Paths, log: &mut Log) -> Reply {
    let [timeout, component, event, rest @ ..] = args else {
        return usage(Command::Run);
    };
    let mut client = match connect(paths, log).await {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let run_all = paths.test_mode && std::env::var_os(RUN_ALL_VAR).is_some();
    let body = EventRequestBody::Run {
        component: component.clone(),
        event: event.clone(),
        args: (!rest.is_empty()).then(|| rest.join(" ")),
        timeout_secs: atoi(timeout).max(0).unsigned_abs(),
        flags: if run_all { RUN_ALL } else { 0 },
    };
    let result = match client.request(body, log).await {
        Ok(reply) if reply.cmd == EventCommand::Run => reply.result,
        Ok(_) => EPROTO,
        Err(Failure::Closed) => return exit(1),
        Err(Failure::Errno(ret)) => {
            log.err(format!("Failed to run event {event} in {component}, ret={ret}"));
            return exit(1);
        }
    };
    log.notice(format!("Command run finished with result={result}"));
    outcome(component, event, result)
}

/// What a RUN result prints, with the result as exit status.
fn outcome(component: &str, event: &str, result: i32) -> Reply {
    let code = result.wrapping_abs();
    match result {
        0 => exit(0),
        errno::ENOENT => says(format!("Event dir for {component} does not exist"), code),
        errno::ETIMEDOUT => says(format!("Event {event} in {component} timed out"), code),
        errno::ECANCELED => says(format!("Event {event} in {component} got cancelled"), code),
        errno::ENOEXEC => says(format!("Event {event} in {component} failed"), code),
        r => says(format!("Failed to run event {event} in {component}, result={r}"), code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_print_samba_messages() {
        assert_eq!(outcome("legacy", "x", 0), exit(0));
        assert_eq!(outcome("nosuch", "x", 2).stdout, "Event dir for nosuch does not exist\n");
        assert_eq!(outcome("legacy", "x", 110).stdout, "Event x in legacy timed out\n");
        assert_eq!(outcome("legacy", "x", 125).stdout, "Event x in legacy got cancelled\n");
        let failed = outcome("legacy", "x", 8);
        assert_eq!((failed.stdout.as_str(), failed.exit), ("Event x in legacy failed\n", 8));
        let other = outcome("legacy", "x", -5);
        assert_eq!((other.stdout.as_str(), other.exit), ("Failed to run event x in legacy, result=-5\n", 5));
    }
}
