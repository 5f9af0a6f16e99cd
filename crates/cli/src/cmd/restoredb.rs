//! `ctdb restoredb FILE [NAME]`: replace a database's records on every
//! active node with a backup's (format in [`crate::backup`]):
//!
//! ```text
//! read the header; print "Restoring database …"; attach; nodemap;
//! generation; to every active node at once: DB_FREEZE,
//! DB_TRANSACTION_START, WIPE_DATABASE, DB_PUSH_START (port 0xCE02…);
//! each buffer as a message to every active node; DB_PUSH_CONFIRM (each
//! node must have got every record); DB_SET_HEALTHY,
//! DB_TRANSACTION_COMMIT, DB_THAW
//! any failure: SET_RECMODE(ACTIVE) to the local node, exit with it
//! ```

use std::fs::File;

use serde::Serialize;

use ctdb_legacy_proto::{srvid, Opcode, PullDbExt, TransDb, Wire};

use super::wipedb::{abort, prepare, step};
use super::{usage, Ctx};
use crate::backup::{open_backup, Buffer, Header};
use crate::db::{after_output, attach, open_local, EIO, EMSGSIZE};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};
use crate::timefmt::{backup_time, Timestamp};

/// `ctdb restoredb`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// The database restored into.
    pub db: String,
    /// When the backup was taken.
    pub timestamp: Timestamp,
    /// Records restored.
    pub records: u64,
    /// The nodes restored.
    pub nodes: Vec<u32>,
}

impl Restored {
    fn title(&self, cx: &RenderCx) -> String {
        format!("Restoring database {} from backup @ {}\n", self.db, backup_time(self.timestamp.sec, cx.zone))
    }
}

impl Render for Restored {
    fn text(&self, cx: &RenderCx) -> String {
        format!("{}Database {} restored\n", self.title(cx), self.db)
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let (file, name) = match args {
        [file] => (file, None),
        [file, name] => (file, Some(name)),
        _ => return Err(usage("restoredb")),
    };
    let (mut f, header) = open_backup(file)?;
    let mut result = Restored {
        db: name.cloned().unwrap_or_else(|| header.name.clone()),
        timestamp: Timestamp { sec: header.timestamp, usec: 0 },
        records: header.nrec,
        nodes: Vec::new(),
    };
    // The title is printed before anything else can fail.
    let title = result.title(&cx.render);
    let restored = restore(session, &mut f, &header, &mut result).await;
    match restored {
        Ok(()) => Ok(cx.reply(&result)),
        Err(e) => Err(after_output(e, title)),
    }
}

async fn restore<L: Link>(
    session: &mut Session<L>,
    f: &mut File,
    header: &Header,
    result: &mut Restored,
) -> Result<(), CliError> {
    let name = result.db.clone();
    let failed = |e: CliError| e.then_line(format!("Failed to attach to DB {name}"));
    let flags = (header.flags & 0xff) as u8;
    let attached = attach(session, &name, flags).await.map_err(failed)?;
    open_local(&attached).map_err(failed)?;
    let (nodes, generation) = prepare(session).await?;
    result.nodes = nodes.clone();
    let db_id = attached.db.db_id;
    let id = db_id.to_bytes();
    let trans = TransDb { db_id, tid: generation }.to_bytes();
    let push = PullDbExt { db_id, lmaster: 0, srvid: srvid::TOOL_PUSHDB }.to_bytes();
    for (opcode, data) in [
        (Opcode::DB_FREEZE, id.clone()),
        (Opcode::DB_TRANSACTION_START, trans.clone()),
        (Opcode::WIPE_DATABASE, trans.clone()),
        (Opcode::DB_PUSH_START, push),
    ] {
        if let Err(ret) = step(session, &nodes, opcode, data).await {
            return Err(abort(session, ret, "").await);
        }
    }
    for _ in 0..header.nbuf {
        let buffer = match Buffer::read_from(f) {
            Ok(b) => b,
            Err(e) => return Err(abort(session, e.raw_os_error().unwrap_or(EIO), "").await),
        };
        let message = buffer.to_message();
        for &node in &nodes {
            session.send_message(node, srvid::TOOL_PUSHDB, message.clone()).await?;
        }
    }
    let confirmed = match step(session, &nodes, Opcode::DB_PUSH_CONFIRM, id.clone()).await {
        Ok(replies) => replies,
        Err(ret) => return Err(abort(session, ret, "").await),
    };
    for (node, data) in nodes.iter().zip(confirmed) {
        // A reply of the wrong size fails in the library's unmarshalling,
        // silently, before the tool's `Invalid response from node N`.
        let Ok(count) = <[u8; 4]>::try_from(data.as_slice()).map(u32::from_ne_bytes) else {
            return Err(abort(session, EMSGSIZE, "").await);
        };
        if u64::from(count) != header.nrec {
            // Samba's tool goes on to fail with the last result, which was
            // a success: the exit code is 0.
            let text = format!("Node {node} received {count} of {} records\n", header.nrec);
            return Err(abort(session, 0, &text).await);
        }
    }
    for (opcode, data) in [
        (Opcode::DB_SET_HEALTHY, id.clone()),
        (Opcode::DB_TRANSACTION_COMMIT, trans.clone()),
        (Opcode::DB_THAW, id.clone()),
    ] {
        if let Err(ret) = step(session, &nodes, opcode, data).await {
            return Err(abort(session, ret, "").await);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        // Observed (TZ=UTC): `restoredb b1` and `restoredb b1 vol2.tdb`.
        let r = |db: &str| Restored {
            db: db.into(),
            timestamp: Timestamp { sec: 0x6b02_997d, usec: 0 },
            records: 1,
            nodes: vec![0],
        };
        let want = "Restoring database vol1.tdb from backup @ 2026/11/22 07:27:57\nDatabase vol1.tdb restored\n";
        assert_eq!(r("vol1.tdb").text(&cx), want);
        assert_eq!(r("vol1.tdb").machine(&cx), want);
        assert_eq!(
            r("vol2.tdb").text(&cx),
            "Restoring database vol2.tdb from backup @ 2026/11/22 07:27:57\nDatabase vol2.tdb restored\n"
        );
    }
}
