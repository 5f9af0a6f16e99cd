//! Holding off recoveries or takeover runs for a while on several nodes,
//! and letting them run again: the DISABLE_RECOVERIES (`reloadnodes`) and
//! DISABLE_TAKEOVER_RUNS (`reloadips`) requests of Samba's tool.
//!
//! ```text
//! REGISTER_SRVID 0xCE01…                         (a reply port)
//! MESSAGE {our pnn, port, seconds} -> each node (0 seconds: allowed again)
//! wait -t for every node's pnn on the port      (a negative answer: failed)
//! DEREGISTER_SRVID
//! ```
//!
//! Running out of time is not a failure: Samba 4.17 compares the wait's
//! ETIMEDOUT with ETIME, never equal, so it goes on silently.

use ctdb_legacy_proto::{DisableMessage, Wire};

use super::ipreallocate::reply_i32;
use crate::session::{Link, Session};

/// Sends the request on `srvid` to every node of `pnns` and waits `-t` for
/// their answers. `Err` carries the exit code: a node answered a negative
/// value (1), or the reply port could not be registered (its status).
pub async fn hold_off<L: Link>(session: &mut Session<L>, srvid: u64, seconds: u32, pnns: &[u32]) -> Result<(), i32> {
    let port = session.next_reply_srvid();
    session.register_srvid(port).await.map_err(|e| e.exit())?;
    let request = DisableMessage { pnn: session.local_pnn(), srvid: port, timeout: seconds }.to_bytes();
    let mut outcome = Ok(());
    for &p in pnns {
        if session.send_message(p, srvid, request.clone()).await.is_err() {
            outcome = Err(1);
            break;
        }
    }
    if outcome.is_ok() {
        let deadline = session.deadline();
        let mut answered = vec![false; pnns.len()];
        while !answered.iter().all(|a| *a) {
            match reply_i32(session, port, deadline).await {
                Ok(Some(v)) if v < 0 => {
                    outcome = Err(1);
                    break;
                }
                Ok(Some(v)) => {
                    if let Some(i) = pnns.iter().position(|p| i64::from(*p) == i64::from(v)) {
                        answered[i] = true;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    outcome = Err(e.exit());
                    break;
                }
            }
        }
    }
    session.deregister_srvid(port).await;
    outcome
}
