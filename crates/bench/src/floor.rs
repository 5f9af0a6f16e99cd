//! The floor: what this machine does with no daemon at all, measured in the
//! same run with the same message sizes, so every daemon figure can be read
//! as a fraction of it.
//!
//! Plain blocking sockets and threads, no protocol beyond fixed-size
//! frames:
//!
//! * `unix-echo`: one client, one request at a time, over a Unix socket
//!   (the client ↔ daemon hop of a local control);
//! * `unix-echo-many`: as many clients as the concurrent control workload;
//! * `tcp-echo`: the same over loopback TCP (the node ↔ node hop);
//! * `tcp-ring`: one relay thread per node joined in a TCP ring, the same
//!   tokens and laps as the message ring;
//! * `tcp-fanout`: one writer sending every message to one reader per node.
//!
//! Every loop is bounded by a count and by the run's time limit, and the
//! ring and fan-out check sequence numbers like the workloads do.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::stats::{rate, Latencies};
use crate::workload::{Better, Metric, SeqCheck, Stamp, Unit, STAMP_LEN};

/// Message sizes and counts of one floor run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FloorSizes {
    /// Bytes of a PING request as the client sends it.
    pub control_bytes: usize,
    /// Bytes of a benchmark REQ_MESSAGE as the client sends it.
    pub message_bytes: usize,
    /// Round trips of the one-client echoes.
    pub round_trips: u64,
    /// Clients of `unix-echo-many`.
    pub many_clients: usize,
    /// Round trips per client of `unix-echo-many`.
    pub per_client: u64,
    /// Nodes of the ring and receivers of the fan-out.
    pub nodes: usize,
    /// Tokens per ring node.
    pub ring_window: u32,
    /// Laps per token.
    pub ring_laps: u32,
    /// Messages of the fan-out.
    pub fanout_messages: u64,
}

/// The floor figures, for the table's floor rows.
pub fn metrics(sizes: &FloorSizes) -> Vec<Metric> {
    let m = |key: &str, label: String, unit, better| Metric::new(key.into(), label, unit, better);
    let c = sizes.control_bytes;
    vec![
        m("unix-echo.p50", format!("unix echo {c} B, 1 client: p50"), Unit::Micros, Better::Lower),
        m("unix-echo.p99", format!("unix echo {c} B, 1 client: p99"), Unit::Micros, Better::Lower),
        m("unix-echo.rate", format!("unix echo {c} B, 1 client: round trips"), Unit::PerSecond, Better::Higher),
        m(
            "unix-echo-many.rate",
            format!("unix echo {c} B, {} clients: round trips", sizes.many_clients),
            Unit::PerSecond,
            Better::Higher,
        ),
        m("tcp-echo.p50", format!("tcp echo {c} B, 1 client: p50"), Unit::Micros, Better::Lower),
        m("tcp-echo.p99", format!("tcp echo {c} B, 1 client: p99"), Unit::Micros, Better::Lower),
        m("tcp-echo.rate", format!("tcp echo {c} B, 1 client: round trips"), Unit::PerSecond, Better::Higher),
        m(
            "tcp-ring.rate",
            format!("tcp ring {} B, {} in flight per node: messages", sizes.message_bytes, sizes.ring_window),
            Unit::PerSecond,
            Better::Higher,
        ),
        m(
            "tcp-fanout.rate",
            format!("tcp fan-out {} B to {} readers: deliveries", sizes.message_bytes, sizes.nodes),
            Unit::PerSecond,
            Better::Higher,
        ),
    ]
}

/// Run every floor measurement once; values in the order of [`metrics`].
/// `dir` holds the Unix socket.
pub fn run(sizes: &FloorSizes, dir: &Path, limit: Duration) -> Result<Vec<f64>> {
    let deadline = Instant::now() + limit;
    let path = dir.join("floor-echo.socket");
    let mut out = Vec::new();

    let (mut lat, elapsed) = unix_echo(&path, 1, sizes.round_trips, sizes.control_bytes, deadline)?;
    out.extend([lat.percentile_us(50.0), lat.percentile_us(99.0), rate(sizes.round_trips, elapsed)]);
    let (_, elapsed) = unix_echo(&path, sizes.many_clients, sizes.per_client, sizes.control_bytes, deadline)?;
    out.push(rate(sizes.per_client * sizes.many_clients as u64, elapsed));

    let (mut lat, elapsed) = tcp_echo(sizes.round_trips, sizes.control_bytes, deadline)?;
    out.extend([lat.percentile_us(50.0), lat.percentile_us(99.0), rate(sizes.round_trips, elapsed)]);

    let (messages, elapsed) = tcp_ring(sizes.nodes, sizes.ring_window, sizes.ring_laps, sizes.message_bytes, deadline)?;
    out.push(rate(messages, elapsed));
    let (deliveries, elapsed) = tcp_fanout(sizes.nodes, sizes.fanout_messages, sizes.message_bytes, deadline)?;
    out.push(rate(deliveries, elapsed));
    Ok(out)
}

