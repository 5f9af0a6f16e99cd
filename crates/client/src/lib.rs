//! Async client for ctdbd's Unix socket: the Rust counterpart of Samba's
//! CTDB client library, used by our `ctdb` tool and helpers.
//!
//! ```no_run
//! # async fn f() -> Result<(), ctdb_client::ClientError> {
//! use std::time::Duration;
//! use ctdb_client::Client;
//!
//! let client = Client::connect("/run/ctdb/ctdbd.socket".as_ref()).await?;
//! let clients = client.ping(client.pnn(), Duration::from_secs(10)).await?;
//! println!("{clients} clients connected");
//! # Ok(()) }
//! ```
//!
//! One [`Client`] is one connection. Requests may run concurrently; a reader
//! task matches replies by reqid and queues messages for
//! [`Client::next_message`]. Packets are framed and encoded by
//! [`ctdb_legacy_proto`].

mod conn;
mod controls;
mod error;
pub mod persistent;
pub mod record;

pub use conn::{Client, DEFAULT_TIMEOUT};
pub use error::ClientError;
