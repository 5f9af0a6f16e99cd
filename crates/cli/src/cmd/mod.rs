//! One file per command, mini-redis style. Each command builds a typed
//! result (`serde::Serialize`) and implements [`crate::render::Render`] for
//! it; its `run` function talks to the daemon through a
//! [`crate::session::Session`] and never formats text from raw replies.
//!
//! | command | file | controls |
//! | --- | --- | --- |
//! | status | [`status`] | GET_NODEMAP, GET_RUNSTATE, GET_IFACES, GETVNNMAP, GET_RECMODE, LEADER message |
//! | nodestatus | [`nodestatus`] | GET_NODEMAP, GET_RUNSTATE, GET_IFACES |
//! | listnodes | [`listnodes`] | none (nodes file) |
//! | pnn | [`pnn`] | GET_PNN (preamble) |
//! | ping | [`ping`] | PING |
//! | uptime | [`uptime`] | UPTIME |
//! | runstate | [`runstate`] | GET_RUNSTATE |
//! | getcapabilities | [`getcapabilities`] | GET_CAPABILITIES |
//! | getvar / setvar / listvars | [`getvar`], [`setvar`], [`listvars`] | LIST_TUNABLES, GET_TUNABLE, SET_TUNABLE |
//! | statistics / statisticsreset | [`statistics`], [`statisticsreset`] | STATISTICS, STATISTICS_RESET |
//! | getdebug / setdebug | [`getdebug`], [`setdebug`] | GET_DEBUG, SET_DEBUG |
//! | getpid | [`getpid`] | GET_PID |
//! | process-exists | [`process_exists`] | PROCESS_EXISTS, CHECK_PID_SRVID |
//! | shutdown | [`shutdown`] | SHUTDOWN (NOREPLY) |
//! | version | [`version`] | none |
//! | event | [`event`] | none (ctdb-eventd's socket; the script directories) |
//! | scriptstatus | [`scriptstatus`] | none (as `event status legacy EVENT`) |
//! | leader | [`leader`] | LEADER message |
//! | getreclock | [`getreclock`] | GET_RECLOCK_FILE |
//! | disable / enable / stop / continue / ban / unban | [`node_state`] | GET_NODEMAP, DISABLE_NODE, ENABLE_NODE, STOP_NODE, CONTINUE_NODE, SET_BAN_STATE, then a takeover run |
//! | ipreallocate / sync | [`ipreallocate`] | REGISTER_SRVID, TAKEOVER_RUN message, DEREGISTER_SRVID |
//! | ip [all] | [`ip`] | GET_PUBLIC_IPS (the node, or every active node for `all`), GET_PUBLIC_IP_INFO per address |
//! | ipinfo | [`ipinfo`] | GET_PUBLIC_IP_INFO |
//! | ifaces | [`ifaces`] | GET_IFACES |
//! | setifacelink | [`setifacelink`] | GET_IFACES, SET_IFACE_LINK_STATE |
//! | moveip | [`moveip`] | DISABLE_IP_CHECK message, GET_PUBLIC_IPS, GET_NODEMAP, RELEASE_IP to the other active nodes, TAKEOVER_IP |
//! | addip | [`addip`] | GET_PUBLIC_IPS, ADD_PUBLIC_IP, REBALANCE_NODE message |
//! | delip | [`delip`] | GET_PUBLIC_IPS, DEL_PUBLIC_IP |
//! | reloadips | [`reloadips`] | GET_NODEMAP, DISABLE_TAKEOVER_RUNS messages ([`hold_off`]), RELOAD_PUBLIC_IPS, then a takeover run |
//! | gratarp | [`gratarp`] | SEND_GRATUITOUS_ARP |
//! | gettickles | [`gettickles`] | GET_TCP_TICKLE_LIST |
//! | addtickle / deltickle | [`addtickle`] | TCP_ADD_DELAYED_UPDATE / TCP_REMOVE (one per connection) |
//! | recover | [`recover`] | LEADER message, GET_RECMODE, GETVNNMAP, SET_RECMODE |
//! | reloadnodes | [`reloadnodes`] | GET_NODEMAP, GET_NODES_FILE, DISABLE_RECOVERIES messages ([`hold_off`]), RELOAD_NODES_FILE |
//! | setleaderrole / setlmasterrole | [`roles`] | SET_RECMASTERROLE, SET_LMASTERROLE |
//! | getdbmap | [`getdbmap`] | GET_DBMAP, per DB GET_DBNAME, GETDBPATH, DB_GET_HEALTH |
//! | getdbstatus | [`getdbstatus`] | DB lookup (GET_DBMAP, GET_DBNAME to the local node), GETDBPATH, DB_GET_HEALTH |
//! | attach | [`attach`] | DB_ATTACH / _PERSISTENT / _REPLICATED, GETDBPATH, DB_GET_HEALTH, [GET_NODEMAP, SET_DB_READONLY / SET_DB_STICKY], DB_OPEN_FLAGS; local TDB open |
//! | detach | [`detach`] | GET_RECMODE, GET_NODEMAP, GET_TUNABLE AllowClientDBAttach per node, DB lookup, GET_DBNAME, DB_DETACH |
//! | catdb | [`catdb`] | DB lookup, attach, REGISTER_SRVID, TRAVERSE_START_EXT, records as messages, DEREGISTER_SRVID |
//! | cattdb | [`cattdb`] | DB lookup, attach; read traverse of the daemon's TDB |
//! | dbstatistics | [`dbstatistics`] | DB lookup, GET_DB_STATISTICS |
//! | getdbseqnum | [`getdbseqnum`] | DB lookup, GET_DB_SEQNUM |
//! | setdbreadonly / setdbsticky | [`setdbflag`] | DB lookup, SET_DB_READONLY / SET_DB_STICKY |
//! | readkey / writekey / deletekey | [`readkey`], [`writekey`], [`deletekey`] | DB lookup, attach; TDB chain lock, REQ_CALL (migration) when not dmaster; deletekey: SCHEDULE_FOR_DELETION |
//! | backupdb | [`backupdb`] | DB lookup, attach; read traverse of the daemon's TDB into the file |
//! | dumpdbbackup | [`dumpdbbackup`] | none (backup file) |
//! | restoredb | [`restoredb`] | attach, GET_NODEMAP, leader GET_RECMODE/GETVNNMAP, DB_FREEZE, DB_TRANSACTION_START, WIPE_DATABASE, DB_PUSH_START, messages, DB_PUSH_CONFIRM, DB_SET_HEALTHY, DB_TRANSACTION_COMMIT, DB_THAW |
//! | pfetch | [`pfetch`] | DB lookup, attach, g_lock.tdb attach, g_lock READ (REQ_CALL migration, PROCESS_EXISTS of conflicting holders), local read, g_lock unlock (SCHEDULE_FOR_DELETION when empty) |
//! | pstore / pdelete | [`pstore`] | as pfetch with a WRITE g_lock, then TRANS3_COMMIT when something changed |
//! | ptrans | [`ptrans`] | as pstore, many records from a file or standard input |
//! | tfetch / tstore | [`tfetch`], [`tstore`] | none after the preamble (the TDB file is opened directly) |
//! | wipedb | [`wipedb`] | DB lookup, attach, GET_NODEMAP, leader GET_RECMODE/GETVNNMAP, DB_FREEZE, DB_TRANSACTION_START, WIPE_DATABASE, DB_SET_HEALTHY, DB_TRANSACTION_COMMIT, DB_THAW |

