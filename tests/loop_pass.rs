//! Black-box regression tests for what one pass of the event loop owes: work it queues is
//! written before the loop sleeps, and no connection gets more than its line budget in one
//! pass. Each test drives a real server into the exact state where a defect of the loop
//! showed, and fails at the harness's deadline (or on the trace) if the defect is back.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;

use common::{Server, PATIENCE};
use imchat::server::MAX_FRAMES_PER_WAKE;

/// Lines the slow reader sends in its flood: fewer than the server's per-pass line budget
/// ([`MAX_FRAMES_PER_WAKE`], 64), so the flooder can never be
/// left in the loop's backlog, the list of connections served again at once.
const FLOOD_LINES: usize = 60;

/// The most a kernel lets a socket's send buffer grow to (`tcp_wmem`'s maximum; Linux's
/// default when it cannot be read). What the server's socket and the peer's small receive
/// buffer take together is bounded by about this much.
fn max_send_buffer() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

/// A connection that registers as `name` with a 4 KiB receive buffer (set before connecting,
/// so the window it advertises stays small), and the reader for its first few lines.
fn small_window_user(addr: SocketAddr, name: &str) -> (TcpStream, BufReader<TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).expect("connect");
    let mut stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    writeln!(stream, "REGISTER [\"{name}\"]").unwrap();
    read_until(&mut reader, "ONLINE_USERS ");
    (stream, reader)
}

/// Reads lines from a raw stream until one starts with `prefix`.
fn read_until(reader: &mut BufReader<TcpStream>, prefix: &str) {
    let mut line = String::new();
    while !line.starts_with(prefix) {
        line.clear();
        let n = reader.read_line(&mut line).expect("a line in time");
        assert!(n > 0, "closed while waiting for {prefix:?}");
    }
}

/// Guards: a connection dropped as a slow reader is retired *and* what its retirement
/// queues (the other members' `CONVERSATIONS`, the presence change) is written or scheduled
/// before the loop sleeps. The loop before the redesign (commit 1ea2182) drops the reader inside its flush, retires it after
/// the flush and after presence scheduling, and then sleeps with alice's line queued and no
/// presence timer set: she hears nothing until some unrelated event wakes the loop.
///
/// Why nothing else can wake the loop here, so the defect cannot hide: alice only reads,
/// and her output is tiny, so her socket is never registered for writable events; nobody
/// connects; no signal is sent; the line rate is off, so no throttled connection waits for
/// a timer; carol's line deadline (her long lines arrive in pieces) is 30 s away, past the
/// test's patience, and goes with her; every registration deadline was cancelled when it
/// was met;
/// the presence broadcast for the two registrations has fired (alice saw it) and nothing
/// changed since; a slow reader is closed without lingering, so it sets no timer and is
/// deregistered and closed in the very pass that drops it (more bytes from carol reach a
/// closed socket, which no poll reports); and carol sends fewer lines than the per-pass
/// budget, so she is never in the backlog that makes the next poll return at once. (The
/// backlog is why flooding with thousands of short requests is no test: she is then
/// almost always dropped in a pass that used her whole budget, and the backlog's extra
/// pass writes alice's line.) Her few lines are long messages to a conversation of her
/// own, together well past what the kernel buffers on her connection can hold.
#[test]
fn a_dropped_slow_readers_departure_is_sent_before_the_loop_sleeps() {
    let wmem = max_send_buffer();
    let text = "x".repeat(((2 * wmem + (1 << 20)) / FLOOD_LINES).max(64 * 1024));
    let max_line = (text.len() + 64).to_string();
    let server = Server::start(&[
        "--max-output",
        "16384",
        "--presence-interval-ms",
        "50",
        "--max-line",
        &max_line,
        "--max-line-rate",
        "off",
    ]);
    let mut alice = server.user("alice");
    let (mut carol, mut carol_reader) = small_window_user(server.addr, "carol");
    alice.send("INVITE [\"carol\"]");
    read_until(&mut carol_reader, "INVITATION [1,");
    carol.write_all(b"JOIN [1]\nINVITE []\n").unwrap();
    // Conversation 2 is carol's alone: her flood reaches no one else.
    read_until(&mut carol_reader, "INVITATION [2,\"carol\"]");
    drop(carol_reader);

    // Alice settles: she is told of carol's membership and of her coming online, which
    // is the last presence broadcast due (after it, no presence timer is set).
    let (mut joined, mut online) = (false, false);
    while !(joined && online) {
        let line = alice.recv();
        joined |= line == "CONVERSATIONS {\"1\":[\"alice\",\"carol\"]}";
        online |= line.starts_with("ONLINE_USERS ") && line.contains("\"carol\"");
    }

    // Carol floods and never reads again. The server reads her lines all the same and
    // queues their echoes; a write after it dropped her fails, which ends the flood. Her
    // socket stays open until the end: closing it with unread input would reset it, and
    // the server might see her go away before it got to drop her.
    let flood = format!("SEND_MESSAGE [2,\"{text}\"]\n");
    let writer = std::thread::spawn(move || {
        for _ in 0..FLOOD_LINES {
            if carol.write_all(flood.as_bytes()).is_err() {
                break;
            }
        }
        carol
    });
    server.wait_log("disconnect carol (conn 1): slow reader dropped");

    // The loop before the redesign (commit 1ea2182) sleeps right after the drop: the first
    // `recv` below fails at the harness's deadline ("no line from the server in time"), and
    // the assert says why.
    let heard = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let (mut left, mut offline) = (false, false);
        while !(left && offline) {
            let line = alice.recv();
            match line.as_str() {
                "CONVERSATIONS {\"1\":[\"alice\"]}" => left = true,
                "ONLINE_USERS {\"alice\":\"available\"}" => offline = true,
                _ => panic!("alice got {line:?} while waiting for carol's departure"),
            }
        }
    }));
    assert!(
        heard.is_ok(),
        "alice was not told that the dropped slow reader left (her CONVERSATIONS and \
         ONLINE_USERS): the loop slept with them queued or unscheduled"
    );
    drop(writer.join().unwrap());
}

