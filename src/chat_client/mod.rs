//! `imclient`, the terminal chat client, as a library: the same one-thread, one-poll style
//! as the server, with stdin and stdout in the poll beside the server's socket.
//!
//! | file | what it is |
//! |---|---|
//! | `state.rs` | the user's view of the chat; server replies become screen lines (pure) |
//! | `commands.rs` | typed lines become requests or screen lines (pure) |
//! | `terminal.rs` | stdin and stdout as sources of the poll, never made non-blocking |
//! | `event_loop.rs` | the loop that ties them to the server's [`crate::client::Connection`] |
//!
//! The screen format, [`SCREEN_FORMAT`], is a contract: tests and scripts read these lines.

mod commands;
mod event_loop;
mod state;
mod terminal;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

pub use event_loop::run;
pub use state::{clean, ChatState, Output};
pub use terminal::{InputLines, Typed, MAX_INPUT_LINE};

/// Longest request line the client sends, newline not counted: the server's default
/// `--max-line`. The server closes a connection that sends more, so longer messages are
/// refused locally instead.
pub const MAX_REQUEST_BYTES: usize = crate::protocol::DEFAULT_MAX_LINE;

/// What the client needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: SocketAddr,
    pub name: String,
    pub status: String,
}

/// Exit codes.
pub mod exit {
    /// Signed off: `/quit`, end of input or Ctrl-C, and the server said goodbye.
    pub const OK: u8 = 0;
    /// Could not connect or register (name taken or invalid, server full), or a local
    /// failure (the screen could not be written).
    pub const REFUSED: u8 = 1;
    /// The server closed the connection or it broke while chatting.
    pub const SERVER_GONE: u8 = 2;
}

/// The long text of `imclient --help`: the commands, then the screen format.
pub fn long_help() -> String {
    let mut text = String::from("COMMANDS (typed on stdin):\n");
    for line in &commands::HELP[1..] {
        text.push_str(line.trim_start_matches('*'));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(SCREEN_FORMAT);
    text
}

/// The screen format, shown by `imclient --help` and in `docs/imclient.md`.
pub const SCREEN_FORMAT: &str = "\
SCREEN LINES (one event per line, on stdout; stable, for people and for scripts):
  [7] alice: hi there                  a message in conversation 7, yours included, shown once
  [7] * invited by alice; type /join 7 to accept
  [7] * you started this conversation  after your /invite
  [7] * you joined                     after your /join
  [7] * bob joined    [7] * bob left    someone else joined or left
  [7] * members: alice, bob            after every change; '(pending)' while nobody else
                                       has joined, '(alone)' once all others left
  [7] * now current                    plain text now goes to conversation 7
  [7] * you left                       after your /leave
  * registered as alice (available)    first line once the server accepts you
  * online: bob (away), carol (available)   everyone else online (also /who)
  * bob came online (available)   * bob is now away   * bob went offline
  * you are now away                   your own status change, confirmed by the server
  * signing off                        /quit; also '* end of input; signing off' and
                                       '* interrupted; signing off' (Ctrl-C)
  ! JOIN: not invited to conversation 9    an ERROR from the server, or a local mistake
  ! server closed the connection       the server went away (exit code 2)
Control characters sent by others are shown escaped (\\n, \\u{1b}).

EXIT CODES: 0 signed off; 1 could not connect or register (the ERROR is shown);
2 the server closed the connection while chatting.";
