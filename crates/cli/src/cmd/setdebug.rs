//! `ctdb setdebug LEVEL`: set the daemon's log level (SET_DEBUG).

use serde::Serialize;

use ctdb_legacy_proto::debug;

use super::{usage, Ctx};
use crate::error::CliError;
use crate::numparse::atoi;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb setdebug` (prints nothing; the JSON form shows what was set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SetDebug {
    /// The node changed.
    pub node: u32,
    /// The level sent.
    pub level: i32,
    /// Its name.
    pub name: String,
}

impl Render for SetDebug {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Parses a level as Samba's tool does: text starting with a digit is read
/// as its leading decimal digits and must be 0..=10 (`3x` is 3, `0x3` is 0);
/// anything else is a case-insensitive prefix of ERROR, WARNING, NOTICE,
/// INFO, DEBUG, tried in that order (so `` is ERROR). Names map to 0, 1, 3,
/// 5, 10 (observed on the wire).
pub fn parse_level(s: &str) -> Option<i32> {
    if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let level = atoi(s);
        return (0..=10).contains(&level).then_some(level);
    }
    [debug::ERROR, debug::WARNING, debug::NOTICE, debug::INFO, debug::DEBUG].into_iter().find(|l| {
        let name = debug::name(*l);
        name.len() >= s.len() && name[..s.len()].eq_ignore_ascii_case(s)
    })
}

/// Runs the command; the level is checked before anything is sent.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [arg] = args else {
        return Err(usage("setdebug"));
    };
    let Some(level) = parse_level(arg) else {
        return Err(CliError::stderr(
            format!("Invalid debug level '{arg}'. Valid levels are:\n\tERROR | WARNING | NOTICE | INFO | DEBUG\n"),
            1,
        ));
    };
    session.set_debug_level(level).await?;
    Ok(cx.reply(&SetDebug { node: session.target(), level, name: debug::name(level).to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_like_samba() {
        assert_eq!(parse_level("e"), Some(0));
        assert_eq!(parse_level("w"), Some(1));
        assert_eq!(parse_level("n"), Some(3));
        assert_eq!(parse_level("i"), Some(5));
        assert_eq!(parse_level("d"), Some(10));
        assert_eq!(parse_level(""), Some(0));
        assert_eq!(parse_level("ERR"), Some(0));
        assert_eq!(parse_level("Notice"), Some(3));
        assert_eq!(parse_level("DEBUG"), Some(10));
        assert_eq!(parse_level("7"), Some(7));
        assert_eq!(parse_level("10"), Some(10));
        assert_eq!(parse_level("3x"), Some(3));
        assert_eq!(parse_level("0x3"), Some(0));
        assert_eq!(parse_level("11"), None);
        assert_eq!(parse_level("bogus"), None);
        assert_eq!(parse_level("errors"), None);
    }

    #[test]
    fn invalid_level_message() {
        // Captured from Debian's tool: B_setdebug_bogus.stderr.
        let expected = include_str!("../../tests/expected/B_setdebug_bogus.stderr");
        let text = "Invalid debug level 'bogus'. Valid levels are:\n\tERROR | WARNING | NOTICE | INFO | DEBUG\n";
        assert_eq!(text, expected);
    }
}
