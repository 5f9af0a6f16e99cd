//! Payloads: the typed control-plane messages and the bulk kinds.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::{DecodeError, Kind};

/// A packet's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A typed message (JSON on the wire).
    Msg(Msg),
    /// A whole legacy CTDB packet forwarded between gateways (raw bytes).
    Legacy(Vec<u8>),
    /// Link liveness; no payload.
    Keepalive,
}

impl Body {
    /// The [`Kind`] this body is encoded as.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Msg(_) => Kind::MSG,
            Body::Legacy(_) => Kind::LEGACY,
            Body::Keepalive => Kind::KEEPALIVE,
        }
    }

    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Body::Msg(m) => {
                // Serialising a plain data enum into a Vec cannot fail: no
                // map keys that are not strings, no I/O.
                if let Err(e) = serde_json::to_writer(&mut *out, m) {
                    debug_assert!(false, "serialising Msg failed: {e}");
                }
            }
            Body::Legacy(b) => out.extend_from_slice(b),
            Body::Keepalive => {}
        }
    }

    pub(crate) fn decode_payload(kind: Kind, version: u16, payload: &[u8]) -> Result<Body, DecodeError> {
        if version != kind.payload_version() {
            return Err(DecodeError::BadPayloadVersion { kind: kind.0, version });
        }
        match kind {
            Kind::MSG => {
                serde_json::from_slice(payload).map(Body::Msg).map_err(|e| DecodeError::Malformed(e.to_string()))
            }
            Kind::LEGACY => Ok(Body::Legacy(payload.to_vec())),
            Kind::KEEPALIVE => Ok(Body::Keepalive),
            Kind(other) => Err(DecodeError::UnknownKind(other)),
        }
    }
}

