//! `ctdb ptrans DB [FILE]`: write many records of a persistent (or
//! replicated) database in one transaction (see [`crate::transaction`]).
//!
//! Input (FILE, else standard input) is read as Samba's tool reads it: in
//! pieces of at most 1023 bytes ending at a newline, each a C string (up
//! to a NUL). A piece is `"KEY" "VALUE"`, blanks and tabs allowed before
//! each; anything after the value is ignored. Inside the quotes, `0x`
//! followed by hex digits is hex, anything else is taken byte for byte. An
//! empty key ignores the piece, an empty value deletes. Pieces that do not
//! parse are reported on standard error and skipped; the command still
//! succeeds.

use std::io::Read;

use serde::Serialize;

use super::{usage, Ctx};
use crate::db::hex_bytes;
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};
use crate::transaction::{and_then_failed, attach_local, find_transactional, Transaction};

/// fgets' buffer in Samba's tool: pieces hold at most this minus one byte.
const MAX_LINE_SIZE: usize = 1024;

/// One record read from the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pair {
    /// The key (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
    /// The value, empty to delete (hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    pub data: Vec<u8>,
}

/// `ctdb ptrans` (prints nothing; JSON lists the records read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PTrans {
    /// Database name.
    pub db: String,
    /// The records stored, in input order.
    pub records: Vec<Pair>,
}

impl Render for PTrans {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// What one piece of input gave: a record, or nothing (with the messages
/// Samba's tool prints for it, possibly none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A record to store (the key is not empty).
    Record(Pair),
    /// Skipped, with this standard-error text.
    Skipped(String),
}

/// Splits the input into the pieces `fgets` returns.
pub fn pieces(input: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let limit = rest.len().min(MAX_LINE_SIZE - 1);
        let end = rest[..limit].iter().position(|&b| b == b'\n').map_or(limit, |i| i + 1);
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// `str_to_data` on the quoted text `s`; `tail` is the C string from
/// the same start to the end of the piece (what the messages print).
fn quoted_data(s: &[u8], tail: &[u8]) -> Result<Vec<u8>, String> {
    let Some(hex) = s.strip_prefix(b"0x") else {
        return Ok(s.to_vec());
    };
    let shown = |from: usize| String::from_utf8_lossy(&tail[from..]).into_owned();
    if hex.len() % 2 != 0 {
        return Err(format!("Key ({}) contains odd number of hex digits\n", shown(2)));
    }
    let mut out = Vec::with_capacity(hex.len() / 2);
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => out.push((hi << 4 | lo) as u8),
            _ => return Err(format!("Invalid hex: {}\n", shown(2 + i * 2))),
        }
    }
    Ok(out)
}

