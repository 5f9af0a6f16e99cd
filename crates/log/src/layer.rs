//! The `tracing` side: a layer that filters by the run-time debug level and
//! turns each event into one line, message first, then fields as `k=v`.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use ctdb_config::DebugLevel;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::sink::Record;
use crate::{debug_level_of, LogHandle};

/// A [`tracing_subscriber::Layer`] that sends events to a [`LogHandle`].
///
/// Filtering reads the handle's level on every event, so `set_level` takes
/// effect at once without rebuilding tracing's callsite cache.
#[derive(Clone, Debug)]
pub struct CtdbLayer {
    handle: LogHandle,
}

impl CtdbLayer {
    /// A layer feeding `handle`.
    pub fn new(handle: LogHandle) -> CtdbLayer {
        CtdbLayer { handle }
    }
}

impl<S: Subscriber> Layer<S> for CtdbLayer {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // "Sometimes": ask `enabled` each time, because the level can change.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        metadata.is_span() || self.handle.enabled(debug_level_of(*metadata.level()))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        // Any level may be switched on later.
        Some(LevelFilter::TRACE)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level: DebugLevel = debug_level_of(*event.metadata().level());
        // Checked again: another layer's filter may have let the event through.
        if !self.handle.enabled(level) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.handle.push(Record { time: SystemTime::now(), level, message: fields.finish() });
    }
}

/// Collects the message and the other fields separately so the message can
/// come first whatever the field order in the macro call.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Fields {
    fn finish(mut self) -> String {
        if self.message.is_empty() {
            return self.rest;
        }
        if !self.rest.is_empty() {
            self.message.push(' ');
            self.message.push_str(&self.rest);
        }
        self.message
    }

    fn separator(&mut self) {
        if !self.rest.is_empty() {
            self.rest.push(' ');
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.separator();
            let _ = write!(self.rest, "{}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else if field.name().starts_with("log.") {
            // Metadata added by tracing-log bridges; not part of the text.
        } else {
            self.separator();
            let _ = write!(self.rest, "{}={value:?}", field.name());
        }
    }
}
