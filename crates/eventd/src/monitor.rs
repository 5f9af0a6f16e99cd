//! The node's own events and its health.
//!
//! ```text
//!  activate ─► init ─► setup            (notify.sh init / setup)
//!  runstate RUNNING seen ─► startup     (retried every 5 s until it passes;
//!                                        notify.sh startup)
//!  then monitor: 2 s later, then 4, 8, … up to MonitorInterval; 5 s after a
//!  health change; never while the cluster is recovering
//!    fails (script error)            → UNHEALTHY at once
//!    times out                       → UNHEALTHY after `[event] monitor
//!                                      timeout count` in a row (ctdb-rs: 1)
//!    passes                          → healthy again
//! ```
//!
//! Health is this node's UNHEALTHY flag, owned by clusterd (asked with
//! SetOwnFlags), so every node sees it; notify.sh hears healthy/unhealthy.
//! CTDB tolerates 20 timeouts of 30 s plus intervals (about 15 minutes)
//! before a hung monitor counts; ctdb-rs marks the node UNHEALTHY within
//! MonitorInterval + EventScriptTimeout of a hang by default, and
//! `monitor timeout count = 20` gives CTDB's behaviour back.

use std::time::{Duration, Instant};

use ctdb_legacy_proto::flags as node_flags;
use ctdb_proto::{ClusterState, Endpoint, Msg, ServiceId};
use tracing::{error, info, warn};

use crate::core::{errno, Eventd, Origin, RunRequest, LEGACY};

/// First monitor after startup; the interval doubles from there.
const FIRST_MONITOR: Duration = Duration::from_secs(2);
/// Next monitor after the node's health changed.
const AFTER_CHANGE: Duration = Duration::from_secs(5);
/// A failed startup event is retried this often.
const STARTUP_RETRY: Duration = Duration::from_secs(5);

/// Where the node's own events are.
#[derive(Debug, Default)]
pub struct Monitor {
    /// startup passed: monitoring.
    started: bool,
    /// startup running or waiting for its retry.
    startup_pending: bool,
    startup_retry: Option<Instant>,
    /// Next monitor.
    next: Option<Instant>,
    /// Interval after the next one (doubling up to MonitorInterval).
    interval: Duration,
    /// Monitor timeouts in a row.
    timeouts: u32,
    /// Health as last set (None: not told yet).
    healthy: Option<bool>,
}

impl Monitor {
    /// The next timer.
    pub fn due(&self) -> Option<Instant> {
        [self.next, self.startup_retry].into_iter().flatten().min()
    }
}

impl Eventd {
    /// Start: init, then setup.
    pub fn activate(&mut self, now: Instant) {
        for event in ["init", "setup"] {
            self.lifecycle_event(now, event);
        }
    }

    /// The daemon stops: no more monitors, the shutdown event (services
    /// the scripts started are stopped by it). The shell waits for
    /// [`Eventd::idle`], bounded by EventScriptTimeout.
    pub fn shutdown(&mut self, now: Instant) {
        self.monitor.next = None;
        self.monitor.startup_retry = None;
        self.monitor.started = false;
        self.monitor.startup_pending = true;
        self.lifecycle_event(now, "shutdown");
    }

    fn lifecycle_event(&mut self, now: Instant, event: &str) {
        let req = RunRequest {
            component: LEGACY.into(),
            event: event.into(),
            args: String::new(),
            timeout: self.script_timeout(),
            run_all: false,
        };
        self.submit(now, req, Origin::Lifecycle);
    }

    pub(crate) fn lifecycle_done(&mut self, now: Instant, event: &str, code: i32) {
        match (event, code) {
            ("startup", 0) => {
                info!("eventd: startup event OK - enabling monitoring");
                self.monitor.startup_pending = false;
                self.monitor.started = true;
                self.monitor.interval = FIRST_MONITOR;
                self.monitor.next = Some(now + FIRST_MONITOR);
                self.notify("startup");
            }
            ("startup", _) => {
                warn!("eventd: startup event failed ({code}); trying again in {STARTUP_RETRY:?}");
                self.monitor.startup_retry = Some(now + STARTUP_RETRY);
            }
            (_, 0) => self.notify(event),
            // CTDB exits when init or setup fail; ctdb-rs keeps serving and
            // says so: the node stays UNHEALTHY-free but the operator sees it.
            _ => error!("eventd: {event} event failed ({code})"),
        }
    }

