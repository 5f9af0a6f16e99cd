//! The failoverd core: this node's public addresses and interfaces, the
//! controls that report them, takeover runs, the connections to reset
//! after a move, and the hand-over at shutdown.
//!
//! ```text
//!  leader's failoverd, after every recovery or node flag change (recovery
//!  mode NORMAL), when a node can host more (RunRequest), or on
//!  `ctdb ipreallocate`:
//!    IpsRequest{run} ──► every active node ── Ips{known, available} ──►
//!    allocate() (LCP2 / deterministic / non-deterministic, tunables)
//!    Assign{run, holders, release_only} ──► every active node:
//!        releaseip for what it hosts and no longer holds   ◄── Assigned
//!    Assign{run, holders} ──► every active node:
//!        takeip for what it now holds, then ipreallocated  ◄── Assigned
//!    RunDone{run} ──► every active node
//!  after each takeip: gratuitous ARP and tickle ACKs, 3 rounds 1.1 s apart
//! ```
//!
//! Each node works out its events one at a time from what it actually
//! hosts (`hosted`) against the last assignment, so a newer run simply
//! replaces what was left to do. A node's *available* list is empty unless
//! it runs (RUNNING), is neither inactive nor disabled nor unhealthy, is
//! not stopping, and has a link up on one of the address's interfaces.
//! Sans-IO: `now` comes in, packets and ARP/tickle requests go out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ctdb_config::{Tunables, TUNABLE_COUNT};
use ctdb_legacy_proto::flags as node_flags;
use ctdb_proto::{Body, ClusterState, Endpoint, FailoverMsg, Flags, Msg, Packet, ServiceId};
use tracing::{debug, info, warn};

use crate::alloc::{allocate, Algorithm, AllocInput, AllocOptions, KnownAddress, NodePublicIps};

/// Runstate RUNNING.
const RUNNING: u32 = 5;

/// A run that did not finish in this long is given up (and run again).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// One configured public address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub mask_bits: u8,
    /// Interfaces that may carry it.
    pub ifaces: Vec<String>,
}

/// What failoverd starts from.
#[derive(Debug, Clone)]
pub struct FailoverdConfig {
    /// This node.
    pub pnn: u32,
    /// `public_addresses`.
    pub addresses: Vec<Address>,
}

/// The leader's takeover run.
#[derive(Debug)]
struct Run {
    id: u32,
    /// The allocation, once made.
    holders: Vec<(IpAddr, Option<u32>)>,
    /// Who waits for this run to end (gateway requests).
    waiters: Vec<(Endpoint, u64)>,
    phase: Phase,
    waiting: BTreeSet<u32>,
    lists: BTreeMap<u32, NodePublicIps>,
    deadline: Instant,
    /// The REBALANCE_NODE requests this run's allocation honoured.
    rebalanced: Vec<u32>,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Collecting,
    /// Every node releases what is no longer its own.
    Releasing,
    /// Every node takes its new addresses, then ipreallocated.
    Taking,
}

/// An event this node runs for an assignment.
#[derive(Debug, Clone)]
pub(crate) struct PendingEvent {
    event: &'static str,
    args: String,
    /// takeip: the address and interface to announce once it is done.
    announce: Option<(IpAddr, String)>,
    /// takeip / releaseip: the address, its interface, and whether it is
    /// taken (true) or released.
    target: Option<(IpAddr, String, bool)>,
}

/// Gratuitous ARP rounds after a takeip (CTDB: 3, about a second apart).
const ARP_ROUNDS: u8 = 3;
const ARP_SPACING: Duration = Duration::from_millis(1100);

