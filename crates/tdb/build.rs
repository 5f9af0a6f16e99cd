//! Compiles the small C shim that turns libtdb's variadic log callback into a
//! formatted string, and links libtdb (Debian: `libtdb-dev`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/log_shim.c");
    cc::Build::new().file("src/log_shim.c").warnings(true).compile("ctdb_tdb_log_shim");
    // After the shim: the shim calls into libtdb.
    println!("cargo:rustc-link-lib=tdb");
}