    /// clusterd's snapshot: start monitoring once the node runs.
    pub(crate) fn cluster_state(&mut self, now: Instant, st: ClusterState) {
        let running = st.runstate >= 5;
        let own = st.nodes.get(self.cfg.pnn as usize).map_or(0, |n| n.flags);
        self.state = Some(st);
        if running && !self.monitor.started && !self.monitor.startup_pending {
            self.monitor.startup_pending = true;
            self.lifecycle_event(now, "startup");
        }
        // clusterd starts healthy; our view follows its flag once known.
        if self.monitor.healthy.is_none() && self.monitor.started {
            self.monitor.healthy = Some(own & node_flags::UNHEALTHY == 0);
        }
    }

    pub(crate) fn monitor_tick(&mut self, now: Instant) {
        if self.monitor.startup_retry.is_some_and(|t| now >= t) {
            self.monitor.startup_retry = None;
            self.lifecycle_event(now, "startup");
        }
        let Some(next) = self.monitor.next else { return };
        if now < next {
            return;
        }
        let interval = Duration::from_secs(u64::from(self.tunables().monitor_interval().max(1)));
        self.monitor.next = Some(now + self.monitor.interval.min(interval));
        self.monitor.interval = (self.monitor.interval * 2).min(interval);
        let recovering = self.state.as_ref().is_none_or(|s| s.recmode != 0);
        if recovering || self.busy() {
            // CTDB refuses a monitor during recovery; another event running
            // would cancel it anyway.
            return;
        }
        let req = RunRequest {
            component: LEGACY.into(),
            event: "monitor".into(),
            args: String::new(),
            timeout: self.script_timeout(),
            run_all: false,
        };
        self.submit(now, req, Origin::Monitor);
    }

    pub(crate) fn monitor_done(&mut self, now: Instant, code: i32) {
        match code {
            0 => {
                self.monitor.timeouts = 0;
                self.set_health(now, true);
            }
            errno::ECANCELED => {}
            errno::ETIMEDOUT => {
                self.monitor.timeouts += 1;
                let limit = self.cfg.monitor_timeout_count.max(1);
                if self.monitor.timeouts >= limit {
                    warn!("eventd: monitor event timed out {} time(s) in a row", self.monitor.timeouts);
                    self.set_health(now, false);
                } else {
                    info!("eventd: monitor event timed out ({} of {limit} allowed)", self.monitor.timeouts);
                }
            }
            _ => {
                self.monitor.timeouts = 0;
                self.set_health(now, false);
            }
        }
    }

    fn set_health(&mut self, now: Instant, healthy: bool) {
        if self.monitor.healthy == Some(healthy) {
            return;
        }
        let first = self.monitor.healthy.is_none();
        self.monitor.healthy = Some(healthy);
        let (set, clear) = if healthy { (0, node_flags::UNHEALTHY) } else { (node_flags::UNHEALTHY, 0) };
        self.send(Endpoint::new(self.cfg.pnn, ServiceId::CLUSTERD), 0, Msg::SetOwnFlags { set, clear });
        if first && healthy {
            info!("eventd: monitor event OK - node healthy");
        } else if healthy {
            info!("eventd: monitor event OK - node re-enabled");
        } else {
            warn!("eventd: monitor event failed - disabling node");
        }
        self.notify(if healthy { "healthy" } else { "unhealthy" });
        if !first {
            let interval = Duration::from_secs(u64::from(self.tunables().monitor_interval().max(1)));
            self.monitor.next = Some(now + AFTER_CHANGE.min(interval));
            self.monitor.interval = AFTER_CHANGE.min(interval);
        }
    }

    fn notify(&mut self, event: &str) {
        if let Some(script) = self.cfg.notify_script.clone() {
            self.side_run(&format!("notification script ({event})"), vec![script, event.to_string()]);
        }
    }
}
