//! Command lines: the examples' parsing, with the usage printed after any error, and the
//! TLS flags every client program takes alike.

use std::net::SocketAddr;

use clap::Parser;

use crate::client::ClientTls;

/// A `--server HOST:PORT` flag: the address it resolves to (once, at start), and the text
/// as typed, whose host is the name TLS checks the server's certificate against.
#[derive(Debug, Clone)]
pub struct Server {
    pub typed: String,
    pub addr: SocketAddr,
}

impl Server {
    /// Resolves `typed` (see [`crate::addr::resolve`]); usable as a clap `value_parser`.
    pub fn parse(typed: &str) -> Result<Server, String> {
        let addr = crate::addr::resolve(typed)?;
        let typed = typed.to_string();
        Ok(Server { typed, addr })
    }
}

/// A default address, typed as it prints.
impl From<SocketAddr> for Server {
    fn from(addr: SocketAddr) -> Server {
        let typed = addr.to_string();
        Server { typed, addr }
    }
}

/// `--tls` and `--ca FILE`, as imclient, imload and the doctor take them (flattened into
/// their own flags). Built without the `tls` feature it has no flags, and a program never
/// speaks TLS.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Speak TLS to the server. Its certificate must name the host of --server as typed
    /// (a name or an IP address) and be signed by a certificate of --ca FILE, else of the
    /// machine's trust store.
    #[cfg(feature = "tls")]
    #[arg(long)]
    pub tls: bool,
    /// With --tls: trust the certificates in FILE (PEM) instead of the machine's trust
    /// store, for example a self-signed server's own certificate.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<std::path::PathBuf>,
}

impl TlsArgs {
    /// Whether `--tls` was given.
    pub fn on(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls;
        #[cfg(not(feature = "tls"))]
        false
    }

    /// TLS to `host_port` (`--server` as typed) if `--tls` was given; an error names the
    /// flag or the file at fault.
    pub fn client_tls(&self, host_port: &str) -> Result<Option<ClientTls>, String> {
        #[cfg(feature = "tls")]
        if self.tls {
            return ClientTls::new(self.ca.as_deref(), host_port).map(Some);
        }
        let _ = host_port;
        Ok(None)
    }
}

/// Parses the command line. `--help` prints the help on stdout and exits 0; anything wrong
/// prints one line saying what (`echo: invalid value ...`), then the usage line, on stderr,
/// and exits 2. clap's own report of a bad value names no usage, and a reader of the
/// examples should not have to ask for `--help` to learn what to type.
pub fn parse_or_usage<T: Parser>() -> T {
    T::try_parse().unwrap_or_else(|e| {
        if !e.use_stderr() {
            let _ = e.print();
            std::process::exit(0);
        }
        let mut command = T::command();
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        eprintln!(
            "{}: {}",
            command.get_name(),
            first.trim_start_matches("error: ")
        );
        eprintln!("{}", command.render_usage());
        std::process::exit(2);
    })
}
