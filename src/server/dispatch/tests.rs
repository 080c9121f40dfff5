//! The dispatch table: its rows, argument decoding, and the checks made before any
//! handler runs. No sockets: lines go in through [`dispatch`], replies come out of outboxes.

use super::*;
use crate::server::test_support::{chat, drain, user};

#[test]
fn every_command_of_the_contract_has_a_row() {
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "REGISTER",
            "STATUS",
            "GOODBYE",
            "INVITE",
            "LIST_CONVERSATIONS",
            "JOIN",
            "SEND_MESSAGE",
            "LEAVE"
        ]
    );
    let open: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| !c.needs_registration)
        .map(|c| c.name)
        .collect();
    assert_eq!(open, ["REGISTER", "GOODBYE"]);
}

#[test]
fn lookup_ignores_case() {
    assert_eq!(lookup("send_message").map(|c| c.name), Some("SEND_MESSAGE"));
    assert!(lookup("SEND").is_none());
}

#[test]
fn shapes_decode_what_the_contract_shows_and_refuse_the_rest() {
    assert_eq!(Shape::Conv.decode(Some("[7]")), Ok(Args::Conv(7)));
    assert_eq!(
        Shape::ConvText.decode(Some("[7,\"hi\"]")),
        Ok(Args::ConvText(7, "hi".into()))
    );
    assert_eq!(Shape::Names.decode(Some("[]")), Ok(Args::Names(vec![])));
    assert_eq!(Shape::Nothing.decode(None), Ok(Args::Nothing));
    assert_eq!(Shape::Nothing.decode(Some("[]")), Ok(Args::Nothing));
    assert_eq!(
        Shape::Register.decode(Some("[\"a\",\"away\",{\"presence\":\"changes\"}]")),
        Ok(Args::Register {
            name: "a".into(),
            status: Some("away".into()),
            presence: PresenceMode::Changes
        })
    );
    for (shape, bad) in [
        (Shape::Conv, None),
        (Shape::Conv, Some("7")),
        (Shape::Conv, Some("[-1]")),
        (Shape::Conv, Some("[\"7\"]")),
        (Shape::Conv, Some("[7,8]")),
        (Shape::ConvText, Some("[7]")),
        (Shape::Text, Some("[1]")),
        (Shape::Names, Some("\"bob\"")),
        (Shape::Nothing, Some("[1]")),
        (Shape::Register, Some("[]")),
        (Shape::Register, Some("[1]")),
        (
            Shape::Register,
            Some("[\"a\",\"b\",{\"presence\":\"loud\"}]"),
        ),
        (
            Shape::Register,
            Some("[\"a\",\"b\",{\"presence\":\"full\",\"x\":1}]"),
        ),
        (Shape::Register, Some("[\"a\",\"b\",{}]")),
        (Shape::Register, Some("[\"a\",\"b\",\"full\"]")),
        (
            Shape::Register,
            Some("[\"a\",\"b\",{\"presence\":\"full\"},4]"),
        ),
        (Shape::Register, Some("{\"name\":\"a\"}")),
    ] {
        assert!(shape.decode(bad).is_err(), "{shape:?} accepted {bad:?}");
    }
}

#[test]
fn registration_is_required_and_checked() {
    let mut chat = chat();
    let key = chat.connect();
    dispatch(&mut chat, key, "JOIN [1]");
    dispatch(&mut chat, key, "REGISTER [\"two words\"]");
    dispatch(
        &mut chat,
        key,
        &format!("REGISTER [\"{}\"]", "x".repeat(33)),
    );
    dispatch(&mut chat, key, "REGISTER [\"ok\",\"\"]");
    dispatch(&mut chat, key, "REGISTER [\"ok\",\"tab\\there\"]");
    assert_eq!(
        drain(&mut chat, key),
        [
            "ERROR \"JOIN: not registered\"",
            "ERROR \"REGISTER: bad name: 1 to 32 characters, no spaces or control characters\"",
            "ERROR \"REGISTER: bad name: 1 to 32 characters, no spaces or control characters\"",
            "ERROR \"REGISTER: bad status: 1 to 64 characters, no control characters\"",
            "ERROR \"REGISTER: bad status: 1 to 64 characters, no control characters\"",
        ]
    );
    dispatch(
        &mut chat,
        key,
        &format!("REGISTER [\"{}\"]", "\u{e9}".repeat(32)),
    );
    assert!(
        chat.is_registered(key),
        "32 characters is fine, whatever their bytes"
    );
    dispatch(&mut chat, key, "REGISTER [\"again\"]");
    assert_eq!(
        drain(&mut chat, key).last().unwrap(),
        "ERROR \"REGISTER: already registered\""
    );
}

#[test]
fn names_are_unique_ignoring_case() {
    let mut chat = chat();
    user(&mut chat, "Alice");
    let other = chat.connect();
    dispatch(&mut chat, other, "REGISTER [\"aLICE\"]");
    assert_eq!(
        drain(&mut chat, other),
        ["ERROR \"REGISTER: name aLICE is taken\""]
    );
    assert!(!chat.is_registered(other));
}

#[test]
fn unknown_and_malformed_commands_get_an_error_and_change_nothing() {
    let mut chat = chat();
    let alice = user(&mut chat, "alice");
    for line in ["", "   ", "\t"] {
        dispatch(&mut chat, alice, line);
    }
    assert!(
        drain(&mut chat, alice).is_empty(),
        "blank lines are ignored"
    );
    dispatch(&mut chat, alice, "hello there");
    dispatch(&mut chat, alice, "SEND_MESSAGE {\"conv\":1}");
    dispatch(&mut chat, alice, "GOODBYE now");
    let lines = drain(&mut chat, alice);
    assert_eq!(lines[0], "ERROR \"HELLO: unknown command\"");
    assert!(
        lines[1].starts_with("ERROR \"SEND_MESSAGE: bad arguments"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("ERROR \"GOODBYE: takes no arguments"),
        "{}",
        lines[2]
    );
    assert_eq!(chat.closing_reason(alice), None);
}
