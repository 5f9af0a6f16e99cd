//! Persistent recovery: how long a recovery takes with many records in a
//! persistent database, with every node up to date and with one node
//! behind.
//!
//! Before the clock starts, the persistent database `bench_persistent.tdb`
//! is attached on every node, emptied (`ctdb wipedb`) and filled with
//! `records` records of about [`VALUE_BYTES`] bytes in transactions of
//! [`PTRANS_CHUNK`] records: Debian's `ctdb ptrans` on node 0, which
//! commits through TRANS3_COMMIT as smbd does, so both daemons get the
//! same input through the same path (and every transaction also writes
//! the `__db_sequence_number__` record).
//! Checked then: every node reports the same GET_DB_SEQNUM, and every
//! node's file holds exactly those records (and the sequence number
//! record, holding that number).
//!
//! Measured, one figure each:
//!
//! 1. `time`: SET_RECMODE(ACTIVE) to node 0 (what `ctdb recover` sends)
//!    until every node is in recovery mode NORMAL with a new generation,
//!    polled every [`POLL`], and reports the sequence number of the last
//!    transaction. As for the volatile recovery, the leader notices the
//!    request on its next check (Samba's: once a second).
//! 2. `stale_time`: the last node is stopped (STOP_NODE, as `ctdb stop`);
//!    once the others run without it, transactions on node 0 rewrite every
//!    tenth record and add a tenth more, which the stopped node does not
//!    get (both daemons send commits to active nodes only).
//!    Then CONTINUE_NODE to it (`ctdb continue`) until every node is NORMAL
//!    with a new generation, the vnnmap holds every node again and every
//!    node reports the newer sequence number: the recovery gave the stale
//!    node the newest copy.
//!
//! After each, every node's file is checked record by record. Afterwards
//! the database is emptied again, so the other workloads' recoveries do
//! not carry it.
//!
//! Samba's leader waits RerecoveryTimeout (10 s) after a recovery before
//! it starts another. Neither figure includes that pause (the clock starts
//! once it has passed), but waiting it out three times per run makes the
//! bench slow; so while this workload runs the tunable is set to
//! [`PAUSE_SECS`] on every node of both daemons, and put back afterwards.

use std::ops::ControlFlow;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ctdb_client::Client;
use ctdb_legacy_proto::{flags, pnn, recmode, DbIdPadded, LtdbHeader, Opcode, VnnMap, Wire};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::db::{attach_persistent, op_timeout, Attached};
use super::volatile_recovery::{nonce, open, recovered, same_vnnmap, wait_out_pause};
use super::{Better, BoxFuture, Deadline, Goal, Metric, Nodes, Outcome, Unit, Workload};

/// The database recovered.
pub const DB_NAME: &str = "bench_persistent.tdb";
/// Bytes of every record's data.
pub const VALUE_BYTES: usize = 100;
/// How often the nodes are asked whether the recovery is over.
const POLL: Duration = Duration::from_millis(5);
/// Samba's tool, which fills and empties the database on both daemons.
const CTDB_TOOL: &str = "/usr/bin/ctdb";
/// The record a persistent transaction counts in.
/// (with its terminating NUL, as Samba stores it).
const SEQNUM_KEY: &[u8] = b"__db_sequence_number__\0";
/// Key prefix of the records.
const KEY_PREFIX: &str = "prec-";
/// Records per `ctdb ptrans` transaction. The tool's time grows with the
/// square of the records in one transaction (100,000 in one took it 85 s
/// of CPU here, 5,000 about 0.2 s), whichever daemon it talks to.
const PTRANS_CHUNK: usize = 5_000;
/// RerecoveryTimeout while this workload runs, in seconds.
const PAUSE_SECS: u32 = 1;
/// The update the stopped node misses rewrites every record whose index is a multiple
/// of this, and adds `records / STALE_EVERY` (at least one) new ones.
const STALE_EVERY: u64 = 10;

/// The persistent recovery workload.
#[derive(Debug)]
pub struct PersistentRecovery {
    records: u64,
    value_bytes: usize,
}

