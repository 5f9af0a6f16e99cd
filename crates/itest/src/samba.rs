//! Unmodified Samba (Debian's `smbd` with `clustering = yes`) on top of a
//! CTDB cluster, one smbd per node, and the cross-node checks of
//! `shared/testing/clustered-samba.md` (section 4).
//!
//! [`SambaNodes`] only needs each node's ctdbd socket and an SMB address, so
//! it drives our [`Cluster`](crate::Cluster) and Debian's reference ctdbd
//! ([`ReferenceCluster`]) alike. It runs in one of two [`Mode`]s: volatile-only
//! (the persistent databases — secrets, passdb, registry … — stay node-local,
//! so the account is created on every node and smbd attaches only volatile
//! databases through ctdbd) or clustered (every database goes through ctdbd:
//! the account is created once, through node 0, and the registry and passdb
//! checks of section 4 apply).
//!
//! Every external command runs with a time limit; every wait has a deadline;
//! dropping a [`SambaNodes`] or [`ReferenceCluster`] stops what it started.

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::wait_for;

/// Debian's smbd.
pub const SMBD: &str = "/usr/sbin/smbd";
/// Debian's reference ctdbd.
pub const CTDBD: &str = "/usr/sbin/ctdbd";
/// Debian's `ctdb` tool.
pub const CTDB_TOOL: &str = "/usr/bin/ctdb";
/// The Python that has Samba's bindings (not a pyenv/venv one from `PATH`).
pub const PYTHON: &str = "/usr/bin/python3";
/// Where Debian keeps ctdbd's helpers.
pub const CTDB_LIBEXEC: &str = "/usr/libexec/ctdb";

/// The SMB account every check uses.
pub const USER: &str = "root";
/// Its password.
pub const PASSWORD: &str = "Csmb-itest-1";
/// The share every node serves (the same directory on all nodes).
pub const SHARE: &str = "share";

/// Time limit of one client command (smbclient, smbtorture, python, ctdb).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an smbd may take from `smbd -D` until it lists the share.
pub const SMBD_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Is Debian's smbd installed?
pub fn smbd_installed() -> bool {
    Path::new(SMBD).exists()
}

/// One node as smbd sees it: which ctdbd to talk to, where to serve SMB.
#[derive(Clone, Debug)]
pub struct SambaNode {
    /// The ctdbd Unix socket of this node.
    pub socket: PathBuf,
    /// The SMB address (loopback) this node's smbd listens on.
    pub addr: Ipv4Addr,
}

/// Which of smbd's databases go through ctdbd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `ctdb:NAME.tdb = no` for every persistent database: they stay
    /// node-local, only the volatile ones are clustered. The account is
    /// created on every node.
    VolatileOnly,
    /// Every database is clustered, the persistent ones (secrets, passdb,
    /// passdb.tdb.tmp, account_policy, group_mapping, share_info, registry)
    /// included. The account is created once, through node 0.
    Clustered,
}

/// The persistent databases volatile-only mode keeps node-local.
pub const PERSISTENT_DBS: [&str; 7] = [
    "secrets.tdb",
    "passdb.tdb",
    "passdb.tdb.tmp",
    "account_policy.tdb",
    "group_mapping.tdb",
    "share_info.tdb",
    "registry.tdb",
];

/// One smbd per cluster node, sharing one directory as the share.
pub struct SambaNodes {
    dir: PathBuf,
    nodes: Vec<SambaNode>,
    mode: Mode,
}

impl SambaNodes {
    /// Volatile-only mode ([`Mode::VolatileOnly`]): see [`SambaNodes::start_mode`].
    pub fn start(dir: &Path, nodes: Vec<SambaNode>) -> Result<SambaNodes> {
        SambaNodes::start_mode(dir, nodes, Mode::VolatileOnly)
    }

    /// Write each node's smb.conf under `dir` (which must exist), create the
    /// account (on every node in volatile-only mode, through node 0 only
    /// when clustered), start every smbd and wait until each lists the share
    /// with that account. The CTDB cluster must already be up.
    pub fn start_mode(dir: &Path, nodes: Vec<SambaNode>, mode: Mode) -> Result<SambaNodes> {
        let dir = fs::canonicalize(dir).with_context(|| format!("work dir {}", dir.display()))?;
        let s = SambaNodes { dir, nodes, mode };
        s.write_files()?;
        let account_nodes = match mode {
            Mode::VolatileOnly => s.n(),
            Mode::Clustered => 1,
        };
        for n in 0..account_nodes {
            let t = Instant::now();
            s.add_account(n)?;
            eprintln!("samba: node {n}: account created in {:?}", t.elapsed());
        }
        for n in 0..s.n() {
            let t = Instant::now();
            s.start_smbd(n)?;
            eprintln!("samba: node {n}: smbd (pid {:?}) lists the share after {:?}", s.smbd_pid(n), t.elapsed());
        }
        Ok(s)
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.nodes.len()
    }

