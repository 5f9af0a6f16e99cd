//! End-to-end tests of ctdb-log: real sinks, real sockets (loopback and
//! temporary Unix sockets only), tracing events in, lines out.

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::DateTime;
use ctdb_config::{DebugLevel, LogLocation, SyslogMode};
use ctdb_log::{LogBuilder, LogHandle, Record, Sink};
use tracing_subscriber::layer::SubscriberExt;

/// Runs `f` with `handle` as this thread's tracing subscriber.
fn with_logger(handle: &LogHandle, f: impl FnOnce()) {
    let subscriber = tracing_subscriber::registry().with(handle.layer());
    tracing::subscriber::with_default(subscriber, f);
}

/// Keeps every record in memory.
#[derive(Clone, Default)]
struct MemorySink(Arc<Mutex<Vec<Record>>>);

impl MemorySink {
    fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|r| r.message.clone()).collect()
    }
}

impl Sink for MemorySink {
    fn write(&mut self, record: &Record) -> std::io::Result<bool> {
        self.0.lock().unwrap().push(record.clone());
        Ok(true)
    }
}

fn memory_logger(level: DebugLevel, capacity: usize) -> (LogHandle, MemorySink) {
    let sink = MemorySink::default();
    let handle = LogBuilder::new(&LogLocation::Stderr, level, "ctdbd", "h")
        .queue_capacity(capacity)
        .build_with_sink(Box::new(sink.clone()))
        .unwrap();
    (handle, sink)
}

#[test]
fn file_lines_have_ctdbd_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.ctdb");
    let handle =
        LogBuilder::new(&LogLocation::File(path.clone()), DebugLevel::NOTICE, "ctdbd", "node7").build().unwrap();
    with_logger(&handle, || {
        tracing::info!("CTDB starting on node");
        tracing::warn!(pnn = 3, db = "locking.tdb", "Cluster lock not set");
        tracing::debug!("not at NOTICE");
        tracing::error!(generation = 0x1234u32);
    });
    assert!(handle.flush());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let pid = std::process::id();
    let want = [
        format!("node7 ctdbd[{pid}]: CTDB starting on node"),
        format!("node7 ctdbd[{pid}]: Cluster lock not set pnn=3 db=locking.tdb"),
        format!("node7 ctdbd[{pid}]: generation=4660"),
    ];
    for (line, want) in lines.iter().zip(want) {
        let (stamp, rest) = line.split_once(' ').unwrap();
        // 2026-11-22T02:13:27.057398+00:00: microseconds and a numeric offset.
        assert_eq!(stamp.len(), 32, "{stamp}");
        assert_eq!(&stamp[19..20], ".");
        assert!(DateTime::parse_from_rfc3339(stamp).is_ok(), "{stamp}");
        assert_eq!(rest, want);
    }
}

#[test]
fn level_filter_changes_at_run_time() {
    let (handle, sink) = memory_logger(DebugLevel::NOTICE, 100);
    with_logger(&handle, || {
        tracing::info!("notice 1");
        tracing::debug!("info hidden");
        handle.set_level(DebugLevel::DEBUG);
        tracing::debug!("info 2");
        tracing::trace!("debug 3");
        handle.set_level(DebugLevel::ERROR);
        tracing::warn!("warning hidden");
        tracing::error!("error 4");
    });
    assert_eq!(handle.level(), DebugLevel::ERROR);
    handle.set_level(DebugLevel(4));
    handle.emit(DebugLevel(4), "level 4 at 4");
    handle.emit(DebugLevel::INFO, "info hidden");
    assert!(handle.flush());
    assert_eq!(sink.messages(), vec!["notice 1", "info 2", "debug 3", "error 4", "level 4 at 4"]);
    let levels: Vec<DebugLevel> = sink.0.lock().unwrap().iter().map(|r| r.level).collect();
    assert_eq!(levels, vec![DebugLevel::NOTICE, DebugLevel::INFO, DebugLevel::DEBUG, DebugLevel::ERROR, DebugLevel(4)]);
}

#[test]
fn fields_follow_the_message_whatever_their_order() {
    let (handle, sink) = memory_logger(DebugLevel::DEBUG, 100);
    with_logger(&handle, || {
        let name = "x";
        tracing::info!(pnn = 1, flag = true, "msg {name}");
        tracing::info!(text = "two words", dbg = ?Some(3), "m");
        tracing::info!(a = 1);
    });
    assert!(handle.flush());
    assert_eq!(sink.messages(), vec!["msg x pnn=1 flag=true", "m text=two words dbg=Some(3)", "a=1"]);
}

