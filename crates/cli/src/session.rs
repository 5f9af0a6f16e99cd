//! A connection to ctdbd as Samba's tool uses it: the preamble, typed
//! controls to the target node, the cached nodemap and the leader.
//!
//! The daemon is reached through the [`Link`] trait, so commands run
//! unchanged against ctdbd (through `ctdb-client`, see [`crate::link`]) or
//! against recorded replies in tests.
//!
//! Preamble, as Debian's `ctdb` 4.17 does it (legacy-protocol.md 4.1):
//!
//! ```text
//! GET_PNN (CURRENT_NODE, no timeout)        -> local pnn
//! [-n P] GET_NODEMAP (local)                -> P must exist and be connected
//! REGISTER_SRVID LEADER (local)             -> LEADER broadcasts now arrive
//! ... command controls, destnode = P (or local), timeout -t ...
//! ```

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use ctdb_legacy_proto::{
    ctrl_flags, flags, pnn, srvid, IfaceList, NodeMap, Opcode, PidSrvid, PublicIpInfo, PublicIpList, ReplyCall,
    ReplyControl, ReqCall, SockAddr, Statistics, StringN, TunableSet, Uptime, VarList, VnnMap, Wire,
};

use crate::error::{exit_code, CliError};
use crate::flags::flags_text;

/// errno the tool reports for a control that timed out.
pub const ETIMEDOUT: i32 = 110;
/// errno used for a packet that is not one.
pub const EPROTO: i32 = 71;
/// errno for a reply payload that does not unmarshal (too short).
pub const EMSGSIZE: i32 = 90;

/// Why a request to the daemon got no reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// No reply within the timeout.
    Timeout,
    /// The daemon closed the connection.
    Closed,
    /// A socket error, with its errno when there is one.
    Io(Option<i32>),
    /// The daemon sent something that is not a valid packet.
    Proto,
}

