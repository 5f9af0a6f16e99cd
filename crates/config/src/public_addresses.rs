//! The public addresses file (`$CTDB_BASE/public_addresses`): the movable
//! IP addresses this node may host, each with its mask and the interfaces it
//! may be put on.
//!
//! ```text
//! # address/maskbits   interface[,interface...]
//! 10.254.2.11/24       eth1
//! fd00::11/64          eth1,eth2
//! ```
//!
//! Everything here follows ctdbd 4.17 (`ctdb_set_public_addresses` and
//! `ctdb_add_public_address` in `ctdb/server/ctdb_takeover.c`,
//! `ctdb_sock_addr_mask_from_string` in `ctdb/protocol/protocol_util.c`),
//! checked against Debian's ctdbd 4.17.12 in test mode:
//!
//! * Lines are split at `\n`; a line ends at its first `\r` (so CRLF files
//!   work) or NUL. Line numbers in messages count every physical line,
//!   comments and blank lines included.
//! * Leading blanks and tabs are skipped; a line that is then empty or starts
//!   with `#` is ignored. Nothing else is a comment: `#` later on a line is
//!   just text.
//! * The rest is split at blanks and tabs: the first token is `IP/MASKBITS`,
//!   the second the interface list, anything after that is ignored.
//! * Every problem is fatal: ctdbd logs it and exits with
//!   [`SETUP_FAILED_MESSAGE`]. The first bad line, in file order, is the one
//!   reported; the checks of one line run in this order: interface list
//!   present, address well formed, address not already listed, each
//!   interface exists.
//! * The mask is *not* range checked: `/33` and `/129` are accepted, and
//!   ctdbd keeps only the low 8 bits (`/300` becomes `/44`, seen as
//!   `Takeover of IP 10.254.2.12/44`). Such a mask makes the `takeip` event
//!   fail later; [`Loaded::warnings`] points it out.
//! * An IPv4-mapped IPv6 address written in dotted form
//!   (`::ffff:10.0.0.1/24`) is the IPv4 address; in hex form
//!   (`::ffff:a00:1/24`) it is a badly formed line.
//! * The interface list is split at commas, empty pieces dropped: `,` alone
//!   gives an address with no interface, which ctdbd loads but can never
//!   host (`node[-1] active[] available[] configured[]`); `eth1,eth1`
//!   lists `eth1` twice. Each interface must exist on the host (in test mode
//!   too) and be at most 16 bytes long. There is no limit on the number of
//!   interfaces.
//! * A missing file (or anything that is not a regular file or FIFO, such as
//!   a directory) means no public addresses; an empty file too.
//!
//! `ctdb reloadips` re-reads the file with the same rules.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The file name, relative to `CTDB_BASE`.
pub const PUBLIC_ADDRESSES_FILE: &str = "public_addresses";

/// The longest interface name ctdbd accepts (`CTDB_IFACE_SIZE`, Linux's
/// `IFNAMSIZ`), in bytes. Linux itself allows only 15.
pub const CTDB_IFACE_SIZE: usize = 16;

/// What ctdbd logs last, before exiting with status 1, when the file has a
/// bad line (`ctdb_start_daemon` in `ctdb/server/ctdb_daemon.c`).
pub const SETUP_FAILED_MESSAGE: &str = "Unable to setup public IP addresses";

/// The `IP/MASKBITS` token must be shorter than this many bytes
/// (`ctdb_sock_addr_mask_from_string` copies it into a 64-byte buffer).
const MAX_ADDR_TOKEN: usize = 64;

/// One line of the file: an address this node may host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicAddress {
    /// The address; IPv4-mapped IPv6 addresses are stored as IPv4, as ctdbd
    /// does.
    pub addr: IpAddr,
    /// The prefix length as ctdbd keeps it: the written value modulo 256,
    /// not checked against 32 or 128.
    pub mask_bits: u8,
    /// The interfaces in written order; may be empty (`,`) and may repeat
    /// a name, as in ctdbd.
    pub ifaces: Vec<String>,
}

