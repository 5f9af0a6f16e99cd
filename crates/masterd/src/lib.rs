//! masterd: reads the configuration, then starts and supervises the services
//! of one node. By default every service runs in this one process, each as
//! its own task, talking only through the transport.
//!
//! Start-up order mirrors what clients expect of CTDB: configuration is read
//! and checked completely before anything starts (a bad file means exit 1,
//! never a half-configured daemon); then the node port and the client socket
//! are bound; only then does the parent of a daemonised ctdbd exit 0.

mod daemonize;
mod pidfile;
mod setup;
mod supervisor;

use std::process::ExitCode;

use clap::Parser;

pub use setup::{load, Loaded};

/// Command line of `ctdbd`.
#[derive(Debug, Parser)]
#[command(name = "ctdbd", version, about = "ctdb-rs cluster daemon")]
pub struct Args {
    /// Stay in the foreground and log to stderr (like Samba's `ctdbd -i`).
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
}

/// Entry point of the `ctdbd` binary.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = match setup::load() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ctdbd: {e:#}");
            return ExitCode::from(1);
        }
    };
    let ready = if args.interactive {
        None
    } else {
        match daemonize::daemonize() {
            Ok(daemonize::Forked::Parent(code)) => return ExitCode::from(code),
            Ok(daemonize::Forked::Child(ready)) => Some(ready),
            Err(e) => {
                eprintln!("ctdbd: cannot daemonise: {e}");
                return ExitCode::from(1);
            }
        }
    };
    match supervisor::run(loaded, args.interactive, ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}