/// Fail once `deadline` has passed.
fn check(deadline: Instant, what: &str) -> Result<()> {
    if Instant::now() >= deadline {
        bail!("floor {what}: not done within the time limit");
    }
    Ok(())
}

/// Read timeout for a socket: what is left of the run, at least 1 ms
/// (zero would mean "no timeout").
fn left(deadline: Instant) -> Option<Duration> {
    Some(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)))
}

/// Echo fixed-size frames until EOF.
fn echo_loop(mut s: impl Read + Write, size: usize) {
    let mut buf = vec![0u8; size];
    while s.read_exact(&mut buf).is_ok() {
        if s.write_all(&buf).is_err() {
            break;
        }
    }
}

/// `clients` clients, each `per_client` round trips of `size` bytes, all at
/// once after a barrier; returns every latency and the wall time.
fn echo_clients<S: Read + Write>(
    clients: usize,
    per_client: u64,
    size: usize,
    deadline: Instant,
    connect: impl Fn() -> Result<S> + Sync,
) -> Result<(Latencies, Duration)> {
    let barrier = Barrier::new(clients + 1);
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(clients);
        for _ in 0..clients {
            let (barrier, connect) = (&barrier, &connect);
            handles.push(scope.spawn(move || -> Result<Latencies> {
                // Connect before the barrier, and always reach the barrier,
                // so that a failed client cannot leave the others waiting.
                let conn = connect();
                barrier.wait();
                let mut s = conn?;
                let mut lat = Latencies::with_capacity(usize::try_from(per_client).unwrap_or(0));
                let mut buf = vec![0u8; size];
                for i in 0..per_client {
                    check(deadline, "echo")?;
                    buf[..8.min(size)].copy_from_slice(&i.to_le_bytes()[..8.min(size)]);
                    let t = Instant::now();
                    s.write_all(&buf).context("echo write")?;
                    s.read_exact(&mut buf).context("echo read")?;
                    lat.record(t.elapsed());
                    if buf[..8.min(size)] != i.to_le_bytes()[..8.min(size)] {
                        bail!("echo returned different bytes");
                    }
                }
                Ok(lat)
            }));
        }
        barrier.wait();
        let start = Instant::now();
        let mut all = Latencies::default();
        for h in handles {
            match h.join() {
                Ok(r) => all.merge(r?),
                Err(_) => bail!("floor echo client panicked"),
            }
        }
        Ok((all, start.elapsed()))
    })
}

fn unix_echo(
    path: &PathBuf,
    clients: usize,
    per_client: u64,
    size: usize,
    deadline: Instant,
) -> Result<(Latencies, Duration)> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    let server = std::thread::spawn(move || {
        // Exactly one connection per client: the server ends by itself.
        if listener.set_nonblocking(true).is_err() {
            return;
        }
        for _ in 0..clients {
            let Ok((s, _)) = accept_by(deadline, || listener.accept()) else { return };
            if s.set_nonblocking(false).is_err() {
                return;
            }
            let _ = s.set_read_timeout(left(deadline));
            std::thread::spawn(move || echo_loop(s, size));
        }
    });
    let result = echo_clients(clients, per_client, size, deadline, || {
        let s = UnixStream::connect(path).context("connecting to the unix echo server")?;
        s.set_read_timeout(left(deadline))?;
        Ok(s)
    });
    let _ = server.join();
    let _ = std::fs::remove_file(path);
    result
}

fn tcp_listener() -> Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a loopback TCP port")
}

fn tcp_connect(addr: std::net::SocketAddr, deadline: Instant) -> Result<TcpStream> {
    let s = TcpStream::connect(addr).context("connecting over loopback TCP")?;
    // Like the node links of both daemons: small packets go out at once.
    s.set_nodelay(true)?;
    s.set_read_timeout(left(deadline))?;
    Ok(s)
}

/// Accept one connection, waiting no longer than `deadline`: a peer that
/// failed to connect must not leave us blocked for ever.
fn accept_by<S>(deadline: Instant, mut accept: impl FnMut() -> std::io::Result<S>) -> Result<S> {
    loop {
        match accept() {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                check(deadline, "accept")?;
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e).context("accepting a floor connection"),
        }
    }
}

fn tcp_accept(listener: &TcpListener, deadline: Instant) -> Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let (s, _) = accept_by(deadline, || listener.accept())?;
    s.set_nonblocking(false)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(left(deadline))?;
    Ok(s)
}

fn tcp_echo(round_trips: u64, size: usize, deadline: Instant) -> Result<(Latencies, Duration)> {
    let listener = tcp_listener()?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || {
        if let Ok(s) = tcp_accept(&listener, deadline) {
            echo_loop(s, size);
        }
    });
    let result = echo_clients(1, round_trips, size, deadline, || tcp_connect(addr, deadline));
    let _ = server.join();
    result
}