/// The daemon connection the commands need. Implemented for
/// `ctdb_client::Client` and, in tests, for recorded replies.
#[allow(async_fn_in_trait)]
pub trait Link {
    /// Sends a control and waits for its reply (`timeout` `None` = forever).
    async fn control(
        &mut self,
        dest: u32,
        opcode: Opcode,
        srvid: u64,
        flags: u32,
        data: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<ReplyControl, LinkError>;

    /// Sends a control with the NOREPLY flag; nothing comes back.
    async fn control_noreply(&mut self, dest: u32, opcode: Opcode, srvid: u64, data: Vec<u8>) -> Result<(), LinkError>;

    /// Sends a REQ_CALL to the local daemon and waits for its REPLY_CALL
    /// (record migration for `readkey`/`writekey`/`deletekey`).
    async fn call(&mut self, request: ReqCall) -> Result<ReplyCall, LinkError>;

    /// The next message for a registered srvid (messages that arrived while
    /// waiting for control replies first), or `None` after `wait`.
    async fn next_message(&mut self, wait: Duration) -> Result<Option<(u64, Vec<u8>)>, LinkError>;

    /// Waits until the daemon closes the connection (after SHUTDOWN).
    async fn closed(&mut self) -> Result<(), LinkError>;

    /// Sends a message (REQ_MESSAGE) to `srvid` on `dest`; nothing comes
    /// back on the wire.
    async fn send_message(&mut self, dest: u32, srvid: u64, data: Vec<u8>) -> Result<(), LinkError>;

    /// Sends the same control to every node of `dests` at once and waits
    /// for all replies, as Samba's tool does for RELOAD_NODES_FILE. The
    /// default asks one node after the other.
    async fn control_multi(
        &mut self,
        dests: &[u32],
        opcode: Opcode,
        data: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Vec<Result<ReplyControl, LinkError>> {
        let mut out = Vec::with_capacity(dests.len());
        for &dest in dests {
            out.push(self.control(dest, opcode, 0, 0, data.clone(), timeout).await);
        }
        out
    }

    /// Waits `d` (the tool's one-second polls). Recorded replies skip it.
    async fn sleep(&mut self, d: Duration) {
        tokio::time::sleep(d).await
    }

    /// The pid in the tool's reply ports (`0xCE01` srvids). A recording
    /// answers with the pid of the run it recorded, so that ports match.
    fn tool_pid(&self) -> u32 {
        std::process::id()
    }

    /// Told the local pnn once GET_PNN answered (a real connection uses it
    /// as `srcnode` from then on).
    fn learned_pnn(&mut self, _pnn: u32) {}
}

/// A borrowed link is a link too, so tests can inspect theirs afterwards.
impl<T: Link> Link for &mut T {
    async fn control(
        &mut self,
        dest: u32,
        opcode: Opcode,
        srvid: u64,
        flags: u32,
        data: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<ReplyControl, LinkError> {
        (**self).control(dest, opcode, srvid, flags, data, timeout).await
    }

    async fn control_noreply(&mut self, dest: u32, opcode: Opcode, srvid: u64, data: Vec<u8>) -> Result<(), LinkError> {
        (**self).control_noreply(dest, opcode, srvid, data).await
    }

    async fn call(&mut self, request: ReqCall) -> Result<ReplyCall, LinkError> {
        (**self).call(request).await
    }

    async fn next_message(&mut self, wait: Duration) -> Result<Option<(u64, Vec<u8>)>, LinkError> {
        (**self).next_message(wait).await
    }

    async fn closed(&mut self) -> Result<(), LinkError> {
        (**self).closed().await
    }

    async fn send_message(&mut self, dest: u32, srvid: u64, data: Vec<u8>) -> Result<(), LinkError> {
        (**self).send_message(dest, srvid, data).await
    }

    async fn control_multi(
        &mut self,
        dests: &[u32],
        opcode: Opcode,
        data: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Vec<Result<ReplyControl, LinkError>> {
        (**self).control_multi(dests, opcode, data, timeout).await
    }

    async fn sleep(&mut self, d: Duration) {
        (**self).sleep(d).await
    }

    fn tool_pid(&self) -> u32 {
        (**self).tool_pid()
    }

    fn learned_pnn(&mut self, pnn: u32) {
        (**self).learned_pnn(pnn)
    }
}

/// Standard-error text a command prints while it waits (`Failed to get
/// nodemap, trying again` each second). Shared with the runner, so that
/// what was printed before the maximum runtime expired is not lost.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<Mutex<String>>);

impl Progress {
    /// Appends text (with its newlines).
    pub fn push(&self, text: &str) {
        if let Ok(mut buf) = self.0.lock() {
            buf.push_str(text);
        }
    }

    /// Takes everything written so far.
    pub fn take(&self) -> String {
        self.0.lock().map(|mut buf| std::mem::take(&mut *buf)).unwrap_or_default()
    }
}

/// How a session starts.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// `-n` (`None` when not given).
    pub node: Option<u32>,
    /// `-t` (`None` when negative: Debian's tool then never times a control
    /// out).
    pub timeout: Option<Duration>,
    /// The command refuses `-n` naming another node (`pnn`,
    /// `reloadnodes`): `Node cannot be specified for command X`, checked
    /// after the nodemap and before REGISTER_SRVID, as Samba's tool does.
    pub local_only: Option<String>,
    /// Where waiting commands put their messages.
    pub progress: Progress,
}

/// A connected tool session.
pub struct Session<L> {
    link: L,
    local_pnn: u32,
    target: u32,
    timeout: Option<Duration>,
    nodemap: Option<NodeMap>,
    leader: Option<u32>,
    /// Reply ports handed out so far (the `n` of `0xCE01…` srvids).
    srvids: u16,
    progress: Progress,
}

impl<L: Link> Session<L> {
    /// Runs the preamble.
    ///
    /// `connect_failed` builds the error for a failed GET_PNN, which Samba's
    /// tool reports like a failed connect.
    pub async fn start(
        mut link: L,
        options: StartOptions,
        connect_failed: impl FnOnce() -> CliError,
    ) -> Result<Session<L>, CliError> {
        let StartOptions { node, timeout, local_only, progress } = options;
        // GET_PNN is not bounded by -t in Samba's tool (only -T stops it).
        let reply = link.control(pnn::CURRENT_NODE, Opcode::GET_PNN, 0, 0, Vec::new(), None).await;
        let local_pnn = match reply {
            Ok(r) if r.status >= 0 => r.status as u32,
            Ok(_) => return Err(connect_failed()),
            // Samba's tool exits 1 without a word when the daemon hangs up.
            Err(_) => return Err(CliError::Silent(1)),
        };
        link.learned_pnn(local_pnn);
        let mut session =
            Session { link, local_pnn, target: local_pnn, timeout, nodemap: None, leader: None, srvids: 0, progress };
        if let Some(p) = node {
            session.check_node(p).await?;
            session.target = p;
        }
        if let Some(command) = local_only {
            if !session.target_is_local() {
                return Err(CliError::line(format!("Node cannot be specified for command {command}")));
            }
        }
        let registered =
            session.link.control(local_pnn, Opcode::REGISTER_SRVID, srvid::LEADER, 0, Vec::new(), timeout).await;
        match registered {
            Ok(r) if r.status == 0 => Ok(session),
            _ => Err(CliError::line("Failed to setup leader handler")),
        }
    }

    /// `-n P`: P must be in the nodemap and connected.
    async fn check_node(&mut self, p: u32) -> Result<(), CliError> {
        let local = self.local_pnn;
        let map = self.nodemap_from(local).await?;
        match map.nodes.iter().find(|n| n.pnn == p) {
            None => Err(CliError::line(format!("Node {p} does not exist"))),
            Some(n) if n.flags & flags::DISCONNECTED != 0 => {
                Err(CliError::line(format!("Node {p} has status {}", flags_text(n.flags))))
            }
            Some(_) => Ok(()),
        }
    }

    /// The pnn of the daemon we are connected to.
    pub fn local_pnn(&self) -> u32 {
        self.local_pnn
    }

    /// The node commands talk to: `-n`, else the local node.
    pub fn target(&self) -> u32 {
        self.target
    }

    /// Whether `-n` named another node than the local one.
    pub fn target_is_local(&self) -> bool {
        self.target == self.local_pnn
    }

    /// Sends a control to `dest` and returns the reply, whatever its status.
    pub async fn control_to(&mut self, dest: u32, opcode: Opcode, data: Vec<u8>) -> Result<ReplyControl, CliError> {
        let timeout = self.timeout;
        match self.control_raw(dest, opcode, 0, data, timeout).await {
            Ok(reply) => Ok(reply),
            Err(e) => Err(CliError::control_transport(&opcode_name(opcode), dest, transport_errno(&e)?)),
        }
    }

    /// Sends a control with header `srvid` and the given timeout (`None` =
    /// none), for the client-library steps of Samba's tool that report
    /// failures their own way (`attach: X DB_ATTACH failed, ret=110`) or
    /// wait without a limit (SCHEDULE_FOR_DELETION).
    pub async fn control_raw(
        &mut self,
        dest: u32,
        opcode: Opcode,
        srvid: u64,
        data: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<ReplyControl, LinkError> {
        let call = self.link.control(dest, opcode, srvid, 0, data, timeout);
        if timeout == Some(Duration::ZERO) {
            // `-t 0`: in Samba's tool the expired timer always wins over a
            // reply (`Control PING failed to node 0, ret=110`), whereas a
            // zero tokio timeout still lets a fast reply through. So the
            // request goes out (first poll) and is then given up, even if
            // the daemon was quick enough to answer within that poll.
            let _ = poll_once(call).await;
            Err(LinkError::Timeout)
        } else {
            call.await
        }
    }

    /// Sends a REQ_CALL and waits for its REPLY_CALL (Samba's client library
    /// waits without a limit; `-T` still ends the run).
    pub async fn call(&mut self, request: ReqCall) -> Result<ReplyCall, LinkError> {
        self.link.call(request).await
    }

    /// The tool's pid as its ports carry it (the recorded one in replays).
    pub fn tool_pid(&self) -> u32 {
        self.link.tool_pid()
    }

    /// Sends a control to `dest` that must succeed (status 0); returns its
    /// data.
    pub async fn control_ok_to(&mut self, dest: u32, opcode: Opcode, data: Vec<u8>) -> Result<Vec<u8>, CliError> {
        let reply = self.control_to(dest, opcode, data).await?;
        if reply.status != 0 {
            return Err(CliError::control_status(&opcode_name(opcode), reply.status));
        }
        Ok(reply.data)
    }

    /// Decodes a reply payload; a malformed one is reported like a failed
    /// control with EMSGSIZE, as Samba's library fails to unmarshal it
    /// (`Control GET_DBMAP failed to node 0, ret=90`, observed with a fake
    /// daemon answering status 0 and no data).
    pub fn decode<T: Wire>(opcode: Opcode, dest: u32, data: &[u8]) -> Result<T, CliError> {
        T::from_prefix(data).map_err(|_| CliError::control_transport(&opcode_name(opcode), dest, EMSGSIZE))
    }

    /// GET_NODEMAP from `dest`, cached: Samba's tool asks once per run and
    /// reuses the first map (with `-n` that is the local node's, fetched by
    /// the preamble).
    ///
    /// A banned node's view is not trusted, as in Samba's tool: when the
    /// map shows the node that sent it BANNED, the next node in pnn order
    /// that is neither deleted nor disconnected is asked instead; once
    /// every node was tried, `Warning: All nodes are banned.`
    pub async fn nodemap_from(&mut self, dest: u32) -> Result<&NodeMap, CliError> {
        if self.nodemap.is_none() {
            let mut current = dest;
            // Bounds the walk even if a daemon sends pnns out of range.
            let mut asked = 0usize;
            let map = loop {
                asked += 1;
                // Every caller of Samba's get_nodemap() exits 1 when it fails.
                let failed =
                    |e: CliError| e.then_line(format!("Failed to get nodemap from node {current}")).with_exit(1);
                let data = self.control_ok_to(current, Opcode::GET_NODEMAP, Vec::new()).await.map_err(failed)?;
                let map = Self::decode::<NodeMap>(Opcode::GET_NODEMAP, current, &data).map_err(failed)?;
                let flags_of = |p: u32| map.nodes.iter().find(|n| n.pnn == p).map(|n| n.flags);
                if flags_of(current).is_none_or(|f| f & flags::BANNED == 0) {
                    break map;
                }
                let count = u32::try_from(map.nodes.len()).unwrap_or(u32::MAX).max(1);
                for _ in 0..count {
                    current = (current + 1) % count;
                    let usable = flags_of(current).is_some_and(|f| f & (flags::DELETED | flags::DISCONNECTED) == 0);
                    if usable || current == dest {
                        break;
                    }
                }
                if current == dest || asked > map.nodes.len() {
                    return Err(CliError::line("Warning: All nodes are banned."));
                }
            };
            self.nodemap = Some(map);
        }
        match &self.nodemap {
            Some(map) => Ok(map),
            // Filled just above.
            None => Err(CliError::Silent(1)),
        }
    }

    /// GET_NODEMAP from `dest` whatever is cached; the new map replaces
    /// the cached one (Samba's `get_nodemap(ctdb, true)`).
    pub async fn refresh_nodemap_from(&mut self, dest: u32) -> Result<NodeMap, CliError> {
        self.nodemap = None;
        self.nodemap_from(dest).await.cloned()
    }

    /// The control timeout (`-t`; `None` when negative).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// GET_NODEMAP from the target (or the cached map).
    pub async fn nodemap(&mut self) -> Result<NodeMap, CliError> {
        let target = self.target;
        self.nodemap_from(target).await.cloned()
    }

    /// GET_RUNSTATE of `dest`.
    pub async fn runstate_of(&mut self, dest: u32) -> Result<u32, CliError> {
        let data = self.control_ok_to(dest, Opcode::GET_RUNSTATE, Vec::new()).await?;
        Self::decode::<u32>(Opcode::GET_RUNSTATE, dest, &data)
    }

    /// GET_IFACES of `dest`.
    pub async fn ifaces_of(&mut self, dest: u32) -> Result<IfaceList, CliError> {
        let data = self.control_ok_to(dest, Opcode::GET_IFACES, Vec::new()).await?;
        Self::decode::<IfaceList>(Opcode::GET_IFACES, dest, &data)
    }

    /// GET_PUBLIC_IPS of `dest`: every address it knows (the tool never
    /// asks for the available ones only).
    pub async fn public_ips_of(&mut self, dest: u32) -> Result<PublicIpList, CliError> {
        let data = self.control_ok_to(dest, Opcode::GET_PUBLIC_IPS, Vec::new()).await?;
        Self::decode::<PublicIpList>(Opcode::GET_PUBLIC_IPS, dest, &data)
    }

    /// GET_PUBLIC_IP_INFO of `addr` on `dest`.
    pub async fn public_ip_info_of(&mut self, dest: u32, addr: SockAddr) -> Result<PublicIpInfo, CliError> {
        let data = self.control_ok_to(dest, Opcode::GET_PUBLIC_IP_INFO, addr.to_bytes()).await?;
        Self::decode::<PublicIpInfo>(Opcode::GET_PUBLIC_IP_INFO, dest, &data)
    }

    /// GETVNNMAP of the target.
    pub async fn vnnmap(&mut self) -> Result<VnnMap, CliError> {
        let dest = self.target;
        self.vnnmap_of(dest).await
    }

    /// GETVNNMAP of `dest`.
    pub async fn vnnmap_of(&mut self, dest: u32) -> Result<VnnMap, CliError> {
        let data = self.control_ok_to(dest, Opcode::GETVNNMAP, Vec::new()).await?;
        Self::decode::<VnnMap>(Opcode::GETVNNMAP, dest, &data)
    }

    /// GET_RECMODE of the target: the mode comes in the status; negative is
    /// a failure.
    pub async fn recmode(&mut self) -> Result<i32, CliError> {
        self.status_control(Opcode::GET_RECMODE, Vec::new()).await
    }

    /// GET_RECMODE of `dest`.
    pub async fn recmode_of(&mut self, dest: u32) -> Result<i32, CliError> {
        let reply = self.control_to(dest, Opcode::GET_RECMODE, Vec::new()).await?;
        if reply.status < 0 {
            return Err(CliError::control_status(&opcode_name(Opcode::GET_RECMODE), reply.status));
        }
        Ok(reply.status)
    }

    /// A control whose non-negative status is its answer.
    async fn status_control(&mut self, opcode: Opcode, data: Vec<u8>) -> Result<i32, CliError> {
        let dest = self.target;
        let reply = self.control_to(dest, opcode, data).await?;
        if reply.status < 0 {
            return Err(CliError::control_status(&opcode_name(opcode), reply.status));
        }
        Ok(reply.status)
    }

    /// PING: the number of connected clients.
    pub async fn ping(&mut self) -> Result<i32, CliError> {
        self.status_control(Opcode::PING, Vec::new()).await
    }

    /// GET_PID: ctdbd's pid, carried in the status. Samba's tool prints the
    /// status as unsigned whatever it is, so no failure is possible here.
    pub async fn pid(&mut self) -> Result<u32, CliError> {
        let dest = self.target;
        let reply = self.control_to(dest, Opcode::GET_PID, Vec::new()).await?;
        Ok(reply.status as u32)
    }

    /// GET_CAPABILITIES of the target.
    pub async fn capabilities(&mut self) -> Result<u32, CliError> {
        let dest = self.target;
        let data = self.control_ok_to(dest, Opcode::GET_CAPABILITIES, Vec::new()).await?;
        Self::decode::<u32>(Opcode::GET_CAPABILITIES, dest, &data)
    }

    /// UPTIME of the target.
    pub async fn uptime(&mut self) -> Result<Uptime, CliError> {
        let dest = self.target;
        let data = self.control_ok_to(dest, Opcode::UPTIME, Vec::new()).await?;
        Self::decode::<Uptime>(Opcode::UPTIME, dest, &data)
    }

    /// STATISTICS of the target.
    pub async fn statistics(&mut self) -> Result<Statistics, CliError> {
        let dest = self.target;
        let data = self.control_ok_to(dest, Opcode::STATISTICS, Vec::new()).await?;
        Self::decode::<Statistics>(Opcode::STATISTICS, dest, &data)
    }

    /// STATISTICS_RESET of the target.
    pub async fn statistics_reset(&mut self) -> Result<(), CliError> {
        let dest = self.target;
        self.control_ok_to(dest, Opcode::STATISTICS_RESET, Vec::new()).await.map(|_| ())
    }

    /// LIST_TUNABLES of the target: the names, in the daemon's order.
    pub async fn list_tunables(&mut self) -> Result<Vec<String>, CliError> {
        let dest = self.target;
        let data = self.control_ok_to(dest, Opcode::LIST_TUNABLES, Vec::new()).await?;
        Ok(Self::decode::<VarList>(Opcode::LIST_TUNABLES, dest, &data)?.names)
    }

    /// GET_TUNABLE of the target.
    pub async fn tunable(&mut self, name: &str) -> Result<u32, CliError> {
        let dest = self.target;
        let data = self.control_ok_to(dest, Opcode::GET_TUNABLE, StringN(name.to_string()).to_bytes()).await?;
        Self::decode::<u32>(Opcode::GET_TUNABLE, dest, &data)
    }

    /// SET_TUNABLE of the target; returns the status (0, or 1 for an
    /// obsolete tunable). Other statuses are failures.
    pub async fn set_tunable(&mut self, name: &str, value: u32) -> Result<i32, CliError> {
        let dest = self.target;
        let data = TunableSet { value, name: name.to_string() }.to_bytes();
        let reply = self.control_to(dest, Opcode::SET_TUNABLE, data).await?;
        match reply.status {
            0 | 1 => Ok(reply.status),
            status => Err(CliError::control_status(&opcode_name(Opcode::SET_TUNABLE), status)),
        }
    }

    /// GET_DEBUG of the target.
    pub async fn debug_level(&mut self) -> Result<i32, CliError> {
        let dest = self.target;
        let data = self.control_ok_to(dest, Opcode::GET_DEBUG, Vec::new()).await?;
        Self::decode::<i32>(Opcode::GET_DEBUG, dest, &data)
    }

    /// SET_DEBUG of the target.
    pub async fn set_debug_level(&mut self, level: i32) -> Result<(), CliError> {
        let dest = self.target;
        self.control_ok_to(dest, Opcode::SET_DEBUG, level.to_bytes()).await.map(|_| ())
    }

    /// PROCESS_EXISTS on the target: the raw status (0 = exists).
    pub async fn process_exists(&mut self, pid: i32) -> Result<i32, CliError> {
        let dest = self.target;
        let reply = self.control_to(dest, Opcode::PROCESS_EXISTS, pid.to_bytes()).await?;
        Ok(reply.status)
    }

    /// CHECK_PID_SRVID on the target: the raw status (0 = registered).
    pub async fn check_pid_srvid(&mut self, pid: i32, srvid: u64) -> Result<i32, CliError> {
        let dest = self.target;
        let data = PidSrvid { pid, srvid }.to_bytes();
        let reply = self.control_to(dest, Opcode::CHECK_PID_SRVID, data).await?;
        Ok(reply.status)
    }

    /// SHUTDOWN of the target, sent with NOREPLY. When the target is the
    /// local daemon, waits until it closes our connection, so the command
    /// returns once ctdbd is gone (as Samba's tool does).
    pub async fn shutdown(&mut self) -> Result<(), CliError> {
        let dest = self.target;
        let sent = self.link.control_noreply(dest, Opcode::SHUTDOWN, 0, Vec::new()).await;
        if sent.is_err() {
            return Err(CliError::Silent(1));
        }
        if self.target_is_local() {
            // EOF is the expected end; any other error also means the daemon
            // went away.
            let _ = self.link.closed().await;
        }
        Ok(())
    }

    /// The leader's pnn from LEADER broadcasts.
    ///
    /// The leader's recovery daemon broadcasts LEADER every second; the
    /// preamble registered for it, so some may already be queued. Like
    /// Samba's tool we wait at most the control timeout (`-t`) for one that
    /// names a node (0xFFFFFFFF means the leader is yielding or unknown);
    /// `None` then prints as `UNKNOWN`. Once known, the leader is not asked
    /// again (Samba's tool keeps the first one too).
    pub async fn leader(&mut self) -> Result<Option<u32>, CliError> {
        if self.leader.is_some() {
            return Ok(self.leader);
        }
        let deadline = self.deadline();
        loop {
            match self.next_message_until(deadline).await? {
                None => return Ok(None),
                Some(_) if self.leader.is_some() => return Ok(self.leader),
                Some(_) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// When a wait that started now must end: now + `-t`, `None` without a
    /// limit.
    pub fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    /// The next message before `deadline` (`None` = no limit but `-T`).
    /// A LEADER broadcast naming a node is remembered on the way, as Samba's
    /// tool keeps its leader handler registered the whole run.
    async fn next_message_until(&mut self, deadline: Option<Instant>) -> Result<Option<(u64, Vec<u8>)>, CliError> {
        loop {
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            match self.link.next_message(wait).await {
                Ok(Some((id, data))) => {
                    if id == srvid::LEADER {
                        if let Ok(p) = u32::from_prefix(&data) {
                            if p != pnn::UNKNOWN {
                                self.leader = Some(p);
                            }
                        }
                    }
                    return Ok(Some((id, data)));
                }
                Ok(None) if deadline.is_some() => return Ok(None),
                Ok(None) => {}
                Err(LinkError::Closed) => return Err(CliError::Silent(1)),
                Err(_) => return Ok(None),
            }
        }
    }

    /// Waits until `deadline` for a message to `port`; other messages are
    /// dropped (LEADER noted). `None` when the time is up.
    pub async fn message_for(&mut self, port: u64, deadline: Option<Instant>) -> Result<Option<Vec<u8>>, CliError> {
        loop {
            match self.next_message_until(deadline).await? {
                None => return Ok(None),
                Some((id, data)) if id == port => return Ok(Some(data)),
                Some(_) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The next reply port of this run: `0xCE01 | pid & 0xFFFF << 16 | n`,
    /// n counting from 1, as Samba's tool numbers them.
    pub fn next_reply_srvid(&mut self) -> u64 {
        self.srvids = self.srvids.wrapping_add(1);
        srvid::tool_reply(self.link.tool_pid(), self.srvids)
    }

    /// REGISTER_SRVID of a reply port on the local node. Samba's tool waits
    /// for this reply without a time limit; a failure status is returned as
    /// is (the callers exit with it, silently or with their own message).
    pub async fn register_srvid(&mut self, port: u64) -> Result<(), RegisterError> {
        let local = self.local_pnn;
        match self.link.control(local, Opcode::REGISTER_SRVID, port, 0, Vec::new(), None).await {
            Ok(r) if r.status == 0 => Ok(()),
            Ok(r) => Err(RegisterError::Status(r.status)),
            Err(_) => Err(RegisterError::Gone),
        }
    }

    /// DEREGISTER_SRVID of a reply port; its outcome changes nothing (Samba's
    /// tool ignores it too).
    pub async fn deregister_srvid(&mut self, port: u64) {
        let local = self.local_pnn;
        let _ = self.link.control(local, Opcode::DEREGISTER_SRVID, port, 0, Vec::new(), None).await;
    }

    /// DEREGISTER_SRVID of a port, with its outcome (the client library's
    /// traverse ends with the deregistration's failure, if any).
    pub async fn deregister_srvid_checked(&mut self, port: u64) -> Result<(), RegisterError> {
        let local = self.local_pnn;
        match self.link.control(local, Opcode::DEREGISTER_SRVID, port, 0, Vec::new(), None).await {
            Ok(r) if r.status == 0 => Ok(()),
            Ok(r) => Err(RegisterError::Status(r.status)),
            Err(_) => Err(RegisterError::Gone),
        }
    }

    /// Sends a message; a failure means the daemon is gone (exit 1).
    pub async fn send_message(&mut self, dest: u32, port: u64, data: Vec<u8>) -> Result<(), CliError> {
        self.link.send_message(dest, port, data).await.map_err(|_| CliError::Silent(1))
    }

    /// The same control to several nodes at once, each bounded by `-t`.
    pub async fn control_multi(
        &mut self,
        dests: &[u32],
        opcode: Opcode,
        data: Vec<u8>,
    ) -> Vec<Result<ReplyControl, LinkError>> {
        let timeout = self.timeout;
        self.link.control_multi(dests, opcode, data, timeout).await
    }

    /// Waits `d` (the one-second polls of the waiting commands).
    pub async fn sleep(&mut self, d: Duration) {
        self.link.sleep(d).await
    }

    /// Records standard-error text printed while waiting.
    pub fn progress(&self, text: &str) {
        self.progress.push(text);
    }
}

/// Why a reply port could not be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// The daemon answered this status.
    Status(i32),
    /// The connection failed.
    Gone,
}

impl RegisterError {
    /// The exit code Samba's tool ends with.
    pub fn exit(self) -> i32 {
        match self {
            RegisterError::Status(s) => exit_code(s),
            RegisterError::Gone => 1,
        }
    }
}

/// Polls `fut` once: its output if it is ready at once, else `None` (and
/// the future is dropped).
async fn poll_once<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        Poll::Ready(match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

/// Samba's name of an opcode for error messages (`GET_NODEMAP`,
/// `GETVNNMAP`), or its number.
pub fn opcode_name(opcode: Opcode) -> String {
    match opcode.cli_name() {
        Some(name) => name.to_string(),
        None => opcode.to_string(),
    }
}

/// The errno Samba's tool reports for a control that got no reply: 110 for
/// a timeout, the socket's errno, EPROTO for garbage. A closed connection
/// ends the run silently with exit code 1, as the tool does.
pub fn transport_errno(e: &LinkError) -> Result<i32, CliError> {
    match e {
        LinkError::Timeout => Ok(ETIMEDOUT),
        LinkError::Closed => Err(CliError::Silent(1)),
        LinkError::Io(errno) => Ok(errno.unwrap_or(EPROTO)),
        LinkError::Proto => Ok(EPROTO),
    }
}

/// Flags of a NOREPLY control, re-exported for links that need it.
pub const NOREPLY: u32 = ctrl_flags::NOREPLY;
