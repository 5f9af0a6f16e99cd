//! The ctdb-eventd socket protocol: what ctdbd and `ctdb event …` send to the
//! event daemon on `$rundir/eventd.socket` (protocol notes 6.6 and 6.7).
//!
//! # Packets
//!
//! Every packet, in both directions, is a 12-byte header followed by a body,
//! host order (little-endian) with no padding anywhere:
//!
//! | field | type | notes |
//! | --- | --- | --- |
//! | length | u32 | the whole packet, header included |
//! | version | u32 | 0 on the wire: neither Samba side fills it and eventd does not look at it |
//! | reqid | u32 | chosen by the client, echoed in the reply |
//!
//! A request body is a u32 command followed by its arguments:
//!
//! | command | arguments |
//! | --- | --- |
//! | [`CMD_RUN`] | component · event · args (stringn each) · timeout in seconds (u32) · flags (u32, [`RUN_ALL`]) |
//! | [`CMD_STATUS`] | component · event |
//! | [`CMD_SCRIPT`] | component · script · action (u32: [`SCRIPT_DISABLE`], [`SCRIPT_ENABLE`]) |
//!
//! A reply body is the u32 command of the request and an i32 result (0 or a
//! positive errno). Only a STATUS reply with result 0 carries more: i32
//! summary · i32 number of scripts · per script {stringn name · timeval begin
//! · timeval end · i32 result · stringn output}.
//!
//! A `stringn` is a u32 length that counts the terminating NUL, then the
//! bytes. Unlike the control payloads of the main protocol, eventd tells a
//! NULL string (length 0) from an empty one (length 1, a lone NUL): the
//! `ctdb event run` tool sends NULL arguments when it is given none, ctdbd
//! sends `""` (so its monitor request is 52 bytes, the tool's 51), and a
//! script that printed nothing has a NULL output. Hence
//! [`EventRequestBody::Run::args`](EventRequestBody::Run) and
//! [`ScriptStatus::output`] are `Option`s. The strings that must be present
//! (component, event, script, script name) are refused when NULL. A
//! `timeval` is 16 bytes: i64 seconds, i64 microseconds.
//!
//! Decoding follows what Debian's ctdb-eventd 4.17 was seen to accept: the
//! version field is ignored, bytes after the body inside the declared length
//! are ignored, an unknown command or script action is an error (eventd then
//! drops the connection without replying). [`peek_event_packet_len`] frames
//! a byte stream.
//!
//! # Status display
//!
//! [`format_status`] prints a STATUS reply the way `ctdb event status`
//! (and `ctdb scriptstatus`) does, one line per script:
//!
//! | script result | label | line |
//! | --- | --- | --- |
//! | 0 | `OK` | name (20 wide) · label (10 wide) · run time `%.3f` s · start time as `ctime` |
//! | > 0 (exit code) | `ERROR` | as OK, then `  OUTPUT: <output>` |
//! | −110 (−ETIMEDOUT) | `TIMEDOUT` | name · label · start time, then `  OUTPUT: <output>` |
//! | −8 (−ENOEXEC) | `DISABLED` | name · label (padded, so the line ends in two spaces) |
//! | other < 0 | `CANNOT RUN` | name · label · `(<strerror>)`, then `  OUTPUT: <output>` |
//!
//! The output is printed as is, so one ending in a newline leaves a blank
//! line; a missing output prints as nothing after `OUTPUT: `. A failed
//! STATUS prints one message instead (see [`format_status`]), and
//! [`status_exit_code`] gives the tool's exit status.

use crate::error::ProtoError;
use crate::types::strings::StringN;
use crate::types::time::Timeval;
use crate::wire::{decode_vec, encode_all, len_all, len_u32, take, to_usize, until_nul, utf8, Wire};
use crate::MAX_PACKET_LEN;

/// Size of the header every eventd packet starts with.
pub const EVENTD_HEADER_LEN: usize = 12;
/// What goes into the header's version field (Samba leaves it 0).
pub const EVENTD_WIRE_VERSION: u32 = 0;

