//! The doctor: a bot on the IM server that accepts every invitation and answers like the
//! course's "doctor" therapist (a tiny ELIZA), built on the project's client library.
//!
//! It shows what a program needs to speak the protocol with [`imchat::client::Connection`]:
//! register the socket in a `mio::Poll`, queue requests with `send`, `flush` before
//! sleeping, and `receive` (which reads until `WouldBlock`) on every readable event. It
//! registers with presence mode `none`, because a bot has no use for who is online.
//!
//! ```text
//! cargo run --bin imserver &
//! cargo run --example doctor                      # or: -- --server ADDR --name NAME [--tls [--ca FILE]]
//! cargo run --bin imclient -- --name alice        # then: /invite doctor
//! ```
//!
//! Ctrl-C (or SIGTERM) sends `GOODBYE` and exits once the server has closed. Whenever it
//! exits otherwise, one line on standard error says why, and the exit code tells a script:
//!
//! | code | why |
//! |---|---|
//! | 0 | signed off after Ctrl-C or SIGTERM |
//! | 1 | could not connect (`doctor: cannot connect to ...`) or register (`doctor: the server refused: ...`) |
//! | 2 | a bad command line (the usage follows the message; `--help` prints it and exits 0) |
//! | 3 | the server went away: `doctor: the server closed the connection`, or `doctor: lost the server: ...` when the connection broke |

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use imchat::cli::{Server, TlsArgs};
use imchat::client::Connection;
use imchat::protocol::{ConvId, PresenceMode, Reply, Request, DEFAULT_ADDR};
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

const SERVER: Token = Token(0);
const SIGNALS: Token = Token(1);

/// After `GOODBYE`, how long the server may take to close before the doctor leaves anyway.
const GOODBYE_WAIT: Duration = Duration::from_secs(3);

/// Exit code: could not connect or register.
const EXIT_REFUSED: u8 = 1;
// Exit code 2: a bad command line (clap's convention, kept).
/// Exit code: the server closed the connection, or it broke, while the doctor was on.
const EXIT_SERVER_GONE: u8 = 3;

/// A therapist bot for the IM server.
#[derive(Debug, Parser)]
#[command(name = "doctor")]
struct Args {
    /// Server address, host:port.
    #[arg(long, default_value = DEFAULT_ADDR, value_parser = Server::parse)]
    server: Server,
    /// Name to register.
    #[arg(long, default_value = "doctor")]
    name: String,
    #[command(flatten)]
    tls: TlsArgs,
}

