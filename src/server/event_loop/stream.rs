//! A connection's socket: [`crate::stream::Stream`], plain TCP or (the `tls` feature) TLS
//! over it, shared with the client's connection. Both are read and written through `Read`
//! and `Write`, so the read buffer, the transports and the outbox are the same for either;
//! what differs is said in the few methods the loop asks, there and here:
//!
//! * how far a readable event is drained: a short read over TLS says nothing about the
//!   socket (`src/tls.rs`), so a TLS socket is read until `WouldBlock` (`Stream::drain`);
//! * whether records wait inside rustls, which the flush must write and, if the socket will
//!   not take them, wait for a writable event for, exactly as for output the outbox holds
//!   (`Stream::owes_records`, `Stream::write_records`);
//! * how our end is closed: a TLS stream sends close_notify first.

#[cfg(test)]
use std::io;
use std::net::Shutdown;

pub(super) use crate::stream::Stream;

impl Stream {
    /// The peer's address (the tests find a connection by it).
    #[cfg(test)]
    pub(super) fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self {
            Stream::Plain(socket) => socket.peer_addr(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket().peer_addr(),
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
