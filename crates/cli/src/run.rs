//! The tool from argv to exit code: options, command lookup, connection,
//! preamble, the command, and the max-runtime guard.
//!
//! ```text
//! argv -> args::parse -> (help | usage | command)
//!   Local command  -> cmd::run_local (no daemon)
//!   Daemon command -> connect -> Session::start (preamble) -> cmd::run_daemon
//! all under -T / CTDB_TIMEOUT ("Maximum runtime exceeded - exiting", exit 1)
//! ```

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use ctdb_config::{is_local_address, NodesFile, Paths};

use crate::args::{self, Invocation, Options};
use crate::cmd::{self, Ctx, Kind};
use crate::error::CliError;
use crate::link::ClientLink;
use crate::numparse::strtoull;
use crate::render::{Format, RenderCx, Reply};
use crate::session::{Link, Progress, Session, StartOptions};
use crate::timefmt::Zone;
use crate::usage;

/// Default maximum runtime (`-T`) in seconds.
pub const DEFAULT_MAXRUNTIME: i32 = 120;

/// What the process prints and returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code.
    pub exit: i32,
}

impl Outcome {
    fn from_reply(r: Reply) -> Outcome {
        Outcome { stdout: r.stdout, stderr: r.stderr.unwrap_or_default(), exit: r.exit }
    }

    fn from_error(e: CliError) -> Outcome {
        match e {
            CliError::Message { stdout, stderr, exit } => Outcome { stdout, stderr, exit },
            CliError::Usage { command } => Outcome { stdout: usage::command(&command), stderr: String::new(), exit: 1 },
            CliError::Silent(exit) => Outcome { exit, ..Outcome::default() },
        }
    }

    fn stderr_line(text: impl Into<String>) -> Outcome {
        Outcome { stdout: String::new(), stderr: format!("{}\n", text.into()), exit: 1 }
    }
}

/// Runs the tool with `argv` (without the program name) and the process
/// environment.
pub async fn run(argv: &[String]) -> Outcome {
    let (options, command, cmd_args) = match args::parse(argv) {
        Err(e) => return Outcome::stderr_line(e.to_string()),
        Ok(Invocation::Help) => return Outcome { stdout: usage::help(), ..Outcome::default() },
        Ok(Invocation::Usage) => return Outcome { stdout: usage::brief(), ..Outcome::default() },
        Ok(Invocation::Run { options, command, args }) => (options, command, args),
    };
    let maxruntime = match max_runtime(&options, std::env::var("CTDB_TIMEOUT").ok()) {
        Ok(t) => t,
        Err(o) => return o,
    };
    let Some(command) = command else {
        return Outcome { stdout: usage::full(), exit: 1, ..Outcome::default() };
    };
    let progress = Progress::default();
    let work = run_command(options, command, cmd_args, progress.clone());
    let mut outcome = with_max_runtime(maxruntime, work).await;
    // What a waiting command printed before the maximum runtime expired
    // (a finished command has taken its own already).
    outcome.stderr.insert_str(0, &progress.take());
    outcome
}

/// `-T`, else `CTDB_TIMEOUT`, else 120 seconds; 0 means no limit.
pub fn max_runtime(options: &Options, env: Option<String>) -> Result<Option<Duration>, Outcome> {
    let secs = match (options.maxruntime, env) {
        (Some(t), _) => i64::from(t),
        (None, Some(v)) => match strtoull(&v) {
            Ok(t) => t as u32 as i64,
            Err(_) => return Err(Outcome::stderr_line("Invalid value CTDB_TIMEOUT")),
        },
        (None, None) => i64::from(DEFAULT_MAXRUNTIME),
    };
    Ok((secs > 0).then(|| Duration::from_secs(secs.unsigned_abs())))
}

/// Runs `work` under the maximum runtime.
///
/// Samba's tool also sends SIGTERM to its whole process group when the
/// limit expires (observed: `kill(0, SIGTERM)`), which kills the calling
/// shell script too. We only exit, with the same message and code.
pub async fn with_max_runtime(limit: Option<Duration>, work: impl Future<Output = Outcome>) -> Outcome {
    match limit {
        None => work.await,
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::stderr_line("Maximum runtime exceeded - exiting"),
        },
    }
}

/// The format chosen by the options: `--json` wins over `-X`/`-Y`.
pub fn format(options: &Options) -> Format {
    if options.json {
        Format::Json
    } else if options.machine {
        Format::Machine { sep: options.separator.clone() }
    } else {
        Format::Text
    }
}

