//! failoverd as a service of the daemon: the core behind the standard
//! service loop. Its own I/O is small: the gratuitous ARPs and tickle ACKs
//! the core asks for, sent right after each input (interfaces are changed
//! by the event scripts eventd runs). When the daemon stops, failoverd
//! stops first and waits (bounded by `[failover] shutdown timeout`) until
//! its addresses have been taken over by other nodes.

use std::time::{Duration, Instant};

use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{BoxFuture, Service, ServiceError, ServiceIo};
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

    /// Send the announcements the core has due.
    fn announce(&mut self) {
        while let Some((addr, iface)) = self.core.poll_arp() {
            if let Err(e) = crate::garp::announce(addr, &iface) {
                warn!("failoverd: failed to send ARP for {addr} on interface {iface}: {e}");
            }
        }
        while let Some((client, server)) = self.core.poll_tickle() {
            info!("failoverd: sending tickle ACK {server} -> {client}");
            if let Err(e) = crate::tickle::send(client, server) {
                warn!("failoverd: failed to send tickle ACK {server} -> {client}: {e}");
            }
        }
    }
}

impl Service for FailoverdService {
    fn id(&self) -> ServiceId {
        ServiceId::FAILOVERD
    }
    fn dispatch(&mut self, now: Instant, packet: Packet) {
        self.core.dispatch(now, packet);
        self.announce();
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.announce();
    }
    fn begin_stop(&mut self, now: Instant) -> Duration {
        self.core.shutdown(now);
        self.shutdown_timeout
    }
    fn stop_done(&self) -> bool {
        self.core.handed_over()
    }
    fn deactivate(&mut self, _now: Instant) {
        if self.core.handed_over() {
            info!("failoverd: public addresses handed over; stopping");
        }
    }
    fn poll_output(&mut self) -> Option<Packet> {
        self.core.poll_output()
    }
    fn run(self: Box<Self>, io: ServiceIo) -> BoxFuture<Result<(), ServiceError>> {
        Box::pin(ctdb_service::run_loop(self, io))
    }
}