/// What every node's copy must hold.
#[derive(Clone, Debug)]
struct Expected {
    /// Records of the fill: indexes `0..records`.
    records: u64,
    value_bytes: usize,
    nonce: u64,
    /// The update's nonce, once it committed.
    second: Option<u64>,
    /// The sequence number the database must report.
    seqnum: u64,
}

impl Expected {
    /// Records the update adds.
    fn extra(&self) -> u64 {
        (self.records / STALE_EVERY).max(1)
    }

    /// Records in the database (without the sequence number record).
    fn total(&self) -> u64 {
        self.records + if self.second.is_some() { self.extra() } else { 0 }
    }

    /// What record `idx` holds, if it exists.
    fn value(&self, idx: u64) -> Option<Vec<u8>> {
        match self.second {
            Some(n2) if idx >= self.records && idx < self.records + self.extra() => {
                Some(value(idx, self.value_bytes, n2))
            }
            Some(n2) if idx < self.records && idx % STALE_EVERY == 0 => Some(value(idx, self.value_bytes, n2)),
            _ if idx < self.records => Some(value(idx, self.value_bytes, self.nonce)),
            _ => None,
        }
    }

    /// `ptrans` input of the first fill, one entry per transaction.
    fn first_lines(&self) -> Vec<Vec<u8>> {
        lines((0..self.records).collect(), self.value_bytes, self.nonce)
    }

    /// `ptrans` input of the update the stopped node misses (`nonce` its
    /// own), one entry per transaction.
    fn second_lines(&self, nonce: u64) -> Vec<Vec<u8>> {
        let rewritten = (0..self.records).step_by(STALE_EVERY as usize);
        let added = self.records..self.records + self.extra();
        lines(rewritten.chain(added).collect(), self.value_bytes, nonce)
    }
}

fn key_name(idx: u64) -> Vec<u8> {
    format!("{KEY_PREFIX}{idx:08}").into_bytes()
}

fn key_index(key: &[u8]) -> Option<u64> {
    std::str::from_utf8(key.strip_prefix(KEY_PREFIX.as_bytes())?).ok()?.parse().ok()
}

/// Record `idx`'s data: printable (ptrans takes quoted strings), nonce and
/// index first, then letters derived from both.
fn value(idx: u64, len: usize, nonce: u64) -> Vec<u8> {
    let mut v = format!("{nonce:016x}-{idx:08}-").into_bytes();
    let start = (nonce as u8 ^ idx as u8) % 26;
    let head = v.len();
    v.extend((head..len.max(head)).map(|i| b'a' + (start + (i % 26) as u8) % 26));
    v
}

/// `"key" "value"` lines for `ctdb ptrans` writing records `indexes`
/// with `nonce`, [`PTRANS_CHUNK`] per transaction.
fn lines(indexes: Vec<u64>, value_bytes: usize, nonce: u64) -> Vec<Vec<u8>> {
    indexes
        .chunks(PTRANS_CHUNK)
        .map(|chunk| {
            let mut out = Vec::new();
            for &idx in chunk {
                out.push(b'"');
                out.extend_from_slice(&key_name(idx));
                out.extend_from_slice(b"\" \"");
                out.extend_from_slice(&value(idx, value_bytes, nonce));
                out.extend_from_slice(b"\"\n");
            }
            out
        })
        .collect()
}

impl PersistentRecovery {
    /// Recover `records` records of `value_bytes` bytes (at least 32).
    pub fn new(records: u64, value_bytes: usize) -> PersistentRecovery {
        PersistentRecovery { records: records.max(1), value_bytes: value_bytes.max(32) }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let deadline = Deadline::after(limit);
        let n = nodes.len();
        if n < 2 {
            bail!("needs at least 2 nodes (one is stopped)");
        }
        let mut clients = Vec::with_capacity(n);
        let mut dbs: Vec<Attached> = Vec::with_capacity(n);
        for pnn in 0..n {
            let c = deadline.wait("connecting clients", nodes.connect(pnn)).await??;
            let a = attach_persistent(&c, DB_NAME, op_timeout(&deadline, "attaching")?)
                .await
                .with_context(|| format!("node {pnn}: attaching {DB_NAME} persistent"))?;
            if let Some(first) = dbs.first() {
                if a.db_id != first.db_id {
                    bail!("node {pnn} gives {DB_NAME} id {:#x}, node 0 {:#x}", a.db_id, first.db_id);
                }
            }
            clients.push(c);
            dbs.push(a);
        }
        let saved = set_pause(&clients, &deadline).await?;
        // The recovery before this workload paused the leader for the
        // old value.
        let first_pause = Duration::from_secs(u64::from(saved.iter().flatten().copied().max().unwrap_or(0)));
        let values = self.measure(nodes, &clients, &dbs, first_pause, &deadline).await?;
        restore_pause(&clients, &saved, &deadline).await?;
        for c in clients {
            c.close().await;
        }
        Ok(Outcome { values, units: self.records })
    }

