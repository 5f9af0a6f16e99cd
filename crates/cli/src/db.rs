//! What the database commands share, as Samba's tool 4.17 does it
//! (legacy-protocol.md 4.7):
//!
//! * finding a database by name or `0x` id (`db_exists`): GET_DBMAP from
//!   the local node, then GET_DBNAME per database until the name matches
//!   (an id is looked up in the map, then its name asked once);
//! * attaching (`ctdb_attach` of the client library): DB_ATTACH /
//!   DB_ATTACH_PERSISTENT / DB_ATTACH_REPLICATED, GETDBPATH, DB_GET_HEALTH,
//!   SET_DB_READONLY / SET_DB_STICKY on every connected node when the flags
//!   ask for it, DB_OPEN_FLAGS, all to the local node;
//! * key and value arguments (`str_to_data`): the bytes as given, or
//!   `0x` followed by hex digits;
//! * the record dump of `catdb`, `cattdb` and `dumpdbbackup`.

use std::path::Path;

use serde::{Serialize, Serializer};

use ctdb_legacy_proto::{
    call, db_flags, flags, record_flags, DbidMap, KeyData, LtdbHeader, NodeMap, Opcode, ReqCall, Wire, LTDB_HEADER_LEN,
};
use ctdb_tdb::{StoreMode, Tdb};

use crate::error::{exit_code, CliError};
use crate::numparse::strtoull;
use crate::session::{opcode_name, transport_errno, Link, Session};

/// errno for an unhealthy database (`attach`) and I/O failures.
pub const EIO: i32 = 5;
/// errno for a failed allocation (the library's `tdb_wrap_open` failure).
pub const ENOMEM: i32 = 12;
/// errno for bad arguments.
pub const EINVAL: i32 = 22;
/// errno the client library returns for a payload of the wrong size.
pub const EMSGSIZE: i32 = 90;

/// A database found in the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DbRef {
    /// Database id.
    pub db_id: u32,
    /// Name (`locking.tdb`).
    pub name: String,
    /// [`db_flags`] from the map.
    pub flags: u8,
}

impl DbRef {
    /// Persistent or replicated: not a volatile database.
    pub fn is_volatile(&self) -> bool {
        self.flags & (db_flags::PERSISTENT | db_flags::REPLICATED) == 0
    }
}

/// A string reply (GET_DBNAME, GETDBPATH, DB_GET_HEALTH): the bytes up to
/// the first NUL. Names are ASCII in practice; other bytes are kept as
/// well as UTF-8 allows.
pub fn reply_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// `name` + NUL, as the C library sends a name (an empty name is one NUL
/// byte, unlike [`ctdb_legacy_proto::CString`]).
pub fn name_payload(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.push(0);
    v
}

/// GET_DBMAP of `dest`.
pub async fn dbmap<L: Link>(session: &mut Session<L>, dest: u32) -> Result<DbidMap, CliError> {
    let data = session.control_ok_to(dest, Opcode::GET_DBMAP, Vec::new()).await?;
    Session::<L>::decode::<DbidMap>(Opcode::GET_DBMAP, dest, &data)
}

/// A string-valued control about database `db_id` on `dest`.
async fn db_string<L: Link>(
    session: &mut Session<L>,
    dest: u32,
    opcode: Opcode,
    db_id: u32,
) -> Result<String, CliError> {
    let data = session.control_ok_to(dest, opcode, db_id.to_bytes()).await?;
    Ok(reply_string(&data))
}

/// GET_DBNAME of `db_id` on `dest`.
pub async fn dbname<L: Link>(session: &mut Session<L>, dest: u32, db_id: u32) -> Result<String, CliError> {
    db_string(session, dest, Opcode::GET_DBNAME, db_id).await
}

/// GETDBPATH of `db_id` on `dest`.
pub async fn dbpath<L: Link>(session: &mut Session<L>, dest: u32, db_id: u32) -> Result<String, CliError> {
    db_string(session, dest, Opcode::GETDBPATH, db_id).await
}

