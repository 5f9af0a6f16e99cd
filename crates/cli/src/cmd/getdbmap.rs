//! `ctdb getdbmap`: the attached databases, newest first (GET_DBMAP, then
//! GET_DBNAME, GETDBPATH and DB_GET_HEALTH per database, all to the target
//! node).

use serde::Serialize;

use ctdb_legacy_proto::db_flags;

use super::{no_args, Ctx};
use crate::db::{after_output, db_health, dbmap, dbname, dbpath};
use crate::error::CliError;
use crate::render::{render, Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// One database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DbEntry {
    /// Database id.
    pub db_id: u32,
    /// Name.
    pub name: String,
    /// The daemon's file.
    pub path: String,
    /// Persistent.
    pub persistent: bool,
    /// Sticky records enabled.
    pub sticky: bool,
    /// Read-only records enabled.
    pub readonly: bool,
    /// Replicated.
    pub replicated: bool,
    /// Why the database is unhealthy (`None` when healthy).
    pub unhealthy: Option<String>,
}

impl DbEntry {
    /// An entry from the map's flags and the three replies.
    pub fn new(db_id: u32, flags: u8, name: String, path: String, unhealthy: Option<String>) -> DbEntry {
        DbEntry {
            db_id,
            name,
            path,
            persistent: flags & db_flags::PERSISTENT != 0,
            sticky: flags & db_flags::STICKY != 0,
            readonly: flags & db_flags::READONLY != 0,
            replicated: flags & db_flags::REPLICATED != 0,
            unhealthy,
        }
    }

    fn text(&self) -> String {
        let mut line = format!("dbid:0x{:08x} name:{} path:{}", self.db_id, self.name, self.path);
        for (on, label) in [
            (self.persistent, " PERSISTENT"),
            (self.sticky, " STICKY"),
            (self.readonly, " READONLY"),
            (self.replicated, " REPLICATED"),
            (self.unhealthy.is_some(), " UNHEALTHY"),
        ] {
            if on {
                line.push_str(label);
            }
        }
        line.push('\n');
        line
    }

    fn machine(&self, cx: &RenderCx) -> String {
        let bit = |b: bool| if b { "1" } else { "0" }.to_string();
        cx.row([
            format!("0x{:08X}", self.db_id),
            self.name.clone(),
            self.path.clone(),
            bit(self.persistent),
            bit(self.sticky),
            bit(self.unhealthy.is_some()),
            bit(self.readonly),
            bit(self.replicated),
        ])
    }
}

/// `ctdb getdbmap`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DbMap {
    /// Number of databases in the map (the entries may be fewer when a
    /// control failed half-way).
    pub count: usize,
    /// The databases, newest first.
    pub dbs: Vec<DbEntry>,
}

const HEADER: [&str; 8] = ["ID", "Name", "Path", "Persistent", "Sticky", "Unhealthy", "Readonly", "Replicated"];

impl Render for DbMap {
    fn text(&self, _cx: &RenderCx) -> String {
        let mut out = format!("Number of databases:{}\n", self.count);
        for db in &self.dbs {
            out.push_str(&db.text());
        }
        out
    }

    fn machine(&self, cx: &RenderCx) -> String {
        let mut out = cx.row(HEADER);
        for db in &self.dbs {
            out.push_str(&db.machine(cx));
        }
        out
    }
}

