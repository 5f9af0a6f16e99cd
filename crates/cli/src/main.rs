//! The `ctdb` binary: runs [`ctdb_cli::run::run`] and exits with its code.

use std::io::Write;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Failed to start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let outcome = runtime.block_on(ctdb_cli::run::run(&argv));
    // Write errors (a closed pipe) cannot be reported anywhere useful; the
    // exit code still tells the caller what happened.
    // Standard error first: Samba's tool writes its messages as they happen
    // but its standard output, when piped, only at exit, so `ctdb … 2>&1 |`
    // shows them in this order (`ipinfo` of an unknown address).
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    // Drop the runtime (and the connection) before exiting.
    drop(runtime);
    std::process::exit(outcome.exit);
}
