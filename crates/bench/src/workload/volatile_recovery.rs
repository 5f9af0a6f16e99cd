//! Volatile recovery: how long `ctdb recover` takes with many records.
//!
//! Before the clock starts, `records` records of about [`VALUE_BYTES`]
//! bytes are put into the volatile database `bench_recovery.tdb`: each
//! into the TDB file of its lmaster under the current vnnmap
//! (`vnnmap[jenkins(key) % len]`), with the header a node-local dmaster
//! writes (rsn 1, dmaster that node, flags 0), in one TDB transaction per
//! node. This is what migrating each record there with a fetch-lock would
//! leave, minus a million round trips, and it is the same for both
//! daemons: both keep real TDB files with the same header layout. The
//! files are wiped first, so every run recovers the same records from the
//! same place (after a recovery every node holds a copy of every record).
//!
//! Measured: from SET_RECMODE(ACTIVE) to node 0 — what `ctdb recover` on
//! node 0 sends — until every node is in recovery mode NORMAL with a new
//! generation, polled every [`POLL`]. The leader notices the request on
//! its next check of the nodes' recovery modes (Samba's: once a second),
//! so the figure includes that detection delay, as `ctdb recover` sees
//! it. Not included: Samba's pause of RerecoveryTimeout after the last
//! recovery (the clock starts only once that has passed; see
//! [`wait_out_rerecovery_timeout`]).
//!
//! Checked: all nodes agree on the new generation; in the nodes' files,
//! every record has exactly one copy whose header names the node it is in
//! as dmaster (Samba's recovery makes the leader dmaster of everything,
//! ours each record's lmaster), and that copy holds the value written;
//! no other record appeared; and a sample, fetch-locked through the
//! daemons from every node in turn (migrating it), reads back intact.
//! Afterwards the files are wiped again, so the other workloads run on
//! a small database.

use std::ops::ControlFlow;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use ctdb_client::record::VolatileDb;
use ctdb_client::Client;
use ctdb_legacy_proto::{pnn, recmode, LtdbHeader, VnnMap, Wire};
use ctdb_tdb::Tdb;
use serde_json::json;

use super::db::{attach, op_timeout, Attached};
use super::{Better, BoxFuture, Deadline, Metric, Nodes, Outcome, Unit, Workload};

/// The database recovered.
pub const DB_NAME: &str = "bench_recovery.tdb";
/// Bytes of every record's data.
pub const VALUE_BYTES: usize = 100;
/// How often the nodes are asked whether the recovery is over.
const POLL: Duration = Duration::from_millis(5);
/// Records read back through the daemons after the recovery.
const SAMPLE: u64 = 100;
/// Samba's "no generation yet" (INVALID_GENERATION).
const INVALID_GENERATION: u32 = 1;
/// Key prefix of the records.
const KEY_PREFIX: &str = "rec-";

/// The volatile recovery workload.
#[derive(Debug)]
pub struct VolatileRecovery {
    records: u64,
    value_bytes: usize,
}

impl VolatileRecovery {
    /// Recover `records` records of `value_bytes` bytes (at least 16).
    pub fn new(records: u64, value_bytes: usize) -> VolatileRecovery {
        VolatileRecovery { records: records.max(1), value_bytes: value_bytes.max(16) }
    }

