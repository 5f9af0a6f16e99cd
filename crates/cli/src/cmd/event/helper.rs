//! How Debian's tool runs the event helper and reads its exit status
//! (`run_helper` in Samba's tool), and running `$CTDB_EVENT_HELPER` when it
//! is set.

use std::ffi::OsStr;
use std::path::Path;

use crate::render::Reply;

/// The variable naming another helper program.
pub const HELPER_VAR: &str = "CTDB_EVENT_HELPER";
/// What the tool calls the helper in its messages.
const WHAT: &str = "event daemon helper";
/// EINTR: the exit code for a helper killed by a signal.
const EINTR: i32 = 4;

/// The helper's exit status as Debian's tool reports it: 64–254 is read as
/// "exec failed with errno status−64" (so a helper that exits 110 makes the
/// tool print `event daemon helper failed with error 46` and exit 46);
/// anything else is the tool's exit code.
pub fn read_status(status: i32) -> (Option<String>, i32) {
    if (64..255).contains(&status) {
        (Some(format!("{WHAT} failed with error {}\n", status - 64)), status - 64)
    } else {
        (None, status)
    }
}

/// Our helper's output and status as the tool passes them on.
pub fn as_seen_by_ctdb(helper: Reply) -> Reply {
    let (message, exit) = read_status(helper.exit);
    let mut stderr = helper.stderr.unwrap_or_default();
    stderr.push_str(message.as_deref().unwrap_or_default());
    Reply { stdout: helper.stdout, stderr: Some(stderr), exit }
}

/// Runs `program ARGS` with our standard streams and waits for it.
///
/// The program is executed as named, never looked up in `PATH` (Samba uses
/// `execv`). One that cannot be executed ends as the tool reports a failed
/// exec: `event daemon helper failed with error ERRNO`, exit ERRNO. The
/// child is killed if the maximum runtime expires first.
pub async fn run_external(program: &OsStr, args: &[String]) -> Reply {
    use std::os::unix::ffi::OsStrExt;
    let path = if program.as_bytes().contains(&b'/') {
        Path::new(program).to_path_buf()
    } else {
        Path::new(".").join(program)
    };
    let status = tokio::process::Command::new(&path).args(args).kill_on_drop(true).status().await;
    match status {
        Ok(status) => match (status.code(), signal(&status)) {
            (Some(code), _) => {
                let (message, exit) = read_status(code);
                Reply { stdout: String::new(), stderr: message, exit }
            }
            (None, signal) => Reply {
                stdout: String::new(),
                stderr: Some(format!("{WHAT} terminated with signal {}\n", signal.unwrap_or(0))),
                exit: EINTR,
            },
        },
        Err(e) => {
            let (message, exit) = read_status(64 + super::errno(&e));
            Reply { stdout: String::new(), stderr: message, exit }
        }
    }
}

fn signal(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_from_64_are_read_as_exec_errors() {
        assert_eq!(read_status(0), (None, 0));
        assert_eq!(read_status(22), (None, 22));
        assert_eq!(read_status(63), (None, 63));
        assert_eq!(read_status(110), (Some("event daemon helper failed with error 46\n".into()), 46));
        assert_eq!(read_status(64), (Some("event daemon helper failed with error 0\n".into()), 0));
        assert_eq!(read_status(254), (Some("event daemon helper failed with error 190\n".into()), 190));
        assert_eq!(read_status(255), (None, 255));
    }

    #[test]
    fn helper_output_is_kept_and_the_message_follows_its_log() {
        let helper = Reply { stdout: "Event x in legacy timed out\n".into(), stderr: Some("log\n".into()), exit: 110 };
        let seen = as_seen_by_ctdb(helper);
        assert_eq!(seen.stdout, "Event x in legacy timed out\n");
        assert_eq!(seen.stderr.as_deref(), Some("log\nevent daemon helper failed with error 46\n"));
        assert_eq!(seen.exit, 46);
    }
}
