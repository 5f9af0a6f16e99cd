//! `ctdb getvar NAME`: one tunable (LIST_TUNABLES, then GET_TUNABLE).

use serde::Serialize;

use super::{usage, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// One tunable and its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tunable {
    /// The name as typed (Samba's tool echoes it, `monitorinterval`).
    pub name: String,
    /// Its value.
    pub value: u32,
}

/// Samba's tunable line: `%-26s = %u`.
pub fn tunable_line(name: &str, value: u32) -> String {
    format!("{name:<26} = {value}\n")
}

impl Render for Tunable {
    fn text(&self, _cx: &RenderCx) -> String {
        tunable_line(&self.name, self.value)
    }
}

/// The tool's check before getting or setting a tunable: LIST_TUNABLES,
/// and the name (case-insensitive) must be listed, so obsolete tunables are
/// refused although the daemon would accept them.
pub async fn check_listed<L: Link>(session: &mut Session<L>, name: &str) -> Result<(), CliError> {
    let target = session.target();
    let names = session
        .list_tunables()
        .await
        .map_err(|e| e.then_line(format!("Failed to get list of variables from node {target}")))?;
    if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        Ok(())
    } else {
        Err(CliError::stdout_line(format!("No such tunable {name}")))
    }
}

/// Gets one tunable as `getvar` does (also used by `listvars`).
pub async fn get<L: Link>(session: &mut Session<L>, name: &str) -> Result<Tunable, CliError> {
    check_listed(session, name).await?;
    let value = session.tunable(name).await?;
    Ok(Tunable { name: name.to_string(), value })
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [name] = args else {
        return Err(usage("getvar"));
    };
    let tunable = get(session, name).await?;
    Ok(cx.reply(&tunable))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn name_is_echoed_as_typed() {
        let cx = RenderCx::new(Zone::Utc);
        let r = Tunable { name: "monitorinterval".into(), value: 15 };
        assert_eq!(r.text(&cx), include_str!("../../tests/expected/B_getvar.txt"));
        assert_eq!(r.machine(&cx), r.text(&cx));
    }
}
