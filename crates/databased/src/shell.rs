//! databased as a service of the daemon: the core behind the service
//! trait, fed by the transport's packets and its own timers.

use std::time::Instant;

use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{run_loop, BoxFuture, Service, ServiceError, ServiceIo};

use crate::core::Databased;

/// The databased service.
pub struct DatabasedService {
    core: Databased,
}

impl DatabasedService {
    /// A service around `core`.
    pub fn new(core: Databased) -> DatabasedService {
        DatabasedService { core }
    }
}

impl Service for DatabasedService {
    fn id(&self) -> ServiceId {
        ServiceId::DATABASED
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
        Box::pin(run_loop(self, io))
    }
}
