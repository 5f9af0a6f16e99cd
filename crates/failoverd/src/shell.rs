//! failoverd as a service of the daemon: the core behind the standard
//! service loop. Its own I/O is small and done right after each input: the
//! gratuitous ARPs and tickle ACKs the core asks for, reading the host's
//! addresses for the address check, and reading `public_addresses` for
//! `ctdb reloadips` (interfaces are changed by the event scripts eventd
//! runs). When the daemon stops, failoverd stops first and waits (bounded
//! by `[failover] shutdown timeout`) until its addresses have been taken
//! over by other nodes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ctdb_proto::{Packet, ServiceId};
use ctdb_service::{BoxFuture, Service, ServiceError, ServiceIo};
use tracing::{info, warn};

use crate::core::Failoverd;

/// The failoverd service.
pub struct FailoverdService {
    core: Failoverd,
    shutdown_timeout: Duration,
    /// `$CTDB_BASE/public_addresses`, read again by `ctdb reloadips`.
    public_addresses: PathBuf,
}

impl FailoverdService {
    /// A service around `core`; at shutdown it waits up to
    /// `shutdown_timeout` for its addresses to move. `public_addresses` is
    /// the file `ctdb reloadips` reads again; in `test_mode` the address
    /// check leaves alone addresses this node does not hold (every node of
    /// a local cluster shares the host's interfaces).
    pub fn new(
        mut core: Failoverd,
        shutdown_timeout: Duration,
        public_addresses: PathBuf,
        test_mode: bool,
    ) -> FailoverdService {
        core.set_check_foreign_addresses(!test_mode);
        FailoverdService { core, shutdown_timeout, public_addresses }
    }

    /// Everything the core asks of the outside after an input.
    fn io(&mut self, now: Instant) {
        self.announce();
        if self.core.ip_check_due() {
            match crate::host_addrs::host_addresses() {
                Ok(on_host) => self.core.ip_check(now, &on_host),
                Err(e) => warn!("failoverd: cannot read the host's addresses: {e}"),
            }
        }
        if self.core.reload_wanted() {
            let file = load_public_addresses(&self.public_addresses);
            self.core.reloaded(now, file);
            // The reload may have released or added addresses.
            self.announce();
        }
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
        self.io(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.io(now);
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

/// The addresses of a `public_addresses` file, with the daemon's parser and
/// checks (CTDB's rules; a missing file means no addresses), its warnings
/// logged. Used at start and by `ctdb reloadips`.
pub fn load_public_addresses(path: &std::path::Path) -> Result<Vec<crate::Address>, String> {
    let loaded = ctdb_config::PublicAddresses::load(path, ctdb_config::public_addresses::interface_exists)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for w in &loaded.warnings {
        warn!("{}: {w}", path.display());
    }
    Ok(loaded
        .addresses
        .entries
        .iter()
        .map(|a| crate::Address { addr: a.addr, mask_bits: a.mask_bits, ifaces: a.ifaces.clone() })
        .collect())
}
