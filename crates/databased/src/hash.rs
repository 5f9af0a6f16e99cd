//! The record hash CTDB and TDB's `TDB_INCOMPATIBLE_HASH` use: Bob
//! Jenkins' lookup3 `hashlittle` with initial value 0, written from the
//! published algorithm. It decides a key's lmaster and a database's id.

#[inline]
fn rot(x: u32, k: u32) -> u32 {
    x.rotate_left(k)
}

#[inline]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= rot(*c, 4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= rot(*a, 6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= rot(*b, 8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= rot(*c, 16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= rot(*a, 19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= rot(*b, 4);
    *b = b.wrapping_add(*a);
}

#[inline]
fn finish(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(rot(*b, 14));
    *a ^= *c;
    *a = a.wrapping_sub(rot(*c, 11));
    *b ^= *a;
    *b = b.wrapping_sub(rot(*a, 25));
    *c ^= *b;
    *c = c.wrapping_sub(rot(*b, 16));
    *a ^= *c;
    *a = a.wrapping_sub(rot(*c, 4));
    *b ^= *a;
    *b = b.wrapping_sub(rot(*a, 14));
    *c ^= *b;
    *c = c.wrapping_sub(rot(*b, 24));
}

fn word(b: &[u8]) -> u32 {
    // Little-endian assembly of up to 4 bytes, missing ones as zero.
    b.iter().enumerate().fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (8 * i)))
}

/// lookup3 `hashlittle(key, len, 0)`.
pub fn jenkins(key: &[u8]) -> u32 {
    let init = 0xdead_beefu32.wrapping_add(key.len() as u32);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = key;
    while k.len() > 12 {
        a = a.wrapping_add(word(&k[0..4]));
        b = b.wrapping_add(word(&k[4..8]));
        c = c.wrapping_add(word(&k[8..12]));
        mix(&mut a, &mut b, &mut c);
        k = &k[12..];
    }
    if k.is_empty() {
        return c;
    }
    let part = |r: std::ops::Range<usize>| -> u32 {
        let end = r.end.min(k.len());
        if r.start >= end {
            0
        } else {
            word(&k[r.start..end])
        }
    };
    a = a.wrapping_add(part(0..4));
    b = b.wrapping_add(part(4..8));
    c = c.wrapping_add(part(8..12));
    finish(&mut a, &mut b, &mut c);
    c
}

/// A database's id: the hash of its name with the terminating NUL.
pub fn db_id(name: &str) -> u32 {
    let mut v = name.as_bytes().to_vec();
    v.push(0);
    jenkins(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_key_vectors() {
        assert_eq!(jenkins(b""), 0xdeadbeef);
        assert_eq!(jenkins(b"a"), 0x58d68708);
        assert_eq!(jenkins(b"key1"), 0x1de0df49);
    }

    #[test]
    fn db_id_vectors() {
        for (name, id) in [
            ("volatile.tdb", 0x211bf47b),
            ("locking.tdb", 0x7a19d84d),
            ("brlock.tdb", 0x4e66c2b2),
            ("g_lock.tdb", 0x4d2a432b),
            ("secrets.tdb", 0x7132c184),
            ("registry.tdb", 0x6cf2837d),
            ("leases.tdb", 0x06916e77),
            ("smbXsrv_session_global.tdb", 0x6b06a26d),
            ("smbXsrv_tcon_global.tdb", 0x68c12c2c),
            ("smbXsrv_open_global.tdb", 0x66f71b8c),
            ("passdb.tdb", 0x3ef19640),
            ("share_info.tdb", 0xc3078fba),
        ] {
            assert_eq!(db_id(name), id, "{name}");
        }
    }
}