/// The failoverd core.
pub struct Failoverd {
    pub(crate) cfg: FailoverdConfig,
    pub(crate) state: Option<ClusterState>,
    /// Interface → link up.
    pub(crate) links: BTreeMap<String, bool>,
    /// Who holds each address, as this node last heard.
    pub(crate) holders: BTreeMap<IpAddr, Option<u32>>,
    /// Leader: the run going on.
    run: Option<Run>,
    next_run: u32,
    /// Leader: what the last run was for (generation and node flags).
    last_key: Option<(u32, Vec<u32>)>,
    /// A run was asked for (`ctdb ipreallocate`, a node that can host
    /// more).
    wanted: bool,
    /// What this node could host when it last looked.
    last_available: Vec<IpAddr>,
    /// Addresses `ctdb delip` removes once this node no longer hosts them.
    pub(crate) deleting: BTreeSet<IpAddr>,
    /// Takeover run requests not yet in a run.
    waiters: Vec<(Endpoint, u64)>,
    /// The daemon is stopping: host nothing, hand everything over.
    pub(crate) stopping: bool,
    /// The run of the last assignment this node applied, and whether the
    /// leader said every node finished it.
    assigned_in: Option<u32>,
    run_done: bool,
    /// It held addresses when it began to stop.
    held_at_stop: bool,
    /// The addresses this node's own takeip events put on an interface
    /// (and no releaseip took off since), with the interface. What to run
    /// for an assignment is worked out from this, one event at a time, so
    /// an assignment that replaces one still being applied never takes an
    /// address twice nor releases one that was never taken.
    pub(crate) hosted: BTreeMap<IpAddr, String>,
    /// Addresses whose takeip or releaseip failed in the current
    /// assignment: not tried again until the next.
    pub(crate) failed: BTreeSet<IpAddr>,
    /// ipreallocated is still to run for the current assignment.
    realloc_due: bool,
    /// The last assignment lets this node take addresses (not only the
    /// release step of a run).
    take_allowed: bool,
    pub(crate) event_running: Option<u64>,
    /// The takeip or releaseip running now.
    event_target: Option<(IpAddr, String, bool)>,
    /// The takeip running now, to announce when it is done.
    event_announce: Option<(IpAddr, String)>,
    /// Gratuitous ARP rounds to come: when, address, interface, round.
    pub(crate) announce: Vec<(Instant, IpAddr, String, u8)>,
    /// Announcements due now, for the shell to send.
    pub(crate) arp_out: VecDeque<(IpAddr, String)>,
    /// Client connections to each public address (client, server), as
    /// every node learns them, so the next holder can reset them.
    pub(crate) conns: BTreeMap<IpAddr, BTreeSet<(std::net::SocketAddr, std::net::SocketAddr)>>,
    /// Tickle ACKs due now (client, server), for the shell to send.
    tickle_out: VecDeque<(std::net::SocketAddr, std::net::SocketAddr)>,
    assign_report: Option<(u32, u32, bool)>,
    /// Takeover runs (leader) and address checks (every node) are held
    /// off until then (DISABLE_TAKEOVER_RUNS; `ctdb reloadips`).
    pub(crate) runs_disabled_until: Option<Instant>,
    /// The same for a `ctdb moveip` (DISABLE_IP_CHECK), over early once
    /// the move is done ([`FailoverMsg::Moved`]).
    pub(crate) move_pause_until: Option<Instant>,
    /// Leader: nodes the next run lets take addresses from others
    /// (REBALANCE_NODE), cleared once a run has finished.
    pub(crate) force_rebalance: Vec<u32>,
    /// Addresses to take even outside a run's take step (TAKEOVER_IP, or
    /// an address that vanished from its interface).
    pub(crate) forced_take: BTreeSet<IpAddr>,
    /// RELEASE_IP / TAKEOVER_IP controls waiting for their event.
    pub(crate) ip_waiters: Vec<crate::moveip::IpWaiter>,
    /// This node hosts nothing for now: it is stopped or banned, or has
    /// been in recovery for longer than RecoveryDropAllIPs.
    pub(crate) drop_all: bool,
    /// When this node's recovery mode last became ACTIVE.
    pub(crate) recovery_since: Option<Instant>,
    /// Gratuitous ARP rounds asked for by SEND_GRATUITOUS_ARP (`ctdb
    /// gratarp`): when, address, interface, round.
    pub(crate) gratarp: Vec<(Instant, IpAddr, String, u8)>,
    /// The address consistency check.
    pub(crate) check: crate::ipcheck::IpCheck,
    /// RELOAD_PUBLIC_IPS controls waiting for the file to be read, and
    /// whether the shell has still to read it.
    pub(crate) reload: Option<(Endpoint, u64)>,
    pub(crate) reload_due: bool,
    next_reqid: u64,
    out: VecDeque<Packet>,
}

impl Failoverd {
    /// A core for `cfg`; every interface starts with its link up.
    pub fn new(cfg: FailoverdConfig) -> Failoverd {
        let links = cfg.addresses.iter().flat_map(|a| a.ifaces.iter().cloned()).map(|i| (i, true)).collect();
        let holders = cfg.addresses.iter().map(|a| (a.addr, None)).collect();
        Failoverd {
            cfg,
            state: None,
            links,
            holders,
            run: None,
            next_run: 0,
            last_key: None,
            wanted: false,
            last_available: Vec::new(),
            deleting: BTreeSet::new(),
            waiters: Vec::new(),
            stopping: false,
            assigned_in: None,
            run_done: false,
            held_at_stop: false,
            hosted: BTreeMap::new(),
            failed: BTreeSet::new(),
            realloc_due: false,
            take_allowed: false,
            event_running: None,
            event_target: None,
            event_announce: None,
            announce: Vec::new(),
            arp_out: VecDeque::new(),
            conns: BTreeMap::new(),
            tickle_out: VecDeque::new(),
            assign_report: None,
            runs_disabled_until: None,
            move_pause_until: None,
            force_rebalance: Vec::new(),
            forced_take: BTreeSet::new(),
            ip_waiters: Vec::new(),
            drop_all: false,
            recovery_since: None,
            gratarp: Vec::new(),
            check: crate::ipcheck::IpCheck::default(),
            reload: None,
            reload_due: false,
            next_reqid: 0,
            out: VecDeque::new(),
        }
    }

    /// The live tunables (defaults until clusterd has told us).
    pub(crate) fn tunables(&self) -> Tunables {
        let values = self.state.as_ref().and_then(|s| <[u32; TUNABLE_COUNT]>::try_from(s.tunables.as_slice()).ok());
        values.map_or_else(Tunables::defaults, Tunables::from_array)
    }

    pub(crate) fn me(&self) -> Endpoint {
        Endpoint::new(self.cfg.pnn, ServiceId::FAILOVERD)
    }

    pub(crate) fn reply_status(&mut self, to: Endpoint, reqid: u64, status: i32) {
        let mut p = Packet::new(to, self.me(), reqid, Body::Msg(Msg::Status { status }));
        p.header.flags = Flags::REPLY;
        self.out.push_back(p);
    }

    pub(crate) fn send(&mut self, node: u32, m: FailoverMsg) {
        let to = Endpoint::new(node, ServiceId::FAILOVERD);
        self.out.push_back(Packet::new(to, self.me(), 0, Body::Msg(Msg::Failover(m))));
    }

