//! The backup file of `ctdb backupdb` / `restoredb` / `dumpdbbackup`
//! (legacy-protocol.md 4.7), as Samba's tool writes it on LP64:
//!
//! ```text
//! header (104 bytes): version u64 = 3 · timestamp i64 · db flags u64 ·
//!                     nbuf u64 · nrec u64 · name[64] (NUL-padded)
//! nbuf × buffer:      db_id u32 · count u32 · buflen u64 · buflen bytes of
//!                     rec_data (16 + key + value, the value with its ltdb
//!                     header)
//! ```
//!
//! Samba's tool leaves the per-buffer db_id uninitialised; we write the
//! database's id, and readers ignore it.

use std::io::{self, Read, Write};

use ctdb_legacy_proto::{RecData, Wire};

/// Size of the fixed part of a marshalled record (length, reqid, keylen,
/// datalen).
const REC_DATA_HEADER_LEN: usize = 16;

/// `DB_VERSION`.
pub const VERSION: u64 = 3;
/// `MAX_DB_NAME`: bytes of the name field.
pub const MAX_DB_NAME: usize = 64;
/// Size of the header.
pub const HEADER_LEN: usize = 40 + MAX_DB_NAME;
/// A buffer is written once its marshalled size (8 + records) reaches this.
pub const MAX_REC_BUFFER_SIZE: usize = 100 * 1000;

/// The file header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version (3).
    pub version: u64,
    /// When the backup was taken (seconds since the epoch).
    pub timestamp: i64,
    /// The database's flags (only the low byte is used).
    pub flags: u64,
    /// Number of buffers.
    pub nbuf: u64,
    /// Number of records.
    pub nrec: u64,
    /// The database's name (at most 63 bytes are kept).
    pub name: String,
}

impl Header {
    /// The 104 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&self.version.to_ne_bytes());
        out[8..16].copy_from_slice(&self.timestamp.to_ne_bytes());
        out[16..24].copy_from_slice(&self.flags.to_ne_bytes());
        out[24..32].copy_from_slice(&self.nbuf.to_ne_bytes());
        out[32..40].copy_from_slice(&self.nrec.to_ne_bytes());
        // strncpy(name, db_name, MAX_DB_NAME-1): the last byte stays NUL.
        let name = self.name.as_bytes();
        let n = name.len().min(MAX_DB_NAME - 1);
        out[40..40 + n].copy_from_slice(&name[..n]);
        out
    }

    /// Parses header bytes. As in C, a short file leaves the rest of the
    /// header unset (zero here) and the name ends at its 64th byte.
    pub fn from_bytes(bytes: &[u8]) -> Header {
        let mut b = [0u8; HEADER_LEN];
        let n = bytes.len().min(HEADER_LEN);
        b[..n].copy_from_slice(&bytes[..n]);
        let u64_at = |i: usize| {
            let mut v = [0u8; 8];
            v.copy_from_slice(&b[i..i + 8]);
            u64::from_ne_bytes(v)
        };
        let name = &b[40..40 + MAX_DB_NAME - 1];
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        Header {
            version: u64_at(0),
            timestamp: u64_at(8) as i64,
            flags: u64_at(16),
            nbuf: u64_at(24),
            nrec: u64_at(32),
            name: String::from_utf8_lossy(&name[..end]).into_owned(),
        }
    }
}

/// A record's key and its value (ltdb header included).
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// One buffer of records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Buffer {
    /// The id written in front (meaningless in Samba's files).
    pub db_id: u32,
    /// Number of records.
    pub count: u32,
    /// The marshalled records.
    pub buf: Vec<u8>,
}

