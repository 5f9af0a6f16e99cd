//! Persistent (and replicated) database access the way Samba's clients do
//! it (legacy-protocol.md 2.6, 3.7):
//!
//! * reads outside a transaction come straight from this node's copy of
//!   the database file, header stripped, with no packet at all;
//! * a transaction is guarded by a g_lock record, `transaction_db_0x%08x`
//!   and a NUL, in the volatile `g_lock.tdb`: the record is migrated here
//!   ([`VolatileDb::fetch_locked`]) and this holder's entry added to it,
//!   after any conflicting live holder has gone;
//! * reads inside see the transaction's own writes first;
//! * writes collect in a marshall buffer (header = the current one with
//!   this node as dmaster and rsn + 1), a commit adds
//!   `__db_sequence_number__` + 1 and sends it in one TRANS3_COMMIT; when
//!   that fails, the sequence number in the local file decides: unchanged
//!   ⇒ send again, one more ⇒ recovery applied it, anything else ⇒ error;
//! * the g_lock entry is removed at the end; an empty g_lock record is
//!   deleted (header only + SCHEDULE_FOR_DELETION).
//!
//! The g_lock record is in the format of Samba's CTDB client library (the
//! `ctdb` tool's): Samba 4.17's smbd keeps its own, different format in
//! g_lock.tdb, so a record an smbd holds decodes as invalid here
//! ([`ClientError::InvalidRecord`]), exactly as it does for Samba's tool.
//!
//! The building blocks (g_lock entries, the write set, the sequence number
//! and the retry rule) are public so that a tool with its own transport
//! (our `ctdb`) can drive the same steps.
//!
//! ```no_run
//! # async fn f(client: &ctdb_client::Client) -> Result<(), ctdb_client::ClientError> {
//! use std::time::Duration;
//! use ctdb_client::persistent::{PersistentDb, Transaction};
//!
//! let db = PersistentDb::attach(client, "registry.tdb", false, Duration::from_secs(10)).await?;
//! let mut tx = Transaction::start(client, &db, false, Duration::from_secs(10), Duration::from_secs(30)).await?;
//! tx.store(b"key", b"value")?;
//! tx.commit(Duration::from_secs(60)).await?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ctdb_legacy_proto::{
    pnn, CString, LtdbHeader, Opcode, ProtoError, RecBuffer, RecData, ServerId, Wire, LTDB_HEADER_LEN,
};
use ctdb_tdb::Tdb;

use crate::record::VolatileDb;
use crate::{Client, ClientError};

/// The volatile database holding the transaction locks.
pub const G_LOCK_DB: &str = "g_lock.tdb";

/// Key of the per-database sequence number record (with its NUL).
pub const SEQNUM_KEY: &[u8] = b"__db_sequence_number__\0";

/// Size of one [`GLock`] entry.
pub const G_LOCK_ENTRY_LEN: usize = 32;

/// Pause between two attempts to take a busy g_lock: short and constant,
/// as in Samba's client, so the next holder starts as soon as the lock is
/// free (a growing back-off leaves the lock idle and shares it unfairly).
const LOCK_RETRY: Duration = Duration::from_millis(1);

/// Longest pause between two TRANS3_COMMIT attempts.
const MAX_COMMIT_BACKOFF: Duration = Duration::from_millis(200);

/// The g_lock key guarding transactions on database `db_id`:
/// `transaction_db_0x%08x` (lowercase hex) followed by a NUL.
pub fn transaction_lock_key(db_id: u32) -> Vec<u8> {
    let mut key = format!("transaction_db_0x{db_id:08x}").into_bytes();
    key.push(0);
    key
}

/// Kind of a g_lock entry.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum GLockKind {
    /// Shared (wire 0).
    Read,
    /// Exclusive (wire 1).
    Write,
}

impl GLockKind {
    /// Whether a holder of `self` keeps out one asking for `other` (only
    /// two readers get along).
    pub fn conflicts_with(self, other: GLockKind) -> bool {
        !(self == GLockKind::Read && other == GLockKind::Read)
    }
}

