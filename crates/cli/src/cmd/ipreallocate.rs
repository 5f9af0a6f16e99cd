//! `ctdb ipreallocate` (and its old name `sync`): ask the leader for a
//! takeover run and wait for it to finish. The node-state commands end with
//! the same request ([`takeover_run`]).
//!
//! ```text
//! REGISTER_SRVID 0xCE01<pid&0xFFFF><n>            (local node, no time limit)
//! loop:
//!   MESSAGE TAKEOVER_RUN {our pnn, that srvid} -> CTDB_BROADCAST_CONNECTED
//!   wait -t for an i32 on that srvid               (none: send again)
//! DEREGISTER_SRVID
//! ```
//!
//! The leader answers with its pnn, or a negative value when the run
//! failed; Samba's tool then exits with that value (−1 ⇒ 1, −5 ⇒ 251) and
//! prints nothing. A failed REGISTER_SRVID also ends it silently with the
//! status. Observed with Debian's `ctdb` 4.17 against a fake daemon
//! (`tests/expected/capture/fake_node_ctdbd.py`).

use serde::Serialize;

use ctdb_legacy_proto::{pnn, srvid, SrvidMessage, Wire};

use super::{no_args, Ctx};
use crate::error::{exit_code, CliError};
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb ipreallocate` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ipreallocate {
    /// The node that answered: the leader that ran the takeover.
    pub leader: u32,
}

impl Render for Ipreallocate {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command; `sync` takes no arguments either and shows the usage
/// of `ipreallocate` when given some, as Samba's tool does.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("ipreallocate", args)?;
    let leader = takeover_run(session).await?;
    Ok(cx.reply(&Ipreallocate { leader }))
}

/// Asks for a takeover run until one answers; returns the answering pnn.
///
/// Without an answer within `-t` the request is sent again, forever (only
/// `-T` ends it), as Samba's tool does: on a one-node cluster whose only
/// node is stopped nobody ever answers.
pub async fn takeover_run<L: Link>(session: &mut Session<L>) -> Result<u32, CliError> {
    let port = session.next_reply_srvid();
    session.register_srvid(port).await.map_err(|e| CliError::Silent(e.exit()))?;
    let request = SrvidMessage { pnn: session.local_pnn(), srvid: port }.to_bytes();
    let answer = loop {
        if let Err(e) = session.send_message(pnn::BROADCAST_CONNECTED, srvid::TAKEOVER_RUN, request.clone()).await {
            session.deregister_srvid(port).await;
            return Err(e);
        }
        let deadline = session.deadline();
        if let Some(v) = reply_i32(session, port, deadline).await? {
            break v;
        }
    };
    session.deregister_srvid(port).await;
    match u32::try_from(answer) {
        Ok(p) => Ok(p),
        Err(_) => Err(CliError::Silent(exit_code(answer))),
    }
}

/// The first 4-byte answer on `port` before `deadline`; answers of another
/// size are ignored, as Samba's tool ignores them.
pub async fn reply_i32<L: Link>(
    session: &mut Session<L>,
    port: u64,
    deadline: Option<std::time::Instant>,
) -> Result<Option<i32>, CliError> {
    loop {
        match session.message_for(port, deadline).await? {
            None => return Ok(None),
            Some(data) if data.len() == 4 => return Ok(i32::from_prefix(&data).ok()),
            Some(_) => {}
        }
    }
}
