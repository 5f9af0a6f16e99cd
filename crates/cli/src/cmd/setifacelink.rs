//! `ctdb setifacelink IFACE up|down`: mark an interface's link up or down
//! on the asked node, as a monitoring script would (a node with a link down
//! hands the addresses of that interface to others).
//!
//! ```text
//! GET_IFACES -> node                      (the interface must be listed)
//! SET_IFACE_LINK_STATE {name, state, references 0} -> node
//! ```
//!
//! As in Samba's tool, `up|down` is checked only once the interface was
//! found, so an unknown interface is reported whatever the second word.

use serde::Serialize;

use ctdb_legacy_proto::{Iface, Opcode, Wire};

use super::{usage, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// Longest interface name Samba's tool accepts (`CTDB_IFACE_SIZE`).
const IFACE_SIZE: usize = 16;

/// `ctdb setifacelink` (prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SetIfaceLink {
    /// The asked node.
    pub node: u32,
    /// The interface.
    pub interface: String,
    /// The new link state.
    pub up: bool,
}

impl Render for SetIfaceLink {
    fn text(&self, _cx: &RenderCx) -> String {
        String::new()
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [name, state] = args else {
        return Err(usage("setifacelink"));
    };
    if name.len() > IFACE_SIZE {
        return Err(CliError::line(format!("Interface name '{name}' too long")));
    }
    let node = session.target();
    let list = session
        .ifaces_of(node)
        .await
        .map_err(|e| e.then_line(format!("Failed to get interface information from node {node}")))?;
    let Some(found) = list.ifaces.into_iter().find(|i| i.name == *name) else {
        return Err(CliError::stdout_line(format!("Interface {name} not configured on node {node}")));
    };
    let up = match state.as_str() {
        "up" => true,
        "down" => false,
        _ => return Err(usage("setifacelink")),
    };
    let record = Iface { name: found.name, link_state: u16::from(up), references: 0 };
    session.control_ok_to(node, Opcode::SET_IFACE_LINK_STATE, record.to_bytes()).await?;
    Ok(cx.reply(&SetIfaceLink { node, interface: name.clone(), up }))
}
