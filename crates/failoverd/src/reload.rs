//! RELOAD_PUBLIC_IPS (`ctdb reloadips`): read `public_addresses` again;
//! addresses no longer listed are deleted (one this node hosts is released
//! by the next takeover run first, as `ctdb delip`), new ones are added,
//! and when there are new ones the leader is asked to let this node take
//! some (CTDB's REBALANCE_NODE). The tool pauses takeover runs around the
//! reload and asks for one at the end.
//!
//! The core never touches files: the control sets [`Failoverd::reload_wanted`],
//! the shell reads the file with the daemon's parser and hands the result
//! to [`Failoverd::reloaded`], which answers the control.

use std::net::IpAddr;
use std::time::Instant;

use ctdb_legacy_proto::ReplyControl;
use ctdb_proto::{Endpoint, FailoverMsg};
use tracing::{info, warn};

use crate::core::{Address, Failoverd};

impl Failoverd {
    /// The control: answered once the shell has read the file. A newer
    /// reload replaces one still waiting, which fails (as in CTDB).
    pub(crate) fn reload_public_ips(&mut self, gw: Endpoint, reqid: u64) -> Option<ReplyControl> {
        if let Some((g, r)) = self.reload.replace((gw, reqid)) {
            let failed =
                ReplyControl { status: -1, data: Vec::new(), errmsg: Some("superseded by a newer reload".into()) };
            self.reply(g, r, failed);
        }
        self.reload_due = true;
        None
    }

    /// Whether the shell should read `public_addresses` now (and then call
    /// [`Failoverd::reloaded`]).
    pub fn reload_wanted(&mut self) -> bool {
        std::mem::take(&mut self.reload_due)
    }

    /// The file as read (or why it could not be): apply it and answer the
    /// waiting control.
    pub fn reloaded(&mut self, now: Instant, file: Result<Vec<Address>, String>) {
        let Some((gw, reqid)) = self.reload.take() else { return };
        let listed = match file {
            Ok(l) => l,
            Err(e) => {
                warn!("failoverd: reloading public addresses failed: {e}");
                self.reply(gw, reqid, ReplyControl { status: -1, data: Vec::new(), errmsg: Some(e) });
                return;
            }
        };
        let gone: Vec<IpAddr> = self
            .cfg
            .addresses
            .iter()
            .map(|a| a.addr)
            .filter(|a| !listed.iter().any(|l| l.addr == *a) && !self.deleting.contains(a))
            .collect();
        for addr in gone {
            info!("failoverd: public address {addr} no longer configured; deleting it");
            self.delete_address(now, addr);
        }
        let mut added = false;
        for a in listed {
            // Listed again before its deletion was done: it stays.
            if self.deleting.remove(&a.addr) {
                info!("failoverd: public address {} configured again; keeping it", a.addr);
                self.check_available(now);
                continue;
            }
            if self.cfg.addresses.iter().any(|c| c.addr == a.addr) {
                continue;
            }
            info!("failoverd: new public address {} configured; adding it", a.addr);
            added |= self.add_address(now, a);
        }
        if added {
            let me = self.cfg.pnn;
            match self.state.as_ref().and_then(|s| s.leader) {
                Some(l) if l == me => self.rebalance_node(now, me),
                Some(l) => self.send(l, FailoverMsg::Rebalance { pnn: me }),
                None => {}
            }
        }
        self.reply(gw, reqid, ReplyControl { status: 0, data: Vec::new(), errmsg: None });
    }
}
