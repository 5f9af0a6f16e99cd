//! Database payloads: db maps, the ltdb record header, marshalled records
//! and the small request structures of the database controls.

use crate::error::ProtoError;
use crate::wire::{decode_vec, encode_all, len_all, len_u32, put_pad, skip_pad, take, to_usize, Wire};

/// `ctdb_dbid` (8 bytes): db_id, flags u8, 3 pad bytes.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Dbid {
    /// Database id.
    pub db_id: u32,
    /// [`crate::db_flags`].
    pub flags: u8,
}

impl Wire for Dbid {
    fn wire_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        self.flags.encode(out);
        put_pad(out, 3);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let db_id = u32::decode(buf)?;
        let flags = u8::decode(buf)?;
        skip_pad(buf, 3, "dbid pad")?;
        Ok(Dbid { db_id, flags })
    }
}

/// `ctdb_dbid_map` (GET_DBMAP): u32 count, then the databases, newest
/// attach first.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct DbidMap {
    /// The databases.
    pub dbs: Vec<Dbid>,
}

impl Wire for DbidMap {
    fn wire_len(&self) -> usize {
        4 + len_all(&self.dbs)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        len_u32(self.dbs.len()).encode(out);
        encode_all(&self.dbs, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let num = u32::decode(buf)?;
        Ok(DbidMap { dbs: decode_vec(buf, num, 8, "dbid_map")? })
    }
}

/// Size of [`LtdbHeader`].
pub const LTDB_HEADER_LEN: usize = 24;

/// `ctdb_ltdb_header`: the first 24 bytes of every record value.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct LtdbHeader {
    /// Record sequence number.
    pub rsn: u64,
    /// Node holding the authoritative copy.
    pub dmaster: u32,
    /// Always 0.
    pub reserved1: u32,
    /// [`crate::record_flags`].
    pub flags: u32,
}

impl Wire for LtdbHeader {
    fn wire_len(&self) -> usize {
        LTDB_HEADER_LEN
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.rsn.encode(out);
        self.dmaster.encode(out);
        self.reserved1.encode(out);
        self.flags.encode(out);
        put_pad(out, 4);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let rsn = u64::decode(buf)?;
        let dmaster = u32::decode(buf)?;
        let reserved1 = u32::decode(buf)?;
        let flags = u32::decode(buf)?;
        skip_pad(buf, 4, "ltdb_header pad")?;
        Ok(LtdbHeader { rsn, dmaster, reserved1, flags })
    }
}

impl LtdbHeader {
    /// Split a stored record value into its header and the user data.
    /// Values shorter than the header are invalid records.
    pub fn split(value: &[u8]) -> Result<(LtdbHeader, &[u8]), ProtoError> {
        let mut rest = value;
        let header = LtdbHeader::decode(&mut rest)?;
        Ok((header, rest))
    }

    /// Header followed by `data`, as stored in a TDB or sent in a record.
    pub fn join(&self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(LTDB_HEADER_LEN + data.len());
        self.encode(&mut out);
        out.extend_from_slice(data);
        out
    }
}

/// Size of the fixed part of [`RecData`].
pub const REC_DATA_HEADER_LEN: usize = 16;

/// `ctdb_rec_data`: one marshalled record.
///
/// Wire: u32 length of the whole record, reqid, keylen, datalen, key, data.
/// Whether `data` starts with an [`LtdbHeader`] depends on the control
/// (recovery and transactions include it; see [`RecData::with_header`] and
/// [`RecData::split_header`]).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct RecData {
    /// Request id (traverse id for traverse records).
    pub reqid: u32,
    /// Record key.
    pub key: Vec<u8>,
    /// Record data, with the ltdb header in front where the control has one.
    pub data: Vec<u8>,
}

impl RecData {
    /// A record whose data is `header` + `value`.
    pub fn with_header(reqid: u32, key: Vec<u8>, header: &LtdbHeader, value: &[u8]) -> RecData {
        RecData { reqid, key, data: header.join(value) }
    }

    /// The ltdb header and value of a record that carries one.
    pub fn split_header(&self) -> Result<(LtdbHeader, &[u8]), ProtoError> {
        LtdbHeader::split(&self.data)
    }

    /// The end-of-traverse marker: empty key and data.
    pub fn is_end_marker(&self) -> bool {
        self.key.is_empty() && self.data.is_empty()
    }
}

