//! A non-blocking echo server: the seed-003 homework, in the style of `imserver`.
//!
//! One thread and one `mio::Poll` serve every client. Each client has an outbox of bytes
//! read but not yet echoed. The loop follows three rules, the same as the IM server's:
//!
//! 1. **Drain until `WouldBlock`.** mio's events are edge-triggered: "readable" is said once.
//!    Accept, read and write go on until the kernel says `WouldBlock`, or no new event comes.
//! 2. **Ask for writable only when blocked.** A socket is almost always writable, so
//!    interest in writing would wake the loop for nothing. Only when a write says
//!    `WouldBlock` does the client register for writable events, and it drops that interest
//!    once its outbox is empty.
//! 3. **Bound what you hold.** A client that sends but never reads its echo would grow its
//!    outbox forever; past [`MAX_PENDING`] bytes it is disconnected.
//!
//! Run it, then talk to it:
//!
//! ```text
//! cargo run --example echo                  # listens on 127.0.0.1:7007
//! cargo run --example echo -- 127.0.0.1:0   # any free port; the line printed says which
//! cargo run --example echo -- localhost:7007 # a host name works too
//! nc 127.0.0.1 7007
//! ```
//!
//! `--help` prints the usage and exits 0; an address that does not resolve prints one line
//! and the usage on standard error and exits 2.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

/// The listener's token; clients use their slab keys, which never reach this.
const LISTENER: Token = Token(usize::MAX);

/// Bytes read but not yet echoed that one client may hold; beyond this it is dropped.
const MAX_PENDING: usize = 1024 * 1024;

/// One client: its socket and the bytes waiting to go back.
struct Client {
    socket: TcpStream,
    outbox: Vec<u8>,
    /// Registered for writable events (only while the outbox is stuck).
    wants_write: bool,
    /// The client has finished sending; close once its echo is written.
    done_reading: bool,
}

/// A non-blocking echo server: every byte a client sends comes back.
#[derive(Debug, Parser)]
#[command(name = "echo")]
struct Args {
    /// Address to listen on, host:port (port 0: any free port).
    #[arg(default_value = "127.0.0.1:7007", value_parser = imchat::addr::resolve)]
    addr: SocketAddr,
}

fn main() -> std::process::ExitCode {
    let args = imchat::cli::parse_or_usage::<Args>();
    match serve_forever(args.addr) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve_forever(addr: SocketAddr) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("echo: listening on {}", listener.local_addr()?);

    let mut clients: Slab<Client> = Slab::new();
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
                accept_all(&poll, &listener, &mut clients)?;
                continue;
            }
            let key = event.token().0;
            let Some(client) = clients.get_mut(key) else {
                continue;
            };
            // Read (if readable) and then write: what was just read can often be echoed
            // at once, with no writable event needed.
            let keep = serve(
                &poll,
                key,
                client,
                event.is_readable() || event.is_read_closed(),
            );
            if !keep {
                let mut client = clients.remove(key);
                let _ = poll.registry().deregister(&mut client.socket);
            }
        }
    }
}

/// Accepts every waiting connection, until `WouldBlock`.
fn accept_all(poll: &Poll, listener: &TcpListener, clients: &mut Slab<Client>) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((mut socket, peer)) => {
                let entry = clients.vacant_entry();
                poll.registry()
                    .register(&mut socket, Token(entry.key()), Interest::READABLE)?;
                println!("echo: client {} from {peer}", entry.key());
                entry.insert(Client {
                    socket,
                    outbox: Vec::new(),
                    wants_write: false,
                    done_reading: false,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // One failed accept (the peer gave up already, or out of descriptors) is not
            // the end of the server.
            Err(e) => {
                eprintln!("echo: accept failed: {e}");
                return Ok(());
            }
        }
    }
}

/// Reads what arrived and writes what it can. Returns whether to keep the client.
fn serve(poll: &Poll, key: usize, client: &mut Client, readable: bool) -> bool {
    if readable && !client.done_reading && !read_all(client) {
        return false;
    }
    if !write_all(client) {
        return false;
    }
    if client.outbox.is_empty() && client.done_reading {
        println!("echo: client {key} done");
        return false;
    }
    // Writable interest exactly while the outbox is stuck (rule 2).
    let stuck = !client.outbox.is_empty();
    if stuck != client.wants_write {
        let interest = if stuck {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if poll
            .registry()
            .reregister(&mut client.socket, Token(key), interest)
            .is_err()
        {
            return false;
        }
        client.wants_write = stuck;
    }
    true
}

/// Reads until `WouldBlock` or end of stream. `false`: drop the client.
fn read_all(client: &mut Client) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        match client.socket.read(&mut chunk) {
            Ok(0) => {
                client.done_reading = true;
                return true;
            }
            Ok(n) => {
                client.outbox.extend_from_slice(&chunk[..n]);
                if client.outbox.len() > MAX_PENDING {
                    eprintln!("echo: a client does not read its echo; dropping it");
                    return false;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Writes the outbox until it is empty or `WouldBlock`. `false`: drop the client.
fn write_all(client: &mut Client) -> bool {
    while !client.outbox.is_empty() {
        match client.socket.write(&client.outbox) {
            Ok(0) => return false,
            Ok(n) => {
                client.outbox.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
