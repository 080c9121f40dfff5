//! The driver itself, on a page that needs no imserver: proves that Chromium starts, loads a
//! page from loopback, runs its script and answers DOM questions.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use serde_json::json;

use crate::driver::Browser;

/// Serves `html` to every request on a loopback port, from a thread; returns the URL (a
/// page of an origin of its own).
pub fn serve(html: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    url
}

#[test]
fn chromium_loads_a_page_types_and_clicks() {
    let url = serve(
        "<!doctype html><form id=f><input id=i><button>go</button></form><ol id=out></ol>\
         <script>document.getElementById('f').onsubmit = e => { e.preventDefault(); \
         const li = document.createElement('li'); \
         li.textContent = document.getElementById('i').value; \
         document.getElementById('out').append(li); };</script>",
    );
    let browser = Browser::start("harness");
    browser.goto(&url);
    browser.fill("#i", "typed <b>here</b>");
    browser.press_enter("#i");
    let text = browser.wait_for(
        "the submitted line",
        "const li = document.querySelector('#out li'); return li && li.textContent;",
        vec![],
    );
    assert_eq!(text, json!("typed <b>here</b>"));
    browser.click("button");
    browser.wait_for(
        "a second line",
        "return document.querySelectorAll('#out li').length == 2;",
        vec![],
    );
    assert_eq!(browser.open_alert(), None);
}
