//! `ctdb detach DB...`: detach volatile databases (GET_RECMODE of the
//! target; GET_TUNABLE AllowClientDBAttach on every connected node, which
//! must be 0; then per database GET_DBNAME and DB_DETACH to the local
//! node). Silent on success.

use serde::Serialize;

use ctdb_legacy_proto::{flags, recmode, Opcode, StringN, Wire};

use super::{usage, Ctx};
use crate::db::find;
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{transport_errno, Link, Session};

/// `ctdb detach` (prints nothing; JSON lists what was detached).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detach {
    /// Databases detached, by name.
    pub detached: Vec<String>,
}

impl Render for Detach {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command. Unknown databases are reported and skipped; a failed
/// detach is reported and the last failure is the exit code.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    if args.is_empty() {
        return Err(usage("detach"));
    }
    if session.recmode().await? == recmode::ACTIVE as i32 {
        return Err(CliError::line("Database cannot be detached when recovery is active"));
    }
    let local = session.local_pnn();
    let nodes = session.nodemap_from(local).await.map_err(|e| e.with_exit(1))?.nodes.clone();
    for node in &nodes {
        if node.flags & (flags::DISCONNECTED | flags::DELETED) != 0 {
            continue;
        }
        if node.flags & flags::INACTIVE != 0 {
            return Err(CliError::line(format!(
                "Database cannot be detached on inactive (stopped or banned) node {}",
                node.pnn
            )));
        }
        let name = StringN("AllowClientDBAttach".to_string()).to_bytes();
        let value = async {
            let data = session.control_ok_to(node.pnn, Opcode::GET_TUNABLE, name).await?;
            Session::<L>::decode::<u32>(Opcode::GET_TUNABLE, node.pnn, &data)
        }
        .await
        .map_err(|e| e.then_line(format!("Unable to get tunable AllowClientDBAttach from node {}", node.pnn)))?;
        if value == 1 {
            return Err(CliError::line(format!(
                "Database access is still active on node {}. Set AllowclientDBAttach=0 on all nodes.",
                node.pnn
            )));
        }
    }
    let mut stderr = String::new();
    let mut exit = 0;
    let mut detached = Vec::new();
    for arg in args {
        let db = match find(session, arg).await {
            Ok(db) => db,
            Err(e) => {
                stderr.push_str(&e.stderr_text());
                continue;
            }
        };
        if !db.is_volatile() {
            stderr.push_str("Only volatile databases can be detached\n");
            return Err(CliError::stderr(stderr, 1));
        }
        match detach_one(session, db.db_id).await? {
            Ok(name) => detached.push(name),
            Err((text, ret)) => {
                stderr.push_str(&text);
                stderr.push_str(&format!("Database {} detach failed\n", db.name));
                exit = exit_code(ret);
            }
        }
    }
    let reply = cx.reply(&Detach { detached }).with_exit(exit);
    Ok(if stderr.is_empty() { reply } else { reply.with_stderr(stderr) })
}

/// `ctdb_detach`: GET_DBNAME, then DB_DETACH, both to the local node.
/// `Err((library line, ret))` on failure.
async fn detach_one<L: Link>(session: &mut Session<L>, db_id: u32) -> Result<Result<String, (String, i32)>, CliError> {
    let local = session.local_pnn();
    let timeout = session.timeout();
    let name = match session.control_raw(local, Opcode::GET_DBNAME, 0, db_id.to_bytes(), timeout).await {
        Ok(r) if r.status == 0 => crate::db::reply_string(&r.data),
        Ok(r) => return Ok(Err((format!("detach: 0x{db_id:x} GET_DBNAME failed, ret={}\n", r.status), r.status))),
        Err(e) => {
            let ret = transport_errno(&e)?;
            return Ok(Err((format!("detach: 0x{db_id:x} GET_DBNAME failed, ret={ret}\n"), ret)));
        }
    };
    let ret = match session.control_raw(local, Opcode::DB_DETACH, 0, db_id.to_bytes(), timeout).await {
        Ok(r) => r.status,
        Err(e) => transport_errno(&e)?,
    };
    if ret != 0 {
        return Ok(Err((format!("detach: {name} DB_DETACH failed, ret={ret}\n"), ret)));
    }
    Ok(Ok(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn silent() {
        let cx = RenderCx::new(Zone::Utc);
        let d = Detach { detached: vec!["vol2.tdb".into()] };
        assert_eq!(d.text(&cx), "");
        assert_eq!(d.machine(&cx), "");
    }
}
