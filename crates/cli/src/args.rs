//! Command-line options, parsed the way Samba's tool (popt) parses them, so
//! that scripts written for it behave the same (legacy-protocol.md 4.1).
//!
//! Observed rules: options may come before or after the command
//! (`ctdb ping -X -n 2`); short options cluster (`-Xn1`) and take their
//! value from the rest of the token (`-n1`, `-n=1`) or from the next token
//! even when it starts with `-` (`-t -5`); long options are never
//! abbreviated (`--nod=1` is unknown); `--` ends the options; numbers are
//! `strtol(…, 0)` of the whole value. Errors print
//! `Invalid option <token>: <reason>` and exit 1.

use crate::numparse::{popt_int, NumError};

/// Parsed global options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-d LEVEL`: our own log level (accepted and otherwise unused, as the
    /// tool logs nothing at the default level).
    pub debug: Option<String>,
    /// `-t SECS`: control timeout, default 10. Negative means no timeout
    /// (what Debian's tool does with `-t -5`).
    pub timelimit: i32,
    /// `-n PNN`; `None` when absent or `-1` (Samba's "no node" value).
    pub node: Option<u32>,
    /// `-X` or `-Y`: machine-readable output.
    pub machine: bool,
    /// `-x SEP`: the separator, a whole string (Samba's tool uses all of it).
    pub separator: String,
    /// `-v`.
    pub verbose: bool,
    /// `-T SECS` when given (else `CTDB_TIMEOUT`, else 120); 0 = no limit.
    pub maxruntime: Option<i32>,
    /// `--json`: our addition.
    pub json: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            debug: None,
            timelimit: 10,
            node: None,
            machine: false,
            separator: "|".to_string(),
            verbose: false,
            maxruntime: None,
            json: false,
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Run a command (`None` when no command was given: full usage, exit 1).
    Run {
        /// Global options.
        options: Options,
        /// Command name.
        command: Option<String>,
        /// Command arguments.
        args: Vec<String>,
    },
    /// `-?` / `--help`.
    Help,
    /// `--usage`.
    Usage,
}

/// An option the parser rejected; printed as `Invalid option TOKEN: REASON`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionError {
    /// The token shown (the option, or the value token it came from).
    pub token: String,
    /// popt's reason text.
    pub reason: &'static str,
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invalid option {}: {}", self.token, self.reason)
    }
}

/// Options taking a value.
#[derive(Clone, Copy)]
enum ValueOpt {
    Debug,
    Timelimit,
    Node,
    Separator,
    Maxruntime,
}

/// Long option names (exact match only).
fn long_option(name: &str) -> Option<Result<ValueOpt, char>> {
    Some(match name {
        "debug" => Ok(ValueOpt::Debug),
        "timelimit" => Ok(ValueOpt::Timelimit),
        "node" => Ok(ValueOpt::Node),
        "separator" => Ok(ValueOpt::Separator),
        "maxruntime" => Ok(ValueOpt::Maxruntime),
        "verbose" => Err('v'),
        "help" => Err('?'),
        "usage" => Err('u'),
        "json" => Err('j'),
        _ => return None,
    })
}

/// Short option letters.
fn short_option(c: char) -> Option<Result<ValueOpt, char>> {
    Some(match c {
        'd' => Ok(ValueOpt::Debug),
        't' => Ok(ValueOpt::Timelimit),
        'n' => Ok(ValueOpt::Node),
        'x' => Ok(ValueOpt::Separator),
        'T' => Ok(ValueOpt::Maxruntime),
        'Y' | 'X' | 'v' | '?' => Err(c),
        _ => return None,
    })
}

/// Parses `argv` without the program name.
pub fn parse(argv: &[String]) -> Result<Invocation, OptionError> {
    let mut options = Options::default();
    let mut positional: Vec<String> = Vec::new();
    let mut help = false;
    let mut usage = false;
    let mut i = 0;
    while i < argv.len() {
        let tok = &argv[i];
        i += 1;
        if tok == "--" {
            positional.extend(argv[i..].iter().cloned());
            break;
        }
        if let Some(long) = tok.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let unknown = || OptionError { token: tok.clone(), reason: "unknown option" };
            match long_option(name).ok_or_else(unknown)? {
                Ok(opt) => {
                    let (value, shown) = match inline {
                        Some(v) => (v, tok.clone()),
                        None => {
                            let Some(v) = argv.get(i) else {
                                return Err(OptionError { token: tok.clone(), reason: "missing argument" });
                            };
                            i += 1;
                            (v.clone(), v.clone())
                        }
                    };
                    apply_value(&mut options, opt, &value, &shown)?;
                }
                Err(flag) => {
                    if inline.is_some() {
                        return Err(unknown());
                    }
                    apply_flag(&mut options, flag, &mut help, &mut usage);
                }
            }
            continue;
        }
        if tok.len() > 1 && tok.starts_with('-') {
            let letters: Vec<char> = tok[1..].chars().collect();
            let mut j = 0;
            while j < letters.len() {
                let c = letters[j];
                j += 1;
                let opt =
                    short_option(c).ok_or_else(|| OptionError { token: tok.clone(), reason: "unknown option" })?;
                match opt {
                    Err(flag) => apply_flag(&mut options, flag, &mut help, &mut usage),
                    Ok(opt) => {
                        let rest: String = letters[j..].iter().collect();
                        let (value, shown) = if !rest.is_empty() {
                            let v = rest.strip_prefix('=').unwrap_or(&rest).to_string();
                            (v, tok.clone())
                        } else {
                            let Some(v) = argv.get(i) else {
                                return Err(OptionError { token: format!("-{c}"), reason: "missing argument" });
                            };
                            i += 1;
                            (v.clone(), v.clone())
                        };
                        apply_value(&mut options, opt, &value, &shown)?;
                        break;
                    }
                }
            }
            continue;
        }
        positional.push(tok.clone());
    }
    if help {
        return Ok(Invocation::Help);
    }
    if usage {
        return Ok(Invocation::Usage);
    }
    let mut positional = positional.into_iter();
    let command = positional.next();
    Ok(Invocation::Run { options, command, args: positional.collect() })
}

