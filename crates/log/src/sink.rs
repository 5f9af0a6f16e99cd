//! Where formatted lines go. Sinks run only on the writer thread, so they
//! may block; the daemon never waits for them.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, FixedOffset, Local};
use ctdb_config::{DebugLevel, SyslogMode};

use crate::format;

/// One log message, as queued by the emitting thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// When it was emitted (not when it was written).
    pub time: SystemTime,
    /// Its debug level.
    pub level: DebugLevel,
    /// The text: the event's message, then its fields as `k=v`.
    pub message: String,
}

impl Record {
    /// The emission time in the local time zone.
    pub fn local_time(&self) -> DateTime<FixedOffset> {
        DateTime::<Local>::from(self.time).fixed_offset()
    }
}

/// What the writer thread writes to.
pub trait Sink: Send + 'static {
    /// Writes one record. `Ok(false)` means the sink dropped it on purpose
    /// (e.g. a non-blocking socket was full); the writer counts it as dropped.
    fn write(&mut self, record: &Record) -> io::Result<bool>;

    /// Pushes out anything buffered; called whenever the queue runs empty.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Re-opens the destination (after log rotation).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `file:PATH`: appends formatted lines to a file.
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    host: String,
    prog: String,
}

impl FileSink {
    /// Opens (creating, mode 0644) `path` for appending.
    pub fn open(path: &Path, host: &str, prog: &str) -> io::Result<FileSink> {
        Ok(FileSink {
            path: path.to_path_buf(),
            out: BufWriter::new(open_append(path)?),
            host: host.into(),
            prog: prog.into(),
        })
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o644).open(path)
}

impl Sink for FileSink {
    fn write(&mut self, record: &Record) -> io::Result<bool> {
        let line = format::file_line(&record.local_time(), &self.host, &self.prog, std::process::id(), &record.message);
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        Ok(true)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out = BufWriter::new(open_append(&self.path)?);
        Ok(())
    }
}

/// `file:` / `file:-`: the bare message on standard error, as ctdbd does.
pub struct StderrSink;

impl Sink for StderrSink {
    fn write(&mut self, record: &Record) -> io::Result<bool> {
        let mut err = io::stderr().lock();
        err.write_all(record.message.as_bytes())?;
        err.write_all(b"\n")?;
        Ok(true)
    }
}

/// How long to wait before trying again to reach a syslog socket that was
/// not there, so a missing syslogd does not cost a connect per line.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// `syslog` and `syslog:nonblocking`: datagrams to a local Unix socket
/// (normally /dev/log). A missing socket drops lines until it appears.
pub struct UnixSyslogSink {
    path: PathBuf,
    socket: Option<UnixDatagram>,
    last_attempt: Option<Instant>,
    nonblocking: bool,
    prog: String,
}

impl UnixSyslogSink {
    /// A sink for `mode` (must be [`SyslogMode::Default`] or
    /// [`SyslogMode::Nonblocking`]) sending to `path`.
    pub fn new(path: &Path, mode: SyslogMode, prog: &str) -> UnixSyslogSink {
        let mut sink = UnixSyslogSink {
            path: path.to_path_buf(),
            socket: None,
            last_attempt: None,
            nonblocking: mode == SyslogMode::Nonblocking,
            prog: prog.into(),
        };
        sink.connect();
        sink
    }

    fn connect(&mut self) {
        self.last_attempt = Some(Instant::now());
        let socket = UnixDatagram::unbound().and_then(|s| {
            s.connect(&self.path)?;
            s.set_nonblocking(self.nonblocking)?;
            Ok(s)
        });
        self.socket = socket.ok();
    }

    fn format(&self, record: &Record) -> String {
        let pid = std::process::id();
        if self.nonblocking {
            format::syslog_rfc3164(record.level, &self.prog, pid, &record.message)
        } else {
            format::syslog_libc(record.level, &record.local_time(), &self.prog, pid, &record.message)
        }
    }
}

impl Sink for UnixSyslogSink {
    fn write(&mut self, record: &Record) -> io::Result<bool> {
        let due = match self.last_attempt {
            Some(t) => t.elapsed() >= RECONNECT_PAUSE,
            None => true,
        };
        if self.socket.is_none() && due {
            self.connect();
        }
        let line = self.format(record);
        let Some(socket) = &self.socket else {
            return Ok(false);
        };
        match socket.send(line.as_bytes()) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(_) => {
                // The receiver went away (syslogd restarted): reconnect once
                // and retry, as syslog(3) does.
                self.connect();
                match &self.socket {
                    Some(socket) => Ok(socket.send(line.as_bytes()).is_ok()),
                    None => Ok(false),
                }
            }
        }
    }
}

/// `syslog:udp` and `syslog:udp-rfc5424`: datagrams to a UDP address
/// (127.0.0.1:514 in production). Never waits: a full send buffer drops.
pub struct UdpSyslogSink {
    socket: UdpSocket,
    target: SocketAddr,
    rfc5424: bool,
    host: String,
    prog: String,
}

impl UdpSyslogSink {
    /// A sink for `mode` (must be [`SyslogMode::Udp`] or
    /// [`SyslogMode::UdpRfc5424`]); `host` is the RFC 5424 HOSTNAME.
    pub fn new(target: SocketAddr, mode: SyslogMode, host: &str, prog: &str) -> io::Result<UdpSyslogSink> {
        let local: SocketAddr = match target {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        Ok(UdpSyslogSink {
            socket,
            target,
            rfc5424: mode == SyslogMode::UdpRfc5424,
            host: host.into(),
            prog: prog.into(),
        })
    }
}

impl Sink for UdpSyslogSink {
    fn write(&mut self, record: &Record) -> io::Result<bool> {
        let pid = std::process::id();
        let line = if self.rfc5424 {
            format::syslog_rfc5424(record.level, &record.local_time(), &self.host, &self.prog, pid, &record.message)
        } else {
            format::syslog_rfc3164(record.level, &self.prog, pid, &record.message)
        };
        // Nobody listening (ICMP port unreachable) or a full buffer: drop,
        // like a syslog datagram lost on the wire.
        Ok(self.socket.send_to(line.as_bytes(), self.target).is_ok())
    }
}
