//! Transaction loop: one client per node commits increments of one
//! counter in one persistent database, in turn, like Samba's
//! `transaction_loop` test tool (which keeps one counter per node in the
//! record; here it is one counter for all, so that every commit must see
//! every earlier one).
//!
//! Every client is a process of its own, as every smbd is (see
//! [`super::hot_key`] for why threads of one process would not contend
//! the same way): this executable started again with [`WORKER_ARG`]. It
//! connects to its node, attaches `bench_transaction.tdb`
//! ([`PersistentDb`]), says `ready`, and on `go` loops: start a
//! transaction ([`Transaction::start`]: the database's g_lock in
//! `g_lock.tdb`, migrated to this node and waited for while another
//! node's client holds it), read the u64 counter from this node's copy,
//! store it plus one, commit (TRANS3_COMMIT, which the daemon applies on
//! every node before it replies; then the g_lock entry is removed). The
//! client library is the same for both daemons.
//!
//! Bounded by count and time: a client stops when it reads a counter of
//! `commits` or more (so the clients make exactly `commits` together) or
//! once `seconds` have passed since `go`, whichever comes first.
//!
//! Measured: commits per second from `go` until every client is done, and
//! the latency of one transaction (start to commit returned, g_lock waits
//! included: p50, p99) and of its commit alone (TRANS3_COMMIT and the
//! unlock: p50), over all clients; the difference is the wait for the
//! g_lock. How the commits spread over the clients goes to stderr (the
//! client library backs off up to 100 ms while the lock is taken, so a
//! client can go without a turn for a while).
//!
//! Checked: a client never reads a counter below the one it committed
//! last; at the end, every node's file holds the counter at exactly the
//! number of commits the clients made, and its `__db_sequence_number__`
//! grew by exactly that many. A mismatch is a correctness bug in the
//! daemon (a lost or doubled commit) and fails the run.
//!
//! With `own_db` (`transaction-loop-own`), each client has a database of
//! its own (`bench_transaction_<pnn>.tdb`), so the clients never wait for
//! each other's g_lock; the commits still reach every node. Each stops at
//! `commits / nodes`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::persistent::{PersistentDb, Transaction};
use ctdb_client::Client;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::db::{decode_counter, encode_counter, fresh_tag, op_timeout};
use super::worker::{self, Worker};
use super::{Better, BoxFuture, Deadline, Goal, Metric, Nodes, Outcome, Unit, Workload};
use crate::stats::{rate, Latencies};

/// The persistent database the shared counter lives in.
pub const DB_NAME: &str = "bench_transaction.tdb";
/// First argument that makes `ctdb-bench` a transaction client.
pub const WORKER_ARG: &str = "__transaction-worker";

/// The database of client `pnn` in the `own_db` variant.
fn own_db_name(pnn: usize) -> String {
    format!("bench_transaction_{pnn}.tdb")
}

/// The transaction-loop workload.
#[derive(Debug)]
pub struct TransactionLoop {
    commits: u64,
    seconds: u64,
    own_db: bool,
}

impl TransactionLoop {
    /// One client per node, `commits` in all or `seconds`, whichever ends
    /// first; on one database and counter, or (`own_db`) one each.
    pub fn new(commits: u64, seconds: u64, own_db: bool) -> TransactionLoop {
        TransactionLoop { commits: commits.max(1), seconds: seconds.max(1), own_db }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let deadline = Deadline::after(limit);
        let n = nodes.len();
        let key = format!("txloop-{}", fresh_tag());
        let specs: Vec<ClientSpec> = (0..n)
            .map(|pnn| ClientSpec {
                pnn,
                db: if self.own_db { own_db_name(pnn) } else { DB_NAME.to_string() },
                key: key.clone(),
                stop_at: if self.own_db { (self.commits / n as u64).max(1) } else { self.commits },
            })
            .collect();
        let mut run = run_clients(nodes, &specs, Duration::from_secs(self.seconds), &deadline).await?;
        let total = run.commits();
        if total == 0 {
            bail!("transaction loop: no commit within {} s", self.seconds);
        }
        // The counter's highest value is the number of commits (each
        // client's last one is its own).
        let top = run.clients.iter().map(|c| c.last).max().unwrap_or_default();
        if self.own_db {
            if let Some((i, c)) = run.clients.iter().enumerate().find(|(_, c)| c.last != c.commits) {
                bail!(
                    "CORRECTNESS: client {i} made {} commits on its own counter, the last one stored {}",
                    c.commits,
                    c.last
                );
            }
        } else if top != total {
            bail!("CORRECTNESS: the clients made {total} commits, but the highest counter any of them stored is {top}");
        }
        if self.own_db {
            for (s, r) in specs.iter().zip(&run.clients) {
                check_nodes(nodes, &s.db, &s.key, r.commits, &run.seqnums[&s.db], &deadline).await?;
            }
        } else {
            check_nodes(nodes, DB_NAME, &key, total, &run.seqnums[DB_NAME], &deadline).await?;
        }
        let per_client: Vec<u64> = run.clients.iter().map(|c| c.commits).collect();
        eprintln!("ctdb-bench: {}: commits per client (node order) {per_client:?}", self.name());
        Ok(Outcome {
            values: vec![
                rate(total, run.elapsed),
                run.lat.percentile_us(50.0),
                run.lat.percentile_us(99.0),
                run.commit_lat.percentile_us(50.0),
            ],
            units: total,
        })
    }
}

