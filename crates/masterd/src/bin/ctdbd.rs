//! `ctdbd`: the ctdb-rs daemon (masterd running every service).

fn main() -> std::process::ExitCode {
    ctdb_masterd::main()
}
