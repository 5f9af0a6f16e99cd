//! Stable-Rust fuzzing: run the fuzz body (`fuzz::decode_any`, the same
//! function the cargo-fuzz target in `fuzz/` calls) over the captured
//! vectors and a bounded number of truncated, mutated and random inputs.
//!
//! A counting allocator checks that no single allocation made while decoding
//! is larger than a small multiple of the input: a length or count field
//! from the peer must never make us reserve memory the input cannot back.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ctdb_legacy_proto::fuzz::decode_any;
use ctdb_legacy_proto::{CTDB_MAGIC, CTDB_PROTOCOL};

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Run the fuzz body on one input and check the allocation bound.
fn run(input: &[u8]) {
    LARGEST.with(|l| l.set(0));
    decode_any(input);
    let largest = LARGEST.with(Cell::get);
    // In memory a decoded record list can be ~3.5x its wire size
    // (RecData: 16 wire bytes, 56 bytes of Vec headers); 4x + slack bounds it.
    let bound = 4 * input.len() + 1024;
    assert!(
        largest <= bound,
        "allocation of {largest} bytes for a {}-byte input: {:02x?}",
        input.len(),
        &input[..input.len().min(64)]
    );
}

/// xorshift64*: deterministic, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn vectors() -> Vec<Vec<u8>> {
    let dir = format!("{}/testdata", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    paths.sort();
    for p in paths {
        out.push(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
    }
    assert!(!out.is_empty());
    out
}

/// Values that stress length and count fields.
const INTERESTING: [u32; 10] = [0, 1, 7, 8, 31, 32, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF];

#[test]
fn fuzz_body_survives_vectors_and_their_mutations() {
    let mut rng = Rng(0x5EED_C7DB_0000_0001);
    for v in vectors() {
        run(&v);
        // Every truncation of the small ones, a sample of the big ones; the
        // payload alone too (as a control payload decoder sees it).
        let step = (v.len() / 200).max(1);
        for cut in (0..v.len()).step_by(step) {
            run(&v[..cut]);
            if cut >= 32 {
                run(&v[32..cut]);
            }
        }
        // Random byte and word mutations.
        for _ in 0..150 {
            let mut m = v.clone();
            match rng.below(3) {
                0 => {
                    let i = rng.below(m.len());
                    m[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let i = rng.below(m.len().saturating_sub(4)) & !3;
                    let val = INTERESTING[rng.below(INTERESTING.len())];
                    if i + 4 <= m.len() {
                        m[i..i + 4].copy_from_slice(&val.to_le_bytes());
                    }
                }
                _ => {
                    let i = rng.below(m.len());
                    m[i] = rng.next() as u8;
                }
            }
            run(&m);
            if m.len() > 44 {
                run(&m[44..]);
            }
        }
    }
}

#[test]
fn fuzz_body_survives_random_input() {
    let mut rng = Rng(0x5EED_C7DB_0000_0002);
    for _ in 0..3000 {
        let n = rng.below(600);
        let data = rng.bytes(n);
        run(&data);
    }
}

#[test]
fn fuzz_body_survives_random_payloads_behind_valid_headers() {
    // A valid header gets the input past the framing checks, so the payload
    // decoders of every operation see random bytes.
    let mut rng = Rng(0x5EED_C7DB_0000_0003);
    for _ in 0..4000 {
        let n = rng.below(300);
        let payload = rng.bytes(n);
        let mut p = Vec::with_capacity(32 + payload.len());
        let len = (32 + payload.len()) as u32;
        for v in [
            len,
            CTDB_MAGIC,
            CTDB_PROTOCOL,
            rng.next() as u32,
            rng.below(11) as u32,
            rng.next() as u32,
            rng.next() as u32,
            rng.next() as u32,
        ] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p.extend_from_slice(&payload);
        // Plant plausible small lengths where the payloads keep them.
        if p.len() >= 60 && rng.below(2) == 0 {
            let off = [36usize, 40, 44, 48, 52, 56][rng.below(6)];
            let small = rng.below(p.len() - 32) as u32;
            p[off..off + 4].copy_from_slice(&small.to_le_bytes());
        }
        run(&p);
    }
}
