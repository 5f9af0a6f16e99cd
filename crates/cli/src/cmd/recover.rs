//! `ctdb recover`: force a recovery and wait until it has produced a new
//! generation.
//!
//! ```text
//! generation():  leader (LEADER broadcast, waiting -t when unknown)
//!                GET_RECMODE -> leader; RECOVERY? sleep 1 s, again
//!                GETVNNMAP   -> leader; INVALID?  sleep 1 s, again
//! g0 = generation()
//! SET_RECMODE(ACTIVE) -> target (-n, else local)
//! until generation() != g0: sleep 1 s
//! ```
//!
//! As observed with Debian's `ctdb` 4.17: when no LEADER broadcast arrives
//! within `-t` the controls go to pnn 0xFFFFFFFF (and the wait is repeated
//! on every round); failures print the control error and `Failed to get
//! recovery mode from node N`, `Failed to get generation from node N` or
//! `Failed to set recovery mode active`.

use std::time::Duration;

use serde::Serialize;

use ctdb_legacy_proto::{pnn, Opcode, Wire};

use super::{no_args, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// INVALID_GENERATION: a vnnmap that has not been through a recovery.
const INVALID_GENERATION: u32 = 1;
/// CTDB_RECOVERY_ACTIVE.
const RECOVERY_ACTIVE: u32 = 1;

/// `ctdb recover` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recover {
    /// The node asked to recover.
    pub node: u32,
    /// The generation before.
    pub generation_before: u32,
    /// The generation the recovery produced.
    pub generation_after: u32,
}

impl Render for Recover {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    no_args("recover", args)?;
    let before = generation(session).await?;
    let node = session.target();
    session
        .control_ok_to(node, Opcode::SET_RECMODE, RECOVERY_ACTIVE.to_bytes())
        .await
        .map_err(|e| e.then_line("Failed to set recovery mode active"))?;
    loop {
        let now = generation(session).await.map_err(|e| e.then_line("Failed to confirm end of recovery"))?;
        if now != before {
            return Ok(cx.reply(&Recover { node, generation_before: before, generation_after: now }));
        }
        session.sleep(Duration::from_secs(1)).await;
    }
}

/// The leader's generation once it is in normal mode with a valid vnnmap.
pub async fn generation<L: Link>(session: &mut Session<L>) -> Result<u32, CliError> {
    loop {
        let leader = session.leader().await?.unwrap_or(pnn::UNKNOWN);
        let mode = session
            .recmode_of(leader)
            .await
            .map_err(|e| e.then_line(format!("Failed to get recovery mode from node {leader}")))?;
        if mode == RECOVERY_ACTIVE as i32 {
            session.sleep(Duration::from_secs(1)).await;
            continue;
        }
        let map = session
            .vnnmap_of(leader)
            .await
            .map_err(|e| e.then_line(format!("Failed to get generation from node {leader}")))?;
        if map.generation == INVALID_GENERATION {
            session.sleep(Duration::from_secs(1)).await;
            continue;
        }
        return Ok(map.generation);
    }
}
