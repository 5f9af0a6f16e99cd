//! `ctdb dumpdbbackup FILE`: print the records of a backup file (format in
//! [`crate::backup`]) in the `catdb` format, header-only records included.
//! Needs no daemon.

use serde::Serialize;

use super::catdb::Dump;
use super::{usage, Ctx};
use crate::backup::{open_backup, Buffer};
use crate::db::{after_output, Record, EIO, EMSGSIZE};
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::timefmt::{backup_time, Timestamp};

/// `ctdb dumpdbbackup`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackupDump {
    /// The database the backup is of.
    pub name: String,
    /// When it was taken.
    pub timestamp: Timestamp,
    /// Its records.
    pub dump: Dump,
}

impl BackupDump {
    fn title(&self, cx: &RenderCx) -> String {
        format!("Dumping database {} from backup @ {}\n", self.name, backup_time(self.timestamp.sec, cx.zone))
    }
}

impl Render for BackupDump {
    fn text(&self, cx: &RenderCx) -> String {
        let mut out = self.title(cx);
        out.push_str(&self.dump.text(cx));
        out
    }
}

/// Runs the command.
pub fn run(cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    // Samba's tool prints the usage of a command that does not exist here.
    let [file] = args else {
        return Err(usage("dumpbackup"));
    };
    let (mut f, header) = open_backup(file)?;
    let mut result = BackupDump {
        name: header.name.clone(),
        timestamp: Timestamp { sec: header.timestamp, usec: 0 },
        dump: Dump { records: Vec::new(), local: true },
    };
    for _ in 0..header.nbuf {
        let failed = |text: &str, ret: i32, result: &BackupDump| {
            let printed = format!("{}{}", result.title(&cx.render), result.dump.records_text());
            after_output(CliError::stderr(format!("{text}\n"), exit_code(ret)), printed)
        };
        let buffer = match Buffer::read_from(&mut f) {
            Ok(b) => b,
            Err(e) => return Err(failed("Failed to read records", e.raw_os_error().unwrap_or(EIO), &result)),
        };
        let records = match buffer.records() {
            Ok(r) => r,
            Err(ret) => return Err(failed("Failed to dump records", ret, &result)),
        };
        for (key, value) in records {
            match Record::from_value(key, &value) {
                Some(r) => result.dump.records.push(r),
                None => return Err(failed("Failed to dump records", EMSGSIZE, &result)),
            }
        }
    }
    Ok(cx.reply(&result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;
    use ctdb_legacy_proto::LtdbHeader;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        // Debian's `dumpdbbackup` of its own backup of vol1.tdb (TZ=UTC).
        let header = LtdbHeader { rsn: 2, dmaster: 0, reserved1: 0, flags: 0 };
        let d = BackupDump {
            name: "vol1.tdb".into(),
            timestamp: Timestamp { sec: 0x6b02_997d, usec: 0 },
            dump: Dump { records: vec![Record::new(b"key".to_vec(), &header, vec![0, 0xff, b'A'])], local: true },
        };
        let want = "Dumping database vol1.tdb from backup @ 2026/11/22 07:27:57
key(3) = \"key\"
dmaster: 0
rsn: 2
flags: 0x00000000
data(3) = \"\\00\\FFA\"

Dumped 1 record(s)
";
        assert_eq!(d.text(&cx), want);
        assert_eq!(d.machine(&cx), want);
    }
}
