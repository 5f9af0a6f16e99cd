//! One request to ctdb-eventd over `$rundir/eventd.socket` and its reply,
//! as Samba's event client does it: connect (failure logged as
//! `socket connect failed - PATH`), send, wait without a limit for the reply
//! with our reqid (others are dropped); a daemon that hangs up makes the
//! helper exit 1.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use ctdb_legacy_proto::eventd::{peek_event_packet_len, EventReply, EventRequest, EventRequestBody};
use ctdb_legacy_proto::{ProtoError, Wire};

use super::log::Log;

/// EIO: what the client reports when it cannot connect.
pub const EIO: i32 = 5;
/// EPROTO: a reply that does not parse.
pub const EPROTO: i32 = 71;
/// EMSGSIZE: a reply shorter than its contents.
pub const EMSGSIZE: i32 = 90;

/// Room in `sockaddr_un.sun_path`, terminating NUL included.
const SUN_PATH_LEN: usize = 108;

/// Why no reply came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The daemon closed the connection (the helper exits 1).
    Closed,
    /// The exchange failed with this errno.
    Errno(i32),
}

/// A connection to ctdb-eventd.
pub struct EventClient {
    stream: UnixStream,
    next_reqid: u32,
}

impl EventClient {
    /// Connects to `socket`. A failure is logged as Samba's client logs it;
    /// the caller then reports `Failed to initialize event client, ret=5`.
    pub async fn connect(socket: &Path, log: &mut Log) -> Result<EventClient, i32> {
        use std::os::unix::ffi::OsStrExt;
        if socket.as_os_str().as_bytes().len() >= SUN_PATH_LEN {
            log.err(format!("socket path too long: {}", socket.display()));
            return Err(EIO);
        }
        match UnixStream::connect(socket).await {
            Ok(stream) => Ok(EventClient { stream, next_reqid: std::process::id() }),
            Err(_) => {
                log.err(format!("socket connect failed - {}", socket.display()));
                Err(EIO)
            }
        }
    }

    /// Sends `body` and waits for its reply.
    pub async fn request(&mut self, body: EventRequestBody, log: &mut Log) -> Result<EventReply, Failure> {
        let reqid = self.next_reqid;
        self.next_reqid = self.next_reqid.wrapping_add(1);
        let packet = EventRequest { reqid, body }.to_bytes();
        if self.stream.write_all(&packet).await.is_err() {
            return Err(self.closed(log));
        }
        let mut buf: Vec<u8> = Vec::new();
        loop {
            while let Some(len) = self.framed_len(&buf, log)? {
                let packet: Vec<u8> = buf.drain(..len).collect();
                let reply = EventReply::from_prefix(&packet).map_err(|e| Failure::Errno(decode_errno(&e)))?;
                if reply.reqid == reqid {
                    return Ok(reply);
                }
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err(self.closed(log)),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The length of the complete packet at the front of `buf`, if there is
    /// one; a length that cannot be right ends the connection.
    fn framed_len(&self, buf: &[u8], log: &mut Log) -> Result<Option<usize>, Failure> {
        match peek_event_packet_len(buf) {
            Ok(Some(len)) if buf.len() >= len => Ok(Some(len)),
            Ok(_) => Ok(None),
            Err(_) => Err(self.closed(log)),
        }
    }

    fn closed(&self, log: &mut Log) -> Failure {
        log.notice("connection to daemon closed, exiting");
        Failure::Closed
    }
}

/// The errno Samba's parser gives a reply it cannot read.
fn decode_errno(e: &ProtoError) -> i32 {
    match e {
        ProtoError::Truncated { .. } => EMSGSIZE,
        _ => EPROTO,
    }
}
