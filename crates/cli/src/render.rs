//! Rendering typed results: Samba's human text, Samba's `-X`/`-Y` machine
//! output, and JSON (`--json`).
//!
//! Every command builds a typed result and implements [`Render`] for it; the
//! runner picks one of the three forms from the options. Renderers are pure
//! functions of the result and a [`RenderCx`], so they are unit-tested
//! against strings captured from Debian's `ctdb` 4.17.

use serde::Serialize;

use crate::timefmt::Zone;

/// Which of the three forms to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Samba's human-readable text.
    Text,
    /// Samba's `-X`/`-Y` output with the given separator.
    Machine {
        /// The separator string (`|`, or whatever `-x` gave, even several
        /// characters or none, as Samba's tool does).
        sep: String,
    },
    /// Our addition: the result as JSON.
    Json,
}

/// What a renderer may depend on besides the result itself.
#[derive(Clone, Debug)]
pub struct RenderCx {
    /// Separator for machine output (`|` unless `-x` was given).
    pub sep: String,
    /// Time zone used for `ctime()`-style timestamps.
    pub zone: Zone,
}

impl RenderCx {
    /// Context with the default separator `|`, for tests and for text.
    pub fn new(zone: Zone) -> RenderCx {
        RenderCx { sep: "|".to_string(), zone }
    }

    /// Same context with another separator.
    pub fn with_sep(mut self, sep: &str) -> RenderCx {
        self.sep = sep.to_string();
        self
    }

    /// One machine-readable row: every field preceded by the separator, and
    /// the separator closing the row (`|a|b|`), as Samba prints them.
    pub fn row<I, S>(&self, fields: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = String::new();
        for f in fields {
            out.push_str(&self.sep);
            out.push_str(f.as_ref());
        }
        out.push_str(&self.sep);
        out.push('\n');
        out
    }
}

/// A typed command result that can be printed in Samba's two forms.
///
/// JSON comes from `serde::Serialize`, so the JSON form always carries every
/// field of the typed result.
pub trait Render: Serialize {
    /// Samba's human-readable output (complete lines, with newlines).
    fn text(&self, cx: &RenderCx) -> String;

    /// Samba's `-X`/`-Y` output. Many commands print the same as text in
    /// 4.17 (`ping`, `uptime`, `pnn`, …), which is the default.
    fn machine(&self, cx: &RenderCx) -> String {
        self.text(cx)
    }
}

/// Renders `result` in the chosen form.
pub fn render<R: Render>(result: &R, format: &Format, cx: &RenderCx) -> String {
    match format {
        Format::Text => result.text(cx),
        Format::Machine { sep } => result.machine(&cx.clone().with_sep(sep)),
        Format::Json => json(result),
    }
}

/// Pretty JSON followed by a newline.
fn json<R: Serialize>(result: &R) -> String {
    match serde_json::to_string_pretty(result) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        // Our result types contain only plain data (numbers, strings, vectors,
        // maps with string keys), for which serde_json cannot fail; still, an
        // error is reported as JSON rather than a panic.
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    }
}

/// What a command hands back to the runner: its rendered standard output,
/// an optional message for standard error, and the exit code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Printed to standard output as is.
    pub stdout: String,
    /// Printed to standard error (without a trailing newline here).
    pub stderr: Option<String>,
    /// Process exit code.
    pub exit: i32,
}

impl Reply {
    /// Renders a typed result with exit code 0.
    pub fn ok<R: Render>(result: &R, format: &Format, cx: &RenderCx) -> Reply {
        Reply { stdout: render(result, format, cx), stderr: None, exit: 0 }
    }

    /// Sets the exit code.
    pub fn with_exit(mut self, exit: i32) -> Reply {
        self.exit = exit;
        self
    }

    /// Adds a message for standard error.
    pub fn with_stderr(mut self, msg: impl Into<String>) -> Reply {
        self.stderr = Some(msg.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_starts_and_ends_with_separator() {
        let cx = RenderCx::new(Zone::Utc);
        assert_eq!(cx.row(["0", "127.0.2.1"]), "|0|127.0.2.1|\n");
        let cx = cx.with_sep(";");
        assert_eq!(cx.row(["0", "127.0.2.1"]), ";0;127.0.2.1;\n");
    }

    #[test]
    fn multi_character_and_empty_separators_are_kept_whole() {
        // `ctdb -x ab -X listnodes` prints `ab0ab127.0.7.1ab` (observed).
        let cx = RenderCx::new(Zone::Utc).with_sep("ab");
        assert_eq!(cx.row(["0", "127.0.7.1"]), "ab0ab127.0.7.1ab\n");
        let cx = cx.with_sep("");
        assert_eq!(cx.row(["0", "127.0.7.1"]), "0127.0.7.1\n");
    }
}