pub mod addip;
pub mod addtickle;
pub mod attach;
pub mod backupdb;
pub mod catdb;
pub mod cattdb;
pub mod checktcpport;
pub mod dbstatistics;
pub mod deletekey;
pub mod delip;
pub mod detach;
pub mod dumpdbbackup;
pub mod event;
pub mod getcapabilities;
pub mod getdbmap;
pub mod getdbseqnum;
pub mod getdbstatus;
pub mod getdebug;
pub mod getpid;
pub mod getreclock;
pub mod gettickles;
pub mod getvar;
pub mod gratarp;
pub mod hold_off;
pub mod ifaces;
pub mod ip;
pub mod ipinfo;
pub mod ipreallocate;
pub mod leader;
pub mod listnodes;
pub mod listvars;
pub mod moveip;
pub mod node_state;
pub mod nodestatus;
pub mod pfetch;
pub mod ping;
pub mod pnn;
pub mod process_exists;
pub mod pstore;
pub mod ptrans;
pub mod readkey;
pub mod recover;
pub mod reloadips;
pub mod reloadnodes;
pub mod restoredb;
pub mod roles;
pub mod runstate;
pub mod scriptstatus;
pub mod setdbflag;
pub mod setdebug;
pub mod setifacelink;
pub mod setvar;
pub mod shutdown;
pub mod statistics;
pub mod statisticsreset;
pub mod status;
pub mod tfetch;
pub mod tstore;
pub mod uptime;
pub mod version;
pub mod wipedb;
pub mod writekey;

use ctdb_config::Paths;

use crate::args::Options;
use crate::error::CliError;
use crate::render::{Format, RenderCx, Reply};
use crate::session::{Link, Session};

/// What every command may look at besides its arguments.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The global options.
    pub options: Options,
    /// Which form to print.
    pub format: Format,
    /// Rendering context (separator, time zone).
    pub render: RenderCx,
}

impl Ctx {
    /// Renders a typed result with exit code 0.
    pub fn reply<R: crate::render::Render>(&self, result: &R) -> Reply {
        Reply::ok(result, &self.format, &self.render)
    }
}

