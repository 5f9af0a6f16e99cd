//! failoverd as a service of the daemon: the core behind the standard
//! service loop (it does no I/O of its own; interfaces are changed by the
//! event scripts eventd runs).

use std::time::Instant;

use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{BoxFuture, Service, ServiceError, ServiceIo};

use crate::core::Failoverd;

/// The failoverd service.
pub struct FailoverdService {
    core: Failoverd,
}

impl FailoverdService {
    /// A service around `core`.
    pub fn new(core: Failoverd) -> FailoverdService {
        FailoverdService { core }
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
        Box::pin(ctdb_service::run_loop(self, io))
    }
}
