//! `ctdb attach NAME [persistent|replicated|readonly|sticky]`: attach a
//! database as Samba's client library does (see [`crate::db::attach`]),
//! then open its file as the library does. Silent on success.

use serde::Serialize;

use ctdb_legacy_proto::db_flags;

use super::{usage, Ctx};
use crate::db::{attach, open_local};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb attach` (prints nothing; JSON shows what was attached).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attach {
    /// Database id.
    pub db_id: u32,
    /// Name.
    pub name: String,
    /// The daemon's file.
    pub path: String,
    /// The flags asked for.
    pub flags: u8,
}

impl Render for Attach {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// The database flag for the optional second argument.
pub fn parse_flag(word: &str) -> Option<u8> {
    match word {
        "persistent" => Some(db_flags::PERSISTENT),
        "readonly" => Some(db_flags::READONLY),
        "sticky" => Some(db_flags::STICKY),
        "replicated" => Some(db_flags::REPLICATED),
        _ => None,
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let (name, flags) = match args {
        [name] => (name, 0),
        [name, word] => (name, parse_flag(word).ok_or_else(|| usage("attach"))?),
        _ => return Err(usage("attach")),
    };
    let db = attach(session, name, flags).await?;
    open_local(&db)?;
    Ok(cx.reply(&Attach { db_id: db.db.db_id, name: db.db.name, path: db.path, flags }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn flags_and_output() {
        assert_eq!(parse_flag("persistent"), Some(1));
        assert_eq!(parse_flag("readonly"), Some(2));
        assert_eq!(parse_flag("sticky"), Some(4));
        assert_eq!(parse_flag("replicated"), Some(8));
        assert_eq!(parse_flag("bogus"), None);
        let cx = RenderCx::new(Zone::Utc);
        let a = Attach { db_id: 0xb61698e1, name: "vol1.tdb".into(), path: "/p".into(), flags: 0 };
        assert_eq!(a.text(&cx), "");
        assert_eq!(a.machine(&cx), "");
    }
}