impl PublicAddress {
    /// The interface list as ctdbd passes it in `ADD_PUBLIC_IP`: the names
    /// joined with commas.
    pub fn ifaces_joined(&self) -> String {
        self.ifaces.join(",")
    }
}

impl fmt::Display for PublicAddress {
    /// The entry as a line of the file: `10.254.2.11/24 eth1,eth2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", ctdb_addr_string(self.addr), self.mask_bits, self.ifaces_joined())
    }
}

/// A parsed public addresses file, entries in file order.
///
/// ctdbd keeps its list newest first (each line is prepended), so its
/// `GET_PUBLIC_IPS` reply lists the addresses in reverse file order; the
/// `ctdb ip` tool sorts them anyway.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PublicAddresses {
    /// One entry per address line, in file order; no address twice.
    pub entries: Vec<PublicAddress>,
}

/// The result of reading the file: the addresses, plus the lines ctdbd
/// accepts but that are probably mistakes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Loaded {
    /// The addresses (none when there is no file).
    pub addresses: PublicAddresses,
    /// Accepted oddities, in file order.
    pub warnings: Vec<PublicAddressWarning>,
    /// Whether there was a file to read.
    pub file_found: bool,
}

impl Loaded {
    /// The line ctdbd logs after loading from `path`: NOTICE
    /// `Loaded public addresses from PATH`, or when there is no file
    /// WARNING `Not loading public addresses, no file PATH`.
    pub fn ctdb_message(&self, path: &Path) -> String {
        if self.file_found {
            format!("Loaded public addresses from {}", path.display())
        } else {
            format!("Not loading public addresses, no file {}", path.display())
        }
    }
}

impl PublicAddresses {
    /// Parses file text with ctdbd's rules, without checking that the
    /// interfaces exist and without warnings (see [`Self::parse_checked`]).
    pub fn parse(text: &str) -> Result<PublicAddresses, PublicAddressesError> {
        Self::parse_checked(text, |_| true).map(|loaded| loaded.addresses)
    }

