//! The legacy gateway: the Unix socket that smbd, winbindd and the `ctdb`
//! tool connect to. It speaks Samba's CTDB client protocol and translates it
//! into the internal protocol of the services.
//!
//! The decisions live in the sans-IO [`core::Gateway`] (which control is
//! answered here, which goes to clusterd, which is forwarded to another node,
//! which clients a message reaches); [`shell`] owns the socket, one reader
//! and one writer per client, and feeds the core.
//!
//! A control from a client travels like this:
//!
//! ```text
//!  client ─legacy bytes─► shell ─ClientPacket─► core ─┬─ answered from the ClusterState view ─► reply
//!                                                    ├─ Msg to clusterd / transport ─► reply later
//!                                                    └─ Legacy packet to the gateway of node N ─►
//!                                                         remote core answers ─► Legacy reply ─► client
//! ```

pub mod core;
pub mod shell;

pub use shell::{GatewayConfig, GatewayShell};