    async fn measure(
        &self,
        nodes: &Nodes,
        clients: &[Client],
        dbs: &[Attached],
        first_pause: Duration,
        deadline: &Deadline,
    ) -> Result<Vec<f64>> {
        let n = clients.len();
        let db_id = dbs[0].db_id;
        let node0 = &nodes.sockets[0];

        // Fill through node 0, on an empty database.
        ctdb_tool(node0, &["wipedb", DB_NAME], None, deadline).await.context("emptying the database")?;
        let seqnum0 = same_seqnum(clients, db_id, deadline).await?.context("after wipedb")?;
        let mut expect =
            Expected { records: self.records, value_bytes: self.value_bytes, nonce: nonce(), second: None, seqnum: 0 };
        ptrans(node0, expect.first_lines(), deadline).await.context("filling")?;
        expect.seqnum = same_seqnum(clients, db_id, deadline).await?.context("after the fill")?;
        if expect.seqnum <= seqnum0 {
            bail!("the fill left the sequence number at {} (before: {seqnum0})", expect.seqnum);
        }
        check_files(dbs, &expect, deadline).await.context("after the fill")?;

        // 1. A recovery with every node up to date.
        wait_out_pause(clients, first_pause, deadline).await?;
        let before = same_vnnmap(clients, deadline).await.context("before the recovery")?;
        let start = Instant::now();
        let t = op_timeout(deadline, "SET_RECMODE")?;
        clients[0].set_recmode(pnn::CURRENT_NODE, recmode::ACTIVE, t).await.context("SET_RECMODE(ACTIVE) on node 0")?;
        loop {
            tokio::time::sleep(POLL).await;
            if back(clients, before.generation, n, expect.seqnum, db_id, deadline).await?.is_some() {
                break;
            }
        }
        let recover_time = start.elapsed();
        check_files(dbs, &expect, deadline).await.context("after the recovery")?;

        // 2. The last node stopped, an update it misses, then back.
        let stale = n - 1;
        let t = op_timeout(deadline, "STOP_NODE")?;
        clients[stale]
            .control_ok(pnn::CURRENT_NODE, Opcode::STOP_NODE, Vec::new(), t)
            .await
            .with_context(|| format!("STOP_NODE on node {stale}"))?;
        let stopped = without(&clients[..stale], stale, deadline).await?;
        let second = nonce();
        let lines = expect.second_lines(second);
        ptrans(node0, lines, deadline).await.with_context(|| format!("update, node {stale} stopped"))?;
        expect.second = Some(second);
        let active = &clients[..stale];
        let seqnum = same_seqnum(active, db_id, deadline).await?.context("after the update")?;
        if seqnum <= expect.seqnum {
            bail!("the update left the sequence number at {seqnum} (before: {})", expect.seqnum);
        }
        expect.seqnum = seqnum;
        check_files(&dbs[..stale], &expect, deadline).await.context("after the update")?;
        // The recovery that took the node out paused the leader for the
        // new value.
        wait_out_pause(clients, Duration::from_secs(u64::from(PAUSE_SECS)), deadline).await?;
        let start = Instant::now();
        let t = op_timeout(deadline, "CONTINUE_NODE")?;
        clients[stale]
            .control_ok(pnn::CURRENT_NODE, Opcode::CONTINUE_NODE, Vec::new(), t)
            .await
            .with_context(|| format!("CONTINUE_NODE on node {stale}"))?;
        loop {
            tokio::time::sleep(POLL).await;
            if back(clients, stopped.generation, n, expect.seqnum, db_id, deadline).await?.is_some() {
                break;
            }
        }
        let stale_time = start.elapsed();
        check_files(dbs, &expect, deadline).await.with_context(|| format!("after node {stale} came back"))?;

        // Leave an empty database behind.
        ctdb_tool(node0, &["wipedb", DB_NAME], None, deadline).await.context("emptying the database")?;
        Ok(vec![recover_time.as_secs_f64() * 1000.0, stale_time.as_secs_f64() * 1000.0])
    }
}

