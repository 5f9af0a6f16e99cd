//! Number parsing with the C semantics Samba's tool applies to its
//! arguments, so the same input gives the same value or the same error.
//!
//! Observed with Debian's `ctdb` 4.17 (see `tests/expected/README.md`):
//! `setvar X 15x` sets 15, `setvar X 0x` sets 0, `setvar X 08` sets 0,
//! `setvar X abc` exits 22, `setvar X " -5"` exits 22,
//! `setvar X 99999999999` stores 1215752191 (truncated to 32 bits),
//! `setvar X 99999999999999999999999` exits 34; `process-exists 0x10` asks
//! for pid 0 and `process-exists 12x` for pid 12.

use std::fmt;

/// Why a number was rejected, with the errno Samba's tool exits with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumError {
    /// No digits, or a minus sign (EINVAL, exit code 22).
    Invalid,
    /// Does not fit 64 bits (ERANGE, exit code 34).
    Range,
}

impl NumError {
    /// The errno value, which Samba's tool uses as its exit code.
    pub fn errno(self) -> i32 {
        match self {
            NumError::Invalid => 22,
            NumError::Range => 34,
        }
    }
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumError::Invalid => f.write_str("invalid numeric value"),
            NumError::Range => f.write_str("number too large or too small"),
        }
    }
}

/// Skips leading C whitespace (`isspace`).
fn skip_space(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
}

/// The value of `c` as a digit in `radix`.
fn digit(c: u8, radix: u32) -> Option<u32> {
    (c as char).to_digit(radix)
}

/// Parses the unsigned magnitude after any sign, as `strtoul(…, 0)`:
/// `0x` prefix ⇒ hex (only when a hex digit follows), leading `0` ⇒ octal,
/// else decimal. Returns the value (`None` on overflow) and the number of
/// bytes consumed (0 = no digits).
fn magnitude(s: &[u8]) -> (Option<u64>, usize) {
    let (radix, start) = if s.len() > 2 && s[0] == b'0' && (s[1] == b'x' || s[1] == b'X') && digit(s[2], 16).is_some() {
        (16, 2)
    } else if !s.is_empty() && s[0] == b'0' {
        (8, 0)
    } else {
        (10, 0)
    };
    let mut value: Option<u64> = Some(0);
    let mut end = start;
    while end < s.len() {
        let Some(d) = digit(s[end], radix) else { break };
        value = value.and_then(|v| v.checked_mul(u64::from(radix))).and_then(|v| v.checked_add(u64::from(d)));
        end += 1;
    }
    (value, end)
}

/// Samba's `smb_strtoull(s, base 0)` as the tool uses it: leading blanks and
/// a `+` allowed, any `-` inside the number rejected, trailing text ignored.
pub fn strtoull(s: &str) -> Result<u64, NumError> {
    let body = skip_space(s).as_bytes();
    let (negative, digits) = match body.first() {
        Some(b'+') => (false, &body[1..]),
        Some(b'-') => (true, &body[1..]),
        _ => (false, body),
    };
    let (value, used) = magnitude(digits);
    if used == 0 {
        return Err(NumError::Invalid);
    }
    if negative {
        return Err(NumError::Invalid);
    }
    value.ok_or(NumError::Range)
}

/// The base given to `strtoul`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Radix {
    /// Base 0: `0x` hex, leading `0` octal, else decimal.
    Auto,
    /// Base 10 (ports, `moveip`'s pnn, `gettickles`' port).
    Decimal,
}

/// Samba's `smb_strtoul(s, NULL, base, &err, flags)`: leading blanks and a
/// `+` allowed, a `-` rejected, no digits rejected; with `full`
/// (`SMB_STR_FULL_STR_CONV`) trailing text is rejected too, else ignored.
pub fn smb_strtoul(s: &str, radix: Radix, full: bool) -> Result<u64, NumError> {
    let body = skip_space(s).as_bytes();
    let (negative, digits) = match body.first() {
        Some(b'+') => (false, &body[1..]),
        Some(b'-') => (true, &body[1..]),
        _ => (false, body),
    };
    let (value, used) = match radix {
        Radix::Auto => magnitude(digits),
        Radix::Decimal => {
            let used = digits.iter().take_while(|c| c.is_ascii_digit()).count();
            let value = digits[..used]
                .iter()
                .try_fold(0u64, |v, c| v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))));
            (value, used)
        }
    };
    if used == 0 {
        return Err(NumError::Invalid);
    }
    // strtoul reports ERANGE before the tool's own checks.
    let value = value.ok_or(NumError::Range)?;
    if negative || (full && used != digits.len()) {
        return Err(NumError::Invalid);
    }
    Ok(value)
}

/// [`strtoull`] stored into a 32-bit field, truncating as the C assignment
/// does (`setvar MonitorInterval 99999999999` stores 1215752191).
pub fn strtoul_u32(s: &str) -> Result<u32, NumError> {
    // Truncation is the observed behaviour, not an accident.
    strtoull(s).map(|v| v as u32)
}

