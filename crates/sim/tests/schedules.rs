//! Random fault schedules against N clusterd cores.
//!
//! Counts: `CTDB_SIM_SCHEDULES` (per batch test) raises them for soak
//! runs; `CTDB_SIM_BASE_SEED` picks another batch of seeds. A failure
//! prints the seed, the trace before it and the command that replays it:
//! `CTDB_SIM_SEED=… CTDB_SIM_LOCK=… CTDB_SIM_DROPS=… cargo test -p ctdb-sim
//! --test schedules replay -- --nocapture`.

use std::time::{Duration, Instant};

use ctdb_sim::{nodes_for_seed, run_schedule, run_schedule_traced, schedule_seed, FaultStats, Schedule};

/// The batch CI runs unless `CTDB_SIM_BASE_SEED` says otherwise.
const DEFAULT_BASE_SEED: u64 = 0xC7DB_5EED;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

fn schedules(default: u64) -> u64 {
    env_u64("CTDB_SIM_SCHEDULES").unwrap_or(default)
}

/// Run `count` schedules; panic with the seed and replay command at the
/// first failure; print what was covered.
fn batch(name: &str, schedule: &Schedule, count: u64) {
    let base = env_u64("CTDB_SIM_BASE_SEED").unwrap_or(DEFAULT_BASE_SEED);
    let started = Instant::now();
    let (mut steps, mut faults, mut worst, mut recoveries) = (0u64, FaultStats::default(), (Duration::ZERO, 0), 0);
    let (mut sent, mut lost, mut takes) = (0u64, 0u64, 0u64);
    let mut sizes = [0u64; 6];
    let keep_going = env_u64("CTDB_SIM_KEEP_GOING").unwrap_or(0) != 0;
    let mut failed = Vec::new();
    for i in 0..count {
        let seed = schedule_seed(base, i);
        let o = match run_schedule(seed, schedule) {
            Ok(o) => o,
            Err(f) if keep_going => {
                println!("{name}: FAILED {}: {}", schedule.replay_env(seed), f.violation);
                failed.push(seed);
                continue;
            }
            Err(f) => panic!("{name}: schedule {i} of {count}\n{f}"),
        };
        steps += o.steps;
        faults.add(&o.faults);
        recoveries += o.recoveries;
        sent += o.net.sent;
        lost += o.net.lost + o.net.dropped;
        takes += o.lock.takes;
        sizes[o.nodes] += 1;
        if o.converged_after > worst.0 {
            worst = (o.converged_after, seed);
        }
    }
    println!(
        "{name}: {count} schedules (2/3/4/5 nodes: {}/{}/{}/{}) in {:.1?}: {steps} steps, {} faults \
         ({} partitions, {} repairs, {} crashes, {} restarts, {} holds, {} releases, {} drops, {} lock losses, \
         {} stop/continue/ban), \
         {recoveries} recoveries, {sent} packets sent, {lost} lost, {takes} lock takes; slowest convergence \
         {:.3}s after faults ended (seed {})",
        sizes[2],
        sizes[3],
        sizes[4],
        sizes[5],
        started.elapsed(),
        faults.total(),
        faults.partitions,
        faults.repairs,
        faults.crashes,
        faults.restarts,
        faults.holds,
        faults.releases,
        faults.drops,
        faults.lock_losses,
        faults.admin,
        worst.0.as_secs_f64(),
        worst.1,
    );
    assert!(failed.is_empty(), "{name}: {} of {count} schedules failed: seeds {failed:?}", failed.len());
}

/// Issue 3: over at least 1,000 random schedules of partitions, crashes and
/// restarts with a cluster lock, never two leaders at once, and after the
/// faults stop every node agrees on one leader and one generation.
#[test]
fn with_a_cluster_lock_never_two_leaders_and_always_converges() {
    batch("with lock", &Schedule::new(true), schedules(1000));
}

/// Issue 3: without a cluster lock the cluster still converges after the
/// partition heals (two leaders during a partition are allowed).
#[test]
fn without_a_cluster_lock_the_cluster_converges_after_healing() {
    batch("without lock", &Schedule::new(false), schedules(300));
}

/// Lost messages (which TCP never loses, but a bug elsewhere might): the
/// invariants still hold, and the cluster still converges once the network
/// is whole again.
#[test]
fn with_lost_messages_the_invariants_hold_and_the_cluster_converges() {
    batch("lost messages, with lock", &Schedule::with_drops(true), schedules(200));
    batch("lost messages, without lock", &Schedule::with_drops(false), schedules(100));
}

/// Same seed, same run: the event trace hash, step count and outcome match
/// between two runs; another seed gives another trace.
#[test]
fn same_seed_same_trace() {
    for s in [Schedule::new(true), Schedule::new(false), Schedule::with_drops(true)] {
        let seeds = [schedule_seed(DEFAULT_BASE_SEED, 0), 42];
        let mut hashes = Vec::new();
        for seed in seeds {
            let a = run_schedule(seed, &s).unwrap_or_else(|f| panic!("{f}"));
            // Keeping trace lines must not change the run.
            let b = run_schedule_traced(seed, &s, 50).unwrap_or_else(|f| panic!("{f}"));
            assert_eq!(
                (a.trace_hash, a.steps, a.converged_after, a.faults, a.net),
                (b.trace_hash, b.steps, b.converged_after, b.faults, b.net),
                "seed {seed} ran differently twice: not deterministic; replay with\n  {}",
                s.replay_command(seed)
            );
            hashes.push(a.trace_hash);
        }
        assert_ne!(hashes[0], hashes[1], "two seeds gave one trace: the seed is not used");
    }
}

/// Replays one seed from the environment and prints its whole trace; does
/// nothing without `CTDB_SIM_SEED`.
#[test]
fn replay() {
    let Some(seed) = env_u64("CTDB_SIM_SEED") else {
        println!("replay: set CTDB_SIM_SEED (and CTDB_SIM_LOCK=0/1, CTDB_SIM_DROPS=0/1) to replay a schedule");
        return;
    };
    let with_lock = env_u64("CTDB_SIM_LOCK").unwrap_or(1) != 0;
    let schedule = Schedule::from_flags(with_lock, env_u64("CTDB_SIM_DROPS").unwrap_or(0) != 0);
    let lines = env_u64("CTDB_SIM_TRACE_LINES").unwrap_or(1_000_000) as usize;
    println!("replaying seed {seed}: {} nodes, {schedule:?}", nodes_for_seed(seed));
    match run_schedule_traced(seed, &schedule, lines) {
        Ok(o) => {
            o.trace.iter().for_each(|l| println!("{l}"));
            println!(
                "seed {seed} passed: {} steps, {:?}, converged {:?} after the faults",
                o.steps, o.faults, o.converged_after
            );
        }
        Err(f) => panic!("{f}"),
    }
}
