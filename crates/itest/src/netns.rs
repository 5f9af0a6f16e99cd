//! A public-IP failover test bed in Linux network namespaces, as
//! `shared/testing/netns-failover.md` describes it: N CTDB nodes, each in a
//! namespace of its own with a private and a public Ethernet interface, a
//! client namespace on the public segment, and the two segments as bridges
//! in a switch namespace.
//!
//! ```text
//!            <id>-sw (a namespace that only holds two bridges)
//!   br-priv: n0-priv n1-priv n2-priv          br-pub: n0-pub n1-pub n2-pub cl-pub
//!               |       |       |                        |      |      |      |
//! <id>-nodeI:  eth0 192.0.2.(10+I)/24          eth1 (no static address)   |
//! <id>-client:                                   eth0 198.51.100.200/24 --+
//! ```
//!
//! Every daemon runs in **normal mode** with the bed's private paths (§4 of
//! the recipe): inside `ip netns exec` (a private, non-propagating mount
//! table) a tmpfs goes over `/run`, and `$CTDB_BASE/run`, `$CTDB_BASE`,
//! `$CTDB_BASE/var` are bound over `/run/ctdb`, `/etc/ctdb`,
//! `/var/lib/ctdb`, so the same commands serve ctdb-rs's `ctdbd` and
//! Debian's. Node I's `CTDB_BASE` is `DIR/nodeI` with `nodes`,
//! `public_addresses` (198.51.100.101–106/24 on `eth1`), `ctdb.conf`
//! (`[failover] disabled = false`, the cluster lock in `DIR/shared`),
//! `ctdb.tunables`, copies of Debian's `functions` and `notify.sh`, and
//! `events/legacy/00.ctdb.script` and `10.interface.script` enabled as
//! symlinks to Debian's shipped scripts: `10.interface` is what puts the
//! addresses on `eth1` (it needs `ip`, `ethtool`, `iptables`).
//!
//! Each node namespace can also run a tiny TCP server on port 8000 that
//! answers `nodeI\n` and keeps the connection open, so a client learns from
//! the banner which node holds an address ([`Bed::start_servers`],
//! [`Bed::connect`]).
//!
//! Network safety: every interface, address and firewall rule exists only
//! inside the namespaces the bed creates (veth pairs are created directly
//! in the switch namespace with their peer in the node's, never in the root
//! namespace); the names carry `ctrs-PID-SEQ`, so beds of parallel tests and
//! runs never collide; dropping a [`Bed`] kills every process in its
//! namespaces and deletes them, also when the test panics. Namespaces left
//! by a test process that died without its `Drop` (SIGKILL) are removed by
//! the next bed, once their owner's pid is gone.
//!
//! Needs root, iproute2, ethtool, iptables, `/usr/bin/python3` and Debian's
//! ctdb package (the README's test command installs them); without the
//! means to make namespaces [`Bed::new`] fails with a message saying so.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::wait_for;

/// The public addresses every node lists (198.51.100.101–106/24).
pub const PUBLIC_ADDRESSES: [Ipv4Addr; 6] = [
    Ipv4Addr::new(198, 51, 100, 101),
    Ipv4Addr::new(198, 51, 100, 102),
    Ipv4Addr::new(198, 51, 100, 103),
    Ipv4Addr::new(198, 51, 100, 104),
    Ipv4Addr::new(198, 51, 100, 105),
    Ipv4Addr::new(198, 51, 100, 106),
];

/// Prefix length of the public addresses.
pub const PUBLIC_MASK_BITS: u8 = 24;

/// The client's own address on the public segment.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 200);

/// Port of the per-node test server.
pub const SERVER_PORT: u16 = 8000;

/// A node's private interface (carries its node address).
pub const PRIV_IFACE: &str = "eth0";

/// A node's public interface (carries only public addresses).
pub const PUB_IFACE: &str = "eth1";

/// Debian's ctdb tool (the event scripts' `$CTDB` too).
pub const DEBIAN_CTDB: &str = "/usr/bin/ctdb";

/// How long one `ctdb` tool run may take before it is killed.
const CTDB_TOOL_TIMEOUT_SECS: u32 = 30;

/// How long a daemon's start (until its parent returns) may take.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Beds made by this process so far (the `SEQ` of `ctrs-PID-SEQ`).
static SEQ: AtomicU32 = AtomicU32::new(0);

/// Node I's private address: 192.0.2.(10+I).
pub fn node_addr(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 10 + i as u8)
}

/// What a bed is made of.
#[derive(Debug, Clone)]
pub struct BedConfig {
    /// Number of nodes (at most 20).
    pub nodes: u32,
    /// The daemon each node runs (ours by default: `target/<profile>/ctdbd`).
    pub daemon: PathBuf,
    /// `ctdb.tunables` lines (`Name=Value`).
    pub tunables: Vec<String>,
    /// Extra `ctdb.conf` settings, `SECTION:KEY=VALUE` (e.g.
    /// `logging:log level=INFO`), replacing the bed's value of that key.
    pub options: Vec<String>,
}

