//! Test helpers: replies recorded from Debian's ctdbd (`*.replies` files in
//! `tests/expected/`, see its README) and a [`Link`] that plays them back.

use std::collections::VecDeque;
use std::time::Duration;

use ctdb_legacy_proto::{Opcode, ReplyControl};

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

/// A request the code under test sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Control opcode.
    pub opcode: u32,
    /// Destination.
    pub dest: u32,
    /// Payload.
    pub data: Vec<u8>,
    /// Sent with NOREPLY.
    pub noreply: bool,
}

/// Plays recorded replies back: a control gets the first unused recorded
/// reply with the same opcode and destination (none: it times out);
/// messages come in recorded order, then the wait ends at once.
pub struct Replay {
    controls: Vec<Option<Recorded>>,
    messages: VecDeque<(u64, Vec<u8>)>,
    /// Every request sent, in order.
    pub sent: Vec<Sent>,
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
        for r in records {
            if r.control {
                controls.push(Some(r));
            } else {
                messages.push_back((r.srvid, r.data));
            }
        }
        Replay { controls, messages, sent: Vec::new() }
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
        _srvid: u64,
        _flags: u32,
        data: Vec<u8>,
        _timeout: Option<Duration>,
    ) -> Result<ReplyControl, LinkError> {
        self.sent.push(Sent { opcode: opcode.0, dest, data, noreply: false });
        let slot =
            self.controls.iter_mut().find(|s| s.as_ref().is_some_and(|r| r.opcode == opcode.0 && r.dest == dest));
        match slot.and_then(Option::take) {
            Some(r) => Ok(ReplyControl {
                status: r.status,
                data: r.data,
                errmsg: (!r.errmsg.is_empty()).then(|| String::from_utf8_lossy(&r.errmsg).into_owned()),
            }),
            None => Err(LinkError::Timeout),
        }
    }

    async fn control_noreply(
        &mut self,
        dest: u32,
        opcode: Opcode,
        _srvid: u64,
        data: Vec<u8>,
    ) -> Result<(), LinkError> {
        self.sent.push(Sent { opcode: opcode.0, dest, data, noreply: true });
        Ok(())
    }

    async fn next_message(&mut self, _wait: Duration) -> Result<Option<(u64, Vec<u8>)>, LinkError> {
        Ok(self.messages.pop_front())
    }

    async fn closed(&mut self) -> Result<(), LinkError> {
        Ok(())
    }
}