/// Control-plane messages between services. Requests and their replies share
/// the header's reqid; a reply carries [`crate::Flags::REPLY`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum Msg {
    /// First packet on a node link, both ways: who is speaking.
    Hello {
        /// The sender's pnn.
        pnn: u32,
        /// Software version, for logs and mixed-version checks.
        version: String,
    },
    /// transport → clusterd: the link to `pnn` is up.
    PeerUp {
        /// The peer.
        pnn: u32,
    },
    /// transport → clusterd: the link to `pnn` is down.
    PeerDown {
        /// The peer.
        pnn: u32,
    },
    /// clusterd → local services: the cluster as this node sees it. Sent on
    /// every change; receivers keep the latest.
    ClusterState(ClusterState),
    /// gateway → clusterd: change a tunable (SET_TUNABLE).
    SetTunable {
        /// Name as the client typed it (case-insensitive).
        name: String,
        /// New value.
        value: u32,
    },
    /// Reply with a legacy-style status: 0 ok, 1 obsolete, −1 unknown.
    Status {
        /// The status.
        status: i32,
    },
    /// gateway → transport: send your counters.
    StatsRequest,
    /// transport → gateway: the counters.
    Stats(TransportStats),
    /// gateway → transport: zero the counters (STATISTICS_RESET).
    StatsReset,
    /// gateway → masterd: stop the daemon (SHUTDOWN).
    Shutdown,
    /// clusterd → every clusterd (and the local gateway, which passes it to
    /// clients registered for the LEADER srvid): "`pnn` leads, at
    /// `generation`". Sent by the leader every second; `pnn` = u32::MAX
    /// means the sender stopped leading.
    Leader {
        /// The leader, or u32::MAX.
        pnn: u32,
        /// The leader's current generation.
        generation: u32,
    },
    /// leader → each active node: recovery to `generation` begins; freeze
    /// and answer [`Msg::RecoverAck`].
    Recover {
        /// The new generation.
        generation: u32,
        /// The new vnnmap.
        vnnmap: Vec<u32>,
    },
    /// node → leader: frozen and ready for `generation`.
    RecoverAck {
        /// The generation being recovered to.
        generation: u32,
    },
    /// leader → each active node: recovery done; adopt and thaw.
    Recovered {
        /// The new generation.
        generation: u32,
        /// The new vnnmap.
        vnnmap: Vec<u32>,
    },
    /// gateway → clusterd, clusterd → leader: please run a recovery
    /// (`ctdb recover`, SET_RECMODE 1).
    RecoverRequest,
    /// clusterd → every other clusterd: this node's own flags and
    /// capabilities; sent on every change and to a node whose link came up.
    NodeState {
        /// The sender.
        pnn: u32,
        /// Its legacy node flags (its own view: disabled, stopped, banned,
        /// unhealthy).
        flags: u32,
        /// Its capability bits.
        capabilities: u32,
        /// The nodes it has a link to: the leader waits (briefly) for a
        /// full mesh among a recovery's participants, since databased's
        /// recovery sends between every pair.
        links: Vec<u32>,
    },
    /// clusterd → local eventd (and databased): a recovery of this node
    /// began (`startrecovery`) or ended (`recovered`); eventd runs the
    /// event of that name, databased freezes or thaws.
    RecoveryEvent {
        /// `startrecovery` or `recovered`.
        event: String,
        /// The generation being recovered to.
        generation: u32,
    },
    /// gateway → clusterd: set and clear own node flags (DISABLE_NODE,
    /// ENABLE_NODE, STOP_NODE, CONTINUE_NODE). Answered with `Status`.
    SetOwnFlags {
        /// Bits to set.
        set: u32,
        /// Bits to clear.
        clear: u32,
    },
    /// gateway → clusterd: ban this node for `secs` seconds, 0 = unban
    /// (SET_BAN_STATE). Answered with `Status`.
    Ban {
        /// Ban period.
        secs: u32,
    },
    /// gateway → clusterd: read the nodes file now (GET_NODES_FILE);
    /// answered with [`Msg::NodesFile`] or `Status` −1.
    NodesFileRequest,
    /// clusterd → gateway: the nodes file as read (index = pnn, `None` =
    /// deleted slot).
    NodesFile {
        /// The slots.
        nodes: Vec<Option<IpAddr>>,
    },
    /// gateway → clusterd: re-read the nodes file and apply it
    /// (RELOAD_NODES_FILE). Answered with `Status`.
    ReloadNodes,
    /// clusterd → transport: the node list changed (nodes added or deleted).
    NodesChanged {
        /// Every slot (index = pnn, `None` = deleted).
        nodes: Vec<Option<IpAddr>>,
    },
    /// gateway → clusterd: no recoveries for `secs` seconds, 0 = allow
    /// again (DISABLE_RECOVERIES message, sent around `ctdb reloadnodes`).
    DisableRecoveries {
        /// How long.
        secs: u32,
    },
    /// gateway → clusterd: switch capability bits on or off
    /// (SET_RECMASTERROLE, SET_LMASTERROLE). Answered with `Status`.
    SetCapability {
        /// The capability bits.
        mask: u32,
        /// On or off.
        on: bool,
    },
    /// databased → clusterd: this node's databases are frozen for the
    /// recovery to `generation` (the clusterd ack waits for it).
    DbFrozen {
        /// The generation being recovered to.
        generation: u32,
    },
    /// leader clusterd → its databased: every participant is frozen;
    /// recover the databases, then answer [`Msg::DbRecoverDone`].
    DbRecoverAll {
        /// The generation being recovered to.
        generation: u32,
        /// Active nodes taking part.
        participants: Vec<u32>,
        /// The new vnnmap.
        vnnmap: Vec<u32>,
    },
    /// leader databased → clusterd: database recovery finished.
    DbRecoverDone {
        /// The generation being recovered to.
        generation: u32,
        /// Whether every database was recovered.
        ok: bool,
    },
    /// databased ↔ databased: database coordination (attach broadcast,
    /// recovery steps, vacuuming); see `ctdb_databased::wire`.
    Db(DbMsg),
    /// any service → local processd: start a child process. The request's
    /// reqid names the process from then on (per requester); processd sends
    /// [`Msg::ProcessStarted`] once it runs, [`Msg::ProcessOutput`] while
    /// it runs if asked to stream, and answers the request (REPLY, same
    /// reqid) with [`Msg::ProcessDone`] exactly once.
    ProcessRun(ProcessSpec),
    /// processd → requester: the process of request `reqid` runs as `pid`
    /// (also its process group).
    ProcessStarted {
        /// The request it belongs to.
        reqid: u64,
        /// Its pid.
        pid: i32,
    },
    /// processd → requester: stdout of a streaming process, as it comes;
    /// empty once it reached end of file (which may come before the exit).
    ProcessOutput {
        /// The request it belongs to.
        reqid: u64,
        /// The bytes (lossy UTF-8).
        data: String,
    },
    /// requester → processd: signal the process group of request `reqid`
    /// (SIGKILL ends it; its `ProcessDone` follows).
    ProcessKill {
        /// The request it belongs to.
        reqid: u64,
        /// The signal number.
        signal: i32,
    },
    /// processd → requester: how the process of a [`Msg::ProcessRun`]
    /// ended (the reply to it).
    ProcessDone(ProcessResult),
    /// any service → local eventd: run an event of the legacy component
    /// (`takeip eth1 198.51.100.101 24`); answered with [`Msg::EventDone`].
    EventRun {
        /// Event name.
        event: String,
        /// Arguments, space separated.
        args: String,
        /// Deadline of the whole event, seconds.
        timeout_secs: u32,
    },
    /// eventd → requester: 0, or a positive errno (ENOEXEC a script
    /// failed, ETIMEDOUT, ECANCELED, ENOENT).
    EventDone {
        /// The result.
        result: i32,
    },
    /// failoverd ↔ failoverd: takeover runs.
    Failover(FailoverMsg),
    /// gateway → local failoverd (on the leader): run a takeover run
    /// (`ctdb ipreallocate`, TAKEOVER_RUN message); answered with `Status`
    /// once a run that started after the request is over.
    TakeoverRunRequest,
    /// gateway → local failoverd: the DISABLE_TAKEOVER_RUNS message
    /// (`ctdb reloadips`): no takeover runs (on the leader) and no
    /// address checks (on every node) for `secs` seconds; 0 allows them
    /// again. Answered with `Status` 0, or −EAGAIN when this node's
    /// takeover run is going on (CTDB refuses then).
    DisableTakeoverRuns {
        /// How long; 0 = enable.
        secs: u32,
    },
    /// gateway → local failoverd: the DISABLE_IP_CHECK message (`ctdb
    /// moveip` of CTDB 4.17): like [`Msg::DisableTakeoverRuns`] but not
    /// answered, and over once the move is done.
    DisableIpCheck {
        /// How long at most.
        secs: u32,
    },
    /// gateway → local failoverd: the REBALANCE_NODE message (`ctdb
    /// addip`): the leader lets `pnn` take addresses from other nodes at
    /// its next takeover run.
    RebalanceNode {
        /// The node.
        pnn: u32,
    },
}

