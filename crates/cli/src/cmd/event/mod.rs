//! `ctdb event ARGS`: event scripts, through ctdb-eventd; no ctdbd needed.
//!
//! Debian's tool runs a helper program with ARGS (`$CTDB_EVENT_HELPER`, else
//! `/usr/libexec/ctdb/ctdb-event`) and reads its exit status the way it
//! reads every helper's: a status from 64 to 254 is taken for a failed exec
//! of errno `status - 64`, so it prints `event daemon helper failed with
//! error N` and exits N (a timed-out run, 110, ends as 46).
//!
//! We do what that helper does ourselves, then apply the same reading. When
//! `CTDB_EVENT_HELPER` is set we run that program instead, as Debian's tool
//! does.
//!
//! | helper command | file | how |
//! | --- | --- | --- |
//! | command line, usage texts | [`cmdline`] | |
//! | `run TIMEOUT COMPONENT EVENT [ARGS…]` | [`run`] | RUN request |
//! | `status COMPONENT EVENT` | [`status`] | STATUS request |
//! | `script list COMPONENT` | [`script_list`] | reads the script directories |
//! | `script enable/disable COMPONENT SCRIPT` | [`script_toggle`] | symlink or chmod, no daemon |
//! | helper exit status, `$CTDB_EVENT_HELPER` | [`helper`] | |
//!
//! The helper prints its results and most of its messages on standard
//! output; its log lines (`-d`) go to standard error ([`log`]).

pub mod client;
pub mod cmdline;
pub mod helper;
pub mod log;
pub mod run;
pub mod script_list;
pub mod script_toggle;
pub mod status;

use std::path::{Path, PathBuf};

use ctdb_config::Paths;

use self::client::EventClient;
use self::cmdline::Command;
use self::log::Log;
use super::Ctx;
use crate::error::CliError;
use crate::render::Reply;

/// Runs `ctdb event ARGS`.
pub async fn run(cx: &Ctx, args: &[String], paths: &Paths) -> Result<Reply, CliError> {
    if let Some(program) = std::env::var_os(helper::HELPER_VAR) {
        return Ok(helper::run_external(&program, args).await);
    }
    Ok(helper::as_seen_by_ctdb(run_helper(cx, args, paths).await))
}

/// What the event helper prints and its exit status (0–255).
pub async fn run_helper(cx: &Ctx, args: &[String], paths: &Paths) -> Reply {
    let parsed = match cmdline::parse(args) {
        Ok(p) => p,
        Err(refused) => return Reply { stdout: refused.stdout, stderr: Some(refused.stderr), exit: 1 },
    };
    let mut log = Log::new(parsed.level);
    let args = &parsed.args;
    let mut reply = match parsed.command {
        Command::Run => run::run(args, paths, &mut log).await,
        Command::Status => status::run(cx, args, paths, &mut log).await,
        Command::ScriptList => script_list::run(cx, args, paths, &mut log),
        Command::ScriptEnable => script_toggle::run(script_toggle::Action::Enable, args, paths, &mut log),
        Command::ScriptDisable => script_toggle::run(script_toggle::Action::Disable, args, paths, &mut log),
    };
    reply.stderr = Some(log.into_text());
    // exit() keeps the low byte.
    reply.exit &= 0xff;
    reply
}

/// A helper command given the wrong number of arguments: its usage, exit 1.
fn usage(command: Command) -> Reply {
    Reply { stdout: cmdline::command_usage(command), stderr: None, exit: 1 }
}

/// Nothing on standard output, exit status `code`.
fn exit(code: i32) -> Reply {
    Reply { stdout: String::new(), stderr: None, exit: code }
}

/// One line on standard output (Samba's `printf`), exit status `code`.
fn says(line: impl std::fmt::Display, code: i32) -> Reply {
    Reply { stdout: format!("{line}\n"), stderr: None, exit: code }
}

/// Connects to ctdb-eventd; on failure, the helper's message and status.
async fn connect(paths: &Paths, log: &mut Log) -> Result<EventClient, Reply> {
    EventClient::connect(&paths.eventd_socket(), log).await.map_err(|ret| {
        log.err(format!("Failed to initialize event client, ret={ret}"));
        exit(ret)
    })
}

/// `DIR/REL` as Samba builds it (`"%s/%s"`, no normalisation).
fn append(dir: &Path, rel: impl AsRef<std::ffi::OsStr>) -> PathBuf {
    let mut s = dir.as_os_str().to_os_string();
    s.push("/");
    s.push(rel.as_ref());
    PathBuf::from(s)
}

/// The errno of an I/O error (EIO when it carries none).
fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(client::EIO)
}