    async fn run_inner(&self, nodes: &Nodes, limit: Duration) -> Result<Outcome> {
        let deadline = Deadline::after(limit);
        let n = nodes.len();
        let mut clients = Vec::with_capacity(n);
        let mut dbs: Vec<Attached> = Vec::with_capacity(n);
        for pnn in 0..n {
            let c = deadline.wait("connecting clients", nodes.connect(pnn)).await??;
            let a = attach(&c, DB_NAME, op_timeout(&deadline, "attaching")?)
                .await
                .with_context(|| format!("node {pnn}: attaching {DB_NAME}"))?;
            if let Some(first) = dbs.first() {
                if a.db_id != first.db_id {
                    bail!("node {pnn} gives {DB_NAME} id {:#x}, node 0 {:#x}", a.db_id, first.db_id);
                }
            }
            clients.push(c);
            dbs.push(a);
        }
        let before = same_vnnmap(&clients, &deadline).await.context("before the recovery")?;
        if before.map.is_empty() || before.map.iter().any(|&p| usize::try_from(p).map_or(true, |p| p >= n)) {
            bail!("vnnmap {:?} does not fit {n} nodes", before.map);
        }

        // Wipe and fill every node's file off the async thread.
        let nonce = nonce();
        let (records, value_bytes, map) = (self.records, self.value_bytes, before.map.clone());
        let files = dbs.clone();
        tokio::task::spawn_blocking(move || fill(&files, &map, records, value_bytes, nonce, &deadline))
            .await
            .context("filling thread")??;

        wait_out_rerecovery_timeout(&clients, &deadline).await?;

        // The recovery, as `ctdb recover` on node 0 asks for it.
        let start = Instant::now();
        let t = op_timeout(&deadline, "SET_RECMODE")?;
        clients[0].set_recmode(pnn::CURRENT_NODE, recmode::ACTIVE, t).await.context("SET_RECMODE(ACTIVE) on node 0")?;
        let after = loop {
            tokio::time::sleep(POLL).await;
            if let Some(map) = recovered(&clients, before.generation, &deadline).await? {
                break map;
            }
        };
        let elapsed = start.elapsed();

        // Every record exactly once with a dmaster, intact.
        let files = dbs.clone();
        tokio::task::spawn_blocking(move || verify(&files, records, value_bytes, nonce, &deadline))
            .await
            .context("checking thread")??;
        // A sample through the daemons, from every node in turn.
        let mut vdbs = Vec::with_capacity(n);
        for (pnn, c) in clients.iter().enumerate() {
            let db = VolatileDb::attach(c, DB_NAME, op_timeout(&deadline, "attaching")?)
                .await
                .with_context(|| format!("node {pnn}: opening {DB_NAME}"))?;
            vdbs.push(db);
        }
        let samples = SAMPLE.min(records);
        for s in 0..samples {
            let idx = s * records / samples;
            let pnn = (s % n as u64) as usize;
            let key = key_name(idx);
            let t = op_timeout(&deadline, "fetch-lock")?;
            let locked = vdbs[pnn]
                .fetch_locked(&clients[pnn], &key, t)
                .await
                .with_context(|| format!("fetch-lock of record {idx} on node {pnn} after the recovery"))?;
            if locked.data != value(idx, value_bytes, nonce) {
                bail!(
                    "record {idx} fetched on node {pnn} after the recovery holds {} bytes that differ from the {value_bytes} written",
                    locked.data.len()
                );
            }
        }
        drop(vdbs);
        // Leave a small database behind.
        let files = dbs.clone();
        tokio::task::spawn_blocking(move || files.iter().try_for_each(|a| open(a)?.wipe_all().context("wiping")))
            .await
            .context("wiping thread")??;
        for c in clients {
            c.close().await;
        }
        if after.map.len() != before.map.len() {
            bail!("the vnnmap had {} slots before the recovery and {} after", before.map.len(), after.map.len());
        }
        Ok(Outcome { values: vec![elapsed.as_secs_f64() * 1000.0], units: records })
    }
}

/// A value no earlier run wrote, so a record left from one cannot pass.
pub(super) fn nonce() -> u64 {
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 40)
}

fn key_name(idx: u64) -> Vec<u8> {
    format!("{KEY_PREFIX}{idx:08}").into_bytes()
}

fn key_index(key: &[u8]) -> Option<u64> {
    std::str::from_utf8(key.strip_prefix(KEY_PREFIX.as_bytes())?).ok()?.parse().ok()
}

/// Record `idx`'s data: nonce, index, then a pattern of both.
fn value(idx: u64, len: usize, nonce: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(16));
    v.extend_from_slice(&nonce.to_le_bytes());
    v.extend_from_slice(&idx.to_le_bytes());
    let fill = (nonce as u8) ^ (idx as u8).rotate_left(3);
    v.extend((16..len).map(|i| fill.wrapping_add(i as u8)));
    v
}

/// The lmaster of `key` under `map`.
fn lmaster(key: &[u8], map: &[u32]) -> u32 {
    map[ctdb_tdb::jenkins_hash(key) as usize % map.len()]
}

/// Open a node's file as the daemon says to.
pub(super) fn open(a: &Attached) -> Result<Tdb> {
    Tdb::open(&a.path, 0, a.tdb_flags, libc::O_RDWR, 0).with_context(|| format!("opening {}", a.path.display()))
}

/// Wipe every node's file, then write each record into its lmaster's, one
/// transaction per node.
fn fill(
    dbs: &[Attached],
    map: &[u32],
    records: u64,
    value_bytes: usize,
    nonce: u64,
    deadline: &Deadline,
) -> Result<()> {
    let mut tdbs = dbs.iter().map(open).collect::<Result<Vec<_>>>()?;
    for t in &mut tdbs {
        t.wipe_all().context("wiping")?;
    }
    for (pnn, tdb) in tdbs.iter_mut().enumerate() {
        let here = u32::try_from(pnn).context("pnn")?;
        let mut header = Vec::new();
        LtdbHeader { rsn: 1, dmaster: here, reserved1: 0, flags: 0 }.encode(&mut header);
        tdb.transaction_start().context("transaction_start")?;
        let mut write = || -> Result<()> {
            for idx in 0..records {
                let key = key_name(idx);
                if lmaster(&key, map) != here {
                    continue;
                }
                tdb.store_parts(&key, &[&header, &value(idx, value_bytes, nonce)]).context("store")?;
                if idx % 65_536 == 0 {
                    deadline.check("writing the records")?;
                }
            }
            Ok(())
        };
        if let Err(e) = write() {
            let _ = tdb.transaction_cancel();
            return Err(e.context(format!("writing node {pnn}'s records")));
        }
        tdb.transaction_commit().with_context(|| format!("committing node {pnn}'s records"))?;
    }
    Ok(())
}

