//! CTDB debug levels (GET_DEBUG / SET_DEBUG, `log level`, `-d`).

use std::fmt;

/// A CTDB debug level: a plain `i32` on the wire, with five named values.
///
/// Any integer can be carried (SET_DEBUG takes an `i32`), but only 0..=10
/// are accepted by [`DebugLevel::parse`]. The named values are the ones the
/// daemon logs at; a level admits every message whose level is `<=` it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DebugLevel(pub i32);

/// Names in value order; a prefix is matched against them in this order.
const NAMES: [(&str, DebugLevel); 5] = [
    ("ERROR", DebugLevel::ERROR),
    ("WARNING", DebugLevel::WARNING),
    ("NOTICE", DebugLevel::NOTICE),
    ("INFO", DebugLevel::INFO),
    ("DEBUG", DebugLevel::DEBUG),
];

impl DebugLevel {
    /// Errors only.
    pub const ERROR: DebugLevel = DebugLevel(0);
    /// Warnings and errors.
    pub const WARNING: DebugLevel = DebugLevel(1);
    /// The daemon's default.
    pub const NOTICE: DebugLevel = DebugLevel(3);
    /// Informational.
    pub const INFO: DebugLevel = DebugLevel(5);
    /// Everything.
    pub const DEBUG: DebugLevel = DebugLevel(10);

    /// Parses a level as ctdbd does: a name (`ERROR`, `WARNING`, `NOTICE`,
    /// `INFO`, `DEBUG`), any case-insensitive prefix of one (`e`, `warn`), or
    /// a decimal number 0..=10.
    ///
    /// Unlike ctdbd, a number with trailing text (`3x`) is rejected rather
    /// than read as its leading digits.
    pub fn parse(s: &str) -> Option<DebugLevel> {
        if s.is_empty() {
            return None;
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<i32>() {
                Ok(n) if (0..=10).contains(&n) => Some(DebugLevel(n)),
                _ => None,
            };
        }
        NAMES
            .iter()
            .find(|(name, _)| name.len() >= s.len() && name.as_bytes()[..s.len()].eq_ignore_ascii_case(s.as_bytes()))
            .map(|&(_, level)| level)
    }

    /// The name `ctdb getdebug` prints: ranges of values share a name
    /// (1 and 2 are WARNING, 5..=9 INFO), anything outside 0..=10 is UNKNOWN.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "ERROR",
            1 | 2 => "WARNING",
            3 | 4 => "NOTICE",
            5..=9 => "INFO",
            10 => "DEBUG",
            _ => "UNKNOWN",
        }
    }

    /// Whether a message logged at `message` passes a filter set to `self`.
    pub fn admits(self, message: DebugLevel) -> bool {
        message <= self
    }
}

impl Default for DebugLevel {
    /// ctdbd's default level.
    fn default() -> Self {
        DebugLevel::NOTICE
    }
}

impl fmt::Display for DebugLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse() {
        assert_eq!(DebugLevel::parse("ERROR"), Some(DebugLevel::ERROR));
        assert_eq!(DebugLevel::parse("warning"), Some(DebugLevel::WARNING));
        assert_eq!(DebugLevel::parse("Notice"), Some(DebugLevel::NOTICE));
        assert_eq!(DebugLevel::parse("info"), Some(DebugLevel::INFO));
        assert_eq!(DebugLevel::parse("DEBUG"), Some(DebugLevel::DEBUG));
        for n in 0..=10 {
            assert_eq!(DebugLevel::parse(&n.to_string()), Some(DebugLevel(n)));
        }
    }

    #[test]
    fn prefixes_are_accepted_case_insensitively() {
        assert_eq!(DebugLevel::parse("e"), Some(DebugLevel::ERROR));
        assert_eq!(DebugLevel::parse("err"), Some(DebugLevel::ERROR));
        assert_eq!(DebugLevel::parse("w"), Some(DebugLevel::WARNING));
        assert_eq!(DebugLevel::parse("WARN"), Some(DebugLevel::WARNING));
        assert_eq!(DebugLevel::parse("n"), Some(DebugLevel::NOTICE));
        assert_eq!(DebugLevel::parse("i"), Some(DebugLevel::INFO));
        assert_eq!(DebugLevel::parse("d"), Some(DebugLevel::DEBUG));
    }

    #[test]
    fn rejects_what_ctdbd_rejects_and_trailing_garbage() {
        for bad in ["", "11", "-1", "WARNINGX", "NOTICE x", "blah", "3x", "0x3", " 3"] {
            assert_eq!(DebugLevel::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_follow_the_getdebug_ranges() {
        let expect =
            ["ERROR", "WARNING", "WARNING", "NOTICE", "NOTICE", "INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG"];
        for (n, name) in expect.iter().enumerate() {
            assert_eq!(DebugLevel(n as i32).name(), *name);
        }
        assert_eq!(DebugLevel(11).name(), "UNKNOWN");
        assert_eq!(DebugLevel(-1).name(), "UNKNOWN");
    }

    #[test]
    fn ordering_admits_lower_levels() {
        assert!(DebugLevel::NOTICE.admits(DebugLevel::ERROR));
        assert!(DebugLevel::NOTICE.admits(DebugLevel::NOTICE));
        assert!(!DebugLevel::NOTICE.admits(DebugLevel::INFO));
        assert!(DebugLevel(4).admits(DebugLevel::NOTICE));
    }
}
