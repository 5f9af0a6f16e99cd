//! The INI lexer shared by `ctdb.conf` and `ctdb.tunables`.
//!
//! It reproduces the line rules of ctdbd's lexer, observed on the 4.17
//! binaries:
//!
//! - a physical line whose first non-blank character is `#` or `;` is a
//!   comment, and a comment never continues onto the next line;
//! - a newline-terminated line ending in `\` (trailing blanks allowed after
//!   it) is joined with the next physical line, raw; at end of file without a
//!   newline the `\` is kept as text;
//! - `[name]` opens a section: the name is everything up to the first `]`,
//!   untrimmed; text after the `]` is ignored;
//! - otherwise the line is split at its first `=`; key and value are trimmed
//!   and each run of blanks inside them becomes its first blank (so
//!   `leader   timeout` is `leader timeout`, but a tab stays a tab);
//! - a line without `=` is reported as [`IniLine::NoEquals`] so that each
//!   caller decides (ctdb.conf ignores it, the tunables file warns).
//!
//! Where ctdbd silently abandons the whole file (a `[` without `]`), this
//! lexer reports an error for that line and carries on with the next one.

use std::iter::Peekable;
use std::str::Split;

/// One meaningful logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IniLine {
    /// `[name]`; `name` exactly as written between `[` and the first `]`.
    Section {
        /// 1-based number of the (first) physical line.
        line: usize,
        /// The section name, untrimmed.
        name: String,
    },
    /// `key = value`, both normalised.
    Param {
        /// 1-based number of the (first) physical line.
        line: usize,
        /// The key, trimmed, runs of blanks collapsed.
        key: String,
        /// The value, trimmed, runs of blanks collapsed; may be empty.
        value: String,
    },
    /// A non-blank, non-comment line with no `=`.
    NoEquals {
        /// 1-based number of the (first) physical line.
        line: usize,
        /// The line, normalised.
        text: String,
    },
}

impl IniLine {
    /// The 1-based line number the item starts on.
    pub fn line(&self) -> usize {
        match self {
            IniLine::Section { line, .. } | IniLine::Param { line, .. } | IniLine::NoEquals { line, .. } => *line,
        }
    }
}

/// A line the lexer cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Lexes `text` into logical lines. Errors are per line: iteration goes on
/// after one, so a caller may choose to report and continue.
pub fn lex(text: &str) -> Lexer<'_> {
    Lexer { lines: text.split('\n').peekable(), next_number: 1 }
}

/// Iterator returned by [`lex`].
pub struct Lexer<'a> {
    lines: Peekable<Split<'a, char>>,
    next_number: usize,
}

impl<'a> Lexer<'a> {
    /// The next physical line, its number, and whether a newline ended it.
    fn physical(&mut self) -> Option<(usize, &'a str, bool)> {
        let text = self.lines.next()?;
        let number = self.next_number;
        self.next_number += 1;
        // `split` yields a final piece after the last newline; only that one
        // was not terminated by a newline.
        let terminated = self.lines.peek().is_some();
        Some((number, text, terminated))
    }
}

impl Iterator for Lexer<'_> {
    type Item = Result<IniLine, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (number, first, mut terminated) = self.physical()?;
            let start = first.trim_start_matches(is_space);
            if start.is_empty() || start.starts_with('#') || start.starts_with(';') {
                continue;
            }
            let mut logical = String::from(first);
            while terminated && ends_with_continuation(&logical) {
                let keep = logical.trim_end_matches(is_space).len() - 1;
                logical.truncate(keep);
                match self.physical() {
                    Some((_, more, more_terminated)) => {
                        logical.push_str(more);
                        terminated = more_terminated;
                    }
                    None => break,
                }
            }
            return Some(classify(number, &logical));
        }
    }
}

/// C `isspace` in the "C" locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

fn ends_with_continuation(s: &str) -> bool {
    s.trim_end_matches(is_space).ends_with('\\')
}

fn classify(line: usize, logical: &str) -> Result<IniLine, LexError> {
    let text = logical.trim_start_matches(is_space);
    if let Some(rest) = text.strip_prefix('[') {
        return match rest.find(']') {
            Some(end) => Ok(IniLine::Section { line, name: rest[..end].to_string() }),
            None => Err(LexError { line, message: format!("missing ']' in section header \"{}\"", normalise(text)) }),
        };
    }
    match text.split_once('=') {
        Some((key, value)) => Ok(IniLine::Param { line, key: normalise(key), value: normalise(value) }),
        None => Ok(IniLine::NoEquals { line, text: normalise(text) }),
    }
}