/// DB_GET_HEALTH of `db_id` on `dest`: `None` when healthy (empty reply).
pub async fn db_health<L: Link>(session: &mut Session<L>, dest: u32, db_id: u32) -> Result<Option<String>, CliError> {
    let data = session.control_ok_to(dest, Opcode::DB_GET_HEALTH, db_id.to_bytes()).await?;
    Ok((!data.is_empty()).then(|| reply_string(&data)))
}

/// Finds a database as Samba's `db_exists` does, asking the local node.
///
/// A miss prints `No database matching 'X' found`; every failure exits 1
/// (a failed control prints its own line first; an id that does not parse
/// prints nothing).
pub async fn find<L: Link>(session: &mut Session<L>, arg: &str) -> Result<DbRef, CliError> {
    let local = session.local_pnn();
    let map = dbmap(session, local).await.map_err(|e| e.with_exit(1))?;
    let no_match = || CliError::line(format!("No database matching '{arg}' found"));
    if arg.starts_with("0x") {
        // smb_strtoul(…, 0): "0xzz" is 0, an overflow fails silently; the
        // C code keeps the low 32 bits of the unsigned long.
        let Ok(id) = strtoull(arg) else {
            return Err(CliError::Silent(1));
        };
        let id = id as u32;
        let Some(db) = map.dbs.iter().find(|d| d.db_id == id) else {
            return Err(no_match());
        };
        let name = dbname(session, local, id).await.map_err(|e| e.with_exit(1))?;
        return Ok(DbRef { db_id: db.db_id, name, flags: db.flags });
    }
    for db in &map.dbs {
        match dbname(session, local, db.db_id).await {
            Ok(name) if name == arg => return Ok(DbRef { db_id: db.db_id, name, flags: db.flags }),
            Ok(_) => {}
            // db_find gives up at the first failure, and the caller then
            // reports a miss.
            Err(e) => return Err(e.then_line(format!("No database matching '{arg}' found")).with_exit(1)),
        }
    }
    Err(no_match())
}

/// A database this run is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    /// Id, name and the flags asked for.
    pub db: DbRef,
    /// The daemon's file.
    pub path: String,
    /// DB_OPEN_FLAGS: the TDB flags to open `path` with.
    pub tdb_flags: i32,
}

/// An `attach:` failure of the client library: its line, exit code `ret`.
fn attach_error(text: String, ret: i32) -> CliError {
    CliError::stderr(format!("{text}\n"), exit_code(ret))
}

/// Attaches to `name` with `flags` as `ctdb_attach` does (all controls to
/// the local node, bounded by `-t`). Failures print the library's line
/// (`attach: X failed to get db_id, ret=-1`) and exit with its code.
///
/// The caller opens [`Attached::path`] itself when it needs the records.
pub async fn attach<L: Link>(session: &mut Session<L>, name: &str, flags: u8) -> Result<Attached, CliError> {
    let local = session.local_pnn();
    let timeout = session.timeout();
    let (opcode, label) = if flags & db_flags::PERSISTENT != 0 {
        (Opcode::DB_ATTACH_PERSISTENT, "DB_ATTACH_PERSISTENT")
    } else if flags & db_flags::REPLICATED != 0 {
        (Opcode::DB_ATTACH_REPLICATED, "DB_ATTACH_REPLICATED")
    } else {
        (Opcode::DB_ATTACH, "DB_ATTACH")
    };
    let reply = match session.control_raw(local, opcode, 0, name_payload(name), timeout).await {
        Ok(r) => r,
        Err(e) => {
            let ret = transport_errno(&e)?;
            return Err(attach_error(format!("attach: {name} {label} failed, ret={ret}"), ret));
        }
    };
    let db_id = match reply_u32(reply.status, &reply.data) {
        Ok(id) => id,
        // Data of the wrong size fails in the library's unmarshalling, like
        // a transport failure.
        Err(EMSGSIZE) if reply.status == 0 => {
            return Err(attach_error(format!("attach: {name} {label} failed, ret={EMSGSIZE}"), EMSGSIZE))
        }
        Err(ret) => return Err(attach_error(format!("attach: {name} failed to get db_id, ret={ret}"), ret)),
    };
    let path = step(session, name, Opcode::GETDBPATH, "GETDBPATH", db_id).await?;
    let health = step(session, name, Opcode::DB_GET_HEALTH, "DB_GET_HEALTH", db_id).await?;
    if !health.is_empty() {
        return Err(attach_error(format!("attach: {name} database unhealthy ({health})"), EIO));
    }
    if flags & (db_flags::READONLY | db_flags::STICKY) != 0 {
        set_db_flags(session, db_id, flags)
            .await
            .map_err(|e| e.then_line(format!("attach: {name} set db flags 0x{flags:08x} failed")))?;
    }
    let reply = match session.control_raw(local, Opcode::DB_OPEN_FLAGS, 0, db_id.to_bytes(), timeout).await {
        Ok(r) => r,
        Err(e) => {
            let ret = transport_errno(&e)?;
            return Err(attach_error(format!("attach: {name} DB_OPEN_FLAGS failed, ret={ret}"), ret));
        }
    };
    let tdb_flags = match reply_u32(reply.status, &reply.data) {
        Ok(f) => f as i32,
        Err(EMSGSIZE) if reply.status == 0 => {
            return Err(attach_error(format!("attach: {name} DB_OPEN_FLAGS failed, ret={EMSGSIZE}"), EMSGSIZE))
        }
        Err(ret) => return Err(attach_error(format!("attach: {name} DB_OPEN_FLAGS parse failed, ret={ret}"), ret)),
    };
    Ok(Attached { db: DbRef { db_id, name: name.to_string(), flags }, path, tdb_flags })
}

