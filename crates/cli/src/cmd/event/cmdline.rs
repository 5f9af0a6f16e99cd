//! The command line of Samba's event helper (`ctdb-event`), which Debian's
//! `ctdb event ARGS` runs with ARGS: its options, its command table and its
//! usage texts, byte for byte.
//!
//! Observed rules (Debian 4.17):
//!
//! | input | output on stdout | exit |
//! | --- | --- | --- |
//! | no arguments | the full usage, twice | 1 |
//! | an unknown option | stderr `Invalid option TOKEN: REASON`, the full usage twice | 1 |
//! | no command, or an unknown one | the full usage, twice | 1 |
//! | `-h` with a known command | the command's usage, then the full usage | 1 |
//! | a known command with the wrong number of arguments | the command's usage | 1 |
//!
//! Options may come anywhere (popt): `-h`/`--help`, and `-d LEVEL` /
//! `--debug=LEVEL` (also `-dLEVEL`, `-d=LEVEL`, `--debug LEVEL`); `--` ends
//! them. Debian's `ctdb` parses its own options first, so the helper only
//! sees options that come after `ctdb event --`.

use super::log::Level;

/// The helper's commands, in the order of its table (a command matches when
/// the arguments start with all words of its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `run <timeout> <component> <event> <args>`.
    Run,
    /// `status <component> <event>`.
    Status,
    /// `script list <component>`.
    ScriptList,
    /// `script enable <component> <script>`.
    ScriptEnable,
    /// `script disable <component> <script>`.
    ScriptDisable,
}

impl Command {
    /// Every command, in table order.
    pub const ALL: [Command; 5] =
        [Command::Run, Command::Status, Command::ScriptList, Command::ScriptEnable, Command::ScriptDisable];

    /// The words that select the command.
    pub fn name(self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::Status => "status",
            Command::ScriptList => "script list",
            Command::ScriptEnable => "script enable",
            Command::ScriptDisable => "script disable",
        }
    }

    /// Its arguments, as the usage shows them.
    fn args_help(self) -> &'static str {
        match self {
            Command::Run => "<timeout> <component> <event> <args>",
            Command::Status => "<component> <event>",
            Command::ScriptList => "<component>",
            Command::ScriptEnable | Command::ScriptDisable => "<component> <script>",
        }
    }

    /// Its one-line description.
    fn help(self) -> &'static str {
        match self {
            Command::Run => "Run an event",
            Command::Status => "Get status of an event",
            Command::ScriptList => "List event scripts",
            Command::ScriptEnable => "Enable an event script",
            Command::ScriptDisable => "Disable an event script",
        }
    }

    /// The command the arguments start with, if any.
    fn matching(args: &[String]) -> Option<Command> {
        Command::ALL.into_iter().find(|c| {
            let words: Vec<&str> = c.name().split(' ').collect();
            args.len() >= words.len() && words.iter().zip(args).all(|(w, a)| w == a)
        })
    }

    /// How many arguments the name takes up.
    fn words(self) -> usize {
        self.name().split(' ').count()
    }
}

/// A command line that names a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// What `-d` asked for (ERROR when absent or not a level).
    pub level: Level,
    /// The command.
    pub command: Command,
    /// Its arguments (after the command's words, options removed).
    pub args: Vec<String>,
}

/// A command line the helper refuses before running anything: what it
/// prints (standard output, standard error); it exits 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Usage text.
    pub stdout: String,
    /// The option error, if that was the reason.
    pub stderr: String,
}

/// The options, separated from the other arguments.
#[derive(Debug, Default)]
struct Options {
    help: bool,
    debug: Option<String>,
    positional: Vec<String>,
}

/// Parses the helper's arguments (without its program name).
pub fn parse(args: &[String]) -> Result<Parsed, Refused> {
    let twice = || format!("{}{}", full_usage(), full_usage());
    if args.is_empty() {
        return Err(Refused { stdout: twice(), stderr: String::new() });
    }
    let options = match parse_options(args) {
        Ok(o) => o,
        Err((token, reason)) => {
            return Err(Refused { stdout: twice(), stderr: format!("Invalid option {token}: {reason}\n") });
        }
    };
    let Some(command) = Command::matching(&options.positional) else {
        return Err(Refused { stdout: twice(), stderr: String::new() });
    };
    if options.help {
        return Err(Refused { stdout: format!("{}{}", command_usage(command), full_usage()), stderr: String::new() });
    }
    let level = options.debug.as_deref().and_then(Level::parse).unwrap_or(Level::ERROR);
    Ok(Parsed { level, command, args: options.positional[command.words()..].to_vec() })
}