/// One holder in a g_lock record, in the format of Samba's CTDB client
/// library (32 bytes): kind u32, 4 pad bytes, the holder's server id.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct GLock {
    /// Shared or exclusive.
    pub kind: GLockKind,
    /// Who holds it (its pid and node are checked for liveness).
    pub sid: ServerId,
}

impl GLock {
    /// Appends the 32-byte entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let kind: u32 = match self.kind {
            GLockKind::Read => 0,
            GLockKind::Write => 1,
        };
        kind.encode(out);
        out.extend_from_slice(&[0; 4]);
        self.sid.encode(out);
    }

    /// Decodes one 32-byte entry.
    pub fn decode(entry: &[u8]) -> Result<GLock, ProtoError> {
        let mut buf = entry;
        let kind = match u32::decode(&mut buf)? {
            0 => GLockKind::Read,
            1 => GLockKind::Write,
            _ => return Err(ProtoError::Malformed("g_lock entry of unknown type")),
        };
        if buf.len() < 4 {
            return Err(ProtoError::Malformed("g_lock entry truncated"));
        }
        buf = &buf[4..];
        let sid = ServerId::decode(&mut buf)?;
        Ok(GLock { kind, sid })
    }
}

/// A g_lock record's value: the holders, back to back. An empty value is
/// an empty list; a trailing partial entry is ignored (as Samba's library
/// does).
pub fn decode_g_locks(value: &[u8]) -> Result<Vec<GLock>, ProtoError> {
    value.chunks_exact(G_LOCK_ENTRY_LEN).map(GLock::decode).collect()
}

/// The value of a g_lock record holding `locks`.
pub fn encode_g_locks(locks: &[GLock]) -> Vec<u8> {
    let mut out = Vec::with_capacity(locks.len() * G_LOCK_ENTRY_LEN);
    for l in locks {
        l.encode(&mut out);
    }
    out
}

/// Samba's server id of a transaction holder: `pid`, task id = `db_id`,
/// vnn = `pnn`, unique id = `db_id` << 32 | `pid`.
pub fn samba_server_id(pid: u32, pnn: u32, db_id: u32) -> ServerId {
    ServerId { pid: u64::from(pid), task_id: db_id, vnn: pnn, unique_id: (u64::from(db_id) << 32) | u64::from(pid) }
}

/// A record as a transaction reads it from the local file (Samba's
/// `ctdb_ltdb_fetch`): a missing record, or a value shorter than the
/// header, reads as empty data under a header with dmaster unknown and
/// rsn 0. `Err` only when the file cannot be read.
pub fn fetch_local(tdb: &Tdb, key: &[u8]) -> Result<(LtdbHeader, Vec<u8>), ctdb_tdb::TdbError> {
    let missing = LtdbHeader { rsn: 0, dmaster: pnn::UNKNOWN, reserved1: 0, flags: 0 };
    Ok(match tdb.fetch(key)? {
        Some(v) if v.len() >= LTDB_HEADER_LEN => match LtdbHeader::split(&v) {
            Ok((h, d)) => (h, d.to_vec()),
            Err(_) => (missing, Vec::new()),
        },
        _ => (missing, Vec::new()),
    })
}

/// The sequence number stored in a `__db_sequence_number__` record's data
/// (header stripped): empty ⇒ 0, 8 bytes ⇒ a host-order u64, anything
/// else is invalid (`None`).
pub fn seqnum_from_data(data: &[u8]) -> Option<u64> {
    match data.len() {
        0 => Some(0),
        _ => <[u8; 8]>::try_from(data).ok().map(u64::from_ne_bytes),
    }
}

/// What to do after a TRANS3_COMMIT that failed (transport error or
/// status ≠ 0), from the sequence number read again in the local file.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum AfterFailedCommit {
    /// Unchanged: nothing was applied, send the same commit again.
    Resend,
    /// Exactly one more: a recovery applied the commit; it succeeded.
    Committed,
    /// Anything else: someone else's commit got in; an error.
    Mismatch,
}

impl AfterFailedCommit {
    /// Samba's rule, given the sequence number the commit started from and
    /// the one found now.
    pub fn decide(old: u64, now: u64) -> AfterFailedCommit {
        if now == old {
            AfterFailedCommit::Resend
        } else if Some(now) == old.checked_add(1) {
            AfterFailedCommit::Committed
        } else {
            AfterFailedCommit::Mismatch
        }
    }
}