/// Command: run an event.
pub const CMD_RUN: u32 = 1;
/// Command: report the last run of an event.
pub const CMD_STATUS: u32 = 2;
/// Command: enable or disable a script.
pub const CMD_SCRIPT: u32 = 3;

/// RUN flag: keep running the remaining scripts after one fails.
pub const RUN_ALL: u32 = 0x1;

/// SCRIPT action: clear the script's execute bits.
pub const SCRIPT_DISABLE: u32 = 0;
/// SCRIPT action: set the script's execute bits.
pub const SCRIPT_ENABLE: u32 = 1;

/// Linux errno values that appear in eventd results (positive in a reply's
/// `result`, negated in a script's `result`).
pub mod errno {
    /// The component's event directory (or the named script) does not exist.
    pub const ENOENT: i32 = 2;
    /// A script failed (RUN result); a script is not executable (script
    /// result −ENOEXEC, shown as DISABLED).
    pub const ENOEXEC: i32 = 8;
    /// STATUS of an event that never ran; SCRIPT with an invalid name.
    pub const EINVAL: i32 = 22;
    /// Listed for SCRIPT with an unknown action; the 4.17 eventd never gets
    /// that far, since such a request does not decode (it closes the
    /// connection instead).
    pub const EPROTO: i32 = 71;
    /// The event ran out of time (RUN result; script result −ETIMEDOUT).
    pub const ETIMEDOUT: i32 = 110;
    /// The event was cancelled by another one.
    pub const ECANCELED: i32 = 125;
}

/// A script's result when it was skipped because it is not executable.
pub const SCRIPT_RESULT_DISABLED: i32 = -errno::ENOEXEC;
/// A script's result when it was killed at the event's deadline.
pub const SCRIPT_RESULT_TIMEDOUT: i32 = -errno::ETIMEDOUT;

/// Smallest encoding of one [`ScriptStatus`]: two NULL-length strings,
/// two timevals and the result.
const SCRIPT_STATUS_MIN_LEN: usize = 4 + 16 + 16 + 4 + 4;

/// The three commands of the protocol.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum EventCommand {
    /// [`CMD_RUN`].
    Run,
    /// [`CMD_STATUS`].
    Status,
    /// [`CMD_SCRIPT`].
    Script,
}

impl EventCommand {
    /// The number on the wire.
    pub fn code(self) -> u32 {
        match self {
            EventCommand::Run => CMD_RUN,
            EventCommand::Status => CMD_STATUS,
            EventCommand::Script => CMD_SCRIPT,
        }
    }

    /// The command with this number, if there is one.
    pub fn from_code(code: u32) -> Option<EventCommand> {
        match code {
            CMD_RUN => Some(EventCommand::Run),
            CMD_STATUS => Some(EventCommand::Status),
            CMD_SCRIPT => Some(EventCommand::Script),
            _ => None,
        }
    }
}

impl Wire for EventCommand {
    fn wire_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.code().encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        EventCommand::from_code(u32::decode(buf)?).ok_or(ProtoError::Malformed("unknown eventd command"))
    }
}

/// What a SCRIPT request does to the script.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum ScriptAction {
    /// [`SCRIPT_DISABLE`].
    Disable,
    /// [`SCRIPT_ENABLE`].
    Enable,
}

impl ScriptAction {
    /// The number on the wire.
    pub fn code(self) -> u32 {
        match self {
            ScriptAction::Disable => SCRIPT_DISABLE,
            ScriptAction::Enable => SCRIPT_ENABLE,
        }
    }

    /// The action with this number, if there is one.
    pub fn from_code(code: u32) -> Option<ScriptAction> {
        match code {
            SCRIPT_DISABLE => Some(ScriptAction::Disable),
            SCRIPT_ENABLE => Some(ScriptAction::Enable),
            _ => None,
        }
    }
}

impl Wire for ScriptAction {
    fn wire_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.code().encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        ScriptAction::from_code(u32::decode(buf)?).ok_or(ProtoError::Malformed("unknown eventd script action"))
    }
}

/// A request: the header's reqid and the command with its arguments.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventRequest {
    /// Request id, echoed by the reply.
    pub reqid: u32,
    /// Command and arguments.
    pub body: EventRequestBody,
}

