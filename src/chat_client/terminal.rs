//! The keyboard and the screen as sources in the same `mio::Poll` as the server's socket,
//! without ever making them non-blocking: no thread waits on a blocking read of stdin, and
//! no read or write of the terminal waits either.
//!
//! Three details matter here and are easy to get wrong:
//!
//! * **Shared flags.** In a terminal, stdin and stdout are one open file description, shared
//!   with the shell. `O_NONBLOCK` lives on that description, so setting it would leave the
//!   shell with a non-blocking terminal after a crash or `kill -9`, and the shell clears it
//!   when a job stopped with Ctrl-Z is resumed with `fg` (bash does), after which a client
//!   that relied on it blocks in `read` and freezes. So the descriptors keep whatever mode
//!   they have, and every read or write first asks `poll(2)`, with a zero timeout, whether it
//!   can proceed now ([`Polite`]).
//! * **How much.** A blocking read returns as soon as *anything* is there (a pipe's bytes, a
//!   terminal's line), whatever the buffer's size, so "readable now" is the whole question;
//!   it also covers end of input (readable, and the read returns 0), which a byte count such
//!   as `FIONREAD` cannot tell from "nothing yet". A blocking write, by contrast, waits
//!   until all of it is taken, so each write is at most [`SCREEN_WRITE_MAX`] bytes: a (Linux)
//!   pipe that polls writable has room for that much, so it never waits. A terminal may have
//!   less room; the worst case is one write of at most 4 KiB waiting for the terminal to
//!   take it (Ctrl-S pressed in the instant between the check and the write holds the loop
//!   until Ctrl-Q).
//! * **Re-arming.** mio re-arms its own sockets when a read or write says `WouldBlock`. A
//!   raw descriptor registered through [`SourceFd`] gets no such help: mio's `poll(2)`
//!   backend drops an interest once it has fired, so once stdin is not readable any more
//!   the keyboard registers its interest again ([`Keyboard::read_some`]). On epoll this is
//!   one cheap extra call; on `poll(2)` without it, the second line typed would never be
//!   seen. [`Polite`] says `WouldBlock` exactly where a non-blocking descriptor would, so
//!   this logic is the same as for a socket.

use std::fs::File;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::buffer::{Line, Outbox};

/// Longest typed line kept, in bytes: the request cap, since a typed line only grows on its
/// way to a request (a command word, JSON quoting), so anything longer could not be sent
/// anyway. Without a bound a newline-less stream on stdin would grow the buffer forever.
pub const MAX_INPUT_LINE: usize = super::MAX_REQUEST_BYTES;

/// Bytes asked of one read of stdin.
const INPUT_CHUNK: usize = 4096;

/// Most bytes handed to one write of stdout: `PIPE_BUF` (4096 on Linux). A Linux pipe
/// reports writable only with a free page, room for at least this much, so a blocking write
/// of this size after the check returns at once; a larger one could wait for the reader.
pub const SCREEN_WRITE_MAX: usize = libc::PIPE_BUF;

/// One typed line, or why a line was dropped.
pub type Typed = Result<String, &'static str>;

/// Splits typed bytes into lines: pure, so it is tested without a terminal.
#[derive(Debug, Default)]
pub struct InputLines {
    pending: Vec<u8>,
    /// Inside a line that was too long: drop bytes until its newline.
    discarding: bool,
}

impl InputLines {
    /// Adds bytes and appends every line they complete to `lines`.
    pub fn push(&mut self, mut bytes: &[u8], lines: &mut Vec<Typed>) {
        while let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
            if self.discarding {
                self.discarding = false;
            } else {
                self.pending.extend_from_slice(&bytes[..newline]);
                lines.push(self.take());
            }
            bytes = &bytes[newline + 1..];
        }
        if self.discarding {
            return;
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() > MAX_INPUT_LINE {
            self.pending = Vec::new();
            self.discarding = true;
            lines.push(Err("input line too long; dropped"));
        }
    }

    /// End of input: a last line without a newline still counts.
    pub fn finish(&mut self, lines: &mut Vec<Typed>) {
        if !self.pending.is_empty() && !self.discarding {
            lines.push(self.take());
        }
    }

    fn take(&mut self) -> Typed {
        let bytes = std::mem::take(&mut self.pending);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(&bytes);
        String::from_utf8(bytes.to_vec()).map_err(|_| "input line is not UTF-8; dropped")
    }
}

/// Whether `fd` can be read (`POLLIN`) or written (`POLLOUT`) right now: `poll(2)` with a
/// zero timeout. A hang-up or an error counts as ready, since the read or write then
/// returns at once (end of input, `EPIPE`). Regular files always poll ready, and never block.
fn ready_now(fd: RawFd, events: libc::c_short) -> io::Result<bool> {
    let mut pollfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, count 1, zero timeout: the kernel only writes `revents`.
        if unsafe { libc::poll(&mut pollfd, 1, 0) } >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e);
        }
    }
    if pollfd.revents & libc::POLLNVAL != 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(pollfd.revents != 0)
}

/// A blocking descriptor that behaves like a non-blocking one: each read or write first
/// checks that it can proceed now ([`ready_now`]) and says `WouldBlock` if not, and a write
/// takes at most [`SCREEN_WRITE_MAX`] bytes. The descriptor's flags are never touched.
#[derive(Debug)]
pub struct Polite(File);

