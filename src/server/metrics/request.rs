//! The request a connection to the metrics listener makes, and the response it gets: one
//! HTTP/1.1 request (parsed by httparse), one answer, then the connection closes.

use crate::buffer::Line;

/// Where the text is served; any other path gets 404.
pub const METRICS_PATH: &str = "/metrics";

/// What the text says it is (OpenMetrics 1.0's text format).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bytes a request's head may take. A scraper's is a few hundred bytes; one that grows past
/// this without ending gets 431 and is closed, so a slow or endless head holds no more.
pub const MAX_SCRAPE_HEAD: usize = 8 * 1024;

/// Headers parsed at most; more gets 431, like a head too long.
const MAX_HEADERS: usize = 32;

/// What a complete request on the metrics listener gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// `GET /metrics`: the text.
    Metrics,
    /// Anything else: this status, then the connection closes.
    Refuse(u16),
}

/// Reads the request at the start of `buf`: `None` until its head is complete; then what
/// it gets and how many bytes it used. A request that is not HTTP, or too large, gets its
/// status at once (all of `buf` used: the connection closes after it anyway).
pub fn read_request(buf: &[u8]) -> Option<(Ask, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let ask = match request.parse(buf) {
        Ok(httparse::Status::Complete(used)) if used <= MAX_SCRAPE_HEAD => {
            let path = request.path.unwrap_or_default();
            let path = path.split(['?', '#']).next().unwrap_or_default();
            return Some(match (request.method, path) {
                (Some("GET"), METRICS_PATH) => (Ask::Metrics, used),
                (Some("GET"), _) => (Ask::Refuse(404), used),
                _ => (Ask::Refuse(405), used),
            });
        }
        Ok(httparse::Status::Partial) if buf.len() <= MAX_SCRAPE_HEAD => return None,
        Ok(_) | Err(httparse::Error::TooManyHeaders) => Ask::Refuse(431),
        Err(_) => Ask::Refuse(400),
    };
    Some((ask, buf.len()))
}

/// The whole response: status line, headers, body; the connection closes after it.
pub fn response(status: u16, content_type: &str, body: &str) -> Line {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let allow = if status == 405 { "Allow: GET\r\n" } else { "" };
    let len = body.len();
    Line::from(
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{allow}\
             Cache-Control: no-store\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}"
        )
        .into_bytes(),
    )
}

/// A refusal's response: its status as plain text.
pub fn refusal(status: u16) -> Line {
    response(status, "text/plain; charset=utf-8", &format!("{status}\n"))
}
