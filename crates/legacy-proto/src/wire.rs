//! The one marshalling API: encoded length, encode, decode.
//!
//! Samba writes a `len`/`push`/`pull` triplet per type; here each type
//! implements [`Wire`] once. Everything is host order (little-endian on every
//! platform Samba CTDB runs on that we support) with the C structure padding
//! written out explicitly.

use crate::error::ProtoError;

/// A value with a fixed legacy wire layout.
pub trait Wire: Sized {
    /// Number of bytes [`Wire::encode`] appends.
    fn wire_len(&self) -> usize;

    /// Append the encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Decode one value from the front of `buf` and advance `buf` past it.
    ///
    /// Never panics and never allocates more than the input could hold.
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError>;

    /// The encoding as a fresh buffer.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.wire_len());
        self.encode(&mut out);
        out
    }

    /// Decode a value that must fill `buf` exactly, as ctdbd checks the exact
    /// size of most control payloads.
    fn from_bytes(buf: &[u8]) -> Result<Self, ProtoError> {
        let mut rest = buf;
        let value = Self::decode(&mut rest)?;
        if !rest.is_empty() {
            return Err(ProtoError::TrailingBytes { what: std::any::type_name::<Self>(), extra: rest.len() });
        }
        Ok(value)
    }

    /// Decode a value from the front of `buf`, ignoring anything after it
    /// (what Samba's reply parsers do).
    fn from_prefix(buf: &[u8]) -> Result<Self, ProtoError> {
        let mut rest = buf;
        Self::decode(&mut rest)
    }
}

/// Split `n` bytes off the front of `buf`.
pub(crate) fn take<'a>(buf: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], ProtoError> {
    if buf.len() < n {
        return Err(ProtoError::Truncated { what, need: n, have: buf.len() });
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

/// Split a fixed-size array off the front of `buf`.
pub(crate) fn take_array<const N: usize>(buf: &mut &[u8], what: &'static str) -> Result<[u8; N], ProtoError> {
    let bytes = take(buf, N, what)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

/// Skip `n` bytes of C structure padding; their value is not checked because
/// ctdbd does not always initialise them.
pub(crate) fn skip_pad(buf: &mut &[u8], n: usize, what: &'static str) -> Result<(), ProtoError> {
    take(buf, n, what).map(|_| ())
}

/// Write `n` zero bytes of padding.
pub(crate) fn put_pad(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, 0);
}

/// A length that goes into a u32 field on the wire.
///
/// # Panics
/// If `n` does not fit in 32 bits. Every payload is bounded far below that by
/// [`crate::MAX_PACKET_LEN`], so this is a caller bug, never input data.
pub(crate) fn len_u32(n: usize) -> u32 {
    match u32::try_from(n) {
        Ok(v) => v,
        Err(_) => panic!("length {n} does not fit a u32 wire field"),
    }
}

/// A u32 count or length from the wire as a `usize`.
pub(crate) fn to_usize(v: u32) -> usize {
    // u32 always fits usize on the 32- and 64-bit targets we build for.
    v as usize
}

/// Decode `count` elements, each at least `min_size` bytes long.
///
/// The count comes from the peer, so it is checked against the bytes left
/// before anything is allocated: a lying count cannot make us reserve memory.
pub(crate) fn decode_vec<T: Wire>(
    buf: &mut &[u8],
    count: u32,
    min_size: usize,
    what: &'static str,
) -> Result<Vec<T>, ProtoError> {
    let count = to_usize(count);
    let need = count.saturating_mul(min_size.max(1));
    if need > buf.len() {
        return Err(ProtoError::Truncated { what, need, have: buf.len() });
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(T::decode(buf)?);
    }
    Ok(out)
}

/// Encode a slice of elements back to back.
pub(crate) fn encode_all<T: Wire>(items: &[T], out: &mut Vec<u8>) {
    for item in items {
        item.encode(out);
    }
}

/// Sum of the elements' encoded lengths.
pub(crate) fn len_all<T: Wire>(items: &[T]) -> usize {
    items.iter().map(Wire::wire_len).sum()
}

/// Bytes up to (not including) the first NUL, or all of them.
pub(crate) fn until_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(i) => &bytes[..i],
        None => bytes,
    }
}

/// Text from the wire: C strings in CTDB are ASCII names and paths.
pub(crate) fn utf8(bytes: &[u8], what: &'static str) -> Result<String, ProtoError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(ProtoError::Malformed(what)),
    }
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn wire_len(&self) -> usize {
                std::mem::size_of::<$t>()
            }
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
                Ok(<$t>::from_le_bytes(take_array(buf, stringify!($t))?))
            }
        }
    )*};
}

wire_int!(u8, u16, u32, i32, u64, i64, f64);

impl Wire for bool {
    fn wire_len(&self) -> usize {
        1
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        // Samba's bool pull rejects anything but 0 and 1.
        match u8::decode(buf)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ProtoError::Malformed("bool is neither 0 nor 1")),
        }
    }
}

impl<T: Wire + Copy + Default, const N: usize> Wire for [T; N] {
    fn wire_len(&self) -> usize {
        len_all(self)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        encode_all(self, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let mut out = [T::default(); N];
        for slot in out.iter_mut() {
            *slot = T::decode(buf)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_little_endian() {
        assert_eq!(0x0102_0304u32.to_bytes(), [4, 3, 2, 1]);
        assert_eq!((-1i32).to_bytes(), [0xff; 4]);
        assert_eq!(u64::from_bytes(&[1, 0, 0, 0, 0, 0, 0, 0]), Ok(1));
    }

    #[test]
    fn bool_rejects_values_other_than_0_and_1() {
        assert_eq!(bool::from_bytes(&[1]), Ok(true));
        assert!(matches!(bool::from_bytes(&[2]), Err(ProtoError::Malformed(_))));
    }

    #[test]
    fn from_bytes_rejects_trailing_bytes_from_prefix_does_not() {
        assert!(matches!(u32::from_bytes(&[1, 0, 0, 0, 9]), Err(ProtoError::TrailingBytes { extra: 1, .. })));
        assert_eq!(u32::from_prefix(&[1, 0, 0, 0, 9]), Ok(1));
    }

    #[test]
    fn lying_count_does_not_allocate() {
        let mut buf: &[u8] = &[0u8; 8];
        let r = decode_vec::<u32>(&mut buf, u32::MAX, 4, "list");
        assert!(matches!(r, Err(ProtoError::Truncated { .. })));
    }
}