    pub(crate) fn is_leader(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.leader == Some(self.cfg.pnn))
    }

    fn active_nodes(&self) -> Vec<u32> {
        self.state.as_ref().map_or_else(Vec::new, |s| {
            s.nodes.iter().filter(|n| n.flags & node_flags::INACTIVE == 0).map(|n| n.pnn).collect()
        })
    }

    /// The nodes a takeover run involves: every connected node, as in
    /// CTDB, so a stopped or banned node (inactive but connected) is told
    /// to release what it holds before others take it; the allocation
    /// gives inactive nodes nothing (their available lists are empty).
    pub(crate) fn connected_nodes(&self) -> Vec<u32> {
        let gone = node_flags::DISCONNECTED | node_flags::DELETED;
        self.state.as_ref().map_or_else(Vec::new, |s| {
            s.nodes.iter().filter(|n| n.flags & gone == 0 || n.pnn == self.cfg.pnn).map(|n| n.pnn).collect()
        })
    }

    /// The addresses this node can host now (none once it is stopping).
    pub fn available(&self) -> Vec<IpAddr> {
        if self.stopping {
            return Vec::new();
        }
        let Some(st) = &self.state else { return Vec::new() };
        let own = st.nodes.get(self.cfg.pnn as usize).map_or(node_flags::DISCONNECTED, |n| n.flags);
        let unable = node_flags::INACTIVE | node_flags::PERMANENTLY_DISABLED | node_flags::UNHEALTHY;
        if st.runstate != RUNNING || own & unable != 0 {
            return Vec::new();
        }
        self.cfg
            .addresses
            .iter()
            .filter(|a| !self.deleting.contains(&a.addr))
            .filter(|a| a.ifaces.iter().any(|i| self.links.get(i).copied().unwrap_or(false)))
            .map(|a| a.addr)
            .collect()
    }

    /// ADD_PUBLIC_IP (`ctdb addip`): a new address this node may host;
    /// the leader places it in the next run.
    pub(crate) fn add_address(&mut self, now: Instant, a: Address) -> bool {
        if self.cfg.addresses.iter().any(|x| x.addr == a.addr) {
            return false;
        }
        info!("failoverd: added public address {}/{} on {}", a.addr, a.mask_bits, a.ifaces.join(","));
        for i in &a.ifaces {
            self.links.entry(i.clone()).or_insert(true);
        }
        self.holders.insert(a.addr, None);
        self.cfg.addresses.push(a);
        self.check_available(now);
        true
    }

    /// DEL_PUBLIC_IP (`ctdb delip`): forget an address; one this node
    /// hosts is released first (the next run moves it), then forgotten.
    pub(crate) fn delete_address(&mut self, now: Instant, addr: IpAddr) -> bool {
        if !self.cfg.addresses.iter().any(|x| x.addr == addr) {
            return false;
        }
        self.deleting.insert(addr);
        self.forget_deleted();
        self.check_available(now);
        true
    }

    /// Addresses being deleted that this node no longer hosts go.
    pub(crate) fn forget_deleted(&mut self) {
        let gone: Vec<IpAddr> = self.deleting.iter().copied().filter(|a| !self.hosted.contains_key(a)).collect();
        for a in gone {
            info!("failoverd: deleted public address {a}");
            self.deleting.remove(&a);
            self.cfg.addresses.retain(|x| x.addr != a);
            self.holders.remove(&a);
            self.conns.remove(&a);
        }
    }

    // ---- inputs ----

    /// A packet from the transport.
    pub fn dispatch(&mut self, now: Instant, p: Packet) {
        let from = p.header.src;
        let is_reply = p.header.flags.contains(Flags::REPLY);
        match p.body {
            Body::Msg(Msg::ClusterState(st)) => {
                self.state = Some(st);
                self.check_tick(now);
                self.check_release_all(now);
                self.check_available(now);
                self.maybe_run(now);
            }
            Body::Msg(Msg::DisableTakeoverRuns { secs }) => {
                let status = self.disable_takeover_runs(now, secs);
                self.reply_status(from, p.header.reqid, status);
            }
            Body::Msg(Msg::DisableIpCheck { secs }) => self.disable_ip_check(now, secs),
            Body::Msg(Msg::RebalanceNode { pnn }) => self.rebalance_node(now, pnn),
            Body::Msg(Msg::Failover(m)) => self.failover_msg(now, from.node, m),
            Body::Msg(Msg::EventDone { result }) if is_reply => self.event_done(now, p.header.reqid, result),
            Body::Msg(Msg::TakeoverRunRequest) => {
                self.waiters.push((from, p.header.reqid));
                self.request_run(now);
            }
            Body::Legacy(bytes) => self.legacy_control(now, from, p.header.reqid, &bytes),
            other => debug!("failoverd: unexpected packet {other:?}"),
        }
    }

    /// What this node can host changed since it last looked: the leader
    /// runs again (the change may be in nothing the leader sees, such as
    /// this node's runstate or an interface's link).
    pub(crate) fn check_available(&mut self, now: Instant) {
        let available = self.available();
        if available == self.last_available {
            return;
        }
        self.last_available = available;
        match self.state.as_ref().and_then(|s| s.leader) {
            Some(l) if l == self.cfg.pnn => self.request_run(now),
            Some(l) => self.send(l, FailoverMsg::RunRequest),
            None => {}
        }
    }

    /// The daemon stops: this node hosts nothing from now on, and the
    /// leader (this node or another) moves its addresses elsewhere. The
    /// shell waits for [`Failoverd::handed_over`], bounded.
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        self.held_at_stop = self.holds_any();
        self.run_done = false;
        if self.held_at_stop {
            info!("failoverd: stopping; moving this node's public addresses to other nodes");
        }
        self.check_available(now);
    }

    /// Whether this node hosts `addr` and is not releasing it now.
    pub(crate) fn hosting_steadily(&self, addr: IpAddr) -> bool {
        let releasing = matches!(&self.event_target, Some((a, _, false)) if *a == addr);
        self.hosted.contains_key(&addr) && !releasing
    }

    /// Whether this node (as leader) has a takeover run going on.
    pub(crate) fn run_in_progress(&self) -> bool {
        self.run.is_some()
    }

    /// The address whose takeip or releaseip is running.
    pub(crate) fn event_target_addr(&self) -> Option<IpAddr> {
        self.event_target.as_ref().map(|t| t.0)
    }

    fn holds_any(&self) -> bool {
        self.holders.values().any(|h| *h == Some(self.cfg.pnn))
    }

    /// Stopping, this node holds no address any more (every releaseip
    /// done) and, if it held some when it began to stop, the run that moved
    /// them is over on every node (the others have taken them).
    pub fn handed_over(&self) -> bool {
        let idle = self.event_running.is_none() && self.next_needed().is_none();
        self.stopping && idle && !self.holds_any() && (!self.held_at_stop || self.run_done)
    }

    /// Ask for a takeover run (`ctdb ipreallocate`).
    pub fn request_run(&mut self, now: Instant) {
        self.wanted = true;
        self.maybe_run(now);
    }

    /// Leader: start a run when the cluster changed (or one was asked
    /// for) and no recovery is going on.
    pub(crate) fn maybe_run(&mut self, now: Instant) {
        if !self.is_leader() {
            // Not (or no longer) the leader: whoever waits hears failure.
            let mut waiters = std::mem::take(&mut self.waiters);
            if let Some(r) = self.run.take() {
                waiters.extend(r.waiters);
            }
            for (to, reqid) in waiters {
                self.reply_status(to, reqid, -1);
            }
            return;
        }
        if self.runs_paused(now) {
            // Held off (`ctdb reloadips`, `ctdb moveip`): what is asked
            // for meanwhile runs once the pause is over.
            return;
        }
        let Some(st) = &self.state else { return };
        if st.recmode != 0 {
            return;
        }
        let key = (st.generation, st.nodes.iter().map(|n| n.flags).collect::<Vec<_>>());
        if self.last_key.as_ref() == Some(&key) && !self.wanted {
            return;
        }
        self.last_key = Some(key);
        self.wanted = false;
        self.next_run = self.next_run.wrapping_add(1);
        let id = self.next_run;
        let nodes = self.connected_nodes();
        info!("failoverd: takeover run {id} on nodes {nodes:?}");
        // Requests made before this run are answered when it is over.
        let mut waiters = std::mem::take(&mut self.waiters);
        if let Some(old) = self.run.take() {
            waiters.extend(old.waiters);
        }
        self.run = Some(Run {
            holders: Vec::new(),
            waiters,
            id,
            phase: Phase::Collecting,
            waiting: nodes.iter().copied().collect(),
            lists: BTreeMap::new(),
            deadline: now + RUN_TIMEOUT,
            rebalanced: Vec::new(),
        });
        for n in nodes {
            self.send(n, FailoverMsg::IpsRequest { run: id });
        }
    }

    fn failover_msg(&mut self, now: Instant, from: u32, m: FailoverMsg) {
        match m {
            FailoverMsg::IpsRequest { run } => {
                let known = self.holders.iter().map(|(a, h)| (*a, *h)).collect();
                let available = self.available();
                self.send(from, FailoverMsg::Ips { run, known, available });
            }
            FailoverMsg::Ips { run, known, available } => {
                let Some(r) = &mut self.run else { return };
                if r.id != run || r.phase != Phase::Collecting || !r.waiting.remove(&from) {
                    return;
                }
                let known = known.into_iter().map(|(addr, holder)| KnownAddress { addr, holder }).collect();
                r.lists.insert(from, NodePublicIps { known, available });
                if r.waiting.is_empty() {
                    self.assign(now);
                }
            }
            FailoverMsg::Assign { run, holders, release_only } => {
                self.apply_assignment(from, run, holders, release_only)
            }
            FailoverMsg::RunRequest => self.request_run(now),
            FailoverMsg::Moved { addr } => self.moved(now, from, addr),
            FailoverMsg::Rebalance { pnn } => self.rebalance_node(now, pnn),
            FailoverMsg::Conn { add, client, server } => self.track(add, client, server, false),
            // An smbd that went away while or after this node released the
            // address (the releaseip event kills its connections,
            // RELEASE_IP ends its session) is forgotten here only: the new
            // holder still has the connection and resets the client, as
            // with CTDB, whose lists reach other nodes only with the
            // holder's periodic tickle update.
            FailoverMsg::ClientGone { client, server } => {
                let tell = self.hosting_steadily(server.ip());
                self.track(false, client, server, tell);
            }
            FailoverMsg::RunDone { run } => {
                if self.assigned_in == Some(run) {
                    self.run_done = true;
                }
            }
            FailoverMsg::Assigned { run, ok } => {
                let Some(r) = &mut self.run else { return };
                if r.id != run || !matches!(r.phase, Phase::Releasing | Phase::Taking) || !r.waiting.remove(&from) {
                    return;
                }
                if !ok {
                    warn!("failoverd: node {from} failed its part of takeover run {run}");
                }
                if r.waiting.is_empty() && r.phase == Phase::Releasing {
                    // Every node has let go: now they take.
                    r.phase = Phase::Taking;
                    let nodes = self.connected_nodes();
                    let Some(r) = &mut self.run else { return };
                    r.waiting = nodes.iter().copied().collect();
                    let holders = r.holders.clone();
                    for n in nodes {
                        self.send(n, FailoverMsg::Assign { run, holders: holders.clone(), release_only: false });
                    }
                    return;
                }
                if r.waiting.is_empty() {
                    info!("failoverd: takeover run {run} done");
                    if let Some(r) = self.run.take() {
                        for (to, reqid) in r.waiters {
                            self.reply_status(to, reqid, 0);
                        }
                        // Asked-for rebalancing has been done (CTDB clears
                        // the list after a successful run).
                        self.force_rebalance.retain(|p| !r.rebalanced.contains(p));
                    }
                    for n in self.connected_nodes() {
                        self.send(n, FailoverMsg::RunDone { run });
                    }
                }
            }
        }
    }

    /// Leader: every list is in; allocate and tell every node.
    fn assign(&mut self, now: Instant) {
        let Some(r) = &mut self.run else { return };
        let num_nodes = self.state.as_ref().map_or(0, |s| s.nodes.len()) as u32;
        let mut lists = vec![NodePublicIps::default(); num_nodes as usize];
        for (pnn, l) in std::mem::take(&mut r.lists) {
            if let Some(slot) = lists.get_mut(pnn as usize) {
                *slot = l;
            }
        }
        let t = self.tunables();
        let options = AllocOptions {
            algorithm: Algorithm::from_tunable(t.ip_alloc_algorithm()),
            no_ip_takeover: t.no_ip_takeover() != 0,
            no_ip_failback: t.no_ip_failback() != 0,
            force_rebalance_nodes: self.force_rebalance.clone(),
            ..AllocOptions::default()
        };
        let input = AllocInput::from_node_lists(&lists, options);
        let allocation = allocate(&input);
        for addr in allocation.unassigned() {
            warn!("failoverd: no node can host {addr}");
        }
        let holders: Vec<(IpAddr, Option<u32>)> = allocation.assignments.iter().map(|a| (a.addr, a.holder)).collect();
        let nodes = self.connected_nodes();
        let rebalanced = self.force_rebalance.clone();
        let Some(r) = &mut self.run else { return };
        r.rebalanced = rebalanced;
        r.phase = Phase::Releasing;
        r.waiting = nodes.iter().copied().collect();
        r.deadline = now + RUN_TIMEOUT;
        r.holders = holders.clone();
        let id = r.id;
        for n in nodes {
            self.send(n, FailoverMsg::Assign { run: id, holders: holders.clone(), release_only: true });
        }
    }

    /// A node: take the leader's assignment; release what goes, take what
    /// comes (worked out event by event against what this node hosts, see
    /// [`Failoverd::next_needed`]), then ipreallocated.
    fn apply_assignment(&mut self, leader: u32, run: u32, holders: Vec<(IpAddr, Option<u32>)>, release_only: bool) {
        for (addr, new) in holders {
            if self.holders.contains_key(&addr) {
                self.holders.insert(addr, new);
            }
        }
        // A newer assignment replaces what was still to do.
        self.failed.clear();
        self.take_allowed = !release_only;
        self.realloc_due = !release_only;
        self.assign_report = Some((leader, run, true));
        self.assigned_in = Some(run);
        self.run_done = false;
        if self.event_running.is_none() {
            self.next_event();
        }
    }

    /// The next event that brings this node to the last assignment:
    /// releaseip for a hosted address that is no longer this node's, then
    /// takeip for one of this node's that it does not host, then
    /// ipreallocated.
    pub(crate) fn next_needed(&self) -> Option<PendingEvent> {
        let me = self.cfg.pnn;
        let mine = |a: &IpAddr| !self.drop_all && self.holders.get(a).copied().flatten() == Some(me);
        let bits = |a: &IpAddr| self.cfg.addresses.iter().find(|c| c.addr == *a).map_or(0, |c| c.mask_bits);
        if let Some((addr, iface)) = self.hosted.iter().find(|(a, _)| !mine(a) && !self.failed.contains(*a)) {
            let args = format!("{iface} {addr} {}", bits(addr));
            return Some(PendingEvent {
                event: "releaseip",
                args,
                announce: None,
                target: Some((*addr, iface.clone(), false)),
            });
        }
        let take = self.cfg.addresses.iter().find(|c| {
            (self.take_allowed || self.forced_take.contains(&c.addr))
                && mine(&c.addr)
                && !self.hosted.contains_key(&c.addr)
                && !self.failed.contains(&c.addr)
        });
        if let Some(cfg) = take {
            let iface = cfg.ifaces.iter().find(|i| self.links.get(*i).copied().unwrap_or(false)).or(cfg.ifaces.first());
            let iface = iface.cloned().unwrap_or_default();
            return Some(PendingEvent {
                event: "takeip",
                args: format!("{iface} {} {}", cfg.addr, cfg.mask_bits),
                announce: Some((cfg.addr, iface.clone())),
                target: Some((cfg.addr, iface, true)),
            });
        }
        self.realloc_due.then(|| PendingEvent {
            event: "ipreallocated",
            args: String::new(),
            announce: None,
            target: None,
        })
    }

    pub(crate) fn next_event(&mut self) {
        if self.event_running.is_some() {
            return;
        }
        let Some(e) = self.next_needed() else {
            if let Some((leader, run, ok)) = self.assign_report.take() {
                self.send(leader, FailoverMsg::Assigned { run, ok });
            }
            // Nothing more to do: every control still waiting has its
            // answer in what this node hosts now.
            self.settle_ip_waiters(None);
            return;
        };
        self.next_reqid += 1;
        let id = self.next_reqid;
        self.event_running = Some(id);
        self.event_announce = e.announce.clone();
        self.event_target = e.target.clone();
        if e.event == "ipreallocated" {
            self.realloc_due = false;
        }
        info!("failoverd: {} {}", e.event, e.args);
        let timeout_secs = self.tunables().event_script_timeout();
        let m = Msg::EventRun { event: e.event.to_string(), args: e.args, timeout_secs };
        self.out.push_back(Packet::new(Endpoint::new(self.cfg.pnn, ServiceId::EVENTD), self.me(), id, Body::Msg(m)));
    }

    fn event_done(&mut self, now: Instant, reqid: u64, result: i32) {
        if self.event_running != Some(reqid) {
            return;
        }
        self.event_running = None;
        if let Some((addr, iface)) = self.event_announce.take() {
            // Tell the segment at once, then twice more: neighbours that
            // missed one still learn the new MAC (CTDB's rounds).
            self.announce.push((now, addr, iface, 0));
        }
        // CTDB counts a timeout of these events as success.
        let ok = result == 0 || result == ETIMEDOUT;
        let target = self.event_target.take();
        match &target {
            Some((addr, iface, true)) if ok => {
                self.hosted.insert(*addr, iface.clone());
                // Look at the interfaces soon, so a later disappearance
                // of the address is recognised as one.
                self.check.taken(*addr);
                self.tell_clients(ctdb_legacy_proto::srvid::TAKE_IP, *addr);
            }
            Some((addr, _, false)) if ok => {
                self.hosted.remove(addr);
                self.check.released(*addr);
                // smbd drops its connections to the address.
                self.tell_clients(ctdb_legacy_proto::srvid::RELEASE_IP, *addr);
                self.forget_deleted();
            }
            Some((addr, _, _)) => {
                self.failed.insert(*addr);
            }
            None => {}
        }
        if !ok {
            warn!("failoverd: event failed ({result})");
            if let Some(r) = &mut self.assign_report {
                r.2 = false;
            }
        }
        if let Some((addr, _, take)) = target {
            if take {
                self.forced_take.remove(&addr);
            }
            self.settle_ip_waiters(Some(addr));
        }
        self.next_event();
    }

    // ---- timers ----

    /// When [`Failoverd::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let arp = self.announce.iter().chain(&self.gratarp).map(|a| a.0).min();
        [
            self.run.as_ref().map(|r| r.deadline),
            arp,
            self.runs_disabled_until,
            self.move_pause_until,
            self.release_all_deadline(),
            self.check.next,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Tickle ACKs due: (client, server).
    pub fn poll_tickle(&mut self) -> Option<(std::net::SocketAddr, std::net::SocketAddr)> {
        self.tickle_out.pop_front()
    }

    /// Record (or forget) a connection; `tell` others when it came from a
    /// client of this node.
    pub(crate) fn track(&mut self, add: bool, client: std::net::SocketAddr, server: std::net::SocketAddr, tell: bool) {
        let ip = server.ip().to_canonical();
        let changed = if add {
            self.conns.entry(ip).or_default().insert((client, server))
        } else {
            let removed = self.conns.get_mut(&ip).is_some_and(|s| s.remove(&(client, server)));
            if self.conns.get(&ip).is_some_and(|s| s.is_empty()) {
                self.conns.remove(&ip);
            }
            removed
        };
        if changed && tell {
            for n in self.active_nodes() {
                if n != self.cfg.pnn {
                    self.send(n, FailoverMsg::Conn { add, client, server });
                }
            }
        }
    }

    /// Gratuitous ARPs due: (address, interface).
    pub fn poll_arp(&mut self) -> Option<(IpAddr, String)> {
        self.arp_out.pop_front()
    }

    fn announce_tick(&mut self, now: Instant) {
        let me = self.cfg.pnn;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.announce).into_iter().partition(|a| a.0 <= now);
        self.announce = later;
        for (_, addr, iface, round) in due {
            // Released meanwhile: nothing to announce.
            if self.holders.get(&addr).copied().flatten() != Some(me) {
                continue;
            }
            self.arp_out.push_back((addr, iface.clone()));
            // Every known connection to it gets a tickle ACK, so its client
            // answers, meets this node's RST and reconnects at once.
            let tickles: Vec<_> = self.conns.get(&addr).into_iter().flatten().copied().collect();
            self.tickle_out.extend(tickles);
            if round + 1 < ARP_ROUNDS {
                self.announce.push((now + ARP_SPACING, addr, iface, round + 1));
            }
        }
    }

    /// A run that took too long is started again; announcements go out.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.announce_tick(now);
        self.gratarp_tick(now);
        self.pause_tick(now);
        self.check_release_all(now);
        self.check_tick(now);
        if self.run.as_ref().is_some_and(|r| now >= r.deadline) {
            if let Some(r) = self.run.take() {
                warn!("failoverd: takeover run {} timed out waiting for nodes {:?}; running again", r.id, r.waiting);
                self.waiters.extend(r.waiters);
            }
            self.wanted = true;
            self.maybe_run(now);
        }
    }

    /// Next packet to send.
    pub fn poll_output(&mut self) -> Option<Packet> {
        self.out.pop_front()
    }

    pub(crate) fn push_out(&mut self, p: Packet) {
        self.out.push_back(p);
    }
}

