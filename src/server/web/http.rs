//! One HTTP request, read by httparse from the connection's read buffer: which asset it
//! gets, or whether it may become a WebSocket. A pure function, like line framing.

use tungstenite::handshake::derive_accept_key;

use super::{Site, ASSETS, WS_PATH};

/// Bytes a request's head (its request line and headers) may take. Browsers send well
/// under 2 KiB to a page like this one; a client whose head grows past this without ending
/// is refused with 431 and closed, so a slow or endless header holds no more than this.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// Headers parsed at most; more is refused with 431, like a head too long.
const MAX_HEADERS: usize = 32;

/// What a complete request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An asset of the page (an index into the site's assets); `HEAD` gets its headers.
    Asset { index: usize, head_only: bool },
    /// A valid WebSocket upgrade: the `Sec-WebSocket-Accept` value to answer with.
    Upgrade { accept: String },
}

/// A request refused: the status it gets, then the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not HTTP, or an upgrade missing what RFC 6455 requires.
    BadRequest,
    /// A WebSocket from a page of another origin (cross-site WebSocket hijacking).
    Forbidden,
    NotFound,
    /// Only `GET` and `HEAD`.
    Method,
    /// `/ws` without an upgrade, or with a WebSocket version other than 13.
    Version,
    /// The head passed [`MAX_REQUEST_HEAD`] or [`MAX_HEADERS`].
    TooLarge,
    /// `--max-connections` are open.
    Full,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::BadRequest => 400,
            Refusal::Forbidden => 403,
            Refusal::NotFound => 404,
            Refusal::Method => 405,
            Refusal::Version => 426,
            Refusal::TooLarge => 431,
            Refusal::Full => 503,
        }
    }
}

/// Reads the request at the start of `buf`: `Ok(None)` until its head is complete; then
/// what it gets and how many bytes it used (bytes after it, a client's first frames, stay
/// for the WebSocket).
pub fn read_request(buf: &[u8], site: &Site) -> Result<Option<(Answer, usize)>, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let used = match request.parse(buf) {
        Ok(httparse::Status::Complete(used)) if used <= MAX_REQUEST_HEAD => used,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_REQUEST_HEAD => return Ok(None),
        Ok(_) | Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooLarge),
        Err(_) => return Err(Refusal::BadRequest),
    };
    let method = request.method.unwrap_or_default();
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Err(Refusal::Method),
    };
    // The query string names nothing here.
    let target = request.path.unwrap_or_default();
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if path == WS_PATH {
        return upgrade(&request, site).map(|answer| Some((answer, used)));
    }
    let index = ASSETS
        .iter()
        .position(|(at, _, _)| *at == path)
        .ok_or(Refusal::NotFound)?;
    Ok(Some((Answer::Asset { index, head_only }, used)))
}

/// The checks of RFC 6455 §4.2.1, and the origin: a browser always says which page opened
/// the socket, and only the server's own page (or one `--allow-origin` names) may. A
/// client that is no browser sends no `Origin`, and could send any, so it is let in.
fn upgrade(request: &httparse::Request, site: &Site) -> Result<Answer, Refusal> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if request.method != Some("GET") || !has_token("Upgrade", "websocket") {
        return Err(Refusal::Version);
    }
    if header("Sec-WebSocket-Version") != Some("13") {
        return Err(Refusal::Version);
    }
    let (Some(host), Some(key), true) = (
        header("Host"),
        header("Sec-WebSocket-Key"),
        has_token("Connection", "upgrade"),
    ) else {
        return Err(Refusal::BadRequest);
    };
    if let Some(origin) = header("Origin") {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        let own = format!("{}://{}", site.scheme, host.to_ascii_lowercase());
        if origin != own && !site.allow_origins.contains(&origin) {
            return Err(Refusal::Forbidden);
        }
    }
    Ok(Answer::Upgrade {
        accept: derive_accept_key(key.as_bytes()),
    })
}
