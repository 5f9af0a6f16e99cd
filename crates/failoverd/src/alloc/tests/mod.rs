//! Table-driven allocation tests.
//!
//! Each case is a file under `testdata/`, in the shape of Samba's takeover
//! unit tests (`ctdb/tests/UNIT/takeover/*.sh`), whose inputs and required
//! results the files under `testdata/takeover*/` carry over:
//!
//! ```text
//! # comment
//! algorithm lcp2|nondet|det
//! nodes 0x2,0x2,0x0            node flags as in CTDB's node map, one per node
//! runstate 4,5,5               optional; per node, 5 = RUNNING (the default)
//! no_ip_takeover               optional tunables
//! no_ip_failback
//! force_rebalance 1,0,2        optional takeover-helper node list
//! home_node 192.168.21.254 2   optional deterministic home node
//!
//! ips                          "IP HOLDER [ALLOWED,...]": every allowed node
//! 192.168.20.249 0 0,1         (all by default) has the address in its list
//!                              and believes HOLDER (-1: none) holds it
//!
//! result                       the allocation, in CTDB's order
//! 192.168.20.249 1
//! ```
//!
//! Blocks end at a blank line. `ips node N` blocks give each node's own list
//! instead (Samba's "multi" mode); `ips previous` takes the last result.
//! Every `result` block runs the allocation with the settings so far, so a
//! file can hold a sequence of transitions.
//!
//! Node states become available lists as in Samba's test driver: a node
//! offers its addresses as available unless it is INACTIVE or DISABLED or
//! not RUNNING.
//!
//! `CTDB_REWRITE_TESTDATA=1 cargo test -p ctdb-failoverd` rewrites every
//! `result` block with what the code now produces (for new cases; review
//! the diff: results ported from Samba are facts).

mod ipv6;
mod properties;
mod samba_takeover;
mod samba_takeover_helper;

use std::net::IpAddr;

use ctdb_legacy_proto::{flags, runstate};

use super::{allocate, Algorithm, AllocInput, AllocOptions, KnownAddress, NodePublicIps, Pnn};

/// Runs the case file `testdata/<name>.txt` and compares every result.
macro_rules! case {
    ($name:literal) => {
        $crate::alloc::tests::check(
            concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/", $name, ".txt"),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/", $name, ".txt")),
        )
    };
}
use case;

pub(super) fn check(path: &str, text: &str) {
    let steps = run_script(text);
    if std::env::var_os("CTDB_REWRITE_TESTDATA").is_some() {
        rewrite(path, text, &steps);
        return;
    }
    for step in &steps {
        if step.actual != step.expected {
            panic!(
                "{path}:{}: {}\n  {:<40} actual\n{}",
                step.result_line + 1,
                step.title,
                "expected",
                side_by_side(&step.expected, &step.actual),
            );
        }
    }
}

/// One `result` block: where it is, what it says and what we computed.
struct Step {
    title: String,
    result_line: usize,
    result_len: usize,
    expected: Vec<String>,
    actual: Vec<String>,
}

/// The settings accumulated while reading a case file.
#[derive(Default)]
struct Settings {
    options: AllocOptions,
    node_flags: Vec<u32>,
    runstates: Vec<u32>,
    ips: Vec<Vec<KnownAddress>>,
}

fn run_script(text: &str) -> Vec<Step> {
    let lines: Vec<&str> = text.lines().collect();
    let mut settings = Settings::default();
    let mut steps: Vec<Step> = Vec::new();
    let mut title = lines.iter().find(|l| l.starts_with("# ") && !l.starts_with("# Samba")).copied().unwrap_or("");
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if let Some(step) = line.strip_prefix("# step: ") {
            title = step;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let block_end = lines[i..].iter().position(|l| l.trim().is_empty()).map_or(lines.len(), |n| i + n);
        let block: Vec<&str> = lines[i..block_end].iter().map(|l| l.trim()).filter(|l| !l.starts_with('#')).collect();
        match word {
            "algorithm" => settings.options.algorithm = parse_algorithm(rest),
            "nodes" => {
                settings.node_flags = rest.split(',').map(parse_u32).collect();
                settings.runstates.resize(settings.node_flags.len(), runstate::RUNNING);
                settings.ips.resize(settings.node_flags.len(), Vec::new());
            }
            "runstate" => settings.runstates = rest.split(',').map(parse_u32).collect(),
            "no_ip_takeover" => settings.options.no_ip_takeover = true,
            "no_ip_failback" => settings.options.no_ip_failback = true,
            "force_rebalance" => settings.options.force_rebalance_nodes = rest.split(',').map(parse_u32).collect(),
            "home_node" => {
                let (addr, pnn) = rest.split_once(' ').expect("home_node ADDR PNN");
                settings.options.home_nodes.insert(parse_addr(addr), parse_u32(pnn));
            }
            "ips" => {
                if rest == "previous" {
                    let previous = &steps.last().expect("a result before `ips previous`").actual;
                    set_ips_everywhere(&mut settings, previous.iter().map(String::as_str));
                } else if let Some(node) = rest.strip_prefix("node ") {
                    settings.ips[parse_u32(node) as usize] =
                        block.iter().map(|l| parse_known(l).0).collect::<Vec<KnownAddress>>();
                } else {
                    set_ips_everywhere(&mut settings, block.iter().copied());
                }
                i = block_end;
            }
            "result" => {
                steps.push(Step {
                    title: title.to_string(),
                    result_line: i - 1,
                    result_len: block_end - i,
                    expected: block.iter().map(|l| normalise_result_line(l)).collect(),
                    actual: run(&settings),
                });
                i = block_end;
            }
            other => panic!("unknown directive {other:?}"),
        }
    }
    steps
}

