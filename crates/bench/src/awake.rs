//! `--spin`: keep every CPU awake with spinning threads at the lowest
//! priority.
//!
//! On a virtual machine an idle CPU halts, and waking a task on it costs
//! tens of microseconds (a plain Unix-socket echo then takes 50–70 µs
//! instead of about 5), which would favour a daemon whose threads happen
//! to spin before they sleep. A runnable `SCHED_IDLE` thread keeps the CPU
//! out of halt yet yields to any normal task, and the daemons' CPU time is
//! not affected. Off by default: it removes the halt cost but not the cost
//! of a wake-up that crosses CPUs, and it changes how the scheduler places
//! tasks; `--cpus 0` is the stable way to compare latencies on such a
//! machine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};

/// Name prefix of the spinner threads, so that their CPU time can be told
/// from the clients'.
pub const THREAD_PREFIX: &str = "awake-";

/// The spinners; they stop when this is dropped.
pub struct Awake {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Awake {
    /// One `SCHED_IDLE` spinner per CPU.
    pub fn start() -> Result<Awake> {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let stop = Arc::new(AtomicBool::new(false));
        let mut awake = Awake { stop: Arc::clone(&stop), threads: Vec::with_capacity(cpus) };
        for i in 0..cpus {
            let stop = Arc::clone(&stop);
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let t = std::thread::Builder::new()
                .name(format!("{THREAD_PREFIX}{i}"))
                .spawn(move || {
                    // Lower the priority before spinning: a normal-priority
                    // spinner would take CPU from what is measured.
                    let lowered = set_sched_idle();
                    let ok = lowered.is_ok();
                    let _ = ready_tx.send(lowered);
                    if ok {
                        while !stop.load(Ordering::Relaxed) {
                            std::hint::spin_loop();
                        }
                    }
                })
                .context("starting a spinner thread")?;
            awake.threads.push(t);
            ready_rx.recv().context("spinner thread")?.context("setting SCHED_IDLE")?;
        }
        Ok(awake)
    }
}

impl Drop for Awake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Make the calling thread `SCHED_IDLE`.
fn set_sched_idle() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid, initialised
    // sched_param that outlives the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinners_start_and_stop() {
        let a = Awake::start().unwrap();
        assert!(!a.threads.is_empty());
        drop(a);
    }
}
