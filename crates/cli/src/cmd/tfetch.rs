//! `ctdb tfetch TDBFILE KEY [OUTFILE]`: read a record straight from a CTDB
//! TDB file (opened with no TDB flags, so a file with mutex locking does
//! not open): its ltdb header and data as `catdb` shows them, and with
//! OUTFILE the whole stored value (header included) written there.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Serialize;

use super::{usage, Ctx};
use crate::db::{dump_data, parse_data, Field, Record};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};

/// `ctdb tfetch`: the record (JSON: key, header fields, data in hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TFetch {
    /// The record.
    pub record: Record,
}

impl Render for TFetch {
    fn text(&self, _cx: &RenderCx) -> String {
        // Record::dump without the key line and the empty line after.
        let mut all = String::new();
        self.record.dump(&mut all);
        let mut key_line = String::new();
        dump_data(&mut key_line, "key", &self.record.key);
        let body = all.strip_prefix(&key_line).unwrap_or(&all);
        body.strip_suffix('\n').unwrap_or(body).to_string()
    }
}

/// Opens a TDB file as Samba's tool does for `tfetch`/`tstore`:
/// `tdb_open(path, 0, 0, O_RDWR, 0)`.
pub fn open_tdb_file(path: &str) -> Result<ctdb_tdb::Tdb, CliError> {
    ctdb_tdb::Tdb::open(Path::new(path), 0, 0, libc::O_RDWR, 0)
        .map_err(|_| CliError::line(format!("Failed to open TDB file {path}")))
}

/// Runs the command (after the preamble: Samba's tool connects first).
pub fn run(cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let (file, key_arg, out) = match args {
        [file, key] => (file, key, None),
        [file, key, out] => (file, key, Some(out)),
        _ => return Err(usage("tfetch")),
    };
    let tdb = open_tdb_file(file)?;
    let key = parse_data(key_arg, Field::Key)?;
    let Some(value) = tdb.fetch(&key).ok().flatten() else {
        return Err(CliError::line(format!("No record for key {key_arg}")));
    };
    let Some(record) = Record::from_value(key, &value) else {
        return Err(CliError::line(format!("Invalid record for key {key_arg}")));
    };
    drop(tdb);
    let mut stderr = String::new();
    if let Some(out) = out {
        let opened = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(out);
        match opened {
            Err(_) => stderr.push_str(&format!("Failed to open output file {out}\n")),
            Ok(mut f) => {
                if f.write_all(&value).is_err() {
                    stderr.push_str("Failed to write record to file\n");
                }
            }
        }
    }
    let reply = cx.reply(&TFetch { record });
    Ok(if stderr.is_empty() { reply } else { reply.with_stderr(stderr) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;
    use ctdb_legacy_proto::LtdbHeader;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        // Observed: `tstore t.tdb k3 v 0x10 3`, then `tfetch t.tdb k3`.
        let h = LtdbHeader { rsn: 16, dmaster: 3, reserved1: 0, flags: 0 };
        let t = TFetch { record: Record::new(b"k3".to_vec(), &h, b"v".to_vec()) };
        assert_eq!(t.text(&cx), "dmaster: 3\nrsn: 16\nflags: 0x00000000\ndata(1) = \"v\"\n");
        let h = LtdbHeader { rsn: 1, dmaster: 0, reserved1: 0, flags: 0x0004_0000 };
        let t = TFetch { record: Record::new(b"k".to_vec(), &h, vec![0, b'A']) };
        assert_eq!(t.machine(&cx), "dmaster: 0\nrsn: 1\nflags: 0x00040000 AUTOMATIC\ndata(2) = \"\\00A\"\n");
    }
}
