//! Hot keys: many clients on every node fetch-lock and increment the same
//! few records at once.
//!
//! Every client is a process of its own, as every smbd is: libtdb allows
//! one open of a file per process and its chain locks (fcntl locks or
//! mutexes) do not exclude threads of one process from each other, so
//! clients sharing a process would not contend the way smbds do. The
//! workers are this executable started again with [`WORKER_ARG`]; each
//! connects to its node, opens `bench_hot_key.tdb` ([`VolatileDb`]), says
//! `ready`, and on `go` makes its increments: fetch-lock (migrating the
//! record here if another node holds it), read the u64 counter, store it
//! plus one, unlock. Client `w` takes key `(w + i) mod keys` for its
//! `i`-th increment, so every key has clients of every node on it.
//!
//! Measured: increments per second from `go` until every worker is done,
//! the latency of one fetch-lock (until the chain lock is held with this
//! node as dmaster, migrations included), over all clients, and the share
//! of fetch-locks that had to ask the daemon for a migration (a daemon
//! that lets a node's own clients keep a record scores fewer migrations
//! and a lower median, and makes the other nodes' clients wait: the p99).
//! Each client makes enough increments for the run to last about a second
//! on this machine.
//!
//! Checked: each worker never reads a counter below what it stored itself
//! for that key (an update lost to a concurrent holder shows); at the end
//! every key's counter, read with a fetch-lock from node 0, equals the
//! increments made on it. The workers' CPU time counts as the bench
//! clients' (the harness adds the CPU of children it has waited for).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::record::VolatileDb;
use ctdb_client::Client;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::db::{decode_counter, encode_counter, fresh_tag, op_timeout};
use super::worker::{self, Worker};
use super::{Better, BoxFuture, Deadline, Metric, Nodes, Outcome, Unit, Workload};
use crate::stats::{rate, Latencies};

/// The database the hot keys live in.
pub const DB_NAME: &str = "bench_hot_key.tdb";
/// First argument that makes `ctdb-bench` a hot-key worker.
pub const WORKER_ARG: &str = "__hot-key-worker";

/// The hot-key workload.
#[derive(Debug)]
pub struct HotKey {
    per_node: usize,
    keys: usize,
    per_client: u64,
}