/// The command of a request with its arguments.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EventRequestBody {
    /// Run `event` of `component` (e.g. `legacy` `monitor`).
    Run {
        /// Component, the directory name under `events/`.
        component: String,
        /// Event name, passed to each script as its first argument.
        event: String,
        /// Further script arguments, space separated; `None` is NULL on the
        /// wire (the tool without arguments), `Some("")` the empty string
        /// (what ctdbd sends for events without arguments).
        args: Option<String>,
        /// Deadline for the whole event, in seconds.
        timeout_secs: u32,
        /// [`RUN_ALL`] or 0.
        flags: u32,
    },
    /// Report the last run of `event` of `component`.
    Status {
        /// Component.
        component: String,
        /// Event name.
        event: String,
    },
    /// Enable or disable a script of `component`.
    Script {
        /// Component.
        component: String,
        /// Script name without `.script`.
        script: String,
        /// What to do.
        action: ScriptAction,
    },
}

impl EventRequestBody {
    /// The command this body belongs to.
    pub fn command(&self) -> EventCommand {
        match self {
            EventRequestBody::Run { .. } => EventCommand::Run,
            EventRequestBody::Status { .. } => EventCommand::Status,
            EventRequestBody::Script { .. } => EventCommand::Script,
        }
    }
}

impl Wire for EventRequestBody {
    fn wire_len(&self) -> usize {
        4 + match self {
            EventRequestBody::Run { component, event, args, .. } => {
                str_len(component) + str_len(event) + StringN::len_of_nullable(args.as_deref().map(str::as_bytes)) + 8
            }
            EventRequestBody::Status { component, event } => str_len(component) + str_len(event),
            EventRequestBody::Script { component, script, .. } => str_len(component) + str_len(script) + 4,
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.command().encode(out);
        match self {
            EventRequestBody::Run { component, event, args, timeout_secs, flags } => {
                put_str(component, out);
                put_str(event, out);
                StringN::encode_nullable(args.as_deref().map(str::as_bytes), out);
                timeout_secs.encode(out);
                flags.encode(out);
            }
            EventRequestBody::Status { component, event } => {
                put_str(component, out);
                put_str(event, out);
            }
            EventRequestBody::Script { component, script, action } => {
                put_str(component, out);
                put_str(script, out);
                action.encode(out);
            }
        }
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(match EventCommand::decode(buf)? {
            EventCommand::Run => EventRequestBody::Run {
                component: get_str(buf, "eventd component is NULL")?,
                event: get_str(buf, "eventd event is NULL")?,
                args: get_opt_str(buf)?,
                timeout_secs: u32::decode(buf)?,
                flags: u32::decode(buf)?,
            },
            EventCommand::Status => EventRequestBody::Status {
                component: get_str(buf, "eventd component is NULL")?,
                event: get_str(buf, "eventd event is NULL")?,
            },
            EventCommand::Script => EventRequestBody::Script {
                component: get_str(buf, "eventd component is NULL")?,
                script: get_str(buf, "eventd script name is NULL")?,
                action: ScriptAction::decode(buf)?,
            },
        })
    }
}

/// A whole request packet, header included.
impl Wire for EventRequest {
    fn wire_len(&self) -> usize {
        EVENTD_HEADER_LEN + self.body.wire_len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_header(self.wire_len(), self.reqid, out);
        self.body.encode(out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let (reqid, mut body) = take_packet(buf)?;
        Ok(EventRequest { reqid, body: EventRequestBody::decode(&mut body)? })
    }
}

/// A reply: the request's reqid and command, the result and, for a
/// successful STATUS, the scripts.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventReply {
    /// The request's reqid.
    pub reqid: u32,
    /// The request's command.
    pub cmd: EventCommand,
    /// 0 or a positive errno ([`errno`]).
    pub result: i32,
    /// The event's last run; on the wire exactly when `cmd` is STATUS and
    /// `result` is 0. Encoding ignores it otherwise, and writes an empty
    /// list when it is `None` there; decoding sets it exactly then.
    pub status: Option<EventStatus>,
}

impl EventReply {
    /// A reply without status data.
    pub fn new(reqid: u32, cmd: EventCommand, result: i32) -> EventReply {
        EventReply { reqid, cmd, result, status: None }
    }

