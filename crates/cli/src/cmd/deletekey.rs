//! `ctdb deletekey DB KEY`: delete a record of a volatile database: after
//! migrating it here (see [`crate::db::fetch_lock`]) its header alone is
//! stored and SCHEDULE_FOR_DELETION tells the daemon, which vacuums it
//! later. Silent on success.

use serde::Serialize;

use super::{usage, Ctx};
use crate::db::{attach, fetch_lock, find, hex_bytes, open_local, parse_data, Field};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb deletekey` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeleteKey {
    /// Database name.
    pub db: String,
    /// The key (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
}

impl Render for DeleteKey {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [db_arg, key_arg] = args else {
        return Err(usage("deletekey"));
    };
    let db = find(session, db_arg).await?;
    if !db.is_volatile() {
        return Err(CliError::line(format!("DB {} is not a volatile database", db.name)));
    }
    let failed = |e: CliError| e.then_line(format!("Failed to attach to DB {}", db.name));
    let attached = attach(session, &db.name, db.flags).await.map_err(failed)?;
    let tdb = open_local(&attached).map_err(failed)?;
    let key = parse_data(key_arg, Field::Key)?;
    let mut locked = fetch_lock(session, tdb, &attached.db, &key, false)
        .await
        .map_err(|e| e.then_line(format!("Failed to fetch record for key {key_arg}")))?;
    locked.delete(session).await.map_err(|e| e.then_line(format!("Failed to delete record for key {key_arg}")))?;
    drop(locked);
    Ok(cx.reply(&DeleteKey { db: db.name, key }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn silent() {
        let cx = RenderCx::new(Zone::Utc);
        let d = DeleteKey { db: "vol1.tdb".into(), key: b"key1".to_vec() };
        assert_eq!(d.text(&cx), "");
        assert_eq!(d.machine(&cx), "");
    }
}
