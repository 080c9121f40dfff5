//! How a simulated client's lines travel: plain TCP (im, Redis, IRC), or one WebSocket
//! text frame per line (`--target ws`). The protocol adapters build and read lines and
//! never know which.

use std::io;

use mio::net::TcpStream;

use crate::buffer::{Drain, Line};
use crate::client::Connection;

#[cfg(feature = "web")]
use super::ws::WsConnection;
use super::{Node, Settings};

/// One client's connection, by transport.
#[derive(Debug)]
pub enum Link {
    Tcp(Connection),
    #[cfg(feature = "web")]
    Ws(WsConnection),
}

impl Link {
    /// Wraps a connecting socket to server `node` for the run's target, with TLS over it
    /// for `--tls`. `--target ws` without the `web` feature, and `--tls` with it, are
    /// refused by `Settings::check` before any socket is opened.
    pub fn new(settings: &Settings, node: &Node, socket: TcpStream) -> io::Result<Link> {
        match settings.target {
            #[cfg(feature = "web")]
            super::Target::Ws => Ok(Link::Ws(WsConnection::new(socket, &node.addr.to_string()))),
            _ => Connection::from_stream(socket, node.tls.as_ref()).map(Link::Tcp),
        }
    }

    /// The socket, to register with a `mio::Registry`.
    pub fn socket(&mut self) -> &mut TcpStream {
        match self {
            Link::Tcp(conn) => conn.socket(),
            #[cfg(feature = "web")]
            Link::Ws(conn) => conn.socket(),
        }
    }

    /// Queues one encoded line (ending in `\n`), taking its bytes.
    pub fn send(&mut self, line: Vec<u8>) {
        match self {
            Link::Tcp(conn) => conn.send_line(Line::from(line)),
            #[cfg(feature = "web")]
            Link::Ws(conn) => conn.send(&line),
        }
    }

    /// Queues one encoded line (ending in `\n`), copying it: one allocation either way,
    /// the TCP line's or the frame's.
    pub fn send_copy(&mut self, line: &[u8]) {
        match self {
            Link::Tcp(conn) => conn.send_line(Line::from(line)),
            #[cfg(feature = "web")]
            Link::Ws(conn) => conn.send(line),
        }
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        match self {
            Link::Tcp(conn) => conn.queued(),
            #[cfg(feature = "web")]
            Link::Ws(conn) => conn.queued(),
        }
    }

    /// Whether [`Link::flush`] has something to write (over TLS, records a read made too).
    pub fn wants_write(&self) -> bool {
        match self {
            Link::Tcp(conn) => conn.wants_write(),
            #[cfg(feature = "web")]
            Link::Ws(conn) => conn.queued() > 0,
        }
    }

    /// Writes queued output until done or `WouldBlock`.
    pub fn flush(&mut self) -> io::Result<bool> {
        match self {
            Link::Tcp(conn) => conn.flush(),
            #[cfg(feature = "web")]
            Link::Ws(conn) => conn.flush(),
        }
    }

    /// Reads as far as `drain` says (`WouldBlock`, or on epoll a short read) or to the end,
    /// and hands every line to `on_line`, borrowed from the read buffer. Returns whether the
    /// server closed the connection.
    pub fn receive_lines(&mut self, drain: Drain, on_line: impl FnMut(&str)) -> io::Result<bool> {
        match self {
            Link::Tcp(conn) => conn.receive_lines_with(drain, on_line),
            #[cfg(feature = "web")]
            Link::Ws(conn) => conn.receive_lines(drain, on_line),
        }
    }
}