    /// A successful STATUS reply.
    pub fn with_status(reqid: u32, status: EventStatus) -> EventReply {
        EventReply { reqid, cmd: EventCommand::Status, result: 0, status: Some(status) }
    }

    /// Whether the status data is on the wire.
    fn carries_status(&self) -> bool {
        self.cmd == EventCommand::Status && self.result == 0
    }
}

/// A whole reply packet, header included.
impl Wire for EventReply {
    fn wire_len(&self) -> usize {
        let status =
            if self.carries_status() { self.status.as_ref().map_or(EventStatus::EMPTY_LEN, Wire::wire_len) } else { 0 };
        EVENTD_HEADER_LEN + 8 + status
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_header(self.wire_len(), self.reqid, out);
        self.cmd.encode(out);
        self.result.encode(out);
        if self.carries_status() {
            match &self.status {
                Some(status) => status.encode(out),
                None => EventStatus::default().encode(out),
            }
        }
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let (reqid, mut body) = take_packet(buf)?;
        let mut reply = EventReply::new(reqid, EventCommand::decode(&mut body)?, i32::decode(&mut body)?);
        if reply.carries_status() {
            reply.status = Some(EventStatus::decode(&mut body)?);
        }
        Ok(reply)
    }
}

/// The last run of an event, as a successful STATUS reply carries it.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct EventStatus {
    /// The event's result: 0, the failing script's exit code, or a negative
    /// errno (−ETIMEDOUT, …).
    pub summary: i32,
    /// The scripts in the order they ran; eventd lists none after the first
    /// failure unless the event ran with [`RUN_ALL`].
    pub scripts: Vec<ScriptStatus>,
}

impl EventStatus {
    /// Encoded length of an empty list.
    const EMPTY_LEN: usize = 8;
}

impl Wire for EventStatus {
    fn wire_len(&self) -> usize {
        Self::EMPTY_LEN + len_all(&self.scripts)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.summary.encode(out);
        count_i32(self.scripts.len()).encode(out);
        encode_all(&self.scripts, out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        let summary = i32::decode(buf)?;
        let count =
            u32::try_from(i32::decode(buf)?).map_err(|_| ProtoError::Malformed("negative eventd script count"))?;
        let scripts = decode_vec(buf, count, SCRIPT_STATUS_MIN_LEN, "eventd script list")?;
        Ok(EventStatus { summary, scripts })
    }
}

/// One script's part in the last run of an event.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ScriptStatus {
    /// Script name without `.script`.
    pub name: String,
    /// When the script started (also set for disabled scripts).
    pub begin: Timeval,
    /// When it ended.
    pub end: Timeval,
    /// 0, the exit code, or a negative errno ([`SCRIPT_RESULT_DISABLED`],
    /// [`SCRIPT_RESULT_TIMEDOUT`], …).
    pub result: i32,
    /// What the script wrote to stdout and stderr, up to the first NUL;
    /// `None` (NULL on the wire) when it wrote nothing or did not run. Kept
    /// as bytes: scripts may print anything.
    pub output: Option<Vec<u8>>,
}

impl Wire for ScriptStatus {
    fn wire_len(&self) -> usize {
        str_len(&self.name) + 32 + 4 + StringN::len_of_nullable(self.output.as_deref())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_str(&self.name, out);
        self.begin.encode(out);
        self.end.encode(out);
        self.result.encode(out);
        StringN::encode_nullable(self.output.as_deref(), out);
    }
    fn decode(buf: &mut &[u8]) -> Result<Self, ProtoError> {
        Ok(ScriptStatus {
            name: get_str(buf, "eventd script name is NULL")?,
            begin: Timeval::decode(buf)?,
            end: Timeval::decode(buf)?,
            result: i32::decode(buf)?,
            output: StringN::decode_nullable(buf)?.map(<[u8]>::to_vec),
        })
    }
}