impl Polite {
    fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    fn check(&self, events: libc::c_short) -> io::Result<()> {
        if ready_now(self.fd(), events)? {
            Ok(())
        } else {
            Err(ErrorKind::WouldBlock.into())
        }
    }
}

impl Read for Polite {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check(libc::POLLIN)?;
        self.0.read(buf)
    }
}

impl Write for Polite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check(libc::POLLOUT)?;
        self.0.write(&buf[..buf.len().min(SCREEN_WRITE_MAX)])
    }

    /// Several lines in one `writev`, together at most [`SCREEN_WRITE_MAX`] bytes.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.check(libc::POLLOUT)?;
        let mut room = SCREEN_WRITE_MAX;
        let mut capped: Vec<IoSlice<'_>> = Vec::with_capacity(bufs.len());
        for buf in bufs {
            if room == 0 {
                break;
            }
            let take = buf.len().min(room);
            capped.push(IoSlice::new(&buf[..take]));
            room -= take;
        }
        self.0.write_vectored(&capped)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Registers `fd`, or says it cannot be polled: epoll refuses regular files and `/dev/null`
/// (`EPERM`), which never block, so they are simply read or written whenever needed.
fn register(registry: &Registry, fd: RawFd, token: Token, interest: Interest) -> io::Result<bool> {
    match registry.register(&mut SourceFd(&fd), token, interest) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Ok(false),
        Err(e) => Err(e),
    }
}

/// Standard input, in the poll, read only when a read returns at once.
#[derive(Debug)]
pub struct Keyboard {
    /// A duplicate of fd 0: same open file, so the same bytes.
    file: Polite,
    token: Token,
    pollable: bool,
    /// Not yet read to `WouldBlock` since it was last reported readable.
    pub ready: bool,
    /// End of input seen.
    pub ended: bool,
    lines: InputLines,
}

impl Keyboard {
    /// Registers stdin for readable events, leaving its flags as they are.
    pub fn open(registry: &Registry, token: Token) -> io::Result<Keyboard> {
        let file = Polite(File::from(io::stdin().as_fd().try_clone_to_owned()?));
        Ok(Keyboard {
            pollable: register(registry, file.fd(), token, Interest::READABLE)?,
            file,
            token,
            // Read once at the start: lines may be waiting already (a pipe written before
            // we started, or a file), and reading is how the poll gets armed.
            ready: true,
            ended: false,
            lines: InputLines::default(),
        })
    }

    /// Does one read and appends the lines it completes. Clears [`Keyboard::ready`] on
    /// `WouldBlock` (re-arming the poll) and at end of input.
    pub fn read_some(&mut self, registry: &Registry, lines: &mut Vec<Typed>) -> io::Result<()> {
        let mut chunk = [0u8; INPUT_CHUNK];
        loop {
            match self.file.read(&mut chunk) {
                Ok(0) => {
                    self.lines.finish(lines);
                    self.ended = true;
                    self.ready = false;
                    if self.pollable {
                        // Already gone on poll(2) after a hang-up: not an error.
                        let _ = registry.deregister(&mut SourceFd(&self.file.fd()));
                    }
                    return Ok(());
                }
                Ok(n) => {
                    self.lines.push(&chunk[..n], lines);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.ready = false;
                    if self.pollable {
                        let fd = self.file.fd();
                        registry.reregister(&mut SourceFd(&fd), self.token, Interest::READABLE)?;
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Standard output as a queue of lines, written while stdout can take them.
#[derive(Debug)]
pub struct Screen {
    /// A duplicate of fd 1.
    file: Polite,
    out: Outbox,
    token: Token,
    /// `None` until the first `WouldBlock`; then whether the poll accepted stdout.
    pollable: Option<bool>,
}

impl Screen {
    pub fn open(token: Token) -> io::Result<Screen> {
        let file = Polite(File::from(io::stdout().as_fd().try_clone_to_owned()?));
        Ok(Screen {
            file,
            out: Outbox::new(),
            token,
            pollable: None,
        })
    }

    /// Queues one line (the newline is added).
    pub fn print(&mut self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.out.push(Line::from(bytes));
    }

    /// Bytes queued and not yet on the screen.
    pub fn queued(&self) -> usize {
        self.out.queued()
    }

    /// Writes until the queue is empty (`Ok(true)`) or `WouldBlock` (`Ok(false)`; a writable
    /// event will come).
    pub fn flush(&mut self, registry: &Registry) -> io::Result<bool> {
        if self.out.flush_to(&mut self.file)?.blocked {
            self.arm(registry)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Asks for one writable event: registered the first time, re-armed after that (the
    /// same re-arming the keyboard needs on `poll(2)`).
    fn arm(&mut self, registry: &Registry) -> io::Result<()> {
        let fd = self.file.fd();
        match self.pollable {
            None => self.pollable = Some(register(registry, fd, self.token, Interest::WRITABLE)?),
            Some(true) => {
                registry.reregister(&mut SourceFd(&fd), self.token, Interest::WRITABLE)?
            }
            Some(false) => {}
        }
        Ok(())
    }
}