/// The writes of a transaction: a marshall buffer of records (reqid 0,
/// key, ltdb header + data), appended in order; the newest copy of a key
/// wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSet {
    buffer: RecBuffer,
}

impl WriteSet {
    /// An empty write set for database `db_id`.
    pub fn new(db_id: u32) -> WriteSet {
        WriteSet { buffer: RecBuffer { db_id, records: Vec::new() } }
    }

    /// The newest write of `key`: its header and data (empty data is a
    /// deletion).
    pub fn lookup(&self, key: &[u8]) -> Option<(LtdbHeader, &[u8])> {
        self.buffer.records.iter().rev().find(|r| r.key == key).and_then(|r| r.split_header().ok())
    }

    /// Writes `data` under `key` as Samba's library does: `current` is the
    /// record as it stands (this write set's newest copy, else the local
    /// file's, see [`fetch_local`]); identical data is skipped (returns
    /// `false`); otherwise the record goes in with the current header,
    /// dmaster = `my_pnn` and rsn + 1. Empty `data` deletes.
    pub fn store(&mut self, my_pnn: u32, key: &[u8], data: &[u8], current: (LtdbHeader, &[u8])) -> bool {
        let (mut header, old) = current;
        if old == data {
            return false;
        }
        header.dmaster = my_pnn;
        header.rsn = header.rsn.wrapping_add(1);
        self.buffer.records.push(RecData::with_header(0, key.to_vec(), &header, data));
        true
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buffer.records.is_empty()
    }

    /// The marshall buffer (TRANS3_COMMIT's payload once the sequence
    /// number is in).
    pub fn buffer(&self) -> &RecBuffer {
        &self.buffer
    }
}

fn tdb_err(e: ctdb_tdb::TdbError) -> ClientError {
    ClientError::Io(std::io::Error::other(e.to_string()))
}

fn ok_data(op: Opcode, r: &ctdb_legacy_proto::ReplyControl) -> Result<Vec<u8>, ClientError> {
    if r.status != 0 {
        return Err(ClientError::ControlFailed { opcode: op, status: r.status, errmsg: r.errmsg.clone() });
    }
    Ok(r.data.clone())
}

/// An attached persistent (or replicated) database, with this node's file
/// open for reading.
pub struct PersistentDb {
    /// Database id.
    pub db_id: u32,
    /// Database name.
    pub name: String,
    /// The daemon's file.
    pub path: PathBuf,
    tdb: Tdb,
    /// `g_lock.tdb`, attached once for all this database's transactions
    /// (as Samba's clients keep it); one record lock at a time.
    g_lock: tokio::sync::Mutex<VolatileDb>,
}

impl PersistentDb {
    /// Attach `name` (DB_ATTACH_PERSISTENT, or DB_ATTACH_REPLICATED when
    /// `replicated`), find its file (GETDBPATH) and flags (DB_OPEN_FLAGS)
    /// and open it as Samba does (`O_RDWR`, the daemon's flags; this type
    /// only reads it).
    pub async fn attach(
        client: &Client,
        name: &str,
        replicated: bool,
        timeout: Duration,
    ) -> Result<PersistentDb, ClientError> {
        let here = pnn::CURRENT_NODE;
        let ctl = |op: Opcode, data: Vec<u8>| client.control(here, op, 0, 0, data, timeout);
        let op = if replicated { Opcode::DB_ATTACH_REPLICATED } else { Opcode::DB_ATTACH_PERSISTENT };
        let r = ctl(op, CString(name.to_string()).to_bytes()).await?;
        let db_id = u32::from_bytes(&ok_data(op, &r)?)?;
        let r = ctl(Opcode::GETDBPATH, db_id.to_bytes()).await?;
        let path = PathBuf::from(CString::from_bytes(&ok_data(Opcode::GETDBPATH, &r)?)?.0);
        let r = ctl(Opcode::DB_OPEN_FLAGS, db_id.to_bytes()).await?;
        let mut flags = i32::from_bytes(&ok_data(Opcode::DB_OPEN_FLAGS, &r)?)?;
        if flags & ctdb_tdb::flags::MUTEX_LOCKING != 0 && !ctdb_tdb::robust_mutexes_supported() {
            flags &= !ctdb_tdb::flags::MUTEX_LOCKING;
        }
        let tdb = Tdb::open(&path, 0, flags, libc::O_RDWR | libc::O_CLOEXEC, 0).map_err(tdb_err)?;
        let g_lock = VolatileDb::attach(client, G_LOCK_DB, timeout).await?;
        Ok(PersistentDb { db_id, name: name.to_string(), path, tdb, g_lock: tokio::sync::Mutex::new(g_lock) })
    }