    /// The mode the smbds run in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The work directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node descriptions.
    pub fn nodes(&self) -> &[SambaNode] {
        &self.nodes
    }

    /// A node's directory (smb.conf, lock/state/… directories, log).
    pub fn node_dir(&self, n: usize) -> PathBuf {
        self.dir.join(format!("node.{n}"))
    }

    /// A node's smb.conf (absolute).
    pub fn conf(&self, n: usize) -> PathBuf {
        self.node_dir(n).join("smb.conf")
    }

    /// The shared directory behind `[share]`.
    pub fn share_dir(&self) -> PathBuf {
        self.dir.join("share")
    }

    /// The clients' configuration.
    pub fn client_conf(&self) -> PathBuf {
        self.dir.join("client.conf")
    }

    /// `//ADDR/share` of a node.
    pub fn unc(&self, n: usize) -> String {
        format!("//{}/{SHARE}", self.nodes[n].addr)
    }

    /// The pid of a node's parent smbd, from its pid file.
    pub fn smbd_pid(&self, n: usize) -> Option<i32> {
        read_pid(&self.node_dir(n).join("pid/smbd.pid"))
    }

    /// Start node `n`'s smbd again (after it was killed) and wait until it
    /// lists the share.
    pub fn restart_smbd(&self, n: usize) -> Result<()> {
        self.start_smbd(n)
    }

    /// The last `lines` lines of a node's smbd log.
    pub fn log_tail(&self, n: usize, lines: usize) -> String {
        tail(&self.node_dir(n).join("log/smbd.log"), lines)
    }

    /// Log tails of every node, for error messages.
    pub fn logs(&self) -> String {
        (0..self.n()).map(|n| format!("--- smbd log node {n} ---\n{}\n", self.log_tail(n, 30))).collect()
    }

    fn smb_conf(&self, n: usize) -> String {
        let node = &self.nodes[n];
        smb_conf(&self.node_dir(n), &node.socket, Listen::Only(node.addr), &self.share_dir(), self.mode)
    }

    fn write_files(&self) -> Result<()> {
        let share = self.share_dir();
        fs::create_dir_all(&share)?;
        fs::set_permissions(&share, fs::Permissions::from_mode(0o1777))?;
        fs::create_dir_all(self.dir.join("tmp"))?;
        fs::write(self.client_conf(), "[global]\n    client min protocol = SMB2_02\n")?;
        for n in 0..self.n() {
            let d = self.node_dir(n);
            for sub in ["lock", "state", "cache", "private", "pid", "ncalrpc", "log"] {
                fs::create_dir_all(d.join(sub))?;
            }
            fs::write(self.conf(n), self.smb_conf(n))?;
        }
        Ok(())
    }

    /// Create the account through node `n` (`smbpasswd -a`). In
    /// volatile-only mode passdb.tdb is node-local, so every node needs it.
    fn add_account(&self, n: usize) -> Result<()> {
        let mut cmd = Command::new("smbpasswd");
        cmd.arg("-c").arg(self.conf(n)).args(["-a", "-s", USER]);
        let out = self.run(&mut cmd, Some(format!("{PASSWORD}\n{PASSWORD}\n").as_bytes()), COMMAND_TIMEOUT)?;
        if !out.status.success() {
            bail!("smbpasswd on node {n} failed: {}\n{}", show(&out), self.logs());
        }
        Ok(())
    }

    fn start_smbd(&self, n: usize) -> Result<()> {
        let mut cmd = Command::new(SMBD);
        // -D: smbd daemonizes into a session of its own; it kills its process
        // group on exit, which then is not ours. The path must be absolute.
        cmd.arg("-D").arg("-s").arg(self.conf(n));
        let out = self.run(&mut cmd, None, COMMAND_TIMEOUT)?;
        if !out.status.success() {
            bail!("smbd -D on node {n} failed: {}\n{}", show(&out), self.logs());
        }
        let mut last = String::new();
        let mut exited = false;
        let r = wait_for(SMBD_START_TIMEOUT, &format!("smbd on node {n} to list the share"), || {
            // The daemonized smbd names its smb.conf on its command line and
            // holds its log open: no such process means it has exited.
            if processes_of_dir(&self.node_dir(n)).is_empty() {
                exited = true;
                return true;
            }
            match self.list_shares(n) {
                Ok(shares) if shares.iter().any(|s| s == SHARE) => true,
                Ok(shares) => {
                    last = format!("listed {shares:?}");
                    false
                }
                Err(e) => {
                    last = format!("{e:#}");
                    false
                }
            }
        });
        if let Err(e) = r {
            bail!("{e}; last attempt: {last}\n{}", self.logs());
        }
        if exited {
            bail!("smbd on node {n} exited during start-up\n{}", self.logs());
        }
        Ok(())
    }

