//! `ctdb backupdb DB FILE`: copy this node's records of a database into a
//! backup file (format in [`crate::backup`]) by reading the daemon's file
//! directly.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::OpenOptionsExt;

use serde::Serialize;

use super::{usage, Ctx};
use crate::backup::{Buffer, Header, HEADER_LEN, MAX_REC_BUFFER_SIZE, VERSION};
use crate::db::{attach, find, open_local, EIO};
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb backupdb`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// Database name.
    pub db: String,
    /// The file written.
    pub file: String,
    /// Records saved.
    pub records: u64,
    /// Buffers written.
    pub buffers: u64,
}

impl Render for Backup {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("Database backed up to {}\n", self.file)
    }
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(EIO)
}

/// Runs the command. The file is opened without truncation, as Samba's
/// tool does (`O_RDWR|O_CREAT`, mode 0600): a longer old file keeps its
/// tail.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [db_arg, file] = args else {
        return Err(usage("backupdb"));
    };
    let db = find(session, db_arg).await?;
    let failed = |e: CliError| e.then_line(format!("Failed to attach to DB {}", db.name));
    let attached = attach(session, &db.name, db.flags).await.map_err(failed)?;
    let tdb = open_local(&attached).map_err(failed)?;
    let mut out = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(file)
        .map_err(|e| CliError::stderr(format!("Failed to open file {file} for writing\n"), exit_code(errno(&e))))?;
    let header_failed =
        |e: std::io::Error| CliError::stderr(format!("Failed to write header to file {file}\n"), exit_code(errno(&e)));
    out.write_all(&[0u8; HEADER_LEN]).map_err(header_failed)?;
    let records_failed = |e: &std::io::Error| {
        CliError::stderr("Failed to write records to backup file\n".to_string(), exit_code(errno(e)))
    };
    let (mut nbuf, mut nrec) = (0u64, 0u64);
    let mut buffer = Buffer { db_id: db.db_id, ..Buffer::default() };
    let mut write_error = None;
    let traversed = tdb.traverse_read(|key, value| {
        buffer.push(key, value);
        if buffer.len() < MAX_REC_BUFFER_SIZE {
            return ControlFlow::Continue(());
        }
        if let Err(e) = buffer.write_to(&mut out) {
            write_error = Some(e);
            return ControlFlow::Break(());
        }
        nbuf += 1;
        nrec += u64::from(buffer.count);
        buffer = Buffer { db_id: db.db_id, ..Buffer::default() };
        ControlFlow::Continue(())
    });
    if let Some(e) = write_error {
        return Err(records_failed(&e)
            .then_line(format!("Failed to collect records from DB {}", db.name))
            .with_exit(exit_code(errno(&e))));
    }
    if traversed.is_err() {
        return Err(CliError::stderr(format!("Failed to collect records from DB {}\n", db.name), EIO));
    }
    if !buffer.is_empty() {
        buffer.write_to(&mut out).map_err(|e| records_failed(&e))?;
        nbuf += 1;
        nrec += u64::from(buffer.count);
    }
    let header = Header {
        version: VERSION,
        timestamp: chrono::Utc::now().timestamp(),
        flags: u64::from(db.flags),
        nbuf,
        nrec,
        name: db.name.clone(),
    };
    out.seek(SeekFrom::Start(0)).map_err(header_failed)?;
    out.write_all(&header.to_bytes()).map_err(header_failed)?;
    Ok(cx.reply(&Backup { db: db.name, file: file.clone(), records: nrec, buffers: nbuf }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        let b = Backup { db: "vol1.tdb".into(), file: "/tmp/refdb/b1".into(), records: 1, buffers: 1 };
        assert_eq!(b.text(&cx), "Database backed up to /tmp/refdb/b1\n");
        assert_eq!(b.machine(&cx), "Database backed up to /tmp/refdb/b1\n");
    }
}