/// failoverd-to-failoverd messages of a takeover run, led by the leader's
/// failoverd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailoverMsg {
    /// leader → every connected node: report your public addresses.
    IpsRequest {
        /// The run.
        run: u32,
    },
    /// node → leader: its addresses.
    Ips {
        /// The run.
        run: u32,
        /// Every configured address with the holder this node believes in.
        known: Vec<(IpAddr, Option<u32>)>,
        /// The addresses it can host now.
        available: Vec<IpAddr>,
    },
    /// leader → every connected node: the new holder of every address.
    /// Sent twice per run, as CTDB does: first `release_only` (every node
    /// releases what is no longer its own), then, once all have, to take
    /// the new addresses and run ipreallocated — so no address is ever up
    /// on two nodes.
    Assign {
        /// The run.
        run: u32,
        /// Address → holder (`None`: nobody).
        holders: Vec<(IpAddr, Option<u32>)>,
        /// Only release in this step.
        release_only: bool,
    },
    /// node → leader: what this node can host changed (it started
    /// running, became healthy or enabled, a link came up): run again.
    RunRequest,
    /// A node → every other: a client connection to a public address
    /// appeared (`add`) or went (TCP_CLIENT from smbd, `addtickle`,
    /// `deltickle`, a client that disconnected), so whichever node takes
    /// the address next can reset it.
    Conn {
        /// Added or removed.
        add: bool,
        /// The client's address and port.
        client: std::net::SocketAddr,
        /// The public address and port.
        server: std::net::SocketAddr,
    },
    /// gateway → its own failoverd: the smbd that reported this
    /// connection (TCP_CLIENT) disconnected. Unlike `ctdb deltickle`'s
    /// TCP_REMOVE, the other nodes hear of it only while this node hosts
    /// the address steadily: during or after a release the next holder
    /// must keep the connection, to reset its client.
    ClientGone {
        /// The client's address and port.
        client: std::net::SocketAddr,
        /// The public address and port.
        server: std::net::SocketAddr,
    },
    /// leader → every node of the run: every node has done its part.
    RunDone {
        /// The run.
        run: u32,
    },
    /// node → leader: its part of the assignment is done.
    Assigned {
        /// The run.
        run: u32,
        /// Whether every takeip/releaseip event passed.
        ok: bool,
    },
    /// node → every other connected node: it took `addr` on request
    /// (TAKEOVER_IP, `ctdb moveip`), so every holder view names it and
    /// the pause of takeover runs the move asked for (DISABLE_IP_CHECK)
    /// is over.
    Moved {
        /// The address.
        addr: IpAddr,
    },
    /// node → leader: `pnn` has new addresses (`ctdb reloadips`); let it
    /// take some at the next run (CTDB's REBALANCE_NODE).
    Rebalance {
        /// The node.
        pnn: u32,
    },
}

