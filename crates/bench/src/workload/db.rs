//! What the database workloads share: the counter record they increment,
//! keys no earlier run used, per-request timeouts, and attaching a
//! database without opening its file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ctdb_client::Client;
use ctdb_legacy_proto::{pnn, CString, Opcode, Wire};

use super::Deadline;

/// Bytes of a counter record's data: a little-endian u64.
pub const COUNTER_LEN: usize = 8;

/// The counter a record's data holds: 0 for a record that does not exist
/// yet (no data), else exactly [`COUNTER_LEN`] bytes.
pub fn decode_counter(data: &[u8]) -> Result<u64> {
    match data.len() {
        0 => Ok(0),
        COUNTER_LEN => {
            let mut b = [0u8; COUNTER_LEN];
            b.copy_from_slice(data);
            Ok(u64::from_le_bytes(b))
        }
        n => bail!("counter record holds {n} bytes, stored {COUNTER_LEN}: corrupted"),
    }
}

/// The data of a counter record holding `v`.
pub fn encode_counter(v: u64) -> [u8; COUNTER_LEN] {
    v.to_le_bytes()
}

/// A tag no earlier run of this process (or of an earlier process, with
/// another pid) used, for the keys of one run: every run starts from
/// records that do not exist.
pub fn fresh_tag() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:x}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Timeout of one request: the client's default, but never past the
/// run's deadline (which fails once passed).
pub fn op_timeout(deadline: &Deadline, what: &str) -> Result<Duration> {
    deadline.check(what)?;
    Ok(deadline.remaining().min(ctdb_client::DEFAULT_TIMEOUT))
}

/// A database attached through the daemon (DB_ATTACH), with its file
/// (GETDBPATH) and the TDB flags to open it with (DB_OPEN_FLAGS), as
/// [`ctdb_client::record::VolatileDb::attach`] learns them.
#[derive(Clone, Debug)]
pub struct Attached {
    /// Database id.
    pub db_id: u32,
    /// The node's TDB file.
    pub path: PathBuf,
    /// TDB flags to open it with.
    pub tdb_flags: i32,
}

/// Attach volatile database `name` on `client`'s node without opening it.
pub async fn attach(client: &Client, name: &str, timeout: Duration) -> Result<Attached> {
    attach_as(client, name, Opcode::DB_ATTACH, timeout).await
}

/// Attach persistent database `name` on `client`'s node without opening it.
pub async fn attach_persistent(client: &Client, name: &str, timeout: Duration) -> Result<Attached> {
    attach_as(client, name, Opcode::DB_ATTACH_PERSISTENT, timeout).await
}

async fn attach_as(client: &Client, name: &str, opcode: Opcode, timeout: Duration) -> Result<Attached> {
    let here = pnn::CURRENT_NODE;
    let d = client.control_ok(here, opcode, CString(name.to_string()).to_bytes(), timeout).await?;
    let db_id = u32::from_bytes(&d).context("DB_ATTACH reply")?;
    let d = client.control_ok(here, Opcode::GETDBPATH, db_id.to_bytes(), timeout).await?;
    let path = PathBuf::from(CString::from_bytes(&d).context("GETDBPATH reply")?.0);
    let d = client.control_ok(here, Opcode::DB_OPEN_FLAGS, db_id.to_bytes(), timeout).await?;
    let tdb_flags = i32::from_bytes(&d).context("DB_OPEN_FLAGS reply")?;
    Ok(Attached { db_id, path, tdb_flags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip_and_reject_other_lengths() {
        assert_eq!(decode_counter(&[]).unwrap(), 0);
        assert_eq!(decode_counter(&encode_counter(0x1234_5678_9abc)).unwrap(), 0x1234_5678_9abc);
        assert!(decode_counter(&[1, 2, 3]).is_err());
        assert!(decode_counter(&[0; 9]).is_err());
    }

    #[test]
    fn tags_differ() {
        assert_ne!(fresh_tag(), fresh_tag());
    }
}