async fn run_command(options: Options, command: String, args: Vec<String>, progress: Progress) -> Outcome {
    let Some(kind) = cmd::kind(&command) else {
        if usage::COMMANDS.iter().any(|(n, _, _)| *n == command) {
            return Outcome::stderr_line(format!("Command '{command}' is not implemented by ctdb-rs yet"));
        }
        return Outcome::stderr_line(format!("Unknown command '{command}'"));
    };
    let paths = match Paths::from_env() {
        Ok(p) => p,
        Err(e) => return Outcome::stderr_line(e.to_string()),
    };
    let cx = Ctx { format: format(&options), render: RenderCx::new(Zone::Local).with_sep(&options.separator), options };
    match kind {
        Kind::Local => {
            if cx.options.node.is_some() {
                return Outcome::stderr_line(format!("Cannot specify node for command {command}"));
            }
            finish(cmd::run_local(&command, &cx, &args, &paths).await, &cx)
        }
        Kind::Daemon => {
            let link = match ClientLink::connect(&paths.socket).await {
                Ok(link) => link,
                Err(errno) => {
                    return Outcome {
                        stdout: String::new(),
                        stderr: format!("connect() failed, errno={errno}\n{}", connect_failed_text(&paths)),
                        exit: 1,
                    }
                }
            };
            run_on_link_with(link, &command, &cx, &args, &paths, progress).await
        }
    }
}

/// Runs a daemon command over any [`Link`] (a real connection, or recorded
/// replies in tests).
pub async fn run_on_link<L: Link>(link: L, command: &str, cx: &Ctx, args: &[String], paths: &Paths) -> Outcome {
    run_on_link_with(link, command, cx, args, paths, Progress::default()).await
}

/// [`run_on_link`] with the runner's progress buffer: what the command
/// printed while waiting comes first on standard error.
async fn run_on_link_with<L: Link>(
    link: L,
    command: &str,
    cx: &Ctx,
    args: &[String],
    paths: &Paths,
    progress: Progress,
) -> Outcome {
    let timeout =
        (cx.options.timelimit >= 0).then(|| Duration::from_secs(u64::from(cx.options.timelimit.unsigned_abs())));
    let start = StartOptions {
        node: cx.options.node,
        timeout,
        local_only: cmd::local_only(command).then(|| command.to_string()),
        progress: progress.clone(),
    };
    let started = Session::start(link, start, || CliError::stderr(connect_failed_text(paths), 1)).await;
    let mut outcome = match started {
        Ok(mut session) => finish(cmd::run_daemon(command, &mut session, cx, args, paths).await, cx),
        Err(e) => Outcome::from_error(e),
    };
    outcome.stderr.insert_str(0, &progress.take());
    outcome
}

/// Turns a command's result into what is printed. With `--json`, messages
/// Samba prints on standard output go to standard error instead, so that
/// standard output is always JSON (or empty).
fn finish(result: Result<Reply, CliError>, cx: &Ctx) -> Outcome {
    let mut outcome = match result {
        Ok(reply) => Outcome::from_reply(reply),
        Err(e) => Outcome::from_error(e),
    };
    if cx.format == Format::Json && outcome.exit != 0 && !outcome.stdout.starts_with('{') {
        let text = std::mem::take(&mut outcome.stdout);
        outcome.stderr = format!("{}{}", text, outcome.stderr);
    }
    outcome
}

/// What Samba's tool says when it cannot talk to the daemon: the failure,
/// then whether this host is in the nodes file at all.
pub fn connect_failed_text(paths: &Paths) -> String {
    let mut out = format!("Failed to connect to CTDB daemon ({})\n", paths.socket.display());
    out.push_str(&membership_hint(&paths.nodes_file()));
    out
}

/// `Failed to read nodes file …` or `Failed to detect PNN …`, each followed
/// by `Is this node part of CTDB cluster?`; nothing when a nodes-file
/// address is local.
fn membership_hint(nodes_file: &Path) -> String {
    const QUESTION: &str = "Is this node part of CTDB cluster?\n";
    match NodesFile::load(nodes_file) {
        Err(_) => format!("Failed to read nodes file \"{}\"\n{QUESTION}", nodes_file.display()),
        Ok(file) => match file.own_pnn(None, is_local_address) {
            Some(_) => String::new(),
            None => format!("Failed to detect PNN of the current node.\n{QUESTION}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_runtime_sources() {
        let o = Options::default();
        assert_eq!(max_runtime(&o, None), Ok(Some(Duration::from_secs(120))));
        assert_eq!(max_runtime(&o, Some("5".into())), Ok(Some(Duration::from_secs(5))));
        assert_eq!(max_runtime(&o, Some("0".into())), Ok(None));
        assert_eq!(max_runtime(&o, Some("abc".into())), Err(Outcome::stderr_line("Invalid value CTDB_TIMEOUT")));
        let o = Options { maxruntime: Some(0), ..Options::default() };
        assert_eq!(max_runtime(&o, Some("5".into())), Ok(None));
    }

    #[test]
    fn membership_hints() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let nodes = dir.path().join("nodes");
        assert_eq!(
            membership_hint(&nodes),
            format!("Failed to read nodes file \"{}\"\nIs this node part of CTDB cluster?\n", nodes.display())
        );
        // TEST-NET-1 is never local.
        std::fs::write(&nodes, "192.0.2.77\n").unwrap_or_default();
        assert_eq!(
            membership_hint(&nodes),
            "Failed to detect PNN of the current node.\nIs this node part of CTDB cluster?\n"
        );
        std::fs::write(&nodes, "127.0.0.1\n").unwrap_or_default();
        assert_eq!(membership_hint(&nodes), "");
    }
}