    /// A record's value in this node's copy, outside any transaction
    /// (`None` when missing or deleted, i.e. empty).
    pub fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        let (_, data) = fetch_local(&self.tdb, key).map_err(tdb_err)?;
        Ok(Some(data).filter(|d| !d.is_empty()))
    }

    /// The record with its header as a transaction sees it (see
    /// [`fetch_local`]).
    pub fn fetch_with_header(&self, key: &[u8]) -> Result<(LtdbHeader, Vec<u8>), ClientError> {
        fetch_local(&self.tdb, key).map_err(tdb_err)
    }

    /// The database's sequence number in this node's copy (0 when there is
    /// none yet).
    pub fn seqnum(&self) -> Result<u64, ClientError> {
        let (_, data) = self.fetch_with_header(SEQNUM_KEY)?;
        seqnum_from_data(&data).ok_or_else(|| {
            ClientError::InvalidRecord(format!("{}: __db_sequence_number__ of {} bytes", self.name, data.len()))
        })
    }
}

/// Distinguishes the transactions of one process (see
/// [`Transaction::start`]).
static NEXT_HOLDER: AtomicU32 = AtomicU32::new(1);

/// An open transaction on a [`PersistentDb`]. End it with
/// [`Transaction::commit`] or [`Transaction::cancel`]: dropping it leaves
/// this holder's g_lock entry behind, which keeps other writers waiting
/// until this process disconnects from the daemon.
pub struct Transaction<'a> {
    client: &'a Client,
    db: &'a PersistentDb,
    key: Vec<u8>,
    sid: ServerId,
    readonly: bool,
    writes: WriteSet,
    timeout: Duration,
}