impl Default for BedConfig {
    /// Three nodes running our `ctdbd`, default tunables and settings.
    fn default() -> BedConfig {
        BedConfig { nodes: 3, daemon: crate::bin("ctdbd"), tunables: Vec::new(), options: Vec::new() }
    }
}

/// A failover bed: its namespaces, node directories, and the test servers
/// it started. See the module documentation.
pub struct Bed {
    id: String,
    dir: tempfile::TempDir,
    cfg: BedConfig,
    /// Namespaces created so far, torn down in reverse order.
    namespaces: Vec<String>,
    servers: Vec<Child>,
}

impl Bed {
    /// Make the namespaces, links and node directories; start nothing.
    /// Fails with a clear message when namespaces cannot be made here (not
    /// root, no `ip`, no permission).
    pub fn new(cfg: BedConfig) -> Result<Bed> {
        if cfg.nodes == 0 || cfg.nodes > 20 {
            bail!("a bed has 1 to 20 nodes, not {}", cfg.nodes);
        }
        preflight()?;
        remove_stale_beds();
        let id = format!("ctrs-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let dir = tempfile::Builder::new().prefix(&format!("{id}-")).tempdir()?;
        let mut bed = Bed { id, dir, cfg, namespaces: Vec::new(), servers: Vec::new() };
        bed.make_network()?;
        bed.write_files()?;
        Ok(bed)
    }

    /// The bed's unique name prefix (`ctrs-PID-SEQ`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Number of nodes.
    pub fn n(&self) -> u32 {
        self.cfg.nodes
    }

    /// The switch namespace (holds `br-priv` and `br-pub`).
    pub fn switch_ns(&self) -> String {
        format!("{}-sw", self.id)
    }

    /// Node I's namespace.
    pub fn node_ns(&self, i: u32) -> String {
        format!("{}-node{i}", self.id)
    }

    /// The client's namespace (198.51.100.200 on the public segment).
    pub fn client_ns(&self) -> String {
        format!("{}-client", self.id)
    }

    /// The bed's directory (node directories, `shared/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Node I's `CTDB_BASE`.
    pub fn node_dir(&self, i: u32) -> PathBuf {
        self.dir().join(format!("node{i}"))
    }

    /// Node I's control socket, as seen from outside its daemon.
    pub fn socket(&self, i: u32) -> PathBuf {
        self.node_dir(i).join("run/ctdbd.socket")
    }

    /// Node I's log text.
    pub fn log(&self, i: u32) -> String {
        std::fs::read_to_string(self.node_dir(i).join("log.ctdb")).unwrap_or_default()
    }

    /// Node I's daemon pid, from its pid file, while it runs.
    pub fn pid(&self, i: u32) -> Option<i32> {
        let text = std::fs::read_to_string(self.node_dir(i).join("run/ctdbd.pid")).ok()?;
        text.trim().parse().ok().filter(|&p| alive(p))
    }

    // ---- running things ----

    /// Run `args` inside namespace `ns` (`ip netns exec`), with its output.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Result<Output> {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {args:?} in {ns}"))
    }

    /// Debian's `ctdb` tool with node I's `CTDB_BASE`/`CTDB_SOCKET`, run
    /// inside node I's namespace (killed after 30 s).
    pub fn ctdb(&self, i: u32, args: &[&str]) -> Result<Output> {
        let base = format!("CTDB_BASE={}", self.node_dir(i).display());
        let socket = format!("CTDB_SOCKET={}", self.socket(i).display());
        let limit = CTDB_TOOL_TIMEOUT_SECS.to_string();
        let mut cmd = vec!["env", &base, &socket, "timeout", "-s", "KILL", &limit, DEBIAN_CTDB];
        cmd.extend_from_slice(args);
        self.exec(&self.node_ns(i), &cmd)
    }

    /// `ctdb -X ip` on node I: address → holder (-1: none); `None` when the
    /// tool fails.
    pub fn ctdb_ip(&self, i: u32) -> Option<BTreeMap<Ipv4Addr, i64>> {
        let o = self.ctdb(i, &["-X", "ip"]).ok()?;
        if !o.status.success() {
            return None;
        }
        parse_ctdb_ip_x(&String::from_utf8_lossy(&o.stdout))
    }

    /// The IPv4 addresses on `iface` in namespace `ns` (`ip -n NS -4 addr
    /// show dev IFACE`).
    pub fn iface_addrs(&self, ns: &str, iface: &str) -> Result<Vec<Ipv4Addr>> {
        let o = ip(&["-n", ns, "-o", "-4", "addr", "show", "dev", iface])?;
        Ok(parse_addr_show(&o))
    }

