//! TLS for the tests: a certificate for `localhost` and `127.0.0.1` made at test time
//! (rcgen), and a blocking TLS client that reads whole lines (rustls's own `StreamOwned`).

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use rcgen::PublicKeyData;
use rustls::{ClientConnection, StreamOwned};

use super::PATIENCE;

/// A self-signed certificate and its key, as PEM files in a directory of their own that
/// goes away with them.
pub struct Certs {
    dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The base64 SHA-256 of the certificate's SubjectPublicKeyInfo: how Chromium's
    /// `--ignore-certificate-errors-spki-list` names the one key a browser is to trust.
    pub spki_sha256: String,
}

impl Certs {
    /// A certificate for `localhost` and `127.0.0.1`, made now.
    pub fn localhost() -> Certs {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("imchat-certs-{}-{n}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let made = rcgen::generate_simple_self_signed(names).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        fs::write(&cert, made.cert.pem()).unwrap();
        fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let spki = made.signing_key.subject_public_key_info();
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        let spki_sha256 = base64::engine::general_purpose::STANDARD.encode(digest);
        Certs {
            dir,
            cert,
            key,
            spki_sha256,
        }
    }

    /// A file of the test's own beside the certificate (a second key, a broken file).
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        fs::write(&path, contents).unwrap();
        path
    }

    /// The server's flags for this certificate.
    pub fn server_flags(&self) -> [String; 4] {
        [
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }

    /// A client configuration that trusts this certificate only.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        imchat::tls::client_config(Some(&self.cert)).unwrap()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A blocking TLS test client that reads whole lines.
pub struct TlsClient {
    stream: BufReader<StreamOwned<ClientConnection, TcpStream>>,
}

impl TlsClient {
    /// Connects to `addr` and completes the handshake, checking the certificate for
    /// `localhost`.
    pub fn connect(addr: SocketAddr, certs: &Certs) -> std::io::Result<TlsClient> {
        let socket = TcpStream::connect(addr)?;
        socket.set_read_timeout(Some(PATIENCE))?;
        let config = certs.client_config();
        let mut session = imchat::tls::client_session(&config, "localhost")?;
        let mut socket = socket;
        while session.is_handshaking() {
            session.complete_io(&mut socket)?;
        }
        Ok(TlsClient {
            stream: BufReader::new(StreamOwned::new(session, socket)),
        })
    }

    /// Sends one line (a newline is added).
    pub fn send(&mut self, line: &str) {
        let stream = self.stream.get_mut();
        stream.write_all(format!("{line}\n").as_bytes()).unwrap();
        stream.flush().unwrap();
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stream = self.stream.get_mut();
        stream.write_all(bytes).unwrap();
        stream.flush().unwrap();
    }

    /// Everything until the end of the stream.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        match self.stream.read_to_end(&mut all) {
            Ok(_) => all,
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => all,
            Err(e) => panic!("reading to the end over TLS: {e}"),
        }
    }

    /// The next line, without its newline; `None` at the end of the stream.
    pub fn try_recv(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.stream.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end_matches('\n').to_string()),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => None,
            Err(e) => panic!("reading a line over TLS: {e}"),
        }
    }

    /// The next line, which must come.
    pub fn recv(&mut self) -> String {
        self.try_recv().expect("a line, not the end of the stream")
    }

    /// Lines until one starts with `prefix`, which is returned (others, like presence
    /// broadcasts, are skipped).
    pub fn wait_for(&mut self, prefix: &str) -> String {
        loop {
            let line = self.recv();
            if line.starts_with(prefix) {
                return line;
            }
        }
    }
}