/// A reply that must carry exactly one u32: the status when it failed,
/// EMSGSIZE when the size is wrong.
fn reply_u32(status: i32, data: &[u8]) -> Result<u32, i32> {
    if status != 0 {
        return Err(status);
    }
    match <[u8; 4]>::try_from(data) {
        Ok(b) => Ok(u32::from_ne_bytes(b)),
        Err(_) => Err(EMSGSIZE),
    }
}

/// GETDBPATH or DB_GET_HEALTH during attach, with the library's messages.
async fn step<L: Link>(
    session: &mut Session<L>,
    name: &str,
    opcode: Opcode,
    label: &str,
    db_id: u32,
) -> Result<String, CliError> {
    let local = session.local_pnn();
    let timeout = session.timeout();
    match session.control_raw(local, opcode, 0, db_id.to_bytes(), timeout).await {
        Ok(r) if r.status == 0 => Ok(reply_string(&r.data)),
        Ok(r) => Err(attach_error(format!("attach: {name} {label} parse failed, ret={}", r.status), r.status)),
        Err(e) => {
            let ret = transport_errno(&e)?;
            Err(attach_error(format!("attach: {name} {label} failed, ret={ret}"), ret))
        }
    }
}

/// `ctdb_set_db_flags`: a fresh GET_NODEMAP from the local node, then
/// SET_DB_READONLY and/or SET_DB_STICKY to every connected node.
async fn set_db_flags<L: Link>(session: &mut Session<L>, db_id: u32, flags: u8) -> Result<(), CliError> {
    let local = session.local_pnn();
    let timeout = session.timeout();
    let map = match session.control_raw(local, Opcode::GET_NODEMAP, 0, Vec::new(), timeout).await {
        Ok(r) if r.status == 0 => match NodeMap::from_prefix(&r.data) {
            Ok(m) => m,
            // Unmarshalling fails in the library, like a transport failure.
            Err(_) => {
                let text = format!("set_db_flags: 0x{db_id:08x} GET_NODEMAP failed, ret={EMSGSIZE}");
                return Err(attach_error(text, EMSGSIZE));
            }
        },
        Ok(r) => {
            let text = format!("set_db_flags: 0x{db_id:08x} GET_NODEMAP parse failed, ret={}", r.status);
            return Err(attach_error(text, r.status));
        }
        Err(e) => {
            let ret = transport_errno(&e)?;
            return Err(attach_error(format!("set_db_flags: 0x{db_id:08x} GET_NODEMAP failed, ret={ret}"), ret));
        }
    };
    let connected: Vec<u32> = map.nodes.iter().filter(|n| n.flags & flags::DISCONNECTED == 0).map(|n| n.pnn).collect();
    if connected.is_empty() {
        let text = format!("set_db_flags: 0x{db_id:08x} no connected nodes, count=0");
        return Err(attach_error(text, ENOMEM));
    }
    for (bit, opcode, label) in [
        (db_flags::READONLY, Opcode::SET_DB_READONLY, "SET_DB_READONLY"),
        (db_flags::STICKY, Opcode::SET_DB_STICKY, "SET_DB_STICKY"),
    ] {
        if flags & bit == 0 {
            continue;
        }
        if let Err(ret) = control_multi(session, &connected, opcode, db_id.to_bytes()).await? {
            return Err(attach_error(format!("set_db_flags: 0x{db_id:08x} {label} failed, ret={ret}"), ret));
        }
    }
    Ok(())
}