impl HotKey {
    /// `per_node` clients on every node, `per_client` increments each,
    /// spread over `keys` records.
    pub fn new(per_node: usize, keys: usize, per_client: u64) -> HotKey {
        HotKey { per_node: per_node.max(1), keys: keys.max(1), per_client: per_client.max(1) }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let deadline = Deadline::after(limit);
        let n = nodes.len();
        let clients = n * self.per_node;
        let prefix = format!("hot-key-{}-", fresh_tag());
        let exe = std::env::current_exe().context("locating ctdb-bench for the workers")?;

        let mut workers = Vec::with_capacity(clients);
        for w in 0..clients {
            let pnn = w % n;
            let args = WorkerArgs {
                socket: nodes.sockets[pnn].clone(),
                pnn: u32::try_from(pnn).context("pnn")?,
                prefix: prefix.clone(),
                keys: self.keys,
                count: self.per_client,
                index: w,
                limit_ms: u64::try_from(deadline.remaining().as_millis()).unwrap_or(u64::MAX),
            };
            workers.push(Worker::spawn(&exe, args.to_args()).with_context(|| format!("starting hot-key worker {w}"))?);
        }
        for (w, worker) in workers.iter_mut().enumerate() {
            worker
                .ready(&deadline, "hot-key workers getting ready")
                .await
                .with_context(|| format!("hot-key worker {w}"))?;
        }

        let start = Instant::now();
        for worker in &mut workers {
            worker.go().await?;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (w, worker) in workers.into_iter().enumerate() {
            tasks.spawn(async move { (w, finish(worker).await) });
        }
        let mut all = Latencies::with_capacity(clients * usize::try_from(self.per_client).unwrap_or(0));
        let mut migrations = 0u64;
        let mut failure = None;
        while let Some(joined) = deadline.wait("hot-key workers", tasks.join_next()).await? {
            let (w, result) = joined.context("hot-key worker task")?;
            match result {
                Ok((lat, m)) => {
                    all.merge(lat);
                    migrations += m;
                }
                Err(e) => {
                    failure.get_or_insert(e.context(format!("hot-key worker {w}")));
                }
            }
        }
        let elapsed = start.elapsed();
        if let Some(e) = failure {
            return Err(e);
        }
        let total = self.per_client * clients as u64;
        if all.len() as u64 != total {
            bail!("hot keys: {} fetch-locks measured, {total} made", all.len());
        }

        // Every key's counter, fetched to node 0, counts its increments.
        let c = deadline.wait("connecting the checking client", nodes.connect(0)).await??;
        let mut db = VolatileDb::attach(&c, DB_NAME, op_timeout(&deadline, "attaching")?).await?;
        for k in 0..self.keys {
            let key = key_name(&prefix, k);
            let expected = (0..clients).map(|w| increments_on(k, w, self.keys, self.per_client)).sum::<u64>();
            let locked = db.fetch_locked(&c, &key, op_timeout(&deadline, "final fetch-lock")?).await?;
            let count = decode_counter(&locked.data).with_context(|| format!("hot key {k}"))?;
            if count != expected {
                bail!("hot key {k}: the counter ends at {count}, but {expected} increments were made on it");
            }
        }
        drop(db);
        c.close().await;
        Ok(Outcome {
            values: vec![
                rate(total, elapsed),
                all.percentile_us(50.0),
                all.percentile_us(99.0),
                100.0 * migrations as f64 / total as f64,
            ],
            units: total,
        })
    }
}

fn key_name(prefix: &str, k: usize) -> Vec<u8> {
    format!("{prefix}{k}").into_bytes()
}

/// How many of worker `w`'s `count` increments go to key `k` (worker `w`
/// takes key `(w + i) mod keys` for its `i`-th).
fn increments_on(k: usize, w: usize, keys: usize, count: u64) -> u64 {
    let keys64 = keys as u64;
    // The first i with (w + i) mod keys == k, then every keys-th.
    let first = ((k + keys - w % keys) % keys) as u64;
    if first >= count {
        0
    } else {
        (count - first).div_ceil(keys64)
    }
}

/// What a worker is told on its command line.
#[derive(Clone, Debug, PartialEq)]
struct WorkerArgs {
    socket: PathBuf,
    pnn: u32,
    prefix: String,
    keys: usize,
    count: u64,
    index: usize,
    limit_ms: u64,
}

impl WorkerArgs {
    fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = vec![WORKER_ARG.into(), self.socket.clone().into()];
        for s in [
            self.pnn.to_string(),
            self.prefix.clone(),
            self.keys.to_string(),
            self.count.to_string(),
            self.index.to_string(),
            self.limit_ms.to_string(),
        ] {
            v.push(s.into());
        }
        v
    }

    fn parse(args: &[std::ffi::OsString]) -> Result<WorkerArgs> {
        let [socket, pnn, prefix, keys, count, index, limit_ms] = args else {
            bail!("usage: ctdb-bench {WORKER_ARG} SOCKET PNN PREFIX KEYS COUNT INDEX LIMIT_MS");
        };
        let s = |a: &std::ffi::OsString| a.to_str().map(str::to_string).context("argument is not UTF-8");
        Ok(WorkerArgs {
            socket: PathBuf::from(socket),
            pnn: s(pnn)?.parse().context("PNN")?,
            prefix: s(prefix)?,
            keys: s(keys)?.parse().context("KEYS")?,
            count: s(count)?.parse().context("COUNT")?,
            index: s(index)?.parse().context("INDEX")?,
            limit_ms: s(limit_ms)?.parse().context("LIMIT_MS")?,
        })
    }
}

/// Wait for a worker's results (latencies, fetch-locks that needed a
/// migration) and its successful exit.
async fn finish(mut worker: Worker) -> Result<(Latencies, u64)> {
    let migrated = worker.expect_u64("migrated").await?;
    let lat = worker.expect_latencies("lat").await?;
    worker.exited().await?;
    Ok((lat, migrated))
}

/// `ctdb-bench __hot-key-worker …`: one hot-key client (see the module
/// documentation). Prints `ready`, waits for `go` on stdin, then prints
/// `migrated N` (fetch-locks that asked for a migration) and `lat` with
/// its fetch-lock latencies in nanoseconds; a failure goes to stderr with
/// exit status 1.
pub fn worker_main(args: &[std::ffi::OsString]) -> ExitCode {
    worker::worker_main(|| {
        let args = WorkerArgs::parse(args)?;
        Ok(async move { run_worker(&args).await })
    })
}

