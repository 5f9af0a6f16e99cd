//! Unit tests. "Source" cites samba-4.17.12 (`ctdb/server/ctdb_takeover.c`
//! `ctdb_set_public_addresses` / `ctdb_add_public_address`,
//! `ctdb/protocol/protocol_util.c` `ctdb_sock_addr_mask_from_string` /
//! `ip_from_string`, `lib/util/util_file.c` `file_lines_parse`); "live"
//! means seen with Debian's ctdbd 4.17.12 in test mode (`ctdb ip -v`,
//! `ctdb ifaces` and its log).

use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn entry(addr: &str, mask_bits: u8, ifaces: &[&str]) -> PublicAddress {
    PublicAddress { addr: ip(addr), mask_bits, ifaces: ifaces.iter().map(|s| s.to_string()).collect() }
}

/// The interfaces of the test machine, as far as these tests are concerned.
fn host_iface(name: &str) -> bool {
    ["lo", "ifb0", "eth1", "abcdefghijklmnopq"].contains(&name)
}

fn checked(text: &str) -> Result<Loaded, PublicAddressesError> {
    PublicAddresses::parse_checked(text, host_iface)
}

#[test]
fn accepted_files() {
    // (file, entries). Live unless noted.
    let cases: &[(&str, &[PublicAddress])] = &[
        (
            "10.254.2.11/24 lo\n10.254.2.12/24 lo,ifb0\n",
            &[entry("10.254.2.11", 24, &["lo"]), entry("10.254.2.12", 24, &["lo", "ifb0"])],
        ),
        // Comments only at the start (after blanks), blank lines, tabs,
        // text after the interface list ignored.
        (
            "# comment\n\n   \t# indented comment\n\t10.254.2.11/24\tlo\textra tokens here\n\n\n",
            &[entry("10.254.2.11", 24, &["lo"])],
        ),
        ("", &[]),
        ("\n\n# only comments\n", &[]),
        // A line ends at its first CR (file_lines_parse) or NUL (C string).
        ("10.254.2.14/24 lo # comment\r\n", &[entry("10.254.2.14", 24, &["lo"])]),
        ("10.254.2.11/24 lo\0 garbage\n\0 10.254.2.99 junk\n", &[entry("10.254.2.11", 24, &["lo"])]),
        ("\r10.254.2.99/24 lo\n", &[]),
        // IPv6, in brackets too; IPv4-mapped in dotted form is IPv4.
        (
            "fd00::11/64 lo\n[fd00::12]/64 lo\n::ffff:10.254.2.14/24 lo\n[::FFFF:10.254.2.15]/8 lo\n",
            &[
                entry("fd00::11", 64, &["lo"]),
                entry("fd00::12", 64, &["lo"]),
                entry("10.254.2.14", 24, &["lo"]),
                entry("10.254.2.15", 8, &["lo"]),
            ],
        ),
        // Interface lists: empty pieces dropped, repeats kept, "," alone is
        // an address with no interface.
        (
            "10.254.2.11/24 ,\n10.254.2.12/24 lo,lo\n10.254.2.13/24 ,ifb0,,lo,\n",
            &[
                entry("10.254.2.11", 24, &[]),
                entry("10.254.2.12", 24, &["lo", "lo"]),
                entry("10.254.2.13", 24, &["ifb0", "lo"]),
            ],
        ),
        // Masks: strtoul base 10 (leading white space, '+', leading zeros),
        // no range check, only the low 8 bits kept (uint8_t
        // public_netmask_bits): log "Takeover of IP 10.254.2.12/44".
        (
            "10.254.2.11/33 lo\n10.254.2.12/300 lo\n10.254.2.13/+7 lo\n10.254.2.14/\u{b}24 lo\n",
            &[
                entry("10.254.2.11", 33, &["lo"]),
                entry("10.254.2.12", 44, &["lo"]),
                entry("10.254.2.13", 7, &["lo"]),
                entry("10.254.2.14", 24, &["lo"]),
            ],
        ),
        (
            "10.254.2.12/0 lo\n10.254.2.13/00000000000000000000000000000000000000000000000024 lo\n\
             10.254.2.14/4294967320 lo\n2001:db8::1/129 lo\n",
            &[
                entry("10.254.2.12", 0, &["lo"]),
                entry("10.254.2.13", 24, &["lo"]),
                entry("10.254.2.14", 24, &["lo"]),
                entry("2001:db8::1", 129, &["lo"]),
            ],
        ),
        // Source: an interface name of exactly CTDB_IFACE_SIZE bytes passes.
        ("10.0.0.1/24 abcdefghijklmnop\n", &[entry("10.0.0.1", 24, &["abcdefghijklmnop"])]),
        // Source: an IPv4-compatible address is not mapped.
        ("::10.0.0.1/96 lo\n", &[entry("::a00:1", 96, &["lo"])]),
    ];
    for (text, want) in cases {
        let got = PublicAddresses::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(got.entries, *want, "{text:?}");
    }
}

