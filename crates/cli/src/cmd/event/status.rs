//! `ctdb event status COMPONENT EVENT`: one STATUS request, printed by
//! [`format_status`] (one line per script of the event's last run, or
//! `Event dir for C does not exist` / `Event E has never run in C`). The
//! exit status is the run's summary without its sign (a script's exit code,
//! 110 for a timeout), or the request's error.

use serde::Serialize;

use ctdb_config::Paths;
use ctdb_legacy_proto::eventd::{
    format_status, status_exit_code, EventCommand, EventReply, EventRequestBody, ScriptStatus, SCRIPT_RESULT_DISABLED,
    SCRIPT_RESULT_TIMEDOUT,
};

use super::client::{Failure, EPROTO};
use super::cmdline::Command;
use super::log::Log;
use super::{connect, exit, usage};
use crate::cmd::Ctx;
use crate::render::{Render, RenderCx, Reply};
use crate::timefmt::{ctime, Timestamp};

/// The last run of an event, as eventd reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventStatusView {
    /// Component asked about.
    pub component: String,
    /// Event asked about.
    pub event: String,
    /// 0, or the request's error (ENOENT: no such component, EINVAL: never
    /// ran).
    pub result: i32,
    /// The run's result (0, a failing script's exit code, −110…), when
    /// `result` is 0.
    pub summary: Option<i32>,
    /// The scripts that ran, in order.
    pub scripts: Vec<ScriptView>,
    /// The reply itself, for the text form.
    #[serde(skip)]
    reply: EventReply,
}

/// One script of the last run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptView {
    /// Script name without `.script`.
    pub name: String,
    /// The state the text form shows: OK, ERROR, TIMEDOUT, DISABLED or
    /// CANNOT RUN.
    pub state: &'static str,
    /// Exit code, or a negative errno.
    pub result: i32,
    /// When it started.
    pub begin: Timestamp,
    /// When it ended.
    pub end: Timestamp,
    /// What it printed (invalid UTF-8 replaced), if anything.
    pub output: Option<String>,
}

impl ScriptView {
    fn from_status(s: &ScriptStatus) -> ScriptView {
        let state = match s.result {
            0 => "OK",
            SCRIPT_RESULT_TIMEDOUT => "TIMEDOUT",
            SCRIPT_RESULT_DISABLED => "DISABLED",
            r if r < 0 => "CANNOT RUN",
            _ => "ERROR",
        };
        ScriptView {
            name: s.name.clone(),
            state,
            result: s.result,
            begin: Timestamp { sec: s.begin.sec, usec: s.begin.usec },
            end: Timestamp { sec: s.end.sec, usec: s.end.usec },
            output: s.output.as_deref().map(|o| String::from_utf8_lossy(o).into_owned()),
        }
    }
}

impl EventStatusView {
    /// The view of `reply` to STATUS `component` `event`.
    pub fn new(component: &str, event: &str, reply: EventReply) -> EventStatusView {
        let status = reply.status.as_ref().filter(|_| reply.result == 0);
        EventStatusView {
            component: component.to_string(),
            event: event.to_string(),
            result: reply.result,
            summary: status.map(|s| s.summary),
            scripts: status.map(|s| s.scripts.iter().map(ScriptView::from_status).collect()).unwrap_or_default(),
            reply,
        }
    }

    /// The helper's exit status for this reply.
    pub fn exit_code(&self) -> i32 {
        status_exit_code(&self.reply)
    }
}

impl Render for EventStatusView {
    fn text(&self, cx: &RenderCx) -> String {
        let ctime_line = |sec: i64| format!("{}\n", ctime(sec, cx.zone));
        String::from_utf8_lossy(&format_status(&self.component, &self.event, &self.reply, &ctime_line)).into_owned()
    }
}

/// Runs the command; the reply's exit is the helper's status.
pub async fn run(cx: &Ctx, args: &[String], paths: &Paths, log: &mut Log) -> Reply {
    let [component, event] = args else {
        return usage(Command::Status);
    };
    let mut client = match connect(paths, log).await {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let body = EventRequestBody::Status { component: component.clone(), event: event.clone() };
    let reply = match client.request(body, log).await {
        Ok(reply) if reply.cmd == EventCommand::Status => reply,
        Ok(other) => EventReply::new(other.reqid, EventCommand::Status, EPROTO),
        Err(Failure::Closed) => return exit(1),
        Err(Failure::Errno(ret)) => {
            log.err(format!("Failed to get status for event {event} in {component}, ret={ret}"));
            return exit(1);
        }
    };
    log.notice(format!("Command status finished with result={}", reply.result));
    let view = EventStatusView::new(component, event, reply);
    let code = view.exit_code();
    cx.reply(&view).with_exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;
    use ctdb_legacy_proto::eventd::EventStatus;
    use ctdb_legacy_proto::Timeval;

    fn script(name: &str, result: i32, output: Option<&str>) -> ScriptStatus {
        ScriptStatus {
            name: name.into(),
            begin: Timeval { sec: 1_796_590_063, usec: 100 },
            end: Timeval { sec: 1_796_590_063, usec: 2_300 },
            result,
            output: output.map(|o| o.as_bytes().to_vec()),
        }
    }

    #[test]
    fn text_is_samba_status_in_the_render_zone() {
        let status = EventStatus {
            summary: 1,
            scripts: vec![
                script("01.ok", 0, Some("ok\n")),
                script("02.off", -8, None),
                script("03.fail", 1, Some("failure line 1\nline 2\n")),
            ],
        };
        let view = EventStatusView::new("legacy", "failtest", EventReply::with_status(7, status));
        assert_eq!(
            view.text(&RenderCx::new(Zone::Utc)),
            "01.ok                OK         0.002 Sun Dec  6 20:47:43 2026\n\
             02.off               DISABLED  \n\
             03.fail              ERROR      0.002 Sun Dec  6 20:47:43 2026\n  \
             OUTPUT: failure line 1\nline 2\n\n"
        );
        assert_eq!(view.exit_code(), 1);
        let states: Vec<&str> = view.scripts.iter().map(|s| s.state).collect();
        assert_eq!(states, ["OK", "DISABLED", "ERROR"]);
    }

    #[test]
    fn errors_print_one_line_and_exit_with_the_errno() {
        let view = EventStatusView::new("legacy", "neverran", EventReply::new(7, EventCommand::Status, 22));
        assert_eq!(view.text(&RenderCx::new(Zone::Utc)), "Event neverran has never run in legacy\n");
        assert_eq!((view.exit_code(), view.summary, view.scripts.len()), (22, None, 0));
        let view = EventStatusView::new("nosuch", "monitor", EventReply::new(7, EventCommand::Status, 2));
        assert_eq!(view.text(&RenderCx::new(Zone::Utc)), "Event dir for nosuch does not exist\n");
    }
}
