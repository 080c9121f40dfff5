//! A client's TLS (`--tls` in imclient, imload and the doctor; the `tls` feature): whom it
//! trusts and the name it checks, and the [`Stream`] a connection's socket becomes with it.

use std::io;
#[cfg(feature = "tls")]
use std::path::Path;
#[cfg(feature = "tls")]
use std::sync::Arc;

use mio::net::TcpStream;

use crate::stream::Stream;
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

/// `socket`, with TLS over it if `tls` says so. The handshake starts with the first flush:
/// its first records wait in rustls until then.
pub(super) fn over(socket: TcpStream, tls: Option<&ClientTls>) -> io::Result<Stream> {
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