/// C `atoi()`: leading blanks, optional sign, decimal digits, anything else
/// ignored; no digits ⇒ 0. The `long` result is cast to `int`.
pub fn atoi(s: &str) -> i32 {
    let body = skip_space(s).as_bytes();
    let (negative, digits) = match body.first() {
        Some(b'+') => (false, &body[1..]),
        Some(b'-') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut value: i64 = 0;
    for &c in digits {
        let Some(d) = digit(c, 10) else { break };
        // strtol saturates at LONG_MAX / LONG_MIN.
        value = value.saturating_mul(10).saturating_add(i64::from(d));
    }
    let value = if negative { value.saturating_neg() } else { value };
    // (int) of a long keeps the low 32 bits.
    value as i32
}

/// popt's integer option argument: `strtol(…, 0)` of the whole string; any
/// trailing text is "invalid numeric value", values outside `int` are
/// "number too large or too small" (`-n 99999999999`).
pub fn popt_int(s: &str) -> Result<i32, NumError> {
    let body = skip_space(s).as_bytes();
    let (negative, digits) = match body.first() {
        Some(b'+') => (false, &body[1..]),
        Some(b'-') => (true, &body[1..]),
        _ => (false, body),
    };
    let (value, used) = magnitude(digits);
    if used != digits.len() {
        return Err(NumError::Invalid);
    }
    let value = value.ok_or(NumError::Range)?;
    let value = i64::try_from(value).map_err(|_| NumError::Range)?;
    let value = if negative { -value } else { value };
    i32::try_from(value).map_err(|_| NumError::Range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_follows_observed_setvar_behaviour() {
        assert_eq!(strtoull("15"), Ok(15));
        assert_eq!(strtoull("0x0f"), Ok(15));
        assert_eq!(strtoull("17x"), Ok(17));
        assert_eq!(strtoull("0x"), Ok(0));
        assert_eq!(strtoull("0x1g"), Ok(1));
        assert_eq!(strtoull("010"), Ok(8));
        assert_eq!(strtoull("08"), Ok(0));
        assert_eq!(strtoull(" 18"), Ok(18));
        assert_eq!(strtoull("+19"), Ok(19));
        assert_eq!(strtoull("1-5"), Ok(1));
        assert_eq!(strtoull("abc"), Err(NumError::Invalid));
        assert_eq!(strtoull(""), Err(NumError::Invalid));
        assert_eq!(strtoull(" -5"), Err(NumError::Invalid));
        assert_eq!(strtoull("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(strtoull("99999999999999999999999"), Err(NumError::Range));
    }

    #[test]
    fn smb_strtoul_decimal_and_full_string() {
        assert_eq!(smb_strtoul("445", Radix::Decimal, true), Ok(445));
        assert_eq!(smb_strtoul(" +7", Radix::Decimal, true), Ok(7));
        assert_eq!(smb_strtoul("0x10", Radix::Decimal, false), Ok(0));
        assert_eq!(smb_strtoul("0x10", Radix::Decimal, true), Err(NumError::Invalid));
        assert_eq!(smb_strtoul("12x", Radix::Decimal, false), Ok(12));
        assert_eq!(smb_strtoul("-1", Radix::Decimal, false), Err(NumError::Invalid));
        assert_eq!(smb_strtoul("", Radix::Decimal, false), Err(NumError::Invalid));
        assert_eq!(smb_strtoul("99999999999999999999", Radix::Decimal, false), Err(NumError::Range));
        assert_eq!(smb_strtoul("0x10", Radix::Auto, true), Ok(16));
    }

    #[test]
    fn strtoul_u32_truncates_like_the_c_assignment() {
        assert_eq!(strtoul_u32("99999999999"), Ok(1_215_752_191));
        assert_eq!(strtoul_u32("4294967296"), Ok(0));
        assert_eq!(strtoul_u32("18446744073709551615"), Ok(u32::MAX));
    }

    #[test]
    fn atoi_reads_leading_decimal_digits() {
        assert_eq!(atoi("14984"), 14984);
        assert_eq!(atoi("0x10"), 0);
        assert_eq!(atoi("12x"), 12);
        assert_eq!(atoi("010"), 10);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("99999999999"), 1_215_752_191);
        assert_eq!(atoi("-3"), -3);
    }

    #[test]
    fn popt_int_rejects_trailing_text_and_out_of_range() {
        assert_eq!(popt_int("1"), Ok(1));
        assert_eq!(popt_int("0x1"), Ok(1));
        assert_eq!(popt_int("010"), Ok(8));
        assert_eq!(popt_int("-1"), Ok(-1));
        assert_eq!(popt_int("1x"), Err(NumError::Invalid));
        assert_eq!(popt_int("all"), Err(NumError::Invalid));
        assert_eq!(popt_int("1.5"), Err(NumError::Invalid));
        assert_eq!(popt_int("99999999999"), Err(NumError::Range));
    }
}
