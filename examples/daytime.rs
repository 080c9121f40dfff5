//! A non-blocking daytime server (RFC 867): every client gets one line with the time, and
//! the server closes the connection once that line is written.
//!
//! The smallest server with a write path: it writes as soon as it accepts, and only a
//! client whose line did not fit (`WouldBlock`) waits, registered for writable events, for
//! the rest. Nothing is ever read, so no client can make the server hold anything but its
//! one line.
//!
//! ```text
//! cargo run --example daytime                  # listens on 127.0.0.1:7013
//! cargo run --example daytime -- 127.0.0.1:0   # any free port; the line printed says which
//! nc 127.0.0.1 7013
//! ```
//!
//! `--help` prints the usage and exits 0; an address that does not resolve prints one line
//! and the usage on standard error and exits 2.

use std::io::{self, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

/// The listener's token; clients use their slab keys, which never reach this.
const LISTENER: Token = Token(usize::MAX);

/// A client still owed part of its line.
struct Client {
    socket: TcpStream,
    line: Vec<u8>,
    written: usize,
}

/// A non-blocking daytime server (RFC 867): one line with the time, then close.
#[derive(Debug, Parser)]
#[command(name = "daytime")]
struct Args {
    /// Address to listen on, host:port (port 0: any free port).
    #[arg(default_value = "127.0.0.1:7013", value_parser = imchat::addr::resolve)]
    addr: SocketAddr,
}

fn main() -> ExitCode {
    let args = imchat::cli::parse_or_usage::<Args>();
    match serve_forever(args.addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("daytime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve_forever(addr: SocketAddr) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("daytime: listening on {}", listener.local_addr()?);

    let mut waiting: Slab<Client> = Slab::new();
    let mut events = Events::with_capacity(256);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(&poll, &listener, &mut waiting)?;
                continue;
            }
            let key = event.token().0;
            let Some(client) = waiting.get_mut(key) else {
                continue;
            };
            if write_rest(client) != Progress::Blocked {
                let mut client = waiting.remove(key);
                let _ = poll.registry().deregister(&mut client.socket);
                let _ = client.socket.shutdown(Shutdown::Write);
            }
        }
    }
}

/// Accepts until `WouldBlock`, answering each client at once.
fn accept_all(poll: &Poll, listener: &TcpListener, waiting: &mut Slab<Client>) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((socket, peer)) => {
                println!("daytime: {peer}");
                let mut client = Client {
                    socket,
                    line: now_line().into_bytes(),
                    written: 0,
                };
                if write_rest(&mut client) == Progress::Blocked {
                    // The kernel took part of the line: wait, writable, for room for the rest.
                    let entry = waiting.vacant_entry();
                    poll.registry().register(
                        &mut client.socket,
                        Token(entry.key()),
                        Interest::WRITABLE,
                    )?;
                    entry.insert(client);
                } else {
                    // Written (or failed): close our end; dropping the socket closes it.
                    let _ = client.socket.shutdown(Shutdown::Write);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // One failed accept is not the end of the server.
            Err(e) => {
                eprintln!("daytime: accept failed: {e}");
                return Ok(());
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Done,
    Blocked,
    Failed,
}

/// Writes the rest of the line until done or `WouldBlock`.
fn write_rest(client: &mut Client) -> Progress {
    while client.written < client.line.len() {
        match client.socket.write(&client.line[client.written..]) {
            Ok(0) => return Progress::Failed,
            Ok(n) => client.written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Progress::Blocked,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Progress::Failed,
        }
    }
    Progress::Done
}

/// The time now in UTC, as `2026-11-25 03:26:31 UTC\r\n` (RFC 867 leaves the format free).
fn now_line() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC\r\n")
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`, so the
/// example needs no date crate.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
