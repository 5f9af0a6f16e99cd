//! `ctdb-bench`: ctdb-rs against Samba's ctdbd, side by side in one run.
//!
//! ```text
//! cargo run --release -p ctdb-bench            # the full comparison
//! cargo run -q -p ctdb-bench -- --smoke        # the same path in seconds (CI)
//! ```
//!
//! One run:
//!
//! ```text
//!  start Samba's ctdbd ×N (127.0.40.x) ─┐
//!  start ctdb-rs ×N via ctdb-local (127.0.41.x) ─┴─ wait until both are ready
//!  floor: plain Unix/TCP echo, ring, fan-out (no daemon) × runs
//!  for each run: for each workload: ctdb-rs and Samba (order alternates),
//!      daemon CPU before/after, every result checked
//!  memory (VmRSS, VmHWM); stop both clusters (also on failure and Ctrl-C)
//!  print the table, write the JSON file with every run
//! ```
//!
//! Workloads live in [`workload`]; each figure is the median of the runs,
//! min and max kept in the JSON file. A workload that sees a wrong result
//! (lost, duplicated, reordered or corrupted message) fails the whole run.
//!
//! The [`failover`] workload is different: it runs only when named
//! (`--only failover`, needs root), after the loopback clusters have
//! stopped, on beds of three nodes in network namespaces, one fresh bed
//! per measurement; it prints a table of its own with median, min and max:
//!
//! ```text
//! cargo run --release -p ctdb-bench -- --only failover   # kill -9, links cut, ctdb shutdown; 3 runs, ~15 min
//! ```

mod awake;
mod cluster;
mod failover;
mod floor;
mod procfs;
mod report;
mod stats;
mod workload;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, ValueEnum};
use ctdb_legacy_proto::{pnn, Frame, Opcode, Packet, ReqControl, ReqMessage};
use serde_json::json;

use crate::cluster::{Cluster, Kind};
use crate::floor::FloorSizes;
use crate::report::Row;
use crate::stats::Summary;
use crate::workload::{Better, Metric, Sizes, Unit, Workload};

/// Addresses of Samba's nodes: 127.0.40.1, .2, …
const SAMBA_BASE: Ipv4Addr = Ipv4Addr::new(127, 0, 40, 1);
/// Addresses of our nodes: 127.0.41.1, .2, …
const OURS_BASE: Ipv4Addr = Ipv4Addr::new(127, 0, 41, 1);
/// How long a cluster may take to become ready (Samba needs about 9 s for
/// its first recovery).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The workspace, for building our daemon with the same profile.
const WORKSPACE_MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");

