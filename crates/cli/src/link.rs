//! [`Link`] over a real ctdbd connection (`ctdb_client::Client`).

use std::future::{poll_fn, Future};
use std::path::Path;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use ctdb_client::{Client, ClientError};
use ctdb_legacy_proto::{Opcode, ReplyCall, ReplyControl, ReqCall};

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

    async fn call(&mut self, request: ReqCall) -> Result<ReplyCall, LinkError> {
        // Samba's client library waits for the REPLY_CALL without a limit.
        self.client.call(request, FOREVER).await.map_err(link_error)
    }

    async fn next_message(&mut self, wait: Duration) -> Result<Option<(u64, Vec<u8>)>, LinkError> {
        match tokio::time::timeout(wait, self.client.next_message()).await {
            Ok(Some(m)) => Ok(Some((m.srvid, m.data))),
            Ok(None) => Err(LinkError::Closed),
            Err(_) => Ok(None),
        }
    }

    async fn send_message(&mut self, dest: u32, srvid: u64, data: Vec<u8>) -> Result<(), LinkError> {
        self.client.send_message(dest, srvid, data).await.map_err(link_error)
    }

    async fn control_multi(
        &mut self,
        dests: &[u32],
        opcode: Opcode,
        data: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Vec<Result<ReplyControl, LinkError>> {
        // All requests go out before any reply is read, as Samba's tool
        // sends them; the client matches replies by reqid.
        let client = &self.client;
        let calls = dests.iter().map(|&dest| {
            let data = data.clone();
            async move {
                client.control(dest, opcode, 0, 0, data, timeout.unwrap_or(FOREVER)).await.map_err(link_error)
            }
        });
        join_all(calls.collect()).await
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

/// Runs futures concurrently and returns their outputs in order (a small
/// `join_all`, to stay without the `futures` crate).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (fut, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_all_keeps_order() {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => panic!("{e}"),
        };
        let out = rt.block_on(join_all(vec![
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                1
            }) as Pin<Box<dyn Future<Output = i32>>>,
            Box::pin(async { 2 }),
        ]));
        assert_eq!(out, vec![1, 2]);
    }
}
