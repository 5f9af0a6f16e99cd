//! What a daemon costs, read from `/proc/PID/status` and `/proc/PID/stat`.

use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Memory of one process, in KiB.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Largest resident set size so far (`VmHWM`).
    pub hwm_kib: u64,
}

/// Resident and peak memory of `pid`.
pub fn memory(pid: i32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status(&text).with_context(|| format!("parsing {path}"))
}

fn parse_status(text: &str) -> Result<Memory> {
    let field = |name: &str| -> Result<u64> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')))
            .with_context(|| format!("no {name} line"))?;
        // "   12345 kB"
        let number = line.split_whitespace().next().with_context(|| format!("empty {name}"))?;
        number.parse().with_context(|| format!("bad {name} value {number:?}"))
    };
    Ok(Memory { rss_kib: field("VmRSS")?, hwm_kib: field("VmHWM")? })
}

/// User plus system CPU time `pid` has used so far.
pub fn cpu_time(pid: i32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_stat_ticks(&text).with_context(|| format!("parsing {path}"))?;
    Ok(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// User plus system CPU time of the children of `pid` that have exited
/// and been waited for (cutime + cstime).
pub fn children_cpu_time(pid: i32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_stat_fields(&text, 16, 17).with_context(|| format!("parsing {path}"))?;
    Ok(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// utime + stime (fields 14 and 15) from a `/proc/PID/stat` line.
fn parse_stat_ticks(text: &str) -> Result<u64> {
    parse_stat_fields(text, 14, 15)
}

/// The sum of fields `a` and `b` (numbered from 1, as in proc(5)) of a
/// `/proc/PID/stat` line.
fn parse_stat_fields(text: &str, a: usize, b: usize) -> Result<u64> {
    // The command name (field 2) is in parentheses and may itself contain
    // spaces and parentheses, so counting starts after the last ')'.
    let Some(close) = text.rfind(')') else {
        bail!("no ')' after the command name");
    };
    // After ')' come field 3 (state) onwards: utime is field 14, the 12th.
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> Result<u64> {
        let s = rest.get(n - 3).with_context(|| format!("stat has no field {n}"))?;
        s.parse().with_context(|| format!("bad stat field {n}: {s:?}"))
    };
    Ok(field(a)? + field(b)?)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    let per_second = per_second.max(1);
    Duration::from_secs(ticks / per_second) + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
}

/// User plus system CPU time of the threads of `pid` whose name does not
/// start with `skip` (threads that ended no longer count).
pub fn cpu_time_of_threads(pid: i32, skip: &str) -> Result<Duration> {
    let dir = format!("/proc/{pid}/task");
    let mut ticks = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let task = entry?.path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if name.starts_with(skip) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(task.join("stat")) else { continue };
        ticks += parse_stat_ticks(&text).with_context(|| format!("parsing {}", task.display()))?;
    }
    Ok(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// `sysconf(_SC_CLK_TCK)`; Linux fixes it at 100 for user space, which is
/// also the fallback.
fn clock_ticks_per_second() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t.unsigned_abs(),
        _ => 100,
    }
}

/// CPU time of the whole machine so far, from the first line of
/// `/proc/stat`: (busy, busy + idle), summed over all CPUs. Busy includes
/// steal, time the hypervisor gave to someone else.
pub fn machine_cpu() -> Result<(Duration, Duration)> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let (busy, total) = parse_machine(&text).context("parsing /proc/stat")?;
    let hz = clock_ticks_per_second();
    Ok((ticks_to_duration(busy, hz), ticks_to_duration(total, hz)))
}

fn parse_machine(text: &str) -> Result<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu ")).context("no cpu line")?;
    let v: Vec<u64> = line.split_whitespace().skip(1).map(str::parse).collect::<Result<_, _>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]:
    // guest time is already inside user and nice.
    let field = |i: usize| v.get(i).copied().unwrap_or(0);
    let idle = field(3) + field(4);
    let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
    Ok((busy, busy + idle))
}

/// Context switches (voluntary and involuntary) of every thread of `pid`
/// so far. Each one is a sleep and a wake-up, the cost that dominates
/// small-message work: a daemon that hands a message from thread to thread
/// pays it several times per message.
pub fn context_switches(pid: i32) -> Result<u64> {
    let dir = format!("/proc/{pid}/task");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let path = entry?.path().join("status");
        // A thread may end between listing and reading: it no longer counts.
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        total += parse_switches(&text).with_context(|| format!("parsing {}", path.display()))?;
    }
    Ok(total)
}

fn parse_switches(text: &str) -> Result<u64> {
    let mut total = 0;
    for name in ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"] {
        let v = text
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .with_context(|| format!("no {name} line"))?;
        total += v.trim().parse::<u64>().with_context(|| format!("bad {name}"))?;
    }
    Ok(total)
}

/// Whether the process `pid` exists and is not a zombie: a daemon that
/// died is a zombie until whoever adopted it reaps it, which can take a
/// while in a container.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat.rfind(')').is_some_and(|close| !stat[close + 1..].trim_start().starts_with('Z')),
    }
}

/// The NUL-separated command line of `pid`, as words.
pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0).filter(|w| !w.is_empty()).map(|w| String::from_utf8_lossy(w).into_owned()).collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kib() {
        let text = "Name:\tctdbd\nVmPeak:\t  9000 kB\nVmHWM:\t    4321 kB\nVmRSS:\t    1234 kB\n";
        assert_eq!(parse_status(text).unwrap(), Memory { rss_kib: 1234, hwm_kib: 4321 });
        assert!(parse_status("Name:\tx\n").is_err());
    }

    #[test]
    fn stat_ticks_skip_a_command_name_with_spaces_and_parens() {
        // Fields 14 (utime) = 7 and 15 (stime) = 5.
        let text = "42 (ctdb (x) d) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 1000 0 0";
        assert_eq!(parse_stat_ticks(text).unwrap(), 12);
        assert!(parse_stat_ticks("42 (x) S 1").is_err());
        // Fields 16 (cutime) = 3 and 17 (cstime) = 4.
        let text = "42 (x) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 3 4 20 0 1 0 1000 0 0";
        assert_eq!(parse_stat_fields(text, 16, 17).unwrap(), 7);
    }

    #[test]
    fn machine_busy_counts_steal_and_not_guest() {
        let text = "cpu  10 1 5 100 4 1 2 3 7 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n";
        assert_eq!(parse_machine(text).unwrap(), (22, 126));
        assert!(parse_machine("intr 1\n").is_err());
    }

    #[test]
    fn switches_add_both_kinds() {
        let text = "Name:\tx\nvoluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(parse_switches(text).unwrap(), 13);
        assert!(parse_switches("Name:\tx\n").is_err());
    }

    #[test]
    fn ticks_convert_exactly() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
        assert_eq!(ticks_to_duration(1, 3), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn this_process_can_be_read() {
        let me = std::process::id() as i32;
        assert!(memory(me).unwrap().rss_kib > 0);
        cpu_time(me).unwrap();
        assert!(context_switches(me).unwrap() > 0);
        assert!(cpu_time_of_threads(me, "no-such-thread").unwrap() >= cpu_time_of_threads(me, "").unwrap());
        assert!(alive(me));
        assert!(!cmdline(me).is_empty());
    }
}
