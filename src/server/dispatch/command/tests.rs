//! The caps on what an `ERROR` echoes of the client's input.

use super::*;
use crate::protocol::encode_error;
use crate::server::dispatch::args::{Arguments, ConvText, Register};

/// The `ERROR` line the dispatcher would write for `refusal` to a command called `name`.
fn error_line(name: &str, refusal: &Refusal) -> Vec<u8> {
    encode_error(&format!("{name}: {refusal}"))
}

#[test]
fn an_invite_refusal_lists_a_few_names_then_counts_the_rest() {
    let names = (0..MAX_LISTED_NAMES + 3)
        .map(|i| (format!("u{i}"), LeftOut::NotOnline))
        .collect();
    let text = Refusal::LeftOut(names).to_string();
    let listed: Vec<String> = (0..MAX_LISTED_NAMES)
        .map(|i| format!("u{i} (not online)"))
        .collect();
    assert_eq!(
        text,
        format!("not invited: {}, and 3 more", listed.join(", "))
    );
}

#[test]
fn echoed_names_are_cut() {
    let long = "n".repeat(10_000);
    let text = Refusal::NameTaken(long).to_string();
    assert_eq!(
        text,
        format!("name {}… is taken", "n".repeat(MAX_ECHOED_NAME_CHARS))
    );
}

#[test]
fn a_decoding_error_keeps_its_start_and_its_position() {
    let raw = format!("[\"{}\"]", "x".repeat(60_000));
    let Err(refusal) = <crate::server::dispatch::args::Conv as Arguments>::decode(Some(&raw))
    else {
        panic!("a string is not a conversation id");
    };
    let text = refusal.to_string();
    assert!(
        text.starts_with("bad arguments (invalid type: string \"xxx"),
        "{text}"
    );
    assert!(text.contains("…"), "{text}");
    assert!(
        text.ends_with("column 60003); expected [conversation id]"),
        "{text}"
    );
    assert!(text.chars().count() < MAX_WHY_CHARS + 50, "{text}");
}

#[test]
fn no_refusal_outgrows_the_error_line_cap_whatever_the_input() {
    // Every echoed character at its worst JSON escape, and as many as a line can hold.
    let nasty = "\u{1}".repeat(60_000);
    let mut refusals = vec![
        Refusal::BadArguments {
            why: format!("bad arguments (invalid type: string {nasty:?})"),
            usage: Register::USAGE,
        },
        Refusal::BadArguments {
            why: nasty.clone(),
            usage: ConvText::USAGE,
        },
        Refusal::NameTaken(nasty.clone()),
        Refusal::LeftOut(vec![(String::new(), LeftOut::Yourself); 21_842]),
        Refusal::BadName(crate::names::BadName::Character('\u{1}')),
    ];
    for why in [
        LeftOut::NotOnline,
        LeftOut::Yourself,
        LeftOut::TooManyInvitations,
        LeftOut::Full,
    ] {
        refusals.push(Refusal::LeftOut(vec![(nasty.clone(), why); 1000]));
    }
    let mut longest = 0;
    for refusal in &refusals {
        // The longest command name in front.
        let line = error_line("LIST_CONVERSATIONS", refusal);
        longest = longest.max(line.len());
    }
    // An unknown word is echoed in front, cut (by `dispatch`) and escaped.
    let word = "\u{1}".repeat(32);
    longest = longest.max(error_line(&word, &Refusal::UnknownCommand).len());
    assert!(longest <= MAX_ERROR_LINE, "{longest} bytes");
}
