//! What a connection's input is cut into: protocol lines on TCP; with the `web` feature, an
//! HTTP request, then WebSocket frames. Each transport is one more kind of connection in
//! the same slab, with the same read buffer, limits, deadlines and outbox; only the cutting
//! differs, and it is pure (`framing.rs`, `web/http.rs`, `websocket.rs`).
//!
//! Whatever the transport, a protocol line reaches the dispatcher as a `&str`: the handlers
//! never know how it came.

use std::fmt;

use crate::buffer::{ReadBuf, Wire};
use crate::framing::FrameError;
#[cfg(feature = "web")]
use crate::server::web::{self, Site};
#[cfg(feature = "web")]
use crate::websocket::{Incoming, WsError};

#[cfg(feature = "web")]
use super::web::WsConn;

/// How a connection's input is framed.
#[derive(Debug)]
pub(super) enum Transport {
    /// `\n`-terminated lines: the TCP protocol.
    Lines,
    /// Waiting for its HTTP request.
    #[cfg(feature = "web")]
    Http,
    /// Upgraded: frames, and the fragments of an unfinished message. Boxed: most
    /// connections are plain, and this keeps every connection's slot small.
    #[cfg(feature = "web")]
    WebSocket(Box<WsConn>),
    /// On the metrics listener: waiting for its one request (`metrics.rs`).
    #[cfg(feature = "metrics")]
    Metrics,
}

impl Transport {
    /// A new connection from a listener whose connections start in this wire form.
    pub(super) fn starting(wire: Wire) -> Transport {
        match wire {
            Wire::Lines => Transport::Lines,
            #[cfg(feature = "web")]
            Wire::Http => Transport::Http,
            #[cfg(feature = "web")]
            Wire::WebSocket => Transport::WebSocket(Box::default()),
            #[cfg(feature = "metrics")]
            Wire::Metrics => Transport::Metrics,
        }
    }

    /// Whether this is a connection to the metrics listener, whose traffic is not counted
    /// as the chat's (`stats.rs`).
    pub(super) fn is_scrape(&self) -> bool {
        #[cfg(feature = "metrics")]
        if let Transport::Metrics = self {
            return true;
        }
        false
    }

    /// Whether `input` holds a complete unit (or a violation: work too), looked at without
    /// changing it: for the tests' check that the loop never sleeps on work.
    #[cfg(test)]
    pub(super) fn has_complete_unit(&self, input: &[u8], max_line: usize) -> bool {
        match self {
            Transport::Lines => !matches!(crate::framing::next_line(input, max_line), Ok(None)),
            #[cfg(feature = "web")]
            Transport::Http => {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let partial = httparse::Request::new(&mut headers).parse(input);
                !matches!(partial, Ok(httparse::Status::Partial))
                    || input.len() > web::MAX_REQUEST_HEAD
            }
            #[cfg(feature = "web")]
            Transport::WebSocket(_) => {
                use tungstenite::protocol::frame::FrameHeader;
                let mut cursor = std::io::Cursor::new(input);
                match FrameHeader::parse(&mut cursor) {
                    Ok(Some((_, len))) => {
                        cursor.position() + len <= input.len() as u64 || len > max_line as u64 + 2
                    }
                    Ok(None) => false,
                    Err(_) => true,
                }
            }
            #[cfg(feature = "metrics")]
            Transport::Metrics => crate::server::metrics::read_request(input).is_some(),
        }
    }

    /// Whether part of a unit is held outside the read buffer (a fragmented message).
    pub(super) fn has_partial(&self) -> bool {
        match self {
            #[cfg(feature = "web")]
            Transport::WebSocket(ws) => ws.reader.has_partial(),
            _ => false,
        }
    }
}

/// One unit of input.
#[derive(Debug)]
pub(super) enum Unit<'a> {
    /// A protocol line, for the dispatcher.
    Line(&'a str),
    /// A complete HTTP request, and what it gets.
    #[cfg(feature = "web")]
    Request(web::Answer),
    /// A WebSocket frame that is not a whole line (a fragment, a control frame, a message
    /// that is not one line).
    #[cfg(feature = "web")]
    Frame(Incoming<'a>),
    /// A complete request on the metrics listener, and what it gets.
    #[cfg(feature = "metrics")]
    Scrape(crate::server::metrics::Ask),
}

impl Unit<'_> {
    /// Bytes it counts for the pass's byte budget.
    pub(super) fn len(&self) -> usize {
        match self {
            Unit::Line(line) => line.len(),
            #[cfg(feature = "web")]
            Unit::Request(_) => 0,
            #[cfg(feature = "web")]
            Unit::Frame(Incoming::Ping(payload)) => payload.len(),
            #[cfg(feature = "web")]
            Unit::Frame(_) => 0,
            #[cfg(feature = "metrics")]
            Unit::Scrape(_) => 0,
        }
    }
}

/// Input that breaks its transport's framing: the connection is closed (after it is told
/// why, in its transport's way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Violation {
    Line(FrameError),
    #[cfg(feature = "web")]
    Http(web::Refusal),
    #[cfg(feature = "web")]
    WebSocket(WsError),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Line(e) => e.fmt(f),
            #[cfg(feature = "web")]
            Violation::Http(refusal) => write!(f, "HTTP request refused ({})", refusal.status()),
            #[cfg(feature = "web")]
            Violation::WebSocket(e) => e.fmt(f),
        }
    }
}

/// Cuts the next unit from `input`, by `transport`'s framing. `Ok(None)`: none is complete.
pub(super) fn next_unit<'a>(
    transport: &'a mut Transport,
    input: &'a mut ReadBuf,
    max_line: usize,
    #[cfg(feature = "web")] site: &Site,
) -> Result<Option<Unit<'a>>, Violation> {
    match transport {
        Transport::Lines => input
            .next_line(max_line)
            .map(|line| line.map(Unit::Line))
            .map_err(Violation::Line),
        #[cfg(feature = "web")]
        Transport::Http => input
            .next_with(|bytes| web::read_request(bytes, site))
            .map(|answer| answer.map(Unit::Request))
            .map_err(Violation::Http),
        #[cfg(feature = "web")]
        Transport::WebSocket(ws) => input
            .next_with(|bytes| ws.reader.next(bytes, max_line))
            .map(|frame| {
                frame.map(|frame| match frame {
                    Incoming::Line(line) => Unit::Line(line),
                    other => Unit::Frame(other),
                })
            })
            .map_err(Violation::WebSocket),
        #[cfg(feature = "metrics")]
        Transport::Metrics => input
            .next_with(|bytes| Ok(crate::server::metrics::read_request(bytes)))
            .map(|ask| ask.map(Unit::Scrape)),
    }
}