async fn run_worker(args: &WorkerArgs) -> Result<()> {
    let deadline = Deadline::after(Duration::from_millis(args.limit_ms));
    let client = deadline.wait("connecting", Client::connect(&args.socket)).await??;
    if client.pnn() != args.pnn {
        bail!("the daemon on {} says it is pnn {}, not {}", args.socket.display(), client.pnn(), args.pnn);
    }
    let mut db = VolatileDb::attach(&client, DB_NAME, op_timeout(&deadline, "attaching")?).await?;
    let keys: Vec<Vec<u8>> = (0..args.keys).map(|k| key_name(&args.prefix, k)).collect();
    let mut stored = vec![0u64; args.keys];
    let mut lat = Latencies::with_capacity(usize::try_from(args.count).unwrap_or(0));
    let mut migrated = 0u64;

    worker::ready_then_go(&deadline).await?;

    for i in 0..args.count {
        let k = (args.index + usize::try_from(i).unwrap_or(0)) % args.keys;
        let t = Instant::now();
        let mut locked = db
            .fetch_locked(&client, &keys[k], op_timeout(&deadline, "fetch-lock")?)
            .await
            .with_context(|| format!("fetch-lock of hot key {k}"))?;
        lat.record(t.elapsed());
        if locked.migrations > 0 {
            migrated += 1;
        }
        let count = decode_counter(&locked.data).with_context(|| format!("hot key {k}"))?;
        if count < stored[k] {
            bail!("hot key {k} holds {count}, but this client stored {} there earlier: an update was lost", stored[k]);
        }
        locked.store(&encode_counter(count + 1)).with_context(|| format!("storing hot key {k}"))?;
        stored[k] = count + 1;
    }
    drop(db);
    client.close().await;

    let out = format!("migrated {migrated}\n{}", worker::latency_line("lat", &lat));
    let mut stdout = tokio::io::stdout();
    stdout.write_all(out.as_bytes()).await?;
    stdout.flush().await?;
    Ok(())
}

impl Workload for HotKey {
    fn name(&self) -> &'static str {
        "hot-key"
    }

    fn params(&self) -> serde_json::Value {
        json!({
            "database": DB_NAME,
            "clients_per_node": self.per_node,
            "keys": self.keys,
            "increments_per_client": self.per_client,
            "clients": "one process each",
        })
    }

    fn metrics(&self) -> Vec<Metric> {
        let what = format!("hot keys, {} clients per node on {} keys", self.per_node, self.keys);
        let key = |k: &str| format!("hot-key.{k}");
        let lat = |p: &str| Metric::new(key(p), format!("{what}: {p} fetch-lock"), Unit::Micros, Better::Lower);
        vec![
            Metric::new(key("rate"), format!("{what}: increments"), Unit::PerSecond, Better::Higher),
            lat("p50"),
            lat("p99"),
            Metric::new(key("migrated"), format!("{what}: fetch-locks that migrated"), Unit::Percent, Better::Lower),
        ]
    }

    fn unit_noun(&self) -> &'static str {
        "increments"
    }

    fn run<'a>(&'a self, nodes: &'a Nodes, limit: Duration) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(self.run_inner(nodes, limit))
    }

    fn uses_databases(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_per_key_add_up_and_match_the_workers_choice() {
        for (keys, count) in [(3, 10), (3, 1), (1, 5), (4, 7)] {
            for w in 0..12 {
                let mut by_key = vec![0u64; keys];
                for i in 0..count {
                    by_key[(w + i as usize) % keys] += 1;
                }
                for (k, n) in by_key.iter().enumerate() {
                    assert_eq!(increments_on(k, w, keys, count), *n, "keys {keys} count {count} w {w} k {k}");
                }
            }
        }
    }

    #[test]
    fn worker_arguments_round_trip() {
        let a = WorkerArgs {
            socket: PathBuf::from("/tmp/x/ctdbd.socket"),
            pnn: 2,
            prefix: "hot-key-1f-3-".into(),
            keys: 3,
            count: 1000,
            index: 7,
            limit_ms: 120_000,
        };
        let argv = a.to_args();
        assert_eq!(argv[0], WORKER_ARG);
        assert_eq!(WorkerArgs::parse(&argv[1..]).unwrap(), a);
        assert!(WorkerArgs::parse(&argv[2..]).is_err());
    }
}
