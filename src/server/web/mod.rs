//! The web side (the `web` feature): the page's assets, embedded in the binary, and what
//! an HTTP request on the `--http` listener gets. Pure: the loop (`event_loop/web.rs`)
//! reads the bytes and queues the answers; nothing here touches a socket.
//!
//! An HTTP connection asks for one thing and is closed once it has it (`Connection:
//! close`): an asset, or the upgrade to a WebSocket, after which the same connection
//! carries protocol lines as text frames (see [`crate::websocket`]).

mod http;
#[cfg(test)]
mod tests;

pub use http::{read_request, Answer, Refusal, MAX_REQUEST_HEAD};

use crate::buffer::Line;

/// The default `--http` address: the page on this machine only, like `--listen`.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:6680";

/// Where the WebSocket is upgraded.
pub const WS_PATH: &str = "/ws";

/// What every response says about itself: no script but the page's own (no inline script,
/// no eval), nothing from elsewhere, no framing by other sites, and no guessing of types.
/// A message shown with `innerHTML` by mistake still could not run a script.
const SECURITY_HEADERS: &str = "Content-Security-Policy: default-src 'none'; script-src 'self'; \
style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'\r\n\
X-Content-Type-Options: nosniff\r\n\
Referrer-Policy: no-referrer\r\n\
Cache-Control: no-cache\r\n";

/// The page: every file of it in `web/` (not its tests), by path, with its type. Embedded at build time, so the
/// binary is the whole deployment: no build step, no CDN, no files to install.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_bytes!("../../../web/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/app.js"),
    ),
    (
        "/protocol.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/protocol.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../web/style.css"),
    ),
    (
        "/favicon.svg",
        "image/svg+xml",
        include_bytes!("../../../web/favicon.svg"),
    ),
];

/// The assets' responses, encoded once when the server starts and shared by every request
/// (a reference count each, like a broadcast line).
#[derive(Debug)]
pub struct Site {
    /// Per asset: the whole `GET` response, and the `HEAD` one (its headers).
    responses: Vec<(Line, Line)>,
    /// Origins other than the page's own allowed to open a WebSocket (`--allow-origin`).
    allow_origins: Vec<String>,
    /// The page's own scheme, which its origin carries: `https` when served over TLS.
    scheme: &'static str,
}

impl Site {
    /// The page, served over TLS or not (`tls`), and the other origins whose pages may open
    /// a WebSocket.
    pub fn new(allow_origins: &[String], tls: bool) -> Site {
        let responses = ASSETS
            .iter()
            .map(|(_, content_type, body)| {
                let head = head(200, &[("Content-Type", content_type)], body.len());
                let get = [head.as_bytes(), body].concat();
                (Line::from(get), Line::from(head.into_bytes()))
            })
            .collect();
        let allow_origins = allow_origins
            .iter()
            .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        Site {
            responses,
            allow_origins,
            scheme: if tls { "https" } else { "http" },
        }
    }

    /// The response for asset `index` (as [`Answer::Asset`] names it).
    pub fn asset(&self, index: usize, head_only: bool) -> Option<&Line> {
        let (get, head) = self.responses.get(index)?;
        Some(if head_only { head } else { get })
    }
}

/// The status line and headers of a response with a body of `len` bytes.
fn head(status: u16, extra: &[(&str, &str)], len: usize) -> String {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(SECURITY_HEADERS);
    head.push_str(&format!(
        "Content-Length: {len}\r\nConnection: close\r\n\r\n"
    ));
    head
}

/// A short plain-text response for a request that gets no asset.
pub fn refusal(refusal: Refusal) -> Line {
    let status = refusal.status();
    let body = format!("{status} {}\n", reason(status));
    let mut extra = vec![("Content-Type", "text/plain; charset=utf-8")];
    match refusal {
        Refusal::Method => extra.push(("Allow", "GET, HEAD")),
        Refusal::Version => extra.push(("Sec-WebSocket-Version", "13")),
        _ => {}
    }
    Line::from(
        [head(status, &extra, body.len()), body]
            .concat()
            .into_bytes(),
    )
}

/// The `101` that completes the upgrade: from here on the connection speaks WebSocket.
pub fn switching_protocols(accept: &str) -> Line {
    Line::from(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes(),
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}