/// What [`Msg::ProcessRun`] starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// A short name for the logs (`50.samba monitor`, `cluster lock`).
    pub name: String,
    /// Program and arguments; `argv[0]` is the path run.
    pub argv: Vec<String>,
    /// `argv[0]` as the process sees it, when not the path (event scripts
    /// see their short name).
    pub arg0: Option<String>,
    /// Variables set on top of the daemon's environment.
    pub env: Vec<(String, String)>,
    /// Killed (whole process group, SIGKILL) after this long; `None`: no
    /// deadline.
    pub timeout_ms: Option<u64>,
    /// Run when the deadline passes, before the kill, with the hung
    /// process's pid in place of every `{pid}` argument (CTDB's `[event]
    /// debug script`); bounded by the same timeout.
    pub on_timeout: Option<Vec<String>>,
    /// Output kept (stdout and stderr, one stream); the rest is dropped
    /// and counted. Not applied to streamed output.
    pub output_limit: u32,
    /// Send stdout as it comes ([`Msg::ProcessOutput`]) instead of with
    /// the result; stderr then has a pipe of its own and goes to the log,
    /// line by line (a helper's stdout is its answer to the daemon).
    pub stream_output: bool,
}

impl ProcessSpec {
    /// A helper whose stdout is its answer to the daemon (lock helpers, the
    /// nodes-list command): streamed, no deadline of its own unless set,
    /// the daemon's environment.
    pub fn streamed(name: impl Into<String>, argv: Vec<String>) -> ProcessSpec {
        ProcessSpec {
            name: name.into(),
            argv,
            arg0: None,
            env: Vec::new(),
            timeout_ms: None,
            on_timeout: None,
            output_limit: 0,
            stream_output: true,
        }
    }
}

/// How a process of [`Msg::ProcessRun`] ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessResult {
    /// Its pid (0 when it never started).
    pub pid: i32,
    /// How it ended.
    pub outcome: ProcessOutcome,
    /// Its output up to the limit (empty when streamed).
    pub output: String,
    /// Bytes of output past the limit, dropped.
    pub dropped: u64,
    /// From start to end.
    pub duration_ms: u64,
}

/// The end of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessOutcome {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal (not by processd's deadline).
    Signaled(i32),
    /// Its deadline passed: its process group was killed.
    TimedOut,
    /// Could not be started (errno: ENOENT, EACCES, ENOEXEC, …).
    NotStarted(i32),
}

/// A database as databased on another node describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbDesc {
    /// Database id.
    pub db_id: u32,
    /// Name (`locking.tdb`).
    pub name: String,
    /// Legacy db flags (persistent 0x1, readonly 0x2, sticky 0x4, replicated 0x8).
    pub flags: u8,
}

