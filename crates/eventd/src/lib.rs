//! eventd: CTDB's event scripts.
//!
//! Runs the scripts of the `legacy` component (`$etcdir/events/legacy/
//! NN.name.script`) for the node's events — init, setup, startup, the
//! recovery events, the periodic monitor — and for Debian's `ctdb event`
//! tool on `$rundir/eventd.socket`; keeps each event's last status; turns
//! monitor results into the node's UNHEALTHY flag. Scripts run through
//! processd, the one service that starts processes.
//!
//! - [`core`]: the sans-IO core (queue, one event at a time, statuses).
//! - [`monitor`]: the node's own events and its health.
//! - [`scripts`]: the scripts directory.
//! - [`shell`]: the service around the core, with the socket.

pub mod core;
pub mod monitor;
pub mod scripts;
pub mod shell;

pub use crate::core::{Action, EventStatus, Eventd, EventdConfig, Origin, Reply, RunRequest, ScriptStatus};
pub use scripts::{FsScriptDir, MemScriptDir, Script, ScriptDir};
pub use shell::EventdService;

#[cfg(test)]
mod tests;
