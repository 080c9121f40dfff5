//! `imclient`: a terminal chat client for the IM server. See `docs/imclient.md`, or
//! `imclient --help` for the commands and the screen format.

use std::process::ExitCode;

use clap::Parser;
use imchat::chat_client::{self, exit, Config};
use imchat::protocol::{DEFAULT_ADDR, DEFAULT_STATUS};

/// A terminal chat client: type to chat, /help for the commands.
///
/// Registers NAME with the server, shows who is online, and chats in any number of
/// conversations at once. Lines typed on stdin are commands (/invite bob, /join 7, /quit...)
/// or text for the current conversation; every event is one line on stdout. End of input
/// and Ctrl-C sign off like /quit.
#[derive(Debug, Parser)]
#[command(name = "imclient", version, after_long_help = chat_client::long_help())]
struct Args {
    /// Server address, host:port.
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "ADDR")]
    server: String,
    /// Name to register (1 to 32 characters, no spaces); default: $USER.
    #[arg(long)]
    name: Option<String>,
    /// Status shown to others.
    #[arg(long, default_value = DEFAULT_STATUS)]
    status: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let server = match imchat::addr::resolve(&args.server) {
        Ok(server) => server,
        Err(e) => {
            println!("! {e}");
            return ExitCode::from(exit::REFUSED);
        }
    };
    let name = args
        .name
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "guest".into());
    ExitCode::from(chat_client::run(Config {
        server,
        name,
        status: args.status,
    }))
}