/// How a command is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Needs no daemon (`version`, `listnodes`, `event`); `-n` is refused with
    /// `Cannot specify node for command X`.
    Local,
    /// Connects to ctdbd first.
    Daemon,
}

/// The commands this crate implements, with how they run.
pub const IMPLEMENTED: &[(&str, Kind)] = &[
    ("version", Kind::Local),
    ("listnodes", Kind::Local),
    ("dumpdbbackup", Kind::Local),
    ("event", Kind::Local),
    ("scriptstatus", Kind::Local),
    ("checktcpport", Kind::Local),
    ("status", Kind::Daemon),
    ("nodestatus", Kind::Daemon),
    ("pnn", Kind::Daemon),
    ("ping", Kind::Daemon),
    ("uptime", Kind::Daemon),
    ("runstate", Kind::Daemon),
    ("getcapabilities", Kind::Daemon),
    ("getvar", Kind::Daemon),
    ("setvar", Kind::Daemon),
    ("listvars", Kind::Daemon),
    ("statistics", Kind::Daemon),
    ("statisticsreset", Kind::Daemon),
    ("getdebug", Kind::Daemon),
    ("setdebug", Kind::Daemon),
    ("getpid", Kind::Daemon),
    ("process-exists", Kind::Daemon),
    ("shutdown", Kind::Daemon),
    ("leader", Kind::Daemon),
    ("getreclock", Kind::Daemon),
    ("disable", Kind::Daemon),
    ("enable", Kind::Daemon),
    ("stop", Kind::Daemon),
    ("continue", Kind::Daemon),
    ("ban", Kind::Daemon),
    ("unban", Kind::Daemon),
    ("recover", Kind::Daemon),
    ("ipreallocate", Kind::Daemon),
    ("sync", Kind::Daemon),
    ("reloadnodes", Kind::Daemon),
    ("setleaderrole", Kind::Daemon),
    ("setlmasterrole", Kind::Daemon),
    ("getdbmap", Kind::Daemon),
    ("getdbstatus", Kind::Daemon),
    ("attach", Kind::Daemon),
    ("detach", Kind::Daemon),
    ("catdb", Kind::Daemon),
    ("dbstatistics", Kind::Daemon),
    ("setdbreadonly", Kind::Daemon),
    ("setdbsticky", Kind::Daemon),
    ("getdbseqnum", Kind::Daemon),
    ("readkey", Kind::Daemon),
    ("writekey", Kind::Daemon),
    ("deletekey", Kind::Daemon),
    ("cattdb", Kind::Daemon),
    ("backupdb", Kind::Daemon),
    ("restoredb", Kind::Daemon),
    ("wipedb", Kind::Daemon),
    ("pfetch", Kind::Daemon),
    ("pstore", Kind::Daemon),
    ("pdelete", Kind::Daemon),
    ("ptrans", Kind::Daemon),
    ("tfetch", Kind::Daemon),
    ("tstore", Kind::Daemon),
    ("ip", Kind::Daemon),
    ("ipinfo", Kind::Daemon),
    ("ifaces", Kind::Daemon),
    ("setifacelink", Kind::Daemon),
    ("moveip", Kind::Daemon),
    ("addip", Kind::Daemon),
    ("delip", Kind::Daemon),
    ("reloadips", Kind::Daemon),
    ("gratarp", Kind::Daemon),
    ("gettickles", Kind::Daemon),
    ("addtickle", Kind::Daemon),
    ("deltickle", Kind::Daemon),
];

/// Commands that refuse `-n` naming another node than the local one (the
/// implemented ones of those Samba's table marks as not remote).
const LOCAL_ONLY: &[&str] = &[
    "pnn",
    "reloadnodes",
    "catdb",
    "cattdb",
    "attach",
    "detach",
    "backupdb",
    "restoredb",
    "wipedb",
    "pfetch",
    "pstore",
    "pdelete",
    "ptrans",
    "readkey",
    "writekey",
    "deletekey",
    "getdbseqnum",
    "moveip",
    "reloadips",
];

/// Whether `name` refuses `-n` naming another node (checked by the
/// preamble, before REGISTER_SRVID, as Samba's tool does).
pub fn local_only(name: &str) -> bool {
    LOCAL_ONLY.contains(&name)
}

