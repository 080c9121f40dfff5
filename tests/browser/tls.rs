//! The page over TLS (`imserver --tls-cert --tls-key`): served at `https://`, its socket
//! `wss://` on the same port, in a real Chromium that checks the certificate; a person on
//! the page and a plain line client (`--listen-plain`) chat both ways. A page of another
//! origin may not open the server's socket, even over wss.

use std::net::SocketAddr;

use serde_json::json;

use crate::common::tls::Certs;
use crate::common::{Client, Server, TempFile};
use crate::driver::Browser;
use crate::harness::serve;
use crate::page::Page;
use crate::PRESENCE_MS;

const PASSWORD: &str = "wss-otter-7f3a";

/// A Chromium that trusts the key of `certs`, and no other self-signed one.
///
/// `--ignore-certificate-errors-spki-list` names the certificates a browser accepts without
/// a trusted issuer by the SHA-256 of their public key; every other check still applies
/// (the name `localhost` must be in the certificate, a wrong key still fails). It is given
/// to this test's browser only: `--ignore-certificate-errors` would accept any certificate
/// at all, and a system-wide trust store would outlive the run.
fn browser_trusting(certs: &Certs, label: &str) -> Browser {
    Browser::start_with(
        label,
        &[format!(
            "--ignore-certificate-errors-spki-list={}",
            certs.spki_sha256
        )],
    )
}

/// A server speaking TLS on its line port and its page's port, with a password, and a
/// plain line port beside them; returns it with that plain address.
fn tls_server(certs: &Certs) -> (Server, SocketAddr) {
    let file = TempFile::write("browser-tls-password", &format!("{PASSWORD}\n"));
    let tls = certs.server_flags();
    let mut flags: Vec<&str> = tls.iter().map(String::as_str).collect();
    let path = file.path().to_str().unwrap();
    flags.extend(["--password-file", path]);
    flags.extend(["--listen-plain", "127.0.0.1:0"]);
    flags.extend(["--presence-interval-ms", PRESENCE_MS]);
    let server = Server::start(&flags);
    let line = server.wait_log("without TLS (--listen-plain)");
    let plain = server
        .listening_addrs()
        .into_iter()
        .find(|addr| line.contains(&addr.to_string()))
        .expect("the plain listener's address");
    (server, plain)
}

/// Opens a WebSocket to `url` from the current page and waits until it either opens or
/// closes; returns `"open"`, or `"closed <code>"`.
fn try_socket(browser: &Browser, url: &str) -> String {
    browser.js(
        "window.tried = undefined;
         const ws = new WebSocket(arguments[0]);
         ws.onopen = () => { window.tried = 'open'; ws.close(); };
         ws.onclose = (e) => { if (!window.tried) window.tried = 'closed ' + e.code; };",
        vec![json!(url)],
    );
    let outcome = browser.wait_for(
        &format!("a WebSocket to {url} to open or close"),
        "return window.tried;",
        vec![],
    );
    outcome.as_str().expect("a string").to_string()
}

#[test]
fn the_page_over_https_chats_over_wss_with_a_plain_line_client() {
    let certs = Certs::localhost();
    let (server, plain) = tls_server(&certs);
    let port = server.http().port();
    // By name, so that the browser checks the certificate's name as well as its key.
    let url = format!("https://localhost:{port}/");

    let mut page = Page {
        browser: browser_trusting(&certs, "alice"),
        name: String::new(),
    };
    page.browser.goto(&url);
    page.wait_state("signed-out");
    page.browser.fill("#password", PASSWORD);
    page.sign_in("alice", None);
    page.wait_state("connected");
    // The page's socket goes to its own host and port (web/app.js), which speak TLS only:
    // connected from an https page means a wss socket through the certificate.
    let location = page
        .browser
        .js("return [location.protocol, location.host];", vec![]);
    assert_eq!(location, json!(["https:", format!("localhost:{port}")]));

    let mut bob = Client::connect(plain);
    bob.send(&format!(
        "REGISTER [\"bob\",null,{{\"password\":\"{PASSWORD}\"}}]"
    ));
    let online = bob.expect("ONLINE_USERS ");
    assert!(
        online.contains("\"alice\""),
        "alice is not online: {online}"
    );
    page.wait_user("bob", "available");

    let id = page.invite(&["bob"]);
    bob.recv_until("alice's invitation", |l| {
        l == format!("INVITATION [{id},\"alice\"]")
    });
    bob.send(&format!("JOIN [{id}]"));
    page.wait_members(&id, &["alice", "bob"]);
    page.say(&id, "over wss");
    bob.recv_until("alice's message", |l| {
        l == format!("MESSAGE [{id},\"alice\",\"over wss\"]")
    });
    bob.send(&format!("SEND_MESSAGE [{id},\"over plain lines\"]"));
    page.wait_message(&id, "bob", "over plain lines");
}

#[test]
fn a_page_of_another_origin_may_not_open_the_socket_over_wss() {
    let certs = Certs::localhost();
    let (server, _) = tls_server(&certs);
    let ws = format!("wss://localhost:{}/ws", server.http().port());
    let browser = browser_trusting(&certs, "elsewhere");
    // From the server's own page the socket opens: the browser trusts the certificate, so
    // the refusal below is the origin's, not the certificate's.
    browser.goto(&format!("https://localhost:{}/", server.http().port()));
    assert_eq!(try_socket(&browser, &ws), "open");
    // A page served from another port (another origin): its upgrade is refused with 403,
    // which a browser reports as a close without an open (1006).
    browser.goto(&serve("<!doctype html><title>elsewhere</title>"));
    assert_eq!(try_socket(&browser, &ws), "closed 1006");
}