/// popt over the helper's two options. An error is (token shown, reason).
fn parse_options(args: &[String]) -> Result<Options, (String, &'static str)> {
    let mut options = Options::default();
    let mut rest = args.iter();
    while let Some(tok) = rest.next() {
        if tok == "--" {
            options.positional.extend(rest.cloned());
            break;
        }
        if let Some(long) = tok.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match (name, inline) {
                ("help", None) => options.help = true,
                ("help", Some(_)) => return Err((tok.clone(), "option does not take an argument")),
                ("debug", Some(v)) => options.debug = Some(v.to_string()),
                ("debug", None) => match rest.next() {
                    Some(v) => options.debug = Some(v.clone()),
                    None => return Err((tok.clone(), "missing argument")),
                },
                _ => return Err((tok.clone(), "unknown option")),
            }
            continue;
        }
        let Some(letters) = tok.strip_prefix('-').filter(|l| !l.is_empty()) else {
            options.positional.push(tok.clone());
            continue;
        };
        for (at, c) in letters.char_indices() {
            match c {
                'h' => options.help = true,
                'd' => {
                    let inline = &letters[at + c.len_utf8()..];
                    if inline.is_empty() {
                        match rest.next() {
                            Some(v) => options.debug = Some(v.clone()),
                            None => return Err(("-d".to_string(), "missing argument")),
                        }
                    } else {
                        options.debug = Some(inline.strip_prefix('=').unwrap_or(inline).to_string());
                    }
                    break;
                }
                _ => return Err((tok.clone(), "unknown option")),
            }
        }
    }
    Ok(options)
}

/// Width of the argument column: the longest name plus arguments.
fn max_len() -> usize {
    Command::ALL.iter().map(|c| c.name().len() + c.args_help().len()).max().unwrap_or(0)
}

/// The helper's full usage (popt's help, then every command).
pub fn full_usage() -> String {
    let mut out = String::from(
        "Usage: ctdb-event [<options>] <command> [<args>]\n\
         \n\
         Help Options:\n  \
         -h, --help                                      Show this help message\n\
         \n\
         Options:\n  \
         -d, --debug=ERROR|WARNING|NOTICE|INFO|DEBUG     debug level\n\
         \n\
         Commands:\n",
    );
    let width = max_len();
    for c in Command::ALL {
        let pad = width - c.name().len();
        out.push_str(&format!("  {} {:<pad$}     {}\n", c.name(), c.args_help(), c.help()));
    }
    out
}

/// One command's usage: popt's brief usage, then the command's line.
pub fn command_usage(command: Command) -> String {
    format!(
        "Usage: ctdb-event [-h] [-h|--help]\n        \
         [-d|--debug=ERROR|WARNING|NOTICE|INFO|DEBUG] <command> [<args>]\n\
         \n  {} {}     {}\n",
        command.name(),
        command.args_help(),
        command.help()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn refused(s: &str) -> Refused {
        match parse(&argv(s)) {
            Err(r) => r,
            Ok(p) => panic!("{s:?} parsed as {p:?}"),
        }
    }

    fn parsed(s: &str) -> Parsed {
        match parse(&argv(s)) {
            Ok(p) => p,
            Err(r) => panic!("{s:?} refused: {r:?}"),
        }
    }

    #[test]
    fn usage_texts_are_byte_identical() {
        assert_eq!(full_usage(), include_str!("../../../tests/expected/event_usage_full.txt"));
        assert_eq!(command_usage(Command::Status), include_str!("../../../tests/expected/event_usage_status.txt"));
        assert_eq!(
            command_usage(Command::ScriptList),
            include_str!("../../../tests/expected/event_usage_script_list.txt")
        );
    }

    #[test]
    fn commands_match_on_their_words() {
        let p = parsed("script enable legacy 01.x");
        assert_eq!((p.command, p.args), (Command::ScriptEnable, argv("legacy 01.x")));
        let p = parsed("run 10 legacy monitor a b");
        assert_eq!((p.command, p.args, p.level), (Command::Run, argv("10 legacy monitor a b"), Level::ERROR));
        // Too few arguments is the command's business, not the parser's.
        assert_eq!(parsed("status").args, Vec::<String>::new());
        let twice = format!("{}{}", full_usage(), full_usage());
        for bad in ["", "script", "script bogus legacy", "bogus", "- status", "-d NOTICE"] {
            assert_eq!(refused(bad), Refused { stdout: twice.clone(), stderr: String::new() }, "{bad:?}");
        }
    }

    #[test]
    fn options_go_anywhere_and_follow_popt() {
        assert_eq!(parsed("status -d NOTICE legacy x").level, Level::NOTICE);
        assert_eq!(parsed("--debug=NOTICE status legacy x").level, Level::NOTICE);
        assert_eq!(parsed("--debug NOTICE status legacy x").level, Level::NOTICE);
        assert_eq!(parsed("-dNOTICE status legacy x").level, Level::NOTICE);
        assert_eq!(parsed("-d=NOTICE status legacy x").level, Level::NOTICE);
        assert_eq!(parsed("-d bogus status legacy x").level, Level::ERROR);
        assert_eq!(parsed("status legacy -- -d").args, argv("legacy -d"));
        let r = refused("-hd NOTICE status legacy x");
        assert_eq!(r.stdout, format!("{}{}", command_usage(Command::Status), full_usage()));
        for (line, err) in [
            ("-h1 status", "Invalid option -h1: unknown option\n"),
            ("status legacy x -d", "Invalid option -d: missing argument\n"),
            ("--bogus=1 status", "Invalid option --bogus=1: unknown option\n"),
            ("--de=NOTICE status", "Invalid option --de=NOTICE: unknown option\n"),
            ("--help=x status", "Invalid option --help=x: option does not take an argument\n"),
            ("run -1 legacy x", "Invalid option -1: unknown option\n"),
        ] {
            assert_eq!(refused(line).stderr, err, "{line:?}");
        }
    }
}