/// The same control to every node of `dests` at once, as
/// `ctdb_client_control_multi` does: `Err(first failure)` (an errno or a
/// reply status) when any node failed; the replies' data otherwise.
pub async fn control_multi<L: Link>(
    session: &mut Session<L>,
    dests: &[u32],
    opcode: Opcode,
    data: Vec<u8>,
) -> Result<Result<Vec<Vec<u8>>, i32>, CliError> {
    let replies = session.control_multi(dests, opcode, data).await;
    let mut out = Vec::with_capacity(replies.len());
    let mut first_error = None;
    for r in replies {
        match r {
            Ok(r) if r.status == 0 => out.push(r.data),
            Ok(r) => {
                first_error.get_or_insert(r.status);
            }
            Err(e) => {
                first_error.get_or_insert(transport_errno(&e)?);
            }
        }
    }
    Ok(match first_error {
        Some(ret) => Err(ret),
        None => Ok(out),
    })
}

/// Opens the daemon's file of an attached database as the client library
/// does (`tdb_wrap_open(path, 0, DB_OPEN_FLAGS, O_RDWR, 0)`; mutex locking
/// is dropped when robust mutexes do not work here).
pub fn open_local(db: &Attached) -> Result<Tdb, CliError> {
    let mut tdb_flags = db.tdb_flags;
    if tdb_flags & ctdb_tdb::flags::MUTEX_LOCKING != 0 && !ctdb_tdb::robust_mutexes_supported() {
        tdb_flags &= !ctdb_tdb::flags::MUTEX_LOCKING;
    }
    Tdb::open(Path::new(&db.path), 0, tdb_flags, libc::O_RDWR | libc::O_CLOEXEC, 0)
        .map_err(|_| attach_error(format!("attach: {} tdb_wrap_open failed", db.db.name), ENOMEM))
}

/// How many times a record is asked for before giving up (Samba's library
/// asks until it gets it; a record the daemon keeps handing elsewhere would
/// make it loop forever).
const MIGRATION_ATTEMPTS: usize = 1000;

/// A record locked in the daemon's file (`ctdb_fetch_lock`): its hash
/// chain stays locked until the handle is dropped.
pub struct Locked {
    tdb: Tdb,
    db: DbRef,
    key: Vec<u8>,
    /// The record's header.
    pub header: LtdbHeader,
    /// The stored value, header included.
    pub value: Vec<u8>,
    /// A read-only copy (read-only delegation): no store or delete.
    pub readonly: bool,
}

impl Drop for Locked {
    fn drop(&mut self) {
        // Samba's destructor logs a failure and carries on; so do we.
        let _ = self.tdb.chainunlock(&self.key);
    }
}

impl Locked {
    /// The value without its header.
    pub fn data(&self) -> &[u8] {
        self.value.get(LTDB_HEADER_LEN..).unwrap_or_default()
    }

    /// `ctdb_store_record`: header unchanged, new data; nothing happens when
    /// the stored bytes equal `data` (the library compares the whole stored
    /// value, header included). Errors are `(library line, errno)`.
    pub fn store(&mut self, data: &[u8]) -> Result<(), (Option<String>, i32)> {
        if self.readonly {
            return Err((None, EINVAL));
        }
        if self.value == data {
            return Ok(());
        }
        let header = self.header.to_bytes();
        self.tdb
            .store_parts(&self.key, &[&header, data])
            .map_err(|e| (Some(format!("store_record: {} tdb_storev failed, {}", self.db.name, tdb_errorstr(&e))), EIO))
    }

