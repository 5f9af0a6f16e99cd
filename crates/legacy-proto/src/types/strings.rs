//! String and blob encodings: `string`, `stringn` and `TDB_DATA`-n.
//!
//! Strings must not contain NUL: the wire form ends at the first one.

use crate::error::ProtoError;
use crate::wire::{len_u32, take, to_usize, until_nul, utf8, Wire};

/// `string`: the bytes plus a NUL; an empty (or NULL) string is **0 bytes**.
///
/// As a whole control payload it runs to the first NUL or to the end of the
/// buffer (ctdbd does not insist on the NUL).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct CString(pub String);

impl Wire for CString {
    fn wire_len(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            self.0.len() + 1
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        if !self.0.is_empty() {
            out.extend_from_slice(self.0.as_bytes());
            out.push(0);
        }
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let text = until_nul(buf);
        // Consume the NUL too when there is one.
        let consumed = (text.len() + 1).min(buf.len());
        let s = utf8(text, "string is not UTF-8")?;
        *buf = &buf[consumed..];
        Ok(CString(s))
    }
}

impl From<&str> for CString {
    fn from(s: &str) -> Self {
        CString(s.to_owned())
    }
}

impl From<String> for CString {
    fn from(s: String) -> Self {
        CString(s)
    }
}

impl CString {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `stringn`: u32 length (including the NUL; 0 for an empty string), then
/// the bytes and the NUL.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct StringN(pub String);

impl StringN {
    /// Encoded length of a `stringn` that may be NULL: `None` is NULL (length
    /// 0, no bytes), `Some(b"")` is the empty string (length 1, one NUL).
    pub(crate) fn len_of_nullable(s: Option<&[u8]>) -> usize {
        4 + s.map_or(0, |b| b.len() + 1)
    }

    /// Append a `stringn` that may be NULL (see [`StringN::len_of_nullable`]).
    pub(crate) fn encode_nullable(s: Option<&[u8]>, out: &mut Vec<u8>) {
        match s {
            None => 0u32.encode(out),
            Some(b) => {
                len_u32(b.len() + 1).encode(out);
                out.extend_from_slice(b);
                out.push(0);
            }
        }
    }

    /// Decode a `stringn` that may be NULL: length 0 is `None`, otherwise the
    /// bytes up to the first NUL (all of them when there is none). The
    /// declared length is always consumed.
    pub(crate) fn decode_nullable<'a>(buf: &mut &'a [u8]) -> Result<Option<&'a [u8]>, ProtoError> {
        let len = u32::decode(buf)?;
        if len == 0 {
            return Ok(None);
        }
        let bytes = take(buf, to_usize(len), "stringn")?;
        Ok(Some(until_nul(bytes)))
    }

    // The control payloads do not tell NULL from "": both travel as NULL.

    pub(crate) fn len_of(s: &str) -> usize {
        StringN::len_of_nullable(Some(s.as_bytes()).filter(|b| !b.is_empty()))
    }

    pub(crate) fn encode_str(s: &str, out: &mut Vec<u8>) {
        StringN::encode_nullable(Some(s.as_bytes()).filter(|b| !b.is_empty()), out);
    }

    pub(crate) fn decode_str(buf: &mut &[u8]) -> Result<String, ProtoError> {
        match StringN::decode_nullable(buf)? {
            None => Ok(String::new()),
            Some(bytes) => utf8(bytes, "stringn is not UTF-8"),
        }
    }
}

impl Wire for StringN {
    fn wire_len(&self) -> usize {
        StringN::len_of(&self.0)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        StringN::encode_str(&self.0, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        StringN::decode_str(buf).map(StringN)
    }
}

impl From<&str> for StringN {
    fn from(s: &str) -> Self {
        StringN(s.to_owned())
    }
}

impl From<String> for StringN {
    fn from(s: String) -> Self {
        StringN(s)
    }
}

impl StringN {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StringN {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `TDB_DATA` with a length prefix: u32 length, then the bytes.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TdbDataN(pub Vec<u8>);

impl Wire for TdbDataN {
    fn wire_len(&self) -> usize {
        4 + self.0.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        len_u32(self.0.len()).encode(out);
        out.extend_from_slice(&self.0);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let len = u32::decode(buf)?;
        Ok(TdbDataN(take(buf, to_usize(len), "TDB_DATA")?.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_string_is_zero_bytes() {
        assert_eq!(CString::default().to_bytes(), Vec::<u8>::new());
        assert_eq!(CString::from_bytes(&[]), Ok(CString::default()));
        assert_eq!(StringN::default().to_bytes(), vec![0, 0, 0, 0]);
    }

    #[test]
    fn cstring_without_nul_runs_to_the_end() {
        assert_eq!(CString::from_bytes(b"abc"), Ok(CString::from("abc")));
        assert_eq!(CString::from_bytes(b"abc\0"), Ok(CString::from("abc")));
        assert!(CString::from_bytes(b"abc\0x").is_err());
    }

    #[test]
    fn stringn_counts_the_nul() {
        let b = StringN::from("ControlTimeout").to_bytes();
        assert_eq!(&b[..4], &15u32.to_le_bytes());
        assert_eq!(b.last(), Some(&0));
        assert_eq!(StringN::from_bytes(&b), Ok(StringN::from("ControlTimeout")));
    }
}
