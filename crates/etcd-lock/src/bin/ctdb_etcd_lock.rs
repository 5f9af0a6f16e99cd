//! `ctdb_etcd_lock [-v] [-c CONFIG] [-n CLUSTER_NAME]`: hold the CTDB
//! cluster lock in etcd for the parent ctdbd, with Samba's mutex-helper
//! contract; see the `ctdb_etcd_lock` crate doc for the scheme and
//! `ctdb_etcd_lock::config` for the configuration keys.
//!
//! - `-v`: say on stderr what happens (the daemon logs it);
//! - `-c CONFIG`: the configuration file (default `$CTDB_BASE/etcd`);
//! - `-n NAME`: the cluster's name in the lock key, over `cluster_name`.
//!
//! Exit status: 0 after `'1'`, after SIGTERM and when the parent is gone;
//! 1 after `'2'`/`'3'` and when a held lock is lost.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;

use ctdb_cluster_lock::LockReply;
use ctdb_etcd_lock::{Config, Holder, Refresh, Session, Taken};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::time::{sleep_until, Instant};

const NAME: &str = "ctdb_etcd_lock";

/// The command line.
struct Args {
    verbose: bool,
    config: Option<PathBuf>,
    cluster_name: Option<String>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args { verbose: false, config: None, cluster_name: None };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-v" | "--verbose" => a.verbose = true,
                "-c" | "--config" => a.config = Some(args.next().ok_or("-c needs a file")?.into()),
                "-n" | "--cluster-name" => a.cluster_name = Some(args.next().ok_or("-n needs a name")?),
                _ => return Err(format!("unexpected argument {arg:?}")),
            }
        }
        Ok(a)
    }
}

fn reply(r: LockReply) {
    let mut out = std::io::stdout();
    let _ = out.write_all(&[r.byte()]);
    let _ = out.flush();
}

/// Tell the parent at once that the lock is gone: replacing stdout with
/// /dev/null closes our end of its pipe, which it reads as end of file,
/// before the (bounded, but not instant) lease revocation and exit.
fn signal_lost() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 on two open descriptors; fd 1 is never used as
        // anything but stdout in this process.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{NAME}: {e}\nusage: {NAME} [-v] [-c CONFIG] [-n CLUSTER_NAME]");
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    };
    let parent = nix::unistd::getppid();
    // SAFETY: prctl with PR_SET_PDEATHSIG and a signal number has no memory
    // effects. The kernel sends SIGTERM when the parent dies, and SIGTERM
    // releases the lock, so a dead daemon's lock is free at once.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    if nix::unistd::getppid() != parent {
        // The parent died before the kernel knew to tell us.
        return ExitCode::SUCCESS;
    }
    let mut cfg = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    };
    if let Some(n) = args.cluster_name {
        cfg.cluster_name = n;
    }
    for w in &cfg.warnings {
        eprintln!("{NAME}: {w}");
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{NAME}: cannot start the runtime: {e}");
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(cfg, args.verbose, parent))
}

/// SIGTERM or SIGINT: the parent releases the lock (or gave up on it).
struct Stop {
    term: Signal,
    int: Signal,
}

impl Stop {
    async fn requested(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// One step that a stop request may cut short.
enum Step<T> {
    Done(T),
    Stopped,
}

async fn run(cfg: Config, verbose: bool, parent: Pid) -> ExitCode {
    let say = |msg: &str| {
        if verbose {
            eprintln!("{NAME}: {msg}");
        }
    };
    // Handlers first: from here on SIGTERM releases instead of killing.
    let mut stop = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(term), Ok(int)) => Stop { term, int },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{NAME}: cannot handle signals: {e}");
            reply(LockReply::Error);
            return ExitCode::FAILURE;
        }
    };
    let key = cfg.lock_key();
    say(&format!(
        "taking {key} at {} (ttl {:?}, refresh {:?})",
        cfg.endpoints.join(","),
        cfg.lock_ttl,
        cfg.lock_refresh
    ));

    // A lease without a key holds nothing: stopped here, nothing to undo.
    let opened = tokio::select! {
        r = Session::open(&cfg) => Step::Done(r),
        _ = stop.requested() => Step::Stopped,
    };
    let mut session = match opened {
        Step::Stopped => return ExitCode::SUCCESS,
        Step::Done(Ok(s)) => s,
        Step::Done(Err(e)) => {
            eprintln!("{NAME}: {e}");
            reply(e.reply());
            return ExitCode::FAILURE;
        }
    };

    let attempt = tokio::select! {
        r = session.try_lock() => Step::Done(r),
        _ = stop.requested() => Step::Stopped,
    };
    let create_revision = match attempt {
        // The transaction may have gone through: revoking the lease
        // removes the key if it did.
        Step::Stopped => return release(session, &say, ExitCode::SUCCESS).await,
        Step::Done(Err(e)) => {
            eprintln!("{NAME}: {e}");
            reply(e.reply());
            return release(session, &say, ExitCode::FAILURE).await;
        }
        Step::Done(Ok(Taken::Contended { holder })) => {
            say(&format!("{key} is held by {holder}"));
            reply(LockReply::Contended);
            return release(session, &say, ExitCode::SUCCESS).await;
        }
        Step::Done(Ok(Taken::Held { create_revision })) => create_revision,
    };
    say(&format!("holding {key} with lease {:x} (revision {create_revision})", session.lease()));
    reply(LockReply::Held);

    let mut holder = Holder::new(session, create_revision);
    let mut next = Instant::now() + cfg.lock_refresh;
    loop {
        let woke = tokio::select! {
            _ = sleep_until(next.min(holder.deadline())) => Step::Done(()),
            _ = stop.requested() => Step::Stopped,
        };
        if let Step::Stopped = woke {
            say("released on request");
            return release(holder.into_session(), &say, ExitCode::SUCCESS).await;
        }
        // The death signal covers a parent that dies; polling also covers
        // a parent that was already gone or a signal that was lost.
        if nix::unistd::getppid() != parent {
            eprintln!("{NAME}: parent gone, releasing {key}");
            return release(holder.into_session(), &say, ExitCode::SUCCESS).await;
        }
        let refreshed = tokio::select! {
            r = holder.refresh() => Step::Done(r),
            _ = stop.requested() => Step::Stopped,
        };
        next = Instant::now() + cfg.lock_refresh;
        match refreshed {
            Step::Stopped => {
                say("released on request");
                return release(holder.into_session(), &say, ExitCode::SUCCESS).await;
            }
            Step::Done(Ok(Refresh::Renewed)) => {}
            Step::Done(Ok(Refresh::Unconfirmed(e))) => {
                eprintln!("{NAME}: could not renew {key}, trying again: {e}");
            }
            Step::Done(Err(lost)) => {
                signal_lost();
                eprintln!("{NAME}: cluster lock {key} lost: {lost}");
                return release(holder.into_session(), &say, ExitCode::FAILURE).await;
            }
        }
    }
}

/// Revoke the lease (best effort) and end with `code`.
async fn release(session: Session, say: &impl Fn(&str), code: ExitCode) -> ExitCode {
    match session.release().await {
        Ok(()) => say("lease revoked"),
        Err(e) => eprintln!("{NAME}: could not revoke the lease; it expires by itself: {e}"),
    }
    code
}
