//! `ctdb setleaderrole on|off` and `ctdb setlmasterrole on|off`: switch a
//! node's LEADER (recmaster) or LMASTER capability at run time
//! (SET_RECMASTERROLE, SET_LMASTERROLE with a u32 0/1).
//!
//! Only the exact words `on` and `off` are accepted (`ON`, `yes` show the
//! usage); a failure prints only the control error, as Debian's `ctdb`
//! 4.17 does.

use serde::Serialize;

use ctdb_legacy_proto::{Opcode, Wire};

use super::{usage, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// Which capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `setleaderrole`: may this node lead (hold the cluster lock).
    Leader,
    /// `setlmasterrole`: may this node be in the vnnmap.
    Lmaster,
}

impl Role {
    /// The command name.
    pub fn command(self) -> &'static str {
        match self {
            Role::Leader => "setleaderrole",
            Role::Lmaster => "setlmasterrole",
        }
    }

    fn opcode(self) -> Opcode {
        match self {
            Role::Leader => Opcode::SET_RECMASTERROLE,
            Role::Lmaster => Opcode::SET_LMASTERROLE,
        }
    }
}

/// `ctdb setleaderrole|setlmasterrole` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SetRole {
    /// The capability.
    pub role: Role,
    /// The node changed.
    pub node: u32,
    /// On or off.
    pub enabled: bool,
}

impl Render for SetRole {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Parses `on` / `off`.
pub fn parse_switch(arg: &str) -> Option<bool> {
    match arg {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// Runs the command.
pub async fn run<L: Link>(role: Role, session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [arg] = args else {
        return Err(usage(role.command()));
    };
    let enabled = parse_switch(arg).ok_or_else(|| usage(role.command()))?;
    let node = session.target();
    session.control_ok_to(node, role.opcode(), u32::from(enabled).to_bytes()).await?;
    Ok(cx.reply(&SetRole { role, node, enabled }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lowercase_on_and_off() {
        assert_eq!(parse_switch("on"), Some(true));
        assert_eq!(parse_switch("off"), Some(false));
        assert_eq!(parse_switch("ON"), None);
        assert_eq!(parse_switch("yes"), None);
        assert_eq!(parse_switch(""), None);
    }
}