impl Wire for RecData {
    fn wire_len(&self) -> usize {
        REC_DATA_HEADER_LEN + self.key.len() + self.data.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        len_u32(self.wire_len()).encode(out);
        self.reqid.encode(out);
        len_u32(self.key.len()).encode(out);
        len_u32(self.data.len()).encode(out);
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.data);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let whole = *buf;
        let mut b = whole;
        let length = to_usize(u32::decode(&mut b)?);
        let reqid = u32::decode(&mut b)?;
        let keylen = to_usize(u32::decode(&mut b)?);
        let datalen = to_usize(u32::decode(&mut b)?);
        let need = REC_DATA_HEADER_LEN.saturating_add(keylen).saturating_add(datalen);
        if length < need {
            return Err(ProtoError::Malformed("rec_data length below its contents"));
        }
        // The record occupies `length` bytes; anything past key and data is
        // skipped so that the next record is found where the sender put it.
        let mut rec = take(buf, length, "rec_data")?;
        skip_pad(&mut rec, REC_DATA_HEADER_LEN, "rec_data header")?;
        let key = take(&mut rec, keylen, "rec_data key")?.to_vec();
        let data = take(&mut rec, datalen, "rec_data data")?.to_vec();
        Ok(RecData { reqid, key, data })
    }
}

/// `ctdb_rec_buffer` ("marshall buffer"): db_id, u32 count, records back to
/// back without padding.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct RecBuffer {
    /// Database id.
    pub db_id: u32,
    /// The records.
    pub records: Vec<RecData>,
}

impl Wire for RecBuffer {
    fn wire_len(&self) -> usize {
        8 + len_all(&self.records)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        len_u32(self.records.len()).encode(out);
        encode_all(&self.records, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let db_id = u32::decode(buf)?;
        let count = u32::decode(buf)?;
        Ok(RecBuffer { db_id, records: decode_vec(buf, count, REC_DATA_HEADER_LEN, "rec_buffer")? })
    }
}

/// `ctdb_transdb` (WIPE_DATABASE, DB_TRANSACTION_START/COMMIT).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TransDb {
    /// Database id.
    pub db_id: u32,
    /// Transaction id (the generation).
    pub tid: u32,
}

impl Wire for TransDb {
    fn wire_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        self.tid.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(TransDb { db_id: u32::decode(buf)?, tid: u32::decode(buf)? })
    }
}

/// GET_DB_SEQNUM input: db_id and 4 pad bytes (exactly 8).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct DbIdPadded {
    /// Database id.
    pub db_id: u32,
}

impl Wire for DbIdPadded {
    fn wire_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        put_pad(out, 4);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let db_id = u32::decode(buf)?;
        skip_pad(buf, 4, "db_id pad")?;
        Ok(DbIdPadded { db_id })
    }
}

/// `ctdb_traverse_start` (TRAVERSE_START, TRAVERSE_KILL).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TraverseStart {
    /// Database id.
    pub db_id: u32,
    /// Traverse id, copied into each record.
    pub reqid: u32,
    /// Port the records are sent to.
    pub srvid: u64,
}

impl Wire for TraverseStart {
    fn wire_len(&self) -> usize {
        16
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        self.reqid.encode(out);
        self.srvid.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(TraverseStart { db_id: u32::decode(buf)?, reqid: u32::decode(buf)?, srvid: u64::decode(buf)? })
    }
}

/// `ctdb_traverse_start_ext` (TRAVERSE_START_EXT).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TraverseStartExt {
    /// Database id.
    pub db_id: u32,
    /// Traverse id.
    pub reqid: u32,
    /// Port the records are sent to.
    pub srvid: u64,
    /// Also send header-only records.
    pub withemptyrecords: bool,
}

impl Wire for TraverseStartExt {
    fn wire_len(&self) -> usize {
        24
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        self.reqid.encode(out);
        self.srvid.encode(out);
        self.withemptyrecords.encode(out);
        put_pad(out, 7);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let v = TraverseStartExt {
            db_id: u32::decode(buf)?,
            reqid: u32::decode(buf)?,
            srvid: u64::decode(buf)?,
            withemptyrecords: bool::decode(buf)?,
        };
        skip_pad(buf, 7, "traverse_start_ext pad")?;
        Ok(v)
    }
}

/// `ctdb_traverse_all` (TRAVERSE_ALL, node to node).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TraverseAll {
    /// Database id.
    pub db_id: u32,
    /// Traverse id.
    pub reqid: u32,
    /// Node to send the records to.
    pub pnn: u32,
    /// The client's traverse id.
    pub client_reqid: u32,
    /// Port the records are sent to.
    pub srvid: u64,
}

impl Wire for TraverseAll {
    fn wire_len(&self) -> usize {
        24
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        self.reqid.encode(out);
        self.pnn.encode(out);
        self.client_reqid.encode(out);
        self.srvid.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(TraverseAll {
            db_id: u32::decode(buf)?,
            reqid: u32::decode(buf)?,
            pnn: u32::decode(buf)?,
            client_reqid: u32::decode(buf)?,
            srvid: u64::decode(buf)?,
        })
    }
}