/// How many bytes the packet at the front of `buf` needs in all: `None`
/// while fewer than 4 bytes (the length field) are there.
///
/// # Errors
/// [`ProtoError::BadLength`] when the length cannot hold the header or is
/// above [`MAX_PACKET_LEN`].
pub fn peek_event_packet_len(buf: &[u8]) -> Result<Option<usize>, ProtoError> {
    let mut rest = buf;
    match u32::decode(&mut rest) {
        Ok(length) => check_length(length).map(Some),
        Err(_) => Ok(None),
    }
}

fn check_length(length: u32) -> Result<usize, ProtoError> {
    if to_usize(length) < EVENTD_HEADER_LEN || length > MAX_PACKET_LEN {
        return Err(ProtoError::BadLength(length));
    }
    Ok(to_usize(length))
}

/// Split one packet off the front of `buf`; return its reqid and the bytes
/// after the header, up to the declared length.
fn take_packet<'a>(buf: &mut &'a [u8]) -> Result<(u32, &'a [u8]), ProtoError> {
    let mut peek = *buf;
    let length = check_length(u32::decode(&mut peek)?)?;
    let mut packet = take(buf, length, "eventd packet")?;
    let _length = u32::decode(&mut packet)?;
    let _version = u32::decode(&mut packet)?;
    let reqid = u32::decode(&mut packet)?;
    Ok((reqid, packet))
}

fn put_header(length: usize, reqid: u32, out: &mut Vec<u8>) {
    len_u32(length).encode(out);
    EVENTD_WIRE_VERSION.encode(out);
    reqid.encode(out);
}

/// A list length for an i32 count field.
///
/// # Panics
/// Above `i32::MAX` entries, which no packet under [`MAX_PACKET_LEN`] holds:
/// a caller bug, never input data.
fn count_i32(n: usize) -> i32 {
    match i32::try_from(n) {
        Ok(v) => v,
        Err(_) => panic!("count {n} does not fit an i32 wire field"),
    }
}

fn str_len(s: &str) -> usize {
    StringN::len_of_nullable(Some(s.as_bytes()))
}

fn put_str(s: &str, out: &mut Vec<u8>) {
    StringN::encode_nullable(Some(s.as_bytes()), out);
}

/// A string that must not be NULL.
fn get_str(buf: &mut &[u8], if_null: &'static str) -> Result<String, ProtoError> {
    match StringN::decode_nullable(buf)? {
        Some(bytes) => utf8(bytes, "eventd string is not UTF-8"),
        None => Err(ProtoError::Malformed(if_null)),
    }
}

fn get_opt_str(buf: &mut &[u8]) -> Result<Option<String>, ProtoError> {
    StringN::decode_nullable(buf)?.map(|bytes| utf8(bytes, "eventd string is not UTF-8")).transpose()
}

/// What `ctdb event status COMPONENT EVENT` prints for `reply`.
///
/// A successful reply prints one line per script (module documentation);
/// a failed one prints one of `Event dir for C does not exist` (ENOENT),
/// `Event E has never run in C` (EINVAL) or
/// `Unknown error (R) for event E in C`.
///
/// `ctime` turns a start time (seconds since the epoch) into the text C's
/// `ctime()` gives, newline included: [`ctime_utc`] for UTC, or for local
/// time `|s| ctime_utc(s + utc_offset_at(s))`.
pub fn format_status(component: &str, event: &str, reply: &EventReply, ctime: &dyn Fn(i64) -> String) -> Vec<u8> {
    let mut out = Vec::new();
    if reply.result != 0 {
        let line = match reply.result {
            errno::ENOENT => format!("Event dir for {component} does not exist\n"),
            errno::EINVAL => format!("Event {event} has never run in {component}\n"),
            r => format!("Unknown error ({r}) for event {event} in {component}\n"),
        };
        out.extend_from_slice(line.as_bytes());
        return out;
    }
    let Some(status) = &reply.status else {
        return out;
    };
    for script in &status.scripts {
        format_script(script, ctime, &mut out);
    }
    out
}

