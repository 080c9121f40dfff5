//! What HTTP requests get: assets, the upgrade and its checks, and every refusal.

use super::*;

/// The sample handshake of RFC 6455 §1.3, from a page on `host`.
fn upgrade(origin: Option<&str>, extra: &str) -> String {
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    format!(
        "GET /ws HTTP/1.1\r\nHost: chat.local:6680\r\nUpgrade: websocket\r\n\
         Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{origin}{extra}\r\n"
    )
}

fn answer(request: &str) -> Result<Option<(Answer, usize)>, Refusal> {
    read_request(
        request.as_bytes(),
        &Site::new(&["https://Other.example/".into()], false),
    )
}

#[test]
fn each_asset_is_served_and_head_gets_only_its_headers() {
    let site = Site::new(&[], false);
    for (index, (path, content_type, body)) in ASSETS.iter().enumerate() {
        let request = format!("GET {path}?v=2 HTTP/1.1\r\nHost: x\r\n\r\n");
        let (got, used) = answer(&request).unwrap().unwrap();
        assert_eq!(
            got,
            Answer::Asset {
                index,
                head_only: false
            }
        );
        assert_eq!(used, request.len());
        let response = site.asset(index, false).unwrap();
        let text = String::from_utf8_lossy(response);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains(&format!("Content-Type: {content_type}\r\n")));
        assert!(text.contains("Content-Security-Policy: default-src 'none'; script-src 'self';"));
        assert!(text.contains("X-Content-Type-Options: nosniff\r\n"));
        assert!(response.ends_with(body), "the body follows the headers");
        let head = site.asset(index, true).unwrap();
        assert_eq!(head.len(), response.len() - body.len());
    }
    let (got, _) = answer("HEAD / HTTP/1.1\r\n\r\n").unwrap().unwrap();
    assert_eq!(
        got,
        Answer::Asset {
            index: 0,
            head_only: true
        }
    );
}

#[test]
fn a_request_is_read_only_once_its_head_is_complete() {
    let request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for cut in 0..request.len() {
        assert_eq!(answer(&request[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn refusals_have_their_statuses() {
    let long_header = format!(
        "GET / HTTP/1.1\r\nCookie: {}\r\n\r\n",
        "x".repeat(MAX_REQUEST_HEAD)
    );
    let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(40));
    let cases = [
        ("POST / HTTP/1.1\r\n\r\n".to_string(), Refusal::Method, 405),
        (
            "GET /etc/passwd HTTP/1.1\r\n\r\n".into(),
            Refusal::NotFound,
            404,
        ),
        (
            "GET /../web/app.js HTTP/1.1\r\n\r\n".into(),
            Refusal::NotFound,
            404,
        ),
        (
            "\x16\x03\x01 hello\r\n\r\n".into(),
            Refusal::BadRequest,
            400,
        ),
        (long_header, Refusal::TooLarge, 431),
        (many_headers, Refusal::TooLarge, 431),
        (
            "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            Refusal::Version,
            426,
        ),
        (
            upgrade(None, "").replace("Version: 13", "Version: 8"),
            Refusal::Version,
            426,
        ),
        (
            upgrade(None, "").replace("Sec-WebSocket-Key", "X"),
            Refusal::BadRequest,
            400,
        ),
        (
            upgrade(Some("http://evil.example"), ""),
            Refusal::Forbidden,
            403,
        ),
        (upgrade(Some("null"), ""), Refusal::Forbidden, 403),
    ];
    for (request, refusal, status) in cases {
        assert_eq!(answer(&request), Err(refusal), "{request:?}");
        assert_eq!(refusal.status(), status);
        let response = refusal_response(refusal);
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status} ")),
            "{response}"
        );
        assert!(response.contains("Connection: close\r\n"));
    }
    let not_allowed = refusal_response(Refusal::Method);
    assert!(
        not_allowed.contains("Allow: GET, HEAD\r\n"),
        "{not_allowed}"
    );
}

fn refusal_response(r: Refusal) -> String {
    String::from_utf8(refusal(r).to_vec()).unwrap()
}

#[test]
fn an_upgrade_from_the_page_itself_or_an_allowed_origin_or_no_browser_is_accepted() {
    // RFC 6455 §1.3's sample key and its answer.
    let accepted = Answer::Upgrade {
        accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(),
    };
    for origin in [
        None,
        Some("http://chat.local:6680"),
        Some("HTTP://Chat.Local:6680/"),
        Some("https://other.example"),
    ] {
        let request = upgrade(origin, "");
        let got = answer(&format!("{request}early frame bytes"))
            .unwrap()
            .unwrap();
        assert_eq!(got, (accepted.clone(), request.len()), "{origin:?}");
    }
    let response = String::from_utf8(switching_protocols("abc").to_vec()).unwrap();
    assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(response.contains("Sec-WebSocket-Accept: abc\r\n"));
}

#[test]
fn a_page_served_over_tls_has_an_https_origin_and_only_that_one_is_its_own() {
    let tls = Site::new(&[], true);
    let request = |origin| upgrade(Some(origin), "");
    let over_tls = read_request(request("https://chat.local:6680").as_bytes(), &tls);
    assert!(matches!(over_tls, Ok(Some((Answer::Upgrade { .. }, _)))));
    let plain_origin = read_request(request("http://chat.local:6680").as_bytes(), &tls);
    assert_eq!(plain_origin.unwrap_err(), Refusal::Forbidden);
}