#[test]
fn rejected_files() {
    // (file, line, ctdbd's log lines before "Unable to setup public IP
    // addresses"). Live unless noted.
    let cases: &[(&str, usize, &[&str])] = &[
        (
            "# c\n\n10.254.2.11/24 lo\n10.254.2.12/24\n",
            4,
            &["No interface specified at line 4 of public addresses file"],
        ),
        ("10.254.2.11/24 lo\n\n10.254.2.300/24 lo\n", 3, &["Badly formed line 3 in public address list"]),
        ("10.254.2.11 lo\n", 1, &["Badly formed line 1 in public address list"]),
        ("10.254.2.11/ lo\n", 1, &["Badly formed line 1 in public address list"]),
        ("10.254.2.11/-0 lo\n", 1, &["Badly formed line 1 in public address list"]),
        ("10.254.2.11/0x18 lo\n", 1, &["Badly formed line 1 in public address list"]),
        ("10.254.2.11/24/24 lo\n", 1, &["Badly formed line 1 in public address list"]),
        ("010.254.2.11/24 lo\n", 1, &["Badly formed line 1 in public address list"]),
        // 64 bytes: too long for the parser's buffer.
        (
            "10.254.2.13/000000000000000000000000000000000000000000000000000024 lo\n",
            1,
            &["Badly formed line 1 in public address list"],
        ),
        ("10.254.2.13/18446744073709551616 lo\n", 1, &["Badly formed line 1 in public address list"]),
        // IPv4-mapped in hex form: re-read as IPv4 from "20b".
        ("::ffff:afe:20b/24 lo\n", 1, &["Badly formed line 1 in public address list"]),
        // Source: brackets only for IPv6; no zone index; ' '/'\t' are the
        // only separators.
        ("[10.0.0.1]/24 lo\n", 1, &["Badly formed line 1 in public address list"]),
        ("fe80::1%lo/64 lo\n", 1, &["Badly formed line 1 in public address list"]),
        ("\u{b}# not a comment\n", 1, &["Badly formed line 1 in public address list"]),
        ("\u{b}#\n", 1, &["No interface specified at line 1 of public addresses file"]),
        ("10.0.0.1/24\rlo\n", 1, &["No interface specified at line 1 of public addresses file"]),
        (
            "10.254.2.11/24 lo\n10.254.2.11/16 ifb0\n",
            2,
            &["Duplicate public IP address '10.254.2.11'", "Failed to add line 2 to the public address list"],
        ),
        (
            "10.254.2.11/24 lo\n::ffff:10.254.2.11/24 lo\n",
            2,
            &["Duplicate public IP address '10.254.2.11'", "Failed to add line 2 to the public address list"],
        ),
        // The duplicate check comes before the interface check.
        (
            "fd00::1/64 lo\nfd00:0::1/64 refeth0\n",
            2,
            &["Duplicate public IP address 'fd00::1'", "Failed to add line 2 to the public address list"],
        ),
        // Lines are checked in order: line 1's interface before line 2.
        (
            "10.254.2.11/24 refeth0\n10.254.2.300/24 lo\n",
            1,
            &[
                "Unknown interface refeth0 for public address 10.254.2.11",
                "Failed to add line 1 to the public address list",
            ],
        ),
        (
            "10.254.2.11/24 lo,eth0:1\n",
            1,
            &[
                "Unknown interface eth0:1 for public address 10.254.2.11",
                "Failed to add line 1 to the public address list",
            ],
        ),
        // Source: existence first, then the length limit.
        (
            "10.254.2.13/24 abcdefghijklmnopq\n",
            1,
            &[
                "Interface name too long \"abcdefghijklmnopq\"",
                "Failed to add interface 'abcdefghijklmnopq' for public address 10.254.2.13",
                "Failed to add line 1 to the public address list",
            ],
        ),
    ];
    for (text, line, log) in cases {
        let err = match checked(text) {
            Ok(loaded) => panic!("{text:?} accepted: {:?}", loaded.addresses),
            Err(e) => e,
        };
        assert_eq!(err.line(), Some(*line), "{text:?}");
        assert_eq!(err.ctdb_log_lines(), *log, "{text:?}");
    }
}

