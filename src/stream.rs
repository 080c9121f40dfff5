//! A socket, plain TCP or (the `tls` feature) TLS over it, read and written through `Read`
//! and `Write`: what the server's connections and the client's [`crate::client::Connection`]
//! both hold, so that the read buffer, the framing and the outbox never know which.
//!
//! What TLS changes for a loop (see `src/tls.rs`) is asked here: how far a readable socket
//! is read ([`Stream::drain`]: over TLS a short read says nothing, so to `WouldBlock`), and whether records wait inside rustls ([`Stream::owes_records`]), which
//! [`Stream::write_records`] writes, and for which, if the socket will not take them, a
//! loop waits for a writable event exactly as for output its outbox holds.

use std::io::{self, IoSlice, Read, Write};

use mio::net::TcpStream;

use crate::buffer::Drain;
#[cfg(feature = "tls")]
use crate::tls::TlsStream;

/// A socket, with or without TLS.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    /// Boxed: rustls's state is about 1.2 KB before its buffers, and most connections
    /// are plain.
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The TCP socket itself: to register, deregister, or read away what a closing peer
    /// still sends.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(socket) => socket,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket_mut(),
        }
    }

    /// Whether TLS is over the socket: then a short read says nothing, and input that
    /// breaks TLS (not TLS at all, a failed handshake) is what an `InvalidData` read error
    /// means.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// How far to read after a readable event, given the drain a plain socket would get
    /// (see [`crate::buffer::SHORT_READ_DRAINS`]): over TLS always to `WouldBlock`, since a
    /// short read of plaintext may leave records in the kernel.
    pub fn drain(&self, plain: Drain) -> Drain {
        if self.is_tls() {
            Drain::ToWouldBlock
        } else {
            plain
        }
    }

    /// Whether TLS records wait to be written (the handshake's, an alert, or lines the
    /// socket did not take): a flush must write them as it writes queued lines.
    pub fn owes_records(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.wants_write(),
        }
    }

    /// Writes the TLS records waiting. `Ok(true)`: the socket would block with some left.
    pub fn write_records(&mut self) -> io::Result<bool> {
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

    /// Nothing: records are written by [`Stream::write_records`], which says whether any
    /// are left.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
