//! Fuzz bodies: plain functions that a `cargo fuzz` target and the stable
//! tests below both call. Each must return (never panic) on any input.

use std::path::Path;

use crate::{CtdbConf, NodesFile, Paths, PublicAddresses, Tunables};

/// Parses arbitrary bytes as ctdb.conf.
pub fn ctdb_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let paths = Paths::from_vars(|_| None);
    if let Ok(paths) = paths {
        let _ = CtdbConf::parse(&text, Path::new("ctdb.conf"), &paths);
    }
}

/// Parses arbitrary bytes as a nodes file.
pub fn nodes(data: &[u8]) {
    let _ = NodesFile::parse(&String::from_utf8_lossy(data), Path::new("nodes"));
}

/// Parses arbitrary bytes as a public addresses file; whatever is accepted
/// must print back to lines that parse to the same entries.
pub fn public_addresses(data: &[u8]) {
    if let Ok(parsed) = PublicAddresses::parse(&String::from_utf8_lossy(data)) {
        let again: String = parsed.iter().map(|e| format!("{e}\n")).collect();
        // Entries whose interface list is empty print as "ADDR/MASK " and
        // would read back as a line without interfaces: skip those.
        if parsed.iter().all(|e| !e.ifaces.is_empty()) {
            assert_eq!(PublicAddresses::parse(&again).ok(), Some(parsed));
        }
    }
}

/// Loads arbitrary bytes as ctdb.tunables.
pub fn tunables(data: &[u8]) {
    let _ = Tunables::defaults().load_str(&String::from_utf8_lossy(data));
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn fuzz_bodies_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            super::ctdb_conf(&data);
            super::nodes(&data);
            super::tunables(&data);
            super::public_addresses(&data);
        }
    }
}
