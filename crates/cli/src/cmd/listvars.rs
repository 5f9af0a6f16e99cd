//! `ctdb listvars`: every listed tunable with its value.

use serde::Serialize;

use super::getvar::{get, tunable_line, Tunable};
use super::{no_args, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb listvars`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tunables {
    /// The node asked.
    pub node: u32,
    /// Tunables in the daemon's list order.
    pub tunables: Vec<Tunable>,
}

impl Render for Tunables {
    fn text(&self, _cx: &RenderCx) -> String {
        self.tunables.iter().map(|t| tunable_line(&t.name, t.value)).collect()
    }
}

/// Runs the command: LIST_TUNABLES, then for every name what `getvar`
/// does (LIST_TUNABLES and GET_TUNABLE again), as Samba's tool does. A
/// tunable that cannot be read is reported on standard error and skipped;
/// the command still succeeds.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("listvars", args)?;
    let names = session.list_tunables().await?;
    let mut tunables = Vec::with_capacity(names.len());
    let mut stderr = String::new();
    for name in names {
        match get(session, &name).await {
            Ok(t) => tunables.push(t),
            // A vanished daemon ends the command, as anywhere else.
            Err(CliError::Silent(code)) => return Err(CliError::Silent(code)),
            Err(e) => stderr.push_str(&e.stderr_text()),
        }
    }
    let reply = cx.reply(&Tunables { node: session.target(), tunables });
    Ok(if stderr.is_empty() { reply } else { reply.with_stderr(stderr) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn lines_in_list_order() {
        let expected = include_str!("../../tests/expected/B_listvars.txt");
        // Rebuild the result from the expected text itself: the point is the
        // exact layout of every line.
        let tunables = expected
            .lines()
            .map(|l| {
                let (name, value) = l.split_once(" = ").unwrap_or_default();
                Tunable { name: name.trim_end().to_string(), value: value.parse().unwrap_or_default() }
            })
            .collect::<Vec<_>>();
        assert_eq!(tunables.len(), 49);
        let r = Tunables { node: 0, tunables };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(r.text(&cx), expected);
        assert_eq!(r.machine(&cx), expected);
    }
}