impl<'a> Transaction<'a> {
    /// Starts a transaction: takes the database's g_lock (shared when `readonly`, else exclusive).
    ///
    /// A conflicting holder whose process is gone (PROCESS_EXISTS on its
    /// node fails) is removed; while a live one holds the lock, the record
    /// is let go and asked for again every millisecond until `wait` has passed ([`ClientError::Timeout`]). Finding
    /// this very holder in the record is [`ClientError::Deadlock`].
    /// `timeout` bounds each control and migration.
    ///
    /// The holder id is Samba's (pid, task id = db id, this node) with a
    /// unique id of its own per transaction, so that several transactions
    /// of one process exclude each other instead of failing.
    pub async fn start(
        client: &'a Client,
        db: &'a PersistentDb,
        readonly: bool,
        timeout: Duration,
        wait: Duration,
    ) -> Result<Transaction<'a>, ClientError> {
        let deadline = Instant::now() + wait;
        let pid = std::process::id();
        let mut sid = samba_server_id(pid, client.pnn(), db.db_id);
        sid.unique_id = (u64::from(NEXT_HOLDER.fetch_add(1, Ordering::Relaxed)) << 32) | u64::from(pid);
        let mut tx = Transaction {
            client,
            db,
            key: transaction_lock_key(db.db_id),
            sid,
            readonly,
            writes: WriteSet::new(db.db_id),
            timeout,
        };
        tx.lock(deadline).await?;
        Ok(tx)
    }

    /// The g_lock key of this transaction.
    pub fn lock_key(&self) -> &[u8] {
        &self.key
    }

    /// This transaction's holder id in the g_lock record.
    pub fn server_id(&self) -> ServerId {
        self.sid
    }

    /// What was written so far.
    pub fn writes(&self) -> &WriteSet {
        &self.writes
    }

    async fn lock(&mut self, deadline: Instant) -> Result<(), ClientError> {
        let kind = if self.readonly { GLockKind::Read } else { GLockKind::Write };
        let name = String::from_utf8_lossy(&self.key[..self.key.len() - 1]).into_owned();
        // Holders found gone; removed from the record at the next look.
        let mut dead: Vec<ServerId> = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClientError::Timeout);
            }
            let step = self.timeout.min(remaining);
            let client = self.client;
            // The record's chain lock is never held across an await (with
            // mutex locking it belongs to the thread that took it), so the
            // liveness of a holder is checked after letting go, and a dead
            // holder removed on the next round.
            let conflict = {
                let mut g_lock = self.db.g_lock.lock().await;
                let mut locked = g_lock.fetch_locked(client, &self.key, step).await?;
                let mut locks = decode_g_locks(&locked.data)
                    .map_err(|e| ClientError::InvalidRecord(format!("g_lock {name}: {e}")))?;
                if locks.iter().any(|l| l.sid == self.sid) {
                    return Err(ClientError::Deadlock(name));
                }
                let before = locks.len();
                locks.retain(|l| !dead.contains(&l.sid));
                let conflict = locks.iter().find(|l| l.kind.conflicts_with(kind)).copied();
                if conflict.is_none() {
                    locks.push(GLock { kind, sid: self.sid });
                    locked.store(&encode_g_locks(&locks))?;
                    return Ok(());
                }
                if locks.len() != before {
                    locked.store(&encode_g_locks(&locks))?;
                }
                conflict
            };
            let Some(holder) = conflict else { continue };
            let pid = i32::try_from(holder.sid.pid).unwrap_or(-1);
            if !client.process_exists(holder.sid.vnn, pid, step).await? {
                dead.push(holder.sid);
                continue;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClientError::Timeout);
            }
            tokio::time::sleep(LOCK_RETRY.min(remaining)).await;
        }
    }

    /// Removes this holder from the g_lock record; an empty record is
    /// deleted (header only, SCHEDULE_FOR_DELETION).
    async fn unlock(&mut self) -> Result<(), ClientError> {
        let client = self.client;
        let mut g_lock = self.db.g_lock.lock().await;
        let mut locked = g_lock.fetch_locked(client, &self.key, self.timeout).await?;
        let mut locks = decode_g_locks(&locked.data)
            .map_err(|e| ClientError::InvalidRecord(format!("g_lock {}: {e}", String::from_utf8_lossy(&self.key))))?;
        if let Some(i) = locks.iter().position(|l| l.sid == self.sid) {
            locks.swap_remove(i);
        }
        if locks.is_empty() {
            locked.delete(client).await
        } else {
            locked.store(&encode_g_locks(&locks))
        }
    }

    /// Reads `key`: this transaction's newest write, else the local file.
    /// `None` when missing or deleted.
    pub fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        if let Some((_, data)) = self.writes.lookup(key) {
            return Ok(Some(data.to_vec()).filter(|d| !d.is_empty()));
        }
        self.db.fetch(key)
    }

    /// Writes `key` (see [`WriteSet::store`]); identical data is skipped.
    /// A read-only transaction refuses.
    pub fn store(&mut self, key: &[u8], data: &[u8]) -> Result<(), ClientError> {
        if self.readonly {
            return Err(ClientError::NotAllowed(format!("{}: store in a read-only transaction", self.db.name)));
        }
        let pnn = self.client.pnn();
        match self.writes.lookup(key) {
            Some((h, old)) => {
                let old = old.to_vec();
                self.writes.store(pnn, key, data, (h, &old));
            }
            None => {
                let (h, old) = self.db.fetch_with_header(key)?;
                self.writes.store(pnn, key, data, (h, &old));
            }
        }
        Ok(())
    }

    /// Deletes `key` (stores empty data).
    pub fn delete(&mut self, key: &[u8]) -> Result<(), ClientError> {
        self.store(key, &[])
    }

    /// Commits. With nothing written (or read-only) nothing is sent and the
    /// lock is released. Otherwise `__db_sequence_number__` + 1 is added
    /// and TRANS3_COMMIT sent to this node; when it fails (no reply in
    /// time, or a status ≠ 0) the local sequence number decides
    /// ([`AfterFailedCommit`]): the same commit is sent again (after a
    /// short pause, growing to 200 ms) until `deadline` has passed, then
    /// [`ClientError::Timeout`]. A connection that is gone is not retried.
    /// The lock is released in every case where the daemon can still be
    /// reached.
    pub async fn commit(mut self, deadline: Duration) -> Result<(), ClientError> {
        if self.readonly || self.writes.is_empty() {
            return self.unlock().await;
        }
        let result = self.send_commit(Instant::now() + deadline).await;
        let unlocked = self.unlock().await;
        result.and(unlocked)
    }

    async fn send_commit(&mut self, deadline: Instant) -> Result<(), ClientError> {
        let old = self.db.seqnum()?;
        let next = old.wrapping_add(1);
        self.store(SEQNUM_KEY, &next.to_ne_bytes())?;
        let payload = self.writes.buffer().to_bytes();
        let db_id = u64::from(self.db.db_id);
        let mut pause = Duration::from_millis(10);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClientError::Timeout);
            }
            let sent = self
                .client
                .control(pnn::CURRENT_NODE, Opcode::TRANS3_COMMIT, db_id, 0, payload.clone(), remaining)
                .await;
            let failure = match sent {
                Ok(r) if r.status == 0 => return Ok(()),
                Ok(r) => {
                    ClientError::ControlFailed { opcode: Opcode::TRANS3_COMMIT, status: r.status, errmsg: r.errmsg }
                }
                Err(e) => e,
            };
            let now = self.db.seqnum()?;
            match AfterFailedCommit::decide(old, now) {
                AfterFailedCommit::Committed => return Ok(()),
                AfterFailedCommit::Mismatch => {
                    return Err(ClientError::SeqnumMismatch { db: self.db.name.clone(), old, now })
                }
                AfterFailedCommit::Resend => {}
            }
            if matches!(failure, ClientError::Closed) {
                return Err(failure);
            }
            tracing::debug!(db = %self.db.name, error = %failure, "TRANS3_COMMIT failed; sending it again");
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(failure);
            }
            tokio::time::sleep(pause.min(remaining)).await;
            pause = (pause * 2).min(MAX_COMMIT_BACKOFF);
        }
    }

    /// Ends the transaction without writing: releases the lock.
    pub async fn cancel(mut self) -> Result<(), ClientError> {
        self.unlock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_lowercase_hex_with_nul() {
        assert_eq!(transaction_lock_key(0x7132c184), b"transaction_db_0x7132c184\0".to_vec());
        assert_eq!(transaction_lock_key(0xAB), b"transaction_db_0x000000ab\0".to_vec());
    }

    #[test]
    fn g_lock_entries_round_trip_in_32_bytes() {
        let sid = samba_server_id(4242, 1, 0x7132c184);
        assert_eq!(sid.unique_id, 0x7132_c184_0000_1092);
        let locks =
            vec![GLock { kind: GLockKind::Write, sid }, GLock { kind: GLockKind::Read, sid: ServerId::default() }];
        let bytes = encode_g_locks(&locks);
        assert_eq!(bytes.len(), 64);
        assert_eq!(&bytes[..8], &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&bytes[8..16], &4242u64.to_ne_bytes());
        assert_eq!(decode_g_locks(&bytes), Ok(locks));
        assert_eq!(decode_g_locks(&[]), Ok(Vec::new()));
        // A trailing partial entry is ignored; an unknown type is refused.
        assert_eq!(decode_g_locks(&bytes[..40]).map(|l| l.len()), Ok(1));
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert!(decode_g_locks(&bad).is_err());
    }

    #[test]
    fn only_readers_share() {
        assert!(!GLockKind::Read.conflicts_with(GLockKind::Read));
        assert!(GLockKind::Read.conflicts_with(GLockKind::Write));
        assert!(GLockKind::Write.conflicts_with(GLockKind::Read));
        assert!(GLockKind::Write.conflicts_with(GLockKind::Write));
    }

    #[test]
    fn the_retry_rule_is_samba_s() {
        assert_eq!(AfterFailedCommit::decide(5, 5), AfterFailedCommit::Resend);
        assert_eq!(AfterFailedCommit::decide(5, 6), AfterFailedCommit::Committed);
        assert_eq!(AfterFailedCommit::decide(5, 7), AfterFailedCommit::Mismatch);
        assert_eq!(AfterFailedCommit::decide(5, 4), AfterFailedCommit::Mismatch);
        assert_eq!(AfterFailedCommit::decide(u64::MAX, 0), AfterFailedCommit::Mismatch);
    }

    #[test]
    fn seqnums_are_eight_host_order_bytes() {
        assert_eq!(seqnum_from_data(&[]), Some(0));
        assert_eq!(seqnum_from_data(&7u64.to_ne_bytes()), Some(7));
        assert_eq!(seqnum_from_data(&[1, 2, 3]), None);
    }

    #[test]
    fn writes_bump_rsn_take_dmaster_and_skip_identical_data() {
        let mut w = WriteSet::new(0x1234);
        let missing = LtdbHeader { rsn: 0, dmaster: pnn::UNKNOWN, reserved1: 0, flags: 0 };
        // Identical (a delete of a missing record) is skipped.
        assert!(!w.store(2, b"k", b"", (missing, b"")));
        assert!(w.is_empty());
        assert!(w.store(2, b"k", b"v1", (missing, b"")));
        let (h, d) = w.lookup(b"k").expect("written");
        assert_eq!((h.rsn, h.dmaster, d), (1, 2, &b"v1"[..]));
        let on_disk = LtdbHeader { rsn: 9, dmaster: 0, reserved1: 0, flags: 0x0004_0000 };
        assert!(w.store(2, b"other", b"", (on_disk, b"old")));
        let (h, d) = w.lookup(b"other").expect("written");
        assert_eq!((h.rsn, h.dmaster, h.flags, d), (10, 2, 0x0004_0000, &b""[..]));
        // The newest copy of a key wins.
        let (h, old) = w.lookup(b"k").map(|(h, d)| (h, d.to_vec())).expect("written");
        assert!(w.store(2, b"k", b"v2", (h, &old)));
        let (h, d) = w.lookup(b"k").expect("written");
        assert_eq!((h.rsn, d), (2, &b"v2"[..]));
        let buf = w.buffer();
        assert_eq!((buf.db_id, buf.records.len()), (0x1234, 3));
        let bytes = buf.to_bytes();
        assert_eq!(&bytes[..8], &[0x34, 0x12, 0, 0, 3, 0, 0, 0]);
        // reqid 0, key length 1, data length 24 + 2.
        assert_eq!(&bytes[12..24], &[0, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0]);
    }

    #[test]
    fn local_reads_follow_ctdb_ltdb_fetch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.tdb");
        let mut tdb = Tdb::open(&path, 0, 0, libc::O_RDWR | libc::O_CREAT, 0o600).expect("open");
        let h = LtdbHeader { rsn: 3, dmaster: 1, reserved1: 0, flags: 0 };
        tdb.store(b"k", &h.join(b"v"), ctdb_tdb::StoreMode::Replace).expect("store");
        tdb.store(b"short", b"abc", ctdb_tdb::StoreMode::Replace).expect("store");
        tdb.store(SEQNUM_KEY, &h.join(&41u64.to_ne_bytes()), ctdb_tdb::StoreMode::Replace).expect("store");
        assert_eq!(fetch_local(&tdb, b"k").expect("read"), (h, b"v".to_vec()));
        let (mh, md) = fetch_local(&tdb, b"nope").expect("read");
        assert_eq!((mh.dmaster, mh.rsn, md.len()), (pnn::UNKNOWN, 0, 0));
        let (mh, _) = fetch_local(&tdb, b"short").expect("read");
        assert_eq!(mh.dmaster, pnn::UNKNOWN);
        let (_, d) = fetch_local(&tdb, SEQNUM_KEY).expect("read");
        assert_eq!(seqnum_from_data(&d), Some(41));
    }
}
