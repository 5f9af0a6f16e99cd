//! The results: one table for people, one JSON file with every run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::cluster::Kind;
use crate::stats::Summary;
use crate::workload::{Better, Metric, Unit};

/// One figure for both daemons.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// What it is.
    #[serde(flatten)]
    pub metric: Metric,
    /// Per daemon: median, min, max and every run.
    pub results: BTreeMap<&'static str, Summary>,
    /// ctdb-rs ÷ Samba of the medians, when both ran.
    pub ratio: Option<f64>,
    /// Whether the ratio meets the metric's goal.
    pub goal_met: Option<bool>,
    /// Median of the floor figure this one is read against.
    pub floor_value: Option<f64>,
}

impl Row {
    /// Build a row from the runs of each daemon.
    pub fn new(metric: Metric, runs: &BTreeMap<Kind, Vec<f64>>, floor: &BTreeMap<String, Summary>) -> Row {
        let results: BTreeMap<&'static str, Summary> =
            runs.iter().filter_map(|(k, v)| Some((k.key(), Summary::of(v)?))).collect();
        let ratio = match (results.get(Kind::CtdbRs.key()), results.get(Kind::Samba.key())) {
            (Some(ours), Some(samba)) if samba.median != 0.0 => Some(ours.median / samba.median),
            _ => None,
        };
        let goal_met = metric.goal.zip(ratio).map(|(g, r)| g.met(r));
        let floor_value = metric.floor.and_then(|k| floor.get(k)).map(|s| s.median);
        Row { metric, results, ratio, goal_met, floor_value }
    }

    fn median(&self, kind: Kind) -> Option<f64> {
        self.results.get(kind.key()).map(|s| s.median)
    }
}

/// Format a value for the table.
pub fn value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => format!("{v:.2}"),
        Unit::PerSecond | Unit::CpuMs | Unit::Count if v >= 100.0 => format!("{v:.0}"),
        _ if v >= 1000.0 => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}

/// The table: one row per figure, ctdb-rs and Samba medians, their ratio,
/// the goal where issue 4 sets one, and the floor; then the floor itself.
pub fn table(title: &str, rows: &[Row], floor_rows: &[Row]) -> String {
    const W: usize = 62;
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let _ = writeln!(
        out,
        "{:<W$} {:>7} {:>11} {:>11} {:>9}  {:<15} floor",
        "workload", "unit", "ctdb-rs", "Samba", "rs/Samba", "target"
    );
    let _ = writeln!(out, "{}", "-".repeat(W + 7 + 11 + 11 + 9 + 15 + 8 + 12));
    for r in rows {
        let m = &r.metric;
        let cell = |k: Kind| r.median(k).map_or_else(|| "-".to_string(), |v| value(v, m.unit));
        let ratio = r.ratio.map_or_else(|| "-".to_string(), |x| format!("{x:.2}x"));
        let target = match (m.goal, r.goal_met) {
            (Some(g), Some(true)) => format!("{} met", g.label()),
            (Some(g), Some(false)) => format!("{} MISSED", g.label()),
            (Some(g), None) => g.label(),
            (None, _) => String::new(),
        };
        let floor = match (m.floor, r.floor_value) {
            (Some(k), Some(v)) => format!("{} ({k})", value(v, m.unit)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<W$} {:>7} {:>11} {:>11} {:>9}  {:<15} {}",
            m.label,
            m.unit.label(),
            cell(Kind::CtdbRs),
            cell(Kind::Samba),
            ratio,
            target,
            floor
        );
    }
    if !floor_rows.is_empty() {
        let _ = writeln!(out, "\nfloor: this machine with no daemon (plain sockets, same message sizes)");
        for r in floor_rows {
            let m = &r.metric;
            let v = r.results.values().next().map_or_else(|| "-".to_string(), |s| value(s.median, m.unit));
            let _ = writeln!(out, "{:<W$} {:>7} {:>11}   {}", m.label, m.unit.label(), v, m.key);
        }
    }
    let _ = writeln!(
        out,
        "\nrs/Samba is ctdb-rs / Samba of the medians; {} is better for rates, {} for latency, memory and CPU.",
        direction(Better::Higher),
        direction(Better::Lower)
    );
    out
}

