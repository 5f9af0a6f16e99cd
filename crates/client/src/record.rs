//! Volatile record access the way Samba's smbd does it (legacy-protocol.md
//! 3.3, 3.4): attach through the daemon, open the daemon's TDB file with
//! the flags it reports, and to lock a record take its chain lock in the
//! file; if this node is not the record's dmaster, let go, ask the daemon
//! to migrate it here (REQ_CALL NULL_FUNC with IMMEDIATE_MIGRATION), and
//! try again. Writes go straight into the file, keeping the header.

use std::path::PathBuf;
use std::time::Duration;

use ctdb_legacy_proto::{call, pnn, CString, LtdbHeader, Opcode, ReqCall, Wire, LTDB_HEADER_LEN};
use ctdb_tdb::Tdb;

use crate::{Client, ClientError};

/// How many migrations a lock attempt may ask for before giving up (each
/// one can be lost to a competing node; Samba loops forever).
const MAX_MIGRATIONS: u32 = 1000;

/// An attached volatile database, opened locally.
pub struct VolatileDb {
    /// Database id.
    pub db_id: u32,
    /// The daemon's file.
    pub path: PathBuf,
    tdb: Tdb,
    pnn: u32,
}

/// A locked record: the chain lock is held until this is dropped.
pub struct Locked<'a> {
    db: &'a mut VolatileDb,
    key: Vec<u8>,
    /// The record's header (this node is its dmaster).
    pub header: LtdbHeader,
    /// The record's data (empty for a new or deleted record).
    pub data: Vec<u8>,
    /// Migrations it took to get the record here.
    pub migrations: u32,
}

fn tdb_err(e: ctdb_tdb::TdbError) -> ClientError {
    ClientError::Io(std::io::Error::other(e.to_string()))
}

impl VolatileDb {
    /// Attach `name` (DB_ATTACH), find its file (GETDBPATH) and flags
    /// (DB_OPEN_FLAGS), and open it.
    pub async fn attach(client: &Client, name: &str, timeout: Duration) -> Result<VolatileDb, ClientError> {
        let here = pnn::CURRENT_NODE;
        let ctl = |op: Opcode, data: Vec<u8>| client.control(here, op, 0, 0, data, timeout);
        let r = ctl(Opcode::DB_ATTACH, CString(name.to_string()).to_bytes()).await?;
        let db_id = ok_data(Opcode::DB_ATTACH, &r).and_then(|d| u32::from_bytes(&d).map_err(ClientError::Proto))?;
        let r = ctl(Opcode::GETDBPATH, db_id.to_bytes()).await?;
        let path = CString::from_bytes(&ok_data(Opcode::GETDBPATH, &r)?).map_err(ClientError::Proto)?.0;
        let r = ctl(Opcode::DB_OPEN_FLAGS, db_id.to_bytes()).await?;
        let flags = i32::from_bytes(&ok_data(Opcode::DB_OPEN_FLAGS, &r)?).map_err(ClientError::Proto)?;
        let path = PathBuf::from(path);
        let tdb = Tdb::open(&path, 0, flags, libc::O_RDWR, 0).map_err(tdb_err)?;
        Ok(VolatileDb { db_id, path, tdb, pnn: client.pnn() })
    }

    /// Lock `key` on this node, migrating it here first if needed.
    pub async fn fetch_locked(
        &mut self,
        client: &Client,
        key: &[u8],
        timeout: Duration,
    ) -> Result<Locked<'_>, ClientError> {
        let mut migrations = 0;
        loop {
            self.tdb.chainlock(key).map_err(tdb_err)?;
            let value = match self.tdb.fetch(key) {
                Ok(v) => v,
                Err(e) => {
                    let _ = self.tdb.chainunlock(key);
                    return Err(tdb_err(e));
                }
            };
            if let Some(v) = value.filter(|v| v.len() >= LTDB_HEADER_LEN) {
                if let Ok((h, data)) = LtdbHeader::split(&v) {
                    if h.dmaster == self.pnn && h.flags & ctdb_legacy_proto::record_flags::RO_HAVE_DELEGATIONS == 0 {
                        let data = data.to_vec();
                        return Ok(Locked { db: self, key: key.to_vec(), header: h, data, migrations });
                    }
                }
            }
            let _ = self.tdb.chainunlock(key);
            if migrations >= MAX_MIGRATIONS {
                return Err(ClientError::Timeout);
            }
            migrations += 1;
            let req = ReqCall {
                flags: call::IMMEDIATE_MIGRATION,
                db_id: self.db_id,
                callid: call::NULL_FUNC,
                hopcount: 0,
                key: key.to_vec(),
                calldata: Vec::new(),
            };
            let r = client.call(req, timeout).await?;
            if r.status != 0 {
                return Err(ClientError::ControlFailed { opcode: Opcode(0), status: r.status, errmsg: None });
            }
        }
    }

    /// Read a record's value on this node without locking or migrating
    /// (only meaningful where this node is dmaster).
    pub fn local_value(&self, key: &[u8]) -> Result<Option<(LtdbHeader, Vec<u8>)>, ClientError> {
        let v = self.tdb.fetch(key).map_err(tdb_err)?;
        Ok(v.and_then(|v| LtdbHeader::split(&v).ok().map(|(h, d)| (h, d.to_vec()))))
    }
}

impl Locked<'_> {
    /// Store `data` under the record's header (as Samba does: no packet).
    pub fn store(&mut self, data: &[u8]) -> Result<(), ClientError> {
        let mut hb = Vec::with_capacity(LTDB_HEADER_LEN);
        self.header.encode(&mut hb);
        self.db.tdb.store_parts(&self.key, &[&hb, data]).map_err(tdb_err)?;
        self.data = data.to_vec();
        Ok(())
    }
}

impl Locked<'_> {
    /// Delete the record as Samba does: store the header alone, then ask
    /// the daemon to vacuum it (SCHEDULE_FOR_DELETION, no reply wanted).
    pub async fn delete(mut self, client: &Client) -> Result<(), ClientError> {
        self.store(&[])?;
        let kd = ctdb_legacy_proto::KeyData { db_id: self.db.db_id, header: self.header, key: self.key.clone() };
        let db_id = u64::from(self.db.db_id);
        client.control_noreply(pnn::CURRENT_NODE, Opcode::SCHEDULE_FOR_DELETION, db_id, kd.to_bytes()).await
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.db.tdb.chainunlock(&self.key);
    }
}

fn ok_data(op: Opcode, r: &ctdb_legacy_proto::ReplyControl) -> Result<Vec<u8>, ClientError> {
    if r.status != 0 {
        return Err(ClientError::ControlFailed { opcode: op, status: r.status, errmsg: r.errmsg.clone() });
    }
    Ok(r.data.clone())
}
