//! Scenarios behind the exchanges of docs/protocol.md. Unless a scenario is about presence,
//! its server runs with a presence interval of an hour: no broadcast can then come between
//! the lines shown, and every answer shown is the immediate one.

use crate::common::Server;
use crate::render::Transcript;
use crate::Scenario;

pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("framing", framing),
    ("register", register),
    ("names", names),
    ("presence", presence),
    ("conversations", conversations),
    ("conversations changes", conversations_changes),
    ("limits", limits),
    #[cfg(feature = "web")]
    ("websocket", websocket),
    ("discovery", discovery),
];

/// No presence broadcast within a test's lifetime.
const QUIET: &[&str] = &["--presence-interval-ms", "3600000"];

fn framing() -> Vec<(&'static str, String)> {
    let server = Server::start(QUIET);
    let mut t = Transcript::default();
    let mut alice = server.client();
    t.send(&mut alice, r#"REGISTER ["alice"]"#).recv(&mut alice);
    alice.send_raw(b"SEND_MESSAGE [1,\"\xff\"]\n");
    t.aside_shown(r#"> SEND_MESSAGE [1,"�"]"#, "(bytes that are not UTF-8)");
    t.recv(&mut alice);
    assert!(alice.expect_closed().is_empty());
    t.aside("connection closed");
    vec![("protocol-framing", t.render())]
}

#[cfg(feature = "web")]
fn websocket() -> Vec<(&'static str, String)> {
    use crate::common::ws::{Got, WsClient};
    let server = Server::start(QUIET);
    let mut t = Transcript::default();
    let mut web = WsClient::connect(server.http());
    t.aside("upgraded: GET /ws, 101 Switching Protocols");
    t.send_frame(&mut web, r#"REGISTER ["web"]"#)
        .note("(one text frame each)")
        .recv_frame(&mut web);
    t.send_frame(&mut web, "GOODBYE\nGOODBYE")
        .recv_frame(&mut web);
    web.send_raw(&[
        0x82,
        0x84,
        1,
        2,
        3,
        4,
        b'L' ^ 1,
        b'I' ^ 2,
        b'S' ^ 3,
        b'T' ^ 4,
    ]);
    t.aside_shown("> LIST", "(a binary frame)");
    t.recv_frame(&mut web);
    let Got::Close(code) = web.next() else {
        panic!("no close frame");
    };
    t.aside(&format!("close frame {code}; connection closed"));
    vec![("protocol-websocket", t.render())]
}

fn register() -> Vec<(&'static str, String)> {
    let server = Server::start(QUIET);
    let _alice = server.user("alice");
    let mut t = Transcript::default();
    let mut bob = server.client();
    t.send(&mut bob, "LIST_CONVERSATIONS").recv(&mut bob);
    t.send(&mut bob, r#"REGISTER ["bob","at lunch"]"#)
        .recv(&mut bob);
    t.send(&mut bob, r#"REGISTER ["bob2"]"#).recv(&mut bob);
    let mut taken = Transcript::default();
    let mut other = server.client();
    taken
        .send(&mut other, r#"REGISTER ["BOB"]"#)
        .recv(&mut other);
    vec![
        ("protocol-register", t.render()),
        ("protocol-name-taken", taken.render()),
    ]
}

fn names() -> Vec<(&'static str, String)> {
    let server = Server::start(QUIET);
    let mut t = Transcript::default();
    let mut strasse = server.client();
    t.send(
        &mut strasse,
        r#"REGISTER ["straße","here",{"presence":"none"}]"#,
    )
    .recv(&mut strasse);
    let mut others = Vec::new();
    for name in ["Zoë", "σοφος", "李小龍"] {
        let mut user = server.client();
        user.send(&format!(
            r#"REGISTER ["{name}","here",{{"presence":"none"}}]"#
        ));
        user.expect("ONLINE_USERS ");
        others.push(user);
    }
    t.aside("Zoë, σοφος and 李小龍 register the same way; then, on one more connection:");
    let mut bad = server.client();
    for name in [
        r"ali\u202Ece",
        r"a\u200Db",
        r"\uFEFFbob",
        r"bob\uFFFF",
        r"\u200C",
        r"bob\u2605",
        r"a\u0378",
        "two words",
        "",
    ] {
        t.send(&mut bad, &format!(r#"REGISTER ["{name}"]"#))
            .recv(&mut bad);
    }
    t.aside("four more connections, one name each:");
    for name in ["STRASSE", "ＺＯË", r"Zoe\u0308", "ΣΟΦΟΣ"] {
        let mut user = server.client();
        t.send(&mut user, &format!(r#"REGISTER ["{name}"]"#))
            .recv(&mut user);
    }
    t.aside("alice, on one more connection:");
    let mut alice = server.client();
    t.send(&mut alice, r#"REGISTER ["alice"]"#).recv(&mut alice);
    t.send(&mut alice, r#"INVITE ["STRASSE","nobody"]"#)
        .recv(&mut alice);
    strasse.expect(r#"INVITATION [1,"alice"]"#);
    t.note("(straße receives it too)").recv(&mut alice);
    vec![("protocol-names", t.render())]
}

/// Presence: a broadcast interval of 300 ms, and every wait is for an exact line, so no
/// broadcast can come early or late into what is shown.
fn presence() -> Vec<(&'static str, String)> {
    let server = Server::start(&["--presence-interval-ms", "300"]);
    let mut alice = server.user("alice");
    let mut bob = server.user("bob");
    // However the two arrivals fell into intervals, bob hears the last broadcast of them.
    bob.expect_line(r#"ONLINE_USERS {"alice":"available","bob":"available"}"#);
    let mut status = Transcript::default();
    status.send(&mut bob, r#"STATUS ["away"]"#);
    status.aside("within one interval, every user in full mode receives");
    status.recv_exactly(
        &mut bob,
        r#"ONLINE_USERS {"alice":"available","bob":"away"}"#,
    );
    alice.recv_until("bob away", |l| l.contains(r#""bob":"away""#));

    let mut modes = Transcript::default();
    let mut bot = server.client();
    modes
        .send(&mut bot, r#"REGISTER ["bot","busy",{"presence":"none"}]"#)
        .recv(&mut bot);
    alice.recv_until("bot's arrival", |l| l.contains("bot"));
    let mut w = server.client();
    modes
        .send(
            &mut w,
            r#"REGISTER ["w","available",{"presence":"changes"}]"#,
        )
        .note("(another connection)")
        .recv(&mut w);
    // w's own arrival is a change too, and w hears it, one interval later.
    modes
        .recv_exactly(&mut w, r#"PRESENCE {"w":"available"}"#)
        .note("(one interval later)");
    alice.recv_until("w's arrival", |l| l.contains(r#""w""#));
    // carol's arrival and bob's goodbye fall into one interval: one change set.
    let _carol = server.user("carol");
    bob.send("GOODBYE");
    bob.expect_closed();
    modes.aside("carol registers, bob leaves");
    loop {
        modes.recv(&mut w);
        if modes.last_received().contains("carol") {
            break;
        }
    }
    vec![
        ("protocol-status", status.render()),
        ("protocol-presence-modes", modes.render()),
    ]
}

/// INVITE, JOIN, SEND_MESSAGE, LEAVE and LIST_CONVERSATIONS, in one conversation.
fn conversations() -> Vec<(&'static str, String)> {
    let server = Server::start(QUIET);
    let mut alice = server.user("alice");
    let mut bob = server.user("bob");
    let mut invite = Transcript::default();
    invite
        .send(&mut alice, r#"INVITE ["bob","zed","alice"]"#)
        .note("(alice sends)")
        .recv(&mut alice)
        .recv(&mut alice);
    invite.aside_in_column(&format!("(bob receives {})", bob.recv()));

    let mut join = Transcript::default();
    join.send(&mut bob, "JOIN [1]")
        .note("(bob sends)")
        .recv(&mut bob);
    alice.expect_line(&join.last_received());
    join.note("(to alice and to bob)");

    let mut send = Transcript::default();
    send.send(&mut alice, r#"SEND_MESSAGE [1,"hi bob"]"#)
        .note("(alice sends)")
        .recv(&mut alice)
        .note("(to alice and to bob)");
    bob.expect_line(r#"MESSAGE [1,"alice","hi bob"]"#);
    send.send(&mut alice, r#"SEND_MESSAGE [2,"hi"]"#)
        .recv(&mut alice);

    let mut leave = Transcript::default();
    leave
        .send(&mut alice, "LEAVE [1]")
        .note("(alice sends)")
        .recv(&mut bob)
        .note("(to bob)")
        .recv(&mut alice)
        .note("(to alice)");

    // One conversation joined, one invitation still pending.
    for join in [true, false] {
        alice.send(r#"INVITE ["bob"]"#);
        alice.expect("INVITATION ");
        let invitation = bob.expect("INVITATION [");
        if join {
            let id = invitation["INVITATION [".len()..]
                .split(',')
                .next()
                .unwrap();
            bob.send(&format!("JOIN [{id}]"));
            alice.expect("CONVERSATIONS ");
            bob.expect("CONVERSATIONS ");
        }
    }
    let mut list = Transcript::default();
    list.send(&mut alice, "LIST_CONVERSATIONS").recv(&mut alice);
    vec![
        ("protocol-invite", invite.render()),
        ("protocol-join", join.render()),
        ("protocol-send", send.render()),
        ("protocol-list", list.render()),
        ("protocol-leave", leave.render()),
    ]
}

fn conversations_changes() -> Vec<(&'static str, String)> {
    let server = Server::start(QUIET);
    let mut alice = server.user("alice");
    let mut t = Transcript::default();
    let mut bob = server.client();
    t.send(
        &mut bob,
        r#"REGISTER ["bob",null,{"conversations":"changes"}]"#,
    )
    .recv(&mut bob);
    let mut carol = server.user("carol");
    t.aside("alice invites bob and carol to conversation 1");
    alice.send(r#"INVITE ["bob","carol"]"#);
    alice.expect("INVITATION ");
    carol.expect("INVITATION ");
    t.recv(&mut bob);
    t.send(&mut bob, "JOIN [1]").recv(&mut bob);
    t.aside("carol joins");
    carol.send("JOIN [1]");
    t.recv(&mut bob);
    t.send(&mut bob, "LEAVE [1]")
        .recv(&mut bob)
        .note("(to bob, and to carol if she is in changes mode)");
    vec![("protocol-conversations-changes", t.render())]
}

/// The bounds on what an `ERROR` echoes: a maximal line of empty names, a long string where
/// a number belongs, a long name.
fn limits() -> Vec<(&'static str, String)> {
    let server = Server::start(QUIET);
    let mut alice = server.user("alice");
    alice.send(r#"INVITE []"#);
    alice.expect("INVITATION [1,");
    let mut t = Transcript::default();
    let names = 21_842;
    let line = format!("INVITE [{}]", vec![r#""""#; names].join(","));
    t.send_shown(&mut alice, &line, r#"INVITE ["","","", ...]"#)
        .note(&format!(
            "({} empty names, a {}-byte line)",
            thousands(names),
            thousands(line.len())
        ))
        .recv(&mut alice)
        .recv(&mut alice);
    let long = "x".repeat(60_000);
    t.send_shown(
        &mut alice,
        &format!(r#"JOIN ["{long}"]"#),
        r#"JOIN ["xxxx...x"]"#,
    )
    .note("(a 60,000-character string)")
    .recv(&mut alice);
    let long = "y".repeat(60_000);
    t.send_shown(
        &mut alice,
        &format!(r#"INVITE ["{long}"]"#),
        r#"INVITE ["yyyy...y"]"#,
    )
    .note("(a 60,000-character name)")
    .recv(&mut alice)
    .recv(&mut alice);
    vec![("protocol-error-bounds", t.render())]
}

/// `65534` as `65,534`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A REQUEST answered at once, and one within the same second answered when it is over.
fn discovery() -> Vec<(&'static str, String)> {
    use crate::common::discovery::{announce_flags, fresh_group, Ear};
    use std::time::{Duration, Instant};
    let group = fresh_group();
    let ear = Ear::join(group);
    let mut flags = announce_flags(group, "lab");
    flags.extend(QUIET.iter().map(|f| f.to_string()));
    let server = Server::start(&flags.iter().map(String::as_str).collect::<Vec<_>>());
    let _alice = server.user("alice");
    // The first ANNOUNCE, at start: then a second passes, so the next REQUEST is answered
    // at once.
    ear.announce_from("lab");
    let quiet_since = Instant::now();
    while let Some(heard) = ear.recv_until(quiet_since + Duration::from_millis(1100)) {
        assert!(heard.0.is_ok(), "only the server's datagrams here");
    }
    let mut t = Transcript::default();
    let announce = |t: &mut Transcript, note: &str| {
        let text = String::from_utf8(ear.announce_from("lab").encode()).unwrap();
        t.aside_shown(&format!("< {}", text.trim_end()), note);
    };
    ear.send(&imchat::discovery::request());
    t.aside_shown("> REQUEST {}", "(to the group)");
    announce(&mut t, "(at once, to the group)");
    let asked = Instant::now();
    ear.send(&imchat::discovery::request());
    t.aside_shown("> REQUEST {}", "(again, within the second)");
    announce(&mut t, "(when the second is over)");
    assert!(
        asked.elapsed() >= Duration::from_millis(500),
        "answered when the second is over"
    );
    vec![("protocol-discovery", t.render())]
}
