//! `imclient`, the terminal chat client, as a library: the same one-thread, one-poll style
//! as the server, with stdin and stdout in the poll beside the server's socket.
//!
//! | file | what it is |
//! |---|---|
//! | `state.rs` | the user's view of the chat; server replies become screen lines (pure) |
//! | `commands.rs` | typed lines become requests or screen lines (pure) |
//! | `terminal.rs` | stdin and stdout as sources of the poll, never made non-blocking |
//! | `event_loop.rs` | the loop that ties them to the server's [`crate::client::Connection`] |
//! | `discover.rs` | `--discover`: finds the server on the LAN before the loop starts (blocking) |
//!
//! The screen format, [`SCREEN_FORMAT`], is a contract: tests and scripts read these lines.

mod commands;
pub mod discover;
mod event_loop;
mod state;
mod terminal;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use crate::client::ClientTls;

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
    /// Reconnect after losing the server (`--no-reconnect` turns it off).
    pub reconnect: bool,
    /// Lines shown before anything else (how the name was chosen, when not by `--name`).
    pub notices: Vec<String>,
    /// The server's password (`--password-file`), sent with every `REGISTER`.
    pub password: Option<crate::protocol::Password>,
    /// `--tls`: speak TLS to the server.
    pub tls: Option<ClientTls>,
}

/// The name used when neither `--name` nor `$USER` gives one.
pub const DEFAULT_NAME: &str = "guest";

/// Exit codes, one per outcome, so a script can tell them apart (`imclient --help` and
/// `docs/imclient.md` list them).
pub mod exit {
    /// Signed off: `/quit`, end of input or Ctrl-C, and the server said goodbye.
    pub const OK: u8 = 0;
    /// Could not connect or register (name taken or invalid, server full), at start or
    /// when registering again after reconnecting; or `--discover` found no server to
    /// connect to (none answered, or none was chosen).
    pub const REFUSED: u8 = 1;
    /// A bad flag or argument. Not returned by [`super::run`]: clap exits with it, as
    /// command-line tools conventionally do for usage errors.
    pub const USAGE: u8 = 2;
    /// The connection to the server was lost and not re-established: `--no-reconnect`, or
    /// the user quit while reconnecting.
    pub const SERVER_GONE: u8 = 3;
    /// Ended locally before a clean sign-off: standard output could not be written (closed,
    /// as by `| head -1`), a second Ctrl-C cut the sign-off short, or the poll failed.
    pub const LOCAL: u8 = 4;
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
  * $USER is not set; registering as guest (--name NAME chooses)   first, if so
  * registered as alice (available)    first line once the server accepts you
  * online: bob (away), carol (available)   everyone else online (also /who)
  * bob came online (available)   * bob is now away   * bob went offline
  * you are now away                   your own status change, confirmed by the server
  * signing off                        /quit; also '* end of input; signing off' and
                                       '* interrupted; signing off' (Ctrl-C)
  ! JOIN: not invited to conversation 9    an ERROR from the server, or a local mistake
  ! server shutting down               the server's notice before it closes (an ERROR)
  ! server closed the connection; reconnecting in 0.5 s   the server went away (or
                                       '! lost the connection to the server: ...'); the
                                       delay doubles on each failed try, up to 10 s
  [7] * conversation ended: the connection to the server was lost   one per conversation
  [9] * invitation dropped: the connection to the server was lost   one per invitation
  ! cannot connect to 127.0.0.1:6666: Connection refused (os error 111); retrying in 1 s
  * reconnected to 127.0.0.1:6666      then '* registered as ...' and '* online: ...' again,
                                       with the same name and the last status
  ! not sent: not connected to the server (reconnecting)   a line typed meanwhile
With --discover, first (before '* registered as ...'):
  * found lab at 127.0.0.1:40123 (2 users online)   the only server that answered
  * found 2 servers:                   several answered: a numbered list, then a prompt
    1. alpha at 127.0.0.1:40123 (2 users online)
    2. beta (0 users online): web page only (http://127.0.0.1:8080/), imclient needs a
       plain address                   listed, but cannot be picked
  * connect to which? (1-2)            answered by one line on stdin, the number
  ! no server answered on 239.255.66.66:6666 within 1 s (is one started with --announce?)
Control characters sent by others are shown escaped (\\n, \\u{1b}).

EXIT CODES:
  0  signed off: /quit, end of input or Ctrl-C, and the server closed the connection
  1  could not connect or register (the ERROR is shown), also when registering again
     after reconnecting (the name was taken meanwhile); with --discover, also when no
     server answered, or none was chosen (a bad answer or end of input at the prompt)
  2  usage error: a bad flag or argument (the message is on stderr)
  3  the connection to the server was lost and not re-established: --no-reconnect, or
     /quit, end of input or Ctrl-C while reconnecting
  4  ended locally before a clean sign-off: standard output closed or unwritable (said
     on stderr: 'imclient: standard output closed; signing off'), a second Ctrl-C, or a
     failed poll";
