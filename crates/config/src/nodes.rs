//! The nodes file (`$CTDB_BASE/nodes`): one node address per line, the line
//! position giving the node's pnn.

use std::fs;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::Path;

use crate::ConfigError;

/// The CTDB node-to-node TCP port (used when `/etc/services` has no `ctdb`).
pub const CTDB_PORT: u16 = 4379;

/// A parsed nodes file; `nodes[i].pnn == i`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodesFile {
    /// Every slot, deleted ones included, in pnn order.
    pub nodes: Vec<NodeEntry>,
}

/// One slot of the nodes file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// The node number: its index among the non-empty lines.
    pub pnn: u32,
    /// The node's address; `None` for a deleted slot (a `#` line), which
    /// ctdbd reports as 0.0.0.0 with the DELETED flag.
    pub addr: Option<IpAddr>,
}

impl NodesFile {
    /// Reads and parses a nodes file. Unlike ctdb.conf, a missing nodes file
    /// is an error: ctdbd cannot start without one.
    pub fn load(path: &Path) -> Result<NodesFile, ConfigError> {
        let bytes = fs::read(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        NodesFile::parse(&String::from_utf8_lossy(&bytes), path)
    }

    /// Parses nodes-file text with ctdbd's rules: a line ends at its first
    /// `\r`; blanks and tabs around it are stripped; an empty line is skipped and takes no pnn; a line
    /// starting with `#` is a deleted node that does take a pnn; any other
    /// line must be exactly one IPv4 or IPv6 address.
    pub fn parse(text: &str, path: &Path) -> Result<NodesFile, ConfigError> {
        let mut nodes = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            // ctdb 4.17 cuts a line at its first carriage return (so CRLF
            // files work, and "\r10.0.0.1" is an empty line), then strips
            // blanks and tabs; other control characters stay and fail.
            let line = raw.split('\r').next().unwrap_or_default().trim_matches([' ', '\t']);
            if line.is_empty() {
                continue;
            }
            let addr = if line.starts_with('#') {
                None
            } else {
                let addr = line.parse::<IpAddr>().map_err(|_| ConfigError::InvalidNode {
                    path: path.to_path_buf(),
                    line: index + 1,
                    text: line.to_string(),
                })?;
                Some(addr)
            };
            let pnn = u32::try_from(nodes.len()).map_err(|_| ConfigError::InvalidNode {
                path: path.to_path_buf(),
                line: index + 1,
                text: "too many nodes".into(),
            })?;
            nodes.push(NodeEntry { pnn, addr });
        }
        Ok(NodesFile { nodes })
    }

    /// This node's pnn: the slot whose address is `node_address` when that
    /// is configured, else the first slot whose address `is_local` accepts
    /// (in production, [`is_local_address`]). Deleted slots never match.
    pub fn own_pnn(&self, node_address: Option<IpAddr>, is_local: impl Fn(IpAddr) -> bool) -> Option<u32> {
        let wanted = |addr: IpAddr| match node_address {
            Some(configured) => addr == configured,
            None => is_local(addr),
        };
        self.nodes.iter().find(|n| n.addr.is_some_and(wanted)).map(|n| n.pnn)
    }

    /// Whether `pnn` is a deleted slot (`false` for a pnn past the end).
    pub fn is_deleted(&self, pnn: u32) -> bool {
        self.entry(pnn).is_some_and(|n| n.addr.is_none())
    }

    /// The address of `pnn`; `None` if deleted or past the end.
    pub fn addr(&self, pnn: u32) -> Option<IpAddr> {
        self.entry(pnn).and_then(|n| n.addr)
    }

    /// The slot of `pnn`, if the file has one.
    pub fn entry(&self, pnn: u32) -> Option<&NodeEntry> {
        usize::try_from(pnn).ok().and_then(|i| self.nodes.get(i))
    }

