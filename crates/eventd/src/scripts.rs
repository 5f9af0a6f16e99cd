//! The legacy component's scripts on disk: `$etcdir/events/<component>/`,
//! files named `NN.name.script` run in name order, enabled when executable
//! by their owner (following symlinks, so a shipped script enabled by a
//! link into `$datadir/events/legacy` counts).
//!
//! The core sees the directory through [`ScriptDir`], so its tests need no
//! files; [`FsScriptDir`] is the real one.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// One script of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Name shown in status lists: the file name without `.script`.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Executable by its owner.
    pub enabled: bool,
}

/// Where the core finds scripts and switches them on and off.
pub trait ScriptDir: Send {
    /// The scripts of `component` in the order they run; `NotFound` when
    /// the component has no directory.
    fn list(&self, component: &str) -> io::Result<Vec<Script>>;

    /// Enable (set the execute bits) or disable (clear them) one script.
    fn set_enabled(&mut self, component: &str, script: &str, enabled: bool) -> io::Result<()>;
}

/// Whether `file` is a script file name (`NN.name.script`); its status
/// name when it is.
pub fn script_name(file: &str) -> Option<&str> {
    let name = file.strip_suffix(".script")?;
    let b = name.as_bytes();
    let ok = b.len() > 3 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b'.';
    ok.then_some(name)
}

/// Whether `name` may name a script or a component (no path tricks).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

/// Scripts in `$etcdir/events/`.
#[derive(Debug, Clone)]
pub struct FsScriptDir {
    root: PathBuf,
}

impl FsScriptDir {
    /// Scripts under `events_dir` (`$etcdir/events`).
    pub fn new(events_dir: PathBuf) -> FsScriptDir {
        FsScriptDir { root: events_dir }
    }

    fn component_dir(&self, component: &str) -> io::Result<PathBuf> {
        if !valid_name(component) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        Ok(self.root.join(component))
    }
}

impl ScriptDir for FsScriptDir {
    fn list(&self, component: &str) -> io::Result<Vec<Script>> {
        let dir = self.component_dir(component)?;
        let mut scripts = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(script_name) else { continue };
            let path = entry.path();
            // stat follows a symlink; a dangling one is a disabled script.
            let enabled = std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o100 != 0);
            scripts.push(Script { name: name.to_string(), path, enabled });
        }
        // Byte order, as alphasort in the C locale.
        scripts.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(scripts)
    }

    fn set_enabled(&mut self, component: &str, script: &str, enabled: bool) -> io::Result<()> {
        if !valid_name(script) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let path = self.component_dir(component)?.join(format!("{script}.script"));
        let mode = std::fs::metadata(&path)?.permissions().mode();
        let mode = if enabled { mode | 0o111 } else { mode & !0o111 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
    }
}

/// Scripts held in memory, for tests of the core.
#[derive(Debug, Clone, Default)]
pub struct MemScriptDir {
    /// component → scripts in order.
    pub components: std::collections::BTreeMap<String, Vec<Script>>,
}

impl MemScriptDir {
    /// A component with scripts `(name, enabled)`.
    pub fn with(component: &str, scripts: &[(&str, bool)]) -> MemScriptDir {
        let list = scripts
            .iter()
            .map(|(n, e)| Script { name: n.to_string(), path: PathBuf::from(format!("/ev/{n}.script")), enabled: *e })
            .collect();
        let mut d = MemScriptDir::default();
        d.components.insert(component.to_string(), list);
        d
    }
}

impl ScriptDir for MemScriptDir {
    fn list(&self, component: &str) -> io::Result<Vec<Script>> {
        self.components.get(component).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn set_enabled(&mut self, component: &str, script: &str, enabled: bool) -> io::Result<()> {
        let list = self.components.get_mut(component).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let s = list.iter_mut().find(|s| s.name == script).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        s.enabled = enabled;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_follow_the_nn_name_script_pattern() {
        assert_eq!(script_name("00.ctdb.script"), Some("00.ctdb"));
        assert_eq!(script_name("50.samba.script"), Some("50.samba"));
        for bad in ["00.ctdb", "0.ctdb.script", "ab.ctdb.script", "00ctdb.script", "00..script", "README"] {
            assert_eq!(script_name(bad), None, "{bad}");
        }
        assert!(script_name("00.x.script").is_some());
    }

    #[test]
    fn listing_sorts_and_reads_the_owner_execute_bit_through_links() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("legacy");
        std::fs::create_dir(&dir).unwrap();
        let write = |name: &str, mode: u32| {
            let p = dir.join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("10.b.script", 0o755);
        write("05.a.script", 0o644);
        write("notes.txt", 0o755);
        let shipped = t.path().join("20.shipped.script");
        std::fs::write(&shipped, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&shipped, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&shipped, dir.join("20.shipped.script")).unwrap();
        std::os::unix::fs::symlink(t.path().join("gone"), dir.join("30.dangling.script")).unwrap();
        let mut d = FsScriptDir::new(t.path().to_path_buf());
        let l: Vec<(String, bool)> = d.list("legacy").unwrap().into_iter().map(|s| (s.name, s.enabled)).collect();
        let want = [("05.a", false), ("10.b", true), ("20.shipped", true), ("30.dangling", false)];
        assert_eq!(l, want.map(|(n, e)| (n.to_string(), e)));
        assert_eq!(d.list("nosuch").unwrap_err().kind(), io::ErrorKind::NotFound);
        d.set_enabled("legacy", "05.a", true).unwrap();
        d.set_enabled("legacy", "10.b", false).unwrap();
        let mode = |n: &str| std::fs::metadata(dir.join(n)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("05.a.script"), mode("10.b.script")), (0o755, 0o644));
        assert!(d.set_enabled("legacy", "../x", true).is_err());
    }
}
