//! `ctdb getdbseqnum DB`: the database's sequence number (GET_DB_SEQNUM to
//! the target), printed as `0x` hex.

use serde::Serialize;

use ctdb_legacy_proto::{DbIdPadded, Opcode, Wire};

use super::{usage, Ctx};
use crate::db::find;
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb getdbseqnum`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DbSeqnum {
    /// Database id.
    pub db_id: u32,
    /// Name.
    pub name: String,
    /// The value of `__db_sequence_number__` (0 when absent).
    pub seqnum: u64,
}

impl Render for DbSeqnum {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("0x{:x}\n", self.seqnum)
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [arg] = args else {
        return Err(usage("getdbseqnum"));
    };
    let db = find(session, arg).await?;
    let dest = session.target();
    let failed = |e: CliError| e.then_line(format!("Failed to get sequence number for DB {}", db.name));
    let data = session
        .control_ok_to(dest, Opcode::GET_DB_SEQNUM, DbIdPadded { db_id: db.db_id }.to_bytes())
        .await
        .map_err(failed)?;
    let seqnum = Session::<L>::decode::<u64>(Opcode::GET_DB_SEQNUM, dest, &data).map_err(failed)?;
    Ok(cx.reply(&DbSeqnum { db_id: db.db_id, name: db.name.clone(), seqnum }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn prints_hex_like_debian() {
        let cx = RenderCx::new(Zone::Utc);
        // Observed: `getdbseqnum vol1.tdb` (and `-X`) print `0x0`.
        let s = DbSeqnum { db_id: 0xb61698e1, name: "vol1.tdb".into(), seqnum: 0 };
        assert_eq!(s.text(&cx), "0x0\n");
        assert_eq!(s.machine(&cx), "0x0\n");
        let s = DbSeqnum { db_id: 1, name: "p.tdb".into(), seqnum: 0x3a };
        assert_eq!(s.text(&cx), "0x3a\n");
    }
}
