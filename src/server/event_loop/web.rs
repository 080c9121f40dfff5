//! The web transports in the loop (the `web` feature): what an HTTP request or a WebSocket
//! frame that is not a protocol line makes the loop do. Like a handler, this only queues
//! output (raw entries in the connection's wire form) and decides closes; the flush writes.

use log::debug;

use crate::buffer::{Line, Wire};
use crate::server::web::{self, Answer};
use crate::websocket::{self, code, Incoming, Reader};

use super::transport::{Transport, Unit};
use super::{Outboxes, Reason, Server};

/// A WebSocket connection's state beside its read buffer.
#[derive(Debug, Default)]
pub(super) struct WsConn {
    pub(super) reader: Reader,
    /// The status code its close frame will carry, when something decided one (a
    /// violation, or the client's own close); otherwise the reason for closing decides.
    pub(super) close_code: Option<u16>,
}

/// A unit the loop acts on, owned: it no longer borrows the connection's buffer.
#[derive(Debug)]
pub(super) enum Event {
    Request(Answer),
    Pong(Line),
    NotOneLine,
    Close(u16),
    Nothing,
}

impl Event {
    pub(super) fn of(unit: Unit<'_>) -> Event {
        match unit {
            Unit::Line(_) => Event::Nothing,
            Unit::Request(answer) => Event::Request(answer),
            Unit::Frame(Incoming::Ping(payload)) => Event::Pong(websocket::pong(payload).into()),
            Unit::Frame(Incoming::NotOneLine) => Event::NotOneLine,
            Unit::Frame(Incoming::Close(code)) => Event::Close(code),
            Unit::Frame(Incoming::Line(_) | Incoming::Fragment | Incoming::Pong) => Event::Nothing,
            #[cfg(feature = "metrics")]
            Unit::Scrape(_) => Event::Nothing,
        }
    }
}

impl Server {
    /// Acts on one web unit of connection `key`.
    pub(super) fn on_web(&mut self, key: usize, event: Event) {
        match event {
            Event::Request(Answer::Asset { index, head_only }) => {
                if let Some(response) = self.site.asset(index, head_only) {
                    self.out.send_raw(key, response);
                }
                self.close(key, Reason::Served);
            }
            Event::Request(Answer::Upgrade { accept }) => {
                self.out.send_raw(key, &web::switching_protocols(&accept));
                self.out.set_wire(key, Wire::WebSocket);
                if let Some(conn) = self.conns.get_mut(key) {
                    conn.transport = Transport::WebSocket(Box::default());
                }
                debug!("conn {key}: upgraded to WebSocket");
            }
            Event::Pong(pong) => self.out.send_raw(key, &pong),
            Event::NotOneLine => self.out.send_error(
                key,
                "a WebSocket message carries one line, and this one holds a newline",
            ),
            Event::Close(status) => {
                // The close handshake: answer with the same code (none given: normal).
                let answer = if status == 1005 { code::NORMAL } else { status };
                self.set_close_code(key, answer);
                self.close(key, Reason::Closed);
            }
            Event::Nothing => {}
        }
    }

    /// Sets the code of the close frame `key` will be sent, if it is a WebSocket and none
    /// was decided before (the first decision wins, like the first reason to close).
    pub(super) fn set_close_code(&mut self, key: usize, status: u16) {
        if let Some(Transport::WebSocket(ws)) = self.conns.get_mut(key).map(|c| &mut c.transport) {
            ws.close_code.get_or_insert(status);
        }
    }
}

/// A closing connection's last words in its own transport, after its last line: a
/// WebSocket gets its close frame.
pub(super) fn last_words(transport: &Transport, out: &mut Outboxes, key: usize, reason: Reason) {
    let Transport::WebSocket(ws) = transport else {
        return;
    };
    let status = ws.close_code.unwrap_or(match reason {
        Reason::Shutdown | Reason::EngineLost => code::GOING_AWAY,
        Reason::Timeout | Reason::LineTimeout | Reason::WrongPasswords => code::POLICY,
        _ => code::NORMAL,
    });
    out.send_raw(key, &websocket::close(status).into());
}