/// `nodes` relays in a TCP ring, `window` tokens each, `laps` laps; returns
/// the number of messages moved and the wall time.
fn tcp_ring(nodes: usize, window: u32, laps: u32, size: usize, deadline: Instant) -> Result<(u64, Duration)> {
    let size = size.max(STAMP_LEN);
    let n = u32::try_from(nodes).context("too many nodes")?.max(2);
    let listeners = (0..n).map(|_| tcp_listener()).collect::<Result<Vec<_>>>()?;
    let addrs = listeners.iter().map(|l| l.local_addr()).collect::<std::io::Result<Vec<_>>>()?;
    let barrier = Barrier::new(n as usize + 1);
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (me, listener) in listeners.into_iter().enumerate() {
            let me = me as u32;
            let next_addr = addrs[((me + 1) % n) as usize];
            let barrier = &barrier;
            handles.push(scope.spawn(move || -> Result<()> {
                // Connecting only needs the listener's backlog, so every
                // relay can connect before any of them accepts.
                let links =
                    tcp_connect(next_addr, deadline).and_then(|out| Ok((out, tcp_accept(&listener, deadline)?)));
                barrier.wait();
                let (mut out, mut inp) = links?;
                let prev = (me + n - 1) % n;
                let hops = laps * n;
                let mut seq = 0u64;
                let mut checker = SeqCheck::new(n as usize);
                for token in 0..window {
                    out.write_all(&Stamp { from: me, seq, a: me, b: token, c: 1 }.encode(size))?;
                    seq += 1;
                }
                let mut buf = vec![0u8; size];
                for _ in 0..u64::from(n) * u64::from(window) * u64::from(laps) {
                    check(deadline, "tcp ring")?;
                    inp.read_exact(&mut buf).context("tcp ring read")?;
                    let s = Stamp::decode(&buf, size)?;
                    if s.from != prev {
                        bail!("tcp ring: relay {me} got a message from {}", s.from);
                    }
                    checker.accept(s.from, s.seq)?;
                    if s.c == hops {
                        continue;
                    }
                    out.write_all(&Stamp { from: me, seq, a: s.a, b: s.b, c: s.c + 1 }.encode(size))?;
                    seq += 1;
                }
                Ok(())
            }));
        }
        barrier.wait();
        let start = Instant::now();
        for h in handles {
            match h.join() {
                Ok(r) => r?,
                Err(_) => bail!("floor ring relay panicked"),
            }
        }
        let elapsed = start.elapsed();
        Ok((u64::from(n) * u64::from(n) * u64::from(window) * u64::from(laps), elapsed))
    })
}

/// One writer sends `messages` messages to each of `readers` connections;
/// returns deliveries and wall time.
fn tcp_fanout(readers: usize, messages: u64, size: usize, deadline: Instant) -> Result<(u64, Duration)> {
    let size = size.max(STAMP_LEN);
    let readers = readers.max(1);
    let listeners = (0..readers).map(|_| tcp_listener()).collect::<Result<Vec<_>>>()?;
    let addrs = listeners.iter().map(|l| l.local_addr()).collect::<std::io::Result<Vec<_>>>()?;
    let barrier = Barrier::new(readers + 1);
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let barrier = &barrier;
            handles.push(scope.spawn(move || -> Result<()> {
                let conn = tcp_accept(&listener, deadline);
                barrier.wait();
                let mut s = conn?;
                let mut buf = vec![0u8; size];
                let mut checker = SeqCheck::new(1);
                for _ in 0..messages {
                    check(deadline, "tcp fan-out")?;
                    s.read_exact(&mut buf).with_context(|| format!("tcp fan-out reader {i}"))?;
                    let st = Stamp::decode(&buf, size)?;
                    checker.accept(st.from, st.seq)?;
                }
                Ok(())
            }));
        }
        let outs = addrs.iter().map(|a| tcp_connect(*a, deadline)).collect::<Result<Vec<_>>>();
        barrier.wait();
        let start = Instant::now();
        let mut outs = outs?;
        for seq in 0..messages {
            check(deadline, "tcp fan-out")?;
            let msg = Stamp { from: 0, seq, a: 0, b: 0, c: 0 }.encode(size);
            for o in &mut outs {
                o.write_all(&msg).context("tcp fan-out write")?;
            }
        }
        for h in handles {
            match h.join() {
                Ok(r) => r?,
                Err(_) => bail!("floor fan-out reader panicked"),
            }
        }
        Ok((messages * readers as u64, start.elapsed()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes() -> FloorSizes {
        FloorSizes {
            control_bytes: 64,
            message_bytes: 96,
            round_trips: 50,
            many_clients: 4,
            per_client: 10,
            nodes: 3,
            ring_window: 2,
            ring_laps: 3,
            fanout_messages: 40,
        }
    }

    #[test]
    fn every_floor_figure_is_measured() {
        let dir = tempfile::tempdir().unwrap();
        let s = sizes();
        let values = run(&s, dir.path(), Duration::from_secs(20)).unwrap();
        assert_eq!(values.len(), metrics(&s).len());
        assert!(values.iter().all(|v| *v > 0.0), "{values:?}");
    }
}