/// `ptrans_parse_string`: one quoted string at `pos` of `line`. `Ok` holds
/// the data (`None` for `""`) and the position after the closing quote.
fn quoted(line: &[u8], pos: usize) -> Result<(Option<Vec<u8>>, usize), String> {
    let start = pos + line[pos..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    if line.get(start) != Some(&b'"') {
        return Err(format!("Unsupported input format in {}\n", String::from_utf8_lossy(&line[pos..])));
    }
    let body = start + 1;
    let Some(n) = line[body..].iter().position(|&b| b == b'"') else {
        return Err(format!("Unmatched \" in input {}\n", String::from_utf8_lossy(&line[pos..])));
    };
    if n == 0 {
        return Ok((None, body + 1));
    }
    let data = quoted_data(&line[body..body + n], &line[body..])?;
    Ok((Some(data), body + n + 1))
}

/// `ptrans_get_key_value` on one piece.
pub fn parse_piece(piece: &[u8]) -> Parsed {
    // The piece is a C string.
    let line = &piece[..piece.iter().position(|&b| b == 0).unwrap_or(piece.len())];
    let (key, pos) = match quoted(line, 0) {
        Ok((Some(key), pos)) => (key, pos),
        Ok((None, _)) => return Parsed::Skipped(String::new()),
        Err(text) => return Parsed::Skipped(text),
    };
    let data = match quoted(line, pos) {
        Ok((data, _)) => data.unwrap_or_default(),
        Err(text) => return Parsed::Skipped(text),
    };
    if key.is_empty() {
        // `"0x"`: an empty key is ignored like a missing one.
        return Parsed::Skipped(String::new());
    }
    Parsed::Record(Pair { key, data })
}

/// `e` with `printed` (the messages of skipped pieces) first on standard
/// error.
fn before(printed: String, e: CliError) -> CliError {
    match e {
        CliError::Message { stdout, stderr, exit } => {
            CliError::Message { stdout, stderr: format!("{printed}{stderr}"), exit }
        }
        CliError::Silent(exit) => CliError::stderr(printed, exit),
        usage => usage,
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let (db_arg, file) = match args {
        [db] => (db, None),
        [db, file] => (db, Some(file)),
        _ => return Err(usage("ptrans")),
    };
    let db = find_transactional(session, db_arg).await?;
    // The file is opened before attaching, and read once the transaction
    // has started, as Samba's tool does.
    let mut source: Box<dyn Read> = match file {
        Some(path) => match std::fs::File::open(path) {
            Ok(f) => Box::new(f),
            Err(_) => return Err(CliError::line(format!("Failed to open file {path}"))),
        },
        None => Box::new(std::io::stdin()),
    };
    let (attached, tdb) = attach_local(session, &db).await?;
    let mut tx = Transaction::start(session, attached, tdb, false)
        .await
        .map_err(|e| e.then_line(format!("Failed to start transaction on db {}", db.name)))?;
    let mut input = Vec::new();
    // A read error ends the input, as fgets returning NULL does.
    let _ = source.read_to_end(&mut input);
    drop(source);
    let mut stderr = String::new();
    let mut records = Vec::new();
    for piece in pieces(&input) {
        match parse_piece(piece) {
            Parsed::Skipped(text) => stderr.push_str(&text),
            Parsed::Record(pair) => {
                if let Err(ret) = tx.store(&pair.key, &pair.data) {
                    let e = CliError::stderr("Failed to store record\n", exit_code(ret));
                    return Err(before(stderr, and_then_failed(e, tx.cancel(session).await)));
                }
                records.push(pair);
            }
        }
    }
    if let Err(e) = tx.commit(session).await {
        let e = e.then_line(format!("Failed to commit transaction on db {}", db.name));
        return Err(before(stderr, and_then_failed(e, tx.cancel(session).await)));
    }
    let reply = cx.reply(&PTrans { db: db.name, records });
    Ok(if stderr.is_empty() { reply } else { reply.with_stderr(stderr) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &[u8], data: &[u8]) -> Parsed {
        Parsed::Record(Pair { key: key.to_vec(), data: data.to_vec() })
    }

    fn skip(text: &str) -> Parsed {
        Parsed::Skipped(text.to_string())
    }

    #[test]
    fn pieces_end_at_newlines_or_1023_bytes() {
        assert_eq!(pieces(b"a\nb\n\nc"), vec![&b"a\n"[..], b"b\n", b"\n", b"c"]);
        let long = vec![b'x'; 2000];
        let p = pieces(&long);
        assert_eq!(p.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![1023, 977]);
        assert!(pieces(b"").is_empty());
    }

    #[test]
    fn pieces_parse_like_debian() {
        // Observed with Debian's ctdb 4.17 (`ptrans p.tdb in.txt`).
        assert_eq!(parse_piece(b"\"a\" \"1\"\n"), rec(b"a", b"1"));
        assert_eq!(parse_piece(b"  \t\"b\"\t\"two words\"  trailing\n"), rec(b"b", b"two words"));
        assert_eq!(parse_piece(b"foo bar\n"), skip("Unsupported input format in foo bar\n\n"));
        assert_eq!(parse_piece(b"\"0x6b33\" \"0x4142\"\n"), rec(b"k3", b"AB"));
        assert_eq!(parse_piece(b"\"0x123\" \"x\"\n"), skip("Key (123\" \"x\"\n) contains odd number of hex digits\n"));
        assert_eq!(parse_piece(b"\"c\" \"0xzz\"\n"), skip("Invalid hex: zz\"\n\n"));
        assert_eq!(parse_piece(b"\"\" \"empty\"\n"), skip(""));
        assert_eq!(parse_piece(b"\"d\" \"\"\n"), rec(b"d", b""));
        assert_eq!(parse_piece(b"\"unterminated\n"), skip("Unmatched \" in input \"unterminated\n\n"));
        assert_eq!(parse_piece(b"\"e\"\n"), skip("Unsupported input format in \n\n"));
        assert_eq!(parse_piece(b"\"e2\" noquote\n"), skip("Unsupported input format in  noquote\n\n"));
        assert_eq!(parse_piece(b"\n"), skip("Unsupported input format in \n\n"));
        assert_eq!(parse_piece(b"\"f\" \"last\""), rec(b"f", b"last"));
        // A NUL ends the C string; an empty hex key is ignored.
        assert_eq!(parse_piece(b"\"g\" \"v\0w\"\n"), skip("Unmatched \" in input  \"v\n"));
        assert_eq!(parse_piece(b"\"0x\" \"v\"\n"), skip(""));
        assert_eq!(parse_piece(b"\"0x41gz\" \"v\"\n"), skip("Invalid hex: gz\" \"v\"\n\n"));
    }
}
