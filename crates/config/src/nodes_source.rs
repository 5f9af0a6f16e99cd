//! Where the node list comes from: the nodes file, another file named by
//! `[cluster] nodes list`, or the output of `nodes list = !command args`
//! (for deployments such as Kubernetes where a command knows the members).

use std::path::{Path, PathBuf};

use crate::{CtdbConf, Paths};

/// Split `!command args…` the way CTDB does for helpers: blank/tab
/// separated words, no shell, no quoting. `None` when `value` does not
/// start with `!` or names no command.
pub fn split_command(value: &str) -> Option<(PathBuf, Vec<String>)> {
    let cmd = value.strip_prefix('!')?;
    let mut words = cmd.split([' ', '\t']).filter(|w| !w.is_empty()).map(str::to_string);
    let program = words.next()?;
    Some((PathBuf::from(program), words.collect()))
}

/// The source of the node list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodesSource {
    /// A file in nodes-file format.
    File(PathBuf),
    /// A command whose standard output is in nodes-file format.
    Command(PathBuf, Vec<String>),
}

impl NodesSource {
    /// From `[cluster] nodes list`, defaulting to `$CTDB_BASE/nodes`.
    pub fn from_conf(conf: &CtdbConf, paths: &Paths) -> NodesSource {
        match conf.cluster.nodes_list.as_deref() {
            None => NodesSource::File(paths.nodes_file()),
            Some(v) => match split_command(v) {
                Some((program, args)) => NodesSource::Command(program, args),
                None => NodesSource::File(resolve(v, paths)),
            },
        }
    }

    /// A name for messages (the file, or the command line).
    pub fn describe(&self) -> String {
        match self {
            NodesSource::File(p) => p.display().to_string(),
            NodesSource::Command(p, args) => {
                let mut s = format!("!{}", p.display());
                for a in args {
                    s.push(' ');
                    s.push_str(a);
                }
                s
            }
        }
    }
}

fn resolve(v: &str, paths: &Paths) -> PathBuf {
    let p = Path::new(v);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        paths.base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_on_blanks_without_a_shell() {
        assert_eq!(
            split_command("!/bin/k8s-nodes  --ns\tctdb"),
            Some((PathBuf::from("/bin/k8s-nodes"), vec!["--ns".to_string(), "ctdb".to_string()]))
        );
        assert_eq!(split_command("!"), None);
        assert_eq!(split_command("/etc/ctdb/nodes"), None);
    }
}