    /// `ctdb_delete_record`: stores the header alone, then SCHEDULE_FOR_DELETION
    /// to the local node (no time limit; its status is not looked at).
    pub async fn delete<L: Link>(&mut self, session: &mut Session<L>) -> Result<(), CliError> {
        let name = self.db.name.clone();
        if self.readonly {
            return Err(CliError::stderr(format!("fetch_lock delete: {name} readonly record\n"), EINVAL));
        }
        let header = self.header.to_bytes();
        if let Err(e) = self.tdb.store(&self.key, &header, StoreMode::Replace) {
            let text = format!("fetch_lock delete: {name} tdb_store failed, {}\n", tdb_errorstr(&e));
            return Err(CliError::stderr(text, EIO));
        }
        let data = KeyData { db_id: self.db.db_id, header: self.header, key: self.key.clone() }.to_bytes();
        let local = session.local_pnn();
        if let Err(e) = session.control_raw(local, Opcode::SCHEDULE_FOR_DELETION, 0, data, None).await {
            let ret = transport_errno(&e)?;
            let text = format!("delete_record: {name} SCHEDULE_FOR_DELETION failed, ret={ret}\n");
            return Err(CliError::stderr(text, exit_code(ret)));
        }
        Ok(())
    }
}

/// libtdb's text for an error (`tdb_errorstr`).
fn tdb_errorstr(e: &ctdb_tdb::TdbError) -> String {
    match e {
        ctdb_tdb::TdbError::Tdb { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

/// `ctdb_fetch_lock` on a volatile database: chain-lock the key and read
/// the record; when this node may not use its copy (not the dmaster, or
/// read-only delegations out while writing; for `readonly`, neither
/// dmaster nor holding a read-only copy), unlock, ask the daemon to
/// migrate it (REQ_CALL, IMMEDIATE_MIGRATION [| WANT_READONLY],
/// NULL_FUNC) and try again.
pub async fn fetch_lock<L: Link>(
    session: &mut Session<L>,
    tdb: Tdb,
    db: &DbRef,
    key: &[u8],
    readonly: bool,
) -> Result<Locked, CliError> {
    let pnn = session.local_pnn();
    let name = &db.name;
    for _ in 0..MIGRATION_ATTEMPTS {
        if let Err(e) = tdb.chainlock(key) {
            let text = format!("fetch_lock: {name} tdb_chainlock failed, {}\n", tdb_errorstr(&e));
            return Err(CliError::stderr(text, EIO));
        }
        let fetched = tdb.fetch(key);
        let usable = match &fetched {
            Err(_) => Err(EIO),
            Ok(None) => Ok(None),
            Ok(Some(value)) => match LtdbHeader::split(value) {
                Err(_) => Err(EMSGSIZE),
                Ok((header, _)) => {
                    let delegated = header.flags & record_flags::RO_HAVE_DELEGATIONS != 0;
                    let ro_copy = header.flags & (record_flags::RO_HAVE_READONLY | record_flags::RO_HAVE_DELEGATIONS);
                    let mine = if readonly {
                        header.dmaster == pnn || ro_copy != 0
                    } else {
                        header.dmaster == pnn && !delegated
                    };
                    Ok(mine.then_some((header, ro_copy != 0)))
                }
            },
        };
        match usable {
            Ok(Some((header, ro))) => {
                let value = fetched.ok().flatten().unwrap_or_default();
                return Ok(Locked { tdb, db: db.clone(), key: key.to_vec(), header, value, readonly: ro });
            }
            Ok(None) => {}
            Err(errno) => {
                if let Err(e) = tdb.chainunlock(key) {
                    let text = format!("fetch_lock: {name} tdb_chainunlock failed, {}\n", tdb_errorstr(&e));
                    return Err(CliError::stderr(text, EIO));
                }
                return Err(CliError::stderr(String::new(), errno));
            }
        }
        if let Err(e) = tdb.chainunlock(key) {
            let text = format!("fetch_lock: {name} tdb_chainunlock failed, {}\n", tdb_errorstr(&e));
            return Err(CliError::stderr(text, EIO));
        }
        let request = ReqCall {
            flags: call::IMMEDIATE_MIGRATION | if readonly { call::WANT_READONLY } else { 0 },
            db_id: db.db_id,
            callid: call::NULL_FUNC,
            hopcount: 0,
            key: key.to_vec(),
            calldata: Vec::new(),
        };
        match session.call(request).await {
            Ok(reply) if reply.status == 0 => {}
            Ok(_) => return Err(CliError::stderr(String::new(), EIO)),
            Err(e) => {
                let ret = transport_errno(&e)?;
                return Err(CliError::stderr(format!("fetch_lock: {name} CALL failed, ret={ret}\n"), exit_code(ret)));
            }
        }
    }
    Err(CliError::stderr(format!("fetch_lock: {name} record not migrated after {MIGRATION_ATTEMPTS} calls\n"), EIO))
}

/// Which argument [`parse_data`] reads, for its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `Failed to parse key X`.
    Key,
    /// `Failed to parse value X`.
    Value,
}

/// `str_to_data`: `0x…` is hex (an odd number of digits or a non-hex
/// character fails with EINVAL), anything else is taken byte for byte.
pub fn parse_data(arg: &str, field: Field) -> Result<Vec<u8>, CliError> {
    let what = match field {
        Field::Key => "key",
        Field::Value => "value",
    };
    let Some(hex) = arg.strip_prefix("0x") else {
        return Ok(arg.as_bytes().to_vec());
    };
    let fail = |first: String| CliError::stderr(format!("{first}\nFailed to parse {what} {arg}\n"), EINVAL);
    let bytes = hex.as_bytes();
    if bytes.len() % 2 != 0 {
        return Err(fail(format!("Key ({hex}) contains odd number of hex digits")));
    }
    let mut out = Vec::with_capacity(bytes.len() / 2);
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => out.push((hi << 4 | lo) as u8),
            _ => {
                let rest = String::from_utf8_lossy(&bytes[i * 2..]);
                return Err(fail(format!("Invalid hex: {rest}")));
            }
        }
    }
    Ok(out)
}