/// errno ETIMEDOUT.
const ETIMEDOUT: i32 = 110;

#[cfg(test)]
mod tests {
    //! A takeover run by hand: the leader's messages, a node's events.

    use std::net::IpAddr;
    use std::time::Instant;

    use ctdb_proto::{Body, ClusterState, Endpoint, FailoverMsg, Flags, Msg, NodeInfo, Packet, ServiceId};

    use super::{Address, Failoverd, FailoverdConfig};

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn core(pnn: u32) -> Failoverd {
        let addresses = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
            .iter()
            .map(|a| Address { addr: addr(a), mask_bits: 24, ifaces: vec!["eth1".into()] })
            .collect();
        Failoverd::new(FailoverdConfig { pnn, addresses })
    }

    fn state(flags: [u32; 2], generation: u32) -> ClusterState {
        ClusterState {
            pnn: 0,
            nodes: (0..2).map(|p| NodeInfo { pnn: p, addr: None, flags: flags[p as usize] }).collect(),
            runstate: 5,
            capabilities: 0,
            generation,
            vnnmap: vec![0, 1],
            recmode: 0,
            leader: Some(0),
            tunables: ctdb_config::Tunables::defaults().as_array().to_vec(),
            cluster_lock: None,
            last_recovery: (0, 0, 0, 0),
        }
    }