/// One client process to start.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// Its node.
    pub pnn: usize,
    /// The persistent database.
    pub db: String,
    /// The counter's key.
    pub key: String,
    /// Stop on reading a counter this high.
    pub stop_at: u64,
}

/// What one client reported.
#[derive(Debug)]
pub struct ClientResult {
    /// Transactions it committed.
    pub commits: u64,
    /// The counter it committed last (0: none).
    pub last: u64,
}

/// What a set of clients did.
#[derive(Debug)]
pub struct ClientsRun {
    /// Per client, in the order of the specs.
    pub clients: Vec<ClientResult>,
    /// From `go` until every client was done.
    pub elapsed: Duration,
    /// Whole transactions (start to commit returned), all clients.
    pub lat: Latencies,
    /// Commits alone (TRANS3_COMMIT and unlock), all clients.
    pub commit_lat: Latencies,
    /// Every database's sequence number before `go`, per node.
    pub seqnums: std::collections::BTreeMap<String, Vec<u64>>,
}

impl ClientsRun {
    /// Commits of all clients.
    pub fn commits(&self) -> u64 {
        self.clients.iter().map(|c| c.commits).sum()
    }
}

/// Every node's sequence number of `db` (read from its file).
async fn seqnums(nodes: &Nodes, db: &str, deadline: &Deadline) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(nodes.len());
    for pnn in 0..nodes.len() {
        let c = deadline.wait("connecting", nodes.connect(pnn)).await??;
        let p = PersistentDb::attach(&c, db, false, op_timeout(deadline, "attaching")?)
            .await
            .with_context(|| format!("node {pnn}: attaching {db} persistent"))?;
        out.push(p.seqnum().with_context(|| format!("node {pnn}: {db} sequence number"))?);
        drop(p);
        c.close().await;
    }
    Ok(out)
}

/// Start one client process per spec, let them run (`run_for` at most,
/// within `deadline`) and collect what they did.
pub async fn run_clients(
    nodes: &Nodes,
    specs: &[ClientSpec],
    run_for: Duration,
    deadline: &Deadline,
) -> Result<ClientsRun> {
    let exe = std::env::current_exe().context("locating ctdb-bench for the clients")?;
    let mut seqnum_map = std::collections::BTreeMap::new();
    for s in specs {
        if !seqnum_map.contains_key(&s.db) {
            let before = seqnums(nodes, &s.db, deadline).await?;
            if before.iter().any(|&x| x != before[0]) {
                bail!("{}: the nodes' sequence numbers differ before the run: {before:?}", s.db);
            }
            seqnum_map.insert(s.db.clone(), before);
        }
    }
    let mut workers = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let args = WorkerArgs {
            socket: nodes.sockets.get(s.pnn).with_context(|| format!("no node {}", s.pnn))?.clone(),
            pnn: u32::try_from(s.pnn).context("pnn")?,
            db: s.db.clone(),
            key: s.key.clone(),
            stop_at: s.stop_at,
            run_ms: u64::try_from(run_for.as_millis()).unwrap_or(u64::MAX),
            limit_ms: u64::try_from(deadline.remaining().as_millis()).unwrap_or(u64::MAX),
        };
        workers.push(Worker::spawn(&exe, args.to_args()).with_context(|| format!("starting transaction client {i}"))?);
    }
    for (i, w) in workers.iter_mut().enumerate() {
        w.ready(deadline, "transaction clients getting ready")
            .await
            .with_context(|| format!("transaction client {i} (node {})", specs[i].pnn))?;
    }
    let start = Instant::now();
    for w in &mut workers {
        w.go().await?;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, w) in workers.into_iter().enumerate() {
        tasks.spawn(async move { (i, finish(w).await) });
    }
    let mut results: Vec<Option<ClientResult>> = (0..specs.len()).map(|_| None).collect();
    let mut lat = Latencies::default();
    let mut commit_lat = Latencies::default();
    let mut failure = None;
    while let Some(joined) = deadline.wait("transaction clients", tasks.join_next()).await? {
        let (i, result) = joined.context("transaction client task")?;
        match result {
            Ok((r, l, cl)) => {
                if l.len() as u64 != r.commits || cl.len() as u64 != r.commits {
                    bail!("transaction client {i}: {} commits, {} latencies", r.commits, l.len());
                }
                lat.merge(l);
                commit_lat.merge(cl);
                results[i] = Some(r);
            }
            Err(e) => {
                failure.get_or_insert(e.context(format!("transaction client {i} (node {})", specs[i].pnn)));
            }
        }
    }
    let elapsed = start.elapsed();
    if let Some(e) = failure {
        return Err(e);
    }
    let clients = results.into_iter().map(|r| r.context("a client's result is missing")).collect::<Result<_>>()?;
    Ok(ClientsRun { clients, elapsed, lat, commit_lat, seqnums: seqnum_map })
}