/// Serializes bytes as lowercase hex (keys and values in JSON).
pub fn hex_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// One record as the dump commands show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The key (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
    /// Node holding the authoritative copy.
    pub dmaster: u32,
    /// Record sequence number.
    pub rsn: u64,
    /// [`record_flags`].
    pub flags: u32,
    /// The value without its ltdb header (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl Record {
    /// A record from its key and header.
    pub fn new(key: Vec<u8>, header: &LtdbHeader, data: Vec<u8>) -> Record {
        Record { key, dmaster: header.dmaster, rsn: header.rsn, flags: header.flags, data }
    }

    /// A record from a stored value (header + data); `None` when the value
    /// is shorter than the header.
    pub fn from_value(key: Vec<u8>, value: &[u8]) -> Option<Record> {
        let (header, data) = LtdbHeader::split(value).ok()?;
        Some(Record::new(key, &header, data.to_vec()))
    }

    /// Samba's `dump_record`: key, header, data and an empty line.
    pub fn dump(&self, out: &mut String) {
        dump_data(out, "key", &self.key);
        out.push_str(&format!("dmaster: {}\n", self.dmaster));
        out.push_str(&format!("rsn: {}\n", self.rsn));
        out.push_str(&format!("flags: 0x{:08x}", self.flags));
        for (bit, label) in RECORD_FLAG_NAMES {
            if self.flags & bit != 0 {
                out.push(' ');
                out.push_str(label);
            }
        }
        out.push('\n');
        dump_data(out, "data", &self.data);
        out.push('\n');
    }
}

/// The record flags `dump_ltdb_header` names, in its order.
const RECORD_FLAG_NAMES: [(u32, &str); 7] = [
    (record_flags::MIGRATED_WITH_DATA, "MIGRATED_WITH_DATA"),
    (record_flags::VACUUM_MIGRATED, "VACUUM_MIGRATED"),
    (record_flags::AUTOMATIC, "AUTOMATIC"),
    (record_flags::RO_HAVE_DELEGATIONS, "RO_HAVE_DELEGATIONS"),
    (record_flags::RO_HAVE_READONLY, "RO_HAVE_READONLY"),
    (record_flags::RO_REVOKING_READONLY, "RO_REVOKING_READONLY"),
    (record_flags::RO_REVOKE_COMPLETE, "RO_REVOKE_COMPLETE"),
];