/// databased-to-databased messages. Record batches travel separately as
/// legacy REQ_MESSAGE frames (binary); these carry the coordination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "db", rename_all = "snake_case")]
pub enum DbMsg {
    /// A client attached a database here; attach it too (no reply).
    Attach(DbDesc),
    /// Detach this volatile database (no reply).
    Detach {
        /// Database id.
        db_id: u32,
    },
    /// Recovery coordinator → participant: which databases do you have,
    /// and how current is your copy?
    ListRequest {
        /// Recovery generation.
        generation: u32,
    },
    /// Participant → coordinator: these databases; copies valid as of
    /// recovery `data_generation`, the `epoch`-th recovery this node's data
    /// went through (0: none; data_generation 0: stale).
    List {
        /// Recovery generation.
        generation: u32,
        /// The databases.
        dbs: Vec<DbDesc>,
        /// Generation of the last recovery this node's copies came from.
        data_generation: u32,
        /// How many recoveries led to them (orders generations, which are
        /// random numbers).
        epoch: u64,
        /// `__db_sequence_number__` of each persistent database here.
        seqnums: Vec<(u32, u64)>,
        /// Persistent databases whose copy here may differ from another
        /// with the same sequence number (changed in bulk by a tool, a
        /// transaction that failed to apply here, unhealthy): rewritten
        /// by the recovery whatever their sequence number.
        #[serde(default)]
        untrusted: Vec<u32>,
        /// Persistent databases replaced in bulk since the last recovery
        /// (`wipedb`, `restoredb`): a digest of those transactions. Copies
        /// with the same sequence number are equal only if this is equal.
        #[serde(default)]
        digests: Vec<(u32, u64)>,
    },
    /// Coordinator → participant: make sure all of these are attached; if
    /// the recovery completes, your copies are of `epoch`.
    AttachAll {
        /// Recovery generation.
        generation: u32,
        /// The databases.
        dbs: Vec<DbDesc>,
        /// Epoch of the copies this recovery makes.
        epoch: u64,
    },
    /// Participant → coordinator: attached.
    AttachedAll {
        /// Recovery generation.
        generation: u32,
        /// Whether every attach worked.
        ok: bool,
    },
    /// Coordinator → a participant: recover your share of a database (the
    /// keys whose new lmaster you are).
    RecoverOne {
        /// Recovery generation.
        generation: u32,
        /// Only copies of this data generation count.
        valid_generation: u32,
        /// Database id.
        db_id: u32,
        /// Participants.
        participants: Vec<u32>,
        /// New vnnmap.
        vnnmap: Vec<u32>,
    },
    /// Recovering node → coordinator: its share of one database is pushed.
    RecoveredOne {
        /// Recovery generation.
        generation: u32,
        /// Database id.
        db_id: u32,
        /// Whether it worked.
        ok: bool,
        /// Records kept.
        records: u64,
    },
    /// Recovering node → participant: send me your records of my share
    /// (batches, then [`DbMsg::PullDone`]).
    Pull {
        /// Recovery generation.
        generation: u32,
        /// Only a copy of this data generation counts.
        valid_generation: u32,
        /// Database id.
        db_id: u32,
        /// New vnnmap (decides the shares).
        vnnmap: Vec<u32>,
    },
    /// Participant → recovering node: all batches sent.
    PullDone {
        /// Recovery generation.
        generation: u32,
        /// Database id.
        db_id: u32,
        /// Records sent.
        records: u64,
        /// The copy was stale (node missed a generation): nothing sent.
        stale: bool,
    },
    /// Recovering node → participant: all batches of its share sent.
    PushDone {
        /// Recovery generation.
        generation: u32,
        /// Database id.
        db_id: u32,
        /// Records sent to this participant.
        records: u64,
    },
    /// Participant → recovering node: staged.
    Pushed {
        /// Recovery generation.
        generation: u32,
        /// Database id.
        db_id: u32,
        /// Records staged.
        records: u64,
    },
    /// Coordinator → participant: every share is staged; replace these
    /// databases' contents with the staged records.
    Apply {
        /// Recovery generation.
        generation: u32,
        /// The databases recovered.
        dbs: Vec<u32>,
        /// Persistent databases whose copy here is already the newest:
        /// kept as they are.
        #[serde(default)]
        keep: Vec<u32>,
    },
    /// Coordinator → the node with the newest copy of a persistent
    /// database (highest sequence number): push it to every participant.
    PushCopy {
        /// Recovery generation.
        generation: u32,
        /// Database id.
        db_id: u32,
        /// Participants.
        participants: Vec<u32>,
    },
    /// Participant → coordinator: applied.
    Applied {
        /// Recovery generation.
        generation: u32,
        /// Whether every database was stored.
        ok: bool,
        /// Records stored.
        records: u64,
    },
    /// Vacuuming, lmaster → other nodes: delete these tombstones if your
    /// copy is not newer; answer [`DbMsg::TryDeleteResult`].
    TryDelete {
        /// Database id.
        db_id: u32,
        /// Keys and the rsn of the tombstone.
        records: Vec<(Vec<u8>, u64)>,
    },
    /// Keys a node could not delete.
    TryDeleteResult {
        /// Database id.
        db_id: u32,
        /// Keys kept.
        kept: Vec<Vec<u8>>,
    },
    /// Participant → committing node: a TRANS3_COMMIT's records are
    /// stored (in one local transaction), or not.
    Committed {
        /// Database id.
        db_id: u32,
        /// The committing node's commit id.
        commit_id: u32,
        /// Whether they were stored.
        ok: bool,
    },
    /// Traverse origin → every active node: send me the records you are
    /// dmaster of (batches, then [`DbMsg::TraverseDone`]).
    TraverseAll {
        /// Database id.
        db_id: u32,
        /// The origin's traverse id.
        traverse_id: u32,
        /// Include header-only records.
        with_empty: bool,
    },
    /// Node → traverse origin: all batches sent.
    TraverseDone {
        /// The origin's traverse id.
        traverse_id: u32,
        /// Records sent.
        records: u64,
    },
    /// The database's file changed on the sender: bump your sequence
    /// number so smbd's caches notice (UPDATE_SEQNUM).
    UpdateSeqnum {
        /// Database id.
        db_id: u32,
    },
    /// Read-only delegations, dmaster → every other active node: drop your
    /// read-only copy of this record (keep it as an ordinary copy naming
    /// the sender as dmaster); answer [`DbMsg::Revoked`].
    Revoke {
        /// Database id.
        db_id: u32,
        /// Record key.
        key: Vec<u8>,
    },
    /// Node → dmaster: done with [`DbMsg::Revoke`].
    Revoked {
        /// Database id.
        db_id: u32,
        /// Record key.
        key: Vec<u8>,
    },
    /// Vacuuming, dmaster → lmaster: these tombstones are yours to vacuum.
    VacuumFetch {
        /// Database id.
        db_id: u32,
        /// Keys and the rsn of the tombstone.
        records: Vec<(Vec<u8>, u64)>,
    },
}