/// A sink that blocks every write until the gate opens: a hung syslogd or a
/// full disk, from the daemon's point of view.
#[derive(Clone)]
struct GatedSink {
    gate: Arc<(Mutex<bool>, Condvar)>,
    inner: MemorySink,
}

impl GatedSink {
    fn open(&self) {
        let (lock, cv) = &*self.gate;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }
}

impl Sink for GatedSink {
    fn write(&mut self, record: &Record) -> std::io::Result<bool> {
        let (lock, cv) = &*self.gate;
        let mut open = lock.lock().unwrap();
        while !*open {
            open = cv.wait(open).unwrap();
        }
        drop(open);
        self.inner.write(record)
    }
}

#[test]
fn blocked_writer_never_blocks_the_emitter_and_drops_are_counted() {
    const LINES: u64 = 100_000;
    let sink = GatedSink { gate: Arc::new((Mutex::new(false), Condvar::new())), inner: MemorySink::default() };
    let handle = LogBuilder::new(&LogLocation::Stderr, DebugLevel::NOTICE, "ctdbd", "h")
        .queue_capacity(1000)
        .build_with_sink(Box::new(sink.clone()))
        .unwrap();
    let start = Instant::now();
    with_logger(&handle, || {
        for i in 0..LINES {
            tracing::info!(i, "line");
        }
    });
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "emitting took {took:?}");
    assert!(handle.dropped_total() >= LINES - 1001, "{}", handle.dropped_total());

    sink.open();
    assert!(handle.flush());
    let messages = sink.inner.messages();
    let mut written = 0u64;
    let mut reported = 0u64;
    for m in &messages {
        if let Some(n) = m.strip_suffix(" log messages dropped") {
            reported += n.parse::<u64>().unwrap();
        } else {
            written += 1;
        }
    }
    assert_eq!(written + reported, LINES, "written {written} reported {reported}");
    assert_eq!(reported, handle.dropped_total());
    assert!(written <= 1001, "{written}");
    // The report comes before the first line written after the drops: at
    // the very start if the writer had not yet taken the first line, else
    // right after that line.
    let first_report = messages.iter().position(|m| m.ends_with("log messages dropped"));
    assert!(matches!(first_report, Some(0 | 1)), "{first_report:?}");
}

#[test]
fn udp_rfc3164_lines() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let handle = LogBuilder::new(&LogLocation::Syslog(SyslogMode::Udp), DebugLevel::NOTICE, "ctdbd", "n0")
        .udp_target(receiver.local_addr().unwrap())
        .build()
        .unwrap();
    with_logger(&handle, || {
        tracing::info!("CTDB starting on node");
        tracing::warn!("Cluster lock not set");
        tracing::error!(pnn = 0, "Starting CTDBD");
        tracing::trace!("dropped by level");
    });
    assert!(handle.flush());
    let pid = std::process::id();
    for want in [
        format!("<29>ctdbd[{pid}]: CTDB starting on node"),
        format!("<28>ctdbd[{pid}]: Cluster lock not set"),
        format!("<27>ctdbd[{pid}]: Starting CTDBD pnn=0"),
    ] {
        let mut buf = [0u8; 2048];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want);
    }
}

#[test]
fn udp_rfc5424_lines() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let handle = LogBuilder::new(&LogLocation::Syslog(SyslogMode::UdpRfc5424), DebugLevel::DEBUG, "ctdbd", "n0")
        .udp_target(receiver.local_addr().unwrap())
        .syslog_hostname("vm")
        .build()
        .unwrap();
    handle.emit(DebugLevel::NOTICE, "CTDB starting on node");
    handle.emit(DebugLevel::DEBUG, "debug line");
    assert!(handle.flush());
    let pid = std::process::id();
    for (pri, msg) in [(29, "CTDB starting on node"), (31, "debug line")] {
        let mut buf = [0u8; 2048];
        let n = receiver.recv(&mut buf).unwrap();
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        let rest = line.strip_prefix(&format!("<{pri}>1 ")).unwrap_or_else(|| panic!("{line}"));
        let (stamp, rest) = rest.split_once(' ').unwrap();
        assert_eq!(stamp.len(), 32, "{stamp}");
        assert!(DateTime::parse_from_rfc3339(stamp).is_ok());
        assert_eq!(rest, format!("vm ctdbd {pid} - - {msg}"));
    }
}

