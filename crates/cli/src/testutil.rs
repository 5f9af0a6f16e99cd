//! Test helpers: replies recorded from Debian's ctdbd (`*.replies` files in
//! `tests/expected/`, see its README) and a [`Link`] that plays them back.

use std::collections::VecDeque;
use std::time::Duration;

use ctdb_legacy_proto::{srvid, Opcode, ReplyCall, ReplyControl, ReqCall};

use crate::session::{Link, LinkError};

/// Decodes lowercase hex; `-` is empty.
pub fn hex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

/// One recorded packet from the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// `true` for a control reply, `false` for a message.
    pub control: bool,
    /// Control opcode (0 for messages).
    pub opcode: u32,
    /// Destination node of the request.
    pub dest: u32,
    /// Request payload.
    pub request: Vec<u8>,
    /// Reply status.
    pub status: i32,
    /// Reply data (or message data).
    pub data: Vec<u8>,
    /// Reply error text.
    pub errmsg: Vec<u8>,
    /// Message srvid.
    pub srvid: u64,
}

fn parse_u64(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or_default(),
        None => s.parse().unwrap_or_default(),
    }
}

/// Reads `tests/expected/<name>.replies`.
pub fn replies(name: &str) -> Vec<Recorded> {
    let path = format!("{}/tests/expected/{name}.replies", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["control", op, dest, req, status, data, err] => Some(Recorded {
                    control: true,
                    opcode: op.parse().unwrap_or_default(),
                    dest: parse_u64(dest) as u32,
                    request: hex(req),
                    status: status.parse().unwrap_or_default(),
                    data: hex(data),
                    errmsg: hex(err),
                    srvid: 0,
                }),
                ["message", srvid, data] => Some(Recorded {
                    control: false,
                    opcode: 0,
                    dest: 0,
                    request: Vec::new(),
                    status: 0,
                    data: hex(data),
                    errmsg: Vec::new(),
                    srvid: parse_u64(srvid),
                }),
                _ => None,
            }
        })
        .collect()
}

/// A message Debian's tool sent during the recording (`sent DEST SRVID
/// DATA` lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// Destination node.
    pub dest: u32,
    /// Target port.
    pub srvid: u64,
    /// Payload.
    pub data: Vec<u8>,
}

/// Reads the `sent` lines of `tests/expected/<name>.replies`.
pub fn sent_messages(name: &str) -> Vec<SentMessage> {
    let path = format!("{}/tests/expected/{name}.replies", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["sent", dest, port, data] => {
                Some(SentMessage { dest: parse_u64(dest) as u32, srvid: parse_u64(port), data: hex(data) })
            }
            _ => None,
        })
        .collect()
}

/// A request the code under test sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Control opcode (0 for a message).
    pub opcode: u32,
    /// Destination.
    pub dest: u32,
    /// The srvid in the header (REGISTER_SRVID) or the message's port.
    pub srvid: u64,
    /// Payload.
    pub data: Vec<u8>,
    /// Sent with NOREPLY.
    pub noreply: bool,
    /// A message rather than a control.
    pub message: bool,
}

/// Unanswered requests and empty waits after which a replay reports the
/// daemon gone, so that a command that would wait forever (a takeover run
/// nobody answers, a nodemap poll that keeps failing) ends.
const MISSES: u32 = 50;

/// Plays recorded replies back: a control gets the first unused recorded
/// reply with the same opcode and destination (none: it times out);
/// messages come in recorded order, then the wait ends at once.
pub struct Replay {
    controls: Vec<Option<Recorded>>,
    messages: VecDeque<(u64, Vec<u8>)>,
    /// Every request sent, in order.
    pub sent: Vec<Sent>,
    /// The pid of the recorded tool, from its reply ports.
    pid: Option<u32>,
    misses: u32,
    /// Time the command asked to sleep.
    pub slept: Duration,
    /// REQ_CALLs sent (each answered with an empty REPLY_CALL, status 0).
    pub calls: Vec<ReqCall>,
}

impl Replay {
    /// Replays `tests/expected/<name>.replies`.
    pub fn new(name: &str) -> Replay {
        Replay::from_records(replies(name))
    }

    /// Replays the given records.
    pub fn from_records(records: Vec<Recorded>) -> Replay {
        let mut controls = Vec::new();
        let mut messages = VecDeque::new();
        let mut pid = None;
        for r in records {
            if r.control {
                controls.push(Some(r));
            } else {
                if r.srvid >> 48 == srvid::TOOL >> 48 {
                    pid = Some(((r.srvid >> 16) & 0xFFFF) as u32);
                }
                messages.push_back((r.srvid, r.data));
            }
        }
        Replay { controls, messages, sent: Vec::new(), pid, misses: 0, slept: Duration::ZERO, calls: Vec::new() }
    }

