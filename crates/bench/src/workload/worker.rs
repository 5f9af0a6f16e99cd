//! Client processes: workloads whose clients must each be a process of
//! their own (as every smbd is) start this executable again with a worker
//! argument. The protocol is line-based: the worker prints `ready` once
//! connected, waits for `go` on its stdin, does its work, prints its
//! results and exits 0; a failure goes to its stderr with exit status 1.
//!
//! This module holds both sides: [`Worker`] for the bench, and
//! [`worker_main`], [`ready_then_go`] and [`latency_line`] for the
//! worker.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::Deadline;
use crate::stats::Latencies;

/// A running worker process, seen from the bench.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    /// Start `exe` with `args` (the worker argument first).
    pub fn spawn(exe: &Path, args: Vec<OsString>) -> Result<Worker> {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("worker stdout")?);
        Ok(Worker { child, stdin, stdout })
    }

    /// The next line the worker printed (`None` at EOF).
    pub async fn line(&mut self) -> Result<Option<String>> {
        let mut l = String::new();
        if self.stdout.read_line(&mut l).await? == 0 {
            return Ok(None);
        }
        Ok(Some(l.trim_end().to_string()))
    }

    /// The next line, which must be there: EOF is an error carrying the
    /// worker's stderr.
    pub async fn expect_line(&mut self, what: &str) -> Result<String> {
        match self.line().await? {
            Some(l) => Ok(l),
            None => {
                let why = self.stderr().await;
                bail!("exited without {what}{why}")
            }
        }
    }

    /// The line after `prefix ` on the next line (an error naming what
    /// came instead).
    pub async fn expect_field(&mut self, prefix: &str) -> Result<String> {
        let line = self.expect_line(prefix).await?;
        match line.strip_prefix(prefix) {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => Ok(rest.trim_start().to_string()),
            _ => bail!("expected `{prefix} …`, got {line:?}{}", self.stderr().await),
        }
    }

    /// A number after `prefix ` on the next line.
    pub async fn expect_u64(&mut self, prefix: &str) -> Result<u64> {
        let v = self.expect_field(prefix).await?;
        match v.parse() {
            Ok(n) => Ok(n),
            Err(_) => bail!("expected a number after `{prefix}`, got {v:?}{}", self.stderr().await),
        }
    }

    /// Latencies in nanoseconds after `prefix` on the next line (see
    /// [`latency_line`]).
    pub async fn expect_latencies(&mut self, prefix: &str) -> Result<Latencies> {
        let v = self.expect_field(prefix).await?;
        let mut lat = Latencies::default();
        for n in v.split_ascii_whitespace() {
            lat.record(Duration::from_nanos(n.parse().with_context(|| format!("bad latency {n:?}"))?));
        }
        Ok(lat)
    }

    /// Wait for the worker's `ready` within `deadline`.
    pub async fn ready(&mut self, deadline: &Deadline, what: &str) -> Result<()> {
        match deadline.wait(what, self.line()).await? {
            Ok(Some(l)) if l == "ready" => Ok(()),
            Ok(other) => bail!("expected `ready`, got {other:?}{}", self.stderr().await),
            Err(e) => bail!("{e:#}{}", self.stderr().await),
        }
    }

    /// Tell the worker to start.
    pub async fn go(&mut self) -> Result<()> {
        self.stdin.write_all(b"go\n").await.context("telling a worker to go")?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// What the worker wrote to stderr, for an error message (it has
    /// exited or is killed first).
    pub async fn stderr(&mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut text).await;
        }
        if text.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", text.trim())
        }
    }

    /// Wait for the worker's successful exit (after its results).
    pub async fn exited(mut self) -> Result<()> {
        let status = self.child.wait().await?;
        if !status.success() {
            bail!("exited with {status}{}", self.stderr().await);
        }
        Ok(())
    }
}

/// Run `body` as a worker process on a single-threaded runtime: exit
/// status 0, or the error on stderr and 1.
pub fn worker_main<F, Fut>(body: F) -> ExitCode
where
    F: FnOnce() -> Result<Fut>,
    Fut: std::future::Future<Output = Result<()>>,
{
    let run = || -> Result<()> {
        let fut = body()?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(fut)
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Worker side: print `ready`, then wait for `go` on stdin (within
/// `deadline`).
pub async fn ready_then_go(deadline: &Deadline) -> Result<()> {
    let mut stdout = tokio::io::stdout();
    stdout.write_all(b"ready\n").await?;
    stdout.flush().await?;
    let mut line = String::new();
    deadline.wait("waiting for go", BufReader::new(tokio::io::stdin()).read_line(&mut line)).await??;
    if line.trim_end() != "go" {
        bail!("expected `go` on stdin, got {line:?}");
    }
    Ok(())
}

/// Worker side: `prefix` and every latency in nanoseconds, one line.
pub fn latency_line(prefix: &str, lat: &Latencies) -> String {
    let mut out = String::with_capacity(lat.len() * 8 + prefix.len() + 1);
    out.push_str(prefix);
    for ns in lat.nanos() {
        out.push(' ');
        out.push_str(&ns.to_string());
    }
    out.push('\n');
    out
}
