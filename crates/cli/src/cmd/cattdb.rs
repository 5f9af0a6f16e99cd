//! `ctdb cattdb DB`: dump this node's copy of a database by reading the
//! daemon's file directly (DB lookup, attach, then a read traverse of the
//! TDB), header-only records included.

use std::ops::ControlFlow;

use super::catdb::Dump;
use super::{usage, Ctx};
use crate::db::{after_output, attach, find, open_local, Record, EIO, EMSGSIZE};
use crate::error::{exit_code, CliError};
use crate::render::{render, Reply};
use crate::session::{Link, Session};

/// Runs the command. A record shorter than its header stops the dump
/// (EMSGSIZE); the count is printed whatever happened.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [arg] = args else {
        return Err(usage("cattdb"));
    };
    let db = find(session, arg).await?;
    let failed = |e: CliError| e.then_line(format!("Failed to attach to DB {}", db.name));
    let attached = attach(session, &db.name, db.flags).await.map_err(failed)?;
    let tdb = open_local(&attached).map_err(failed)?;
    let mut dump = Dump { records: Vec::new(), local: true };
    let mut error = 0;
    let traversed = tdb.traverse_read(|key, value| match Record::from_value(key.to_vec(), value) {
        Some(r) => {
            dump.records.push(r);
            ControlFlow::Continue(())
        }
        None => {
            error = EMSGSIZE;
            ControlFlow::Break(())
        }
    });
    if traversed.is_err() {
        error = EIO;
    }
    if error != 0 {
        let printed = render(&dump, &cx.format, &cx.render);
        return Err(after_output(CliError::stderr(String::new(), exit_code(error)), printed));
    }
    Ok(cx.reply(&dump))
}
