//! The page over HTTP from a real server: the assets with their security headers, and what
//! every other request gets.

#![cfg(feature = "web")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::{Server, PATIENCE};

/// Sends `request` and reads the whole response (the server closes after one).
fn fetch(http: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(http).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("the server closes after answering");
    String::from_utf8(response).unwrap()
}

fn get(http: SocketAddr, path: &str) -> String {
    fetch(
        http,
        format!("GET {path} HTTP/1.1\r\nHost: {http}\r\n\r\n").as_bytes(),
    )
}

#[test]
fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let server = Server::start(&[]);
    let http = server.http();
    for (path, file, content_type) in [
        ("/", "web/index.html", "text/html"),
        ("/app.js", "web/app.js", "text/javascript"),
        ("/protocol.js", "web/protocol.js", "text/javascript"),
        ("/style.css", "web/style.css", "text/css"),
        ("/favicon.svg", "web/favicon.svg", "image/svg+xml"),
    ] {
        let response = get(http, path);
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains(&format!("Content-Type: {content_type}")),
            "{head}"
        );
        assert!(head.contains("X-Content-Type-Options: nosniff"));
        let policy = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Security-Policy: "))
            .expect("a policy");
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
        assert!(
            !policy.contains("unsafe"),
            "no inline script or eval: {policy}"
        );
        let embedded = std::fs::read_to_string(file).unwrap();
        assert_eq!(body, embedded, "{path} is {file}, as built");
    }
}

#[test]
fn only_get_and_head_of_the_assets_are_answered() {
    let server = Server::start(&[]);
    let http = server.http();
    let head = fetch(http, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"));
    assert!(get(http, "/secret").starts_with("HTTP/1.1 404 "));
    assert!(get(http, "/../Cargo.toml").starts_with("HTTP/1.1 404 "));
    let post = fetch(
        http,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(post.starts_with("HTTP/1.1 405 ") && post.contains("Allow: GET, HEAD"));
    assert!(
        get(http, "/ws").starts_with("HTTP/1.1 426 "),
        "no upgrade asked"
    );
    assert!(
        fetch(http, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n").starts_with("HTTP/1.1 400 ")
    );
}

#[test]
fn a_head_over_the_cap_is_refused_and_a_stalled_one_is_closed() {
    let server = Server::start(&["--line-timeout-ms", "100"]);
    let http = server.http();
    let huge = format!(
        "GET / HTTP/1.1\r\nCookie: {}\r\n\r\n",
        "c".repeat(16 * 1024)
    );
    assert!(fetch(http, huge.as_bytes()).starts_with("HTTP/1.1 431 "));
    // Half a request, then nothing: closed at its deadline, with no answer.
    assert_eq!(fetch(http, b"GET / HTTP/1.1\r\nHost"), "");
}

#[test]
fn a_full_server_says_so_in_http() {
    let server = Server::start(&["--max-connections", "1"]);
    let _only = server.user("only");
    // Answered at once, before any request: read without sending one.
    assert!(fetch(server.http(), b"").starts_with("HTTP/1.1 503 "));
}

#[test]
fn the_page_can_be_turned_off() {
    let server = Server::start(&["--http", "off"]);
    assert!(server.http.is_none());
    assert!(!server.logs().contains("web page at"));
}

#[test]
fn a_busy_page_address_stops_the_start_naming_it() {
    let server = Server::start(&[]);
    let taken = server.http().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imserver"))
        .args(["--listen", "127.0.0.1:0", "--http", &taken])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {taken}")),
        "{stderr}"
    );
}
