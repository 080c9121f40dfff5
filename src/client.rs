//! The client side of one connection, non-blocking, for programs that run their own mio
//! loop: `imclient`, `imload` and the `doctor` example.
//!
//! A [`Connection`] owns the socket, a read buffer and an outbox, exactly like the server's
//! connections. The program registers [`Connection::socket`] in its `Poll`, queues requests
//! with [`Connection::send`], calls [`Connection::flush`] before it sleeps, and calls
//! [`Connection::receive`] when the socket is readable.
//!
//! With [`ClientTls`] (`--tls`, the `tls` feature) the same connection speaks TLS, and the
//! program changes in one way only: after a read, as after a flush, it asks
//! [`Connection::wants_write`] whether something still waits to go out (the handshake's
//! records come from reads), and if so flushes, now or on the next writable event.

mod tls;

pub use tls::ClientTls;

use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use mio::net::TcpStream;

use crate::buffer::{Drain, Got, Line, Outbox, ReadBuf, SpareBuffer};
use crate::protocol::{BadReply, Reply, Request};
use crate::stream::Stream;

/// Longest line a client accepts from the server. A full `ONLINE_USERS` of many thousands
/// of users is long, so this is far above the server's default request limit
/// ([`crate::protocol::DEFAULT_MAX_LINE`]).
pub const CLIENT_MAX_LINE: usize = 16 * 1024 * 1024;

/// What one call to [`Connection::receive`] saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Lines read, in order, each parsed (or not, if the server sent something unexpected).
    pub replies: Vec<Result<Reply, BadReply>>,
    /// The server closed the connection.
    pub closed: bool,
}

/// One non-blocking connection to an IM server.
#[derive(Debug)]
pub struct Connection {
    socket: Stream,
    input: ReadBuf,
    /// Where the read buffer waits between reads, so it is allocated once.
    spare: SpareBuffer,
    out: Outbox,
}

impl Connection {
    /// Starts connecting (non-blocking: the connection completes later, and the first
    /// writable event says so), with TLS over it if `tls` is given.
    pub fn connect(addr: SocketAddr, tls: Option<&ClientTls>) -> io::Result<Connection> {
        Connection::from_stream(TcpStream::connect(addr)?, tls)
    }

    /// Wraps a connected or connecting non-blocking stream, with TLS over it if `tls` is
    /// given (the handshake starts at the first flush).
    pub fn from_stream(socket: TcpStream, tls: Option<&ClientTls>) -> io::Result<Connection> {
        let _ = socket.set_nodelay(true);
        Ok(Connection {
            socket: tls::over(socket, tls)?,
            input: ReadBuf::new(),
            spare: SpareBuffer::default(),
            out: Outbox::new(),
        })
    }

    /// The TCP socket (under TLS, if any), to register with a `mio::Registry`.
    pub fn socket(&mut self) -> &mut TcpStream {
        self.socket.tcp()
    }

    /// Queues a request; nothing is written until [`Connection::flush`].
    pub fn send(&mut self, request: &Request) {
        self.out.push(Line::from(request.encode()));
    }

    /// Queues an already encoded line (it must end in `\n`).
    pub fn send_line(&mut self, line: Line) {
        self.out.push(line);
    }

    /// Bytes queued and not yet written (TLS records waiting in rustls not counted: they
    /// are bounded by `tls::BUFFER_LIMIT`).
    pub fn queued(&self) -> usize {
        self.out.queued()
    }

    /// Whether [`Connection::flush`] has something to write: queued lines, or TLS records
    /// (the handshake's, made by a read, or lines a full socket did not take).
    pub fn wants_write(&self) -> bool {
        self.out.queued() > 0 || self.socket.owes_records()
    }

    /// Writes queued output, and any TLS records, until done (`Ok(true)`) or `WouldBlock`
    /// (`Ok(false)`: wait for a writable event and call again).
    pub fn flush(&mut self) -> io::Result<bool> {
        if self.out.flush_to(&mut self.socket)?.blocked {
            return Ok(false);
        }
        Ok(!self.socket.write_records()?)
    }

    /// Reads until `WouldBlock` or end of stream and parses every complete line. Call it
    /// on every readable event: the events are edge-triggered.
    pub fn receive(&mut self) -> io::Result<Received> {
        let mut received = Received::default();
        self.receive_lines(|line| received.replies.push(Reply::parse(line)))
            .map(|closed| received.closed = closed)?;
        Ok(received)
    }

    /// Like [`Connection::receive`], but hands each raw line to `on_line` without
    /// allocating: for programs that count lines more than they read them. Returns whether
    /// the server closed the connection.
    pub fn receive_lines(&mut self, on_line: impl FnMut(&str)) -> io::Result<bool> {
        self.receive_lines_with(Drain::ToWouldBlock, on_line)
    }

    /// Like [`Connection::receive_lines`], reading only as far as `drain` says: a program
    /// that knows what its event said (closed or not) can stop at a short read on epoll
    /// and save the read that would only say `WouldBlock`. Over TLS a short read says
    /// nothing (rustls may hold more than it gave), so it reads to `WouldBlock` whatever
    /// `drain` says.
    pub fn receive_lines_with(
        &mut self,
        drain: Drain,
        mut on_line: impl FnMut(&str),
    ) -> io::Result<bool> {
        let drain = self.socket.drain(drain);
        let mut drained = false;
        loop {
            loop {
                match self.input.next_line(CLIENT_MAX_LINE) {
                    Ok(Some("")) => {}
                    Ok(Some(line)) => on_line(line),
                    Ok(None) => break,
                    Err(e) => {
                        return Err(io::Error::new(ErrorKind::InvalidData, e));
                    }
                }
            }
            if drained {
                // No read after the last line hands the buffer on, so it is done here.
                self.input.release_if_empty(&mut self.spare);
                return Ok(false);
            }
            match self.input.read_some(&mut self.socket, &mut self.spare) {
                Ok(Got { n: 0, .. }) => return Ok(true),
                Ok(got) => drained = drain.ends_at(got),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    // A TLS failure (a certificate not trusted, say) has queued an alert
                    // that tells the server why; one try to send it before giving up.
                    let _ = self.socket.write_records();
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(all(test, feature = "tls"))]
mod tests;