    /// The disk shares `smbclient -L` lists on a node.
    pub fn list_shares(&self, n: usize) -> Result<Vec<String>> {
        let mut cmd = self.smbclient();
        cmd.args(["-g", "-L"]).arg(format!("//{}", self.nodes[n].addr));
        let out = self.run(&mut cmd, None, Duration::from_secs(10))?;
        if !out.status.success() {
            bail!("smbclient -L on node {n}: {}", show(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Disk|"))
            .map(|l| l.split('|').next().unwrap_or_default().to_string())
            .collect())
    }

    fn smbclient(&self) -> Command {
        let mut cmd = Command::new("smbclient");
        cmd.arg("-s").arg(self.client_conf()).arg("-U").arg(format!("{USER}%{PASSWORD}"));
        cmd
    }

    /// Run one smbclient command (`-c`) against a node's share.
    pub fn smbclient_cmd(&self, n: usize, command: &str) -> Result<Output> {
        let mut cmd = self.smbclient();
        cmd.arg(self.unc(n)).arg("-c").arg(command);
        self.run(&mut cmd, None, COMMAND_TIMEOUT)
    }

    /// Check a: a file written through node `from` (`put`) reads back
    /// through node `to` (`get`) with identical content.
    pub fn check_put_get(&self, from: usize, to: usize) -> Result<()> {
        let name = format!("a-{from}-{to}.bin");
        let src = self.dir.join("tmp").join(format!("{name}.in"));
        let dst = self.dir.join("tmp").join(format!("{name}.out"));
        let content: Vec<u8> =
            format!("written through node {from} ({}) by pid {}\n", self.unc(from), std::process::id())
                .into_bytes()
                .into_iter()
                .chain((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8))
                .collect();
        fs::write(&src, &content)?;
        let _ = fs::remove_file(&dst);
        let out = self.smbclient_cmd(from, &format!("put {} {name}", src.display()))?;
        if !out.status.success() {
            bail!("put through node {from}: {}\n{}", show(&out), self.logs());
        }
        let out = self.smbclient_cmd(to, &format!("get {name} {}", dst.display()))?;
        if !out.status.success() {
            bail!("get through node {to}: {}\n{}", show(&out), self.logs());
        }
        let got = fs::read(&dst).with_context(|| format!("reading {}", dst.display()))?;
        if got != content {
            bail!("content read through node {to} differs ({} bytes, wrote {})", got.len(), content.len());
        }
        Ok(())
    }

    /// Check b: share modes (locking.tdb) across nodes, with Samba's Python
    /// bindings. `holder` opens x.dat with ShareAccess=0 and keeps it; the
    /// open for write through `other` must fail with
    /// NT_STATUS_SHARING_VIOLATION, and succeed once `holder` has closed.
    /// Returns the script's output.
    pub fn check_share_modes(&self, holder: usize, other: usize) -> Result<String> {
        let script = self.dir.join("sharemode.py");
        fs::write(&script, SHAREMODE_PY)?;
        let mut cmd = Command::new(PYTHON);
        cmd.env_remove("PYTHONPATH").env_remove("PYTHONHOME");
        cmd.arg(&script)
            .arg(self.client_conf())
            .arg(self.nodes[holder].addr.to_string())
            .arg(self.nodes[other].addr.to_string())
            .arg(PASSWORD);
        let out = self.run(&mut cmd, None, COMMAND_TIMEOUT)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        let expected = [
            "held: x.dat open with ShareAccess=0 through the first node",
            "while-held: NT_STATUS_SHARING_VIOLATION",
            "released: closed through the first node",
            "after-close: opened",
        ];
        if !out.status.success() || lines != expected {
            bail!(
                "share-mode check (holder node {holder}, other node {other}) expected {expected:#?}\ngot {}\n{}",
                show(&out),
                self.logs()
            );
        }
        Ok(text)
    }

    /// Check c (and the share-mode matrix): run smbtorture `test` with its
    /// first connection to node `first` and its second to node `second`;
    /// it must pass. Returns smbtorture's output (stdout, then stderr).
    pub fn check_torture(&self, first: usize, second: usize, test: &str) -> Result<String> {
        let unclist = self.dir.join(format!("unclist-{first}-{second}.txt"));
        fs::write(&unclist, format!("{}\n{}\n", self.unc(first), self.unc(second)))?;
        let mut cmd = Command::new("smbtorture");
        cmd.arg(format!("--configfile={}", self.client_conf().display()))
            .arg("--option=torture:progress=no")
            .arg(format!("--unclist={}", unclist.display()))
            .arg(self.unc(first))
            .arg("-U")
            .arg(format!("{USER}%{PASSWORD}"))
            .arg(test);
        let out = self.run(&mut cmd, None, COMMAND_TIMEOUT)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        let short = test.rsplit('.').next().unwrap_or(test);
        if !out.status.success() || !text.lines().any(|l| l.trim() == format!("success: {short}")) {
            bail!("smbtorture {test} (nodes {first}, {second}) did not succeed: {}\n{}", show(&out), self.logs());
        }
        Ok(text)
    }

    /// Run Debian's `ctdb` tool against node `n`'s ctdbd socket.
    pub fn ctdb(&self, n: usize, args: &[&str]) -> Result<Output> {
        let mut cmd = Command::new(CTDB_TOOL);
        cmd.env("CTDB_SOCKET", &self.nodes[n].socket).args(args);
        self.run(&mut cmd, None, COMMAND_TIMEOUT)
    }

    /// Database names `ctdb getdbmap` lists through node `n`.
    pub fn dbmap(&self, n: usize) -> Result<Vec<String>> {
        let out = self.ctdb(n, &["getdbmap"])?;
        if !out.status.success() {
            bail!("ctdb getdbmap through node {n}: {}", show(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("name:")))
            .map(str::to_string)
            .collect())
    }

    /// Check d: `ctdb getdbmap` through every node lists each of `names`.
    pub fn check_dbmap(&self, names: &[&str]) -> Result<()> {
        for n in 0..self.n() {
            let have = self.dbmap(n)?;
            let missing: Vec<&&str> = names.iter().filter(|w| !have.iter().any(|h| h == *w)).collect();
            if !missing.is_empty() {
                bail!("getdbmap through node {n} lacks {missing:?}; it lists {have:?}");
            }
        }
        Ok(())
    }

    /// Does node `through`'s ctdbd say process `pid` exists
    /// (`ctdb process-exists`)?
    pub fn process_exists(&self, through: usize, pid: i32) -> Result<bool> {
        let out = self.ctdb(through, &["process-exists", &pid.to_string()])?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("does not exist") {
            Ok(false)
        } else if text.contains("exists") && out.status.success() {
            Ok(true)
        } else {
            bail!("ctdb process-exists {pid} through node {through}: {}", show(&out))
        }
    }

    /// Check e: each node's smbd is a client of its own node's ctdbd only:
    /// `ctdb process-exists <smbd pid of N>` says exists through node N's
    /// socket and does not exist through every other node's.
    pub fn check_wiring(&self) -> Result<()> {
        for n in 0..self.n() {
            let pid = self.smbd_pid(n).with_context(|| format!("no smbd pid file on node {n}"))?;
            for through in 0..self.n() {
                let exists = self.process_exists(through, pid)?;
                if exists != (through == n) {
                    bail!("smbd {pid} of node {n}: process-exists through node {through} says exists={exists}");
                }
            }
        }
        Ok(())
    }

    /// Run `net -s <node n's smb.conf> conf ARGS…` (the registry
    /// configuration, registry.tdb).
    pub fn net_conf(&self, n: usize, args: &[&str]) -> Result<Output> {
        let mut cmd = Command::new("net");
        cmd.arg("-s").arg(self.conf(n)).arg("conf").args(args);
        self.run(&mut cmd, None, COMMAND_TIMEOUT)
    }

    /// Check d (clustered registry): `net conf setparm global PARAM VALUE`
    /// through node `from`, then `net conf getparm global PARAM` through
    /// node `to` prints VALUE.
    pub fn check_registry_param(&self, from: usize, to: usize, param: &str, value: &str) -> Result<()> {
        let out = self.net_conf(from, &["setparm", "global", param, value])?;
        if !out.status.success() {
            bail!("net conf setparm through node {from}: {}\n{}", show(&out), self.logs());
        }
        let out = self.net_conf(to, &["getparm", "global", param])?;
        let got = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || got.trim_end() != value {
            bail!("net conf getparm {param} through node {to} (set through node {from} to {value:?}): {}", show(&out));
        }
        Ok(())
    }

    /// Check d (registry shares): `net conf addshare NAME` (on the shared
    /// directory) through node `from`; `smbclient -L` through node `to`
    /// lists it and a file put through `to`'s NAME is in the directory.
    pub fn check_registry_share(&self, from: usize, to: usize, name: &str) -> Result<()> {
        let share = self.share_dir();
        let share = share.to_str().context("share path")?;
        let out = self.net_conf(from, &["addshare", name, share, "writeable=y", "guest_ok=n", "ctdb-rs itest"])?;
        if !out.status.success() {
            bail!("net conf addshare {name} through node {from}: {}\n{}", show(&out), self.logs());
        }
        let shares = self.list_shares(to)?;
        if !shares.iter().any(|s| s == name) {
            bail!("smbclient -L through node {to} lists {shares:?}, not {name} (added through node {from})");
        }
        let file = format!("reg-{name}-{from}-{to}.txt");
        let src = self.dir.join("tmp").join(&file);
        fs::write(&src, format!("through registry share {name} on node {to}\n"))?;
        let mut cmd = self.smbclient();
        cmd.arg(format!("//{}/{name}", self.nodes[to].addr)).arg("-c").arg(format!("put {} {file}", src.display()));
        let out = self.run(&mut cmd, None, COMMAND_TIMEOUT)?;
        if !out.status.success() {
            bail!("put through //{}/{name}: {}\n{}", self.nodes[to].addr, show(&out), self.logs());
        }
        if fs::read(self.share_dir().join(&file))? != fs::read(&src)? {
            bail!("{file} put through //{}/{name} is not in {}", self.nodes[to].addr, self.share_dir().display());
        }
        Ok(())
    }

    /// Add an SMB account for the existing Unix user `user` through node
    /// `n` with `pdbedit -a -t` (password twice on stdin).
    pub fn pdbedit_add(&self, n: usize, user: &str, password: &str) -> Result<()> {
        let mut cmd = Command::new("pdbedit");
        cmd.arg("-s").arg(self.conf(n)).args(["-a", "-t", "-u", user]);
        let out = self.run(&mut cmd, Some(format!("{password}\n{password}\n").as_bytes()), COMMAND_TIMEOUT)?;
        if !out.status.success() {
            bail!("pdbedit -a {user} through node {n}: {}\n{}", show(&out), self.logs());
        }
        Ok(())
    }

    /// The account names `pdbedit -L` lists through node `n`.
    pub fn pdbedit_list(&self, n: usize) -> Result<Vec<String>> {
        let mut cmd = Command::new("pdbedit");
        cmd.arg("-s").arg(self.conf(n)).arg("-L");
        let out = self.run(&mut cmd, None, COMMAND_TIMEOUT)?;
        if !out.status.success() {
            bail!("pdbedit -L through node {n}: {}", show(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(':').next())
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// `smbclient //node n/share -U user%password -c COMMAND`.
    pub fn smbclient_as(&self, n: usize, user: &str, password: &str, command: &str) -> Result<Output> {
        let mut cmd = Command::new("smbclient");
        cmd.arg("-s")
            .arg(self.client_conf())
            .arg("-U")
            .arg(format!("{user}%{password}"))
            .arg(self.unc(n))
            .arg("-c")
            .arg(command);
        self.run(&mut cmd, None, COMMAND_TIMEOUT)
    }

    /// Does `user` with `password` log on to node `n`'s share? `Ok(false)`
    /// only for NT_STATUS_LOGON_FAILURE; any other failure is an error.
    pub fn logs_on(&self, n: usize, user: &str, password: &str) -> Result<bool> {
        let out = self.smbclient_as(n, user, password, "ls")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            Ok(true)
        } else if text.contains("NT_STATUS_LOGON_FAILURE") {
            Ok(false)
        } else {
            bail!("smbclient as {user} through node {n}: {}\n{}", show(&out), self.logs())
        }
    }

    /// `ctdb getdbseqnum DB` through node `n` (Debian's tool).
    pub fn dbseqnum(&self, n: usize, db: &str) -> Result<u64> {
        let out = self.ctdb(n, &["getdbseqnum", db])?;
        let text = String::from_utf8_lossy(&out.stdout);
        let hex = text.trim().strip_prefix("0x");
        match hex.map(|h| u64::from_str_radix(h, 16)) {
            Some(Ok(v)) if out.status.success() => Ok(v),
            _ => bail!("ctdb getdbseqnum {db} through node {n}: {}", show(&out)),
        }
    }

    /// `ctdb getdbseqnum DB` is the same through every node; returns it.
    pub fn check_seqnums_equal(&self, db: &str) -> Result<u64> {
        let seqnums = (0..self.n()).map(|n| self.dbseqnum(n, db)).collect::<Result<Vec<u64>>>()?;
        if seqnums.windows(2).any(|w| w[0] != w[1]) {
            bail!("ctdb getdbseqnum {db} differs between nodes: {seqnums:?}");
        }
        Ok(seqnums[0])
    }

    /// The local file of database `db` on node `n` (`path:` of `ctdb
    /// getdbmap` through node `n`).
    pub fn db_path(&self, n: usize, db: &str) -> Result<PathBuf> {
        let out = self.ctdb(n, &["getdbmap"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        let name = format!("name:{db}");
        text.lines()
            .filter(|l| l.split_whitespace().any(|w| w == name))
            .find_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("path:")))
            .map(PathBuf::from)
            .with_context(|| format!("ctdb getdbmap through node {n} has no path for {db}: {}", show(&out)))
    }

    /// Every node keeps its own copy of `db` (distinct files, as `ctdb
    /// getdbmap` reports them), and each copy holds the bytes `needle`.
    pub fn check_replicas(&self, db: &str, needle: &[u8]) -> Result<Vec<PathBuf>> {
        let paths = (0..self.n()).map(|n| self.db_path(n, db)).collect::<Result<Vec<PathBuf>>>()?;
        for (n, path) in paths.iter().enumerate() {
            if paths[..n].contains(path) {
                bail!("{db}: nodes share one file {}: {paths:?}", path.display());
            }
            let bytes = fs::read(path).with_context(|| format!("node {n}'s {db} copy {}", path.display()))?;
            if !bytes.windows(needle.len()).any(|w| w == needle) {
                bail!("node {n}'s copy of {db} ({}) lacks {:?}", path.display(), String::from_utf8_lossy(needle));
            }
        }
        Ok(paths)
    }

    /// Run a command with a time limit, output collected in files of the
    /// work directory (no pipes a daemonizing child could keep open).
    pub fn run(&self, cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Result<Output> {
        run_bounded(cmd, stdin, timeout, &self.dir.join("tmp"))
    }

    fn stop(&self) {
        for n in 0..self.n() {
            let pid_dir = self.node_dir(n).join("pid");
            for name in ["smbd.pid", "samba-dcerpcd.pid"] {
                if let Some(pid) = read_pid(&pid_dir.join(name)) {
                    terminate(pid, Duration::from_secs(10));
                }
            }
        }
        kill_leftovers(&self.dir);
    }
}

impl Drop for SambaNodes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Which addresses an smbd listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    /// Only this address (`interfaces = ADDR/8`, `bind interfaces only =
    /// yes`): several smbds share one network namespace, one address each.
    Only(Ipv4Addr),
    /// Every address of the smbd's network namespace, also addresses added
    /// after it started (`bind interfaces only = no`: smbd binds the
    /// wildcard address), as public addresses that CTDB moves between
    /// nodes need.
    Any,
}

/// The recipe's smb.conf (section 3) of one clustered smbd: node-local
/// directories under `dir` (`lock`, `state`, `cache`, `private`, `pid`,
/// `ncalrpc`, `log`), its ctdbd at `socket`, the `[share]` on `share`.
pub fn smb_conf(dir: &Path, socket: &Path, listen: Listen, share: &Path, mode: Mode) -> String {
    let d = dir.display();
    let local_dbs: String = match mode {
        Mode::VolatileOnly => {
            "    # volatile-only mode: persistent databases stay node-local\n".to_string()
                + &PERSISTENT_DBS.iter().map(|db| format!("    ctdb:{db} = no\n")).collect::<String>()
        }
        Mode::Clustered => String::new(),
    };
    let listen = match listen {
        Listen::Only(addr) => format!("    interfaces = {addr}/8\n    bind interfaces only = yes\n"),
        Listen::Any => "    bind interfaces only = no\n".to_string(),
    };
    format!(
        "[global]\n\
         \x20   netbios name = CSMB\n\
         \x20   workgroup = CSMBGRP\n\
         \x20   server role = standalone server\n\
         \x20   passdb backend = tdbsam\n\
         \x20   clustering = yes\n\
         \x20   ctdbd socket = {socket}\n\
         {listen}\
         \x20   smb ports = 445\n\
         \x20   disable netbios = yes\n\
         \x20   lock directory = {d}/lock\n\
         \x20   state directory = {d}/state\n\
         \x20   cache directory = {d}/cache\n\
         \x20   private dir = {d}/private\n\
         \x20   pid directory = {d}/pid\n\
         \x20   ncalrpc dir = {d}/ncalrpc\n\
         \x20   log file = {d}/log/smbd.log\n\
         \x20   registry shares = yes\n\
         \x20   load printers = no\n\
         \x20   printing = bsd\n\
         \x20   printcap name = /dev/null\n\
         \x20   disable spoolss = yes\n\
         {local_dbs}\
         [{SHARE}]\n\
         \x20   path = {share}\n\
         \x20   read only = no\n\
         \x20   posix locking = no\n",
        socket = socket.display(),
        share = share.display(),
    )
}

/// Check b's client: prints one result line per step; the Rust side
/// compares them.
const SHAREMODE_PY: &str = r#"import sys
from samba.samba3 import libsmb_samba_internal as libsmb, param as s3param
from samba import credentials, NTSTATUSError, ntstatus
from samba.dcerpc import security

conf, holder, other, password = sys.argv[1:5]
lp = s3param.get_context()
lp.load(conf)
cr = credentials.Credentials()
cr.guess(lp)
cr.set_username("root")
cr.set_password(password)
c0 = libsmb.Conn(holder, "share", lp, cr)
c1 = libsmb.Conn(other, "share", lp, cr)
RW = security.SEC_FILE_READ_DATA | security.SEC_FILE_WRITE_DATA
FILE_OPEN, FILE_OVERWRITE_IF = 1, 5


def code(e):
    return "0x%08X" % (e.args[0] & 0xFFFFFFFF)


def try_open(step):
    try:
        f = c1.create("x.dat", DesiredAccess=RW, ShareAccess=7, CreateDisposition=FILE_OPEN)
        c1.close(f)
        print("%s: opened" % step, flush=True)
    except NTSTATUSError as e:
        if e.args[0] == ntstatus.NT_STATUS_SHARING_VIOLATION:
            print("%s: NT_STATUS_SHARING_VIOLATION" % step, flush=True)
        else:
            print("%s: failed %s %s" % (step, code(e), e.args[1] if len(e.args) > 1 else ""), flush=True)


f0 = c0.create("x.dat", DesiredAccess=RW, ShareAccess=0, CreateDisposition=FILE_OVERWRITE_IF)
print("held: x.dat open with ShareAccess=0 through the first node", flush=True)
try_open("while-held")
c0.close(f0)
print("released: closed through the first node", flush=True)
try_open("after-close")
"#;

/// Debian's reference ctdbd in test mode, `n` nodes on `base`, `base+1`, …
/// (layout of `tests/local_daemons.sh`: one CTDB_BASE per node, shared
/// nodes file, file cluster lock, failover off).
pub struct ReferenceCluster {
    dir: tempfile::TempDir,
    /// Number of nodes.
    pub n: u32,
}

impl ReferenceCluster {
    /// Write the configuration and start every node (does not wait).
    pub fn start(n: u32, base: Ipv4Addr) -> Result<ReferenceCluster> {
        let dir = tempfile::Builder::new().prefix("ctdb-ref").tempdir()?;
        let c = ReferenceCluster { dir, n };
        let root = c.dir().to_path_buf();
        let addrs: Vec<Ipv4Addr> = (0..n).map(|i| Ipv4Addr::from(u32::from(base) + i)).collect();
        let nodes: String = addrs.iter().map(|a| format!("{a}\n")).collect();
        fs::write(root.join("nodes"), &nodes)?;
        fs::create_dir_all(root.join("shared"))?;
        for pnn in 0..n {
            let d = c.node_dir(pnn);
            for sub in ["run", "events/legacy", "db/volatile", "db/persistent", "db/state"] {
                fs::create_dir_all(d.join(sub))?;
            }
            fs::write(d.join("nodes"), &nodes)?;
            let d = d.display();
            fs::write(
                c.node_dir(pnn).join("ctdb.conf"),
                format!(
                    "[logging]\n    location = file:{d}/log.ctdb\n    log level = NOTICE\n\
                     [cluster]\n    cluster lock = {root}/shared/cluster.lock\n    node address = {addr}\n\
                     [database]\n    volatile database directory = {d}/db/volatile\n\
                     \x20   persistent database directory = {d}/db/persistent\n\
                     \x20   state database directory = {d}/db/state\n\
                     [failover]\n    disabled = true\n",
                    root = root.display(),
                    addr = addrs[pnn as usize],
                ),
            )?;
        }
        let scratch = root.join("tmp");
        fs::create_dir_all(&scratch)?;
        for pnn in 0..n {
            let mut cmd = Command::new(CTDBD);
            cmd.env("CTDB_TEST_MODE", "yes").env("CTDB_BASE", c.node_dir(pnn)).current_dir(c.node_dir(pnn));
            for (var, helper) in [
                ("CTDB_EVENTD", "ctdb-eventd"),
                ("CTDB_EVENT_HELPER", "ctdb-event"),
                ("CTDB_LOCK_HELPER", "ctdb_lock_helper"),
                ("CTDB_RECOVERY_HELPER", "ctdb_recovery_helper"),
                ("CTDB_TAKEOVER_HELPER", "ctdb_takeover_helper"),
                ("CTDB_CLUSTER_MUTEX_HELPER", "ctdb_mutex_fcntl_helper"),
            ] {
                cmd.env(var, Path::new(CTDB_LIBEXEC).join(helper));
            }
            // ctdbd forks into the background; the parent returns at once.
            let out = run_bounded(&mut cmd, None, Duration::from_secs(30), &scratch)?;
            if !out.status.success() {
                bail!("ctdbd node {pnn} failed to start: {}\n{}", show(&out), c.log(pnn));
            }
        }
        Ok(c)
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A node's CTDB_BASE.
    pub fn node_dir(&self, pnn: u32) -> PathBuf {
        self.dir().join(format!("node.{pnn}"))
    }

    /// A node's socket (test mode: `$CTDB_BASE/run/ctdbd.socket`).
    pub fn socket(&self, pnn: u32) -> PathBuf {
        self.node_dir(pnn).join("run/ctdbd.socket")
    }

    /// A node's log (tail).
    pub fn log(&self, pnn: u32) -> String {
        tail(&self.node_dir(pnn).join("log.ctdb"), 30)
    }

    /// `ctdb status` through node `pnn` (10 s limit).
    pub fn status(&self, pnn: u32) -> Result<String> {
        let mut cmd = Command::new(CTDB_TOOL);
        cmd.env("CTDB_SOCKET", self.socket(pnn)).arg("status");
        let out = run_bounded(&mut cmd, None, Duration::from_secs(10), &self.dir().join("tmp"))?;
        if !out.status.success() {
            bail!("ctdb status through node {pnn}: {}", show(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Wait until `ctdb status` through every node lists every node `OK`
    /// and recovery mode NORMAL.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<Duration> {
        let healthy = |s: &str| {
            let ok = s.lines().filter(|l| l.starts_with("pnn:") && l.split_whitespace().nth(2) == Some("OK")).count();
            ok == self.n as usize && s.lines().any(|l| l.starts_with("Recovery mode:NORMAL"))
        };
        let mut last = String::new();
        let r = wait_for(timeout, "reference ctdbd: all nodes OK, recovery NORMAL", || {
            (0..self.n).all(|p| match self.status(p) {
                Ok(s) if healthy(&s) => true,
                Ok(s) => {
                    last = s;
                    false
                }
                Err(e) => {
                    last = format!("{e:#}");
                    false
                }
            })
        });
        r.map_err(|e| anyhow::anyhow!("{e}; last status: {last}\n{}", self.log(0)))
    }

    /// Node descriptions for [`SambaNodes`]: node `pnn`'s socket with SMB
    /// address `smb_base + pnn`.
    pub fn samba_nodes(&self, smb_base: Ipv4Addr) -> Vec<SambaNode> {
        (0..self.n)
            .map(|p| SambaNode { socket: self.socket(p), addr: Ipv4Addr::from(u32::from(smb_base) + p) })
            .collect()
    }
}

impl Drop for ReferenceCluster {
    fn drop(&mut self) {
        for pnn in 0..self.n {
            if let Some(pid) = read_pid(&self.node_dir(pnn).join("run/ctdbd.pid")) {
                terminate(pid, Duration::from_secs(10));
            }
        }
        kill_leftovers(self.dir.path());
    }
}

/// Node descriptions for [`SambaNodes`] on our cluster: node `pnn`'s socket
/// with SMB address `smb_base + pnn`.
pub fn cluster_nodes(c: &crate::Cluster, smb_base: Ipv4Addr) -> Vec<SambaNode> {
    (0..c.n).map(|p| SambaNode { socket: c.socket(p), addr: Ipv4Addr::from(u32::from(smb_base) + p) }).collect()
}

static RUN_SEQ: AtomicU64 = AtomicU64::new(0);

/// Run `cmd` with stdin `stdin` (or none), stdout/stderr into files under
/// `scratch`; kill it and fail after `timeout`.
pub fn run_bounded(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration, scratch: &Path) -> Result<Output> {
    let seq = RUN_SEQ.fetch_add(1, Ordering::Relaxed);
    let out_path = scratch.join(format!("cmd-{}-{seq}.out", std::process::id()));
    let err_path = scratch.join(format!("cmd-{}-{seq}.err", std::process::id()));
    let what = format!("{:?}", cmd);
    cmd.stdout(fs::File::create(&out_path)?).stderr(fs::File::create(&err_path)?);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().with_context(|| format!("spawning {what}"))?;
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().context("stdin pipe")?;
        pipe.write_all(input)?;
    }
    let mut status = None;
    let waited = wait_for(timeout, &what, || match child.try_wait() {
        Ok(Some(s)) => {
            status = Some(s);
            true
        }
        Ok(None) => false,
        Err(_) => true,
    });
    if waited.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = fs::read(&out_path).unwrap_or_default();
    let stderr = fs::read(&err_path).unwrap_or_default();
    let _ = fs::remove_file(&out_path);
    let _ = fs::remove_file(&err_path);
    match (waited, status) {
        (Ok(_), Some(status)) => Ok(Output { status, stdout, stderr }),
        (Ok(_), None) => bail!("waiting for {what} failed"),
        (Err(e), _) => bail!(
            "{e} (killed)\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// Exit status, stdout and stderr of a command, for messages.
pub fn show(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last `lines` lines of a text file (empty if unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The pid in a pid file, if it names one above 1.
pub fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok().filter(|&p: &i32| p > 1)
}

/// Alive means present and not a zombie: processes reparented to pid 1 are
/// not always reaped here, and a zombie holds nothing.
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            stat.rsplit_once(')').is_some_and(|(_, rest)| !matches!(rest.trim_start().chars().next(), Some('Z' | 'X')))
        }
    }
}

/// SIGTERM `pid`, wait up to `grace` for it to go, then SIGKILL it.
pub fn terminate(pid: i32, grace: Duration) {
    if !alive(pid) {
        return;
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    if wait_for(grace, "process to exit", || !alive(pid)).is_err() {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = wait_for(Duration::from_secs(5), "killed process to exit", || !alive(pid));
    }
}

/// Processes (other than this one) whose command line or environment
/// names `dir`, or that hold a file under it open.
pub fn processes_of_dir(dir: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut needle = dir.as_os_str().as_bytes().to_vec();
    needle.push(b'/');
    let contains = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle.as_slice());
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me && alive(pid))
        .filter(|&pid| {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            contains(&cmdline)
                || contains(&environ)
                || fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                    fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok()).any(|target| target.starts_with(dir))
                })
        })
        .collect()
}

/// SIGKILL whatever still runs from `dir` (a few rounds: children may be
/// forked while we look).
fn kill_leftovers(dir: &Path) {
    for _ in 0..3 {
        let pids = processes_of_dir(dir);
        if pids.is_empty() {
            return;
        }
        for &pid in &pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = wait_for(Duration::from_secs(5), "leftover processes to die", || pids.iter().all(|&p| !alive(p)));
    }
}
