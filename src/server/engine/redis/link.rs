//! The node's connection to Redis: one more non-blocking socket of the loop, with its own
//! buffers and the loop's rules (read and write until `WouldBlock`, never block, wait for
//! an event otherwise). RESP3 is encoded and decoded by redis-protocol on these buffers,
//! sans-IO: the crate never sees the socket.
//!
//! The link knows nothing of the chat. It connects, carries commands out and frames in,
//! and says when it broke; the engine (`mod.rs`) decides what the frames mean and when to
//! connect again.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use redis_protocol::resp3::decode::complete::decode;
use redis_protocol::resp3::encode::complete::encode_borrowed;
use redis_protocol::resp3::types::{BorrowedFrame, OwnedFrame};

/// Bytes read from Redis per read call (a stack buffer, copied into the input).
const READ_CHUNK: usize = 64 * 1024;

/// Most bytes of Redis's answers held undecoded. One frame is never near this (the largest
/// is the list of online users a node reads once at start: about 50 bytes a user, so 64 MiB
/// is a million users); past it the link is broken and made again, rather than let a
/// runaway reply take the node's memory.
pub const MAX_INPUT: usize = 64 * 1024 * 1024;

/// Undecoded bytes past which the link is not read in a pass: frames are handled a budget
/// per pass, and a Redis that sends faster than a node handles them must not grow the
/// node's memory; TCP's flow control holds the rest in the kernels, and past its own
/// pub/sub output limit (`client-output-buffer-limit pubsub`, 32 MB by default) Redis
/// drops a node that far behind, which then signs its users out.
const READ_BACKLOG: usize = 1024 * 1024;

/// Most bytes of commands queued for Redis and not yet written. Commands are small (a name,
/// a status); a Redis that stops reading while the node keeps sending would otherwise grow
/// this without end. Past it the link is broken and made again.
pub const MAX_OUTPUT: usize = 64 * 1024 * 1024;

/// One connection to Redis, or none (between a failure and the next attempt).
#[derive(Debug)]
pub struct Link {
    addr: SocketAddr,
    socket: Option<TcpStream>,
    /// The connect finished (a writable event said so, and no error is pending).
    connected: bool,
    input: Vec<u8>,
    /// How much of `input` is decoded already.
    decoded: usize,
    output: Vec<u8>,
    /// An event came and the socket was not read to `WouldBlock` since.
    pub readable: bool,
    /// A write stopped at `WouldBlock`, or the connect is under way: a writable event
    /// will let the flush go on.
    write_blocked: bool,
}

impl Link {
    pub fn new(addr: SocketAddr) -> Link {
        Link {
            addr,
            socket: None,
            connected: false,
            input: Vec::new(),
            decoded: 0,
            output: Vec::new(),
            readable: false,
            write_blocked: false,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether a socket is open (connected or connecting).
    pub fn is_up(&self) -> bool {
        self.socket.is_some()
    }

    /// Starts connecting, without waiting: the socket is registered for both readiness
    /// kinds, once, and a writable event says when the connect is done.
    pub fn connect(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let mut socket = TcpStream::connect(self.addr)?;
        registry.register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)?;
        self.socket = Some(socket);
        self.connected = false;
        self.write_blocked = true;
        Ok(())
    }

    /// Drops the socket and everything in flight: what was sent and not answered is lost
    /// with it (the engine fails those requests).
    pub fn reset(&mut self, registry: &Registry) {
        if let Some(mut socket) = self.socket.take() {
            let _ = registry.deregister(&mut socket);
        }
        self.connected = false;
        self.input = Vec::new();
        self.decoded = 0;
        self.output = Vec::new();
        self.readable = false;
        self.write_blocked = false;
    }

    /// Queues one command, an array of bulk strings, encoded by redis-protocol.
    pub fn command(&mut self, args: &[&[u8]]) {
        let args: Vec<BorrowedFrame> = (args.iter())
            .map(|arg| BorrowedFrame::BlobString {
                data: arg,
                attributes: None,
            })
            .collect();
        let frame = BorrowedFrame::Array {
            data: &args,
            attributes: None,
        };
        let at = self.output.len();
        self.output.resize(at + frame.encode_len(false), 0);
        // The buffer was sized by the frame's own `encode_len`: encoding cannot run short.
        if encode_borrowed(&mut self.output[at..], &frame, false).is_err() {
            self.output.truncate(at);
        }
    }

    /// Whether the flush has something to do now: output queued on a socket that is not
    /// waiting for a writable event.
    pub fn wants_flush(&self) -> bool {
        self.socket.is_some() && !self.output.is_empty() && !self.write_blocked
    }

    /// Whether queued output is over [`MAX_OUTPUT`] (or input over [`MAX_INPUT`]).
    pub fn is_overfull(&self) -> bool {
        self.output.len() > MAX_OUTPUT || self.input.len() > MAX_INPUT
    }

    /// A writable event: the connect may have finished, and the flush may go on.
    pub fn on_writable(&mut self) -> io::Result<()> {
        self.write_blocked = false;
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        if !self.connected {
            // mio's rule for a non-blocking connect: a writable event, then no pending
            // error and a peer address, means connected.
            if let Some(e) = socket.take_error()? {
                return Err(e);
            }
            match socket.peer_addr() {
                Ok(_) => self.connected = true,
                Err(e) if e.kind() == ErrorKind::NotConnected => self.write_blocked = true,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes queued output until it is all written or the socket says `WouldBlock`.
    pub fn flush(&mut self) -> io::Result<()> {
        let Some(socket) = self.socket.as_mut().filter(|_| self.connected) else {
            return Ok(());
        };
        let mut written = 0;
        let result = loop {
            if written == self.output.len() {
                break Ok(());
            }
            match socket.write(&self.output[written..]) {
                Ok(0) => break Err(ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.write_blocked = true;
                    break Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.output.drain(..written);
        result
    }

    /// Reads until `WouldBlock`, unless [`READ_BACKLOG`] bytes are still to decode (the
    /// link then stays readable for a later pass). `Ok(false)`: Redis closed the
    /// connection.
    pub fn read(&mut self) -> io::Result<bool> {
        if self.input.len() - self.decoded >= READ_BACKLOG {
            return Ok(true);
        }
        self.readable = false;
        let Some(socket) = self.socket.as_mut() else {
            return Ok(true);
        };
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match socket.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.input.extend_from_slice(&chunk[..n]);
                    if self.input.len() > MAX_INPUT {
                        return Err(io::Error::other("Redis sent more than MAX_INPUT"));
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // Not connected yet: the writable event comes first.
                Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next complete frame read, if any. A frame redis-protocol cannot decode breaks
    /// the link: the stream cannot be resynchronised.
    pub fn next_frame(&mut self) -> io::Result<Option<OwnedFrame>> {
        match decode(&self.input[self.decoded..]) {
            Ok(Some((frame, used))) => {
                self.decoded += used;
                Ok(Some(frame))
            }
            Ok(None) => {
                // Everything complete is taken: keep only the unfinished frame.
                self.input.drain(..self.decoded);
                self.decoded = 0;
                Ok(None)
            }
            Err(e) => Err(io::Error::new(ErrorKind::InvalidData, e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests;