/// `ctdb_traverse_all_ext` (TRAVERSE_ALL_EXT, node to node).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TraverseAllExt {
    /// The common part.
    pub all: TraverseAll,
    /// Also send header-only records.
    pub withemptyrecords: bool,
}

impl Wire for TraverseAllExt {
    fn wire_len(&self) -> usize {
        32
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.all.encode(out);
        self.withemptyrecords.encode(out);
        put_pad(out, 7);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let v = TraverseAllExt { all: TraverseAll::decode(buf)?, withemptyrecords: bool::decode(buf)? };
        skip_pad(buf, 7, "traverse_all_ext pad")?;
        Ok(v)
    }
}

/// `ctdb_pulldb` (8 bytes).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct PullDb {
    /// Database id.
    pub db_id: u32,
    /// Only records of this lmaster; 0xFFFFFFFF = any.
    pub lmaster: u32,
}

impl Wire for PullDb {
    fn wire_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        self.lmaster.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(PullDb { db_id: u32::decode(buf)?, lmaster: u32::decode(buf)? })
    }
}

/// `ctdb_pulldb_ext` (DB_PULL, DB_PUSH_START).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct PullDbExt {
    /// Database id.
    pub db_id: u32,
    /// Only records of this lmaster; 0xFFFFFFFF = any.
    pub lmaster: u32,
    /// Port of the record stream.
    pub srvid: u64,
}

impl Wire for PullDbExt {
    fn wire_len(&self) -> usize {
        16
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        self.lmaster.encode(out);
        self.srvid.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(PullDbExt { db_id: u32::decode(buf)?, lmaster: u32::decode(buf)?, srvid: u64::decode(buf)? })
    }
}

/// `ctdb_key_data` (SCHEDULE_FOR_DELETION input).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct KeyData {
    /// Database id.
    pub db_id: u32,
    /// Record header.
    pub header: LtdbHeader,
    /// Record key.
    pub key: Vec<u8>,
}

impl Wire for KeyData {
    fn wire_len(&self) -> usize {
        36 + self.key.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        put_pad(out, 4);
        self.header.encode(out);
        len_u32(self.key.len()).encode(out);
        out.extend_from_slice(&self.key);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let db_id = u32::decode(buf)?;
        skip_pad(buf, 4, "key_data pad")?;
        let header = LtdbHeader::decode(buf)?;
        let keylen = u32::decode(buf)?;
        Ok(KeyData { db_id, header, key: take(buf, to_usize(keylen), "key_data key")?.to_vec() })
    }
}

/// `ctdb_db_vacuum` (DB_VACUUM input, 5 bytes).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct DbVacuum {
    /// Database id.
    pub db_id: u32,
    /// Full rather than fast vacuum run.
    pub full_vacuum_run: bool,
}

impl Wire for DbVacuum {
    fn wire_len(&self) -> usize {
        5
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.db_id.encode(out);
        self.full_vacuum_run.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(DbVacuum { db_id: u32::decode(buf)?, full_vacuum_run: bool::decode(buf)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traverse_end_marker_is_16_bytes() {
        let end = RecData { reqid: 7, ..RecData::default() };
        assert_eq!(end.to_bytes(), [16, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(RecData::from_bytes(&end.to_bytes()).is_ok_and(|r| r.is_end_marker()));
    }

    #[test]
    fn rec_data_length_counts_the_whole_record() {
        let h = LtdbHeader { rsn: 2, dmaster: 0, reserved1: 0, flags: 0 };
        let r = RecData::with_header(0, b"key".to_vec(), &h, b"val");
        let b = r.to_bytes();
        assert_eq!(&b[..4], &(16u32 + 3 + 24 + 3).to_le_bytes());
        assert_eq!(&b[12..16], &27u32.to_le_bytes());
        let back = RecData::from_bytes(&b);
        assert_eq!(back.as_ref(), Ok(&r));
        assert_eq!(r.split_header(), Ok((h, &b"val"[..])));
    }

    #[test]
    fn rec_data_with_short_length_is_malformed() {
        let mut b = RecData { reqid: 0, key: vec![1], data: vec![2] }.to_bytes();
        b[0] = 17;
        assert!(matches!(RecData::from_bytes(&b), Err(ProtoError::Malformed(_))));
    }

    #[test]
    fn sizes() {
        assert_eq!(TraverseStartExt::default().to_bytes().len(), 24);
        assert_eq!(TraverseAllExt::default().to_bytes().len(), 32);
        assert_eq!(KeyData::default().to_bytes().len(), 36);
        assert_eq!(DbVacuum::default().to_bytes().len(), 5);
        assert_eq!(DbIdPadded::default().to_bytes().len(), 8);
    }
}
