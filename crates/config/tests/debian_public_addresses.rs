//! Our public addresses parser against Debian's ctdbd 4.17, when it is
//! installed: for each file, a 1-node ctdbd is started in test mode; it must
//! refuse exactly the files we refuse, logging exactly the lines
//! [`PublicAddressesError::ctdb_log_lines`] gives, and for the files it
//! accepts, `ctdb -X ip -v` and `ctdb -X ifaces` must show our entries and
//! interface order. Skipped (passing) where `/usr/sbin/ctdbd` is absent.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ctdb_config::public_addresses::{interface_exists, local_interfaces, SETUP_FAILED_MESSAGE};
use ctdb_config::{PublicAddresses, PUBLIC_ADDRESSES_FILE};

const CTDBD: &str = "/usr/sbin/ctdbd";
const CTDB: &str = "/usr/bin/ctdb";
const HELPERS: &str = "/usr/libexec/ctdb";

/// A test-mode ctdbd in a temporary directory; killed on drop.
struct Daemon {
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts ctdbd with `public_addresses` (no file if `None`), node
    /// address 127.X.`case`.1.
    fn start(case: u8, public_addresses: Option<&str>) -> Daemon {
        let dir = tempfile::Builder::new().prefix("ctdb-pa-compare").tempdir().unwrap();
        let b = dir.path();
        for d in ["run", "var/volatile", "var/persistent", "var/state", "events/legacy"] {
            std::fs::create_dir_all(b.join(d)).unwrap();
        }
        let ip = format!("127.{}.{case}.1", 200 + std::process::id() % 50);
        std::fs::write(b.join("nodes"), format!("{ip}\n")).unwrap();
        if let Some(text) = public_addresses {
            std::fs::write(b.join(PUBLIC_ADDRESSES_FILE), text).unwrap();
        }
        let conf = format!(
            "[logging]\n\tlocation = file:{b}/log.ctdb\n\tlog level = NOTICE\n\
             [cluster]\n\tnode address = {ip}\n\tcluster lock = {b}/cluster.lock\n\
             [database]\n\tvolatile database directory = {b}/var/volatile\n\
             \tpersistent database directory = {b}/var/persistent\n\
             \tstate database directory = {b}/var/state\n\
             [failover]\n\tdisabled = true\n",
            b = b.display()
        );
        std::fs::write(b.join("ctdb.conf"), conf).unwrap();
        let status = Command::new(CTDBD)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CTDB_TEST_MODE", "yes")
            .env("CTDB_BASE", b)
            .env("CTDB_EVENTD", format!("{HELPERS}/ctdb-eventd"))
            .env("CTDB_EVENT_HELPER", format!("{HELPERS}/ctdb-event"))
            .env("CTDB_LOCK_HELPER", format!("{HELPERS}/ctdb_lock_helper"))
            .env("CTDB_RECOVERY_HELPER", format!("{HELPERS}/ctdb_recovery_helper"))
            .env("CTDB_TAKEOVER_HELPER", format!("{HELPERS}/ctdb_takeover_helper"))
            .env("CTDB_CLUSTER_MUTEX_HELPER", format!("{HELPERS}/ctdb_mutex_fcntl_helper"))
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "ctdbd: {status}");
        Daemon { dir }
    }

    fn base(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The messages the main ctdbd process logged (text after
    /// `ctdbd[PID]: `; its children, e.g. the notification runner, log as
    /// `ctdbd` too, under their own pid).
    fn messages(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.base().join("log.ctdb")).unwrap_or_default();
        let lines: Vec<(&str, &str)> =
            log.lines().filter_map(|l| l.split_once(" ctdbd[")).filter_map(|(_, l)| l.split_once("]: ")).collect();
        let main = lines.iter().find(|(_, m)| m.starts_with("PNN is ")).map(|(pid, _)| *pid);
        lines.iter().filter(|(pid, _)| Some(*pid) == main).map(|(_, m)| m.to_string()).collect()
    }

    /// Waits (at most 60 s) until ctdbd has read the public addresses;
    /// returns its messages from then on.
    fn wait_for_public_addresses(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let messages = self.messages();
            let start = messages.iter().position(|m| m.starts_with("PNN is "));
            let end = messages.iter().position(|m| {
                m == SETUP_FAILED_MESSAGE
                    || m.starts_with("Loaded public addresses from ")
                    || m.starts_with("Not loading public addresses")
            });
            if let (Some(start), Some(end)) = (start, end) {
                return messages[start + 1..=end].to_vec();
            }
            let gone = messages.iter().any(|m| m == "CTDB daemon shutting down");
            assert!(
                !gone && Instant::now() < deadline,
                "ctdbd did not read public addresses:\n{}",
                std::fs::read_to_string(self.base().join("log.ctdb")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `ctdb ARGS` against this daemon: its stdout lines, if it succeeded.
    fn ctdb(&self, args: &[&str]) -> Option<Vec<String>> {
        let out = Command::new(CTDB)
            .args(args)
            .env("CTDB_SOCKET", self.base().join("run/ctdbd.socket"))
            .env("CTDB_BASE", self.base())
            .stdin(Stdio::null())
            .process_group(0)
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid =
            |name: &str| std::fs::read_to_string(self.base().join("run").join(name)).ok().map(|s| s.trim().to_string());
        let (ctdbd, eventd) = (pid("ctdbd.pid"), pid("eventd.pid"));
        if ctdbd.is_some() {
            let _ = self.ctdb(&["-T", "10", "shutdown"]);
        }
        for p in [ctdbd, eventd].into_iter().flatten() {
            if !p.is_empty() && Path::new(&format!("/proc/{p}")).exists() {
                let _ = Command::new("kill").args(["-9", &p]).status();
            }
        }
    }
}

/// `|a|b|c|` rows of machine output, header dropped.
fn rows(lines: &[String]) -> Vec<Vec<String>> {
    lines
        .iter()
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(|l| {
            let inner = l.strip_prefix('|').and_then(|l| l.strip_suffix('|')).unwrap_or(l);
            inner.split('|').map(String::from).collect()
        })
        .collect()
}

#[test]
fn ctdbd_reads_public_addresses_as_we_do() {
    if !Path::new(CTDBD).exists() || !Path::new(CTDB).exists() {
        eprintln!("skipped: {CTDBD} not installed");
        return;
    }
    let other = local_interfaces().unwrap().into_iter().find(|n| n != "lo").unwrap_or_else(|| "lo".into());
    let files: Vec<String> = [
        "10.254.2.11/24 lo\n10.254.2.12/24 lo,OTHER\n",
        "# comment\n\n \t# indented\n\tfd00::11/64\tlo\textra\r\n[fd00::12]/64 OTHER,lo\n::ffff:10.254.2.14/24 lo\n",
        "10.254.2.11/33 lo\n10.254.2.12/300 OTHER\n10.254.2.13/+7 ,\n10.254.2.14/24 lo,lo\n10.254.2.15/24 ,OTHER,,lo,\n",
        "",
        "# c\n\n10.254.2.11/24 lo\n10.254.2.12/24\n",
        "10.254.2.11/24 lo\n\n10.254.2.300/24 lo\n",
        "10.254.2.11/-0 lo\n",
        "::ffff:afe:20b/24 lo\n",
        "10.254.2.11/24 lo\n::ffff:10.254.2.11/16 OTHER\n",
        "10.254.2.11/24 refeth0\n10.254.2.300/24 lo\n",
        "fd00::1/64 lo,no-such-if0\n",
    ]
    .iter()
    .map(|t| t.replace("OTHER", &other))
    .collect();

    for (case, text) in files.iter().enumerate() {
        let daemon = Daemon::start(u8::try_from(case + 1).unwrap(), Some(text));
        let logged = daemon.wait_for_public_addresses();
        match PublicAddresses::parse_checked(text, interface_exists) {
            Err(e) => {
                let mut want = e.ctdb_log_lines();
                want.push(SETUP_FAILED_MESSAGE.to_string());
                assert_eq!(logged, want, "{text:?}");
            }
            Ok(loaded) => {
                let path = daemon.base().join(PUBLIC_ADDRESSES_FILE);
                assert_eq!(logged.last(), Some(&loaded.ctdb_message(&path)), "{text:?}");
                let mut theirs: Vec<(String, String)> = rows(&daemon.ctdb(&["-X", "ip", "-v"]).unwrap())
                    .into_iter()
                    .map(|r| (r[0].clone(), r[4].clone()))
                    .collect();
                let mut ours: Vec<(String, String)> = loaded
                    .addresses
                    .iter()
                    .map(|e| (ctdb_config::public_addresses::ctdb_addr_string(e.addr), e.ifaces_joined()))
                    .collect();
                theirs.sort();
                ours.sort();
                assert_eq!(theirs, ours, "{text:?}");
                let theirs: Vec<String> = rows(&daemon.ctdb(&["-X", "ifaces"]).unwrap_or_default())
                    .into_iter()
                    .map(|r| r[0].clone())
                    .collect();
                assert_eq!(theirs, loaded.addresses.interfaces_ctdbd_order(), "{text:?}");
            }
        }
    }

    let daemon = Daemon::start(99, None);
    let logged = daemon.wait_for_public_addresses();
    let path = daemon.base().join(PUBLIC_ADDRESSES_FILE);
    let loaded = PublicAddresses::load(&path, interface_exists).unwrap();
    assert!(!loaded.file_found);
    assert_eq!(logged.last(), Some(&loaded.ctdb_message(&path)));
}