/// Set RerecoveryTimeout to [`PAUSE_SECS`] on every node; returns what
/// each node had (`None`: the daemon does not know the tunable).
async fn set_pause(clients: &[Client], deadline: &Deadline) -> Result<Vec<Option<u32>>> {
    let mut saved = Vec::with_capacity(clients.len());
    for (pnn, c) in clients.iter().enumerate() {
        let old =
            c.get_tunable(pnn::CURRENT_NODE, "RerecoveryTimeout", op_timeout(deadline, "GET_TUNABLE")?).await.ok();
        if old.is_some() {
            c.set_tunable(pnn::CURRENT_NODE, "RerecoveryTimeout", PAUSE_SECS, op_timeout(deadline, "SET_TUNABLE")?)
                .await
                .with_context(|| format!("node {pnn}: SET_TUNABLE RerecoveryTimeout"))?;
        }
        saved.push(old);
    }
    Ok(saved)
}

async fn restore_pause(clients: &[Client], saved: &[Option<u32>], deadline: &Deadline) -> Result<()> {
    for (pnn, (c, old)) in clients.iter().zip(saved).enumerate() {
        if let Some(v) = *old {
            c.set_tunable(pnn::CURRENT_NODE, "RerecoveryTimeout", v, op_timeout(deadline, "SET_TUNABLE")?)
                .await
                .with_context(|| format!("node {pnn}: restoring RerecoveryTimeout"))?;
        }
    }
    Ok(())
}

/// The database's sequence number if every node of `clients` reports the
/// same one; `Ok(None)` if they differ.
async fn seqnums(clients: &[Client], db_id: u32, deadline: &Deadline) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(clients.len());
    for (pnn, c) in clients.iter().enumerate() {
        let t = op_timeout(deadline, "GET_DB_SEQNUM")?;
        let d = c
            .control_ok(pnn::CURRENT_NODE, Opcode::GET_DB_SEQNUM, DbIdPadded { db_id }.to_bytes(), t)
            .await
            .with_context(|| format!("node {pnn}: GET_DB_SEQNUM"))?;
        out.push(u64::from_prefix(&d).with_context(|| format!("node {pnn}: GET_DB_SEQNUM reply"))?);
    }
    Ok(out)
}

/// The one sequence number all of `clients` report, or an error naming
/// what each reports.
async fn same_seqnum(clients: &[Client], db_id: u32, deadline: &Deadline) -> Result<Result<u64>> {
    let s = seqnums(clients, db_id, deadline).await?;
    Ok(if s.iter().all(|&x| x == s[0]) {
        Ok(s[0])
    } else {
        Err(anyhow::anyhow!("the nodes' sequence numbers differ: {s:?}"))
    })
}

/// The new vnnmap once every node is NORMAL with one new generation
/// (other than `old`), the vnnmap has `n` slots and every node reports
/// sequence number `seqnum`; `None` until then.
async fn back(
    clients: &[Client],
    old: u32,
    n: usize,
    seqnum: u64,
    db_id: u32,
    deadline: &Deadline,
) -> Result<Option<VnnMap>> {
    let Some(map) = recovered(clients, old, deadline).await? else { return Ok(None) };
    if map.map.len() != n {
        return Ok(None);
    }
    if seqnums(clients, db_id, deadline).await?.iter().any(|&s| s != seqnum) {
        return Ok(None);
    }
    Ok(Some(map))
}