fn main() -> ExitCode {
    let args = imchat::cli::parse_or_usage::<Args>();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("doctor: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a failed read or write of the server's socket means: before the registration was
/// answered, there was no server to talk to; after it, the server went away.
fn lost(args: &Args, registered: bool, e: &std::io::Error) -> ExitCode {
    if registered {
        eprintln!("doctor: lost the server: {e}");
        ExitCode::from(EXIT_SERVER_GONE)
    } else {
        eprintln!("doctor: cannot connect to {}: {e}", args.server.addr);
        ExitCode::from(EXIT_REFUSED)
    }
}

fn run(args: &Args) -> std::io::Result<ExitCode> {
    let mut poll = Poll::new()?;
    let tls = (args.tls.client_tls(&args.server.typed)).map_err(std::io::Error::other)?;
    let mut conn = match Connection::connect(args.server.addr, tls.as_ref()) {
        Ok(conn) => conn,
        Err(e) => return Ok(lost(args, false, &e)),
    };
    poll.registry().register(
        conn.socket(),
        SERVER,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    conn.send(&Request::Register {
        name: args.name.clone(),
        status: Some("listening".into()),
        presence: Some(PresenceMode::None),
        password: None,
    });

    let mut doctor = Doctor::default();
    let mut joined: BTreeSet<ConvId> = BTreeSet::new();
    let mut registered = false;
    let mut leaving: Option<Instant> = None;
    let mut events = Events::with_capacity(16);
    loop {
        if let Err(e) = conn.flush() {
            return Ok(lost(args, registered, &e));
        }
        let timeout = leaving.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            return Ok(ExitCode::SUCCESS);
        }
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut readable = false;
        for event in events.iter() {
            if event.token() == SERVER {
                readable |= event.is_readable() || event.is_read_closed() || event.is_error();
            }
            if event.token() == SIGNALS && signals.pending().count() > 0 && leaving.is_none() {
                println!("doctor: signing off");
                conn.send(&Request::Goodbye);
                leaving = Some(Instant::now() + GOODBYE_WAIT);
            }
        }
        // Only a readable event is a reason to read: a writable one is the flush's, at the
        // top. (On mio's poll(2) backend a read to `WouldBlock` re-arms writable interest,
        // which an idle socket fires at once: reading on every wake would spin.)
        if !readable {
            continue;
        }
        let received = match conn.receive() {
            Ok(received) => received,
            Err(e) => return Ok(lost(args, registered, &e)),
        };
        for reply in received.replies {
            match reply {
                Ok(Reply::OnlineUsers(_)) if !registered => {
                    registered = true;
                    println!("doctor: registered as {}", args.name);
                }
                Ok(Reply::Error(text)) if !registered => {
                    eprintln!("doctor: the server refused: {text}");
                    return Ok(ExitCode::from(EXIT_REFUSED));
                }
                Ok(Reply::Invitation { conv, from }) if from != args.name => {
                    conn.send(&Request::Join(conv));
                }
                Ok(Reply::Conversations(map)) => {
                    for &conv in map.keys().filter(|conv| !joined.contains(conv)) {
                        conn.send(&Request::SendMessage(conv, doctor.greeting()));
                    }
                    joined = map.into_keys().collect();
                }
                Ok(Reply::Message { conv, from, text }) if from != args.name => {
                    conn.send(&Request::SendMessage(conv, doctor.reply(&text)));
                }
                Ok(Reply::Error(text)) => eprintln!("doctor: server says: {text}"),
                Ok(_) => {}
                Err(bad) => eprintln!("doctor: {bad}"),
            }
        }
        if received.closed {
            if leaving.is_some() {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("doctor: the server closed the connection");
            return Ok(ExitCode::from(EXIT_SERVER_GONE));
        }
    }
}

/// The therapist: reflects what the patient says back as a question, and sometimes just
/// nods. Deterministic (it takes turns instead of rolling dice), so tests can read it.
#[derive(Debug, Default)]
struct Doctor {
    turn: usize,
}

const HEDGES: &[&str] = &[
    "Please tell me more.",
    "Many of my patients tell me the same thing.",
    "Please continue.",
];

const QUALIFIERS: &[&str] = &[
    "Why do you say that ",
    "You seem to think that ",
    "Can you explain why ",
];

/// First and second person swapped, as the patient's words are reflected back.
const SWAPS: &[(&str, &str)] = &[
    ("i", "you"),
    ("me", "you"),
    ("my", "your"),
    ("mine", "yours"),
    ("am", "are"),
    ("we", "you"),
    ("us", "you"),
    ("you", "I"),
    ("your", "my"),
];

impl Doctor {
    fn greeting(&self) -> String {
        "Good day. I am the doctor. What can I do for you today?".to_string()
    }

    fn reply(&mut self, text: &str) -> String {
        self.turn += 1;
        // Reflect the last sentence only: "Hello. I am sad." becomes "...you are sad?".
        let sentence = text
            .split(['.', '!', '?'])
            .rfind(|s| !s.trim().is_empty())
            .unwrap_or("");
        let words: Vec<&str> = sentence.split_whitespace().collect();
        // Every third answer is a hedge, so the doctor does not only echo.
        if words.is_empty() || self.turn.is_multiple_of(3) {
            return HEDGES[self.turn / 3 % HEDGES.len()].to_string();
        }
        let reflected: Vec<String> = words
            .iter()
            .map(|word| {
                let bare = word.trim_end_matches([',', ';', ':']);
                let lower = bare.to_lowercase();
                SWAPS
                    .iter()
                    .find(|(from, _)| *from == lower)
                    .map_or_else(|| bare.to_string(), |(_, to)| to.to_string())
            })
            .collect();
        format!(
            "{}{}?",
            QUALIFIERS[self.turn % QUALIFIERS.len()],
            reflected.join(" ")
        )
    }
}
