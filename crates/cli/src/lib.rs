//! Our `ctdb`: Samba CTDB's command-line tool, reimplemented.
//!
//! A drop-in for Debian's `/usr/bin/ctdb` 4.17: same options (`-n`, `-t`,
//! `-T`, `-X`/`-Y`, `-x`, `-d`, `-v`), same output bytes, same messages on
//! standard error and same exit codes, checked against outputs captured
//! from the real tool (`tests/expected/`). Our addition is `--json`.
//!
//! Every command builds a typed result and renders it three ways (Samba's
//! text, Samba's `-X`/`-Y`, JSON); see [`render`] and [`cmd`].
//!
//! | concern | module |
//! | --- | --- |
//! | options as popt parses them | [`args`] |
//! | C number parsing (`strtoul`, `atoi`) | [`numparse`] |
//! | argv to exit code, max runtime | [`run`] |
//! | preamble, typed controls, leader wait | [`session`] |
//! | ctdbd connection | [`link`] |
//! | commands, one file each | [`cmd`] |
//! | database lookup, attach, record locks and dumps | [`db`] |
//! | persistent-database transactions | [`transaction`] |
//! | backup file format | [`backup`] |
//! | text / machine / JSON rendering | [`render`] |
//! | node flag texts and columns | [`flags`] |
//! | addresses as Samba reads, prints and sorts them | [`inet`] |
//! | `ctime()` and elapsed times | [`timefmt`] |
//! | usage and help texts | [`usage`] |
//! | failures, stderr and exit codes | [`error`] |

pub mod args;
pub mod backup;
pub mod cmd;
pub mod db;
pub mod error;
pub mod flags;
pub mod inet;
pub mod link;
pub mod numparse;
pub mod render;
pub mod run;
pub mod session;
pub mod timefmt;
pub mod transaction;
pub mod usage;

#[cfg(test)]
mod db_replay_tests;
#[cfg(test)]
mod replay_tests;
#[cfg(test)]
mod testutil;