    /// The public addresses on node I's `eth1`.
    pub fn public_on(&self, i: u32) -> Result<Vec<Ipv4Addr>> {
        let all = self.iface_addrs(&self.node_ns(i), PUB_IFACE)?;
        Ok(all.into_iter().filter(|a| PUBLIC_ADDRESSES.contains(a)).collect())
    }

    // ---- daemons ----

    /// Start node I's daemon in its namespace with the private paths;
    /// returns once the daemon's parent has returned (it is serving).
    pub fn start_node(&self, i: u32) -> Result<()> {
        let nd = self.node_dir(i);
        let out = std::fs::File::create(nd.join("start.out"))?;
        // The daemon is `$0`, so no path is quoted into the script.
        let script = "mount -t tmpfs -o size=8m ctrs-run /run && mkdir -p /run/ctdb /run/lock && \
                      mount --bind \"$CTDB_BASE/run\" /run/ctdb && \
                      mount --bind \"$CTDB_BASE\" /etc/ctdb && \
                      mount --bind \"$CTDB_BASE/var\" /var/lib/ctdb && exec \"$0\"";
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.node_ns(i), "env"])
            .arg(format!("CTDB_BASE={}", nd.display()))
            .arg(format!("CTDB_SOCKET={}", self.socket(i).display()))
            .arg(format!("CTDB_SCRIPT_VARDIR={}", nd.join("var/scripts").display()))
            .args(["sh", "-c", script])
            .arg(&self.cfg.daemon)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("running ip netns exec")?;
        let deadline = Instant::now() + START_TIMEOUT;
        let status = loop {
            if let Some(st) = child.try_wait()? {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("node {i}'s daemon did not start within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !status.success() {
            bail!(
                "node {i}'s daemon failed to start ({status}): {}\nlog:\n{}",
                std::fs::read_to_string(nd.join("start.out")).unwrap_or_default(),
                self.log(i)
            );
        }
        Ok(())
    }

    /// Start every node's daemon.
    pub fn start_all(&self) -> Result<()> {
        (0..self.n()).try_for_each(|i| self.start_node(i))
    }

    /// Stop node I's daemon with SIGTERM (its `shutdown` event runs) and
    /// wait until it is gone (SIGKILL after `timeout`).
    pub fn stop_node(&self, i: u32, timeout: Duration) -> Result<()> {
        let Some(pid) = self.pid(i) else { return Ok(()) };
        signal(pid, nix::sys::signal::Signal::SIGTERM)?;
        if wait_for(timeout, "daemon to exit", || !alive(pid)).is_err() {
            let _ = signal(pid, nix::sys::signal::Signal::SIGKILL);
            wait_for(Duration::from_secs(5), "killed daemon to die", || !alive(pid))?;
            bail!("node {i}'s daemon (pid {pid}) did not exit within {timeout:?} of SIGTERM; killed");
        }
        Ok(())
    }

    /// `kill -9` node I's daemon and wait until it is dead. Its addresses
    /// stay on `eth1`, as on Samba (nothing removes them).
    pub fn kill_node(&self, i: u32) -> Result<()> {
        let pid = self.pid(i).with_context(|| format!("node {i} is not running"))?;
        signal(pid, nix::sys::signal::Signal::SIGKILL)?;
        wait_for(Duration::from_secs(5), "killed daemon to die", || !alive(pid))?;
        Ok(())
    }

    /// Cut node I off: its two switch ports down, so it loses carrier on
    /// both interfaces and no peer hears it (a pulled cable). The cluster
    /// lock fence of the recipe (§6) is not done here.
    pub fn cut_node(&self, i: u32) -> Result<()> {
        self.set_ports(i, "down")
    }

    /// Fence node I from the cluster lock, as a cluster file system would
    /// expel a node cut off from it (recipe §6): an empty read-only tmpfs
    /// over the bed's shared directory inside the daemon's mount namespace,
    /// so its lock helper finds the lock file gone at its next re-check
    /// and lets go. The other nodes keep the real directory. A restarted
    /// daemon gets a fresh mount namespace, so the fence ends with it.
    pub fn fence_node(&self, i: u32) -> Result<()> {
        let pid = self.pid(i).with_context(|| format!("node {i} is not running"))?;
        let shared = self.dir().join("shared");
        let out = Command::new("nsenter")
            .args(["-t", &pid.to_string(), "-m", "mount", "-t", "tmpfs", "-o", "ro,size=1m", "ctrs-fence"])
            .arg(&shared)
            .output()
            .context("running nsenter")?;
        if !out.status.success() {
            bail!("fencing node {i} (pid {pid}): {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// Undo [`Bed::cut_node`].
    pub fn uncut_node(&self, i: u32) -> Result<()> {
        self.set_ports(i, "up")
    }

    fn set_ports(&self, i: u32, state: &str) -> Result<()> {
        for port in [format!("n{i}-priv"), format!("n{i}-pub")] {
            ip(&["-n", &self.switch_ns(), "link", "set", &port, state])?;
        }
        Ok(())
    }

    /// Whether node I's `iface` has a carrier (its peer is up).
    pub fn has_carrier(&self, i: u32, iface: &str) -> Result<bool> {
        let text = ip(&["-n", &self.node_ns(i), "link", "show", iface])?;
        Ok(!text.contains("NO-CARRIER"))
    }

    // ---- allocation checks ----

    /// The allocation when it is consistent: every node of `running`
    /// answers `ctdb -X ip` with the same map, every public address held
    /// by one of `running`, and every node's `eth1` (running or not)
    /// carries exactly the addresses assigned to it.
    pub fn consistent_allocation(&self, running: &[u32]) -> Option<BTreeMap<Ipv4Addr, u32>> {
        let first = self.ctdb_ip(*running.first()?)?;
        let mut alloc = BTreeMap::new();
        for a in PUBLIC_ADDRESSES {
            let h = u32::try_from(*first.get(&a)?).ok()?;
            if !running.contains(&h) {
                return None;
            }
            alloc.insert(a, h);
        }
        if first.len() != PUBLIC_ADDRESSES.len() {
            return None;
        }
        for &p in &running[1..] {
            if self.ctdb_ip(p).as_ref() != Some(&first) {
                return None;
            }
        }
        for i in 0..self.n() {
            let mut on: Vec<Ipv4Addr> = self.public_on(i).ok()?;
            on.sort();
            let want: Vec<Ipv4Addr> = alloc.iter().filter(|(_, h)| **h == i).map(|(a, _)| *a).collect();
            if on != want {
                return None;
            }
        }
        Some(alloc)
    }

    /// Every node's view for a failure message: `ctdb ip` and `eth1`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for i in 0..self.n() {
            s.push_str(&format!(
                "node {i}: ctdb ip {:?}; eth1 {:?}\n",
                self.ctdb_ip(i),
                self.public_on(i).unwrap_or_default()
            ));
        }
        s
    }

    // ---- test servers and client ----

    /// Start the test server in every node namespace: port 8000, answers
    /// `nodeI\n` and keeps each connection open. Returns when all listen.
    pub fn start_servers(&mut self) -> Result<()> {
        for i in 0..self.n() {
            let log = self.node_dir(i).join("server.out");
            let out = std::fs::File::create(&log)?;
            let child = Command::new("ip")
                .args(["netns", "exec", &self.node_ns(i), "/usr/bin/python3", "-c", SERVER_PY])
                .arg(format!("node{i}"))
                .arg(SERVER_PORT.to_string())
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
                .context("starting a test server")?;
            self.servers.push(child);
            wait_for(Duration::from_secs(10), "test server listening", || {
                std::fs::read_to_string(&log).is_ok_and(|t| t.contains("listening"))
            })
            .with_context(|| {
                format!("node {i}'s test server: {}", std::fs::read_to_string(&log).unwrap_or_default())
            })?;
        }
        Ok(())
    }

    /// From namespace `ns`, connect to `addr:port` and read the banner
    /// (e.g. `node1`), giving the connection and the read `timeout` each.
    pub fn connect(&self, ns: &str, addr: Ipv4Addr, port: u16, timeout: Duration) -> Result<String> {
        let o = self.exec(
            ns,
            &[
                "/usr/bin/python3",
                "-c",
                CLIENT_PY,
                &addr.to_string(),
                &port.to_string(),
                &timeout.as_secs_f64().to_string(),
            ],
        )?;
        if !o.status.success() {
            bail!("connecting to {addr}:{port} from {ns}: {}", String::from_utf8_lossy(&o.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// From the client namespace, open a connection to `addr:port` and
    /// read its banner (e.g. `node1`); the connection stays open, an
    /// ESTABLISHED client connection for the caller to watch
    /// ([`watch_connection`]). The socket lives in the client namespace
    /// whichever thread uses it.
    pub fn client_open(&self, addr: Ipv4Addr, port: u16, timeout: Duration) -> Result<(TcpStream, String)> {
        in_netns(&self.client_ns(), || -> Result<(TcpStream, String)> {
            let to = SocketAddr::V4(SocketAddrV4::new(addr, port));
            let mut s = TcpStream::connect_timeout(&to, timeout).with_context(|| format!("connecting to {to}"))?;
            let banner = read_banner(&mut s, Instant::now() + timeout).with_context(|| format!("banner of {to}"))?;
            Ok((s, banner))
        })?
    }

    /// Start a [`Prober`] in the client namespace: a **new** connection to
    /// `addr:port` every `every`, each given `timeout` to connect and send
    /// its banner, until stopped or `run_for` has passed.
    pub fn start_prober(
        &self,
        addr: Ipv4Addr,
        port: u16,
        every: Duration,
        timeout: Duration,
        run_for: Duration,
    ) -> Result<Prober> {
        Prober::start(&self.client_ns(), SocketAddr::V4(SocketAddrV4::new(addr, port)), every, timeout, run_for)
    }

    /// The leader as node I sees it (`ctdb leader`), if it names one.
    pub fn leader(&self, i: u32) -> Option<u32> {
        let o = self.ctdb(i, &["leader"]).ok()?;
        if !o.status.success() {
            return None;
        }
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    }

    /// Whether `ctdb gettickles ADDR` on node I lists the connection
    /// `client` → `addr:port`.
    pub fn knows_tickle(&self, i: u32, client: SocketAddr, addr: Ipv4Addr, port: u16) -> bool {
        let o = self.ctdb(i, &["gettickles", &addr.to_string(), &port.to_string()]);
        o.is_ok_and(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            o.status.success() && text.split_whitespace().any(|w| w == client.to_string())
        })
    }

    /// The last `lines` lines of each node's log, for failure messages.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut s = String::new();
        for i in 0..self.n() {
            let log = self.log(i);
            let all: Vec<&str> = log.lines().collect();
            s.push_str(&format!("---- node {i} log (last {lines} lines) ----\n"));
            for l in &all[all.len().saturating_sub(lines)..] {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    // ---- setup ----

    fn add_ns(&mut self, name: String) -> Result<()> {
        ip(&["netns", "add", &name]).with_context(|| format!("creating network namespace {name}"))?;
        self.namespaces.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        // IPv6 off: 10.interface and the captures deal with IPv4 only.
        // (/proc/sys/net is the writer's network namespace.)
        let _ = self.exec(
            &name,
            &[
                "sh",
                "-c",
                "echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; \
                 echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6",
            ],
        );
        Ok(())
    }

    /// A veth pair `port` (in the switch, enslaved to `bridge`) ↔ `iface`
    /// (in `ns`), both up; created in the switch namespace, never in the
    /// root one.
    fn link(&self, port: &str, bridge: &str, ns: &str, iface: &str) -> Result<()> {
        let sw = self.switch_ns();
        ip(&["-n", &sw, "link", "add", port, "type", "veth", "peer", "name", iface, "netns", ns])?;
        ip(&["-n", &sw, "link", "set", port, "master", bridge, "up"])?;
        ip(&["-n", ns, "link", "set", iface, "up"])?;
        Ok(())
    }

    fn make_network(&mut self) -> Result<()> {
        let sw = self.switch_ns();
        self.add_ns(sw.clone())?;
        for br in ["br-priv", "br-pub"] {
            ip(&["-n", &sw, "link", "add", br, "type", "bridge", "stp_state", "0", "forward_delay", "0"])?;
            ip(&["-n", &sw, "link", "set", br, "up"])?;
        }
        for i in 0..self.n() {
            let ns = self.node_ns(i);
            self.add_ns(ns.clone())?;
            self.link(&format!("n{i}-priv"), "br-priv", &ns, PRIV_IFACE)?;
            self.link(&format!("n{i}-pub"), "br-pub", &ns, PUB_IFACE)?;
            ip(&["-n", &ns, "addr", "add", &format!("{}/24", node_addr(i)), "dev", PRIV_IFACE])?;
        }
        let cl = self.client_ns();
        self.add_ns(cl.clone())?;
        self.link("cl-pub", "br-pub", &cl, "eth0")?;
        ip(&["-n", &cl, "addr", "add", &format!("{CLIENT_ADDR}/24"), "dev", "eth0"])?;
        Ok(())
    }

    fn write_files(&self) -> Result<()> {
        let shared = self.dir().join("shared");
        std::fs::create_dir_all(&shared)?;
        let nodes: String = (0..self.n()).map(|i| format!("{}\n", node_addr(i))).collect();
        let public: String = PUBLIC_ADDRESSES.iter().map(|a| format!("{a}/{PUBLIC_MASK_BITS} {PUB_IFACE}\n")).collect();
        let extra = parse_options(&self.cfg.options)?;
        for i in 0..self.n() {
            let nd = self.node_dir(i);
            for sub in ["run", "var/scripts", "var/db/volatile", "var/db/persistent", "var/db/state", "events/legacy"] {
                std::fs::create_dir_all(nd.join(sub))?;
            }
            std::fs::write(nd.join("nodes"), &nodes)?;
            std::fs::write(nd.join("public_addresses"), &public)?;
            let tunables: String = self.cfg.tunables.iter().map(|t| format!("{t}\n")).collect();
            std::fs::write(nd.join("ctdb.tunables"), tunables)?;
            let s = |p: PathBuf| p.display().to_string();
            let mut conf: Vec<(String, Vec<(String, String)>)> = vec![
                (
                    "logging".into(),
                    vec![
                        ("location".into(), format!("file:{}", s(nd.join("log.ctdb")))),
                        ("log level".into(), "NOTICE".into()),
                    ],
                ),
                (
                    "cluster".into(),
                    vec![
                        ("cluster lock".into(), s(shared.join("cluster.lock"))),
                        ("node address".into(), node_addr(i).to_string()),
                    ],
                ),
                (
                    "database".into(),
                    vec![
                        ("volatile database directory".into(), s(nd.join("var/db/volatile"))),
                        ("persistent database directory".into(), s(nd.join("var/db/persistent"))),
                        ("state database directory".into(), s(nd.join("var/db/state"))),
                    ],
                ),
                ("failover".into(), vec![("disabled".into(), "false".into())]),
                ("legacy".into(), vec![("realtime scheduling".into(), "false".into())]),
            ];
            for (sec, key, value) in &extra {
                let idx = match conf.iter().position(|(n, _)| n == sec) {
                    Some(x) => x,
                    None => {
                        conf.push((sec.clone(), Vec::new()));
                        conf.len() - 1
                    }
                };
                match conf[idx].1.iter_mut().find(|(k, _)| k == key) {
                    Some(kv) => kv.1 = value.clone(),
                    None => conf[idx].1.push((key.clone(), value.clone())),
                }
            }
            let mut text = String::new();
            for (sec, keys) in &conf {
                text.push_str(&format!("[{sec}]\n"));
                for (k, v) in keys {
                    text.push_str(&format!("\t{k} = {v}\n"));
                }
            }
            std::fs::write(nd.join("ctdb.conf"), text)?;
            // Event scripts source $CTDB_BASE/functions; notify.sh avoids
            // a warning at every notification.
            for f in ["functions", "notify.sh"] {
                std::fs::copy(Path::new("/etc/ctdb").join(f), nd.join(f))
                    .with_context(|| format!("copying /etc/ctdb/{f} (Debian's ctdb package)"))?;
            }
            for script in ["00.ctdb.script", "10.interface.script"] {
                std::os::unix::fs::symlink(
                    Path::new("/usr/share/ctdb/events/legacy").join(script),
                    nd.join("events/legacy").join(script),
                )?;
            }
        }
        Ok(())
    }
}

impl Drop for Bed {
    /// Kill the test servers and every process left in the bed's
    /// namespaces (daemons, lock helpers, event scripts: all started by
    /// the bed), then delete the namespaces (with them every veth and
    /// bridge).
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
        teardown(&self.namespaces);
        if std::env::var_os("CTDB_ITEST_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("netns bed: directory kept at {}", self.dir().display());
        }
    }
}

/// Kill what runs in `namespaces` and delete them, last made first.
fn teardown(namespaces: &[String]) {
    for ns in namespaces.iter().rev() {
        let pids = || -> Vec<i32> {
            Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect())
                .unwrap_or_default()
        };
        for pid in pids() {
            let _ = signal(pid, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = wait_for(Duration::from_secs(5), "processes in the namespace to die", || {
            pids().into_iter().all(|p| !alive(p))
        });
        let _ = Command::new("ip").args(["netns", "del", ns]).output();
    }
}

/// Remove beds whose test process is gone (killed before its `Drop` ran):
/// namespaces `ctrs-PID-…` whose PID no longer exists.
fn remove_stale_beds() {
    let Ok(o) = Command::new("ip").args(["netns", "list"]).output() else { return };
    let stale: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| {
            let pid = name.strip_prefix("ctrs-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<i32>().ok());
            pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists())
        })
        .map(str::to_string)
        .collect();
    if !stale.is_empty() {
        eprintln!("netns bed: removing stale namespaces {stale:?}");
        teardown(&stale);
    }
}

/// Root and a working `ip netns`, or a clear error.
fn preflight() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the netns failover bed needs root (network namespaces, veths, bridges)");
    }
    for tool in ["ip", "ethtool", "iptables"] {
        let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()))
            || Path::new("/usr/sbin").join(tool).exists();
        if !found {
            bail!("the netns failover bed needs `{tool}` (the README's test command installs it)");
        }
    }
    for f in [DEBIAN_CTDB, "/usr/bin/python3", "/etc/ctdb/functions", "/var/lib/ctdb"] {
        if !Path::new(f).exists() {
            bail!("the netns failover bed needs {f} (the README's test command installs it)");
        }
    }
    let o = Command::new("ip").args(["netns", "list"]).output().context("running `ip netns list`")?;
    if !o.status.success() {
        bail!("`ip netns` does not work here: {}", String::from_utf8_lossy(&o.stderr).trim());
    }
    Ok(())
}

/// Run `ip ARGS`; its stdout, or an error with its stderr.
fn ip(args: &[&str]) -> Result<String> {
    let o = Command::new("ip").args(args).stdin(Stdio::null()).output().context("running ip")?;
    if !o.status.success() {
        bail!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) -> Result<()> {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)?;
    Ok(())
}

/// Running, as opposed to gone or a zombie (whoever reaps orphans here may
/// take its time, and a zombie holds nothing).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Run `f` on a thread of its own that has joined network namespace `ns`
/// (`/run/netns/NS`): sockets it makes live in `ns`, and stay there when
/// handed to other threads; threads it starts are in `ns` too. Only that
/// thread moves; a panic in `f` is passed on.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    let file =
        std::fs::File::open(Path::new("/run/netns").join(ns)).with_context(|| format!("opening namespace {ns}"))?;
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            // SAFETY: setns(2) on an open namespace descriptor; it moves
            // only the calling thread (this one, which ends with `f`).
            if unsafe { nix::libc::setns(file.as_raw_fd(), nix::libc::CLONE_NEWNET) } != 0 {
                bail!("entering network namespace {ns}: {}", std::io::Error::last_os_error());
            }
            Ok(f())
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Read a banner line (`nodeI\n`) by `deadline`.
fn read_banner(s: &mut TcpStream, deadline: Instant) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 64];
    while !buf.contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut b)? {
            0 => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before the banner")),
            n => buf.extend_from_slice(&b[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&buf).trim().to_string())
}

