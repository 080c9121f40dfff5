//! The dispatch table: its rows, argument decoding, and the checks made before any
//! handler runs. No sockets: lines go in through [`dispatch`], replies come out of outboxes.

use super::*;
use crate::protocol::{ConversationsMode, PresenceMode};
use crate::server::test_support::World;
use args::{Conv, ConvText, Names, NoArgs, Register, Status};

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
    assert_eq!(
        row("send_message").map(|r| COMMANDS[r].name),
        Some("SEND_MESSAGE")
    );
    assert!(row("SEND").is_none());
}

#[test]
fn argument_types_decode_what_the_contract_shows_and_refuse_the_rest() {
    assert_eq!(Conv::parse(Some("[7]")), Ok(Conv { id: 7 }));
    assert_eq!(
        ConvText::parse(Some("[7,\"hi\"]")),
        Ok(ConvText {
            id: 7,
            text: "hi".into()
        })
    );
    assert_eq!(Names::parse(Some("[]")), Ok(Names { names: vec![] }));
    assert_eq!(NoArgs::parse(None), Ok(NoArgs));
    assert_eq!(NoArgs::parse(Some("[]")), Ok(NoArgs));
    assert_eq!(NoArgs::parse(Some(" null ")), Ok(NoArgs));
    assert_eq!(
        Register::parse(Some("[\"a\",\"away\",{\"presence\":\"changes\"}]")),
        Ok(Register {
            name: "a".into(),
            status: Some("away".into()),
            presence: PresenceMode::Changes,
            conversations: ConversationsMode::Full,
            password: None,
        })
    );
    assert_eq!(
        Register::parse(Some("[\"a\",null,{\"conversations\":\"changes\"}]")),
        Ok(Register {
            name: "a".into(),
            status: None,
            presence: PresenceMode::Full,
            conversations: ConversationsMode::Changes,
            password: None,
        })
    );
    // A password alone names an option.
    assert_eq!(
        Register::parse(Some("[\"a\",null,{\"password\":\"pw\"}]")),
        Ok(Register {
            name: "a".into(),
            status: None,
            presence: PresenceMode::Full,
            conversations: ConversationsMode::Full,
            password: Some(crate::protocol::Password::new("pw")),
        })
    );
    assert_eq!(
        Register::parse(Some("[\"a\",null]")),
        Ok(Register {
            name: "a".into(),
            status: None,
            presence: PresenceMode::Full,
            conversations: ConversationsMode::Full,
            password: None,
        })
    );
    let refused = |parse: fn(Option<&str>) -> bool, bad: &[Option<&str>]| {
        for &bad in bad {
            assert!(!parse(bad), "accepted {bad:?}");
        }
    };
    refused(
        |a| Conv::parse(a).is_ok(),
        &[
            None,
            Some("7"),
            Some("[-1]"),
            Some("[\"7\"]"),
            Some("[7,8]"),
        ],
    );
    refused(|a| ConvText::parse(a).is_ok(), &[Some("[7]")]);
    refused(|a| Status::parse(a).is_ok(), &[Some("[1]"), None]);
    refused(|a| Names::parse(a).is_ok(), &[Some("\"bob\"")]);
    refused(|a| NoArgs::parse(a).is_ok(), &[Some("[1]")]);
    refused(
        |a| Register::parse(a).is_ok(),
        &[
            Some("[]"),
            Some("[1]"),
            Some("[\"a\",\"b\",{\"presence\":\"loud\"}]"),
            Some("[\"a\",\"b\",{\"presence\":\"full\",\"x\":1}]"),
            Some("[\"a\",\"b\",{}]"),
            Some("[\"a\",\"b\",{\"password\":5}]"),
            Some("[\"a\",\"b\",{\"password\":null}]"),
            Some("[\"a\",\"b\",\"full\"]"),
            Some("[\"a\",\"b\",{\"presence\":\"full\"},4]"),
            Some("{\"name\":\"a\"}"),
        ],
    );
}

#[test]
fn a_refusal_shows_the_usage_of_the_row_it_came_from() {
    let mut w = World::default();
    let alice = w.user("alice");
    w.dispatch(alice, "JOIN");
    w.dispatch(alice, "STATUS [1]");
    assert_eq!(
        w.drain(alice),
        [
            "ERROR \"JOIN: missing arguments; expected [conversation id]\"",
            "ERROR \"STATUS: bad arguments (invalid type: integer `1`, expected a string at line 1 column 2); expected [\\\"status\\\"]\"",
        ]
    );
}