/// Every node's file holds `key` at `commits` and a sequence number
/// `commits` above the one it had before the run.
pub async fn check_nodes(
    nodes: &Nodes,
    db: &str,
    key: &str,
    commits: u64,
    before: &[u64],
    deadline: &Deadline,
) -> Result<()> {
    for pnn in 0..nodes.len() {
        let c = deadline.wait("connecting the checking client", nodes.connect(pnn)).await??;
        let p = PersistentDb::attach(&c, db, false, op_timeout(deadline, "attaching")?)
            .await
            .with_context(|| format!("node {pnn}: attaching {db} persistent"))?;
        let value = p.fetch(key.as_bytes()).with_context(|| format!("node {pnn}: reading {key}"))?;
        let count =
            decode_counter(value.as_deref().unwrap_or_default()).with_context(|| format!("node {pnn}: {db} {key}"))?;
        let seqnum = p.seqnum().with_context(|| format!("node {pnn}: {db} sequence number"))?;
        drop(p);
        c.close().await;
        if count != commits {
            bail!(
                "CORRECTNESS: node {pnn}: {db} {key} holds {count} after {commits} successful commits: \
                 a commit was lost or applied twice"
            );
        }
        let want = before.get(pnn).copied().unwrap_or_default() + commits;
        if seqnum != want {
            bail!(
                "CORRECTNESS: node {pnn}: {db} __db_sequence_number__ is {seqnum} after {commits} commits \
                 from {}: expected {want}",
                before.get(pnn).copied().unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// A client's results and its successful exit.
async fn finish(mut w: Worker) -> Result<(ClientResult, Latencies, Latencies)> {
    let commits = w.expect_u64("commits").await?;
    let last = w.expect_u64("last").await?;
    let lat = w.expect_latencies("lat").await?;
    let commit_lat = w.expect_latencies("commit").await?;
    w.exited().await?;
    Ok((ClientResult { commits, last }, lat, commit_lat))
}

/// What a client is told on its command line.
#[derive(Clone, Debug, PartialEq)]
struct WorkerArgs {
    socket: PathBuf,
    pnn: u32,
    db: String,
    key: String,
    stop_at: u64,
    run_ms: u64,
    limit_ms: u64,
}

impl WorkerArgs {
    fn to_args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![WORKER_ARG.into(), self.socket.clone().into()];
        for s in [
            self.pnn.to_string(),
            self.db.clone(),
            self.key.clone(),
            self.stop_at.to_string(),
            self.run_ms.to_string(),
            self.limit_ms.to_string(),
        ] {
            v.push(s.into());
        }
        v
    }

    fn parse(args: &[OsString]) -> Result<WorkerArgs> {
        let [socket, pnn, db, key, stop_at, run_ms, limit_ms] = args else {
            bail!("usage: ctdb-bench {WORKER_ARG} SOCKET PNN DB KEY STOP_AT RUN_MS LIMIT_MS");
        };
        let s = |a: &OsString| a.to_str().map(str::to_string).context("argument is not UTF-8");
        Ok(WorkerArgs {
            socket: PathBuf::from(socket),
            pnn: s(pnn)?.parse().context("PNN")?,
            db: s(db)?,
            key: s(key)?,
            stop_at: s(stop_at)?.parse().context("STOP_AT")?,
            run_ms: s(run_ms)?.parse().context("RUN_MS")?,
            limit_ms: s(limit_ms)?.parse().context("LIMIT_MS")?,
        })
    }
}

/// `ctdb-bench __transaction-worker …`: one transaction client (see the
/// module documentation). Prints `ready`, waits for `go`, then prints
/// `commits N`, `last V` (the counter it committed last), `lat` with the
/// latency of each transaction and `commit` with that of each commit, in
/// nanoseconds.
pub fn worker_main(args: &[OsString]) -> ExitCode {
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
    let db = PersistentDb::attach(&client, &args.db, false, op_timeout(&deadline, "attaching")?)
        .await
        .with_context(|| format!("attaching {} persistent", args.db))?;
    let key = args.key.as_bytes();
    let mut lat = Latencies::with_capacity(usize::try_from(args.stop_at.min(1 << 20)).unwrap_or(0));
    let mut commit_lat = Latencies::with_capacity(usize::try_from(args.stop_at.min(1 << 20)).unwrap_or(0));
    let (mut commits, mut last) = (0u64, 0u64);

    worker::ready_then_go(&deadline).await?;
    let run_for = Duration::from_millis(args.run_ms);
    let start = Instant::now();
    while start.elapsed() < run_for {
        let t = Instant::now();
        let wait = deadline.remaining();
        let mut tx = Transaction::start(&client, &db, false, op_timeout(&deadline, "transaction start")?, wait)
            .await
            .context("starting a transaction")?;
        let read = tx.fetch(key).context("reading the counter");
        let count = match read.and_then(|v| decode_counter(v.as_deref().unwrap_or_default())) {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.cancel().await;
                return Err(e);
            }
        };
        if count < last {
            let _ = tx.cancel().await;
            bail!(
                "CORRECTNESS: read the counter at {count}, but this client committed {last} before: a commit was lost"
            );
        }
        if count >= args.stop_at {
            tx.cancel().await.context("ending the last transaction")?;
            break;
        }
        tx.store(key, &encode_counter(count + 1)).context("storing the counter")?;
        let c = Instant::now();
        tx.commit(op_timeout(&deadline, "commit")?).await.with_context(|| format!("committing {}", count + 1))?;
        commit_lat.record(c.elapsed());
        lat.record(t.elapsed());
        commits += 1;
        last = count + 1;
    }
    drop(db);
    client.close().await;

    let out = format!(
        "commits {commits}\nlast {last}\n{}{}",
        worker::latency_line("lat", &lat),
        worker::latency_line("commit", &commit_lat)
    );
    let mut stdout = tokio::io::stdout();
    stdout.write_all(out.as_bytes()).await?;
    stdout.flush().await?;
    Ok(())
}

impl Workload for TransactionLoop {
    fn name(&self) -> &'static str {
        if self.own_db {
            "transaction-loop-own"
        } else {
            "transaction-loop"
        }
    }

    fn params(&self) -> serde_json::Value {
        json!({
            "database": if self.own_db { "bench_transaction_<pnn>.tdb".to_string() } else { DB_NAME.to_string() },
            "clients": "one per node, one process each",
            "commits": self.commits,
            "seconds": self.seconds,
            "counter": if self.own_db { "one per client, in its own database" } else { "one, shared" },
        })
    }

    fn metrics(&self) -> Vec<Metric> {
        let (what, key) = if self.own_db {
            ("transactions, a client per node, each on its own database", "transaction-loop-own")
        } else {
            ("transaction loop, a client per node on one counter", "transaction-loop")
        };
        let rate = Metric::new(format!("{key}.rate"), format!("{what}: commits"), Unit::PerSecond, Better::Higher);
        let lat = |p: &str| {
            Metric::new(format!("{key}.{p}"), format!("{what}: {p} transaction"), Unit::Micros, Better::Lower)
        };
        vec![
            if self.own_db { rate } else { rate.goal(Goal::AtLeast(2.0)) },
            lat("p50"),
            lat("p99"),
            Metric::new(
                format!("{key}.commit_p50"),
                "  of which the commit (TRANS3_COMMIT + unlock): p50".into(),
                Unit::Micros,
                Better::Lower,
            ),
        ]
    }

    fn unit_noun(&self) -> &'static str {
        "commits"
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
    fn worker_arguments_round_trip() {
        let a = WorkerArgs {
            socket: PathBuf::from("/tmp/x/ctdbd.socket"),
            pnn: 1,
            db: DB_NAME.into(),
            key: "txloop-1f-3".into(),
            stop_at: 500,
            run_ms: 5_000,
            limit_ms: 120_000,
        };
        let argv = a.to_args();
        assert_eq!(argv[0], WORKER_ARG);
        assert_eq!(WorkerArgs::parse(&argv[1..]).unwrap(), a);
        assert!(WorkerArgs::parse(&argv[2..]).is_err());
    }
}
