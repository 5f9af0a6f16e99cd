//! The event helper's log: Samba's debug messages, which the helper writes
//! to standard error as bare lines when their level is enabled (`-d`).

/// A Samba debug level (`ctdb-event -d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Level(u8);

impl Level {
    /// `ERROR`, the default: only failures are logged.
    pub const ERROR: Level = Level(0);
    /// `NOTICE`: also each command's result.
    pub const NOTICE: Level = Level(3);

    /// Samba's `debug_level_parse`: a number 0–10, or a case-insensitive
    /// prefix of a level name, first match in the order ERROR, WARNING,
    /// NOTICE, INFO, DEBUG (so `n` is NOTICE and the empty string ERROR).
    pub fn parse(text: &str) -> Option<Level> {
        const NAMES: [(&str, u8); 5] = [("ERROR", 0), ("WARNING", 1), ("NOTICE", 3), ("INFO", 5), ("DEBUG", 10)];
        if text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            let n = crate::numparse::atoi(text);
            return u8::try_from(n).ok().filter(|n| *n <= 10).map(Level);
        }
        NAMES
            .iter()
            .find(|(name, _)| name.len() >= text.len() && name[..text.len()].eq_ignore_ascii_case(text))
            .map(|(_, level)| Level(*level))
    }
}

/// What the helper has written to standard error so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    level: Level,
    text: String,
}

impl Log {
    /// An empty log that shows messages up to `level`.
    pub fn new(level: Level) -> Log {
        Log { level, text: String::new() }
    }

    /// A failure (`D_ERR`), always shown.
    pub fn err(&mut self, line: impl AsRef<str>) {
        self.at(Level::ERROR, line);
    }

    /// A result (`D_NOTICE`).
    pub fn notice(&mut self, line: impl AsRef<str>) {
        self.at(Level::NOTICE, line);
    }

    fn at(&mut self, level: Level, line: impl AsRef<str>) {
        if level <= self.level {
            self.text.push_str(line.as_ref());
            self.text.push('\n');
        }
    }

    /// The text, lines with their newlines.
    pub fn into_text(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_like_samba() {
        assert_eq!(Level::parse("NOTICE"), Some(Level::NOTICE));
        assert_eq!(Level::parse("n"), Some(Level::NOTICE));
        assert_eq!(Level::parse("notice"), Some(Level::NOTICE));
        assert_eq!(Level::parse(""), Some(Level::ERROR));
        assert_eq!(Level::parse("3"), Some(Level::NOTICE));
        assert_eq!(Level::parse("10"), Some(Level(10)));
        assert_eq!(Level::parse("11"), None);
        assert_eq!(Level::parse("NOTICEX"), None);
        assert_eq!(Level::parse("bogus"), None);
    }

    #[test]
    fn messages_above_the_level_are_dropped() {
        let mut log = Log::new(Level::ERROR);
        log.notice("hidden");
        log.err("shown");
        assert_eq!(log.into_text(), "shown\n");
        let mut log = Log::new(Level::NOTICE);
        log.notice("result");
        assert_eq!(log.into_text(), "result\n");
    }
}