#[test]
fn handlers_return_their_effect_on_the_connection() {
    let mut w = World::default();
    let key = w.connect();
    assert_eq!(w.dispatch(key, "JOIN [1]"), Effect::Continue);
    assert_eq!(w.dispatch(key, "REGISTER [\"\"]"), Effect::Continue);
    assert_eq!(w.dispatch(key, "REGISTER [\"a\"]"), Effect::Registered);
    assert_eq!(w.dispatch(key, "REGISTER [\"b\"]"), Effect::Continue);
    assert_eq!(w.dispatch(key, "GOODBYE now"), Effect::Continue);
    assert_eq!(w.dispatch(key, "goodbye"), Effect::Close);
    let guest = w.connect();
    assert_eq!(
        w.dispatch(guest, "GOODBYE []"),
        Effect::Close,
        "GOODBYE needs no registration"
    );
}

#[test]
fn registration_is_required_and_checked() {
    let mut w = World::default();
    let key = w.connect();
    w.dispatch(key, "JOIN [1]");
    w.dispatch(key, "REGISTER [\"two words\"]");
    w.dispatch(key, &format!("REGISTER [\"{}\"]", "x".repeat(33)));
    w.dispatch(key, "REGISTER [\"ok\",\"\"]");
    w.dispatch(key, "REGISTER [\"ok\",\"tab\\there\"]");
    assert_eq!(
        w.drain(key),
        [
            "ERROR \"JOIN: not registered\"",
            "ERROR \"REGISTER: bad name: U+0020 is not allowed in names\"",
            "ERROR \"REGISTER: bad name: 1 to 32 characters\"",
            "ERROR \"REGISTER: bad status: 1 to 64 characters, no control characters\"",
            "ERROR \"REGISTER: bad status: 1 to 64 characters, no control characters\"",
        ]
    );
    w.dispatch(key, &format!("REGISTER [\"{}\"]", "\u{e9}".repeat(32)));
    assert!(
        w.chat.is_registered(key),
        "32 characters is fine, whatever their bytes"
    );
    w.dispatch(key, "REGISTER [\"again\"]");
    assert_eq!(
        w.drain(key).last().unwrap(),
        "ERROR \"REGISTER: already registered\""
    );
}

#[test]
fn a_server_password_is_checked_before_anything_else_about_the_registration() {
    let mut w = World::default();
    w.password = Some(crate::protocol::Password::new("s3cret"));
    w.user_with("alice", "{\"password\":\"s3cret\"}");
    let key = w.connect();
    for line in [
        "REGISTER [\"alice\"]",
        "REGISTER [\"bob\",\"away\",{\"password\":\"S3cret\"}]",
        "REGISTER [\"bob\",null,{\"presence\":\"none\"}]",
        "REGISTER [\"bob\",null,{\"password\":\"\"}]",
    ] {
        assert_eq!(w.dispatch(key, line), Effect::WrongPassword, "{line}");
        assert!(!w.chat.is_registered(key));
    }
    assert_eq!(
        w.drain(key),
        ["ERROR \"REGISTER: wrong password\""; 4],
        "not even a taken name is told"
    );
    let ok = "REGISTER [\"bob\",null,{\"password\":\"s3cret\",\"presence\":\"none\"}]";
    assert_eq!(w.dispatch(key, ok), Effect::Registered);
}

#[test]
fn a_server_without_a_password_ignores_one() {
    let mut w = World::default();
    w.user_with("alice", "{\"password\":\"anything\"}");
}

#[test]
fn names_are_unique_ignoring_case() {
    let mut w = World::default();
    w.user("Alice");
    let other = w.connect();
    w.dispatch(other, "REGISTER [\"aLICE\"]");
    assert_eq!(w.drain(other), ["ERROR \"REGISTER: name aLICE is taken\""]);
    assert!(!w.chat.is_registered(other));
}

#[test]
fn unknown_and_malformed_commands_get_an_error_and_change_nothing() {
    let mut w = World::default();
    let alice = w.user("alice");
    for line in ["", "   ", "\t"] {
        w.dispatch(alice, line);
    }
    assert!(w.drain(alice).is_empty(), "blank lines are ignored");
    w.dispatch(alice, "hello there");
    w.dispatch(alice, "SEND_MESSAGE {\"conv\":1}");
    let effect = w.dispatch(alice, "GOODBYE now");
    assert_eq!(
        effect,
        Effect::Continue,
        "a malformed GOODBYE does not close"
    );
    let lines = w.drain(alice);
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
}
