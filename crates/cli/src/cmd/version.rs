//! `ctdb version`: no daemon needed.

use serde::Serialize;

use super::Ctx;
use crate::render::{Render, RenderCx, Reply};

/// The Samba CTDB release whose protocol and tool behaviour we reproduce.
pub const COMPATIBLE_WITH: &str = "4.17.12";

/// `ctdb version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Version {
    /// What the text form prints: the Samba release we are compatible with,
    /// tagged as ours (Debian's tool prints `4.17.12-Debian`).
    pub version: String,
    /// The Samba release we are compatible with.
    pub compatible_with: String,
    /// This crate's version.
    pub ctdb_rs: String,
}

impl Version {
    /// The version of this build.
    pub fn current() -> Version {
        Version {
            version: format!("{COMPATIBLE_WITH}-ctdb-rs"),
            compatible_with: COMPATIBLE_WITH.to_string(),
            ctdb_rs: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

impl Render for Version {
    fn text(&self, _cx: &RenderCx) -> String {
        format!("{}\n", self.version)
    }
}

/// Runs the command. Extra arguments are ignored, as Samba's tool does.
pub fn run(cx: &Ctx) -> Reply {
    cx.reply(&Version::current())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_and_machine_are_the_version_line() {
        let v =
            Version { version: "4.17.12-Debian".into(), compatible_with: "4.17.12".into(), ctdb_rs: "0.1.0".into() };
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(v.text(&cx), include_str!("../../tests/expected/B_version.txt"));
        assert_eq!(v.machine(&cx), "4.17.12-Debian\n");
    }
}