/// Guards: one pass dispatches at most `MAX_FRAMES_PER_WAKE` lines per connection, however
/// it became ready. The loop before the redesign (commit 1ea2182) starts each pass's ready list with the backlog (those
/// that used their budget) and appends the connections the poll reports readable, so a
/// flooder that is both is served twice, is put in the backlog twice, and its share of a
/// pass grows with every readable event while it floods: everyone else waits longer.
///
/// Checked on the teaching trace (`--trace`): every pass starts with `poll returned N
/// events` and every dispatched line logs `conn K: dispatch CMD`. On the code before the redesign this
/// fails reliably with mio's default epoll backend, where every arrival of more bytes is
/// a new readable event. Under mio's poll(2) backend (`RUSTFLAGS="--cfg
/// mio_unsupported_force_poll_poll"`) it passes even on the code before the redesign: that backend
/// reports a socket again only after a read on it said `WouldBlock`, which a connection
/// left in the backlog has not done, so the duplicate never arises there.
#[test]
fn no_connection_is_served_more_than_its_budget_in_one_pass() {
    // The budget, not the line rate, is what is tested: the flood must come at once.
    let server = Server::start(&["--trace", "--max-line-rate", "off"]);
    let mut flooder = server.user("flooder");
    flooder.send("INVITE []");
    flooder.recv_until("its conversation", |l| l == "INVITATION [1,\"flooder\"]");

    // Its echoes are read meanwhile, so it is never a slow reader.
    let mut writer = flooder.sender();
    let reader = std::thread::spawn(move || {
        while flooder.recv_skipping_presence() != "MESSAGE [1,\"flooder\",\"end\"]" {}
        flooder
    });
    // 30,000 lines in 4 writes: the socket's readable events keep coming while the server
    // works through the backlog 64 lines at a time.
    let batch = "SEND_MESSAGE [1,\"x\"]\n".repeat(7_500);
    for _ in 0..4 {
        writer.send(batch.trim_end());
    }
    writer.send("SEND_MESSAGE [1,\"end\"]");
    let flooder = reader.join().unwrap();
    // Its disconnect is logged after every line it sent was dispatched: the trace is whole.
    drop((writer, flooder));
    server.wait_log("disconnect flooder (conn 0)");

    let logs = server.logs();
    let mut passes: Vec<(&str, BTreeMap<usize, usize>)> = Vec::new();
    for line in logs.lines() {
        if line.contains("poll returned ") {
            passes.push((line, BTreeMap::new()));
        } else if let (Some(conn), Some((_, counts))) = (dispatcher(line), passes.last_mut()) {
            *counts.entry(conn).or_default() += 1;
        }
    }
    let dispatched: usize = passes.iter().flat_map(|(_, c)| c.values()).sum();
    assert!(dispatched > 30_000, "only {dispatched} dispatches traced");
    // The pass in which one connection had the most lines dispatched.
    let (index, (poll, counts), (conn, most)) = passes
        .iter()
        .enumerate()
        .map(|(i, pass)| {
            let top = pass.1.iter().max_by_key(|(_, n)| **n);
            (i, pass, top.map_or((0, 0), |(k, n)| (*k, *n)))
        })
        .max_by_key(|(_, _, (_, most))| *most)
        .unwrap();
    assert!(
        most <= MAX_FRAMES_PER_WAKE,
        "conn {conn} had {most} lines dispatched in one pass, more than MAX_FRAMES_PER_WAKE \
         ({MAX_FRAMES_PER_WAKE}); the worst pass, {index} of {}, began {poll:?} and \
         dispatched (conn: lines) {counts:?}",
        passes.len()
    );
}

/// The connection of a `conn K: dispatch CMD` trace line.
fn dispatcher(line: &str) -> Option<usize> {
    let (head, _) = line.split_once(": dispatch ")?;
    head.rsplit("conn ").next()?.parse().ok()
}
