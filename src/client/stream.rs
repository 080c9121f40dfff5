//! What a [`super::Connection`]'s bytes travel over: the TCP socket itself, or TLS over it
//! (`--tls` in imclient and imload, the `tls` feature).
//!
//! Both look the same to the read buffer and the outbox (`Read` and `Write`). What TLS adds
//! is the connection's to mind (see [`crate::tls`]): records that wait inside rustls after
//! a read or a write, and reads that say nothing when short.

use std::io::{self, IoSlice, Read, Write};
#[cfg(feature = "tls")]
use std::path::Path;
#[cfg(feature = "tls")]
use std::sync::Arc;

use mio::net::TcpStream;

#[cfg(feature = "tls")]
use crate::tls::TlsStream;

/// How a client speaks TLS to one server: whom it trusts, and the name the server's
/// certificate must carry.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
    /// The host part of `--server` as the user typed it: a name or an IP address.
    host: String,
}

/// Built without the `tls` feature: no value of it can exist, so a connection is always
/// plain, and code that takes an `Option<&ClientTls>` is the same in both builds.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum ClientTls {}

#[cfg(feature = "tls")]
impl ClientTls {
    /// TLS to `host_port` (`HOST:PORT` as typed: the certificate must name `HOST`),
    /// trusting the certificates in `ca` (PEM), or the machine's trust store if `None`.
    /// Every error is for the user at start: a file that cannot be read or holds no
    /// certificate, an empty trust store, a host that cannot be a certificate's name.
    pub fn new(ca: Option<&Path>, host_port: &str) -> Result<ClientTls, String> {
        let config = crate::tls::client_config(ca)?;
        let host = crate::addr::host(host_port).to_string();
        // Checked now, so that a bad name is said once at start, not at every connect.
        crate::tls::client_session(&config, &host).map_err(|e| e.to_string())?;
        Ok(ClientTls { config, host })
    }

    /// The name checked against the server's certificate.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// A connection's byte stream.
#[derive(Debug)]
pub(super) enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// `socket`, with TLS over it if `tls` says so. The handshake starts with the first
    /// flush: its first records wait in rustls until then.
    pub(super) fn new(socket: TcpStream, tls: Option<&ClientTls>) -> io::Result<Stream> {
        match tls {
            None => Ok(Stream::Plain(socket)),
            #[cfg(feature = "tls")]
            Some(tls) => {
                let session = crate::tls::client_session(&tls.config, &tls.host)?;
                Ok(Stream::Tls(Box::new(TlsStream::new(socket, session))))
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// The TCP socket under everything, to register or to ask how the connect went.
    pub(super) fn socket(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(socket) => socket,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket_mut(),
        }
    }

    pub(super) fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// Whether bytes the outbox no longer holds still wait to be written: TLS records
    /// (the handshake's, an alert, or the outbox's lines made into records).
    pub(super) fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.wants_write(),
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
        match self {
            Stream::Plain(socket) => socket.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write_vectored(bufs),
        }
    }

    /// Plain: nothing waits. TLS: writes the records rustls holds; `WouldBlock` if some
    /// are left.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.flush(),
        }
    }
}