    /// Number of slots, deleted ones included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the file has no slot at all.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Whether this host owns `ip`: a socket can be bound to it (port 0, so no
/// port is taken and nothing listens).
pub fn is_local_address(ip: IpAddr) -> bool {
    TcpListener::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NodesFile, String> {
        NodesFile::parse(text, Path::new("/etc/ctdb/nodes")).map_err(|e| e.to_string())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn pnn_example_of_the_reference() {
        // `192.0.2.77` / `#` / `` / `  192.0.2.78  ` / `# comment` / `fd00::5`
        // => pnns 0, (1 deleted), 2, (3 deleted), 4.
        let n = parse("192.0.2.77\n#\n\n  192.0.2.78  \n# comment\nfd00::5\n").unwrap();
        assert_eq!(
            n.nodes,
            vec![
                NodeEntry { pnn: 0, addr: Some(ip("192.0.2.77")) },
                NodeEntry { pnn: 1, addr: None },
                NodeEntry { pnn: 2, addr: Some(ip("192.0.2.78")) },
                NodeEntry { pnn: 3, addr: None },
                NodeEntry { pnn: 4, addr: Some(ip("fd00::5")) },
            ]
        );
        assert!(n.is_deleted(1));
        assert!(n.is_deleted(3));
        assert!(!n.is_deleted(0));
        assert!(!n.is_deleted(99));
        assert_eq!(n.addr(2), Some(ip("192.0.2.78")));
        assert_eq!(n.addr(3), None);
        assert_eq!(n.addr(5), None);
    }

    #[test]
    fn tabs_and_blank_lines() {
        let n = parse("\t10.0.0.1\t\n \t \n\n10.0.0.2").unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n.addr(1), Some(ip("10.0.0.2")));
    }

    #[test]
    fn indented_hash_is_a_deleted_slot() {
        let n = parse("  # gone\n10.0.0.2\n").unwrap();
        assert!(n.is_deleted(0));
        assert_eq!(n.addr(1), Some(ip("10.0.0.2")));
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            parse("10.0.0.1\n\nbogus\n").err().as_deref(),
            Some("/etc/ctdb/nodes:3: invalid IP address \"bogus\"")
        );
        for bad in [
            "10.0.0.1 x",
            "10.0.0.1:4379",
            "10.0.0.1 # c",
            "fe80::1%eth0",
            "[fd00::1]",
            "1.2.3",
            "10.0.0.01",
            "10.0.0.1\u{b}",
            "\u{c}10.0.0.1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn carriage_return_ends_a_line() {
        // Observed with `ctdb listnodes -X` 4.17.
        let n = parse("10.0.0.1\r\n\r10.0.0.9\n10.0.0.2\r5\n \r \n# x\r\n10.0.0.4\n").unwrap();
        assert_eq!(n.addr(0), Some(ip("10.0.0.1")));
        assert_eq!(n.addr(1), Some(ip("10.0.0.2")));
        assert!(n.is_deleted(2));
        assert_eq!(n.addr(3), Some(ip("10.0.0.4")));
        assert_eq!(n.len(), 4);
    }

    #[test]
    fn empty_file_has_no_nodes() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("\n\n").unwrap().is_empty());
    }

    #[test]
    fn own_pnn_prefers_node_address() {
        let n = parse("10.0.0.1\n#\n10.0.0.3\n10.0.0.4\n").unwrap();
        assert_eq!(n.own_pnn(Some(ip("10.0.0.3")), |_| true), Some(2));
        assert_eq!(n.own_pnn(Some(ip("10.0.0.9")), |_| true), None);
        assert_eq!(n.own_pnn(None, |a| a == ip("10.0.0.4") || a == ip("10.0.0.3")), Some(2));
        assert_eq!(n.own_pnn(None, |_| false), None);
        // A deleted slot never matches, not even 0.0.0.0.
        assert_eq!(n.own_pnn(Some(ip("0.0.0.0")), |_| true), None);
    }

    #[test]
    fn loopback_is_local_and_documentation_address_is_not() {
        assert!(is_local_address(ip("127.0.0.1")));
        assert!(!is_local_address(ip("192.0.2.1")));
    }

    #[test]
    fn load_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(NodesFile::load(&dir.path().join("nodes")).is_err());
        std::fs::write(dir.path().join("nodes"), "127.0.0.1\n").unwrap();
        assert_eq!(NodesFile::load(&dir.path().join("nodes")).unwrap().len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "(?s).{0,300}") {
            let _ = parse(&text);
        }
    }
}
