//! Persistent-database transactions as Samba's tool runs them for
//! `pfetch`, `pstore`, `pdelete` and `ptrans` (legacy-protocol.md 3.7):
//!
//! ```text
//! start   attach g_lock.tdb (DB_ATTACH, GETDBPATH, DB_GET_HEALTH, DB_OPEN_FLAGS)
//!         lock the record transaction_db_0x<id>\0 in it (REQ_CALL migration
//!         when not dmaster), add our entry (READ for pfetch, else WRITE);
//!         a conflicting holder: PROCESS_EXISTS on its node, gone ⇒ removed,
//!         alive ⇒ let go and try again
//! read    the write set, else the local file
//! write   into the write set (header: dmaster = us, rsn + 1; identical
//!         data skipped)
//! commit  nothing written ⇒ unlock only; else __db_sequence_number__ + 1,
//!         TRANS3_COMMIT (srvid = db id, no time limit); a failure status
//!         re-reads the sequence number: same ⇒ again, +1 ⇒ done, else EIO
//! unlock  remove our entry; an empty record is deleted (header only,
//!         SCHEDULE_FOR_DELETION)
//! ```
//!
//! The g_lock format, the write set and the retry rule are the client
//! library's ([`ctdb_client::persistent`]); this module drives them over the
//! tool's [`Session`], with the messages Samba's client library prints.

use std::time::Duration;

use ctdb_client::persistent::{
    decode_g_locks, encode_g_locks, fetch_local, samba_server_id, seqnum_from_data, transaction_lock_key,
    AfterFailedCommit, GLock, GLockKind, WriteSet, G_LOCK_DB, SEQNUM_KEY,
};
use ctdb_legacy_proto::{Opcode, ServerId, Wire};
use ctdb_tdb::Tdb;

use crate::db::{attach, fetch_lock, find, open_local, Attached, DbRef, Locked, EINVAL, EIO};
use crate::error::{exit_code, CliError};
use crate::session::{transport_errno, Link, Session};

/// errno of a g_lock asked for twice by the same holder.
const EDEADLK: i32 = 35;

/// Longest pause between two looks at a busy g_lock (Samba waits 1 ms).
const MAX_LOCK_PAUSE: Duration = Duration::from_millis(100);

/// Longest pause between two TRANS3_COMMITs (Samba sends again at once).
const MAX_COMMIT_PAUSE: Duration = Duration::from_millis(200);

/// A library failure: its lines so far and the errno the command returns.
fn failure(lines: String, ret: i32) -> CliError {
    CliError::stderr(lines, exit_code(ret))
}

/// The errno behind a failure (its exit code; the tool exits with the
/// errno itself).
fn ret_of(e: &CliError) -> i32 {
    match e.exit() {
        0 => EIO,
        r => r,
    }
}

/// An open transaction on a persistent or replicated database.
pub struct Transaction {
    db: Attached,
    tdb: Tdb,
    g_lock: Attached,
    key: Vec<u8>,
    /// The key as the library prints it (`%s` of the key: up to its NUL).
    key_name: String,
    sid: ServerId,
    readonly: bool,
    writes: WriteSet,
    pnn: u32,
}

impl Transaction {
    /// `ctdb_transaction_start`: attach g_lock.tdb, take the database's
    /// g_lock. `tdb` is the database's local file. A failure carries the
    /// library's lines; the command adds its own.
    pub async fn start<L: Link>(
        session: &mut Session<L>,
        db: Attached,
        tdb: Tdb,
        readonly: bool,
    ) -> Result<Transaction, CliError> {
        let name = db.db.name.clone();
        let g_lock = attach(session, G_LOCK_DB, 0)
            .await
            .map_err(|e| e.then_line(format!("transaction_start: {name} attach g_lock.tdb failed")))?;
        let key = transaction_lock_key(db.db.db_id);
        let key_name = format!("transaction_db_0x{:08x}", db.db.db_id);
        let pnn = session.local_pnn();
        let sid = samba_server_id(session.tool_pid(), pnn, db.db.db_id);
        let writes = WriteSet::new(db.db.db_id);
        let mut tx = Transaction { db, tdb, g_lock, key, key_name, sid, readonly, writes, pnn };
        if let Err(e) = tx.lock(session).await {
            let ret = ret_of(&e);
            return Err(e.then_line(format!("transaction_start: {name} g_lock lock failed, ret={ret}")));
        }
        Ok(tx)
    }

