//! `ctdb getreclock`: the `cluster lock` setting of a node
//! (GET_RECLOCK_FILE).

use serde::Serialize;

use ctdb_legacy_proto::{CString, Opcode, Wire};

use super::{no_args, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb getreclock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GetReclock {
    /// The lock as configured (a path or `!helper args`); `None` when the
    /// node has no cluster lock (an empty reply), which prints nothing.
    pub cluster_lock: Option<String>,
}

impl Render for GetReclock {
    fn text(&self, _cx: &RenderCx) -> String {
        match &self.cluster_lock {
            Some(lock) => format!("{lock}\n"),
            None => String::new(),
        }
    }
}

/// Runs the command (`-X` prints the same, as Samba's tool does).
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("getreclock", args)?;
    let node = session.target();
    let data = session.control_ok_to(node, Opcode::GET_RECLOCK_FILE, Vec::new()).await?;
    let cluster_lock = if data.is_empty() {
        None
    } else {
        // The string runs to its NUL (or the end); text that is not UTF-8
        // is shown with replacement characters rather than refused.
        let text = match CString::from_prefix(&data) {
            Ok(s) => s.0,
            Err(_) => String::from_utf8_lossy(data.split(|b| *b == 0).next().unwrap_or_default()).into_owned(),
        };
        Some(text)
    };
    Ok(cx.reply(&GetReclock { cluster_lock }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn path_or_nothing() {
        let cx = RenderCx::new(Zone::Utc);
        let r = GetReclock { cluster_lock: Some("/tmp/clicap/cluster.lock".into()) };
        assert_eq!(r.text(&cx), "/tmp/clicap/cluster.lock\n");
        assert_eq!(r.machine(&cx), r.text(&cx));
        assert_eq!(GetReclock { cluster_lock: None }.text(&cx), "");
    }
}