fn format_script(script: &ScriptStatus, ctime: &dyn Fn(i64) -> String, out: &mut Vec<u8>) {
    // C's "%-20s %-10s": pad with spaces to a byte width.
    let name_and_label = |label: &str, out: &mut Vec<u8>| {
        out.extend_from_slice(script.name.as_bytes());
        out.resize(out.len() + 20usize.saturating_sub(script.name.len()), b' ');
        out.push(b' ');
        out.extend_from_slice(format!("{label:<10}").as_bytes());
    };
    match script.result {
        SCRIPT_RESULT_TIMEDOUT => {
            name_and_label("TIMEDOUT", out);
            out.push(b' ');
            out.extend_from_slice(ctime(script.begin.sec).as_bytes());
        }
        SCRIPT_RESULT_DISABLED => {
            name_and_label("DISABLED", out);
            out.push(b'\n');
        }
        r if r < 0 => {
            name_and_label("CANNOT RUN", out);
            out.extend_from_slice(format!(" ({})\n", strerror(r.wrapping_neg())).as_bytes());
        }
        r => {
            name_and_label(if r == 0 { "OK" } else { "ERROR" }, out);
            let secs = script.end.sec.wrapping_sub(script.begin.sec) as f64;
            let usecs = script.end.usec.wrapping_sub(script.begin.usec) as f64;
            out.extend_from_slice(format!(" {:.3} ", secs + usecs * 1.0e-6).as_bytes());
            out.extend_from_slice(ctime(script.begin.sec).as_bytes());
        }
    }
    if script.result != 0 && script.result != SCRIPT_RESULT_DISABLED {
        out.extend_from_slice(b"  OUTPUT: ");
        out.extend_from_slice(until_nul(script.output.as_deref().unwrap_or_default()));
        out.push(b'\n');
    }
}

/// The exit status `ctdb event status` returns for `reply`: the absolute
/// summary of a successful STATUS, else the reply's result (the process
/// exit code is this modulo 256).
pub fn status_exit_code(reply: &EventReply) -> i32 {
    match &reply.status {
        Some(status) if reply.result == 0 => status.summary.wrapping_abs(),
        _ => reply.result,
    }
}

/// C's `ctime()` of `secs` in UTC: `"Sun Dec  6 20:31:40 2026\n"`.
pub fn ctime_utc(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (year, month, mday) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let wday = DAYS.get(to_index((days.rem_euclid(7) + 4) % 7)).copied().unwrap_or("???");
    let mon = MONTHS.get(to_index(month - 1)).copied().unwrap_or("???");
    format!("{wday} {mon}{mday:>3} {:02}:{:02}:{:02} {year}\n", tod / 3600, tod % 3600 / 60, tod % 60)
}

fn to_index(v: i64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Proleptic Gregorian (year, month 1–12, day 1–31) of a day count from
/// 1970-01-01, computed on 400-year cycles of 146 097 days that start on
/// 1 March so the leap day falls at the end of a cycle year.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468; // days from 0000-03-01
    let cycle = shifted.div_euclid(146_097);
    let day_of_cycle = shifted.rem_euclid(146_097);
    let year_of_cycle = (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let mday = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, mday)
}

/// The C library's text for an errno value (`strerror`).
fn strerror(code: i32) -> String {
    let text = std::io::Error::from_raw_os_error(code).to_string();
    let suffix = format!(" (os error {code})");
    match text.strip_suffix(&suffix) {
        Some(s) => s.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_utc_matches_c() {
        assert_eq!(ctime_utc(0), "Thu Jan  1 00:00:00 1970\n");
        assert_eq!(ctime_utc(0x6b15_c62c), "Sun Dec  6 20:31:40 2026\n");
        assert_eq!(ctime_utc(951_782_400), "Tue Feb 29 00:00:00 2000\n");
        assert_eq!(ctime_utc(-1), "Wed Dec 31 23:59:59 1969\n");
        // Extremes do not panic.
        let _ = ctime_utc(i64::MAX);
        let _ = ctime_utc(i64::MIN);
    }

    #[test]
    fn strerror_is_the_c_text() {
        assert_eq!(strerror(2), "No such file or directory");
        assert_eq!(strerror(125), "Operation canceled");
        let _ = strerror(i32::MIN);
    }
}