#[test]
fn operator_messages() {
    let cases = [
        ("10.0.0.1/24\n", "No interface specified at line 1 of public addresses file"),
        ("\n10.0.0.1/33x eth1\n", "Badly formed line 2 in public address list: \"10.0.0.1/33x\" is not IP/MASKBITS"),
        (
            "10.0.0.1/24 eth1\n# x\n10.0.0.1/24 eth1\n",
            "Failed to add line 3 to the public address list: \
             Duplicate public IP address '10.0.0.1' (first at line 1)",
        ),
        (
            "10.0.0.1/24 eth9\n",
            "Failed to add line 1 to the public address list: Unknown interface eth9 for public address 10.0.0.1",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(checked(text).err().map(|e| e.to_string()).as_deref(), Some(want), "{text:?}");
    }
    let read = PublicAddressesError::Read {
        path: "/etc/ctdb/public_addresses".into(),
        source: io::Error::from_raw_os_error(13),
    };
    assert_eq!(read.line(), None);
    assert_eq!(read.ctdb_log_lines(), ["ctdb error: Failed to load public address list '/etc/ctdb/public_addresses'"]);
    assert!(read.to_string().starts_with("Failed to load public address list '/etc/ctdb/public_addresses': "));
}

#[test]
fn parse_does_not_check_interfaces() {
    let p = PublicAddresses::parse("10.0.0.1/24 nosuch0\n").unwrap();
    assert_eq!(p.entries, [entry("10.0.0.1", 24, &["nosuch0"])]);
    // ... but still the length limit, which comes after the existence check.
    assert!(matches!(
        PublicAddresses::parse("10.0.0.1/24 abcdefghijklmnopq\n"),
        Err(PublicAddressesError::InterfaceNameTooLong { line: 1, .. })
    ));
}

#[test]
fn warnings_for_what_ctdbd_accepts_silently() {
    let text = "10.0.0.1/33 eth1\n10.0.0.2/300 eth1\nfd00::1/129 eth1\nfd00::2/128 eth1\n10.0.0.3/24 ,\n\
                10.0.0.4/24 eth1,lo,eth1\n10.0.0.5/24 eth1 lo\n10.0.0.6/24 eth1 # trailing comment\n";
    let loaded = checked(text).unwrap();
    assert_eq!(loaded.addresses.len(), 8);
    let got: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        got,
        [
            "public addresses line 1: mask /33 of 10.0.0.1 is beyond 32 bits (kept as /33; taking the address will fail)",
            "public addresses line 2: mask /300 of 10.0.0.2 is beyond 32 bits (kept as /44; taking the address will fail)",
            "public addresses line 3: mask /129 of fd00::1 is beyond 128 bits (kept as /129; taking the address will fail)",
            "public addresses line 5: no interface for 10.0.0.3, the address can never be hosted",
            "public addresses line 6: interface eth1 listed twice for 10.0.0.4",
            "public addresses line 7: ignoring \"lo\" after the interface list (separate interfaces with commas)",
        ]
    );
    assert_eq!(
        loaded.warnings[4],
        PublicAddressWarning {
            line: 6,
            kind: WarningKind::RepeatedInterface { addr: ip("10.0.0.4"), iface: "eth1".into() }
        }
    );
}

#[test]
fn interfaces_and_lookup() {
    let p = PublicAddresses::parse("10.254.2.11/24 lo\n10.254.2.12/24 lo,ifb0\nfd00::1/64 eth1,lo\n").unwrap();
    assert_eq!(p.interfaces(), ["lo", "ifb0", "eth1"]);
    // Live `ctdb ifaces` for the first two lines: ifb0, then lo.
    assert_eq!(p.interfaces_ctdbd_order(), ["eth1", "ifb0", "lo"]);
    assert_eq!(p.interface_set().into_iter().collect::<Vec<_>>(), ["eth1", "ifb0", "lo"]);
    assert_eq!(p.get(ip("10.254.2.12")).map(|e| e.ifaces_joined()).as_deref(), Some("lo,ifb0"));
    // An IPv4-mapped address finds the IPv4 entry (ctdb_same_ip).
    assert_eq!(p.get(ip("::ffff:10.254.2.11")).map(|e| e.mask_bits), Some(24));
    assert!(p.contains(ip("fd00:0:0::1")));
    assert!(!p.contains(ip("10.254.2.13")));
    assert_eq!((&p).into_iter().count(), 3);
    assert!(!p.is_empty());
    assert!(PublicAddresses::default().interfaces().is_empty());
}

