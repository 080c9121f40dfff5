//! The keyboard and the screen as non-blocking sources in the same `mio::Poll` as the
//! server's socket: no thread waits on a blocking read of stdin.
//!
//! Two details matter here and are easy to get wrong:
//!
//! * **Re-arming.** mio re-arms its own sockets when a read or write says `WouldBlock`. A
//!   raw descriptor registered through [`SourceFd`] gets no such help: mio's `poll(2)`
//!   backend drops an interest once it has fired, so after draining stdin to `WouldBlock`
//!   the keyboard registers its interest again ([`Keyboard::read_some`]). On epoll this is
//!   one cheap extra call; on `poll(2)` without it, the second line typed would never be
//!   seen.
//! * **Shared flags.** In a terminal, stdin and stdout are usually the same open file, so
//!   making stdin non-blocking makes stdout non-blocking too. The screen therefore queues its
//!   lines and writes them until `WouldBlock` like any socket, and the keyboard puts the
//!   original flags back when it is dropped, so the shell is not left with a non-blocking
//!   terminal.

use std::fs::File;
use std::io::{self, ErrorKind, Read};
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

fn get_flags(fd: RawFd) -> io::Result<libc::c_int> {
    // SAFETY: fcntl(F_GETFL) on a descriptor we own; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(flags)
}

fn set_flags(fd: RawFd, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: fcntl(F_SETFL) on a descriptor we own; no memory is passed.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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

/// Standard input, non-blocking, in the poll.
#[derive(Debug)]
pub struct Keyboard {
    /// A duplicate of fd 0: same open file, so the same flags and the same bytes.
    file: File,
    original_flags: libc::c_int,
    token: Token,
    pollable: bool,
    /// Not yet read to `WouldBlock` since it was last reported readable.
    pub ready: bool,
    /// End of input seen.
    pub ended: bool,
    lines: InputLines,
}

impl Keyboard {
    /// Makes stdin non-blocking and registers it for readable events.
    pub fn open(registry: &Registry, token: Token) -> io::Result<Keyboard> {
        let file = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        let fd = file.as_raw_fd();
        let original_flags = get_flags(fd)?;
        set_flags(fd, original_flags | libc::O_NONBLOCK)?;
        let mut keyboard = Keyboard {
            file,
            original_flags,
            token,
            pollable: false,
            // Read once at the start: lines may be waiting already (a pipe written before
            // we started, or a file), and reading is how the poll gets armed.
            ready: true,
            ended: false,
            lines: InputLines::default(),
        };
        keyboard.pollable = register(registry, fd, token, Interest::READABLE)?;
        Ok(keyboard)
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
                        let _ = registry.deregister(&mut SourceFd(&self.file.as_raw_fd()));
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
                        let fd = self.file.as_raw_fd();
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

impl Drop for Keyboard {
    fn drop(&mut self) {
        let _ = set_flags(self.file.as_raw_fd(), self.original_flags);
    }
}

/// Standard output as a queue of lines written until `WouldBlock`.
#[derive(Debug)]
pub struct Screen {
    /// A duplicate of fd 1.
    file: File,
    out: Outbox,
    token: Token,
    /// `None` until the first `WouldBlock`; then whether the poll accepted stdout.
    pollable: Option<bool>,
}

impl Screen {
    pub fn open(token: Token) -> io::Result<Screen> {
        let file = File::from(io::stdout().as_fd().try_clone_to_owned()?);
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
        let fd = self.file.as_raw_fd();
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