#[derive(Parser, Debug)]
#[command(name = "ctdb-bench", about = "Benchmark ctdb-rs against Samba's ctdbd on local clusters, side by side")]
struct Opts {
    /// Seconds-long run of the same path with tiny counts and 1 run each
    /// (still checking every result).
    #[arg(long)]
    smoke: bool,
    /// Runs of every workload per daemon (default 5, and 3 of each
    /// failover case; 1 with --smoke).
    #[arg(long)]
    runs: Option<usize>,
    /// Where to write the JSON results (default bench-results.json; with
    /// --smoke, target/bench-results-smoke.json).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Nodes per cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Which daemons to run.
    #[arg(long, value_enum, default_value_t = Daemons::Both)]
    daemons: Daemons,
    /// Only these workloads (comma-separated names, see --list). The
    /// failover workload runs only when named here.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Cases of the failover workload (comma-separated: kill, cut,
    /// shutdown, cut-keepalive-1-2, cut-leader; default all but
    /// cut-leader, only kill with --smoke).
    #[arg(long, value_delimiter = ',')]
    failover_cases: Vec<String>,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
    /// Payload bytes of every benchmark message (at least 24).
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Tokens each node keeps on the message ring.
    #[arg(long, default_value_t = 8)]
    ring_window: u32,
    /// Time limit of one run of one workload, in seconds (default 120; 30
    /// with --smoke). A run that takes longer fails.
    #[arg(long)]
    time_limit: Option<u64>,
    /// Worker threads of the clients' async runtime; 0 runs every client
    /// on the main thread.
    #[arg(long, default_value_t = 0)]
    client_threads: usize,
    /// Directory holding our `ctdbd` and `ctdb-local` (default: the
    /// directory of this executable, i.e. the same cargo target directory).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Do not run `cargo build` for ctdbd and ctdb-local first (it is run
    /// only when ctdb-bench itself runs under cargo).
    #[arg(long)]
    no_build: bool,
    /// Keep the clusters' directory (configuration, logs) afterwards; it
    /// is always kept after a failure.
    #[arg(long)]
    keep: bool,
    /// Keep idle CPUs from halting while measuring: a lowest-priority
    /// (SCHED_IDLE) spinner per CPU. On a virtual machine a halted CPU
    /// takes tens of microseconds to wake.
    #[arg(long)]
    spin: bool,
    /// Run the bench and every daemon on these CPUs only (e.g. `0`, or
    /// `0,1`): with one CPU no wake-up crosses CPUs, which on a virtual
    /// machine makes latencies stable (an inter-processor wake-up there
    /// costs about 20 µs each way).
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
    /// Skip the floor (to get to the workloads at once, e.g. for profiling).
    #[arg(long)]
    no_floor: bool,
    /// Records in the volatile database of volatile-recovery (default
    /// 1,000,000; 1,000 with --smoke).
    #[arg(long)]
    volatile_records: Option<u64>,
    /// Records in the persistent database of persistent-recovery (default
    /// 100,000; 200 with --smoke).
    #[arg(long)]
    persistent_records: Option<u64>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Daemons {
    Both,
    CtdbRs,
    Samba,
}

impl Daemons {
    fn kinds(self) -> Vec<Kind> {
        match self {
            Daemons::Both => vec![Kind::CtdbRs, Kind::Samba],
            Daemons::CtdbRs => vec![Kind::CtdbRs],
            Daemons::Samba => vec![Kind::Samba],
        }
    }
}

fn main() -> ExitCode {
    // A hot-key client process (see workload::hot_key), not the bench.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == workload::hot_key::WORKER_ARG) {
        return workload::hot_key::worker_main(&args[2..]);
    }
    // A persistent transaction client (see workload::transaction_loop).
    if args.get(1).is_some_and(|a| a == workload::transaction_loop::WORKER_ARG) {
        return workload::transaction_loop::worker_main(&args[2..]);
    }
    let opts = Opts::parse();
    // Before any thread or child exists, so that all of them inherit it.
    if !opts.cpus.is_empty() {
        if let Err(e) = pin_to(&opts.cpus) {
            eprintln!("ctdb-bench: --cpus: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    let rt = if opts.client_threads == 0 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(opts.client_threads).enable_all().build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ctdb-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The clusters are dropped (stopped) with the future when a signal
    // wins the race, before block_on returns.
    let result = rt.block_on(async {
        tokio::select! {
            r = run(&opts) => r,
            sig = interrupted() => Err(anyhow!("interrupted by {sig}; clusters stopped")),
        }
    });
    // A floor measurement may still run on a blocking thread; it is
    // bounded, but there is no point waiting for it.
    rt.shutdown_timeout(Duration::from_secs(1));
    if result.is_err() {
        // An interrupted failover measurement runs on a thread of its own:
        // let it tear its bed (namespaces, daemons) down before exiting.
        failover::interrupt(Duration::from_secs(60));
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctdb-bench: FAILED: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Restrict this process (and so every thread and child it starts later)
/// to `cpus`.
fn pin_to(cpus: &[usize]) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c).with_context(|| format!("no CPU {c}"))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).context("sched_setaffinity")?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() -> &'static str {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    match term {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Everything fixed before the first daemon starts.
struct Plan {
    smoke: bool,
    runs: usize,
    limit: Duration,
    nodes: usize,
    daemons: Vec<Kind>,
    workloads: Vec<Box<dyn Workload>>,
    /// The failover workload, when named in `--only`.
    failover: Option<failover::Plan>,
    floor: FloorSizes,
    /// Our binaries' directory and cargo profile, if ctdb-rs runs.
    ours: Option<(PathBuf, String)>,
    output: PathBuf,
    spin: bool,
    cpus: Vec<usize>,
    floor_runs: usize,
}

async fn run(opts: &Opts) -> Result<()> {
    let mut sizes = if opts.smoke {
        Sizes::smoke(opts.payload, opts.ring_window)
    } else {
        Sizes::full(opts.payload, opts.ring_window)
    };
    if let Some(r) = opts.volatile_records {
        sizes.recovery_records = r;
    }
    if let Some(r) = opts.persistent_records {
        sizes.persistent_records = r;
    }
    let all = workload::registry(&sizes);
    if opts.list {
        for w in &all {
            println!("{:<20} {}", w.name(), w.params());
        }
        println!(
            "{:<20} {{\"cases\":[{}],\"runs\":3}}   (only with --only {0}; root, network namespaces; also: {})",
            failover::NAME,
            failover::Case::DEFAULT.map(|c| format!("\"{}\"", c.key())).join(","),
            failover::Case::ALL
                .into_iter()
                .filter(|c| !failover::Case::DEFAULT.contains(c))
                .map(|c| c.key())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    if !(2..=250).contains(&opts.nodes) {
        bail!("--nodes must be between 2 and 250 (the ring and the remote control need a second node)");
    }
    if opts.payload < workload::STAMP_LEN {
        bail!("--payload must be at least {} bytes (the sequence stamp)", workload::STAMP_LEN);
    }
    for name in &opts.only {
        if name != failover::NAME && !all.iter().any(|w| w.name() == name) {
            bail!("no workload {name:?} (see --list)");
        }
    }
    let workloads: Vec<Box<dyn Workload>> =
        all.into_iter().filter(|w| opts.only.is_empty() || opts.only.iter().any(|o| o == w.name())).collect();
    let with_failover = opts.only.iter().any(|o| o == failover::NAME);
    if !opts.failover_cases.is_empty() && !with_failover {
        bail!("--failover-cases needs --only {}", failover::NAME);
    }
    let daemons = opts.daemons.kinds();
    let ours = if daemons.contains(&Kind::CtdbRs) { Some(our_binaries(opts)?) } else { None };
    let output = match (&opts.output, opts.smoke) {
        (Some(p), _) => p.clone(),
        (None, false) => PathBuf::from("bench-results.json"),
        (None, true) => target_dir().unwrap_or_default().join("bench-results-smoke.json"),
    };
    let runs = opts.runs.unwrap_or(if opts.smoke { 1 } else { 5 }).max(1);
    let failover = if with_failover {
        let cases = if !opts.failover_cases.is_empty() {
            opts.failover_cases.iter().map(|c| failover::Case::parse(c)).collect::<Result<Vec<_>>>()?
        } else if opts.smoke {
            vec![failover::Case::Kill]
        } else {
            failover::Case::DEFAULT.to_vec()
        };
        let daemons = daemons
            .iter()
            .map(|&k| match (k, &ours) {
                (Kind::Samba, _) => Ok((k, PathBuf::from(cluster::SAMBA_CTDBD))),
                (Kind::CtdbRs, Some((dir, _))) => Ok((k, dir.join("ctdbd"))),
                (Kind::CtdbRs, None) => Err(anyhow!("ctdb-rs binaries not resolved")),
            })
            .collect::<Result<Vec<_>>>()?;
        Some(failover::Plan { runs: opts.runs.unwrap_or(if opts.smoke { 1 } else { 3 }).max(1), cases, daemons })
    } else {
        None
    };
    let plan = Plan {
        smoke: opts.smoke,
        runs,
        limit: Duration::from_secs(opts.time_limit.unwrap_or(if opts.smoke { 30 } else { 120 })),
        nodes: opts.nodes,
        daemons,
        floor: floor_sizes(&sizes, opts.nodes)?,
        workloads,
        failover,
        ours,
        output,
        spin: opts.spin,
        cpus: opts.cpus.clone(),
        floor_runs: if opts.no_floor { 0 } else { runs },
    };
    if plan.ours.as_ref().is_some_and(|(_, p)| p == "dev") && !plan.smoke {
        eprintln!("ctdb-bench: WARNING: ctdb-rs is a debug build; use `cargo run --release -p ctdb-bench` for figures");
    }

    let work = tempfile::Builder::new().prefix("ctdb-bench.").tempdir().context("creating the work directory")?;
    let started = Instant::now();
    // The clusters live inside bench() and are stopped when it returns,
    // whatever it returns; `work` outlives them.
    match measure_all(&plan, work.path()).await {
        Ok(mut results) => {
            results.meta["duration_s"] = json!(started.elapsed().as_secs_f64());
            let text = serde_json::to_string_pretty(&results.json()).context("encoding the results")?;
            std::fs::write(&plan.output, text + "\n").with_context(|| format!("writing {}", plan.output.display()))?;
            print!("{}", results.table());
            println!("raw runs: {}   ({:.0} s in all)", plan.output.display(), started.elapsed().as_secs_f64());
            if opts.keep {
                println!("cluster directories kept in {}", work.keep().display());
            }
            Ok(())
        }
        Err(e) => {
            let kept = work.keep();
            Err(e.context(format!("cluster configuration and logs kept in {}", kept.display())))
        }
    }
}

/// What one whole run produced.
struct Results {
    meta: serde_json::Value,
    title: String,
    rows: Vec<Row>,
    floor_rows: Vec<Row>,
    /// The failover workload's table title and results, if it ran.
    failover: Option<(String, failover::Report)>,
}

impl Results {
    fn table(&self) -> String {
        let mut out = String::new();
        if !self.rows.is_empty() {
            out.push_str(&report::table(&self.title, &self.rows, &self.floor_rows));
        }
        if let Some((title, f)) = &self.failover {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&report::failover_table(title, &f.rows));
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        let mut v = self.meta.clone();
        let mut figures = self.rows.clone();
        if let Some((_, f)) = &self.failover {
            figures.extend(f.rows.iter().cloned());
            v["failover"] = f.json.clone();
        }
        v["figures"] = json!(figures);
        if !self.floor_rows.is_empty() {
            v["floor"]["figures"] = json!(self.floor_rows);
        }
        v
    }
}

/// The loopback workloads (if any were selected), then the failover
/// workload (if named), one after the other so neither disturbs the other.
async fn measure_all(plan: &Plan, dir: &Path) -> Result<Results> {
    let mut results = if plan.workloads.is_empty() {
        Results {
            meta: base_meta(plan),
            title: String::new(),
            rows: Vec::new(),
            floor_rows: Vec::new(),
            failover: None,
        }
    } else {
        bench(plan, dir).await?
    };
    if let Some(fp) = &plan.failover {
        let load_before = loadavg();
        let fp2 = fp.clone();
        // Blocking work (namespaces, processes, probe threads); an
        // interrupt reaches it through failover::interrupt.
        let mut report =
            tokio::task::spawn_blocking(move || failover::run(&fp2)).await.context("failover thread")??;
        let load_after = loadavg();
        report.json["loadavg_at_start"] = json!(load_before);
        report.json["loadavg_at_end"] = json!(load_after);
        let daemons: serde_json::Map<String, serde_json::Value> =
            fp.daemons.iter().map(|(k, _)| (k.key().to_string(), daemon_identity(*k, plan))).collect();
        report.json["daemon_versions"] = json!(daemons);
        let title = format!(
            "ctdb-bench failover{}: 3 nodes in network namespaces, 6 public addresses, each daemon with its own defaults \
             unless the case says otherwise; seconds from the fault, median [min-max] of {} run{} \
             (every run in the JSON file); load average {load_before} at start, {load_after} at end",
            if plan.smoke { " --smoke (1 run: figures mean little)" } else { "" },
            fp.runs,
            if fp.runs == 1 { "" } else { "s" },
        );
        results.failover = Some((title, report));
    }
    Ok(results)
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// What every results file says about the run and the machine.
fn base_meta(plan: &Plan) -> serde_json::Value {
    let started_unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "tool": "ctdb-bench",
        "version": env!("CARGO_PKG_VERSION"),
        "mode": if plan.smoke { "smoke" } else { "full" },
        "started_unix_s": started_unix,
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
            "loadavg_at_start": loadavg.trim(),
        },
    })
}

async fn bench(plan: &Plan, dir: &Path) -> Result<Results> {
    let mut meta = base_meta(plan);

    // Start both, then wait: Samba's first recovery takes most of the time.
    let start = Instant::now();
    let mut clusters: Vec<Cluster> = Vec::new();
    for &kind in &plan.daemons {
        eprintln!("ctdb-bench: starting {} nodes of {kind}", plan.nodes);
        let cluster = match (kind, &plan.ours) {
            (Kind::Samba, _) => Cluster::start_samba(&dir.join("samba"), plan.nodes, SAMBA_BASE)?,
            (Kind::CtdbRs, Some((bin_dir, _))) => {
                Cluster::start_ours(&dir.join("ctdb-rs"), plan.nodes, OURS_BASE, bin_dir)?
            }
            (Kind::CtdbRs, None) => bail!("ctdb-rs binaries not resolved"),
        };
        clusters.push(cluster);
    }
    for c in &mut clusters {
        c.wait_ready(READY_TIMEOUT).await?;
        eprintln!("ctdb-bench: {} ready {:.1} s after start", c.kind(), start.elapsed().as_secs_f64());
    }
    let idle_memory: BTreeMap<Kind, Vec<procfs::Memory>> =
        clusters.iter().map(|c| Ok((c.kind(), c.memory()?))).collect::<Result<_>>()?;

    // From here on everything is measured; the spinners stop with `awake`.
    let awake = if plan.spin { Some(awake::Awake::start().context("keeping CPUs awake")?) } else { None };

    // The floor, with both clusters up and idle, as during the workloads.
    let floor_metrics = floor::metrics(&plan.floor);
    let mut floor_runs: Vec<Vec<f64>> = vec![Vec::new(); floor_metrics.len()];
    for r in 0..plan.floor_runs {
        let (sizes, fdir, limit) = (plan.floor.clone(), dir.to_path_buf(), plan.limit);
        let values = tokio::task::spawn_blocking(move || floor::run(&sizes, &fdir, limit))
            .await
            .context("floor thread")?
            .context("floor")?;
        for (runs, v) in floor_runs.iter_mut().zip(values) {
            runs.push(v);
        }
        eprintln!("ctdb-bench: [{}/{}] floor done", r + 1, plan.floor_runs);
    }
    let floor_summaries: BTreeMap<String, Summary> = floor_metrics
        .iter()
        .zip(&floor_runs)
        .filter_map(|(m, runs)| Some((m.key.clone(), Summary::of(runs)?)))
        .collect();

    // Every figure of every workload (its own, then what the harness
    // measures around it), with the runs of each daemon.
    let mut figures: Vec<(Metric, BTreeMap<Kind, Vec<f64>>)> = Vec::new();
    let mut first_figure: Vec<usize> = Vec::new();
    for w in &plan.workloads {
        first_figure.push(figures.len());
        let name = w.name();
        let per = |what: &str| format!("{name}: {what} per 100k {}", w.unit_noun());
        figures.extend(w.metrics().into_iter().map(|m| (m, BTreeMap::new())));
        figures.extend(
            [
                Metric::new(format!("{name}.cpu"), per("daemon CPU"), Unit::CpuMs, Better::Lower),
                Metric::new(format!("{name}.switches"), per("daemon context switches"), Unit::Count, Better::Lower),
                Metric::new(format!("{name}.client_cpu"), per("bench clients' CPU"), Unit::CpuMs, Better::Lower),
            ]
            .into_iter()
            .map(|m| (m, BTreeMap::new())),
        );
    }
    // How much of the machine other processes took while each daemon ran:
    // the figures are only as good as the machine was quiet.
    let mut other_load: BTreeMap<Kind, Vec<f64>> = BTreeMap::new();
    for r in 0..plan.runs {
        for (wi, w) in plan.workloads.iter().enumerate() {
            // Alternate who goes first, so that neither daemon always runs
            // on a machine just warmed (or disturbed) by the other.
            let mut order: Vec<usize> = (0..clusters.len()).collect();
            if r % 2 == 1 {
                order.reverse();
            }
            for ci in order {
                let kind = clusters[ci].kind();
                let before = Usage::now(&clusters)?;
                let run = run_one(w.as_ref(), &mut clusters[ci], plan.limit)
                    .await
                    .with_context(|| format!("{} on {kind} (run {} of {})", w.name(), r + 1, plan.runs))?;
                other_load.entry(kind).or_default().push(Usage::now(&clusters)?.others_share_since(&before));
                let first = first_figure[wi];
                let values = run.values.iter().copied().chain([run.cpu_ms, run.switches, run.client_cpu_ms]);
                for (k, v) in values.enumerate() {
                    figures[first + k].1.entry(kind).or_default().push(v);
                }
                let (m, v) = (&figures[first].0, run.values.first().copied().unwrap_or_default());
                eprintln!(
                    "ctdb-bench: [{}/{}] {:<20} {:<8} {} {}",
                    r + 1,
                    plan.runs,
                    w.name(),
                    kind,
                    report::value(v, m.unit),
                    m.unit.label()
                );
            }
        }
    }

    drop(awake);
    figures.push((
        Metric::new(
            "machine.other_load".into(),
            "CPU share other processes took during the runs".into(),
            Unit::Percent,
            Better::Lower,
        ),
        other_load,
    ));

    // Memory after the load, then stop: a failure to stop is reported.
    let mut memory_rows = vec![
        (
            Metric::new(
                "memory.rss_idle".into(),
                "daemon RSS when idle, largest node".into(),
                Unit::MiB,
                Better::Lower,
            ),
            BTreeMap::new(),
        ),
        (
            Metric::new(
                "memory.rss_after".into(),
                "daemon RSS after the runs, largest node".into(),
                Unit::MiB,
                Better::Lower,
            ),
            BTreeMap::new(),
        ),
        (
            Metric::new("memory.hwm".into(), "daemon peak RSS (VmHWM), largest node".into(), Unit::MiB, Better::Lower),
            BTreeMap::new(),
        ),
    ];
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut daemons_meta = serde_json::Map::new();
    for c in &mut clusters {
        c.check_alive()?;
        let after = c.memory()?;
        let idle = idle_memory.get(&c.kind()).cloned().unwrap_or_default();
        let max = |v: &[procfs::Memory], f: fn(&procfs::Memory) -> u64| v.iter().map(f).max().unwrap_or(0);
        memory_rows[0].1.insert(c.kind(), vec![mib(max(&idle, |m| m.rss_kib))]);
        memory_rows[1].1.insert(c.kind(), vec![mib(max(&after, |m| m.rss_kib))]);
        memory_rows[2].1.insert(c.kind(), vec![mib(max(&after, |m| m.hwm_kib))]);
        daemons_meta.insert(c.kind().key().into(), daemon_meta(c, plan, &idle, &after));
    }
    for mut c in clusters {
        c.stop().with_context(|| format!("stopping the {} cluster", c.kind()))?;
    }
    figures.extend(memory_rows);

    let rows: Vec<Row> = figures.into_iter().map(|(m, runs)| Row::new(m, &runs, &floor_summaries)).collect();
    let floor_rows: Vec<Row> = floor_metrics
        .into_iter()
        .zip(floor_runs)
        .map(|(m, runs)| Row::new(m, &BTreeMap::from([(Kind::CtdbRs, runs)]), &BTreeMap::new()))
        .map(|mut r| {
            // The floor belongs to neither daemon.
            if let Some(s) = r.results.remove(Kind::CtdbRs.key()) {
                r.results.insert("floor", s);
            }
            r
        })
        .collect();
    let mut setup = String::new();
    if !plan.cpus.is_empty() {
        setup.push_str(&format!(", all on CPU {:?}", plan.cpus));
    }
    if plan.spin {
        setup.push_str(", idle CPUs kept spinning");
    }
    let title = format!(
        "ctdb-bench{}: {} nodes each, median of {} run{}{setup} (min, max and every run in the JSON file)",
        if plan.smoke { " --smoke (tiny counts: figures mean nothing)" } else { "" },
        plan.nodes,
        plan.runs,
        if plan.runs == 1 { "" } else { "s" }
    );
    let more = json!({
        "nodes": plan.nodes,
        "runs": plan.runs,
        "time_limit_s": plan.limit.as_secs(),
        "cpus_kept_awake": plan.spin,
        "pinned_to_cpus": plan.cpus,
        "daemons": daemons_meta,
        "workloads": plan.workloads.iter().map(|w| json!({
            "name": w.name(), "params": w.params(), "unit": w.unit_noun(), "opens_database_files": w.uses_databases(),
        })).collect::<Vec<_>>(),
        "floor": { "sizes": plan.floor },
    });
    if let (Some(m), serde_json::Value::Object(more)) = (meta.as_object_mut(), more) {
        m.extend(more);
    }
    Ok(Results { meta, title, rows, floor_rows, failover: None })
}

/// CPU time of the machine, of this process (clients, spinners, floor,
/// and the worker processes and tools it waited for) and of every daemon
/// under test, at one moment.
struct Usage {
    busy: Duration,
    total: Duration,
    ours: Duration,
}

impl Usage {
    fn now(clusters: &[Cluster]) -> Result<Usage> {
        let (busy, total) = procfs::machine_cpu()?;
        let me = i32::try_from(std::process::id()).context("pid out of range")?;
        // Worker processes and tools a workload ran (and waited for) are ours too.
        let mut ours = procfs::cpu_time(me)? + procfs::children_cpu_time(me)?;
        for c in clusters {
            ours += c.cpu_time()?;
        }
        Ok(Usage { busy, total, ours })
    }

    /// Percent of all CPUs that processes other than the bench and its
    /// daemons used since `before`.
    fn others_share_since(&self, before: &Usage) -> f64 {
        let total = self.total.saturating_sub(before.total).as_secs_f64();
        let others =
            self.busy.saturating_sub(before.busy).saturating_sub(self.ours.saturating_sub(before.ours)).as_secs_f64();
        if total > 0.0 {
            100.0 * others / total
        } else {
            0.0
        }
    }
}

/// What one run of one workload on one cluster measured.
struct RunResult {
    /// The workload's own figures.
    values: Vec<f64>,
    /// The daemons' CPU time per 100k units, in ms.
    cpu_ms: f64,
    /// The daemons' context switches per 100k units.
    switches: f64,
    /// The bench clients' CPU time per 100k units, in ms: the same client
    /// code for both daemons; close to a whole CPU, the client and not the
    /// daemon sets the pace.
    client_cpu_ms: f64,
}

/// One run of one workload on one cluster, with the harness's own
/// measurements around it.
async fn run_one(w: &dyn Workload, c: &mut Cluster, limit: Duration) -> Result<RunResult> {
    let nodes = c.nodes();
    let me = i32::try_from(std::process::id()).context("pid out of range")?;
    // Worker processes a workload started and waited for count as clients.
    let client_before = procfs::cpu_time_of_threads(me, awake::THREAD_PREFIX)? + procfs::children_cpu_time(me)?;
    let switches_before = c.context_switches()?;
    let cpu_before = c.cpu_time()?;
    // The workload bounds itself; this only guards against one that forgot.
    let outcome = match tokio::time::timeout(limit + Duration::from_secs(10), w.run(&nodes, limit)).await {
        Ok(r) => r?,
        Err(_) => bail!("did not finish within {limit:?}"),
    };
    let cpu = c.cpu_time()?.saturating_sub(cpu_before);
    let switches = c.context_switches()?.saturating_sub(switches_before);
    let client = (procfs::cpu_time_of_threads(me, awake::THREAD_PREFIX)? + procfs::children_cpu_time(me)?)
        .saturating_sub(client_before);
    // A daemon that crashed under load must not pass.
    c.check_alive()?;
    if outcome.values.len() != w.metrics().len() {
        bail!("reported {} figures, declared {}", outcome.values.len(), w.metrics().len());
    }
    let per_100k = |x: f64| if outcome.units == 0 { 0.0 } else { x * 100_000.0 / outcome.units as f64 };
    Ok(RunResult {
        cpu_ms: per_100k(cpu.as_secs_f64() * 1000.0),
        switches: per_100k(switches as f64),
        client_cpu_ms: per_100k(client.as_secs_f64() * 1000.0),
        values: outcome.values,
    })
}

fn daemon_meta(c: &Cluster, plan: &Plan, idle: &[procfs::Memory], after: &[procfs::Memory]) -> serde_json::Value {
    let kib = |v: &[procfs::Memory]| {
        v.iter().map(|m| json!({"rss_kib": m.rss_kib, "hwm_kib": m.hwm_kib})).collect::<Vec<_>>()
    };
    let mut v = json!({
        "addresses": c.addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "pids": c.pids(),
        "memory_idle": kib(idle),
        "memory_after": kib(after),
    });
    if let (Some(v), serde_json::Value::Object(id)) = (v.as_object_mut(), daemon_identity(c.kind(), plan)) {
        v.extend(id);
    }
    v
}

/// Which daemon was measured: its binary, and its package version or git
/// commit (and whether the tree had uncommitted changes).
fn daemon_identity(kind: Kind, plan: &Plan) -> serde_json::Value {
    let mut v = json!({});
    match kind {
        Kind::Samba => {
            v["ctdbd"] = json!(cluster::SAMBA_CTDBD);
            v["package_version"] = json!(command_output("dpkg-query", &["-W", "-f=${Version}", "ctdb"]));
        }
        Kind::CtdbRs => {
            if let Some((dir, profile)) = &plan.ours {
                v["ctdbd"] = json!(dir.join("ctdbd"));
                v["cargo_profile"] = json!(profile);
                // ctdbd falls back to Samba's helper when ours is not beside it.
                let helper = dir.join("ctdb_mutex_fcntl_helper");
                v["cluster_lock_helper"] =
                    if helper.exists() { json!(helper) } else { json!("/usr/libexec/ctdb/ctdb_mutex_fcntl_helper") };
            }
            let manifest_dir = env!("CARGO_MANIFEST_DIR");
            v["git_commit"] = json!(command_output("git", &["-C", manifest_dir, "rev-parse", "HEAD"]));
            v["git_dirty"] =
                json!(command_output("git", &["-C", manifest_dir, "status", "--porcelain"]).map(|s| !s.is_empty()));
        }
    }
    v
}

/// Trimmed standard output of a command that succeeded.
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The cargo target directory this executable was built into (the parent
/// of its profile directory).
fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.to_path_buf())
}

/// Where our `ctdbd` and `ctdb-local` are, and the cargo profile they were
/// built with. Under `cargo run` they are (re)built first with the same
/// profile as this executable, so the daemon measured is the current code.
fn our_binaries(opts: &Opts) -> Result<(PathBuf, String)> {
    let (dir, profile) = match &opts.bin_dir {
        Some(d) => (d.clone(), "given".to_string()),
        None => {
            let exe = std::env::current_exe().context("locating this executable")?;
            let dir = exe.parent().context("executable has no directory")?.to_path_buf();
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("release");
            // cargo's `dev` profile builds into target/debug.
            let profile = if name == "debug" { "dev" } else { name }.to_string();
            if !opts.no_build {
                if let Some(cargo) = std::env::var_os("CARGO") {
                    eprintln!("ctdb-bench: building ctdbd, its lock helper and ctdb-local (cargo profile {profile})");
                    let status = Command::new(cargo)
                        .args(["build", "--quiet", "--profile", &profile])
                        .args([
                            "-p",
                            "ctdb-masterd",
                            "-p",
                            "ctdb-databased",
                            "-p",
                            "ctdb-cluster-lock",
                            "-p",
                            "ctdb-local",
                        ])
                        .arg("--manifest-path")
                        .arg(WORKSPACE_MANIFEST)
                        .status()
                        .context("running cargo build")?;
                    if !status.success() {
                        bail!("cargo build of ctdbd and ctdb-local failed ({status})");
                    }
                }
            }
            (dir, profile)
        }
    };
    for bin in ["ctdbd", "ctdb-local"] {
        if !dir.join(bin).exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p ctdb-masterd -p ctdb-cluster-lock -p ctdb-local`, \
                 or run the bench with `cargo run --release -p ctdb-bench`, which builds it",
                dir.join(bin).display()
            );
        }
    }
    Ok((dir, profile))
}

/// Wire sizes of what the workloads send, for the floor.
fn floor_sizes(sizes: &Sizes, nodes: usize) -> Result<FloorSizes> {
    let ping = Frame::new(
        Packet::ReqControl(ReqControl { opcode: Opcode::PING, srvid: 0, client_id: 0, flags: 0, data: Vec::new() }),
        pnn::CURRENT_NODE,
        0,
        1,
    );
    let message = Frame::new(Packet::ReqMessage(ReqMessage { srvid: 0, data: vec![0; sizes.payload] }), 1, 0, 0);
    Ok(FloorSizes {
        control_bytes: ping.try_encode(true)?.len(),
        message_bytes: message.try_encode(true)?.len(),
        round_trips: sizes.controls,
        many_clients: sizes.concurrent_clients,
        per_client: sizes.controls_per_client,
        nodes: nodes.max(2),
        ring_window: sizes.ring_window,
        ring_laps: sizes.ring_laps,
        fanout_messages: sizes.broadcasts,
    })
}
