//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// Every way loading configuration can fail.
///
/// Each message names the file and, where there is one, the line and the
/// option, so an operator can go straight to the mistake:
/// `/etc/ctdb/ctdb.conf:7: [cluster] leader timeout: invalid integer "abc"`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file exists but could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A line the INI lexer cannot make sense of (e.g. `[section` with no `]`).
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A `[section]` that ctdb.conf does not have.
    #[error("{}:{line}: unknown section [{section}]", path.display())]
    UnknownSection {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The section name as written.
        section: String,
    },
    /// An option before any `[section]` line.
    #[error("{}:{line}: unknown section for option \"{key}\"", path.display())]
    NoSection {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The option name as written.
        key: String,
    },
    /// An option that its section does not have.
    #[error("{}:{line}: unknown option [{section}] -> \"{key}\"", path.display())]
    UnknownOption {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The section, in its canonical (lower case) spelling.
        section: String,
        /// The option name as written.
        key: String,
    },
    /// A known option with a value that is not acceptable.
    #[error("{}:{line}: [{section}] {key}: {problem}", path.display())]
    InvalidValue {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The section, canonical spelling.
        section: String,
        /// The option name.
        key: String,
        /// What is wrong, including the offending value.
        problem: String,
    },
    /// A directory or file that a setting names does not exist or is unusable.
    #[error("{what} \"{}\" {problem}", path.display())]
    BadPath {
        /// The setting, e.g. `volatile database directory`.
        what: String,
        /// The path it names.
        path: PathBuf,
        /// e.g. `does not exist`, `is not executable`.
        problem: String,
    },
    /// A line of the nodes file that is neither empty, a comment nor an IP address.
    #[error("{}:{line}: invalid IP address \"{text}\"", path.display())]
    InvalidNode {
        /// The nodes file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line, blanks stripped.
        text: String,
    },
    /// The environment is inconsistent (e.g. test mode without `CTDB_BASE`).
    #[error("{0}")]
    Environment(String),
}