/// The failover table: per figure, each daemon's median with its min and
/// max, and the ratio of the medians.
pub fn failover_table(title: &str, rows: &[Row]) -> String {
    const W: usize = 66;
    const C: usize = 22;
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let _ = writeln!(
        out,
        "{:<W$} {:>5} {:>C$} {:>C$} {:>9}",
        "failover (median [min-max])", "unit", "ctdb-rs", "Samba", "rs/Samba"
    );
    let _ = writeln!(out, "{}", "-".repeat(W + 5 + 2 * C + 9 + 4));
    for r in rows {
        let m = &r.metric;
        let cell = |k: Kind| {
            r.results.get(k.key()).map_or_else(
                || "-".to_string(),
                |s| {
                    if s.runs.len() == 1 {
                        value(s.median, m.unit)
                    } else {
                        format!("{} [{}-{}]", value(s.median, m.unit), value(s.min, m.unit), value(s.max, m.unit))
                    }
                },
            )
        };
        // Small ratios keep two significant digits.
        let ratio =
            r.ratio.map_or_else(|| "-".to_string(), |x| if x < 0.1 { format!("{x:.3}x") } else { format!("{x:.2}x") });
        let _ = writeln!(
            out,
            "{:<W$} {:>5} {:>C$} {:>C$} {:>9}",
            m.label,
            m.unit.label(),
            cell(Kind::CtdbRs),
            cell(Kind::Samba),
            ratio
        );
    }
    out
}

fn direction(b: Better) -> &'static str {
    match b {
        Better::Higher => "above 1",
        Better::Lower => "below 1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Goal;

    #[test]
    fn row_takes_medians_ratio_goal_and_floor() {
        let metric = Metric::new("x.rate".into(), "x".into(), Unit::PerSecond, Better::Higher)
            .floor("f.rate")
            .goal(Goal::AtLeast(2.0));
        let runs = BTreeMap::from([(Kind::CtdbRs, vec![30.0, 10.0, 20.0]), (Kind::Samba, vec![10.0])]);
        let floor = BTreeMap::from([("f.rate".to_string(), Summary::of(&[100.0]).unwrap())]);
        let r = Row::new(metric, &runs, &floor);
        assert_eq!(r.ratio, Some(2.0));
        assert_eq!(r.goal_met, Some(true));
        assert_eq!(r.floor_value, Some(100.0));
        assert_eq!(r.results["ctdb-rs"].min, 10.0);
        let text = table("t", &[r], &[]);
        assert!(text.contains("2.00x"), "{text}");
        assert!(text.contains(">=2.00x met"), "{text}");
    }

    #[test]
    fn one_daemon_has_no_ratio() {
        let metric = Metric::new("x.p50".into(), "x".into(), Unit::Micros, Better::Lower).goal(Goal::AtMost(1.0));
        let r = Row::new(metric, &BTreeMap::from([(Kind::Samba, vec![5.0])]), &BTreeMap::new());
        assert_eq!((r.ratio, r.goal_met), (None, None));
        assert!(table("t", &[r], &[]).contains(" - "));
    }

    #[test]
    fn failover_table_shows_median_min_max_and_ratio() {
        let metric = Metric::new("failover.kill.new_connection".into(), "kill".into(), Unit::Seconds, Better::Lower);
        let runs = BTreeMap::from([(Kind::CtdbRs, vec![0.5, 0.3, 0.4]), (Kind::Samba, vec![0.8])]);
        let text = failover_table("t", &[Row::new(metric, &runs, &BTreeMap::new())]);
        assert!(text.contains("0.40 [0.30-0.50]"), "{text}");
        assert!(text.contains("0.80") && text.contains("0.50x"), "{text}");
    }

    #[test]
    fn values_are_rounded_by_size() {
        assert_eq!(value(123456.7, Unit::PerSecond), "123457");
        assert_eq!(value(12.34, Unit::Micros), "12.3");
        assert_eq!(value(1234.4, Unit::Micros), "1234");
    }
}
