//! `ctdb disable|enable|stop|continue|ban SECS|unban`: change a node's
//! state, wait until the nodemap shows it, then ask the leader for a
//! takeover run (legacy-protocol.md 4.4).
//!
//! ```text
//! GET_NODEMAP (local, cached)        flag already as asked? -> stderr note, exit 0
//! DISABLE_NODE | ENABLE_NODE | STOP_NODE | CONTINUE_NODE | SET_BAN_STATE -> target
//! GET_NODEMAP (local) every second until the target's flag changed
//! takeover run (see ipreallocate)
//! ```
//!
//! Observed with Debian's `ctdb` 4.17: a failed first GET_NODEMAP is
//! reported and the command goes on as if the flag were not set; a failed
//! poll prints `Failed to get nodemap, trying again` and polls again; a
//! failed control prints the control error and `Failed to disable node N`
//! (exit code from the status); `ban abc` exits 22 silently, `ban 0` prints
//! `Ban time cannot be zero` and exits 22, and both are checked only after
//! the "already banned" test.

use std::time::Duration;

use serde::Serialize;

use ctdb_legacy_proto::{flags, BanState, Opcode, Wire};

use super::ipreallocate::takeover_run;
use super::{no_args, usage, Ctx};
use crate::error::CliError;
use crate::numparse::strtoul_u32;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// One of the six commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `disable`: set PERMANENTLY_DISABLED.
    Disable,
    /// `enable`: clear PERMANENTLY_DISABLED.
    Enable,
    /// `stop`: set STOPPED.
    Stop,
    /// `continue`: clear STOPPED.
    Continue,
    /// `ban SECS`: set BANNED for SECS seconds.
    Ban,
    /// `unban`: clear BANNED.
    Unban,
}

impl Action {
    /// The command name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Stop => "stop",
            Action::Continue => "continue",
            Action::Ban => "ban",
            Action::Unban => "unban",
        }
    }

    /// The command for `name`.
    pub fn from_name(name: &str) -> Option<Action> {
        [Action::Disable, Action::Enable, Action::Stop, Action::Continue, Action::Ban, Action::Unban]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// The node flag the command changes.
    fn flag(self) -> u32 {
        match self {
            Action::Disable | Action::Enable => flags::PERMANENTLY_DISABLED,
            Action::Stop | Action::Continue => flags::STOPPED,
            Action::Ban | Action::Unban => flags::BANNED,
        }
    }

    /// Whether the command sets the flag (else clears it).
    fn sets(self) -> bool {
        matches!(self, Action::Disable | Action::Stop | Action::Ban)
    }

    /// The state's word in `Node N is already disabled` / `is not disabled`.
    fn state_word(self) -> &'static str {
        match self {
            Action::Disable | Action::Enable => "disabled",
            Action::Stop | Action::Continue => "stopped",
            Action::Ban | Action::Unban => "banned",
        }
    }

    /// The control that asks for the change.
    fn opcode(self) -> Opcode {
        match self {
            Action::Disable => Opcode::DISABLE_NODE,
            Action::Enable => Opcode::ENABLE_NODE,
            Action::Stop => Opcode::STOP_NODE,
            Action::Continue => Opcode::CONTINUE_NODE,
            Action::Ban | Action::Unban => Opcode::SET_BAN_STATE,
        }
    }

    /// What Samba's tool says after the control failed.
    fn failed_text(self, node: u32) -> String {
        match self {
            Action::Disable => format!("Failed to disable node {node}"),
            Action::Enable => format!("Failed to enable node {node}"),
            Action::Stop => format!("Failed to stop node {node}"),
            Action::Continue => format!("Failed to continue stopped node {node}"),
            Action::Ban => format!("Failed to ban node {node}"),
            Action::Unban => format!("Failed to unban node {node}"),
        }
    }

    /// The note when nothing is to be done: `Node 1 is already disabled`,
    /// `Node 1 is not stopped`.
    fn unchanged_text(self, node: u32) -> String {
        let how = if self.sets() { "already" } else { "not" };
        format!("Node {node} is {how} {}\n", self.state_word())
    }
}

