//! failoverd as a service of the daemon: the core behind the service
//! loop (it does no I/O of its own; interfaces are changed by the event
//! scripts eventd runs). When the daemon stops, failoverd stops first and
//! waits (bounded by `[failover] shutdown timeout`) until its addresses
//! have been taken over by other nodes.

use std::time::{Duration, Instant};

use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{drain, BoxFuture, Service, ServiceError, ServiceIo};
use tracing::{info, warn};

use crate::core::Failoverd;

/// The failoverd service.
pub struct FailoverdService {
    core: Failoverd,
    shutdown_timeout: Duration,
}

impl FailoverdService {
    /// A service around `core`; at shutdown it waits up to
    /// `shutdown_timeout` for its addresses to move.
    pub fn new(core: Failoverd, shutdown_timeout: Duration) -> FailoverdService {
        FailoverdService { core, shutdown_timeout }
    }
}

impl Service for FailoverdService {
    fn id(&self) -> ServiceId {
        ServiceId::FAILOVERD
    }
    fn dispatch(&mut self, now: Instant, packet: Packet) {
        self.core.dispatch(now, packet);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }
    fn poll_output(&mut self) -> Option<Packet> {
        self.core.poll_output()
    }
    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(serve(*self, io))
    }
}

async fn serve(mut svc: FailoverdService, mut io: ServiceIo) -> Result<(), ServiceError> {
    svc.activate(Instant::now());
    let mut stop_by: Option<Instant> = None;
    loop {
        drain(&mut svc, &io.outbox)?;
        while let Some((addr, iface)) = svc.core.poll_arp() {
            if let Err(e) = crate::garp::announce(addr, &iface) {
                warn!("failoverd: failed to send ARP for {addr} on interface {iface}: {e}");
            }
        }
        while let Some((client, server)) = svc.core.poll_tickle() {
            info!("failoverd: sending tickle ACK {server} -> {client}");
            if let Err(e) = crate::tickle::send(client, server) {
                warn!("failoverd: failed to send tickle ACK {server} -> {client}: {e}");
            }
        }
        if let Some(t) = stop_by {
            if svc.core.handed_over() {
                info!("failoverd: public addresses handed over; stopping");
                break;
            }
            if Instant::now() >= t {
                warn!("failoverd: public addresses not handed over within {:?}; stopping anyway", svc.shutdown_timeout);
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
                    svc.core.shutdown(now);
                    stop_by = Some(now + svc.shutdown_timeout);
                }
            }
        }
    }
    drain(&mut svc, &io.outbox)?;
    Ok(())
}