/// One node as clusterd sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node number.
    pub pnn: u32,
    /// Address from the nodes file; `None` for a deleted slot.
    pub addr: Option<IpAddr>,
    /// Legacy node flags (DISCONNECTED, UNHEALTHY, …).
    pub flags: u32,
}

/// The cluster as clusterd sees it; what the gateway answers reads from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// This node.
    pub pnn: u32,
    /// Every slot of the nodes file, deleted ones included.
    pub nodes: Vec<NodeInfo>,
    /// Runstate (legacy numbering, 6.3).
    pub runstate: u32,
    /// Capabilities bits of this node.
    pub capabilities: u32,
    /// vnnmap generation; 1 = INVALID (no recovery has happened yet).
    pub generation: u32,
    /// lmaster for each hash slot.
    pub vnnmap: Vec<u32>,
    /// 0 NORMAL, 1 ACTIVE.
    pub recmode: u32,
    /// Current leader, if any.
    pub leader: Option<u32>,
    /// Every tunable value, in struct (slot) order.
    pub tunables: Vec<u32>,
    /// Configured cluster lock, as written in ctdb.conf.
    pub cluster_lock: Option<String>,
    /// When the last recovery started/finished (unix seconds, micros); zero
    /// when none has run.
    pub last_recovery: (i64, i64, i64, i64),
}

/// Counters kept by the transport (STATISTICS node_* fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportStats {
    /// Packets sent to other nodes.
    pub node_packets_sent: u32,
    /// Packets received from other nodes.
    pub node_packets_recv: u32,
    /// Keepalives sent.
    pub keepalive_packets_sent: u32,
    /// Keepalives received.
    pub keepalive_packets_recv: u32,
}
