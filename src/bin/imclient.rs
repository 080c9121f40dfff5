//! `imclient`: a terminal chat client for the IM server. See `docs/imclient.md`, or
//! `imclient --help` for the commands and the screen format.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use imchat::chat_client::{self, discover, exit, Config, DEFAULT_NAME};
use imchat::cli::TlsArgs;
use imchat::discovery;
use imchat::protocol::{Password, DEFAULT_ADDR, DEFAULT_STATUS};

/// A terminal chat client: type to chat, /help for the commands.
///
/// Registers NAME with the server, shows who is online, and chats in any number of
/// conversations at once. Lines typed on stdin are commands (/invite bob, /join 7, /quit...)
/// or text for the current conversation; every event is one line on stdout. End of input
/// and Ctrl-C sign off like /quit. If the server goes away, it says so and reconnects.
#[derive(Debug, Parser)]
#[command(name = "imclient", version, after_long_help = chat_client::long_help())]
struct Args {
    /// Server address, host:port.
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "ADDR")]
    server: String,
    /// Find the server on the LAN instead: ask who is there (a REQUEST to the discovery
    /// group), list the servers that answer within 1 s, and connect to the only one or ask
    /// which (servers are started with `imserver --announce`). Exit code 1 if none answers.
    #[arg(long, conflicts_with = "server")]
    discover: bool,
    /// The discovery group and port, as the servers' `--announce-group`.
    #[arg(long, value_name = "ADDR:PORT", default_value = discovery::DEFAULT_GROUP,
          value_parser = discovery::parse_group, requires = "discover")]
    announce_group: SocketAddrV4,
    /// The address of the interface to discover on; 0.0.0.0 lets the routing table choose.
    #[arg(long, value_name = "ADDR", default_value_t = Ipv4Addr::UNSPECIFIED,
          requires = "discover")]
    announce_interface: Ipv4Addr,
    /// Name to register (1 to 32 characters, no spaces); default: $USER, or "guest" when
    /// $USER is unset (the screen says so).
    #[arg(long)]
    name: Option<String>,
    /// Status shown to others.
    #[arg(long, default_value = DEFAULT_STATUS)]
    status: String,
    /// Exit (code 3) when the connection to the server is lost, instead of reconnecting
    /// with backoff (0.5 s doubling to 10 s) and registering again.
    #[arg(long)]
    no_reconnect: bool,
    /// The server's password, for a server started with `--password-file`: the file's
    /// contents, one trailing newline taken off (a file, so it never shows in `ps`).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    #[command(flatten)]
    tls: TlsArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let password = match Password::from_flag(args.password_file.as_deref()) {
        Ok(password) => password,
        Err(why) => {
            eprintln!("imclient: {why}");
            return ExitCode::from(exit::USAGE);
        }
    };
    if args.discover && args.tls.on() {
        // A discovered server is an address; TLS needs the name its certificate carries.
        let why = "--tls needs --server HOST:PORT (the name the certificate carries), \
                   not --discover";
        Args::command()
            .error(ErrorKind::ArgumentConflict, why)
            .exit();
    }
    let tls = (args.tls.client_tls(&args.server)).unwrap_or_else(|why| {
        Args::command()
            .error(ErrorKind::ValueValidation, why)
            .exit()
    });
    let found = if args.discover {
        discover::discover(args.announce_group, args.announce_interface)
    } else {
        imchat::addr::resolve(&args.server).map_err(|e| {
            // A closed stdout is no reason to panic: the exit code still tells.
            let _ = writeln!(std::io::stdout(), "! {e}");
            exit::REFUSED
        })
    };
    let server = match found {
        Ok(server) => server,
        Err(code) => return ExitCode::from(code),
    };
    let mut notices = Vec::new();
    let name = match (args.name, std::env::var("USER")) {
        (Some(name), _) => name,
        (None, Ok(user)) if !user.is_empty() => user,
        (None, _) => {
            notices.push(format!(
                "* $USER is not set; registering as {DEFAULT_NAME} (--name NAME chooses)"
            ));
            DEFAULT_NAME.into()
        }
    };
    ExitCode::from(chat_client::run(Config {
        server,
        name,
        status: args.status,
        reconnect: !args.no_reconnect,
        notices,
        password,
        tls,
    }))
}