/// Trims blanks at both ends and turns each inner run of blanks into the
/// first blank of the run, as ctdbd's lexer does.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.trim_matches(is_space).chars() {
        if is_space(c) {
            if !in_run {
                out.push(c);
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<Result<IniLine, LexError>> {
        lex(text).collect()
    }

    fn param(line: usize, key: &str, value: &str) -> Result<IniLine, LexError> {
        Ok(IniLine::Param { line, key: key.into(), value: value.into() })
    }

    fn section(line: usize, name: &str) -> Result<IniLine, LexError> {
        Ok(IniLine::Section { line, name: name.into() })
    }

    #[test]
    fn sections_params_comments_and_blank_lines() {
        let text = "# comment\n\n[cluster]\n  ; also a comment\nleader timeout = 3\n";
        assert_eq!(items(text), vec![section(3, "cluster"), param(5, "leader timeout", "3")]);
    }

    #[test]
    fn split_at_first_equals_and_trim() {
        assert_eq!(items("cluster lock=a=b"), vec![param(1, "cluster lock", "a=b")]);
        assert_eq!(items("  k   =   v  "), vec![param(1, "k", "v")]);
        assert_eq!(items("k ="), vec![param(1, "k", "")]);
        assert_eq!(items("= v"), vec![param(1, "", "v")]);
    }

    #[test]
    fn runs_of_blanks_collapse_to_their_first_blank() {
        // Observed on 4.17: "a \tb" -> "a b", "a\t b" -> "a\tb", "a\t\tb" -> "a\tb".
        assert_eq!(items("k = a \tb"), vec![param(1, "k", "a b")]);
        assert_eq!(items("k = a\t b"), vec![param(1, "k", "a\tb")]);
        assert_eq!(items("k = a\t\tb"), vec![param(1, "k", "a\tb")]);
        assert_eq!(items("leader   timeout = 3"), vec![param(1, "leader timeout", "3")]);
        assert_eq!(items("cluster\tlock = x"), vec![param(1, "cluster\tlock", "x")]);
    }

    #[test]
    fn trailing_comment_text_is_part_of_the_value() {
        assert_eq!(items("k = 3 # c"), vec![param(1, "k", "3 # c")]);
    }

    #[test]
    fn section_name_is_raw_up_to_first_bracket() {
        assert_eq!(items("[ cluster ]"), vec![section(1, " cluster ")]);
        assert_eq!(items("[cluster]x]"), vec![section(1, "cluster")]);
        assert_eq!(items("  [cluster] \r"), vec![section(1, "cluster")]);
        assert_eq!(items("[]"), vec![section(1, "")]);
    }

    #[test]
    fn unterminated_section_is_an_error_and_lexing_goes_on() {
        let got = items("[foo\nk = v\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().map_err(|e| e.line), Err(1));
        assert_eq!(got[1], param(2, "k", "v"));
    }

    #[test]
    fn backslash_joins_the_next_physical_line_raw() {
        assert_eq!(items("k = a\\\nb\n"), vec![param(1, "k", "ab")]);
        assert_eq!(items("k = /a\\\n  b\n"), vec![param(1, "k", "/a b")]);
        assert_eq!(items("k = a\\ \n"), vec![param(1, "k", "a")]);
        assert_eq!(items("k = a\\\n\n"), vec![param(1, "k", "a")]);
        assert_eq!(items("k = a\\\n[legacy]\n"), vec![param(1, "k", "a[legacy]")]);
        assert_eq!(items("[clus\\\nter]\nk = 1\n"), vec![section(1, "cluster"), param(3, "k", "1")]);
        assert_eq!(items("k \\\n = a\n"), vec![param(1, "k", "a")]);
    }

    #[test]
    fn backslash_at_eof_without_newline_is_kept() {
        assert_eq!(items("k = a\\"), vec![param(1, "k", "a\\")]);
    }

    #[test]
    fn comments_never_continue() {
        assert_eq!(items("#x\\\n[cluster]\n"), vec![section(2, "cluster")]);
    }

    #[test]
    fn lines_without_equals_are_reported() {
        assert_eq!(
            items("[cluster]\nbogus  line\n"),
            vec![section(1, "cluster"), Ok(IniLine::NoEquals { line: 2, text: "bogus line".into() })]
        );
    }

    #[test]
    fn crlf_line_endings_are_blanks() {
        assert_eq!(items("[cluster]\r\nk = x\r\n"), vec![section(1, "cluster"), param(2, "k", "x")]);
    }

    proptest::proptest! {
        #[test]
        fn lexer_never_panics(text in "(?s).{0,300}") {
            for item in lex(&text) {
                let _ = item;
            }
        }

        #[test]
        fn lexer_never_panics_on_ini_like_text(text in "[\\[\\]=#; \t\r\n\\\\a-z0-9]{0,200}") {
            let n = text.split('\n').count();
            for item in lex(&text) {
                let line = match item {
                    Ok(item) => item.line(),
                    Err(e) => e.line,
                };
                proptest::prop_assert!(line >= 1 && line <= n);
            }
        }
    }
}