    fn from(node: u32, to: u32, m: Msg) -> Packet {
        Packet::new(Endpoint::new(to, ServiceId::FAILOVERD), Endpoint::new(node, ServiceId::FAILOVERD), 0, Body::Msg(m))
    }

    fn out(c: &mut Failoverd) -> Vec<(u32, ServiceId, u64, Msg)> {
        std::iter::from_fn(|| c.poll_output())
            .filter_map(|p| match p.body {
                Body::Msg(m) => Some((p.header.dst.node, p.header.dst.service, p.header.reqid, m)),
                _ => None,
            })
            .collect()
    }

    /// Leader 0 and node 1: both can host everything; LCP2 gives node 1
    /// some; node 1 runs takeip for them, then ipreallocated, and reports.
    #[test]
    fn a_takeover_run_assigns_every_address_and_nodes_run_their_events() {
        let now = Instant::now();
        let (mut l, mut n1) = (core(0), core(1));
        let st = Packet::new(
            Endpoint::new(0, ServiceId::FAILOVERD),
            Endpoint::new(0, ServiceId::CLUSTERD),
            0,
            Body::Msg(Msg::ClusterState(state([0, 0], 7))),
        );
        n1.dispatch(now, st.clone());
        l.dispatch(now, st);
        let reqs = out(&mut l);
        let asked: Vec<u32> = reqs
            .iter()
            .filter(|(_, _, _, m)| matches!(m, Msg::Failover(FailoverMsg::IpsRequest { .. })))
            .map(|(n, ..)| *n)
            .collect();
        assert_eq!(asked, vec![0, 1]);
        let run = 1;
        // Each node answers with its lists.
        for (node, core) in [(0u32, &mut l), (1, &mut n1)] {
            core.dispatch(now, from(0, node, Msg::Failover(FailoverMsg::IpsRequest { run })));
        }
        let answers: Vec<(u32, Msg)> = out(&mut l)
            .into_iter()
            .chain(out(&mut n1))
            .filter(|(_, _, _, m)| matches!(m, Msg::Failover(FailoverMsg::Ips { .. })))
            .map(|(d, _, _, m)| (d, m))
            .collect();
        assert_eq!(answers.len(), 2, "{answers:?}");
        for (i, (_, m)) in answers.into_iter().enumerate() {
            l.dispatch(now, from(i as u32, 0, m));
        }
        let assigns = |o: Vec<(u32, ServiceId, u64, Msg)>, step: bool| -> Vec<Vec<(IpAddr, Option<u32>)>> {
            o.into_iter()
                .filter_map(|(_, _, _, m)| match m {
                    Msg::Failover(FailoverMsg::Assign { holders, release_only, .. }) => {
                        assert_eq!(release_only, step, "release step first, then the take step");
                        Some(holders)
                    }
                    _ => None,
                })
                .collect()
        };
        let released = assigns(out(&mut l), true);
        assert_eq!(released.len(), 2, "one Assign per node");
        // Both nodes report the release step: the take step follows.
        for n in [0, 1] {
            l.dispatch(now, from(n, 0, Msg::Failover(FailoverMsg::Assigned { run, ok: true })));
        }
        let assigns = assigns(out(&mut l), false);
        assert_eq!(assigns.len(), 2, "one take-step Assign per node");
        assert_eq!(assigns[0], released[0]);
        let holders = assigns[0].clone();
        assert!(holders.iter().all(|(_, h)| h.is_some()), "every address held: {holders:?}");
        let mine: Vec<IpAddr> = holders.iter().filter(|(_, h)| *h == Some(1)).map(|(a, _)| *a).collect();
        assert!(!mine.is_empty() && mine.len() < 3, "LCP2 shares: {holders:?}");
        // The release step first: node 1 hosts nothing, so it reports at
        // once and takes nothing yet.
        let release = FailoverMsg::Assign { run, holders: holders.clone(), release_only: true };
        n1.dispatch(now, from(0, 1, Msg::Failover(release)));
        let o = out(&mut n1);
        assert!(
            matches!(&o[..], [(0, ServiceId::FAILOVERD, _, Msg::Failover(FailoverMsg::Assigned { ok: true, .. }))]),
            "{o:?}"
        );
        // Then the take step: takeip for each of its addresses, one at a
        // time, then ipreallocated, then Assigned.
        n1.dispatch(now, from(0, 1, Msg::Failover(FailoverMsg::Assign { run, holders, release_only: false })));
        let mut events = Vec::new();
        for _ in 0..10 {
            let o = out(&mut n1);
            if let Some((_, _, _, Msg::Failover(FailoverMsg::Assigned { ok, .. }))) =
                o.iter().find(|(_, _, _, m)| matches!(m, Msg::Failover(FailoverMsg::Assigned { .. })))
            {
                assert!(ok);
                break;
            }
            let (to, svc, reqid, m) = o.into_iter().next().expect("an event or the report");
            let Msg::EventRun { event, args, .. } = m else { panic!("{m:?}") };
            assert_eq!((to, svc), (1, ServiceId::EVENTD));
            events.push(format!("{event} {args}"));
            let mut done = Packet::new(
                Endpoint::new(1, ServiceId::FAILOVERD),
                Endpoint::new(1, ServiceId::EVENTD),
                reqid,
                Body::Msg(Msg::EventDone { result: 0 }),
            );
            done.header.flags = Flags::REPLY;
            n1.dispatch(now, done);
        }
        let mut want: Vec<String> = mine.iter().map(|a| format!("takeip eth1 {a} 24")).collect();
        want.push("ipreallocated ".into());
        assert_eq!(events, want);

        // Each address taken is announced three times, 1.1 s apart.
        let mut rounds = Vec::new();
        let mut t = now;
        // (The address check's timer comes every second for ever.)
        while let Some(due) = n1.poll_timeout().filter(|d| *d < now + std::time::Duration::from_secs(3)) {
            assert!(due >= t);
            t = due;
            n1.handle_timeout(t);
            let arps: Vec<(IpAddr, String)> = std::iter::from_fn(|| n1.poll_arp()).collect();
            if arps.is_empty() {
                continue;
            }
            rounds.push((t - now, arps.len()));
            assert!(arps.iter().all(|(a, i)| mine.contains(a) && i == "eth1"), "{arps:?}");
        }
        let per_round = mine.len();
        let ms = |n| std::time::Duration::from_millis(n);
        assert_eq!(rounds, vec![(ms(0), per_round), (ms(1100), per_round), (ms(2200), per_round)]);
    }

