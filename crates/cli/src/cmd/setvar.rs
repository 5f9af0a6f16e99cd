//! `ctdb setvar NAME VALUE`: set a tunable (LIST_TUNABLES, SET_TUNABLE).

use serde::Serialize;

use super::getvar::check_listed;
use super::{usage, Ctx};
use crate::error::CliError;
use crate::numparse::strtoul_u32;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb setvar` (prints nothing; the JSON form shows what was set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SetVar {
    /// The node changed.
    pub node: u32,
    /// The name as typed.
    pub name: String,
    /// The value sent.
    pub value: u32,
    /// The daemon reported the tunable obsolete (SET_TUNABLE status 1).
    pub obsolete: bool,
}

impl Render for SetVar {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command. The name is checked against the list first; then the
/// value is parsed like `strtoul(…, 0)` (a bad value exits with its errno
/// silently, `abc` ⇒ 22, as Samba's tool does).
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [name, value] = args else {
        return Err(usage("setvar"));
    };
    check_listed(session, name).await?;
    let value = strtoul_u32(value).map_err(|e| CliError::Silent(e.errno()))?;
    let status = session.set_tunable(name, value).await?;
    let result = SetVar { node: session.target(), name: name.clone(), value, obsolete: status == 1 };
    let reply = cx.reply(&result);
    if result.obsolete {
        // Samba's tool reports the status like a failed control, then
        // explains, and still succeeds.
        return Ok(reply
            .with_stderr(format!("Control SET_TUNABLE failed, ret=1\nSetting obsolete tunable variable '{name}'\n")));
    }
    Ok(reply)
}