impl Buffer {
    /// Appends a record (reqid 0, `value` with its ltdb header).
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        RecData { reqid: 0, key: key.to_vec(), data: value.to_vec() }.encode(&mut self.buf);
        self.count += 1;
    }

    /// `ctdb_rec_buffer_len`: the size marshalled for a message.
    pub fn len(&self) -> usize {
        8 + self.buf.len()
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes the buffer as `ctdb_rec_buffer_write` does.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.db_id.to_ne_bytes())?;
        w.write_all(&self.count.to_ne_bytes())?;
        w.write_all(&(self.buf.len() as u64).to_ne_bytes())?;
        w.write_all(&self.buf)
    }

    /// Reads a buffer as `ctdb_rec_buffer_read` does; a short read is an
    /// error (EIO).
    pub fn read_from(r: &mut impl Read) -> io::Result<Buffer> {
        let mut head = [0u8; 16];
        r.read_exact(&mut head)?;
        let db_id = u32::from_ne_bytes([head[0], head[1], head[2], head[3]]);
        let count = u32::from_ne_bytes([head[4], head[5], head[6], head[7]]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&head[8..16]);
        let len = usize::try_from(u64::from_ne_bytes(len)).map_err(|_| io::Error::from_raw_os_error(12))?;
        let mut buf = Vec::new();
        r.take(len as u64).read_to_end(&mut buf)?;
        if buf.len() != len {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        Ok(Buffer { db_id, count, buf })
    }

    /// The marshalled form sent in a message (`ctdb_rec_buffer_push`).
    pub fn to_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&self.db_id.to_ne_bytes());
        out.extend_from_slice(&self.count.to_ne_bytes());
        out.extend_from_slice(&self.buf);
        out
    }

    /// The records, as `ctdb_rec_buffer_traverse` reads them: `(key,
    /// value)`; `Err(EMSGSIZE)` when a record runs past the buffer.
    pub fn records(&self) -> Result<Vec<KeyValue>, i32> {
        const EMSGSIZE: i32 = 90;
        let mut out = Vec::new();
        let mut rest = self.buf.as_slice();
        for _ in 0..self.count {
            // length u32 (must not exceed what is left), reqid, keylen,
            // datalen; the next record starts after key and data.
            let field = |i: usize| -> Result<usize, i32> {
                let b = rest.get(i..i + 4).ok_or(EMSGSIZE)?;
                Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
            };
            let length = field(0)?;
            if rest.len() < length || length < REC_DATA_HEADER_LEN {
                return Err(EMSGSIZE);
            }
            let keylen = field(8)?;
            let datalen = field(12)?;
            let body = &rest[REC_DATA_HEADER_LEN..length];
            if body.len() < keylen || body.len() - keylen < datalen {
                return Err(EMSGSIZE);
            }
            out.push((body[..keylen].to_vec(), body[keylen..keylen + datalen].to_vec()));
            rest = &rest[REC_DATA_HEADER_LEN + keylen + datalen..];
        }
        Ok(out)
    }
}

/// Open a backup file and read its header, with Samba's messages and exit
/// codes for a missing file, a short header and a wrong version
/// (dumpdbbackup, restoredb). The file is left at the first buffer.
pub fn open_backup(file: &str) -> Result<(std::fs::File, Header), crate::error::CliError> {
    use crate::db::{EINVAL, EIO};
    use crate::error::{exit_code, CliError};
    let io_errno = |e: &std::io::Error| exit_code(e.raw_os_error().unwrap_or(EIO));
    let mut f = std::fs::File::open(file)
        .map_err(|e| CliError::stderr(format!("Failed to open file {file} for reading\n"), io_errno(&e)))?;
    let mut head = Vec::with_capacity(HEADER_LEN);
    (&mut f)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| CliError::stderr(format!("Failed to read db header from file {file}\n"), io_errno(&e)))?;
    let header = Header::from_bytes(&head);
    if header.version != VERSION {
        return Err(CliError::stderr(
            format!("Wrong version of backup file, expected {VERSION}, got {}\n", header.version),
            EINVAL,
        ));
    }
    Ok((f, header))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hex;

    /// `ctdb backupdb vol1.tdb b1` by Debian's tool, one record
    /// (key "key", rsn 2, value 00 ff 41).
    const DEBIAN_BACKUP: &str = "\
        03000000000000007d99026b00000000000000000000000001000000000000000100000000000000766f6c312e746462\
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
        0000000000000000d084aa4e010000002e000000000000002e00000000000000030000001b0000006b65790200000000\
        0000000000000000000000000000000000000000ff41";

    #[test]
    fn reads_a_debian_backup() {
        let bytes = hex(DEBIAN_BACKUP);
        let h = Header::from_bytes(&bytes);
        assert_eq!(
            h,
            Header { version: 3, timestamp: 0x6b02_997d, flags: 0, nbuf: 1, nrec: 1, name: "vol1.tdb".into() }
        );
        assert_eq!(h.to_bytes().as_slice(), &bytes[..HEADER_LEN]);
        let b = Buffer::read_from(&mut &bytes[HEADER_LEN..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.db_id, b.count, b.buf.len()), (0x4eaa_84d0, 1, 46));
        let recs = b.records().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].0, b"key");
        assert_eq!(recs[0].1.len(), 27);
        // Written back the same way (ours carries a real db_id).
        let mut ours = Buffer { db_id: 0x4eaa_84d0, ..Buffer::default() };
        ours.push(&recs[0].0, &recs[0].1);
        let mut out = Vec::new();
        ours.write_to(&mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.as_slice(), &bytes[HEADER_LEN..]);
        assert_eq!(ours.len(), 8 + 46);
    }

    #[test]
    fn short_and_odd_inputs() {
        let h = Header::from_bytes(b"127.0.50.1\n");
        assert_eq!(h.version, u64::from_ne_bytes(*b"127.0.50"));
        assert_eq!(h.name, "");
        let long = "n".repeat(80);
        let h = Header { version: 3, timestamp: 0, flags: 0, nbuf: 0, nrec: 0, name: long };
        assert_eq!(Header::from_bytes(&h.to_bytes()).name.len(), 63);
        assert!(Buffer::read_from(&mut &[0u8; 10][..]).is_err());
        let bad = Buffer { db_id: 0, count: 1, buf: vec![0xff, 0, 0, 0] };
        assert_eq!(bad.records(), Err(90));
    }
}