    /// The single event a node runs next (its text and reqid), or the
    /// run it reports done.
    fn step(c: &mut Failoverd) -> Result<(String, u64), (u32, bool)> {
        for (to, svc, reqid, m) in out(c) {
            match m {
                Msg::EventRun { event, args, .. } => {
                    assert_eq!((to, svc), (c.cfg.pnn, ServiceId::EVENTD));
                    return Ok((format!("{event} {args}"), reqid));
                }
                Msg::Failover(FailoverMsg::Assigned { run, ok }) => return Err((run, ok)),
                _ => {}
            }
        }
        panic!("no event and no report");
    }

    fn done(c: &mut Failoverd, reqid: u64, result: i32) {
        let pnn = c.cfg.pnn;
        let mut p = Packet::new(
            Endpoint::new(pnn, ServiceId::FAILOVERD),
            Endpoint::new(pnn, ServiceId::EVENTD),
            reqid,
            Body::Msg(Msg::EventDone { result }),
        );
        p.header.flags = Flags::REPLY;
        c.dispatch(Instant::now(), p);
    }

    /// An assignment that comes while the one before is still being
    /// applied (runs follow each other closely while nodes start): the
    /// node works from what it really hosts, so it never takes an address
    /// twice nor releases one it never took, and it releases one whose
    /// takeip was running when the address moved away. A failed takeip is
    /// not retried within the run, which is reported failed.
    #[test]
    fn a_newer_assignment_is_applied_against_what_the_node_hosts() {
        let now = Instant::now();
        let mut n1 = core(1);
        let st = Packet::new(
            Endpoint::new(1, ServiceId::FAILOVERD),
            Endpoint::new(1, ServiceId::CLUSTERD),
            0,
            Body::Msg(Msg::ClusterState(state([0, 0], 7))),
        );
        n1.dispatch(now, st);
        out(&mut n1);
        let (a1, a2, a3) = (addr("10.0.0.1"), addr("10.0.0.2"), addr("10.0.0.3"));
        let assign = |run, holders: Vec<(IpAddr, Option<u32>)>| {
            from(0, 1, Msg::Failover(FailoverMsg::Assign { run, holders, release_only: false }))
        };
        n1.dispatch(now, assign(1, vec![(a1, Some(1)), (a2, Some(1)), (a3, Some(0))]));
        let (e, reqid) = step(&mut n1).unwrap();
        assert_eq!(e, "takeip eth1 10.0.0.1 24");
        // Run 2 while that takeip runs: 10.0.0.1 goes to node 0, 10.0.0.3
        // comes here.
        n1.dispatch(now, assign(2, vec![(a1, Some(0)), (a2, Some(1)), (a3, Some(1))]));
        assert!(out(&mut n1).is_empty(), "one event at a time");
        done(&mut n1, reqid, 0);
        let mut events = Vec::new();
        let report = loop {
            match step(&mut n1) {
                Ok((e, reqid)) => {
                    events.push(e);
                    done(&mut n1, reqid, 0);
                }
                Err(r) => break r,
            }
        };
        assert_eq!(
            events,
            ["releaseip eth1 10.0.0.1 24", "takeip eth1 10.0.0.2 24", "takeip eth1 10.0.0.3 24", "ipreallocated "]
        );
        assert_eq!(report, (2, true));
        // Run 3 gives node 1 everything; the takeip of 10.0.0.1 fails.
        n1.dispatch(now, assign(3, vec![(a1, Some(1)), (a2, Some(1)), (a3, Some(1))]));
        let (e, reqid) = step(&mut n1).unwrap();
        assert_eq!(e, "takeip eth1 10.0.0.1 24");
        done(&mut n1, reqid, 1);
        let (e, reqid) = step(&mut n1).unwrap();
        assert_eq!(e, "ipreallocated ");
        done(&mut n1, reqid, 0);
        assert_eq!(step(&mut n1), Err((3, false)));
    }
}
