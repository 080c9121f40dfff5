//! imchat: an instant-messaging server on one thread and one `mio::Poll` loop, with the
//! client and load generator that speak its protocol.
//!
//! # Layout
//!
//! | module | what it is |
//! |---|---|
//! | [`addr`] | `host:port` flags, names resolved once at start |
//! | [`framing`] | cutting a byte stream into lines: a pure function, no I/O |
//! | [`buffer`] | per-connection read buffer and outbox |
//! | [`line`] | one encoded line, shared by every outbox it is queued on, and the bytes all live lines hold |
//! | [`names`] | which names are accepted and when two are one user (RFC 8265 PRECIS, full case folding) |
//! | [`protocol`] | the messages of both directions and their JSON shapes |
//! | [`wheel`] | a hashed timer wheel in virtual time |
//! | [`cli`] | the examples' command lines: clap, with the usage after any error |
//! | [`client`] | one non-blocking client connection, for the client, the load generator and the examples |
//! | [`discovery`] | finding a server on the LAN: the ANNOUNCE and REQUEST datagrams, the multicast socket |
//! | [`chat_client`] | `imclient`'s screen state, commands, terminal I/O and loop |
//! | [`server`] | the server: event loop, chat state, dispatch table, handlers, presence |
//! | [`tls`] | TLS over a non-blocking socket, rustls driven sans-IO (the `tls` feature) |
//! | [`stream`] | a socket, plain TCP or TLS over it: what the server's and the client's connections hold |
//! | [`load`] | the load generator behind `imload`: simulated im, Redis and IRC clients on one loop |
//!
//! The binaries are `imserver` (the server), `imclient` (a terminal chat client) and
//! `imload` (a load generator). The wire contract is `docs/protocol.md`; the loop, step by
//! step, is `docs/architecture.md`.

pub mod addr;
pub mod buffer;
pub mod chat_client;
pub mod cli;
pub mod client;
pub mod discovery;
pub mod framing;
pub mod line;
pub mod load;
pub mod names;
pub mod password;
pub mod protocol;
pub mod server;
pub mod stream;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "web")]
pub mod websocket;
pub mod wheel;

mod xorshift;