/// `dump_tdb_data`: `name(len) = "…"` with printable bytes other than `"`
/// and `\` as they are and every other byte as `\XX`.
pub fn dump_data(out: &mut String, name: &str, bytes: &[u8]) {
    out.push_str(&format!("{name}({}) = \"", bytes.len()));
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:02X}"));
        }
    }
    out.push_str("\"\n");
}

/// Prepends what a command printed before it failed to the failure (Samba's
/// tool prints as it goes).
pub fn after_output(e: CliError, printed: String) -> CliError {
    match e {
        CliError::Message { stdout, stderr, exit } => {
            CliError::Message { stdout: format!("{printed}{stdout}"), stderr, exit }
        }
        CliError::Silent(exit) => CliError::Message { stdout: printed, stderr: String::new(), exit },
        usage => usage,
    }
}

/// `Control X failed, ret=R` for a reply whose status is not 0.
pub fn status_error(opcode: Opcode, status: i32) -> CliError {
    CliError::control_status(&opcode_name(opcode), status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_arguments_parse_like_str_to_data() {
        assert_eq!(parse_data("key1", Field::Key), Ok(b"key1".to_vec()));
        assert_eq!(parse_data("0x00ff41", Field::Value), Ok(vec![0, 0xff, 0x41]));
        assert_eq!(parse_data("0xABcd", Field::Key), Ok(vec![0xab, 0xcd]));
        assert_eq!(parse_data("0x", Field::Key), Ok(Vec::new()));
        // Observed: `writekey vol1.tdb 0x123 x` and `writekey vol1.tdb k 0xgg`.
        assert_eq!(
            parse_data("0x123", Field::Key),
            Err(CliError::stderr("Key (123) contains odd number of hex digits\nFailed to parse key 0x123\n", 22))
        );
        assert_eq!(
            parse_data("0xgg", Field::Value),
            Err(CliError::stderr("Invalid hex: gg\nFailed to parse value 0xgg\n", 22))
        );
        assert_eq!(
            parse_data("0x41gz00", Field::Value),
            Err(CliError::stderr("Invalid hex: gz00\nFailed to parse value 0x41gz00\n", 22))
        );
    }

    #[test]
    fn records_dump_like_catdb() {
        // Observed: `writekey vol1.tdb 0x6b6579 0x00ff41`, then `catdb`.
        let header = LtdbHeader { rsn: 2, dmaster: 0, reserved1: 0, flags: 0 };
        let mut out = String::new();
        Record::new(b"key".to_vec(), &header, vec![0, 0xff, b'A']).dump(&mut out);
        assert_eq!(out, "key(3) = \"key\"\ndmaster: 0\nrsn: 2\nflags: 0x00000000\ndata(3) = \"\\00\\FFA\"\n\n");
        let header = LtdbHeader { rsn: 7, dmaster: 2, reserved1: 0, flags: 0x0F07_0000 };
        let mut out = String::new();
        Record::new(b"a\"b\\".to_vec(), &header, Vec::new()).dump(&mut out);
        assert_eq!(
            out,
            "key(4) = \"a\\22b\\5C\"\ndmaster: 2\nrsn: 7\nflags: 0x0f070000 MIGRATED_WITH_DATA VACUUM_MIGRATED \
             AUTOMATIC RO_HAVE_DELEGATIONS RO_HAVE_READONLY RO_REVOKING_READONLY RO_REVOKE_COMPLETE\n\
             data(0) = \"\"\n\n"
        );
    }

    #[test]
    fn reply_strings_end_at_nul() {
        assert_eq!(reply_string(b"vol1.tdb\0"), "vol1.tdb");
        assert_eq!(reply_string(b""), "");
        assert_eq!(name_payload(""), vec![0]);
        assert_eq!(name_payload("a"), vec![b'a', 0]);
    }

    #[test]
    fn u32_replies_need_four_bytes() {
        assert_eq!(reply_u32(0, &[0x52, 0x9e, 0x36, 0x60]), Ok(0x60369e52));
        assert_eq!(reply_u32(-1, &[]), Err(-1));
        assert_eq!(reply_u32(0, &[1, 2]), Err(EMSGSIZE));
    }
}
