//! The one service trait, and the loop that runs a service.
//!
//! A service is a computation that owns its state and reacts to packets and
//! timers; it talks to other services only through the transport. The
//! lifecycle follows the one CTDB's maintainers sketched for their service
//! daemons:
//!
//! ```text
//!   init ──► activate ──► dispatch / handle_timeout … ──► deactivate
//!              ▲   reconfigure (any time after init)   │
//!              └────────────────────────────────────────┘
//! ```
//!
//! Cores are sans-IO: they take `now` as an argument and never read the clock,
//! and they hand outgoing packets back through [`Service::poll_output`]. The
//! shell ([`Service::run`]) owns the I/O. Services with no I/O of their own
//! run under [`run_loop`]; the gateway and the transport bring their own.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ctdb_proto::{Packet, ServiceId};
use thiserror::Error;
use tokio::sync::{mpsc, watch};

/// A boxed future, for the object-safe [`Service::run`].
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why a service could not start or stopped.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// Configuration the service cannot work with.
    #[error("{service}: bad configuration: {message}")]
    Config {
        /// Which service.
        service: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An I/O failure the service cannot recover from.
    #[error("{service}: {context}: {source}")]
    Io {
        /// Which service.
        service: &'static str,
        /// What it was doing.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The transport went away (daemon shutting down).
    #[error("transport closed")]
    TransportClosed,
}

/// What a running service is given: its mailbox, the way out, and the
/// shutdown signal.
pub struct ServiceIo {
    /// This node's pnn.
    pub pnn: u32,
    /// Packets the transport routes to this service.
    pub inbox: mpsc::UnboundedReceiver<Packet>,
    /// Packets this service sends, to be routed by the transport.
    pub outbox: mpsc::UnboundedSender<Packet>,
    /// Becomes `true` when the daemon stops.
    pub shutdown: watch::Receiver<bool>,
}

/// The lifecycle every service implements.
pub trait Service: Send + 'static {
    /// Which service this is (its endpoint on every node).
    fn id(&self) -> ServiceId;

    /// Prepare state; no packets are exchanged yet.
    fn init(&mut self, _now: Instant) -> Result<(), ServiceError> {
        Ok(())
    }

    /// Take new configuration into account (e.g. tunables changed).
    fn reconfigure(&mut self, _now: Instant) -> Result<(), ServiceError> {
        Ok(())
    }

    /// Start serving.
    fn activate(&mut self, _now: Instant) {}

    /// The daemon is stopping: begin what must happen before this service
    /// goes (failoverd hands its addresses over, eventd runs the shutdown
    /// event). Returns how long that may take at most; the loop keeps
    /// serving until [`Service::stop_done`] or that deadline.
    fn begin_stop(&mut self, _now: Instant) -> Duration {
        Duration::ZERO
    }

    /// Whether what [`Service::begin_stop`] began is over.
    fn stop_done(&self) -> bool {
        true
    }

    /// Stop serving; pending requests are answered or dropped.
    fn deactivate(&mut self, _now: Instant) {}

    /// One packet from the transport.
    fn dispatch(&mut self, now: Instant, packet: Packet);

    /// When the service next wants [`Service::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// A timer expired.
    fn handle_timeout(&mut self, _now: Instant) {}

    /// Next packet to send; called until `None` after every input.
    fn poll_output(&mut self) -> Option<Packet>;

    /// Run the service until shutdown. Services without I/O of their own
    /// implement this as `Box::pin(run_loop(self, io))`.
    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>>;
}

/// Send everything the service has queued.
pub fn drain(svc: &mut dyn Service, outbox: &mpsc::UnboundedSender<Packet>) -> Result<(), ServiceError> {
    while let Some(p) = svc.poll_output() {
        outbox.send(p).map_err(|_| ServiceError::TransportClosed)?;
    }
    Ok(())
}

/// The standard shell: dispatch packets and timers to the core, drain after
/// every input, until shutdown or the transport closes.
pub async fn run_loop(mut svc: Box<dyn Service>, mut io: ServiceIo) -> Result<(), ServiceError> {
    svc.activate(Instant::now());
    drain(svc.as_mut(), &io.outbox)?;
    let mut stop_by: Option<Instant> = None;
    loop {
        if let Some(t) = stop_by {
            if svc.stop_done() {
                break;
            }
            if Instant::now() >= t {
                tracing::warn!("{}: did not finish stopping in time; stopping anyway", svc.id().name());
                break;
            }
        }
        let deadline = [svc.poll_timeout(), stop_by].into_iter().flatten().min();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            p = io.inbox.recv() => match p {
                Some(p) => svc.dispatch(Instant::now(), p),
                None => break,
            },
            _ = sleep => svc.handle_timeout(Instant::now()),
            r = io.shutdown.changed(), if stop_by.is_none() => {
                if r.is_err() || *io.shutdown.borrow() {
                    let now = Instant::now();
                    stop_by = Some(now + svc.begin_stop(now));
                }
            }
        }
        drain(svc.as_mut(), &io.outbox)?;
    }
    svc.deactivate(Instant::now());
    drain(svc.as_mut(), &io.outbox).ok();
    Ok(())
}

/// Write every buffer queued on `rx` to `wr` until the queue closes or a
/// write fails. Buffers already waiting are sent in one write, so a burst
/// of small packets costs one system call instead of one each.
pub async fn write_queued<W>(wr: &mut W, rx: &mut mpsc::UnboundedReceiver<Vec<u8>>) -> std::io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;

    /// Stop batching past this many bytes, so one write stays bounded.
    const MAX_BATCH: usize = 256 * 1024;
    while let Some(mut batch) = rx.recv().await {
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        wr.write_all(&batch).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queued_buffers_are_written_in_order_and_batched() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for b in [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()] {
            tx.send(b).unwrap();
        }
        drop(tx);
        let mut out: Vec<u8> = Vec::new();
        write_queued(&mut out, &mut rx).await.unwrap();
        assert_eq!(out, b"onetwothree");
    }
}