#[test]
fn display_is_a_file_line() {
    let p = PublicAddresses::parse("::ffff:10.0.0.1/24 eth1,lo\n  fd00:0::1/64\teth1\n::10.0.0.2/96 lo\n").unwrap();
    let lines: Vec<String> = p.iter().map(|e| e.to_string()).collect();
    assert_eq!(lines, ["10.0.0.1/24 eth1,lo", "fd00::1/64 eth1", "::10.0.0.2/96 lo"]);
    assert_eq!(PublicAddresses::parse(&lines.join("\n")).unwrap(), p);
}

#[test]
fn addresses_print_as_inet_ntop() {
    for (addr, want) in [
        ("10.0.0.1", "10.0.0.1"),
        ("fd00::1", "fd00::1"),
        ("::1", "::1"),
        ("::", "::"),
        ("::a00:1", "::10.0.0.1"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
    ] {
        assert_eq!(ctdb_addr_string(ip(addr)), want, "{addr}");
    }
}

#[test]
fn load_from_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(PUBLIC_ADDRESSES_FILE);
    // No file: no addresses (live: "Not loading public addresses, no file
    // …", then `ctdb ifaces` "No interfaces configured on node 0").
    let none = PublicAddresses::load(&path, host_iface).unwrap();
    assert!(!none.file_found && none.addresses.is_empty());
    assert_eq!(none.ctdb_message(&path), format!("Not loading public addresses, no file {}", path.display()));
    // A directory counts as no file (live; file_exist wants S_ISREG or
    // S_ISFIFO).
    std::fs::create_dir(&path).unwrap();
    assert!(!PublicAddresses::load(&path, host_iface).unwrap().file_found);
    std::fs::remove_dir(&path).unwrap();
    std::fs::write(&path, "10.0.0.1/24 eth1\n10.0.0.2/24 eth1 eth2\n").unwrap();
    let loaded = PublicAddresses::load(&path, host_iface).unwrap();
    assert!(loaded.file_found);
    assert_eq!(loaded.addresses.len(), 2);
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.ctdb_message(&path), format!("Loaded public addresses from {}", path.display()));
    // An empty file is loaded and has none (live).
    std::fs::write(&path, "").unwrap();
    let empty = PublicAddresses::load(&path, host_iface).unwrap();
    assert!(empty.file_found && empty.addresses.is_empty());
    std::fs::write(&path, "10.0.0.1/24 nosuch0\n").unwrap();
    assert!(matches!(
        PublicAddresses::load(&path, host_iface),
        Err(PublicAddressesError::UnknownInterface { line: 1, .. })
    ));
    // Non-UTF-8 bytes are read lossily; in a comment they do not matter.
    std::fs::write(&path, b"# \xff\xfe\n10.0.0.1/24 lo\n").unwrap();
    assert_eq!(PublicAddresses::load(&path, host_iface).unwrap().addresses.len(), 1);
}

#[test]
fn local_interfaces_of_this_host() {
    let set = local_interfaces().unwrap();
    assert!(set.contains("lo"), "{set:?}");
    assert!(interface_exists("lo"));
    for bad in ["", "nosuch0", "lo:1", "../..", "lo ", "face |bytes"] {
        assert!(!interface_exists(bad), "{bad:?}");
    }
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(text in "(?s).{0,300}") {
        let _ = checked(&text);
    }

    #[test]
    fn lines_of_the_expected_shape_round_trip(
        lines in proptest::collection::vec(
            (proptest::num::u32::ANY, 0u16..300, proptest::collection::vec("[a-z0-9]{1,8}", 1..4)),
            0..8,
        ),
    ) {
        let mut text = String::new();
        let mut want = Vec::new();
        for (n, mask, ifaces) in &lines {
            let addr = IpAddr::V4((*n).into());
            if want.iter().any(|e: &PublicAddress| e.addr == addr) {
                continue;
            }
            text.push_str(&format!("{addr}/{mask} {}\n", ifaces.join(",")));
            want.push(PublicAddress { addr, mask_bits: (mask % 256) as u8, ifaces: ifaces.clone() });
        }
        proptest::prop_assert_eq!(PublicAddresses::parse(&text).map(|p| p.entries).ok(), Some(want));
    }
}
