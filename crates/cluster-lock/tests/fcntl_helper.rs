//! The fcntl helper keeps Samba's contract: '0' for the first taker, '1'
//! for a second, and it exits (lock lost) when the file is removed.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn helper(path: &std::path::Path, recheck: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ctdb_mutex_fcntl_helper"))
        .arg(path)
        .arg(recheck)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn first_byte(c: &mut std::process::Child) -> u8 {
    let mut b = [0u8; 1];
    c.stdout.as_mut().unwrap().read_exact(&mut b).unwrap();
    b[0]
}

#[test]
fn first_holds_second_is_contended_and_removal_loses_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("cluster.lock");
    let mut a = helper(&lock, "1");
    assert_eq!(first_byte(&mut a), b'0');
    let mut b = helper(&lock, "1");
    assert_eq!(first_byte(&mut b), b'1');
    assert!(b.wait().unwrap().success());

    std::fs::remove_file(&lock).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = a.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "helper did not notice the removed lock file");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    // The file is free again for a new taker.
    let mut c = helper(&lock, "1");
    assert_eq!(first_byte(&mut c), b'0');
    c.kill().unwrap();
    c.wait().unwrap();
}

#[test]
fn ours_and_sambas_helper_exclude_each_other() {
    let samba = std::path::Path::new("/usr/libexec/ctdb/ctdb_mutex_fcntl_helper");
    assert!(samba.exists(), "Debian's ctdb package is missing: the README test command installs it");
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("cluster.lock");
    let spawn_samba = || Command::new(samba).arg(&lock).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut theirs = spawn_samba();
    assert_eq!(first_byte(&mut theirs), b'0');
    let mut ours = helper(&lock, "5");
    assert_eq!(first_byte(&mut ours), b'1', "ours must see Samba's lock");
    theirs.kill().unwrap();
    theirs.wait().unwrap();
    let mut ours = helper(&lock, "5");
    assert_eq!(first_byte(&mut ours), b'0');
    let mut theirs = spawn_samba();
    assert_eq!(first_byte(&mut theirs), b'1', "Samba's must see ours");
    ours.kill().unwrap();
    ours.wait().unwrap();
}

#[test]
fn without_pings_the_helper_lets_go_and_with_them_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("cluster.lock");
    // As processd starts it: stdin from /dev/null, which is no reason to
    // let go.
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_ctdb_mutex_fcntl_helper"))
            .args([lock.to_str().unwrap(), "5", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let ping = nix::sys::signal::Signal::try_from(ctdb_cluster_lock::PING_SIGNAL).unwrap();
    // Pinged every 200 ms for 3 s: still holding.
    let mut pinged = spawn();
    assert_eq!(first_byte(&mut pinged), b'0');
    let pid = nix::unistd::Pid::from_raw(pinged.id() as i32);
    for _ in 0..15 {
        nix::sys::signal::kill(pid, ping).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(pinged.try_wait().unwrap().is_none(), "a pinged helper keeps the lock");
    // Pings stop (a wedged daemon): it lets go within the timeout + 1 s.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = pinged.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(4), "helper kept the lock without pings");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut next = helper(&lock, "5");
    assert_eq!(first_byte(&mut next), b'0', "the lock is free again");
    next.kill().unwrap();
    next.wait().unwrap();
}
