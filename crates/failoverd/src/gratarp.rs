//! SEND_GRATUITOUS_ARP (`ctdb gratarp IP IFACE`): announce an address on an
//! interface in CTDB's three rounds, one second apart. Unlike the rounds
//! after a takeip, these go out whoever holds the address and carry no
//! tickle ACKs (CTDB's control does the same).

use std::time::{Duration, Instant};

use ctdb_legacy_proto::{AddrInfo, ReplyControl, Wire};
use tracing::{info, warn};

use crate::core::Failoverd;

/// Rounds, and the time between them (CTDB_ARP_REPEAT, CTDB_ARP_INTERVAL).
const ROUNDS: u8 = 3;
const SPACING: Duration = Duration::from_secs(1);

impl Failoverd {
    /// The control: the first round goes out at once.
    pub(crate) fn send_gratuitous_arp(&mut self, now: Instant, data: &[u8]) -> ReplyControl {
        let a = match AddrInfo::from_bytes(data) {
            Ok(a) if !a.iface.is_empty() => a,
            Ok(_) | Err(_) => {
                warn!("failoverd: malformed SEND_GRATUITOUS_ARP");
                return ReplyControl { status: -1, data: Vec::new(), errmsg: Some("malformed addr_info".into()) };
            }
        };
        let addr = a.addr.ip().to_canonical();
        info!("failoverd: gratuitous ARP for {addr} on {} asked for", a.iface);
        self.gratarp.push((now, addr, a.iface, 0));
        ReplyControl { status: 0, data: Vec::new(), errmsg: None }
    }

    /// Rounds due now go to the shell.
    pub(crate) fn gratarp_tick(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.gratarp).into_iter().partition(|a| a.0 <= now);
        self.gratarp = later;
        for (_, addr, iface, round) in due {
            self.arp_out.push_back((addr, iface.clone()));
            if round + 1 < ROUNDS {
                self.gratarp.push((now + SPACING, addr, iface, round + 1));
            }
        }
    }
}