/// One connection attempt of a [`Prober`].
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When the attempt began (before `connect`).
    pub start: Instant,
    /// When it got its banner or gave up.
    pub end: Instant,
    /// The banner (`nodeI`), or what went wrong.
    pub outcome: std::result::Result<String, String>,
}

impl Attempt {
    /// Answered with `banner`.
    pub fn answered_by(&self, banner: &str) -> bool {
        self.outcome.as_deref() == Ok(banner)
    }
}

/// A client that opens a **new** connection to one address at a steady
/// pace from a namespace (each attempt on a thread of its own, so an
/// attempt stuck on a dead owner does not hold up the next), as §5 of the
/// recipe's prober. Bounded: it stops by itself after its run time, and
/// [`Drop`] stops it and waits for the attempts in flight (each bounded
/// by its timeout).
pub struct Prober {
    stop: Arc<AtomicBool>,
    rx: mpsc::Receiver<Attempt>,
    seen: Vec<Attempt>,
    thread: Option<JoinHandle<()>>,
}

impl Prober {
    /// Probe `to` from namespace `ns`; see [`Bed::start_prober`].
    pub fn start(ns: &str, to: SocketAddr, every: Duration, timeout: Duration, run_for: Duration) -> Result<Prober> {
        let file =
            std::fs::File::open(Path::new("/run/netns").join(ns)).with_context(|| format!("opening namespace {ns}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            // SAFETY: as in `in_netns`: moves only this thread.
            if unsafe { nix::libc::setns(file.as_raw_fd(), nix::libc::CLONE_NEWNET) } != 0 {
                let _ = ready_tx.send(Err(std::io::Error::last_os_error().to_string()));
                return;
            }
            let _ = ready_tx.send(Ok(()));
            let until = Instant::now() + run_for;
            let mut next = Instant::now();
            let mut inflight: Vec<JoinHandle<()>> = Vec::new();
            while !stop2.load(Ordering::Relaxed) && Instant::now() < until {
                let tx = tx.clone();
                // Threads started here are in the namespace too.
                inflight.push(std::thread::spawn(move || {
                    let start = Instant::now();
                    let outcome = TcpStream::connect_timeout(&to, timeout)
                        .and_then(|mut s| read_banner(&mut s, start + timeout))
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Attempt { start, end: Instant::now(), outcome });
                }));
                inflight.retain(|h| !h.is_finished());
                // Pacing, not synchronisation: the next attempt's start.
                next += every;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            for h in inflight {
                let _ = h.join();
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(Prober { stop, rx, seen: Vec::new(), thread: Some(thread) }),
            Ok(Err(e)) => bail!("prober could not enter {ns}: {e}"),
            Err(_) => bail!("prober did not start"),
        }
    }

    /// The first attempt (in order of ending) that satisfies `pred`,
    /// waiting for new ones until `deadline`; `None` if none did by then.
    pub fn first(&mut self, deadline: Instant, pred: impl Fn(&Attempt) -> bool) -> Option<Attempt> {
        if let Some(a) = self.seen.iter().find(|a| pred(a)) {
            return Some(a.clone());
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let a = self.rx.recv_timeout(left).ok()?;
            self.seen.push(a.clone());
            if pred(&a) {
                return Some(a);
            }
        }
    }

    /// Every attempt received so far (those [`Prober::first`] has read).
    pub fn attempts(&self) -> &[Attempt] {
        &self.seen
    }

    /// Stop and wait for the attempts in flight; every attempt, in order
    /// of ending.
    pub fn finish(mut self) -> Vec<Attempt> {
        self.halt();
        std::mem::take(&mut self.seen)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.seen.extend(self.rx.try_iter());
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.halt();
    }
}

/// How a watched client connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Reset by the peer (ECONNRESET).
    Reset,
    /// Closed by the peer (end of file).
    Closed,
    /// Still open when the watch ended.
    Open,
    /// Another error.
    Failed(String),
}

/// Watch a client connection on a thread of its own: block reading it
/// (the server sends nothing after its banner) until the peer resets or
/// closes it, or `bound` has passed; when and how it ended.
pub fn watch_connection(mut s: TcpStream, bound: Duration) -> JoinHandle<(Instant, Fate)> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + bound;
        let mut b = [0u8; 64];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (Instant::now(), Fate::Open);
            }
            if let Err(e) = s.set_read_timeout(Some(left)) {
                return (Instant::now(), Fate::Failed(e.to_string()));
            }
            let r = s.read(&mut b);
            let now = Instant::now();
            match r {
                Ok(0) => return (now, Fate::Closed),
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (now, Fate::Reset),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
                Err(e) => return (now, Fate::Failed(e.to_string())),
            }
        }
    })
}

