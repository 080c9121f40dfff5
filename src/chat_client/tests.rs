//! Unit tests of the client's pure parts: replies and typed lines in, screen lines and
//! requests out.

use super::*;
use crate::protocol::{Reply, Request};

fn reply(state: &mut ChatState, line: &str) -> Output {
    let mut out = Output::default();
    state.on_reply(Reply::parse(line), &mut out);
    out
}

fn typed(state: &mut ChatState, line: &str) -> Output {
    let mut out = Output::default();
    state.on_input(line, &mut out);
    out
}

fn alice() -> ChatState {
    let mut state = ChatState::new("alice");
    let out = reply(
        &mut state,
        r#"ONLINE_USERS {"alice":"available","bob":"away"}"#,
    );
    assert_eq!(
        out.lines,
        ["* registered as alice (available)", "* online: bob (away)"]
    );
    state
}

#[test]
fn an_error_before_registering_is_a_refusal() {
    let mut state = ChatState::new("alice");
    let out = reply(&mut state, r#"ERROR "REGISTER: name alice is taken""#);
    assert_eq!(out.lines, ["! REGISTER: name alice is taken"]);
    assert!(out.refused);
    let mut state = alice();
    let out = reply(&mut state, r#"ERROR "JOIN: not invited to conversation 9""#);
    assert!(!out.refused);
    // An ERROR that does not answer REGISTER comes with a close, which decides.
    let mut state = ChatState::new("alice");
    let out = reply(&mut state, r#"ERROR "server shutting down""#);
    assert_eq!(out.lines, ["! server shutting down"]);
    assert!(!out.refused);
}

#[test]
fn a_lost_connection_ends_every_conversation_and_invitation_but_keeps_the_status() {
    let mut state = alice();
    reply(&mut state, r#"ONLINE_USERS {"alice":"away","bob":"away"}"#);
    reply(
        &mut state,
        r#"CONVERSATIONS {"3":["bob","alice"],"7":["alice"]}"#,
    );
    reply(&mut state, r#"INVITATION [9,"bob"]"#);
    assert_eq!(state.my_status(), Some("away"));
    let mut out = Output::default();
    state.connection_lost("gone", &mut out);
    assert_eq!(
        out.lines,
        [
            "[3] * conversation ended: gone",
            "[7] * conversation ended: gone",
            "[9] * invitation dropped: gone"
        ]
    );
    assert!(!state.registered());
    assert_eq!(typed(&mut state, "/list").lines, ["* no conversations"]);
    // Registered again: the first snapshot is a fresh start, not a list of changes.
    let out = reply(&mut state, r#"ONLINE_USERS {"alice":"away","bob":"away"}"#);
    assert_eq!(
        out.lines,
        ["* registered as alice (away)", "* online: bob (away)"]
    );
}

#[test]
fn presence_is_shown_as_changes_and_never_shows_oneself() {
    let mut state = alice();
    let out = reply(
        &mut state,
        r#"ONLINE_USERS {"alice":"available","bob":"away"}"#,
    );
    assert!(out.lines.is_empty(), "nothing changed: {:?}", out.lines);
    let out = reply(
        &mut state,
        r#"ONLINE_USERS {"alice":"busy","bob":"available","carol":"here"}"#,
    );
    assert_eq!(
        out.lines,
        [
            "* you are now busy",
            "* bob is now available",
            "* carol came online (here)"
        ]
    );
    let out = reply(
        &mut state,
        r#"ONLINE_USERS {"alice":"busy","carol":"here"}"#,
    );
    assert_eq!(out.lines, ["* bob went offline"]);
    let out = reply(&mut state, r#"PRESENCE {"carol":null,"dave":"x"}"#);
    assert_eq!(
        out.lines,
        ["* carol went offline", "* dave came online (x)"]
    );
    assert_eq!(typed(&mut state, "/who").lines, ["* online: dave (x)"]);
}

#[test]
fn own_invitation_starts_a_pending_conversation_and_others_are_announced() {
    let mut state = alice();
    let out = typed(&mut state, "/invite bob  carol");
    assert_eq!(
        out.requests,
        [Request::Invite(vec!["bob".into(), "carol".into()])]
    );
    let out = reply(&mut state, r#"INVITATION [7,"alice"]"#);
    assert_eq!(
        out.lines,
        [
            "[7] * you started this conversation",
            "[7] * members: alice (pending)",
            "[7] * now current"
        ]
    );
    let out = reply(&mut state, r#"INVITATION [8,"bob"]"#);
    assert_eq!(out.lines, ["[8] * invited by bob; type /join 8 to accept"]);
    assert_eq!(
        typed(&mut state, "/list").lines,
        [
            "[7] * members: alice (pending) (current)",
            "[8] * invited by bob; type /join 8 to accept"
        ]
    );
}

#[test]
fn conversations_maps_become_joins_and_leaves() {
    let mut state = alice();
    reply(&mut state, r#"INVITATION [7,"alice"]"#);
    let out = reply(&mut state, r#"CONVERSATIONS {"7":["alice","bob"]}"#);
    assert_eq!(out.lines, ["[7] * bob joined", "[7] * members: alice, bob"]);
    reply(&mut state, r#"INVITATION [8,"carol"]"#);
    assert_eq!(typed(&mut state, "/join 8").requests, [Request::Join(8)]);
    let out = reply(
        &mut state,
        r#"CONVERSATIONS {"7":["alice","bob"],"8":["carol","alice"]}"#,
    );
    assert_eq!(
        out.lines,
        [
            "[8] * you joined",
            "[8] * members: carol, alice",
            "[8] * now current"
        ]
    );
    let out = reply(
        &mut state,
        r#"CONVERSATIONS {"7":["alice"],"8":["carol","alice"]}"#,
    );
    assert_eq!(
        out.lines,
        ["[7] * bob left", "[7] * members: alice (alone)"]
    );
    assert_eq!(typed(&mut state, "/leave").requests, [Request::Leave(8)]);
    let out = reply(&mut state, r#"CONVERSATIONS {"7":["alice"]}"#);
    assert_eq!(out.lines, ["[8] * you left"]);
    let out = typed(&mut state, "hello?");
    assert!(out.requests.is_empty());
    assert_eq!(out.lines.len(), 1);
    assert!(out.lines[0].starts_with("! no current conversation"));
}

#[test]
fn text_goes_to_the_current_conversation_and_is_shown_only_when_echoed() {
    let mut state = alice();
    reply(&mut state, r#"INVITATION [7,"alice"]"#);
    reply(
        &mut state,
        r#"CONVERSATIONS {"3":["bob","alice"],"7":["alice"]}"#,
    );
    let out = typed(&mut state, "hi all");
    assert_eq!(out.requests, [Request::SendMessage(3, "hi all".into())]);
    assert!(out.lines.is_empty(), "never printed locally");
    assert_eq!(typed(&mut state, "/7").lines, ["[7] * now current"]);
    assert_eq!(typed(&mut state, "/switch 3").lines, ["[3] * now current"]);
    assert_eq!(
        typed(&mut state, "/7 to seven").requests,
        [Request::SendMessage(7, "to seven".into())]
    );
    assert_eq!(
        typed(&mut state, "//slash").requests,
        [Request::SendMessage(3, "/slash".into())]
    );
    assert_eq!(
        typed(&mut state, "/switch 9").lines,
        ["! not in conversation 9; /list shows yours"]
    );
    let out = reply(&mut state, r#"MESSAGE [3,"alice","two\nlines \u001b[31m"]"#);
    assert_eq!(out.lines, ["[3] alice: two\\nlines \\u{1b}[31m"]);
}

#[test]
fn commands_check_their_arguments() {
    let mut state = alice();
    assert_eq!(typed(&mut state, "/join x").lines, ["! usage: /join ID"]);
    assert_eq!(
        typed(&mut state, "/invite").lines,
        ["! usage: /invite NAME [NAME...]"]
    );
    assert_eq!(
        typed(&mut state, "/status").lines,
        ["! usage: /status TEXT"]
    );
    assert_eq!(
        typed(&mut state, "/status out to lunch").requests,
        [Request::Status("out to lunch".into())]
    );
    assert_eq!(
        typed(&mut state, "/frob").lines,
        ["! unknown command /frob; /help lists the commands"]
    );
    assert!(typed(&mut state, "/quit").quit);
    assert!(typed(&mut state, "/help").lines.len() > 5);
    assert_eq!(typed(&mut state, "   "), Output::default());
    let huge = format!("/1 {}", "x".repeat(MAX_REQUEST_BYTES));
    assert!(typed(&mut state, &huge).lines[0].starts_with("! message too long"));
}

#[test]
fn junk_from_the_server_is_shown_not_fatal() {
    let mut state = alice();
    for junk in [
        "NOPE",
        "MESSAGE [1]",
        "CONVERSATIONS {\"x\":1}",
        "ONLINE_USERS []",
    ] {
        let out = reply(&mut state, junk);
        assert_eq!(out.lines.len(), 1, "{junk}");
        assert!(
            out.lines[0].starts_with("! unexpected line from server"),
            "{junk}"
        );
    }
    assert_eq!(state.members_line(42), "[42] * not a member");
}

#[test]
fn input_lines_split_strip_and_bound() {
    let mut lines = InputLines::default();
    let mut out = Vec::new();
    lines.push(b"one\r\ntw", &mut out);
    lines.push(b"o\n\xff\nthree", &mut out);
    lines.finish(&mut out);
    assert_eq!(
        out,
        [
            Ok("one".to_string()),
            Ok("two".into()),
            Err("input line is not UTF-8; dropped"),
            Ok("three".into())
        ]
    );
    let mut out = Vec::new();
    let long = vec![b'x'; MAX_INPUT_LINE + 1];
    lines.push(&long, &mut out);
    lines.push(b"more of it\nafter\n", &mut out);
    assert_eq!(
        out,
        [Err("input line too long; dropped"), Ok("after".to_string())]
    );
}

#[test]
fn clean_escapes_control_characters_only() {
    assert_eq!(clean("héllo wörld"), "héllo wörld");
    assert_eq!(clean("a\tb\u{7}"), "a\\tb\\u{7}");
}