    /// Locks the g_lock record (`ctdb_fetch_lock` on g_lock.tdb).
    async fn lock_record<L: Link>(&self, session: &mut Session<L>, what: &str) -> Result<Locked, CliError> {
        let key_name = &self.key_name;
        let tdb = open_local(&self.g_lock).map_err(|e| e.then_line(format!("{what}: {key_name} fetch lock failed")))?;
        fetch_lock(session, tdb, &self.g_lock.db, &self.key, false)
            .await
            .map_err(|e| e.then_line(format!("{what}: {key_name} fetch lock failed")))
    }

    /// `ctdb_g_lock_lock`: add our entry once no live holder conflicts.
    async fn lock<L: Link>(&mut self, session: &mut Session<L>) -> Result<(), CliError> {
        let kind = if self.readonly { GLockKind::Read } else { GLockKind::Write };
        let key_name = self.key_name.clone();
        let mut pause = Duration::from_millis(1);
        // Holders found gone, removed from the record at the next look
        // (the record is never kept locked while waiting for a reply).
        let mut dead: Vec<ServerId> = Vec::new();
        loop {
            let holder = {
                let mut locked = self.lock_record(session, "g_lock_lock").await?;
                let Ok(mut locks) = decode_g_locks(locked.data()) else {
                    return Err(failure(format!("g_lock_lock: {key_name} invalid lock data\n"), EINVAL));
                };
                if locks.iter().any(|l| l.sid == self.sid) {
                    return Err(failure(format!("g_lock_lock: {key_name} deadlock\n"), EDEADLK));
                }
                let before = locks.len();
                locks.retain(|l| !dead.contains(&l.sid));
                let conflict = locks.iter().find(|l| l.kind.conflicts_with(kind)).copied();
                if conflict.is_none() {
                    locks.push(GLock { kind, sid: self.sid });
                }
                if conflict.is_none() || locks.len() != before {
                    store_locks(&mut locked, &locks)?;
                }
                match conflict {
                    None => return Ok(()),
                    Some(h) => h,
                }
            };
            let pid = holder.sid.pid as i32;
            let reply = session.control_raw(holder.sid.vnn, Opcode::PROCESS_EXISTS, 0, pid.to_bytes(), None).await;
            match reply {
                Ok(r) if r.status == 0 => {
                    session.sleep(pause).await;
                    pause = (pause * 2).min(MAX_LOCK_PAUSE);
                }
                Ok(_) => dead.push(holder.sid),
                Err(e) => {
                    let ret = transport_errno(&e)?;
                    return Err(failure(format!("g_lock_lock: {key_name} PROCESS_EXISTS failed, ret={ret}\n"), ret));
                }
            }
        }
    }

    /// `ctdb_g_lock_unlock`: remove our entry; delete an empty record.
    async fn unlock<L: Link>(&mut self, session: &mut Session<L>) -> Result<(), CliError> {
        let key_name = self.key_name.clone();
        let mut locked = self.lock_record(session, "g_lock_unlock").await?;
        let Ok(mut locks) = decode_g_locks(locked.data()) else {
            return Err(failure(format!("g_lock_unlock: {key_name} invalid lock data\n"), EINVAL));
        };
        if let Some(i) = locks.iter().position(|l| l.sid == self.sid) {
            locks.swap_remove(i);
        }
        if !locks.is_empty() {
            return store_locks(&mut locked, &locks);
        }
        locked.delete(session).await.map_err(|e| {
            let ret = ret_of(&e);
            e.then_line(format!("g_lock_unlock {key_name} delete record failed, ret={ret}"))
        })
    }

    /// `ctdb_transaction_fetch_record`: the newest write, else the local
    /// copy (empty when missing). Errors are errnos.
    pub fn fetch(&self, key: &[u8]) -> Result<Vec<u8>, i32> {
        if let Some((_, data)) = self.writes.lookup(key) {
            return Ok(data.to_vec());
        }
        fetch_local(&self.tdb, key).map(|(_, d)| d).map_err(|_| EIO)
    }

    /// `ctdb_transaction_store_record` (empty data deletes). Errors are
    /// errnos (EINVAL in a read-only transaction).
    pub fn store(&mut self, key: &[u8], data: &[u8]) -> Result<(), i32> {
        if self.readonly {
            return Err(EINVAL);
        }
        let current = match self.writes.lookup(key) {
            Some((h, d)) => (h, d.to_vec()),
            None => fetch_local(&self.tdb, key).map_err(|_| EIO)?,
        };
        self.writes.store(self.pnn, key, data, (current.0, &current.1));
        Ok(())
    }

    /// The local sequence number (`None` when the record is not 8 bytes).
    fn seqnum(&self) -> Result<Option<u64>, CliError> {
        let name = &self.db.db.name;
        match fetch_local(&self.tdb, SEQNUM_KEY) {
            Ok((_, data)) => Ok(seqnum_from_data(&data)),
            Err(_) => Err(failure(format!("transaction_commit: {name} seqnum fetch failed, ret={EIO}\n"), EIO)),
        }
    }