/// Watch process `pid` on a thread of its own (every 2 ms): when it was
/// first seen gone, or `None` if it still ran after `bound`.
pub fn watch_exit(pid: i32, bound: Duration) -> JoinHandle<Option<Instant>> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if !alive(pid) {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    })
}

/// `SECTION:KEY=VALUE` settings.
fn parse_options(options: &[String]) -> Result<Vec<(String, String, String)>> {
    options
        .iter()
        .map(|o| {
            let (sec, kv) = o.split_once(':').with_context(|| format!("option {o:?}: want SECTION:KEY=VALUE"))?;
            let (k, v) = kv.split_once('=').with_context(|| format!("option {o:?}: want SECTION:KEY=VALUE"))?;
            Ok((sec.trim().to_string(), k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// `ctdb -X ip` output: `|Public IP|Node|` then `|ADDR|PNN|` lines.
fn parse_ctdb_ip_x(text: &str) -> Option<BTreeMap<Ipv4Addr, i64>> {
    let mut lines = text.lines();
    if !lines.next()?.starts_with("|Public IP|Node|") {
        return None;
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.trim_matches('|').split('|');
            Some((f.next()?.parse().ok()?, f.next()?.trim().parse().ok()?))
        })
        .collect()
}

/// `ip -o -4 addr show` lines: the address after each `inet`.
fn parse_addr_show(text: &str) -> Vec<Ipv4Addr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|t| *t == "inet")?;
            w.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

/// The test server: `python3 -c SERVER_PY BANNER PORT`.
const SERVER_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen(128)
print("listening", flush=True)
banner = (sys.argv[1] + "\n").encode()
held = []
while True:
    c, _ = s.accept()
    try:
        c.sendall(banner)
        held.append(c)
    except OSError:
        c.close()
"#;

/// The client: `python3 -c CLIENT_PY ADDR PORT TIMEOUT`; prints the banner.
const CLIENT_PY: &str = r#"
import socket, sys
t = float(sys.argv[3])
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=t)
c.settimeout(t)
b = c.recv(64)
if not b:
    sys.exit("connection closed without a banner")
print(b.decode().strip())
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ctdb_ip_x_and_addr_show() {
        let m = parse_ctdb_ip_x("|Public IP|Node|\n|198.51.100.101|0|\n|198.51.100.102|-1|\n").unwrap();
        assert_eq!(m.get(&PUBLIC_ADDRESSES[0]), Some(&0));
        assert_eq!(m.get(&PUBLIC_ADDRESSES[1]), Some(&-1));
        assert!(parse_ctdb_ip_x("Public IPs on node 0\n").is_none());
        let a = parse_addr_show(
            "3: eth1    inet 198.51.100.101/24 scope global eth1\\       valid_lft forever\n\
             3: eth1    inet 198.51.100.104/24 scope global secondary eth1\\ valid_lft forever\n",
        );
        assert_eq!(a, vec![PUBLIC_ADDRESSES[0], PUBLIC_ADDRESSES[3]]);
    }
}