    /// Parses file text exactly as ctdbd does at startup: `iface_exists`
    /// says whether an interface exists on this host (in production
    /// [`interface_exists`], or a set from [`local_interfaces`]). Stops at
    /// the first bad line.
    pub fn parse_checked(text: &str, iface_exists: impl Fn(&str) -> bool) -> Result<Loaded, PublicAddressesError> {
        let mut loaded = Loaded { file_found: true, ..Loaded::default() };
        // Each entry's line, to say where a duplicate was first listed.
        let mut lines: Vec<usize> = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let content = raw.split(['\r', '\0']).next().unwrap_or_default();
            let content = content.trim_start_matches([' ', '\t']);
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let mut tokens = content.split([' ', '\t']).filter(|t| !t.is_empty());
            let (Some(addr_token), Some(iface_token)) = (tokens.next(), tokens.next()) else {
                return Err(PublicAddressesError::NoInterface { line });
            };
            let rest: Vec<&str> = tokens.collect();

            let Some((addr, written_mask)) = parse_addr_mask(addr_token) else {
                return Err(PublicAddressesError::BadlyFormed { line, text: addr_token.to_string() });
            };
            // Only the low 8 bits survive (`public_netmask_bits` is a uint8_t).
            let mask_bits = (written_mask % 256) as u8;

            let duplicate = loaded.addresses.entries.iter().position(|e| e.addr == addr);
            if let Some(first) = duplicate {
                let first_line = lines.get(first).copied().unwrap_or_default();
                return Err(PublicAddressesError::Duplicate { line, addr, first_line });
            }

            let mut ifaces: Vec<String> = Vec::new();
            for iface in iface_token.split(',').filter(|i| !i.is_empty()) {
                if !iface_exists(iface) {
                    return Err(PublicAddressesError::UnknownInterface { line, addr, iface: iface.to_string() });
                }
                if iface.len() > CTDB_IFACE_SIZE {
                    return Err(PublicAddressesError::InterfaceNameTooLong { line, addr, iface: iface.to_string() });
                }
                if ifaces.iter().any(|i| i == iface) {
                    loaded.warnings.push(PublicAddressWarning {
                        line,
                        kind: WarningKind::RepeatedInterface { addr, iface: iface.to_string() },
                    });
                }
                ifaces.push(iface.to_string());
            }

            let max = if addr.is_ipv4() { 32 } else { 128 };
            if written_mask > max {
                loaded.warnings.push(PublicAddressWarning {
                    line,
                    kind: WarningKind::MaskOutOfRange { addr, written: written_mask, mask_bits },
                });
            }
            if ifaces.is_empty() {
                loaded.warnings.push(PublicAddressWarning { line, kind: WarningKind::NoInterfaces { addr } });
            }
            if rest.first().is_some_and(|t| !t.starts_with('#')) {
                loaded
                    .warnings
                    .push(PublicAddressWarning { line, kind: WarningKind::IgnoredText { text: rest.join(" ") } });
            }

            loaded.addresses.entries.push(PublicAddress { addr, mask_bits, ifaces });
            lines.push(line);
        }
        Ok(loaded)
    }

    /// Reads `path` as ctdbd does at startup. A missing file, or one that
    /// is neither a regular file nor a FIFO, gives no addresses and
    /// `file_found == false`; one that cannot be read is an error.
    pub fn load(path: &Path, iface_exists: impl Fn(&str) -> bool) -> Result<Loaded, PublicAddressesError> {
        let is_file = fs::metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_file() || m.file_type().is_fifo()
        });
        if !is_file {
            return Ok(Loaded::default());
        }
        let bytes = fs::read(path).map_err(|source| PublicAddressesError::Read { path: path.to_path_buf(), source })?;
        Self::parse_checked(&String::from_utf8_lossy(&bytes), iface_exists)
    }

    /// The entry for `addr`, comparing as ctdbd does (an IPv4-mapped IPv6
    /// address matches its IPv4 address).
    pub fn get(&self, addr: IpAddr) -> Option<&PublicAddress> {
        // IPv4-mapped IPv6 as IPv4 (`ctdb_canonicalize_ip`).
        let addr = addr.to_canonical();
        self.entries.iter().find(|e| e.addr == addr)
    }

    /// Whether `addr` is one of the public addresses (see [`Self::get`]).
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.get(addr).is_some()
    }

    /// Every interface named, once each, in order of first mention.
    ///
    /// ctdbd's `GET_IFACES` (`ctdb ifaces`) lists them the other way round,
    /// last first mentioned first: see [`Self::interfaces_ctdbd_order`].
    pub fn interfaces(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.entries
            .iter()
            .flat_map(|e| e.ifaces.iter())
            .filter(|i| seen.insert(i.as_str()))
            .map(String::as_str)
            .collect()
    }

    /// The interfaces in the order ctdbd's `GET_IFACES` reports them after
    /// loading the file: reverse order of first mention (seen live:
    /// `lo` then `lo,ifb0` gives `ifb0`, `lo`).
    pub fn interfaces_ctdbd_order(&self) -> Vec<&str> {
        let mut list = self.interfaces();
        list.reverse();
        list
    }

    /// The set of interface names (for membership tests).
    pub fn interface_set(&self) -> BTreeSet<&str> {
        self.interfaces().into_iter().collect()
    }

    /// Number of addresses.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no address.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, PublicAddress> {
        self.entries.iter()
    }
}

