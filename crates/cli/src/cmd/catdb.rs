//! `ctdb catdb DB`: dump a database cluster-wide. The DB is looked up and
//! attached, then the target node traverses it: REGISTER_SRVID of the
//! library's traverse port (`0xBE00…` | pid), TRAVERSE_START_EXT (no
//! header-only records), one message per record until the empty end
//! marker, DEREGISTER_SRVID.

use serde::Serialize;

use ctdb_legacy_proto::{srvid, Opcode, RecData, TraverseStartExt, Wire};

use super::{usage, Ctx};
use crate::db::{after_output, attach, find, open_local, Record};
use crate::error::{exit_code, CliError};
use crate::render::{render, Render, RenderCx, Reply};
use crate::session::{transport_errno, Link, Session};

/// Records and the line ending the dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dump {
    /// The records in the order they came.
    pub records: Vec<Record>,
    /// `true` for `cattdb`/`dumpdbbackup` (`Dumped N record(s)`), `false`
    /// for `catdb` (`Dumped N records`).
    #[serde(skip)]
    pub local: bool,
}

impl Dump {
    /// The records without the closing line (what was printed before a
    /// failure).
    pub fn records_text(&self) -> String {
        let mut out = String::new();
        for r in &self.records {
            r.dump(&mut out);
        }
        out
    }
}

impl Render for Dump {
    fn text(&self, _cx: &RenderCx) -> String {
        let mut out = self.records_text();
        if self.local {
            out.push_str(&format!("Dumped {} record(s)\n", self.records.len()));
        } else {
            out.push_str(&format!("Dumped {} records\n", self.records.len()));
        }
        out
    }
}

/// Runs the command. Samba's tool prints the count even when the traverse
/// failed, then exits with the failure.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [arg] = args else {
        return Err(usage("catdb"));
    };
    let db = find(session, arg).await?;
    let attached = attach(session, &db.name, db.flags)
        .await
        .map_err(|e| e.then_line(format!("Failed to attach to DB {}", db.name)))?;
    open_local(&attached).map_err(|e| e.then_line(format!("Failed to attach to DB {}", db.name)))?;
    let dest = session.target();
    let mut dump = Dump { records: Vec::new(), local: false };
    let outcome = traverse(session, db.db_id, dest, &mut dump.records).await;
    let reply = cx.reply(&dump);
    match outcome {
        Ok(()) => Ok(reply),
        Err(e) => {
            let printed = render(&dump, &cx.format, &cx.render);
            Err(after_output(e, printed))
        }
    }
}

/// `ctdb_db_traverse`: the records of `db_id` as `dest` traverses it, in
/// arrival order. Header-only records and undecodable messages are
/// skipped, as the library does.
pub async fn traverse<L: Link>(
    session: &mut Session<L>,
    db_id: u32,
    dest: u32,
    records: &mut Vec<Record>,
) -> Result<(), CliError> {
    let port = srvid::CLIENT_TRAVERSE | u64::from(session.tool_pid());
    session.register_srvid(port).await.map_err(|e| CliError::stderr(String::new(), e.exit()))?;
    let start = TraverseStartExt { db_id, reqid: 0, srvid: port, withemptyrecords: false }.to_bytes();
    let timeout = session.timeout();
    let failure = match session.control_raw(dest, Opcode::TRAVERSE_START_EXT, 0, start, timeout).await {
        Ok(r) if r.status == 0 => None,
        Ok(r) => Some((format!("traverse: control reply failed, ret={}\n", r.status), r.status)),
        Err(e) => {
            let ret = transport_errno(&e)?;
            Some((format!("traverse: control failed, ret={ret}\n"), ret))
        }
    };
    if failure.is_none() {
        while let Some(data) = session.message_for(port, None).await? {
            if take_message(&data, records) {
                break;
            }
        }
    }
    // A failed deregistration decides the exit code, as in the library.
    let deregistered = session.deregister_srvid_checked(port).await;
    match (failure, deregistered) {
        (None, Ok(())) => Ok(()),
        (failure, deregistered) => {
            let (text, ret) = failure.unwrap_or_default();
            let exit = match deregistered {
                Err(e) => e.exit(),
                Ok(()) => exit_code(ret),
            };
            Err(CliError::stderr(text, exit))
        }
    }
}

/// One traverse message: a record is added unless it is header-only or
/// does not decode; `true` for the end marker.
pub fn take_message(data: &[u8], records: &mut Vec<Record>) -> bool {
    let Ok(rec) = RecData::from_bytes(data) else {
        return false;
    };
    if rec.is_end_marker() {
        return true;
    }
    if let Some(r) = Record::from_value(rec.key, &rec.data) {
        if !r.data.is_empty() {
            records.push(r);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hex;
    use crate::timefmt::Zone;

    #[test]
    fn text_matches_debian() {
        let cx = RenderCx::new(Zone::Utc);
        // The traverse messages Debian's ctdbd sent for `catdb vol1.tdb`.
        let messages = [
            "2e00000000000000030000001b0000006b657903000000000000000000000000000000000000000000000000ff41",
            "3200000000000000040000001e0000006b65793102000000000000000000000000000000000000000000000076616c756531",
            "2d000000000000000400000019000000686f743102000000000000000000000000000000000000000000000076",
            "10000000000000000000000000000000",
        ];
        let mut records = Vec::new();
        let ends: Vec<bool> = messages.iter().map(|m| take_message(&hex(m), &mut records)).collect();
        assert_eq!(ends, [false, false, false, true]);
        let dump = Dump { records, local: false };
        // What Debian's tool printed for them.
        let want = "key(3) = \"key\"
dmaster: 0
rsn: 3
flags: 0x00000000
data(3) = \"\\00\\FFA\"

key(4) = \"key1\"
dmaster: 0
rsn: 2
flags: 0x00000000
data(6) = \"value1\"

key(4) = \"hot1\"
dmaster: 0
rsn: 2
flags: 0x00000000
data(1) = \"v\"

Dumped 3 records
";
        assert_eq!(dump.text(&cx), want);
        // -X prints the same (observed).
        assert_eq!(dump.machine(&cx), want);
        assert_eq!(Dump { records: Vec::new(), local: false }.text(&cx), "Dumped 0 records\n");
        assert_eq!(Dump { records: Vec::new(), local: true }.text(&cx), "Dumped 0 record(s)\n");
    }

    #[test]
    fn header_only_and_garbage_messages_are_skipped() {
        let mut records = Vec::new();
        // key "k", 24-byte header and nothing else.
        let empty = "29000000000000000100000018000000".to_string() + "6b" + &"00".repeat(24);
        assert!(!take_message(&hex(&empty), &mut records));
        assert!(!take_message(&[1, 2, 3], &mut records));
        assert!(records.is_empty());
    }
}
