//! Usage and help texts, as Samba's tool prints them (captured from
//! Debian's `ctdb` 4.17, see `tests/expected/`).
//!
//! The command table lists every command of Samba's tool, so `ctdb` alone
//! prints the same list; commands this crate does not implement yet say so
//! when run (see [`crate::cmd`]).

/// Every command of Samba's tool: name, argument synopsis, one-line help, in
/// Samba's order.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("version", "", "show version of ctdb"),
    ("status", "", "show node status"),
    ("uptime", "", "show node uptime"),
    ("ping", "", "ping a node"),
    ("runstate", "[setup|first_recovery|startup|running]", "get/check runstate of a node"),
    ("getvar", "<name>", "get a tunable variable"),
    ("setvar", "<name> <value>", "set a tunable variable"),
    ("listvars", "", "list tunable variables"),
    ("statistics", "", "show ctdb statistics"),
    ("statisticsreset", "", "reset ctdb statistics"),
    ("stats", "[count]", "show rolling statistics"),
    ("ip", "[all]", "show public ips"),
    ("ipinfo", "<ip>", "show public ip details"),
    ("ifaces", "", "show interfaces"),
    ("setifacelink", "<iface> up|down", "set interface link status"),
    ("process-exists", "<pid> [<srvid>]", "check if a process exists on a node"),
    ("getdbmap", "", "show attached databases"),
    ("getdbstatus", "<dbname|dbid>", "show database status"),
    ("catdb", "<dbname|dbid>", "dump cluster-wide ctdb database"),
    ("cattdb", "<dbname|dbid>", "dump local ctdb database"),
    ("getcapabilities", "", "show node capabilities"),
    ("pnn", "", "show the pnn of the currnet node"),
    ("lvs", "leader|list|status", "show lvs configuration"),
    ("setdebug", "ERROR|WARNING|NOTICE|INFO|DEBUG", "set debug level"),
    ("getdebug", "", "get debug level"),
    ("attach", "<dbname> [persistent|replicated]", "attach a database"),
    ("detach", "<dbname|dbid> ...", "detach database(s)"),
    ("dumpmemory", "", "dump ctdbd memory map"),
    ("rddumpmemory", "", "dump recoverd memory map"),
    ("getpid", "", "get ctdbd process ID"),
    ("disable", "", "disable a node"),
    ("enable", "", "enable a node"),
    ("stop", "", "stop a node"),
    ("continue", "", "continue a stopped node"),
    ("ban", "<bantime>", "ban a node"),
    ("unban", "", "unban a node"),
    ("shutdown", "", "shutdown ctdb daemon"),
    ("recover", "", "force recovery"),
    ("sync", "", "run ip reallocation (deprecated)"),
    ("ipreallocate", "", "run ip reallocation"),
    ("gratarp", "<ip> <interface>", "send a gratuitous arp"),
    ("tickle", "<srcip:port> <dstip:port>", "send a tcp tickle ack"),
    ("gettickles", "<ip> [<port>]", "get the list of tickles"),
    ("addtickle", "<ip>:<port> <ip>:<port>", "add a tickle"),
    ("deltickle", "<ip>:<port> <ip>:<port>", "delete a tickle"),
    ("listnodes", "", "list nodes in the cluster"),
    ("reloadnodes", "", "reload the nodes file all nodes"),
    ("moveip", "<ip> <node>", "move an ip address to another node"),
    ("addip", "<ip/mask> <iface>", "add an ip address to a node"),
    ("delip", "<ip>", "delete an ip address from a node"),
    ("backupdb", "<dbname|dbid> <file>", "backup a database into a file"),
    ("restoredb", "<file> [dbname]", "restore a database from a file"),
    ("dumpdbbackup", "<file>", "dump database from a backup file"),
    ("wipedb", "<dbname|dbid>", "wipe the contents of a database."),
    ("leader", "", "show the pnn of the leader"),
    ("event", "", "event and event script commands"),
    ("scriptstatus", "[init|setup|startup|monitor|takeip|releaseip|ipreallocated]", "show event script status"),
    ("natgw", "leader|list|status", "show natgw configuration"),
    ("getreclock", "", "get recovery lock file"),
    ("setlmasterrole", "on|off", "set LMASTER role"),
    ("setleaderrole", "on|off", "set LEADER role"),
    ("setdbreadonly", "<dbname|dbid>", "enable readonly records"),
    ("setdbsticky", "<dbname|dbid>", "enable sticky records"),
    ("pfetch", "<dbname|dbid> <key>", "fetch record from persistent database"),
    ("pstore", "<dbname|dbid> <key> <value>", "write record to persistent database"),
    ("pdelete", "<dbname|dbid> <key>", "delete record from persistent database"),
    ("ptrans", "<dbname|dbid> [<file>]", "update a persistent database (from file or stdin)"),
    ("tfetch", "<tdb-file> <key> [<file>]", "fetch a record"),
    ("tstore", "<tdb-file> <key> <data> [<rsn> <dmaster> <flags>]", "store a record"),
    ("readkey", "<dbname|dbid> <key> [readonly]", "read value of a database key"),
    ("writekey", "<dbname|dbid> <key> <value>", "write value for a database key"),
    ("deletekey", "<dbname|dbid> <key>", "delete a database key"),
    ("checktcpport", "<port>", "check if a service is bound to a specific tcp port or not"),
    ("getdbseqnum", "<dbname|dbid>", "get database sequence number"),
    ("nodestatus", "[all|<pnn-list>]", "show and return node status"),
    ("dbstatistics", "<dbname|dbid>", "show database statistics"),
    ("reloadips", "[all|<pnn-list>]", "reload the public addresses file"),
];