/// Runs the command. As Samba's tool prints each database as it learns
/// about it, a control that fails half-way leaves the lines printed so far.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("getdbmap", args)?;
    let dest = session.target();
    let map = dbmap(session, dest).await?;
    let mut result = DbMap { count: map.dbs.len(), dbs: Vec::new() };
    for db in &map.dbs {
        let entry = async {
            let name = dbname(session, dest, db.db_id).await?;
            let path = dbpath(session, dest, db.db_id).await?;
            let health = db_health(session, dest, db.db_id).await?;
            Ok::<_, CliError>(DbEntry::new(db.db_id, db.flags, name, path, health))
        };
        match entry.await {
            Ok(e) => result.dbs.push(e),
            Err(e) => return Err(after_output(e, render(&result, &cx.format, &cx.render))),
        }
    }
    Ok(cx.reply(&result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hex;
    use crate::timefmt::Zone;
    use ctdb_legacy_proto::{DbidMap, Wire};

    /// GET_DBMAP reply and names/paths recorded from Debian's ctdbd after
    /// `attach vol1.tdb`, `attach pers1.tdb persistent`, `attach rep1.tdb
    /// replicated`, `attach ro1.tdb readonly`, `attach st1.tdb sticky`.
    fn recorded() -> DbMap {
        let map = DbidMap::from_bytes(&hex(
            "050000009f2b61a40400000075e5033802000000dc5cb41c08000000529e366001000000e19816b600000000",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let names = [
            ("st1.tdb", "/tmp/refdb/db/volatile/st1.tdb.0"),
            ("ro1.tdb", "/tmp/refdb/db/volatile/ro1.tdb.0"),
            ("rep1.tdb", "/tmp/refdb/db/volatile/rep1.tdb.0"),
            ("pers1.tdb", "/tmp/refdb/db/persistent/pers1.tdb.0"),
            ("vol1.tdb", "/tmp/refdb/db/volatile/vol1.tdb.0"),
        ];
        let dbs = map
            .dbs
            .iter()
            .zip(names)
            .map(|(d, (n, p))| DbEntry::new(d.db_id, d.flags, n.to_string(), p.to_string(), None))
            .collect();
        DbMap { count: map.dbs.len(), dbs }
    }

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(
            recorded().text(&cx),
            "Number of databases:5
dbid:0xa4612b9f name:st1.tdb path:/tmp/refdb/db/volatile/st1.tdb.0 STICKY
dbid:0x3803e575 name:ro1.tdb path:/tmp/refdb/db/volatile/ro1.tdb.0 READONLY
dbid:0x1cb45cdc name:rep1.tdb path:/tmp/refdb/db/volatile/rep1.tdb.0 REPLICATED
dbid:0x60369e52 name:pers1.tdb path:/tmp/refdb/db/persistent/pers1.tdb.0 PERSISTENT
dbid:0xb61698e1 name:vol1.tdb path:/tmp/refdb/db/volatile/vol1.tdb.0
"
        );
        assert_eq!(DbMap { count: 0, dbs: Vec::new() }.text(&cx), "Number of databases:0\n");
    }

    #[test]
    fn machine_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(
            recorded().machine(&cx),
            "|ID|Name|Path|Persistent|Sticky|Unhealthy|Readonly|Replicated|
|0xA4612B9F|st1.tdb|/tmp/refdb/db/volatile/st1.tdb.0|0|1|0|0|0|
|0x3803E575|ro1.tdb|/tmp/refdb/db/volatile/ro1.tdb.0|0|0|0|1|0|
|0x1CB45CDC|rep1.tdb|/tmp/refdb/db/volatile/rep1.tdb.0|0|0|0|0|1|
|0x60369E52|pers1.tdb|/tmp/refdb/db/persistent/pers1.tdb.0|1|0|0|0|0|
|0xB61698E1|vol1.tdb|/tmp/refdb/db/volatile/vol1.tdb.0|0|0|0|0|0|
"
        );
        let cx = cx.with_sep(";");
        assert_eq!(
            DbMap { count: 0, dbs: Vec::new() }.machine(&cx),
            ";ID;Name;Path;Persistent;Sticky;Unhealthy;Readonly;Replicated;\n"
        );
    }

    #[test]
    fn unhealthy_and_all_flags() {
        let cx = RenderCx::new(Zone::Utc);
        let e = DbEntry::new(0x1, 0x0f, "x.tdb".into(), "/p/x.tdb.0".into(), Some("corrupt".into()));
        assert_eq!(
            e.text(),
            "dbid:0x00000001 name:x.tdb path:/p/x.tdb.0 PERSISTENT STICKY READONLY REPLICATED UNHEALTHY\n"
        );
        assert_eq!(e.machine(&cx), "|0x00000001|x.tdb|/p/x.tdb.0|1|1|1|1|1|\n");
    }
}
