//! The page that imserver serves (web/), tested in a real browser: headless Chromium driven
//! through chromedriver (WebDriver), against real `imserver` processes, beside real
//! `imclient`s. `scripts/test.sh` installs Chromium and chromedriver when they are missing;
//! without them every test here fails, saying so.

#![cfg(feature = "web")]

mod access;
mod chat;
#[path = "../common/mod.rs"]
mod common;
mod driver;
mod harness;
mod invitations;
mod page;
mod password;
mod restart;
mod safety;
mod screenshot;
#[cfg(feature = "tls")]
mod tls;

use common::Server;

/// Presence changes reach others within this interval: short, so that a test waiting for a
/// user to be listed does not wait the default second.
const PRESENCE_MS: &str = "20";

/// A real imserver on free ports, its page served on one of them.
fn server() -> Server {
    Server::start(&["--presence-interval-ms", PRESENCE_MS])
}

/// A real imserver on these addresses (a restart where the last one was).
fn server_at(listen: &str, http: &str) -> Server {
    Server::start_at(
        listen,
        &[],
        &["--http", http, "--presence-interval-ms", PRESENCE_MS],
    )
}
