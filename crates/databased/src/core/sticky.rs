//! Sticky records (SET_DB_STICKY): a record that needed many hops to reach
//! its dmaster (HopcountMakeSticky) is contended; for StickyDuration
//! seconds, each time it arrives on a node it stays there at least
//! StickyPindown milliseconds before it may migrate away again, so that
//! clients on that node get work done instead of the record ping-ponging.

use std::time::{Duration, Instant};

use super::work::Work;
use super::Databased;

pub(crate) const HOPCOUNT_MAKE_STICKY: &str = "HopcountMakeSticky";
pub(crate) const STICKY_DURATION: &str = "StickyDuration";
pub(crate) const STICKY_PINDOWN: &str = "StickyPindown";

impl Databased {
    /// A call for `key` arrived with `hopcount` hops: make the record
    /// sticky if the database is and the count is high.
    pub(crate) fn note_hops(&mut self, now: Instant, db_id: u32, key: &[u8], hopcount: u32) {
        let threshold = self.tunable(HOPCOUNT_MAKE_STICKY, 50);
        let duration = Duration::from_secs(u64::from(self.tunable(STICKY_DURATION, 600)));
        let Some(db) = self.dbs.get_mut(&db_id) else { return };
        if db.sticky && hopcount >= threshold {
            db.sticky_keys.insert(key.to_vec(), now + duration);
        }
    }

    /// The record just became ours: pin it down if it is sticky.
    pub(crate) fn pin_if_sticky(&mut self, now: Instant, db_id: u32, key: &[u8]) {
        let pindown = Duration::from_millis(u64::from(self.tunable(STICKY_PINDOWN, 200)));
        let Some(db) = self.dbs.get_mut(&db_id) else { return };
        match db.sticky_keys.get(key) {
            Some(&until) if until > now => {
                db.pinned.insert(key.to_vec(), now + pindown);
            }
            Some(_) => {
                db.sticky_keys.remove(key);
            }
            None => {}
        }
    }

    /// Until when `key` may not migrate away, if it is pinned now.
    pub(crate) fn pinned_until(&mut self, now: Instant, db_id: u32, key: &[u8]) -> Option<Instant> {
        let db = self.dbs.get_mut(&db_id)?;
        match db.pinned.get(key) {
            Some(&until) if until > now => Some(until),
            Some(_) => {
                db.pinned.remove(key);
                None
            }
            None => None,
        }
    }

    /// Hold a migration request until the pin-down ends.
    pub(crate) fn wait_for_pindown(&mut self, until: Instant, w: Work) {
        self.pindown_wait.push((until, w));
    }

    pub(crate) fn pindown_timeout(&self) -> Option<Instant> {
        self.pindown_wait.iter().map(|(t, _)| *t).min()
    }

    /// Migration requests whose pin-down ended go ahead.
    pub(crate) fn pindown_tick(&mut self, now: Instant) {
        if self.pindown_wait.iter().all(|(t, _)| *t > now) {
            return;
        }
        let (due, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pindown_wait).into_iter().partition(|(t, _)| *t <= now);
        self.pindown_wait = rest;
        for (_, w) in due {
            self.submit(now, w);
        }
    }
}
