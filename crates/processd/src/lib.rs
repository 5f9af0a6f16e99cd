//! processd: the one service of the daemon that starts child processes.
//!
//! Other services ask for a process with [`ctdb_proto::Msg::ProcessRun`];
//! processd starts it in a process group of its own, collects its output
//! (stdout and stderr, one pipe; see below for streaming), enforces its deadline (optionally running
//! a debug command on the hung process first), and answers with
//! [`ctdb_proto::Msg::ProcessDone`] once. Whatever way a process ends, its
//! whole group is killed with SIGKILL before it is reaped, so nothing a
//! script left behind keeps running.
//!
//! The logic is the sans-IO [`core`] ([`Processd`]): it is fed packets,
//! timer ticks and what happened to the children, and answers with
//! packets and [`Action`]s. [`shell`] performs the actions: `spawn` starts
//! a child, `wait` learns of its exit without reaping it (so its pid, which
//! is also its group id, stays ours until the group is killed).
//!
//! What requesters can rely on:
//! - A process is named by (requester endpoint, request reqid). A second
//!   request with a reqid still in use, an empty `argv` or an empty
//!   `on_timeout` is answered `NotStarted(EINVAL)` at once.
//! - `ProcessStarted` and `ProcessOutput` are plain messages (header reqid
//!   0; the request's reqid is in the body); `ProcessDone` is the reply.
//! - Streamed output is not bounded by `output_limit`: every read of the
//!   pipe (at most 64 KiB) is sent as it comes, as lossy UTF-8. It is
//!   stdout alone: a streaming process's stderr has a pipe of its own and
//!   its lines are logged under the process's name (the contract of CTDB's
//!   helpers: stdout answers the daemon, stderr goes to its log). When
//!   stdout reaches end of file, an empty `ProcessOutput` says so (before
//!   the exit, if the process closed it earlier).
//! - At the deadline the answer is `TimedOut` at once, with the output so
//!   far; the on-timeout command (every `{pid}` in its arguments replaced
//!   by the hung pid) and the kill follow, and are only logged.
//! - When processd stops, every group is killed; requesters still get
//!   `Signaled(9)`.

pub mod core;
pub mod shell;
mod spawn;
mod wait;

pub use crate::core::{Action, Command, ExitStatus, ProcId, Processd, DEBUG_OUTPUT_LIMIT, DRAIN_TIMEOUT};
pub use shell::ProcessdService;