/// popt's option help (`--help`), plus our `--json`.
const OPTION_HELP: &str = "Usage: [OPTION...]
  -d, --debug=STRING       debug level
  -t, --timelimit=INT      timelimit (in seconds)
  -n, --node=INT           node specification - integer
  -Y                       enable machine readable output
  -x, --separator=CHAR     specify separator for machine readable output
  -X                       enable machine parsable output with separator |
  -v, --verbose            enable verbose output
  -T, --maxruntime=INT     die if runtime exceeds this limit (in seconds)
      --json               print results as JSON (ctdb-rs)

Help options:
  -?, --help               Show this help message
      --usage              Display brief usage message
";

/// popt's brief usage (`--usage`, and the head of a command's usage).
///
/// `--json` is left out so that a command's usage is byte-identical to
/// Samba's; `--help` documents it.
const BRIEF_USAGE: &str = "Usage: [-?YXv] [-?|--help] [--usage] [-d|--debug=STRING]
        [-t|--timelimit=INT] [-n|--node=INT] [-Y] [-x|--separator=CHAR]
        [-X] [-v|--verbose] [-T|--maxruntime=INT]
";

/// One command line of the `Commands:` list.
fn command_line(name: &str, args: &str, help: &str) -> String {
    format!("  {name:<15} {args:<27}  {help}\n")
}

/// `ctdb --help`.
pub fn help() -> String {
    OPTION_HELP.to_string()
}

/// `ctdb --usage`.
pub fn brief() -> String {
    BRIEF_USAGE.to_string()
}

/// `ctdb` without a command: option help and every command (exit 1).
pub fn full() -> String {
    let mut out = OPTION_HELP.replace("      --json               print results as JSON (ctdb-rs)\n", "");
    out.push_str("\nCommands:\n");
    for (name, args, help) in COMMANDS {
        out.push_str(&command_line(name, args, help));
    }
    out
}

/// A command called with wrong arguments: brief usage and its own line
/// (exit 1).
///
/// A name that is no command (Samba's `dumpdbbackup` asks for the usage of
/// `dumpbackup`) prints the full usage instead, as Samba's tool does.
pub fn command(name: &str) -> String {
    let Some((name, args, help)) = COMMANDS.iter().find(|(n, _, _)| *n == name) else {
        return full();
    };
    let mut out = BRIEF_USAGE.to_string();
    out.push_str("\nCommands:\n");
    out.push_str(&command_line(name, args, help));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED_FULL: &str = include_str!("../tests/expected/usage_full.txt");
    const EXPECTED_HELP: &str = include_str!("../tests/expected/help.txt");
    const EXPECTED_BRIEF: &str = include_str!("../tests/expected/usage_short.txt");
    const EXPECTED_GETVAR: &str = include_str!("../tests/expected/usage_getvar.txt");

    #[test]
    fn full_usage_is_byte_identical() {
        assert_eq!(full(), EXPECTED_FULL);
    }

    #[test]
    fn help_adds_only_the_json_line() {
        let ours = help().replace("      --json               print results as JSON (ctdb-rs)\n", "");
        assert_eq!(ours, EXPECTED_HELP);
        assert_eq!(brief(), EXPECTED_BRIEF);
    }

    #[test]
    fn command_usage_is_byte_identical() {
        assert_eq!(command("getvar"), EXPECTED_GETVAR);
        // `ctdb dumpdbbackup` without its file (observed).
        assert_eq!(command("dumpbackup"), EXPECTED_FULL);
    }
}