/// Gives every listed node (all by default) each address of the block.
fn set_ips_everywhere<'a>(settings: &mut Settings, block: impl Iterator<Item = &'a str>) {
    let num_nodes = settings.node_flags.len();
    settings.ips = vec![Vec::new(); num_nodes];
    for line in block {
        let (known, allowed) = parse_known(line);
        for pnn in allowed.unwrap_or_else(|| (0..num_nodes as Pnn).collect()) {
            settings.ips[pnn as usize].push(known);
        }
    }
}

/// Samba's test driver: known lists as given; a node offers them all as
/// available unless it is INACTIVE, DISABLED or not RUNNING.
fn run(settings: &Settings) -> Vec<String> {
    let nodes: Vec<NodePublicIps> = (0..settings.node_flags.len())
        .map(|n| {
            let known = settings.ips[n].clone();
            let up = settings.node_flags[n] & (flags::INACTIVE | flags::DISABLED) == 0
                && settings.runstates[n] == runstate::RUNNING;
            let available = if up { known.iter().map(|k| k.addr).collect() } else { Vec::new() };
            NodePublicIps { known, available }
        })
        .collect();
    let input = AllocInput::from_node_lists(&nodes, settings.options.clone());
    format_allocation(&input)
}

fn format_allocation(input: &AllocInput) -> Vec<String> {
    allocate(input).assignments.iter().map(|a| format!("{} {}", a.addr, a.holder.map_or(-1, i64::from))).collect()
}

/// "ADDR HOLDER" with the address as Rust prints it (C's `inet_ntop`
/// writes `::2.0.0.0` where Rust writes `::200:0`).
fn normalise_result_line(line: &str) -> String {
    let (addr, holder) = line.split_once(char::is_whitespace).expect("ADDR HOLDER");
    format!("{} {}", parse_addr(addr), holder.trim())
}

fn parse_known(line: &str) -> (KnownAddress, Option<Vec<Pnn>>) {
    let mut words = line.split_whitespace();
    let addr = parse_addr(words.next().expect("an address"));
    let holder: i64 = words.next().map_or(-1, |w| w.parse().expect("a holder"));
    let allowed = words.next().map(|w| w.split(',').map(parse_u32).collect());
    (KnownAddress { addr, holder: Pnn::try_from(holder).ok() }, allowed)
}

fn parse_algorithm(name: &str) -> Algorithm {
    match name {
        "lcp2" => Algorithm::Lcp2,
        "nondet" => Algorithm::NonDeterministic,
        "det" => Algorithm::Deterministic,
        other => panic!("unknown algorithm {other:?}"),
    }
}

fn parse_addr(text: &str) -> IpAddr {
    text.parse().unwrap_or_else(|_| panic!("bad address {text:?}"))
}

/// Decimal or `0x` hexadecimal, like the C driver's `strtol(.., 0)`.
fn parse_u32(text: &str) -> u32 {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("bad number {text:?}"))
}

fn side_by_side(expected: &[String], actual: &[String]) -> String {
    let rows = expected.len().max(actual.len());
    (0..rows)
        .map(|n| {
            let e = expected.get(n).map_or("", String::as_str);
            let a = actual.get(n).map_or("", String::as_str);
            let mark = if e == a { " " } else { "!" };
            format!("{mark} {e:<40} {a}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn rewrite(path: &str, text: &str, steps: &[Step]) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for step in steps.iter().rev() {
        let start = step.result_line + 1;
        lines.splice(start..start + step.result_len, step.actual.iter().cloned());
    }
    std::fs::write(path, lines.join("\n") + "\n").expect("rewrite the case file");
}
