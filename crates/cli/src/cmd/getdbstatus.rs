//! `ctdb getdbstatus DB`: one database's id, name, path, flags and health
//! (DB lookup on the local node, then GETDBPATH and DB_GET_HEALTH to the
//! target). `-X` prints the same text.

use serde::Serialize;

use ctdb_legacy_proto::db_flags;

use super::{usage, Ctx};
use crate::db::{db_health, dbpath, find};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb getdbstatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DbStatus {
    /// Database id.
    pub db_id: u32,
    /// Name.
    pub name: String,
    /// The daemon's file.
    pub path: String,
    /// Persistent.
    pub persistent: bool,
    /// Replicated.
    pub replicated: bool,
    /// Sticky records enabled.
    pub sticky: bool,
    /// Read-only records enabled.
    pub readonly: bool,
    /// Why the database is unhealthy (`None` = `OK`).
    pub health: Option<String>,
}

impl DbStatus {
    /// The status from the map's flags and the replies.
    pub fn new(db_id: u32, name: String, flags: u8, path: String, health: Option<String>) -> DbStatus {
        DbStatus {
            db_id,
            name,
            path,
            persistent: flags & db_flags::PERSISTENT != 0,
            replicated: flags & db_flags::REPLICATED != 0,
            sticky: flags & db_flags::STICKY != 0,
            readonly: flags & db_flags::READONLY != 0,
            health,
        }
    }
}

impl Render for DbStatus {
    fn text(&self, _cx: &RenderCx) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        format!(
            "dbid: 0x{:08x}\nname: {}\npath: {}\nPERSISTENT: {}\nREPLICATED: {}\nSTICKY: {}\nREADONLY: {}\nHEALTH: {}\n",
            self.db_id,
            self.name,
            self.path,
            yes(self.persistent),
            yes(self.replicated),
            yes(self.sticky),
            yes(self.readonly),
            self.health.as_deref().unwrap_or("OK")
        )
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [arg] = args else {
        return Err(usage("getdbstatus"));
    };
    let db = find(session, arg).await?;
    let dest = session.target();
    let path = dbpath(session, dest, db.db_id).await?;
    let health = db_health(session, dest, db.db_id).await?;
    Ok(cx.reply(&DbStatus::new(db.db_id, db.name, db.flags, path, health)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        // Observed: `getdbstatus 0x60369e52` and `-X getdbstatus ro1.tdb`.
        let s =
            DbStatus::new(0x60369e52, "pers1.tdb".into(), 0x01, "/tmp/refdb/db/persistent/pers1.tdb.0".into(), None);
        assert_eq!(
            s.text(&cx),
            "dbid: 0x60369e52\nname: pers1.tdb\npath: /tmp/refdb/db/persistent/pers1.tdb.0\nPERSISTENT: yes\n\
             REPLICATED: no\nSTICKY: no\nREADONLY: no\nHEALTH: OK\n"
        );
        let s = DbStatus::new(0x3803e575, "ro1.tdb".into(), 0x02, "/tmp/refdb/db/volatile/ro1.tdb.0".into(), None);
        let want = "dbid: 0x3803e575\nname: ro1.tdb\npath: /tmp/refdb/db/volatile/ro1.tdb.0\nPERSISTENT: no\n\
                    REPLICATED: no\nSTICKY: no\nREADONLY: yes\nHEALTH: OK\n";
        assert_eq!(s.text(&cx), want);
        assert_eq!(s.machine(&cx), want);
        let s = DbStatus::new(1, "r.tdb".into(), 0x0c, "/p".into(), Some("bad".into()));
        assert!(s.text(&cx).ends_with("REPLICATED: yes\nSTICKY: yes\nREADONLY: no\nHEALTH: bad\n"));
    }
}