    /// `ctdb_transaction_commit`. Nothing written (or read-only): only the
    /// unlock. A failure carries the library's lines; the transaction is
    /// then still to be cancelled, as Samba's tool does.
    pub async fn commit<L: Link>(&mut self, session: &mut Session<L>) -> Result<(), CliError> {
        if self.readonly || self.writes.is_empty() {
            return self.cancel_inner(session).await;
        }
        let name = self.db.db.name.clone();
        let Some(old) = self.seqnum()? else {
            return Err(failure(String::new(), EINVAL));
        };
        self.store(SEQNUM_KEY, &old.wrapping_add(1).to_ne_bytes()).map_err(|ret| failure(String::new(), ret))?;
        let payload = self.writes.buffer().to_bytes();
        let db_id = u64::from(self.db.db.db_id);
        let local = session.local_pnn();
        let mut pause = Duration::from_millis(10);
        loop {
            match session.control_raw(local, Opcode::TRANS3_COMMIT, db_id, payload.clone(), None).await {
                Ok(r) if r.status == 0 => break,
                Ok(_) => {}
                Err(e) => {
                    let ret = transport_errno(&e)?;
                    return Err(failure(format!("transaction_commit: {name} TRANS3_COMMIT failed, ret={ret}\n"), ret));
                }
            }
            let Some(now) = self.seqnum()? else {
                return Err(failure(String::new(), EINVAL));
            };
            match AfterFailedCommit::decide(old, now) {
                AfterFailedCommit::Committed => break,
                AfterFailedCommit::Mismatch => {
                    let text = format!("transaction_commit: {name} seqnum mismatch 0x{now:x} != 0x{old:x} + 1\n");
                    return Err(failure(text, EIO));
                }
                AfterFailedCommit::Resend => {
                    session.sleep(pause).await;
                    pause = (pause * 2).min(MAX_COMMIT_PAUSE);
                }
            }
        }
        self.unlock(session).await.map_err(|e| {
            let ret = ret_of(&e);
            e.then_line(format!("transaction_commit: {name} g_lock unlock failed, ret={ret}"))
        })
    }

    async fn cancel_inner<L: Link>(&mut self, session: &mut Session<L>) -> Result<(), CliError> {
        let name = self.db.db.name.clone();
        self.unlock(session).await.map_err(|e| {
            let ret = ret_of(&e);
            e.then_line(format!("transaction_cancel: {name} g_lock unlock failed, ret={ret}"))
        })
    }

    /// `ctdb_transaction_cancel`: unlock without writing.
    pub async fn cancel<L: Link>(mut self, session: &mut Session<L>) -> Result<(), CliError> {
        self.cancel_inner(session).await
    }
}

/// Stores a g_lock list into the locked record (`ctdb_store_record`).
fn store_locks(locked: &mut Locked, locks: &[GLock]) -> Result<(), CliError> {
    locked.store(&encode_g_locks(locks)).map_err(|(line, ret)| {
        let text = line.map(|l| format!("{l}\n")).unwrap_or_default();
        failure(text, ret)
    })
}

/// Finds a database for a transaction command: it must be persistent or
/// replicated (`Transactions not supported on DB X`, exit 1).
pub async fn find_transactional<L: Link>(session: &mut Session<L>, arg: &str) -> Result<DbRef, CliError> {
    let db = find(session, arg).await?;
    if db.is_volatile() {
        return Err(CliError::line(format!("Transactions not supported on DB {}", db.name)));
    }
    Ok(db)
}

/// Attaches `db` and opens its local file (`Failed to attach to DB X`
/// after the library's lines on failure).
pub async fn attach_local<L: Link>(session: &mut Session<L>, db: &DbRef) -> Result<(Attached, Tdb), CliError> {
    let failed = |e: CliError| e.then_line(format!("Failed to attach to DB {}", db.name));
    let attached = attach(session, &db.name, db.flags).await.map_err(failed)?;
    let tdb = open_local(&attached).map_err(failed)?;
    Ok((attached, tdb))
}

/// The messages of a failure followed by those of a later one (the
/// cancel after a failed commit); the first failure's exit code stays.
pub fn and_then_failed(first: CliError, second: Result<(), CliError>) -> CliError {
    match second {
        Ok(()) => first,
        Err(e) => {
            let exit = first.exit();
            let more = e.stderr_text();
            match first {
                CliError::Message { stdout, stderr, .. } => {
                    CliError::Message { stdout, stderr: format!("{stderr}{more}"), exit }
                }
                CliError::Silent(code) => CliError::stderr(more, code),
                usage => usage,
            }
        }
    }
}
