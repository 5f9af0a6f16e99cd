//! `ctdb readkey DB KEY [readonly]`: read a record of a volatile database
//! from the daemon's file, migrating it to this node first when needed
//! (see [`crate::db::fetch_lock`]).

use serde::Serialize;

use super::{usage, Ctx};
use crate::db::{attach, fetch_lock, find, hex_bytes, open_local, parse_data, Field};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb readkey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReadKey {
    /// The key (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
    /// The value without its header (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl Render for ReadKey {
    fn text(&self, _cx: &RenderCx) -> String {
        // printf("%.*s"): the value up to its first NUL, as raw bytes.
        let end = self.data.iter().position(|&b| b == 0).unwrap_or(self.data.len());
        format!("Data: size:{} ptr:[{}]\n", self.data.len(), String::from_utf8_lossy(&self.data[..end]))
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let (db_arg, key_arg, readonly) = match args {
        [db, key] => (db, key, false),
        [db, key, word] if word == "readonly" => (db, key, true),
        _ => return Err(usage("readkey")),
    };
    let db = find(session, db_arg).await?;
    if !db.is_volatile() {
        return Err(CliError::line(format!("DB {} is not a volatile database", db.name)));
    }
    let failed = |e: CliError| e.then_line(format!("Failed to attach to DB {}", db.name));
    let attached = attach(session, &db.name, db.flags).await.map_err(failed)?;
    let tdb = open_local(&attached).map_err(failed)?;
    let key = parse_data(key_arg, Field::Key)?;
    let locked = fetch_lock(session, tdb, &attached.db, &key, readonly)
        .await
        .map_err(|e| e.then_line(format!("Failed to read record for key {key_arg}")))?;
    let result = ReadKey { key, data: locked.data().to_vec() };
    drop(locked);
    Ok(cx.reply(&result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        // Observed: `readkey vol1.tdb key1`, `readkey vol1.tdb missing` and
        // (value 00 ff 41) `readkey vol1.tdb key`.
        let r = |data: &[u8]| ReadKey { key: b"k".to_vec(), data: data.to_vec() };
        assert_eq!(r(b"value1").text(&cx), "Data: size:6 ptr:[value1]\n");
        assert_eq!(r(b"").text(&cx), "Data: size:0 ptr:[]\n");
        assert_eq!(r(&[0, 0xff, b'A']).text(&cx), "Data: size:3 ptr:[]\n");
        assert_eq!(r(b"ab\0cd").machine(&cx), "Data: size:5 ptr:[ab]\n");
    }
}
