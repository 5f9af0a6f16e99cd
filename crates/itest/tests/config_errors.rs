//! A bad ctdb.conf stops ctdbd before it starts anything, with a message
//! naming file, line and key; the socket directory is private.

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use ctdb_itest::{bin, Cluster};

fn start_with_conf(c: &Cluster, conf: &str) -> (Option<i32>, String) {
    let conf_path = c.node_dir(0).join("ctdb.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let out = Command::new(bin("ctdbd"))
        .env("CTDB_TEST_MODE", "yes")
        .env("CTDB_BASE", c.node_dir(0))
        .env_remove("CTDB_SOCKET")
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_ctdb_conf_is_refused_with_file_line_and_key() {
    let c = Cluster::setup(1, Ipv4Addr::new(127, 0, 14, 1), &[]).unwrap();
    let path = c.node_dir(0).join("ctdb.conf").display().to_string();
    let cases = [
        ("[cluster]\n\tnode address = 127.0.14.1\n\tleader timeout = abc\n", ":3:", "leader timeout"),
        ("[cluster]\n\tnode address = 127.0.14.1\n\tbogus key = 1\n", ":3:", "bogus key"),
        ("[legacy]\n\tstart as stopped = maybe\n", ":2:", "start as stopped"),
        ("[cluster]\n\ttransport = ib\n", ":2:", "transport"),
        ("[nosuchsection]\n\tx = 1\n", ":1:", "nosuchsection"),
    ];
    for (conf, line, key) in cases {
        let (code, err) = start_with_conf(&c, conf);
        assert_eq!(code, Some(1), "conf {conf:?} must be refused; stderr: {err}");
        assert!(err.contains(&path), "stderr must name the file: {err}");
        assert!(err.contains(line), "stderr must name the line {line}: {err}");
        assert!(err.contains(key), "stderr must name the key {key}: {err}");
        assert!(!c.socket(0).exists(), "no socket may be created by a refused start");
        assert!(c.pid(0).is_none(), "no pid file may be left by a refused start");
    }
}

#[test]
fn socket_and_its_directory_are_private() {
    let c = Cluster::start(1, Ipv4Addr::new(127, 0, 15, 1), &[]).unwrap();
    let sock = c.socket(0);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sock), 0o700);
    assert_eq!(mode(sock.parent().unwrap()), 0o700);
    // A second daemon for the same node refuses to start.
    let out = Command::new(bin("ctdbd")).env("CTDB_TEST_MODE", "yes").env("CTDB_BASE", c.node_dir(0)).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    c.wait_all_connected(std::time::Duration::from_secs(2)).unwrap();
}