/// How `name` runs, `None` if this crate does not implement it.
pub fn kind(name: &str) -> Option<Kind> {
    IMPLEMENTED.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// Runs a command that needs no daemon.
pub async fn run_local(name: &str, cx: &Ctx, args: &[String], paths: &Paths) -> Result<Reply, CliError> {
    match name {
        "version" => Ok(version::run(cx)),
        "listnodes" => listnodes::run(cx, args, paths),
        "dumpdbbackup" => dumpdbbackup::run(cx, args),
        "event" => event::run(cx, args, paths).await,
        "scriptstatus" => scriptstatus::run(cx, args, paths).await,
        "checktcpport" => checktcpport::run(cx, args),
        _ => Err(CliError::line(format!("Unknown command '{name}'"))),
    }
}

/// Runs a daemon command on a started session.
pub async fn run_daemon<L: Link>(
    name: &str,
    session: &mut Session<L>,
    cx: &Ctx,
    args: &[String],
    paths: &Paths,
) -> Result<Reply, CliError> {
    if let Some(action) = node_state::Action::from_name(name) {
        return node_state::run(action, session, cx, args).await;
    }
    if let Some(flag) = setdbflag::DbFlag::from_name(name) {
        return setdbflag::run(flag, session, cx, args).await;
    }
    match name {
        "status" => status::run(session, cx, args).await,
        "nodestatus" => nodestatus::run(session, cx, args).await,
        "pnn" => pnn::run(session, cx),
        "ping" => ping::run(session, cx).await,
        "uptime" => uptime::run(session, cx).await,
        "runstate" => runstate::run(session, cx, args).await,
        "getcapabilities" => getcapabilities::run(session, cx, args).await,
        "getvar" => getvar::run(session, cx, args).await,
        "setvar" => setvar::run(session, cx, args).await,
        "listvars" => listvars::run(session, cx, args).await,
        "statistics" => statistics::run(session, cx, args).await,
        "statisticsreset" => statisticsreset::run(session, cx, args).await,
        "getdebug" => getdebug::run(session, cx, args).await,
        "setdebug" => setdebug::run(session, cx, args).await,
        "getpid" => getpid::run(session, cx).await,
        "process-exists" => process_exists::run(session, cx, args).await,
        "shutdown" => shutdown::run(session, cx, args).await,
        "leader" => leader::run(session, cx).await,
        "getreclock" => getreclock::run(session, cx, args).await,
        "recover" => recover::run(session, cx, args).await,
        "ipreallocate" | "sync" => ipreallocate::run(session, cx, args).await,
        "reloadnodes" => reloadnodes::run(session, cx, paths).await,
        "setleaderrole" => roles::run(roles::Role::Leader, session, cx, args).await,
        "setlmasterrole" => roles::run(roles::Role::Lmaster, session, cx, args).await,
        "getdbmap" => getdbmap::run(session, cx, args).await,
        "getdbstatus" => getdbstatus::run(session, cx, args).await,
        "attach" => attach::run(session, cx, args).await,
        "detach" => detach::run(session, cx, args).await,
        "catdb" => catdb::run(session, cx, args).await,
        "dbstatistics" => dbstatistics::run(session, cx, args).await,
        "getdbseqnum" => getdbseqnum::run(session, cx, args).await,
        "readkey" => readkey::run(session, cx, args).await,
        "writekey" => writekey::run(session, cx, args).await,
        "deletekey" => deletekey::run(session, cx, args).await,
        "cattdb" => cattdb::run(session, cx, args).await,
        "backupdb" => backupdb::run(session, cx, args).await,
        "restoredb" => restoredb::run(session, cx, args).await,
        "wipedb" => wipedb::run(session, cx, args).await,
        "pfetch" => pfetch::run(session, cx, args).await,
        "pstore" => pstore::run(pstore::Op::Store, session, cx, args).await,
        "pdelete" => pstore::run(pstore::Op::Delete, session, cx, args).await,
        "ptrans" => ptrans::run(session, cx, args).await,
        "tfetch" => tfetch::run(cx, args),
        "tstore" => tstore::run(cx, args),
        "ip" => ip::run(session, cx, args).await,
        "ipinfo" => ipinfo::run(session, cx, args).await,
        "ifaces" => ifaces::run(session, cx, args).await,
        "setifacelink" => setifacelink::run(session, cx, args).await,
        "moveip" => moveip::run(session, cx, args).await,
        "addip" => addip::run(session, cx, args).await,
        "delip" => delip::run(session, cx, args).await,
        "reloadips" => reloadips::run(session, cx, args).await,
        "gratarp" => gratarp::run(session, cx, args).await,
        "gettickles" => gettickles::run(session, cx, args).await,
        "addtickle" => addtickle::run(addtickle::Op::Add, session, cx, args).await,
        "deltickle" => addtickle::run(addtickle::Op::Del, session, cx, args).await,
        _ => Err(CliError::line(format!("Unknown command '{name}'"))),
    }
}

/// Wrong number of arguments: the command's usage, exit 1.
pub fn usage(name: &str) -> CliError {
    CliError::Usage { command: name.to_string() }
}

/// Refuses arguments for commands that take none (Samba's tool checks this
/// for most, but not all, commands; see each command).
pub fn no_args(name: &str, args: &[String]) -> Result<(), CliError> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(usage(name))
    }
}