impl<'a> IntoIterator for &'a PublicAddresses {
    type Item = &'a PublicAddress;
    type IntoIter = std::slice::Iter<'a, PublicAddress>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

/// A line ctdbd refuses; ctdbd then logs [`Self::ctdb_log_lines`] and
/// [`SETUP_FAILED_MESSAGE`] and exits.
///
/// `Display` gives an operator message with the line number and, where
/// ctdbd has one, its exact text.
#[derive(Debug, thiserror::Error)]
pub enum PublicAddressesError {
    /// The file exists but could not be read.
    #[error("Failed to load public address list '{}': {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A line with an address token but no interface list.
    #[error("No interface specified at line {line} of public addresses file")]
    NoInterface {
        /// 1-based line number.
        line: usize,
    },
    /// The first token is not `IP/MASKBITS`.
    #[error("Badly formed line {line} in public address list: \"{text}\" is not IP/MASKBITS")]
    BadlyFormed {
        /// 1-based line number.
        line: usize,
        /// The first token of the line.
        text: String,
    },
    /// The address is already on an earlier line.
    #[error(
        "Failed to add line {line} to the public address list: Duplicate public IP address '{}' (first at line {first_line})",
        addr_str(.addr)
    )]
    Duplicate {
        /// 1-based line number.
        line: usize,
        /// The address.
        addr: IpAddr,
        /// The line that listed it first.
        first_line: usize,
    },
    /// An interface that does not exist on this host.
    #[error(
        "Failed to add line {line} to the public address list: Unknown interface {iface} for public address {}",
        addr_str(.addr)
    )]
    UnknownInterface {
        /// 1-based line number.
        line: usize,
        /// The address of the line.
        addr: IpAddr,
        /// The interface as written.
        iface: String,
    },
    /// An interface name longer than [`CTDB_IFACE_SIZE`] bytes.
    #[error("Failed to add line {line} to the public address list: Interface name too long \"{iface}\"")]
    InterfaceNameTooLong {
        /// 1-based line number.
        line: usize,
        /// The address of the line.
        addr: IpAddr,
        /// The interface as written.
        iface: String,
    },
}

impl PublicAddressesError {
    /// The 1-based line at fault, if the error is about a line.
    pub fn line(&self) -> Option<usize> {
        match self {
            PublicAddressesError::Read { .. } => None,
            PublicAddressesError::NoInterface { line }
            | PublicAddressesError::BadlyFormed { line, .. }
            | PublicAddressesError::Duplicate { line, .. }
            | PublicAddressesError::UnknownInterface { line, .. }
            | PublicAddressesError::InterfaceNameTooLong { line, .. } => Some(*line),
        }
    }

    /// What ctdbd 4.17 logs for this error, line by line, byte for byte
    /// (before its final [`SETUP_FAILED_MESSAGE`]).
    pub fn ctdb_log_lines(&self) -> Vec<String> {
        let failed_line = |line: &usize| format!("Failed to add line {line} to the public address list");
        match self {
            PublicAddressesError::Read { path, .. } => {
                vec![format!("ctdb error: Failed to load public address list '{}'", path.display())]
            }
            PublicAddressesError::NoInterface { line } => {
                vec![format!("No interface specified at line {line} of public addresses file")]
            }
            PublicAddressesError::BadlyFormed { line, .. } => {
                vec![format!("Badly formed line {line} in public address list")]
            }
            PublicAddressesError::Duplicate { line, addr, .. } => {
                vec![format!("Duplicate public IP address '{}'", ctdb_addr_string(*addr)), failed_line(line)]
            }
            PublicAddressesError::UnknownInterface { line, addr, iface } => vec![
                format!("Unknown interface {iface} for public address {}", ctdb_addr_string(*addr)),
                failed_line(line),
            ],
            PublicAddressesError::InterfaceNameTooLong { line, addr, iface } => vec![
                format!("Interface name too long \"{iface}\""),
                format!("Failed to add interface '{iface}' for public address {}", ctdb_addr_string(*addr)),
                failed_line(line),
            ],
        }
    }
}

/// A line ctdbd accepts silently but that is probably a mistake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicAddressWarning {
    /// 1-based line number.
    pub line: usize,
    /// What is odd.
    pub kind: WarningKind,
}

/// The oddities [`PublicAddressWarning`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// A mask beyond 32 (IPv4) or 128 (IPv6) bits: `takeip` will fail.
    MaskOutOfRange {
        /// The address.
        addr: IpAddr,
        /// The mask as written.
        written: u64,
        /// What ctdbd keeps (written modulo 256).
        mask_bits: u8,
    },
    /// The interface list has only commas: the address can never be hosted.
    NoInterfaces {
        /// The address.
        addr: IpAddr,
    },
    /// An interface listed twice for one address.
    RepeatedInterface {
        /// The address.
        addr: IpAddr,
        /// The repeated name.
        iface: String,
    },
    /// Text after the interface list, which ctdbd ignores (a separate
    /// interface list is joined with commas, not blanks). Not reported when
    /// it starts with `#`.
    IgnoredText {
        /// The ignored tokens, joined with one blank.
        text: String,
    },
}