fn apply_flag(options: &mut Options, flag: char, help: &mut bool, usage: &mut bool) {
    match flag {
        'X' | 'Y' => options.machine = true,
        'v' => options.verbose = true,
        '?' => *help = true,
        'u' => *usage = true,
        'j' => options.json = true,
        _ => {}
    }
}

fn apply_value(options: &mut Options, opt: ValueOpt, value: &str, shown: &str) -> Result<(), OptionError> {
    let int = |v: &str| {
        popt_int(v).map_err(|e| OptionError {
            token: shown.to_string(),
            reason: match e {
                NumError::Invalid => "invalid numeric value",
                NumError::Range => "number too large or too small",
            },
        })
    };
    match opt {
        ValueOpt::Debug => options.debug = Some(value.to_string()),
        ValueOpt::Separator => options.separator = value.to_string(),
        ValueOpt::Timelimit => options.timelimit = int(value)?,
        ValueOpt::Maxruntime => options.maxruntime = Some(int(value)?),
        ValueOpt::Node => {
            // -1 is the tool's "no node given" value (CTDB_UNKNOWN_PNN), so
            // `-n -1` talks to the local node, as observed.
            let n = int(value)?;
            options.node = if n == -1 { None } else { Some(n as u32) };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn run(s: &str) -> (Options, Option<String>, Vec<String>) {
        match parse(&argv(s)) {
            Ok(Invocation::Run { options, command, args }) => (options, command, args),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match parse(&argv(s)) {
            Err(e) => e.to_string(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn options_may_follow_the_command() {
        let (o, c, a) = run("ping -X -n 2");
        assert!(o.machine);
        assert_eq!(o.node, Some(2));
        assert_eq!(c.as_deref(), Some("ping"));
        assert!(a.is_empty());
        let (o, c, a) = run("nodestatus 0,1 -t 3");
        assert_eq!(o.timelimit, 3);
        assert_eq!(c.as_deref(), Some("nodestatus"));
        assert_eq!(a, vec!["0,1"]);
    }

    #[test]
    fn short_options_cluster_and_take_inline_values() {
        let (o, _, _) = run("-Xn1 ping");
        assert!(o.machine);
        assert_eq!(o.node, Some(1));
        assert_eq!(run("-n=1 ping").0.node, Some(1));
        assert_eq!(run("-n1 ping").0.node, Some(1));
        assert_eq!(run("--node=1 ping").0.node, Some(1));
        assert_eq!(run("--node 1 ping").0.node, Some(1));
        assert_eq!(run("-n 0x1 ping").0.node, Some(1));
        assert_eq!(run("-n 010 ping").0.node, Some(8));
        assert_eq!(run("-n -1 ping").0.node, None);
        assert_eq!(run("-t -5 ping").0.timelimit, -5);
        assert_eq!(run("-x ; -Y listnodes").0.separator, ";");
        assert_eq!(run("--separator=: -X listnodes").0.separator, ":");
        assert_eq!(run("-x: -X listnodes").0.separator, ":");
        assert!(run("--json status").0.json);
    }

    #[test]
    fn double_dash_ends_options() {
        let (o, c, a) = run("ping -- -X");
        assert!(!o.machine);
        assert_eq!(c.as_deref(), Some("ping"));
        assert_eq!(a, vec!["-X"]);
    }

    #[test]
    fn errors_name_the_token_like_popt() {
        assert_eq!(err("-n all ping"), "Invalid option all: invalid numeric value");
        assert_eq!(err("-n 1x ping"), "Invalid option 1x: invalid numeric value");
        assert_eq!(err("-nX ping"), "Invalid option -nX: invalid numeric value");
        assert_eq!(err("-t 1.5 ping"), "Invalid option 1.5: invalid numeric value");
        assert_eq!(err("-n 99999999999 ping"), "Invalid option 99999999999: number too large or too small");
        assert_eq!(err("-Z ping"), "Invalid option -Z: unknown option");
        assert_eq!(err("--nod=1 ping"), "Invalid option --nod=1: unknown option");
        assert_eq!(err("--no ping"), "Invalid option --no: unknown option");
        assert_eq!(err("setvar x -1"), "Invalid option -1: unknown option");
        assert_eq!(err("-n"), "Invalid option -n: missing argument");
        assert_eq!(err("ping -n"), "Invalid option -n: missing argument");
    }

    #[test]
    fn help_and_usage() {
        assert_eq!(parse(&argv("--help")), Ok(Invocation::Help));
        assert_eq!(parse(&argv("-? ping")), Ok(Invocation::Help));
        assert_eq!(parse(&argv("--usage")), Ok(Invocation::Usage));
        let (_, c, _) = run("");
        assert_eq!(c, None);
    }
}
