//! Every decoder of the legacy protocol on arbitrary bytes. The body is
//! `ctdb_legacy_proto::fuzz::decode_any`, which the stable test suite
//! (`crates/legacy-proto/tests/fuzz.rs`) also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ctdb_legacy_proto::fuzz::decode_any(data);
});
