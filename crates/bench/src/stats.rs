//! Percentiles within a run, and the median / min / max across runs.

use std::time::Duration;

use serde::Serialize;

/// Latencies of one run, kept whole so that any percentile can be taken.
#[derive(Debug, Default)]
pub struct Latencies {
    nanos: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    /// Room for `n` samples, so recording never allocates in a timed loop.
    pub fn with_capacity(n: usize) -> Latencies {
        Latencies { nanos: Vec::with_capacity(n), sorted: true }
    }

    /// Record one sample.
    pub fn record(&mut self, d: Duration) {
        self.nanos.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.sorted = false;
    }

    /// Add every sample of `other`.
    pub fn merge(&mut self, other: Latencies) {
        self.nanos.extend(other.nanos);
        self.sorted = false;
    }

    /// Every sample in nanoseconds, in the order recorded (or sorted,
    /// once a percentile was taken).
    pub fn nanos(&self) -> &[u64] {
        &self.nanos
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// The `p`-th percentile (0 < p ≤ 100) in microseconds, nearest rank:
    /// the smallest sample with at least p % of all samples at or below it.
    /// 0 when there are no samples.
    pub fn percentile_us(&mut self, p: f64) -> f64 {
        if self.nanos.is_empty() {
            return 0.0;
        }
        if !self.sorted {
            self.nanos.sort_unstable();
            self.sorted = true;
        }
        let n = self.nanos.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.nanos[rank.clamp(1, n) - 1] as f64 / 1000.0
    }
}

/// One figure over several runs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Median of the runs (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
    /// Every run, in the order they ran.
    pub runs: Vec<f64>,
}

impl Summary {
    /// Summarise `runs`; `None` when there are none.
    pub fn of(runs: &[f64]) -> Option<Summary> {
        if runs.is_empty() {
            return None;
        }
        let mut sorted = runs.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Some(Summary { median, min: sorted[0], max: sorted[n - 1], runs: runs.to_vec() })
    }
}

/// Events per second, 0 for an empty interval.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 {
        count as f64 / s
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::with_capacity(100);
        for us in (1..=100).rev() {
            l.record(Duration::from_micros(us));
        }
        assert_eq!(l.percentile_us(50.0), 50.0);
        assert_eq!(l.percentile_us(90.0), 90.0);
        assert_eq!(l.percentile_us(99.0), 99.0);
        assert_eq!(l.percentile_us(100.0), 100.0);
        assert_eq!(Latencies::default().percentile_us(50.0), 0.0);
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let mut l = Latencies::default();
        l.record(Duration::from_nanos(1500));
        assert_eq!(l.percentile_us(1.0), 1.5);
        assert_eq!(l.percentile_us(99.0), 1.5);
    }

    #[test]
    fn summary_keeps_order_and_takes_the_median() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.runs, vec![3.0, 1.0, 2.0]);
        assert_eq!(Summary::of(&[4.0, 1.0]).unwrap().median, 2.5);
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn rate_of_nothing_is_zero() {
        assert_eq!(rate(10, Duration::ZERO), 0.0);
        assert_eq!(rate(10, Duration::from_millis(500)), 20.0);
    }
}
