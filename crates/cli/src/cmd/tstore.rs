//! `ctdb tstore TDBFILE KEY VALUE [RSN [DMASTER]]`: write a record
//! straight into a CTDB TDB file (opened with no TDB flags) under an ltdb
//! header with the given rsn (`strtoull`, base 0) and dmaster (`atol`),
//! flags 0. Samba's usage also names a FLAGS argument, but more than five
//! arguments print the usage. Silent on success.

use serde::Serialize;

use super::tfetch::open_tdb_file;
use super::{usage, Ctx};
use crate::db::{hex_bytes, parse_data, Field};
use crate::error::CliError;
use crate::numparse::{atoi, strtoull};
use crate::render::{Render, RenderCx, Reply};
use ctdb_legacy_proto::LtdbHeader;

/// `ctdb tstore` (prints nothing; JSON shows what was written).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TStore {
    /// The key (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
    /// Record sequence number written.
    pub rsn: u64,
    /// dmaster written.
    pub dmaster: u32,
    /// The value (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl Render for TStore {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command (after the preamble: Samba's tool connects first).
pub fn run(cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    if !(3..=5).contains(&args.len()) {
        return Err(usage("tstore"));
    }
    let (file, key_arg, value_arg) = (&args[0], &args[1], &args[2]);
    let mut tdb = open_tdb_file(file)?;
    let key = parse_data(key_arg, Field::Key)?;
    let data = parse_data(value_arg, Field::Value)?;
    let rsn = match args.get(3) {
        Some(s) => strtoull(s).map_err(|e| CliError::Silent(e.errno()))?,
        None => 0,
    };
    // (uint32_t)atol(): the low 32 bits, as of atoi's result.
    let dmaster = args.get(4).map_or(0, |s| atoi(s) as u32);
    let header = LtdbHeader { rsn, dmaster, reserved1: 0, flags: 0 };
    if tdb.store_parts(&key, &[&header.join(&[]), &data]).is_err() {
        return Err(CliError::line(format!("Failed to write record {key_arg} to file {file}")));
    }
    Ok(cx.reply(&TStore { key, rsn, dmaster, data }))
}
