//! `ctdb setdbreadonly DB` / `ctdb setdbsticky DB`: enable read-only or
//! sticky records on a volatile database (SET_DB_READONLY / SET_DB_STICKY
//! to the target).

use serde::Serialize;

use ctdb_legacy_proto::{Opcode, Wire};

use super::{usage, Ctx};
use crate::db::find;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// Which flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DbFlag {
    /// `setdbreadonly`.
    Readonly,
    /// `setdbsticky`.
    Sticky,
}

impl DbFlag {
    /// The command for `name`.
    pub fn from_name(name: &str) -> Option<DbFlag> {
        match name {
            "setdbreadonly" => Some(DbFlag::Readonly),
            "setdbsticky" => Some(DbFlag::Sticky),
            _ => None,
        }
    }

    fn command(self) -> &'static str {
        match self {
            DbFlag::Readonly => "setdbreadonly",
            DbFlag::Sticky => "setdbsticky",
        }
    }

    fn label(self) -> &'static str {
        match self {
            DbFlag::Readonly => "READONLY",
            DbFlag::Sticky => "STICKY",
        }
    }

    fn opcode(self) -> Opcode {
        match self {
            DbFlag::Readonly => Opcode::SET_DB_READONLY,
            DbFlag::Sticky => Opcode::SET_DB_STICKY,
        }
    }
}

/// `ctdb setdbreadonly` / `setdbsticky` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DbFlagSet {
    /// The node changed.
    pub node: u32,
    /// Database id.
    pub db_id: u32,
    /// Name.
    pub name: String,
    /// The flag set.
    pub flag: DbFlag,
}

impl Render for DbFlagSet {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(
    flag: DbFlag,
    session: &mut Session<L>,
    cx: &Ctx,
    args: &[String],
) -> Result<Reply, CliError> {
    let [arg] = args else {
        return Err(usage(flag.command()));
    };
    let db = find(session, arg).await?;
    if !db.is_volatile() {
        return Err(CliError::line(format!("{} can be set only on volatile DB", flag.label())));
    }
    let dest = session.target();
    session.control_ok_to(dest, flag.opcode(), db.db_id.to_bytes()).await?;
    Ok(cx.reply(&DbFlagSet { node: dest, db_id: db.db_id, name: db.name, flag }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn silent_on_success() {
        let cx = RenderCx::new(Zone::Utc);
        let r = DbFlagSet { node: 0, db_id: 1, name: "a.tdb".into(), flag: DbFlag::Sticky };
        assert_eq!(r.text(&cx), "");
        assert_eq!(r.machine(&cx), "");
        assert_eq!(DbFlag::from_name("setdbreadonly"), Some(DbFlag::Readonly));
        assert_eq!(DbFlag::from_name("setdbsticky").map(DbFlag::label), Some("STICKY"));
    }
}