#[test]
fn unix_syslog_nonblocking_and_default_formats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    let receiver = UnixDatagram::bind(&path).unwrap();
    receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let pid = std::process::id();

    let nb = LogBuilder::new(&LogLocation::Syslog(SyslogMode::Nonblocking), DebugLevel::NOTICE, "ctdbd", "n0")
        .syslog_socket(&path)
        .build()
        .unwrap();
    nb.emit(DebugLevel::NOTICE, "Created PID file");
    assert!(nb.flush());
    let mut buf = [0u8; 2048];
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), format!("<29>ctdbd[{pid}]: Created PID file"));

    let libc_style = LogBuilder::new(&LogLocation::Syslog(SyslogMode::Default), DebugLevel::NOTICE, "ctdbd", "n0")
        .syslog_socket(&path)
        .build()
        .unwrap();
    libc_style.emit(DebugLevel::WARNING, "Cluster lock not set");
    assert!(libc_style.flush());
    let n = receiver.recv(&mut buf).unwrap();
    let line = std::str::from_utf8(&buf[..n]).unwrap();
    // <28>Nov 22 04:56:20 ctdbd[7192]: Cluster lock not set
    let rest = line.strip_prefix("<28>").unwrap();
    assert_eq!(&rest[15..], format!(" ctdbd[{pid}]: Cluster lock not set"), "{line}");
    assert_eq!(&rest[9..10], ":");
}

#[test]
fn nonblocking_syslog_drops_when_the_socket_is_full() {
    const LINES: u64 = 5000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    let receiver = UnixDatagram::bind(&path).unwrap();
    let handle = LogBuilder::new(&LogLocation::Syslog(SyslogMode::Nonblocking), DebugLevel::NOTICE, "ctdbd", "n0")
        .syslog_socket(&path)
        .build()
        .unwrap();
    for i in 0..LINES {
        handle.emit(DebugLevel::NOTICE, format!("line {i}"));
    }
    // Nobody reads: the writer must still get through everything.
    assert!(handle.flush());
    assert!(handle.dropped_total() > 0);
    receiver.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let mut real = 0;
    while let Ok(n) = receiver.recv(&mut buf) {
        if !std::str::from_utf8(&buf[..n]).unwrap().ends_with("log messages dropped") {
            real += 1;
        }
    }
    assert_eq!(real + handle.dropped_total(), LINES);
}

#[test]
fn missing_syslog_socket_drops_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let handle = LogBuilder::new(&LogLocation::Syslog(SyslogMode::Default), DebugLevel::NOTICE, "ctdbd", "n0")
        .syslog_socket(&dir.path().join("nothing-here"))
        .build()
        .unwrap();
    handle.emit(DebugLevel::ERROR, "lost");
    assert!(handle.flush());
    assert_eq!(handle.dropped_total(), 1);
}

#[test]
fn reopen_follows_log_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.ctdb");
    let handle = LogBuilder::new(&LogLocation::File(path.clone()), DebugLevel::NOTICE, "ctdbd", "n").build().unwrap();
    handle.emit(DebugLevel::NOTICE, "before");
    assert!(handle.flush());
    std::fs::rename(&path, dir.path().join("log.ctdb.1")).unwrap();
    handle.reopen();
    handle.emit(DebugLevel::NOTICE, "after");
    assert!(handle.flush());
    let old = std::fs::read_to_string(dir.path().join("log.ctdb.1")).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert!(old.ends_with(": before\n") && !old.contains("after"), "{old}");
    assert!(new.ends_with(": after\n") && !new.contains("before"), "{new}");
}

#[test]
fn unopenable_log_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = LogBuilder::new(&LogLocation::File(dir.path().join("no/such/dir/log")), DebugLevel::NOTICE, "ctdbd", "n")
        .build()
        .unwrap_err();
    assert!(err.to_string().starts_with("failed to open log file"), "{err}");
}

#[test]
fn flush_after_all_handles_agree_and_writer_survives_clones() {
    let (handle, sink) = memory_logger(DebugLevel::NOTICE, 10);
    let other = handle.clone();
    std::thread::scope(|s| {
        for t in 0..4 {
            let h = other.clone();
            s.spawn(move || {
                for i in 0..5 {
                    h.emit(DebugLevel::NOTICE, format!("t{t} {i}"));
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
    });
    assert!(handle.flush());
    let total = sink.messages().len() as u64;
    let reported: u64 = sink
        .messages()
        .iter()
        .filter_map(|m| m.strip_suffix(" log messages dropped").map(|n| n.parse::<u64>().unwrap()))
        .sum();
    let written = total - sink.messages().iter().filter(|m| m.ends_with("dropped")).count() as u64;
    assert_eq!(written + reported, 20);
}
