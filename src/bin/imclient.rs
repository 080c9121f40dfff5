//! `imclient`: a terminal chat client for the IM server. See `docs/imclient.md`, or
//! `imclient --help` for the commands and the screen format.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use imchat::chat_client::{self, exit, Config, DEFAULT_NAME};
use imchat::protocol::{DEFAULT_ADDR, DEFAULT_STATUS};

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
}

fn main() -> ExitCode {
    let args = Args::parse();
    let server = match imchat::addr::resolve(&args.server) {
        Ok(server) => server,
        Err(e) => {
            // A closed stdout is no reason to panic: the exit code still tells.
            let _ = writeln!(std::io::stdout(), "! {e}");
            return ExitCode::from(exit::REFUSED);
        }
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
    }))
}
