//! `ctdb checktcpport PORT`: no daemon needed. Binds an IPv4 TCP socket to
//! the port on every address: success (exit 0, silent) means nothing
//! listens there; failure prints `Failed to bind to TCP port N` and exits
//! with the errno (98, EADDRINUSE, when a service holds the port). Debian's
//! event scripts (`ctdb_check_tcp_ports` in `functions`, used by 50.samba)
//! read exactly that exit code.

use std::net::{Ipv4Addr, SocketAddrV4};

use socket2::{Domain, Protocol, Socket, Type};

use super::Ctx;
use crate::error::CliError;
use crate::numparse::atoi;
use crate::render::Reply;

/// Runs the command. The port is `atoi` of the argument, cut to 16 bits,
/// as the C tool's `htons(atoi(...))` does.
pub fn run(cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    let [port] = args else {
        // CTDB asks for the usage of "chktcpport", a name it does not know,
        // so the whole usage is printed.
        return Err(CliError::Usage { command: "chktcpport".into() });
    };
    let port = atoi(port) as u16;
    match bind(port) {
        Ok(()) => Ok(cx.reply(&Silent)),
        Err(e) => Err(CliError::stderr(format!("Failed to bind to TCP port {port}\n"), e.raw_os_error().unwrap_or(1))),
    }
}

/// A bind without SO_REUSEADDR (as CTDB's tool): a port in TIME_WAIT or
/// held by a listener is "in use".
fn bind(port: u16) -> std::io::Result<()> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())
}

/// Nothing to print.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
struct Silent;

impl crate::render::Render for Silent {
    fn text(&self, _cx: &crate::render::RenderCx) -> String {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_port_is_in_use_and_a_free_one_is_not() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let e = bind(port).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(98), "EADDRINUSE");
        drop(l);
        assert!(bind(0).is_ok());
    }
}
