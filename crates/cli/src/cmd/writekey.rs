//! `ctdb writekey DB KEY VALUE`: write a record of a volatile database in
//! the daemon's file, keeping its header, after migrating it to this node
//! when needed (see [`crate::db::fetch_lock`]). Silent on success.

use serde::Serialize;

use super::{usage, Ctx};
use crate::db::{attach, fetch_lock, find, hex_bytes, open_local, parse_data, Field};
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb writekey` (prints nothing; JSON shows what was written).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WriteKey {
    /// Database name.
    pub db: String,
    /// The key (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
    /// The value (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl Render for WriteKey {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [db_arg, key_arg, value_arg] = args else {
        return Err(usage("writekey"));
    };
    let db = find(session, db_arg).await?;
    if !db.is_volatile() {
        return Err(CliError::line(format!("DB {} is not a volatile database", db.name)));
    }
    let failed = |e: CliError| e.then_line(format!("Failed to attach to DB {}", db.name));
    let attached = attach(session, &db.name, db.flags).await.map_err(failed)?;
    let tdb = open_local(&attached).map_err(failed)?;
    let key = parse_data(key_arg, Field::Key)?;
    let data = parse_data(value_arg, Field::Value)?;
    // Samba's tool names the database argument here, not the key.
    let mut locked = fetch_lock(session, tdb, &attached.db, &key, false)
        .await
        .map_err(|e| e.then_line(format!("Failed to lock record for key {db_arg}")))?;
    if let Err((line, ret)) = locked.store(&data) {
        let mut text = line.map(|l| format!("{l}\n")).unwrap_or_default();
        text.push_str(&format!("Failed to store record for key {key_arg}\n"));
        return Err(CliError::stderr(text, exit_code(ret)));
    }
    drop(locked);
    Ok(cx.reply(&WriteKey { db: db.name, key, data }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn silent() {
        let cx = RenderCx::new(Zone::Utc);
        let w = WriteKey { db: "vol1.tdb".into(), key: b"key1".to_vec(), data: b"value1".to_vec() };
        assert_eq!(w.text(&cx), "");
        assert_eq!(w.machine(&cx), "");
    }
}
