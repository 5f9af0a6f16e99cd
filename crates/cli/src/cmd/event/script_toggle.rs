//! `ctdb event script enable|disable COMPONENT SCRIPT`: done on the files
//! themselves, no daemon. Let `L` be `$etcdir/events/C/SCRIPT.script`:
//!
//! | `L` is | enable | disable |
//! | --- | --- | --- |
//! | a symlink | nothing | removed (`Failed to remove symlink L`, 5) |
//! | a regular file | x bits set for user, group, other | x bits cleared |
//! | something else | `Script L is not a file or a link`, 22 | same |
//! | missing | symlink to the real path of `$datadir/events/C/SCRIPT.script` (`Script S does not exist in C`, 2, when that is missing; `Failed to create symlink L`, 5) | nothing |
//! | unreadable (not ENOENT) | `Script L does not exist`, 22 | nothing |
//!
//! The chmod (Samba's `event_script_chmod`) looks SCRIPT up in the
//! directory, adding `.script` unless SCRIPT already ends with it: not
//! there is `Script S does not exist in C` (2), a name that is not a script
//! name is `Script S is invalid in C` (22). All messages go to standard
//! output; the exit status is the error.

use std::fs::{File, OpenOptions, Permissions};
use std::os::unix::fs::{DirEntryExt, MetadataExt, PermissionsExt};
use std::path::Path;

use ctdb_config::Paths;

use super::cmdline::Command;
use super::log::Log;
use super::script_list::is_script_name;
use super::{append, errno, exit, says, usage};
use crate::render::Reply;

const ENOENT: i32 = 2;
const EIO: i32 = 5;
const EINVAL: i32 = 22;
/// The execute bits for user, group and other.
const EXEC_BITS: u32 = 0o111;

/// What to do to the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make it run.
    Enable,
    /// Stop it running.
    Disable,
}

/// Runs the command; the reply's exit is the helper's status.
pub fn run(action: Action, args: &[String], paths: &Paths, log: &mut Log) -> Reply {
    let [component, script] = args else {
        return usage(match action {
            Action::Enable => Command::ScriptEnable,
            Action::Disable => Command::ScriptDisable,
        });
    };
    let rel = format!("events/{component}/{script}.script");
    let local = append(&paths.etcdir, &rel);
    match std::fs::symlink_metadata(&local) {
        Ok(meta) if meta.file_type().is_symlink() => match action {
            Action::Enable => exit(0),
            Action::Disable => match std::fs::remove_file(&local) {
                Ok(()) => exit(0),
                Err(_) => says(format!("Failed to remove symlink {}", local.display()), EIO),
            },
        },
        Ok(meta) if meta.file_type().is_file() => {
            let dir = append(&paths.etcdir, format!("events/{component}"));
            let result = chmod_script(&dir, script, action == Action::Enable);
            log.notice(format!("Command script finished with result={result}"));
            match result {
                EINVAL => says(format!("Script {script} is invalid in {component}"), result),
                ENOENT => says(format!("Script {script} does not exist in {component}"), result),
                _ => exit(result),
            }
        }
        Ok(_) => says(format!("Script {} is not a file or a link", local.display()), EINVAL),
        Err(_) if action == Action::Disable => exit(0),
        Err(e) if errno(&e) == ENOENT => link_shipped(&append(&paths.datadir, &rel), &local, component, script),
        Err(_) => says(format!("Script {} does not exist", local.display()), EINVAL),
    }
}

/// Enables a shipped script: `local` becomes a symlink to its real path.
fn link_shipped(shipped: &Path, local: &Path, component: &str, script: &str) -> Reply {
    let missing = || says(format!("Script {script} does not exist in {component}"), ENOENT);
    let target = match std::fs::canonicalize(shipped) {
        Ok(t) => t,
        Err(e) if errno(&e) == ENOENT => return missing(),
        Err(e) => return exit(errno(&e)),
    };
    if std::fs::metadata(&target).is_err() {
        return missing();
    }
    match std::os::unix::fs::symlink(&target, local) {
        Ok(()) => exit(0),
        Err(_) => says(format!("Failed to create symlink {}", local.display()), EIO),
    }
}

/// Sets or clears the execute bits of a regular script in `dir`; 0 or an
/// errno (ENOENT: not in the directory, EINVAL: not a script name, or the
/// opened file is not the directory entry, i.e. a symlink).
fn chmod_script(dir: &Path, script: &str, enable: bool) -> i32 {
    let file_name =
        if script.len() > 7 && script.ends_with(".script") { script.to_string() } else { format!("{script}.script") };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return errno(&e),
    };
    // Samba stops at the first unreadable entry, as readdir() does.
    let Some(entry) = entries.map_while(Result::ok).find(|e| e.file_name() == file_name.as_str()) else {
        return ENOENT;
    };
    if !is_script_name(file_name.as_bytes()) {
        return EINVAL;
    }
    let file = match OpenOptions::new().read(true).write(true).open(append(dir, &file_name)) {
        Ok(f) => f,
        Err(e) => return errno(&e),
    };
    match set_exec_bits(&file, entry.ino(), enable) {
        Ok(code) => code,
        Err(e) => errno(&e),
    }
}

fn set_exec_bits(file: &File, dir_ino: u64, enable: bool) -> std::io::Result<i32> {
    let meta = file.metadata()?;
    if meta.ino() != dir_ino {
        return Ok(EINVAL);
    }
    let mode = if enable { meta.mode() | EXEC_BITS } else { meta.mode() & !EXEC_BITS };
    file.set_permissions(Permissions::from_mode(mode & 0o7777))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> tempfile::TempDir {
        match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0)
    }

    #[test]
    fn chmod_sets_and_clears_all_execute_bits() {
        let dir = tempdir();
        let script = dir.path().join("05.local.script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap_or_default();
        std::fs::set_permissions(&script, Permissions::from_mode(0o640)).unwrap_or_default();
        assert_eq!(chmod_script(dir.path(), "05.local", true), 0);
        assert_eq!(mode(&script), 0o751);
        assert_eq!(chmod_script(dir.path(), "05.local.script", false), 0);
        assert_eq!(mode(&script), 0o640);
        assert_eq!(chmod_script(dir.path(), "06.missing", true), ENOENT);
        assert_eq!(chmod_script(&dir.path().join("nodir"), "05.local", true), ENOENT);
        std::fs::write(dir.path().join("bad.script"), "").unwrap_or_default();
        assert_eq!(chmod_script(dir.path(), "bad", true), EINVAL);
    }
}
