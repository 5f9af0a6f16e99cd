//! `ctdb pstore DB KEY VALUE` and `ctdb pdelete DB KEY`: one write to a
//! persistent (or replicated) database in its own transaction (see
//! [`crate::transaction`]). Silent on success; writing what is already
//! there (deleting a missing record) sends nothing.

use serde::Serialize;

use super::{usage, Ctx};
use crate::db::{hex_bytes, parse_data, Field};
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};
use crate::transaction::{and_then_failed, attach_local, find_transactional, Transaction};

/// Which of the two commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `pstore DB KEY VALUE`.
    Store,
    /// `pdelete DB KEY`.
    Delete,
}

/// `ctdb pstore` / `ctdb pdelete` (prints nothing; JSON shows the write).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PStore {
    /// Database name.
    pub db: String,
    /// The key (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
    /// The value written, empty for a delete (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl Render for PStore {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(op: Op, session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let (db_arg, key_arg, value_arg) = match (op, args) {
        (Op::Store, [db, key, value]) => (db, key, Some(value)),
        (Op::Delete, [db, key]) => (db, key, None),
        (Op::Store, _) => return Err(usage("pstore")),
        (Op::Delete, _) => return Err(usage("pdelete")),
    };
    let db = find_transactional(session, db_arg).await?;
    let (attached, tdb) = attach_local(session, &db).await?;
    let key = parse_data(key_arg, Field::Key)?;
    let data = match value_arg {
        Some(v) => parse_data(v, Field::Value)?,
        None => Vec::new(),
    };
    let mut tx = Transaction::start(session, attached, tdb, false)
        .await
        .map_err(|e| e.then_line(format!("Failed to start transaction on db {}", db.name)))?;
    if let Err(ret) = tx.store(&key, &data) {
        let what = match op {
            Op::Store => "store",
            Op::Delete => "delete",
        };
        let e = CliError::stderr(format!("Failed to {what} record for key {key_arg}\n"), exit_code(ret));
        return Err(and_then_failed(e, tx.cancel(session).await));
    }
    if let Err(e) = tx.commit(session).await {
        let e = e.then_line(format!("Failed to commit transaction on db {}", db.name));
        return Err(and_then_failed(e, tx.cancel(session).await));
    }
    Ok(cx.reply(&PStore { db: db.name, key, data }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn silent() {
        let cx = RenderCx::new(Zone::Utc);
        let p = PStore { db: "p.tdb".into(), key: b"k".to_vec(), data: b"v".to_vec() };
        assert_eq!(p.text(&cx), "");
        assert_eq!(p.machine(&cx), "");
    }
}
