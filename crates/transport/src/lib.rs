//! The transport: routes packets between the services of one node and
//! between nodes.
//!
//! It understands only the [`ctdb_proto::Header`]: a packet for a local
//! service goes into that service's mailbox, a packet for another node goes
//! down the TCP link to that node, a broadcast goes to every connected node
//! and to the local service. Node links carry keepalives driven by the
//! `KeepaliveInterval` / `KeepaliveLimit` tunables; the decisions (dial,
//! keepalive due, peer dead) live in the sans-IO [`links`] core, the sockets
//! in [`shell`].

pub mod links;
mod shell;
mod wire;

pub use shell::{Transport, TransportConfig};
pub use wire::{read_packet, ReadError};