/// Every record has exactly one copy naming its own node as dmaster, and
/// that copy holds what was written; nothing else is in the files.
fn verify(dbs: &[Attached], records: u64, value_bytes: usize, nonce: u64, deadline: &Deadline) -> Result<()> {
    let mut dmasters = vec![0u8; usize::try_from(records).context("too many records")?];
    for (pnn, a) in dbs.iter().enumerate() {
        let here = u32::try_from(pnn).context("pnn")?;
        let tdb = open(a)?;
        let mut problem: Option<String> = None;
        let mut visited = 0u64;
        tdb.traverse_read(|key, v| {
            visited += 1;
            if visited % 65_536 == 0 && deadline.check("checking the records").is_err() {
                problem = Some("not done within the run's time limit".into());
                return ControlFlow::Break(());
            }
            let Some(idx) = key_index(key).filter(|&i| i < records) else {
                problem = Some(format!("a record {:?} nobody wrote", String::from_utf8_lossy(key)));
                return ControlFlow::Break(());
            };
            let Ok((h, data)) = LtdbHeader::split(v) else {
                problem = Some(format!("record {idx} is shorter than its header"));
                return ControlFlow::Break(());
            };
            if h.dmaster == here {
                dmasters[idx as usize] = dmasters[idx as usize].saturating_add(1);
                if data != value(idx, value_bytes, nonce).as_slice() {
                    problem = Some(format!("record {idx} holds {} bytes that differ from those written", data.len()));
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })
        .with_context(|| format!("traversing node {pnn}'s file"))?;
        if let Some(p) = problem {
            bail!("after the recovery, node {pnn}'s file: {p}");
        }
    }
    if let Some(idx) = dmasters.iter().position(|&c| c != 1) {
        let wrong = dmasters.iter().filter(|&&c| c != 1).count();
        bail!(
            "after the recovery, {wrong} of {records} records do not have exactly one dmaster (record {idx}: {} nodes claim it)",
            dmasters[idx]
        );
    }
    Ok(())
}

/// Samba's leader refuses to start a recovery within RerecoveryTimeout
/// (10 s) of the end of the last one, and only retries on its next check;
/// a recovery asked for earlier would measure that pause, not the
/// recovery. So wait (unmeasured) until every node's last recovery
/// (UPTIME) ended longer ago than that, plus a second for the leader's
/// work after it (takeover run). Both daemons are treated alike.
pub(super) async fn wait_out_rerecovery_timeout(clients: &[Client], deadline: &Deadline) -> Result<()> {
    let t = op_timeout(deadline, "GET_TUNABLE")?;
    // A daemon without the tunable does not pause at all.
    let pause = match clients[0].get_tunable(pnn::CURRENT_NODE, "RerecoveryTimeout", t).await {
        Ok(s) => Duration::from_secs(u64::from(s)),
        Err(_) => Duration::ZERO,
    };
    wait_out_pause(clients, pause, deadline).await
}

/// Wait (unmeasured) until every node's last recovery ended longer ago
/// than `pause` plus a second.
pub(super) async fn wait_out_pause(clients: &[Client], pause: Duration, deadline: &Deadline) -> Result<()> {
    if pause.is_zero() {
        return Ok(());
    }
    let secs = |tv: &ctdb_legacy_proto::Timeval| tv.sec as f64 + tv.usec as f64 / 1e6;
    let mut wait = 0.0f64;
    for (pnn, c) in clients.iter().enumerate() {
        let u = c
            .uptime(pnn::CURRENT_NODE, op_timeout(deadline, "UPTIME")?)
            .await
            .with_context(|| format!("node {pnn}: UPTIME"))?;
        let since = secs(&u.current_time) - secs(&u.last_recovery_finished);
        wait = wait.max(pause.as_secs_f64() + 1.0 - since);
    }
    if wait > 0.0 {
        deadline.wait("waiting out the rerecovery timeout", tokio::time::sleep(Duration::from_secs_f64(wait))).await?;
    }
    Ok(())
}

/// Every node's vnnmap, which must be the same everywhere.
pub(super) async fn same_vnnmap(clients: &[Client], deadline: &Deadline) -> Result<VnnMap> {
    let mut first: Option<VnnMap> = None;
    for (pnn, c) in clients.iter().enumerate() {
        let m = c.get_vnnmap(pnn::CURRENT_NODE, op_timeout(deadline, "GETVNNMAP")?).await?;
        match &first {
            None => first = Some(m),
            Some(f) if *f != m => bail!("node {pnn} has vnnmap {m:?}, node 0 {f:?}"),
            Some(_) => {}
        }
    }
    first.context("no nodes")
}

/// The new vnnmap once every node is in NORMAL mode with the same
/// generation, other than `old`; `None` while the recovery runs.
pub(super) async fn recovered(clients: &[Client], old: u32, deadline: &Deadline) -> Result<Option<VnnMap>> {
    for c in clients {
        if c.get_recmode(pnn::CURRENT_NODE, op_timeout(deadline, "waiting for the recovery")?).await? != recmode::NORMAL
        {
            return Ok(None);
        }
    }
    let mut maps = Vec::with_capacity(clients.len());
    for c in clients {
        let m = c.get_vnnmap(pnn::CURRENT_NODE, op_timeout(deadline, "waiting for the recovery")?).await?;
        if m.generation == old || m.generation == INVALID_GENERATION {
            return Ok(None);
        }
        maps.push(m);
    }
    if maps.iter().any(|m| m.generation != maps[0].generation) {
        // One node may still be a step behind; ask again.
        return Ok(None);
    }
    // Still NORMAL everywhere now that the generations agree?
    for c in clients {
        if c.get_recmode(pnn::CURRENT_NODE, op_timeout(deadline, "waiting for the recovery")?).await? != recmode::NORMAL
        {
            return Ok(None);
        }
    }
    Ok(maps.into_iter().next())
}

impl Workload for VolatileRecovery {
    fn name(&self) -> &'static str {
        "volatile-recovery"
    }

    fn params(&self) -> serde_json::Value {
        json!({
            "database": DB_NAME,
            "records": self.records,
            "value_bytes": self.value_bytes,
            "placement": "each record in its lmaster's file, rsn 1, dmaster = lmaster",
            "trigger": "SET_RECMODE(ACTIVE) to node 0, as `ctdb recover` on node 0",
            "poll_ms": POLL.as_millis() as u64,
            "sample_read_back": SAMPLE.min(self.records),
        })
    }

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric::new(
            "volatile-recovery.time".into(),
            format!("recover with {} volatile records: time", self.records),
            Unit::Millis,
            Better::Lower,
        )]
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
    fn keys_and_values_are_recognised() {
        assert_eq!(key_index(&key_name(42)), Some(42));
        assert_eq!(key_index(b"other"), None);
        let v = value(7, VALUE_BYTES, 99);
        assert_eq!(v.len(), VALUE_BYTES);
        assert_ne!(v, value(7, VALUE_BYTES, 98));
        assert_ne!(v, value(8, VALUE_BYTES, 99));
    }

    #[test]
    fn lmaster_follows_the_vnnmap() {
        let map = [0, 1, 2];
        let mut seen = [false; 3];
        for i in 0..100 {
            seen[lmaster(&key_name(i), &map) as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
        assert_eq!(lmaster(b"x", &[2]), 2);
    }

    #[test]
    fn filled_files_pass_and_a_second_dmaster_fails() {
        let dir = tempfile::tempdir().unwrap();
        let dbs: Vec<Attached> = (0..3)
            .map(|p| {
                let path = dir.path().join(format!("{DB_NAME}.{p}"));
                let flags = ctdb_tdb::flags::INCOMPATIBLE_HASH | ctdb_tdb::flags::DISALLOW_NESTING;
                drop(Tdb::open(&path, 0, flags, libc::O_CREAT | libc::O_RDWR, 0o600).unwrap());
                Attached { db_id: 1, path, tdb_flags: flags }
            })
            .collect();
        let deadline = Deadline::after(Duration::from_secs(10));
        fill(&dbs, &[0, 1, 2], 300, 40, 5, &deadline).unwrap();
        verify(&dbs, 300, 40, 5, &deadline).unwrap();
        // A wrong nonce: the values differ.
        assert!(verify(&dbs, 300, 40, 6, &deadline).is_err());
        // Node 0 also claims a record of node 1.
        let key = (0..300).map(key_name).find(|k| lmaster(k, &[0, 1, 2]) == 1).unwrap();
        let mut t0 = open(&dbs[0]).unwrap();
        let mut h = Vec::new();
        LtdbHeader { rsn: 1, dmaster: 0, reserved1: 0, flags: 0 }.encode(&mut h);
        t0.store_parts(&key, &[&h, &value(key_index(&key).unwrap(), 40, 5)]).unwrap();
        drop(t0);
        let err = verify(&dbs, 300, 40, 5, &deadline).unwrap_err();
        assert!(format!("{err:#}").contains("exactly one dmaster"), "{err:#}");
    }
}