/// The result of one of the six commands (prints nothing; `--json` shows
/// it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStateChange {
    /// The command.
    pub action: Action,
    /// The node changed (`-n`, else the local node).
    pub node: u32,
    /// `ban`: the ban period in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban_seconds: Option<u32>,
    /// `false` when the node already was in that state (nothing sent).
    pub changed: bool,
    /// The node that answered the takeover run (the leader), when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub takeover_run_by: Option<u32>,
}

impl Render for NodeStateChange {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs `action` with its arguments.
pub async fn run<L: Link>(
    action: Action,
    session: &mut Session<L>,
    cx: &Ctx,
    args: &[String],
) -> Result<Reply, CliError> {
    let ban_arg = match (action, args) {
        (Action::Ban, [secs]) => Some(secs),
        (Action::Ban, _) => return Err(usage("ban")),
        _ => {
            no_args(action.name(), args)?;
            None
        }
    };
    let node = session.target();
    let mut result = NodeStateChange { action, node, ban_seconds: None, changed: false, takeover_run_by: None };
    if flag_is(session, node, action.flag()).await == Some(action.sets()) {
        return Ok(cx.reply(&result).with_stderr(action.unchanged_text(node)));
    }
    let data = match (action, ban_arg) {
        (Action::Ban, Some(arg)) => {
            let secs = strtoul_u32(arg).map_err(|e| CliError::Silent(e.errno()))?;
            if secs == 0 {
                return Err(CliError::stderr("Ban time cannot be zero\n", 22));
            }
            result.ban_seconds = Some(secs);
            BanState { pnn: node, time: secs }.to_bytes()
        }
        (Action::Unban, _) => BanState { pnn: node, time: 0 }.to_bytes(),
        _ => Vec::new(),
    };
    session.control_ok_to(node, action.opcode(), data).await.map_err(|e| e.then_line(action.failed_text(node)))?;
    result.changed = true;
    wait_for_flag(session, node, action.flag(), action.sets()).await?;
    result.takeover_run_by = Some(takeover_run(session).await?);
    Ok(cx.reply(&result))
}

/// Whether `node`'s `flag` is set in the (cached) local nodemap; `None`
/// when the nodemap cannot be had, after reporting why (Samba's tool then
/// goes on with the change).
async fn flag_is<L: Link>(session: &mut Session<L>, node: u32, flag: u32) -> Option<bool> {
    let local = session.local_pnn();
    match session.nodemap_from(local).await {
        Ok(map) => Some(map.nodes.iter().find(|n| n.pnn == node).is_some_and(|n| n.flags & flag != 0)),
        Err(e) => {
            session.progress(&e.stderr_text());
            None
        }
    }
}

/// Polls the local nodemap every second until `node`'s `flag` is `set`
/// (or not). There is no limit but `-T`, as in Samba's tool; only a lost
/// connection ends it early.
async fn wait_for_flag<L: Link>(session: &mut Session<L>, node: u32, flag: u32, set: bool) -> Result<(), CliError> {
    let local = session.local_pnn();
    loop {
        match session.refresh_nodemap_from(local).await {
            Ok(map) => {
                if map.nodes.iter().find(|n| n.pnn == node).is_some_and(|n| n.flags & flag != 0) == set {
                    return Ok(());
                }
            }
            Err(CliError::Silent(code)) => return Err(CliError::Silent(code)),
            Err(e) => session.progress(&format!("{}Failed to get nodemap, trying again\n", e.stderr_text())),
        }
        session.sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_match_samba() {
        assert_eq!(Action::Disable.unchanged_text(1), "Node 1 is already disabled\n");
        assert_eq!(Action::Enable.unchanged_text(2), "Node 2 is not disabled\n");
        assert_eq!(Action::Stop.unchanged_text(1), "Node 1 is already stopped\n");
        assert_eq!(Action::Continue.unchanged_text(1), "Node 1 is not stopped\n");
        assert_eq!(Action::Ban.unchanged_text(0), "Node 0 is already banned\n");
        assert_eq!(Action::Unban.unchanged_text(0), "Node 0 is not banned\n");
        assert_eq!(Action::Continue.failed_text(0), "Failed to continue stopped node 0");
    }

    #[test]
    fn names_round_trip() {
        for name in ["disable", "enable", "stop", "continue", "ban", "unban"] {
            assert_eq!(Action::from_name(name).map(Action::name), Some(name));
        }
        assert_eq!(Action::from_name("sync"), None);
    }
}