impl fmt::Display for PublicAddressWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line;
        match &self.kind {
            WarningKind::MaskOutOfRange { addr, written, mask_bits } => {
                let max = if addr.is_ipv4() { 32 } else { 128 };
                write!(
                    f,
                    "public addresses line {line}: mask /{written} of {} is beyond {max} bits \
                     (kept as /{mask_bits}; taking the address will fail)",
                    ctdb_addr_string(*addr)
                )
            }
            WarningKind::NoInterfaces { addr } => write!(
                f,
                "public addresses line {line}: no interface for {}, the address can never be hosted",
                ctdb_addr_string(*addr)
            ),
            WarningKind::RepeatedInterface { addr, iface } => write!(
                f,
                "public addresses line {line}: interface {iface} listed twice for {}",
                ctdb_addr_string(*addr)
            ),
            WarningKind::IgnoredText { text } => write!(
                f,
                "public addresses line {line}: ignoring \"{text}\" after the interface list \
                 (separate interfaces with commas)"
            ),
        }
    }
}

/// Parses an `IP/MASKBITS` token as `ctdb_sock_addr_mask_from_string`
/// does: the mask is what follows the last `/`, read like `strtoul` base 10
/// (leading white space and a `+` allowed, no `-`, nothing after the
/// digits, at most `u64::MAX`); the address is what precedes it.
fn parse_addr_mask(token: &str) -> Option<(IpAddr, u64)> {
    if token.len() >= MAX_ADDR_TOKEN {
        return None;
    }
    let (addr, mask) = token.rsplit_once('/')?;
    Some((parse_addr(addr)?, parse_mask(mask)?))
}

/// `strtoul(s, &end, 10)` with `smb_strtoul`'s checks: something converted,
/// no minus sign, whole string used, no overflow.
fn parse_mask(s: &str) -> Option<u64> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()
}

/// `ip_from_string` of ctdb 4.17: no `:` means IPv4 (dotted quad, no
/// leading zeros); otherwise IPv6, optionally in brackets, and an
/// IPv4-mapped address is re-read as IPv4 from the text after the last `:`.
fn parse_addr(s: &str) -> Option<IpAddr> {
    if !s.contains(':') {
        return s.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    }
    let s = match s.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => inner,
        None => s,
    };
    let v6 = s.parse::<Ipv6Addr>().ok()?;
    if v6.to_ipv4_mapped().is_some() {
        let (_, tail) = s.rsplit_once(':')?;
        return tail.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    }
    Some(IpAddr::V6(v6))
}

/// [`ctdb_addr_string`] by reference, for the error messages.
fn addr_str(addr: &IpAddr) -> String {
    ctdb_addr_string(*addr)
}

/// An address as ctdbd prints it (`ctdb_addr_to_str`, i.e. glibc's
/// `inet_ntop`): like Rust's `Display` except that an IPv4-compatible
/// address keeps its dotted tail (`::10.0.0.1`, not `::a00:1`).
pub fn ctdb_addr_string(addr: IpAddr) -> String {
    match addr {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if s[..6] == [0; 6] && s[6] != 0 {
                let [.., a, b, c, d] = v6.octets();
                format!("::{}", Ipv4Addr::new(a, b, c, d))
            } else {
                v6.to_string()
            }
        }
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// The network interfaces of this host, in the network namespace of this
/// process (what ctdbd's `if_nameindex` sees), read from `/proc/net/dev`.
pub fn local_interfaces() -> io::Result<BTreeSet<String>> {
    let text = fs::read_to_string("/proc/net/dev")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect())
}

/// Whether interface `name` exists on this host (see [`local_interfaces`]);
/// `false` when the list cannot be read, as in ctdbd.
pub fn interface_exists(name: &str) -> bool {
    local_interfaces().is_ok_and(|set| set.contains(name))
}

#[cfg(test)]
mod tests;
