//! A connection's socket: plain TCP, or (the `tls` feature) TLS over it. Both are read and
//! written through `Read` and `Write`, so the read buffer, the transports and the outbox are
//! the same for either; what differs is said here, in the few methods the loop asks:
//!
//! * how far a readable event is drained: a short read over TLS says nothing about the
//!   socket (`src/tls.rs`), so a TLS socket is read until `WouldBlock`;
//! * whether records wait inside rustls, which the flush must write and, if the socket will
//!   not take them, wait for a writable event for, exactly as for output the outbox holds;
//! * how our end is closed: a TLS stream sends close_notify first.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

use crate::buffer::Drain;
#[cfg(feature = "tls")]
use crate::tls::TlsStream;

/// A connection's socket.
#[derive(Debug)]
pub(super) enum Stream {
    Plain(TcpStream),
    /// Boxed: rustls's state is about 1.2 KB before its buffers, and most connections
    /// are plain.
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The TCP socket itself: to register, deregister, or read away what a closing peer
    /// still sends.
    pub(super) fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(socket) => socket,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket_mut(),
        }
    }

    /// The peer's address (the tests find a connection by it).
    #[cfg(test)]
    pub(super) fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self {
            Stream::Plain(socket) => socket.peer_addr(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket().peer_addr(),
        }
    }

    /// How far a readable event's socket is read (see [`crate::buffer::SHORT_READ_DRAINS`]):
    /// over TLS always to `WouldBlock`, since a short read of plaintext may leave records in
    /// the kernel.
    pub(super) fn drain(&self, closed: bool) -> Drain {
        match self {
            Stream::Plain(_) => Drain::after(closed),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => Drain::ToWouldBlock,
        }
    }

    /// Whether TLS records wait to be written (the handshake's, an alert, or lines the
    /// socket did not take): the flush must write them as it writes queued lines.
    pub(super) fn owes_records(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.wants_write(),
        }
    }

    /// Whether input that breaks TLS (not TLS at all, or a failed handshake) is what an
    /// `InvalidData` read error means here.
    pub(super) fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// Writes the TLS records waiting. `Ok(true)`: the socket would block with some left.
    pub(super) fn write_records(&mut self) -> io::Result<bool> {
        match self {
            Stream::Plain(_) => Ok(false),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => match tls.write_records() {
                Ok(()) => Ok(false),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
                Err(e) => Err(e),
            },
        }
    }

    /// Shuts our end: everything is written, so the peer sees the end of the stream right
    /// after the last line. Over TLS the close_notify alert goes first (if the socket takes
    /// it now: a peer whose buffer is full is not waited for, the linger deadline is
    /// what bounds a closing).
    pub(super) fn shutdown_write(&mut self) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(tls) = self {
            tls.close_notify();
            let _ = tls.write_records();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
