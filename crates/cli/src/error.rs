//! How a command fails: what goes to standard error or output, and the exit
//! code, as Samba's tool does it (legacy-protocol.md 4.1).

use std::fmt;

/// A failed command. The runner prints it and exits with [`CliError::exit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// Text for standard output and standard error, printed verbatim (it
    /// carries its own newlines: Samba's `Unable to get runstate` has none),
    /// and the exit code. Most messages go to standard error, but Samba's
    /// tool prints a few on standard output (`No such tunable X`,
    /// `Invalid run state (X)`, `Unable to get runstate`).
    Message {
        /// Standard output text.
        stdout: String,
        /// Standard error text.
        stderr: String,
        /// Exit code.
        exit: i32,
    },
    /// Wrong arguments: the command's usage goes to standard output, exit 1.
    Usage {
        /// The command whose usage line is printed.
        command: String,
    },
    /// Exit with a code and print nothing (`setvar X abc` exits 22; a daemon
    /// that closes the connection makes the tool exit 1 silently).
    Silent(i32),
}

impl CliError {
    /// One line for standard error, exit code 1.
    pub fn line(msg: impl fmt::Display) -> CliError {
        CliError::stderr(format!("{msg}\n"), 1)
    }

    /// One line for standard output, exit code 1 (the few messages Samba's
    /// tool prints there).
    pub fn stdout_line(msg: impl fmt::Display) -> CliError {
        CliError::Message { stdout: format!("{msg}\n"), stderr: String::new(), exit: 1 }
    }

    /// Standard error text and exit code.
    pub fn stderr(text: impl Into<String>, exit: i32) -> CliError {
        CliError::Message { stdout: String::new(), stderr: text.into(), exit }
    }

    /// A control that got no reply in time (or whose connection failed):
    /// `Control PING failed to node 0, ret=110`, exit code = the errno.
    pub fn control_transport(opcode: &str, node: u32, errno: i32) -> CliError {
        CliError::stderr(format!("Control {opcode} failed to node {node}, ret={errno}\n"), exit_code(errno))
    }

    /// A control the daemon answered with a failure status:
    /// `Control GET_DEBUG failed, ret=-1`, exit code from the status.
    pub fn control_status(opcode: &str, status: i32) -> CliError {
        CliError::stderr(format!("Control {opcode} failed, ret={status}\n"), exit_code(status))
    }

    /// Appends a line to standard error (a command's own message after the
    /// control error).
    pub fn then_line(self, line: impl fmt::Display) -> CliError {
        match self {
            CliError::Message { stdout, stderr, exit } => {
                CliError::Message { stdout, stderr: format!("{stderr}{line}\n"), exit }
            }
            other => other,
        }
    }

    /// Appends text verbatim to standard output.
    pub fn then_stdout(self, more: impl fmt::Display) -> CliError {
        match self {
            CliError::Message { stdout, stderr, exit } => {
                CliError::Message { stdout: format!("{stdout}{more}"), stderr, exit }
            }
            other => other,
        }
    }

    /// Replaces the exit code (commands that exit 1 whatever failed).
    pub fn with_exit(self, exit: i32) -> CliError {
        match self {
            CliError::Message { stdout, stderr, .. } => CliError::Message { stdout, stderr, exit },
            CliError::Silent(_) => CliError::Silent(exit),
            usage => usage,
        }
    }

    /// The process exit code.
    pub fn exit(&self) -> i32 {
        match self {
            CliError::Message { exit, .. } => *exit,
            CliError::Usage { .. } => 1,
            CliError::Silent(code) => *code,
        }
    }

    /// The standard error text, for commands that report a failure and go
    /// on (`listvars` skips a tunable it cannot read).
    pub fn stderr_text(&self) -> String {
        match self {
            CliError::Message { stderr, .. } => stderr.clone(),
            _ => String::new(),
        }
    }
}

/// Exit code for a failure value: Samba's tool exits with the value itself
/// (a negative status wraps, `-5` ⇒ 251, `-22` ⇒ 234) except `-1`, which
/// becomes 1. All observed with a fake daemon.
pub fn exit_code(ret: i32) -> i32 {
    if ret == -1 {
        1
    } else {
        ret & 0xff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_wrap_like_the_c_tool() {
        assert_eq!(exit_code(-1), 1);
        assert_eq!(exit_code(-5), 251);
        assert_eq!(exit_code(-22), 234);
        assert_eq!(exit_code(110), 110);
        assert_eq!(exit_code(11), 11);
    }

    #[test]
    fn control_messages_match_samba() {
        let e = CliError::control_transport("PING", 0, 110);
        assert_eq!(e.stderr_text(), "Control PING failed to node 0, ret=110\n");
        assert_eq!(e.exit(), 110);
        let e = CliError::control_status("LIST_TUNABLES", -1).then_line("Failed to get list of variables from node 0");
        assert_eq!(
            e.stderr_text(),
            "Control LIST_TUNABLES failed, ret=-1\nFailed to get list of variables from node 0\n"
        );
        assert_eq!(e.exit(), 1);
        let e = CliError::control_status("GET_RUNSTATE", -5).then_stdout("Unable to get runstate").with_exit(1);
        assert_eq!(
            e,
            CliError::Message {
                stdout: "Unable to get runstate".into(),
                stderr: "Control GET_RUNSTATE failed, ret=-5\n".into(),
                exit: 1
            }
        );
        assert_eq!(e.exit(), 1);
    }
}
