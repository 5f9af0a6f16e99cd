//! The bounded queue between emitting threads and the writer thread.
//!
//! ```text
//!  any thread ── emit() ──try_send──▶ [bounded queue] ──▶ writer thread ──▶ Sink
//!                  │ full?                                   │ first writes
//!                  └─▶ dropped += 1 ─────────────────────────┘ "N log messages dropped"
//! ```
//!
//! Emitting never waits: when the queue is full the line is counted and
//! dropped, and the writer reports the count before the next line it writes.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use ctdb_config::DebugLevel;

use crate::sink::{Record, Sink};
use crate::{CtdbLayer, LogError};

/// Default queue length, in lines.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// The longest [`LogHandle::flush`] waits.
const FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// Lines written between two sink flushes when the queue never runs empty,
/// so a busy writer still makes lines visible and `flush` progress.
const BATCH: usize = 256;

enum Msg {
    Line(Record),
    /// Makes the writer report pending drops and flush; sent by `flush`.
    Wake,
}

struct Shared {
    level: AtomicI32,
    /// Drops not yet reported in the log.
    dropped_pending: AtomicU64,
    /// Every drop since start.
    dropped_total: AtomicU64,
    /// Messages successfully queued.
    sent: AtomicU64,
    /// Messages the writer has finished with (written, or dropped by the sink).
    done: Mutex<u64>,
    done_cv: Condvar,
    reopen: AtomicBool,
}

/// Control over a running logger: level, flush, reopen. Cheap to clone;
/// the writer thread ends when every handle and layer is gone.
#[derive(Clone)]
pub struct LogHandle {
    shared: Arc<Shared>,
    tx: SyncSender<Msg>,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle").field("level", &self.level()).field("dropped_total", &self.dropped_total()).finish()
    }
}

impl LogHandle {
    /// Starts a writer thread draining a queue of `capacity` lines into
    /// `sink`, filtering at `level`.
    pub fn start(sink: Box<dyn Sink>, level: DebugLevel, capacity: usize) -> Result<LogHandle, LogError> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let shared = Arc::new(Shared {
            level: AtomicI32::new(level.0),
            dropped_pending: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            done: Mutex::new(0),
            done_cv: Condvar::new(),
            reopen: AtomicBool::new(false),
        });
        let writer_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("ctdb-log".into())
            .spawn(move || writer(rx, sink, &writer_shared))
            .map_err(LogError::Thread)?;
        Ok(LogHandle { shared, tx })
    }

    /// Changes the level at run time (SET_DEBUG); takes effect for the next
    /// event emitted on any thread.
    pub fn set_level(&self, level: DebugLevel) {
        self.shared.level.store(level.0, Ordering::Relaxed);
    }

    /// The current level (GET_DEBUG).
    pub fn level(&self) -> DebugLevel {
        DebugLevel(self.shared.level.load(Ordering::Relaxed))
    }

    /// Whether a message at `level` would be logged now.
    pub fn enabled(&self, level: DebugLevel) -> bool {
        self.level().admits(level)
    }

    /// Queues one message if `level` passes the filter. Never blocks: if the
    /// queue is full the message is dropped and counted.
    pub fn emit(&self, level: DebugLevel, message: impl Into<String>) {
        if !self.enabled(level) {
            return;
        }
        self.push(Record { time: SystemTime::now(), level, message: message.into() });
    }

    /// Queues a record regardless of the level filter.
    pub fn push(&self, record: Record) {
        match self.tx.try_send(Msg::Line(record)) {
            Ok(()) => {
                self.shared.sent.fetch_add(1, Ordering::Release);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.shared.count_drop(),
        }
    }

    /// Waits, at most one second, until everything queued before this call
    /// is written and the sink flushed (pending drop counts included).
    /// Returns whether that happened in time.
    pub fn flush(&self) -> bool {
        if self.tx.try_send(Msg::Wake).is_ok() {
            self.shared.sent.fetch_add(1, Ordering::Release);
        }
        let target = self.shared.sent.load(Ordering::Acquire);
        let deadline = Instant::now() + FLUSH_LIMIT;
        let Ok(mut done) = self.shared.done.lock() else {
            return false;
        };
        while *done < target {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self.shared.done_cv.wait_timeout(done, deadline - now) {
                Ok((guard, _)) => done = guard,
                Err(_) => return false,
            }
        }
        true
    }

    /// Asks the writer to re-open its destination (log rotation, SIGHUP).
    pub fn reopen(&self) {
        self.shared.reopen.store(true, Ordering::Release);
        if self.tx.try_send(Msg::Wake).is_ok() {
            self.shared.sent.fetch_add(1, Ordering::Release);
        }
    }

    /// Messages dropped since start (queue full, or the sink refused them).
    pub fn dropped_total(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// A `tracing` layer feeding this logger.
    pub fn layer(&self) -> CtdbLayer {
        CtdbLayer::new(self.clone())
    }
}

impl Shared {
    fn count_drop(&self) {
        self.dropped_pending.fetch_add(1, Ordering::Relaxed);
        self.dropped_total.fetch_add(1, Ordering::Relaxed);
    }
}

fn writer(rx: Receiver<Msg>, mut sink: Box<dyn Sink>, shared: &Shared) {
    while let Ok(first) = rx.recv() {
        let mut handled = 1u64;
        handle(first, sink.as_mut(), shared);
        while handled < BATCH as u64 {
            match rx.try_recv() {
                Ok(msg) => {
                    handle(msg, sink.as_mut(), shared);
                    handled += 1;
                }
                Err(_) => break,
            }
        }
        // A failed flush loses buffered lines; there is nowhere to report it.
        let _ = sink.flush();
        if let Ok(mut done) = shared.done.lock() {
            *done += handled;
        }
        shared.done_cv.notify_all();
    }
    let _ = sink.flush();
}

fn handle(msg: Msg, sink: &mut dyn Sink, shared: &Shared) {
    if shared.reopen.swap(false, Ordering::AcqRel) {
        let _ = sink.reopen();
    }
    let dropped = shared.dropped_pending.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        let report = Record {
            time: SystemTime::now(),
            level: DebugLevel::WARNING,
            message: format!("{dropped} log messages dropped"),
        };
        if !matches!(sink.write(&report), Ok(true)) {
            // Still undelivered: keep the count for the next line.
            shared.dropped_pending.fetch_add(dropped, Ordering::Relaxed);
        }
    }
    if let Msg::Line(record) = msg {
        if !matches!(sink.write(&record), Ok(true)) {
            shared.count_drop();
        }
    }
}