    /// Messages sent, in order.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.sent
            .iter()
            .filter(|s| s.message)
            .map(|s| SentMessage { dest: s.dest, srvid: s.srvid, data: s.data.clone() })
            .collect()
    }

    /// Adds a message at the end of the recorded ones.
    pub fn push_message(mut self, port: u64, data: Vec<u8>) -> Replay {
        self.messages.push_back((port, data));
        self
    }

    /// Drops recorded messages to ports in the tool's range (the replies
    /// to its requests).
    pub fn drop_tool_replies(mut self) -> Replay {
        self.messages.retain(|(port, _)| port >> 48 != srvid::TOOL >> 48);
        self
    }

    /// Overrides the reply status of every recorded `opcode` (fake failures).
    pub fn fail(mut self, opcode: Opcode, status: i32) -> Replay {
        for r in self.controls.iter_mut().flatten() {
            if r.opcode == opcode.0 {
                r.status = status;
                r.data.clear();
            }
        }
        self
    }

    /// Drops every recorded reply to `opcode`, so it times out.
    pub fn drop_replies(mut self, opcode: Opcode) -> Replay {
        for slot in self.controls.iter_mut() {
            if slot.as_ref().is_some_and(|r| r.opcode == opcode.0) {
                *slot = None;
            }
        }
        self
    }

    /// Overrides the reply status of the `n`-th (from 0) recorded `opcode`
    /// only (the tool's REGISTER_SRVID after the preamble's).
    pub fn fail_nth(mut self, opcode: Opcode, n: usize, status: i32) -> Replay {
        if let Some(r) = self.controls.iter_mut().flatten().filter(|r| r.opcode == opcode.0).nth(n) {
            r.status = status;
            r.data.clear();
        }
        self
    }

    /// One more request without an answer; the daemon counts as gone
    /// after [`MISSES`].
    fn miss(&mut self) -> Result<(), LinkError> {
        self.misses += 1;
        if self.misses > MISSES {
            Err(LinkError::Closed)
        } else {
            Ok(())
        }
    }

    /// Requests still unanswered in the recording (should be none).
    pub fn unused(&self) -> Vec<u32> {
        self.controls.iter().flatten().map(|r| r.opcode).collect()
    }
}

impl Link for Replay {
    async fn control(
        &mut self,
        dest: u32,
        opcode: Opcode,
        srvid: u64,
        _flags: u32,
        data: Vec<u8>,
        _timeout: Option<Duration>,
    ) -> Result<ReplyControl, LinkError> {
        self.sent.push(Sent { opcode: opcode.0, dest, srvid, data, noreply: false, message: false });
        let slot =
            self.controls.iter_mut().find(|s| s.as_ref().is_some_and(|r| r.opcode == opcode.0 && r.dest == dest));
        match slot.and_then(Option::take) {
            Some(r) => Ok(ReplyControl {
                status: r.status,
                data: r.data,
                errmsg: (!r.errmsg.is_empty()).then(|| String::from_utf8_lossy(&r.errmsg).into_owned()),
            }),
            None => {
                self.miss()?;
                Err(LinkError::Timeout)
            }
        }
    }

    async fn control_noreply(&mut self, dest: u32, opcode: Opcode, srvid: u64, data: Vec<u8>) -> Result<(), LinkError> {
        self.sent.push(Sent { opcode: opcode.0, dest, srvid, data, noreply: true, message: false });
        Ok(())
    }

    async fn call(&mut self, request: ReqCall) -> Result<ReplyCall, LinkError> {
        self.calls.push(request);
        Ok(ReplyCall::default())
    }

    async fn next_message(&mut self, _wait: Duration) -> Result<Option<(u64, Vec<u8>)>, LinkError> {
        match self.messages.pop_front() {
            Some(m) => Ok(Some(m)),
            None => self.miss().map(|()| None),
        }
    }

    async fn send_message(&mut self, dest: u32, srvid: u64, data: Vec<u8>) -> Result<(), LinkError> {
        self.sent.push(Sent { opcode: 0, dest, srvid, data, noreply: true, message: true });
        Ok(())
    }

    async fn sleep(&mut self, d: Duration) {
        self.slept += d;
    }

    fn tool_pid(&self) -> u32 {
        self.pid.unwrap_or_else(std::process::id)
    }

    async fn closed(&mut self) -> Result<(), LinkError> {
        Ok(())
    }
}
