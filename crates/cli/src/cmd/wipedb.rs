//! `ctdb wipedb DB`: empty a database on every active node, inside a
//! database transaction of the current generation:
//!
//! ```text
//! DB lookup, attach; nodemap; generation (leader: GET_RECMODE, GETVNNMAP)
//! to every active node at once: DB_FREEZE, DB_TRANSACTION_START,
//!   WIPE_DATABASE, DB_SET_HEALTHY, DB_TRANSACTION_COMMIT, DB_THAW
//! any failure: SET_RECMODE(ACTIVE) to the local node, exit with it
//! ```

use serde::Serialize;

use ctdb_legacy_proto::{flags, recmode, Opcode, TransDb, Wire};

use super::recover::generation;
use super::{usage, Ctx};
use crate::db::{attach, control_multi, find, open_local, ENOMEM};
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb wipedb`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Wiped {
    /// Database name.
    pub db: String,
    /// The nodes wiped.
    pub nodes: Vec<u32>,
    /// The generation used as the transaction id.
    pub generation: u32,
}

impl Render for Wiped {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("Database {} wiped\n", self.db)
    }
}

/// The cached nodemap's nodes that are not inactive, and the current
/// generation, as the wipe and restore commands start.
pub async fn prepare<L: Link>(session: &mut Session<L>) -> Result<(Vec<u32>, u32), CliError> {
    let local = session.local_pnn();
    let map = match session.nodemap_from(local).await {
        Ok(map) => map.clone(),
        Err(e) => return Err(e.then_line("Failed to get nodemap").with_exit(ENOMEM)),
    };
    let generation = generation(session).await.map_err(|e| e.then_line("Failed to get current generation"))?;
    let active: Vec<u32> = map.nodes.iter().filter(|n| n.flags & flags::INACTIVE == 0).map(|n| n.pnn).collect();
    if active.is_empty() {
        return Err(CliError::Silent(ENOMEM));
    }
    Ok((active, generation))
}

/// One step of the transaction on every node; `Err(ret)` on the first
/// failure.
pub async fn step<L: Link>(
    session: &mut Session<L>,
    nodes: &[u32],
    opcode: Opcode,
    data: Vec<u8>,
) -> Result<Vec<Vec<u8>>, i32> {
    match control_multi(session, nodes, opcode, data).await {
        Ok(Ok(replies)) => Ok(replies),
        Ok(Err(ret)) => Err(ret),
        Err(e) => Err(e.exit()),
    }
}

/// After a failed step (`text` is what the command printed about it):
/// put the cluster into recovery, reporting a failure to do so as the
/// control error it is, and exit with the step's failure.
pub async fn abort<L: Link>(session: &mut Session<L>, ret: i32, text: &str) -> CliError {
    let local = session.local_pnn();
    let recovery = session.control_ok_to(local, Opcode::SET_RECMODE, recmode::ACTIVE.to_bytes()).await;
    let more = recovery.err().map(|e| e.stderr_text()).unwrap_or_default();
    CliError::stderr(format!("{text}{more}"), exit_code(ret))
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [arg] = args else {
        return Err(usage("wipedb"));
    };
    let db = find(session, arg).await?;
    let failed = |e: CliError| e.then_line(format!("Failed to attach to DB {}", db.name));
    let attached = attach(session, &db.name, db.flags).await.map_err(failed)?;
    open_local(&attached).map_err(failed)?;
    let (nodes, generation) = prepare(session).await?;
    let id = db.db_id.to_bytes();
    let trans = TransDb { db_id: db.db_id, tid: generation }.to_bytes();
    for (opcode, data) in [
        (Opcode::DB_FREEZE, id.clone()),
        (Opcode::DB_TRANSACTION_START, trans.clone()),
        (Opcode::WIPE_DATABASE, trans.clone()),
        (Opcode::DB_SET_HEALTHY, id.clone()),
        (Opcode::DB_TRANSACTION_COMMIT, trans.clone()),
        (Opcode::DB_THAW, id.clone()),
    ] {
        if let Err(ret) = step(session, &nodes, opcode, data).await {
            return Err(abort(session, ret, "").await);
        }
    }
    Ok(cx.reply(&Wiped { db: db.name, nodes, generation }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        let w = Wiped { db: "vol1.tdb".into(), nodes: vec![0], generation: 101909684 };
        assert_eq!(w.text(&cx), "Database vol1.tdb wiped\n");
        assert_eq!(w.machine(&cx), "Database vol1.tdb wiped\n");
    }
}