/// Wait (unmeasured) until every node of `active` sees node `stopped` as
/// STOPPED, is NORMAL, and has one vnnmap without it.
async fn without(active: &[Client], stopped: usize, deadline: &Deadline) -> Result<VnnMap> {
    let stopped32 = u32::try_from(stopped).context("pnn")?;
    loop {
        deadline.check(&format!("waiting for the cluster to run without node {stopped}"))?;
        let mut ready = true;
        for c in active {
            let m = c.get_nodemap(pnn::CURRENT_NODE, op_timeout(deadline, "GET_NODEMAP")?).await?;
            let f = m.nodes.iter().find(|nf| nf.pnn == stopped32).map_or(0, |nf| nf.flags);
            if f & flags::STOPPED == 0
                || c.get_recmode(pnn::CURRENT_NODE, op_timeout(deadline, "GET_RECMODE")?).await? != recmode::NORMAL
            {
                ready = false;
                break;
            }
        }
        if ready {
            let map = same_vnnmap(active, deadline).await;
            if let Ok(map) = map {
                if !map.map.contains(&stopped32) && !map.map.is_empty() {
                    return Ok(map);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Commit each of `transactions` (`ptrans` input) in one transaction
/// through `ctdb ptrans` on the node of `socket`.
async fn ptrans(socket: &Path, transactions: Vec<Vec<u8>>, deadline: &Deadline) -> Result<()> {
    let count = transactions.len();
    for (i, input) in transactions.into_iter().enumerate() {
        ctdb_tool(socket, &["ptrans", DB_NAME], Some(input), deadline)
            .await
            .with_context(|| format!("transaction {} of {count}", i + 1))?;
    }
    Ok(())
}

/// Run Samba's `ctdb` tool against the node of `socket`, within the
/// deadline (the tool's own limit too).
async fn ctdb_tool(socket: &Path, args: &[&str], input: Option<Vec<u8>>, deadline: &Deadline) -> Result<()> {
    let secs = deadline.remaining().as_secs().clamp(1, 600).to_string();
    let mut cmd = tokio::process::Command::new(CTDB_TOOL);
    cmd.args(["-T", &secs, "-t", &secs])
        .args(args)
        .env("CTDB_SOCKET", socket)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // The tool signals its whole process group when -T expires.
        .process_group(0);
    let what = format!("ctdb {}", args.join(" "));
    let mut child = cmd.spawn().with_context(|| format!("starting {CTDB_TOOL}"))?;
    let stdin = child.stdin.take();
    let run = async move {
        if let (Some(mut stdin), Some(input)) = (stdin, input) {
            stdin.write_all(&input).await.context("writing the tool's input")?;
            drop(stdin);
        }
        child.wait_with_output().await.context("waiting for the tool")
    };
    let out = deadline.wait(&what, run).await??;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Check every file of `dbs` off the async thread.
async fn check_files(dbs: &[Attached], expect: &Expected, deadline: &Deadline) -> Result<()> {
    let (files, expect, deadline) = (dbs.to_vec(), expect.clone(), *deadline);
    tokio::task::spawn_blocking(move || {
        files
            .iter()
            .enumerate()
            .try_for_each(|(pnn, a)| verify(a, &expect, &deadline).with_context(|| format!("node {pnn}")))
    })
    .await
    .context("checking thread")?
}

/// The node's file holds exactly the expected records and the sequence
/// number record with the expected number.
fn verify(a: &Attached, expect: &Expected, deadline: &Deadline) -> Result<()> {
    let tdb = open(a)?;
    let mut seen = vec![false; usize::try_from(expect.total()).context("too many records")?];
    let mut seqnum = None;
    let mut problem: Option<String> = None;
    let mut visited = 0u64;
    tdb.traverse_read(|key, v| {
        visited += 1;
        if visited % 65_536 == 0 && deadline.check("checking the records").is_err() {
            problem = Some("not done within the run's time limit".into());
            return ControlFlow::Break(());
        }
        let Ok((_, data)) = LtdbHeader::split(v) else {
            problem = Some(format!("record {:?} is shorter than its header", String::from_utf8_lossy(key)));
            return ControlFlow::Break(());
        };
        if key == SEQNUM_KEY {
            seqnum = u64::from_prefix(data).ok();
            return ControlFlow::Continue(());
        }
        let want = key_index(key).and_then(|i| Some((i, expect.value(i)?)));
        let Some((idx, want)) = want else {
            problem = Some(format!("a record {:?} nobody wrote", String::from_utf8_lossy(key)));
            return ControlFlow::Break(());
        };
        if data.is_empty() {
            // A deleted record may stay behind as an empty one.
            return ControlFlow::Continue(());
        }
        if data != want.as_slice() {
            problem = Some(format!(
                "record {idx} holds {:?}, expected {:?}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&want)
            ));
            return ControlFlow::Break(());
        }
        seen[idx as usize] = true;
        ControlFlow::Continue(())
    })
    .with_context(|| format!("traversing {}", a.path.display()))?;
    if let Some(p) = problem {
        bail!("{}: {p}", a.path.display());
    }
    if let Some(idx) = seen.iter().position(|s| !s) {
        let missing = seen.iter().filter(|s| !**s).count();
        bail!("{}: {missing} of {} records missing (first: record {idx})", a.path.display(), seen.len());
    }
    if seqnum != Some(expect.seqnum) {
        bail!(
            "{}: the sequence number record holds {seqnum:?}, the daemons report {}",
            a.path.display(),
            expect.seqnum
        );
    }
    Ok(())
}

impl Workload for PersistentRecovery {
    fn name(&self) -> &'static str {
        "persistent-recovery"
    }

    fn params(&self) -> serde_json::Value {
        let e = Expected { records: self.records, value_bytes: self.value_bytes, nonce: 0, second: None, seqnum: 0 };
        json!({
            "database": DB_NAME,
            "records": self.records,
            "value_bytes": self.value_bytes,
            "fill": "`ctdb ptrans` (Debian's tool) on node 0, after `ctdb wipedb`",
            "records_per_transaction": PTRANS_CHUNK,
            "trigger": "SET_RECMODE(ACTIVE) to node 0, as `ctdb recover` on node 0",
            "stale": format!(
                "STOP_NODE on the last node; transactions on node 0 rewrite {} records and add {}; CONTINUE_NODE",
                self.records.div_ceil(STALE_EVERY),
                e.extra()
            ),
            "rerecovery_timeout_s": PAUSE_SECS,
            "poll_ms": POLL.as_millis() as u64,
        })
    }

    fn metrics(&self) -> Vec<Metric> {
        vec![
            Metric::new(
                "persistent-recovery.time".into(),
                format!("recover with {} persistent records: time", self.records),
                Unit::Millis,
                Better::Lower,
            )
            .goal(Goal::AtMost(0.2)),
            Metric::new(
                "persistent-recovery.stale_time".into(),
                "  the same, one node stale (ctdb continue): time".into(),
                Unit::Millis,
                Better::Lower,
            )
            .goal(Goal::AtMost(0.2)),
        ]
    }

    fn unit_noun(&self) -> &'static str {
        "records"
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
    fn values_are_printable_and_distinct() {
        let v = value(7, VALUE_BYTES, 99);
        assert_eq!(v.len(), VALUE_BYTES);
        assert!(v.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-'));
        assert_ne!(v, value(7, VALUE_BYTES, 98));
        assert_ne!(v, value(8, VALUE_BYTES, 99));
        assert_eq!(key_index(&key_name(42)), Some(42));
        assert_eq!(key_index(SEQNUM_KEY), None);
    }

    #[test]
    fn the_update_rewrites_a_tenth_and_adds_a_tenth() {
        let mut e = Expected { records: 100, value_bytes: 40, nonce: 1, second: None, seqnum: 1 };
        assert_eq!(e.total(), 100);
        assert_eq!(e.value(100), None);
        let first = String::from_utf8(e.first_lines().concat()).unwrap();
        assert_eq!(first.lines().count(), 100);
        assert!(first.starts_with("\"prec-00000000\" \"0000000000000001-00000000-"));
        let second = String::from_utf8(e.second_lines(2).concat()).unwrap();
        assert_eq!(second.lines().count(), 20);
        e.second = Some(2);
        assert_eq!(e.total(), 110);
        assert_eq!(e.value(10), Some(value(10, 40, 2)));
        assert_eq!(e.value(11), Some(value(11, 40, 1)));
        assert_eq!(e.value(109), Some(value(109, 40, 2)));
        assert_eq!(e.value(110), None);
    }
}
