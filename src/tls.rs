//! TLS as one more layer of a connection, for the server, imclient and imload alike (the
//! `tls` feature): rustls driven sans-IO over the loop's own non-blocking socket.
//!
//! rustls does no I/O of its own. [`TlsStream`] hands it the bytes the socket gives
//! (`read_tls`, then `process_new_packets`) and hands the socket the records rustls made
//! (`write_tls`), and through `Read` and `Write` looks like a plain socket to the code above
//! it: a read returns plaintext or `WouldBlock`, a write takes plaintext or says
//! `WouldBlock`. The loop's rules hold as they are, with two differences a caller must mind:
//!
//! * **Records can wait inside rustls.** A write hands plaintext to rustls, which makes it
//!   into records and sends what the socket takes; the rest waits in rustls (bounded by its
//!   buffer limit, [`BUFFER_LIMIT`]) until [`TlsStream::write_records`] is called again. A
//!   read can make records too (the handshake's, alerts). So after reading, and after
//!   writing, [`TlsStream::wants_write`] says whether the socket still owes the peer bytes,
//!   and a caller waits for a writable event only then.
//! * **A short read says nothing.** A read returns the plaintext of what rustls has
//!   decrypted so far, which may be less than the kernel holds; only `WouldBlock` says the
//!   socket is drained (see [`crate::buffer::SHORT_READ_DRAINS`]).
//!
//! rustls's own mio example (`examples/src/bin/tlsserver-mio.rs`) is the reference; this is
//! the same dance, shaped as `Read` and `Write` so that the read buffer and the outbox need
//! not know TLS exists.

use std::fs;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};

/// Bytes of records rustls holds for one connection that the socket has not taken, and of
/// plaintext written before the handshake ended. rustls's own default: 64 KiB, the same
/// order as a socket's send buffer, so a peer that does not read is noticed by the
/// outbox's limits as fast over TLS as without it.
pub const BUFFER_LIMIT: usize = 64 * 1024;

/// A socket with TLS over it.
#[derive(Debug)]
pub struct TlsStream<S> {
    socket: S,
    session: Connection,
    /// `read_tls` returned 0: the peer's end of stream came.
    eof: bool,
}

impl<S: Read + Write> TlsStream<S> {
    /// TLS over `socket`, as the server or the client side of `session`.
    pub fn new(socket: S, session: impl Into<Connection>) -> TlsStream<S> {
        let mut session = session.into();
        session.set_buffer_limit(Some(BUFFER_LIMIT));
        TlsStream {
            socket,
            session,
            eof: false,
        }
    }

    /// The socket under the records (to register it, or to shut it).
    pub fn socket(&self) -> &S {
        &self.socket
    }

    pub fn socket_mut(&mut self) -> &mut S {
        &mut self.socket
    }

    /// Whether rustls holds records the socket has not taken yet.
    pub fn wants_write(&self) -> bool {
        self.session.wants_write()
    }

    /// Whether the handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        self.session.is_handshaking()
    }

    /// Writes the records rustls holds until none is left (`Ok`) or the socket would block
    /// (`WouldBlock`, with records left for the next call).
    pub fn write_records(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.socket) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Queues the close_notify alert, which tells the peer the stream ended here and was not
    /// cut; [`TlsStream::write_records`] sends it.
    pub fn close_notify(&mut self) {
        self.session.send_close_notify();
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    /// Plaintext, as much as rustls has decrypted (reading the socket when it has none);
    /// `Ok(0)` at the end of the stream, `WouldBlock` when the socket has nothing more.
    /// Input that is not TLS, or fails it, is `InvalidData` (rustls has queued an alert for
    /// the peer: write the records before closing).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.session.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The peer's socket closed without a close_notify. To a line protocol that
                // is still the end of the stream: an unfinished last line is never handled,
                // so a cut cannot forge a command.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if self.eof {
                return Ok(0);
            }
            if self.session.read_tls(&mut self.socket)? == 0 {
                self.eof = true;
            }
            if let Err(e) = self.session.process_new_packets() {
                return Err(io::Error::new(ErrorKind::InvalidData, e));
            }
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// Hands plaintext to rustls and sends the records it makes. Records already waiting go
    /// first: if the socket takes none of them this says `WouldBlock`, as a full socket
    /// does, and nothing is taken. Records the socket does not take wait in rustls.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_records()?;
        let taken = self.session.writer().write_vectored(bufs)?;
        match self.write_records() {
            Err(e) if e.kind() != ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        if taken == 0 && bufs.iter().any(|buf| !buf.is_empty()) {
            // rustls's buffer is full (plaintext written during the handshake): the end of
            // the handshake makes records, and the caller is told to write again then.
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    /// Writes the records waiting; `WouldBlock` if some are left.
    fn flush(&mut self) -> io::Result<()> {
        self.write_records()
    }
}

/// The server's TLS configuration from a PEM certificate chain and its private key. Every
/// error names the file and says what is wrong with it, for the operator at start.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain = read_certificates(cert, "--tls-cert")?;
    let key_der = PrivateKeyDer::from_pem_slice(&read(key, "--tls-key")?)
        .map_err(|e| format!("--tls-key {}: no private key in it ({e})", key.display()))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(chain, key_der)
        })
        .map_err(|e| {
            format!(
                "--tls-key {} does not go with --tls-cert {}: {e}",
                key.display(),
                cert.display()
            )
        })?;
    Ok(Arc::new(config))
}

/// A client's TLS configuration: it trusts the certificates in `ca` (PEM), or the
/// machine's trust store if `ca` is `None`.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(ca) => {
            for certificate in read_certificates(ca, "--ca")? {
                (roots.add(certificate)).map_err(|e| format!("--ca {}: {e}", ca.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let why = "no trusted certificates found on this machine; give --ca FILE";
                return Err(why.to_string());
            }
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client connection to `host` (a name or an IP address, checked against the server's
/// certificate).
pub fn client_session(config: &Arc<ClientConfig>, host: &str) -> io::Result<ClientConnection> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(ErrorKind::InvalidInput, format!("{host}: {e}")))?;
    ClientConnection::new(config.clone(), name).map_err(io::Error::other)
}

/// The crypto behind every configuration: ring's.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path, flag: &str) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {flag} {}: {e}", path.display()))
}

/// Every certificate in a PEM file; at least one.
fn read_certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path, flag)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{flag} {}: no certificate in it", path.display()));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests;
