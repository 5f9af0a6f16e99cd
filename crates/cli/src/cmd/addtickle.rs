//! `ctdb addtickle SRC:PORT DST:PORT` and `ctdb deltickle …`: add or
//! remove a tracked client connection on the asked node (the holder of the
//! public address resets tracked connections after a move).
//!
//! ```text
//! addtickle: TCP_ADD_DELAYED_UPDATE {src, dst} -> node
//! deltickle: TCP_REMOVE {src, dst} -> node
//! ```
//!
//! Without arguments the connections come from standard input, one
//! `SRC:PORT DST:PORT` a line (blank and `#` lines skipped, a last line
//! without newline ignored, as Samba's line reader does); one control each,
//! failures counted and reported together. A bad line ends the run
//! silently with EINVAL (22) before anything is sent.

use std::io::Read;

use serde::Serialize;

use ctdb_legacy_proto::{Connection, Opcode, Wire};

use super::{usage, Ctx};
use crate::error::CliError;
use crate::inet::{ip_port_text, parse_ip_port};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// EINVAL: a connection line Samba's parser refuses.
const EINVAL: i32 = 22;
/// Samba copies a line into a 128-byte buffer; longer ones are refused.
const LINE_MAX: usize = 128;

/// Add or remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// `addtickle`.
    Add,
    /// `deltickle`.
    Del,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Add => "addtickle",
            Op::Del => "deltickle",
        }
    }

    fn opcode(self) -> Opcode {
        match self {
            Op::Add => Opcode::TCP_ADD_DELAYED_UPDATE,
            Op::Del => Opcode::TCP_REMOVE,
        }
    }
}

/// `ctdb addtickle` / `deltickle` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TickleUpdate {
    /// What was done.
    pub op: Op,
    /// The asked node.
    pub node: u32,
    /// The connections sent, `SRC:PORT DST:PORT`.
    pub connections: Vec<String>,
}

impl Render for TickleUpdate {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// One connection from two `ADDR:PORT` texts (no family check, as for the
/// command's arguments).
fn connection(src: &str, dst: &str) -> Result<Connection, CliError> {
    let parse = |t: &str| parse_ip_port(t).ok_or_else(|| CliError::line(format!("Invalid IP address {t}")));
    Ok(Connection { src: parse(src)?.into(), dst: parse(dst)?.into() })
}

/// Connection lines as Samba's `ctdb_connection_list_read` reads them;
/// `Err` is the errno the tool exits with.
pub fn parse_connections(input: &[u8]) -> Result<Vec<Connection>, i32> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    // Only complete lines are read.
    lines.pop();
    for line in lines {
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        if line.len() >= LINE_MAX {
            return Err(EINVAL);
        }
        let text = String::from_utf8_lossy(line);
        let mut words = text.split([' ', '\t']).filter(|w| !w.is_empty());
        let (Some(first), Some(second)) = (words.next(), words.next()) else {
            return Err(EINVAL);
        };
        let (Some(src), Some(dst)) = (parse_ip_port(first), parse_ip_port(second)) else {
            return Err(EINVAL);
        };
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(EINVAL);
        }
        out.push(Connection { src: src.into(), dst: dst.into() });
    }
    Ok(out)
}

/// Runs the command.
pub async fn run<L: Link>(op: Op, session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let node = session.target();
    let conns = match args {
        [src, dst] => {
            let conn = connection(src, dst)?;
            let failed = match op {
                Op::Add => "Failed to register connection",
                Op::Del => "Failed to unregister connection",
            };
            session.control_ok_to(node, op.opcode(), conn.to_bytes()).await.map_err(|e| e.then_line(failed))?;
            vec![conn]
        }
        [] => {
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input).map_err(|e| CliError::Silent(e.raw_os_error().unwrap_or(5)))?;
            let conns = parse_connections(&input).map_err(CliError::Silent)?;
            let mut failed = 0;
            for conn in &conns {
                let ok = matches!(session.control_to(node, op.opcode(), conn.to_bytes()).await, Ok(r) if r.status == 0);
                if !ok {
                    failed += 1;
                }
            }
            if failed > 0 {
                let verb = if op == Op::Add { "add" } else { "remove" };
                return Err(CliError::line(format!("Failed to {verb} {failed} tickles")));
            }
            conns
        }
        _ => return Err(usage(op.name())),
    };
    let connections = conns.iter().map(|c| format!("{} {}", ip_port_text(&c.src), ip_port_text(&c.dst))).collect();
    Ok(cx.reply(&TickleUpdate { op, node, connections }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_lines_like_samba() {
        let text =
            b"# comment\n\n10.1.1.1:1234 10.254.2.11:445\n[fd00::5]:40000\t[fd00::1]:445 extra\n10.9.9.9:1 10.9.9.9:2";
        let conns = parse_connections(text).unwrap_or_else(|e| panic!("errno {e}"));
        let shown: Vec<String> =
            conns.iter().map(|c| format!("{} {}", ip_port_text(&c.src), ip_port_text(&c.dst))).collect();
        // The last line has no newline: not read.
        assert_eq!(shown, ["10.1.1.1:1234 10.254.2.11:445", "[fd00::5]:40000 [fd00::1]:445"]);
        for bad in [&b"10.1.1.1:1\n"[..], b"  \n", b"10.1.1.1 10.1.1.2:2\n", b"10.1.1.1:1 [fd00::1]:2\n"] {
            assert_eq!(parse_connections(bad), Err(EINVAL), "{}", String::from_utf8_lossy(bad));
        }
        let long = format!("10.1.1.1:1 10.1.1.2:2{}\n", " ".repeat(120));
        assert_eq!(parse_connections(long.as_bytes()), Err(EINVAL));
        assert_eq!(parse_connections(b""), Ok(Vec::new()));
    }
}
