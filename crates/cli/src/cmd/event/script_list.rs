//! `ctdb event script list COMPONENT`: the scripts on disk, no daemon.
//!
//! First the scripts CTDB ships (`$datadir/events/C`, the directory's real
//! path), `*` when `$etcdir/events/C` holds a symlink of the same name
//! pointing exactly at it; then, after a blank line (only when both lists
//! print something), the local scripts of `$etcdir/events/C` that are not
//! such symlinks, `*` when executable by their owner (after following
//! links). Scripts are the entries named `[0-9][0-9].*.script`, sorted by
//! bytes, shown without `.script`.
//!
//! | failure | stderr | exit |
//! | --- | --- | --- |
//! | no `$datadir/events/C` | `Command script list finished with result=2` | 2 |
//! | its real path fails otherwise | – | errno |
//! | either directory unreadable (a missing shipped one is skipped) | `Command script list finished with result=ERRNO` | errno |

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use ctdb_config::Paths;

use super::cmdline::Command;
use super::log::Log;
use super::{append, errno, exit, usage};
use crate::cmd::Ctx;
use crate::render::{Render, RenderCx, Reply};

const ENOENT: i32 = 2;
const SUFFIX: &[u8] = b".script";

/// One line of the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedScript {
    /// Name without `.script`.
    pub name: String,
    /// Shown with `*`.
    pub enabled: bool,
}

/// `ctdb event script list`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScriptList {
    /// Scripts CTDB ships; enabled = linked from the local directory.
    pub shipped: Vec<ListedScript>,
    /// Other local scripts; enabled = executable.
    pub local: Vec<ListedScript>,
    /// Whether the text form separates the two lists with a blank line.
    #[serde(skip)]
    pub blank_line: bool,
}

impl Render for ScriptList {
    fn text(&self, _cx: &RenderCx) -> String {
        let line = |s: &ListedScript| format!("{} {}\n", if s.enabled { '*' } else { ' ' }, s.name);
        let mut out: String = self.shipped.iter().map(line).collect();
        if self.blank_line {
            out.push('\n');
        }
        out.extend(self.local.iter().map(line));
        out
    }
}

/// A script file found in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Found {
    /// File name without `.script`, as bytes.
    name: Vec<u8>,
    /// `DIR/FILE`.
    path: PathBuf,
    /// Executable by its owner (following links).
    executable: bool,
}

impl Found {
    fn listed(&self, enabled: bool) -> ListedScript {
        ListedScript { name: String::from_utf8_lossy(&self.name).into_owned(), enabled }
    }
}

/// Whether a file name is an event script's: `[0-9][0-9].*.script`.
pub fn is_script_name(name: &[u8]) -> bool {
    name.len() >= 3 + SUFFIX.len()
        && name[0].is_ascii_digit()
        && name[1].is_ascii_digit()
        && name[2] == b'.'
        && name.ends_with(SUFFIX)
}

/// The scripts of `dir`, sorted; an unreadable directory is its errno.
fn scripts_in(dir: &Path) -> Result<Vec<Found>, i32> {
    let entries = std::fs::read_dir(dir).map_err(|e| errno(&e))?;
    let mut names: Vec<OsString> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| errno(&e))?;
        if is_script_name(entry.file_name().as_bytes()) {
            names.push(entry.file_name());
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names
        .into_iter()
        .map(|file| {
            let bytes = file.as_bytes();
            let path = append(dir, &file);
            let executable = std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o100 != 0);
            Found { name: bytes[..bytes.len() - SUFFIX.len()].to_vec(), path, executable }
        })
        .collect())
}

/// Pairs the shipped scripts with the local symlinks to them (both lists
/// sorted, walked once, as Samba does): a local entry of the same name is
/// used up whether or not it is such a link.
fn build(shipped: Option<&[Found]>, local: &[Found]) -> ScriptList {
    let mut list = ScriptList::default();
    let mut linked = vec![false; local.len()];
    let mut j = 0;
    let mut matched = 0;
    for d in shipped.unwrap_or_default() {
        let mut enabled = false;
        while let Some(e) = local.get(j) {
            match e.name.cmp(&d.name) {
                std::cmp::Ordering::Greater => break,
                std::cmp::Ordering::Less => j += 1,
                std::cmp::Ordering::Equal => {
                    let target = std::fs::read_link(&e.path);
                    if target.is_ok_and(|t| t.as_os_str() == d.path.as_os_str()) {
                        enabled = true;
                        linked[j] = true;
                        matched += 1;
                    }
                    j += 1;
                    break;
                }
            }
        }
        list.shipped.push(d.listed(enabled));
    }
    list.blank_line = shipped.is_some_and(|s| !s.is_empty()) && matched != local.len();
    list.local = local.iter().zip(&linked).filter(|(_, l)| !**l).map(|(e, _)| e.listed(e.executable)).collect();
    list
}

/// Runs the command; the reply's exit is the helper's status.
pub fn run(cx: &Ctx, args: &[String], paths: &Paths, log: &mut Log) -> Reply {
    let [component] = args else {
        return usage(Command::ScriptList);
    };
    let subdir = format!("events/{component}");
    let shipped_dir = match std::fs::canonicalize(append(&paths.datadir, &subdir)) {
        Ok(dir) => dir,
        Err(e) if errno(&e) == ENOENT => return failed(ENOENT, log),
        Err(e) => return exit(errno(&e)),
    };
    let shipped = match scripts_in(&shipped_dir) {
        Ok(list) => Some(list),
        Err(ENOENT) => None,
        Err(code) => return failed(code, log),
    };
    let local = match scripts_in(&append(&paths.etcdir, &subdir)) {
        Ok(list) => list,
        Err(code) => return failed(code, log),
    };
    log.notice("Command script list finished with result=0");
    cx.reply(&build(shipped.as_deref(), &local))
}

fn failed(code: i32, log: &mut Log) -> Reply {
    log.err(format!("Command script list finished with result={code}"));
    exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn script_names_follow_the_pattern() {
        for good in ["00.x.script", "99..script", "10.a.b.script"] {
            assert!(is_script_name(good.as_bytes()), "{good}");
        }
        for bad in ["00.script", "0a.x.script", "00x.script", "00.x.sh", "00.x.script~", "README"] {
            assert!(!is_script_name(bad.as_bytes()), "{bad}");
        }
    }

    fn found(name: &str, path: &str, executable: bool) -> Found {
        Found { name: name.as_bytes().to_vec(), path: PathBuf::from(path), executable }
    }

    #[test]
    fn text_has_a_blank_line_only_between_two_lists() {
        // Paths that do not exist: no local entry is a link.
        let shipped = [found("00.a", "/nonexistent/s/00.a.script", true)];
        let local = [found("05.b", "/nonexistent/e/05.b.script", true), found("06.c", "/x", false)];
        let list = build(Some(&shipped), &local);
        assert_eq!(list.text(&RenderCx::new(Zone::Utc)), "  00.a\n\n* 05.b\n  06.c\n");
        let list = build(Some(&shipped), &[]);
        assert_eq!(list.text(&RenderCx::new(Zone::Utc)), "  00.a\n");
        let list = build(None, &local);
        assert_eq!(list.text(&RenderCx::new(Zone::Utc)), "* 05.b\n  06.c\n");
    }
}
