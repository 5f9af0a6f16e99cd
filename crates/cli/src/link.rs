//! [`Link`] over a real ctdbd connection (`ctdb_client::Client`).

use std::path::Path;
use std::time::Duration;

use ctdb_client::{Client, ClientError};
use ctdb_legacy_proto::{Opcode, ReplyControl};

use crate::session::{Link, LinkError};

/// Stand-in for "no timeout" (`-t` negative): long enough to outlast any
/// `-T`, short enough for tokio's timer arithmetic.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// A connection to ctdbd through `ctdb-client`.
pub struct ClientLink {
    client: Client,
}

impl ClientLink {
    /// Connects to the socket without sending anything (the session's
    /// preamble does GET_PNN itself). On failure returns the errno of
    /// `connect()`.
    pub async fn connect(path: &Path) -> Result<ClientLink, i32> {
        match Client::connect_raw(path).await {
            Ok(client) => Ok(ClientLink { client }),
            Err(ClientError::Connect { source, .. }) | Err(ClientError::Io(source)) => {
                Err(source.raw_os_error().unwrap_or(libc_eio()))
            }
            Err(_) => Err(libc_eio()),
        }
    }
}

/// EIO, for connect failures that carry no errno.
fn libc_eio() -> i32 {
    5
}

fn link_error(e: ClientError) -> LinkError {
    match e {
        ClientError::Timeout => LinkError::Timeout,
        ClientError::Closed => LinkError::Closed,
        ClientError::Io(source) | ClientError::Connect { source, .. } => LinkError::Io(source.raw_os_error()),
        _ => LinkError::Proto,
    }
}

impl Link for ClientLink {
    async fn control(
        &mut self,
        dest: u32,
        opcode: Opcode,
        srvid: u64,
        flags: u32,
        data: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<ReplyControl, LinkError> {
        self.client.control(dest, opcode, srvid, flags, data, timeout.unwrap_or(FOREVER)).await.map_err(link_error)
    }

    async fn control_noreply(&mut self, dest: u32, opcode: Opcode, srvid: u64, data: Vec<u8>) -> Result<(), LinkError> {
        self.client.control_noreply(dest, opcode, srvid, data).await.map_err(link_error)
    }

    async fn next_message(&mut self, wait: Duration) -> Result<Option<(u64, Vec<u8>)>, LinkError> {
        match tokio::time::timeout(wait, self.client.next_message()).await {
            Ok(Some(m)) => Ok(Some((m.srvid, m.data))),
            Ok(None) => Err(LinkError::Closed),
            Err(_) => Ok(None),
        }
    }

    async fn closed(&mut self) -> Result<(), LinkError> {
        // next_message() ends once the reader has seen EOF.
        while self.client.next_message().await.is_some() {}
        Ok(())
    }

    fn learned_pnn(&mut self, pnn: u32) {
        // Later packets carry our pnn as srcnode, as Samba's tool sends them.
        self.client.set_pnn(pnn);
    }
}
