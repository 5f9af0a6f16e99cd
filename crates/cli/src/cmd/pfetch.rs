//! `ctdb pfetch DB KEY`: read a record of a persistent (or replicated)
//! database inside a read-only transaction (see [`crate::transaction`]):
//! its value up to the first NUL and a newline; a missing record prints an
//! empty line.

use serde::Serialize;

use super::{usage, Ctx};
use crate::db::{hex_bytes, parse_data, Field};
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};
use crate::transaction::{and_then_failed, attach_local, find_transactional, Transaction};

/// `ctdb pfetch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PFetch {
    /// The key (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
    /// The value, empty when missing (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl Render for PFetch {
    fn text(&self, _cx: &RenderCx) -> String {
        // printf("%.*s\n"): the value up to its first NUL.
        let end = self.data.iter().position(|&b| b == 0).unwrap_or(self.data.len());
        format!("{}\n", String::from_utf8_lossy(&self.data[..end]))
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [db_arg, key_arg] = args else {
        return Err(usage("pfetch"));
    };
    let db = find_transactional(session, db_arg).await?;
    let (attached, tdb) = attach_local(session, &db).await?;
    let key = parse_data(key_arg, Field::Key)?;
    let tx = Transaction::start(session, attached, tdb, true)
        .await
        .map_err(|e| e.then_line(format!("Failed to start transaction on db {}", db.name)))?;
    let data = match tx.fetch(&key) {
        Ok(data) => data,
        Err(ret) => {
            let e = CliError::stderr(format!("Failed to read record for key {key_arg}\n"), exit_code(ret));
            return Err(and_then_failed(e, tx.cancel(session).await));
        }
    };
    let reply = cx.reply(&PFetch { key, data });
    // The value is printed before the cancel, whose failure only shows.
    Ok(match tx.cancel(session).await {
        Ok(()) => reply,
        Err(e) => reply.with_stderr(e.stderr_text()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        // Observed: `pfetch p.tdb k1` (v1), a missing key, and 00 41.
        let r = |data: &[u8]| PFetch { key: b"k".to_vec(), data: data.to_vec() };
        assert_eq!(r(b"v1").text(&cx), "v1\n");
        assert_eq!(r(b"").text(&cx), "\n");
        assert_eq!(r(&[0, b'A']).text(&cx), "\n");
        assert_eq!(r(b"ab\0cd").machine(&cx), "ab\n");
    }
}
