//! The transport: routes packets between the services of one node and
//! between nodes.
//!
//! It understands only the [`ctdb_proto::Header`]: a packet for a local
//! service goes into that service's mailbox, a packet for another node goes
//! down the TCP link to that node, a broadcast goes to every connected node
//! and to the local service. Node links carry keepalives, every 200 ms by
//! default with a node declared dead after 5 silent intervals (`[cluster]
//! keepalive interval ms` / `keepalive limit`), or as Samba's
//! `KeepaliveInterval` / `KeepaliveLimit` tunables say once an operator sets
//! them ([`links::Keepalive`]); the decisions (dial, keepalive due, peer
//! dead) live in the sans-IO [`links`] core, the sockets in [`shell`], which
//! runs on a thread of its own ([`Transport::spawn_thread`]).

pub mod links;
mod shell;
mod wire;

pub use links::Keepalive;
pub use shell::{Transport, TransportConfig};
pub use wire::{read_packet, ReadError};
