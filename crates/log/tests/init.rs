//! `init` installs the global subscriber; alone in its own test binary
//! because a process has only one.

use ctdb_config::{DebugLevel, LogLocation};

#[test]
fn init_installs_once_and_logs_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.ctdb");
    let handle = ctdb_log::init(&LogLocation::File(path.clone()), DebugLevel::NOTICE, "ctdbd", "n3").unwrap();
    tracing::info!("from the global subscriber");
    tracing::debug!("filtered");
    assert!(handle.flush());
    let text = std::fs::read_to_string(&path).unwrap();
    let pid = std::process::id();
    assert!(text.ends_with(&format!(" n3 ctdbd[{pid}]: from the global subscriber\n")), "{text}");
    assert_eq!(text.lines().count(), 1);

    // A second call fails, and the first logger keeps working.
    let again = ctdb_log::init(&LogLocation::Stderr, DebugLevel::NOTICE, "ctdbd", "n3");
    assert!(matches!(again, Err(ctdb_log::LogError::AlreadyInitialised)));
    handle.set_level(DebugLevel::DEBUG);
    tracing::debug!("now visible");
    assert!(handle.flush());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with(": now visible\n"), "{text}");
}
