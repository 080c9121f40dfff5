//! The name rule on the wire (RFC 8265's UsernameCaseMapped profile with full case folding;
//! see `docs/protocol.md`): which names `REGISTER` accepts and refuses, which pairs are one
//! name, and that lookups by name find the user while others see the name as typed.

mod common;

use common::{Client, Server};

/// Sends `REGISTER [name]` (a JSON string literal, escapes and all) and returns the answer.
fn register(client: &mut Client, json_name: &str) -> String {
    client.send(&format!("REGISTER [{json_name}]"));
    client.recv()
}

#[test]
fn letters_of_any_script_and_printable_ascii_are_accepted_as_typed() {
    let server = Server::start(&[]);
    for name in [
        "alice",
        "Zoë",
        "李小龍",
        "straße",
        "Ωmega",
        "bob_2!",
        "क्\u{200D}ष",
    ] {
        let mut client = server.client();
        client.send(&format!(
            "REGISTER [\"{name}\",\"x\",{{\"presence\":\"none\"}}]"
        ));
        client.expect_line(&format!("ONLINE_USERS {{\"{name}\":\"x\"}}"));
    }
}

#[test]
fn invisible_direction_changing_and_unassigned_code_points_are_refused() {
    let server = Server::start(&[]);
    let refused = [
        (r#""ali\u202Ece""#, "U+202E is not allowed in names"), // right-to-left override
        (r#""a\u200Db""#, "U+200D is not allowed in names"),    // zero-width joiner
        (r#""a\u200Bb""#, "U+200B is not allowed in names"),    // zero-width space
        (r#""\uFEFFalice""#, "U+FEFF is not allowed in names"), // byte order mark
        (r#""alice\uFFFF""#, "U+FFFF is not allowed in names"), // noncharacter
        (r#""a\u0378""#, "U+0378 is not allowed in names"),     // unassigned
        (r#""bob\u2605""#, "U+2605 is not allowed in names"),   // a symbol
        (r#""a b""#, "U+0020 is not allowed in names"),
        (r#""""#, "1 to 32 characters"),
        (
            r#""\u200C""#, // a name of one zero-width non-joiner
            "refused by RFC 8265 (a right-to-left name must follow the bidi rule, \
             a joiner needs a letter before it)",
        ),
    ];
    let mut client = server.client();
    for (name, why) in refused {
        let answer = register(&mut client, name);
        assert_eq!(
            answer,
            format!("ERROR \"REGISTER: bad name: {why}\""),
            "{name}"
        );
    }
    client.send("LIST_CONVERSATIONS");
    client.expect_line("ERROR \"LIST_CONVERSATIONS: not registered\"");
}

#[test]
fn names_that_fold_to_one_name_collide() {
    let server = Server::start(&[]);
    let pairs = [
        ("straße", "STRASSE"),
        ("ΟΣ", "οσ"),
        ("σοφος", "ΣΟΦΟΣ"), // a final sigma, and the capital it folds with
        ("ａｌｉｃｅ", "alice"),
        ("Bob", "bOB"),
        ("Zoë", "ZOE\u{308}"),
    ];
    let mut online = Vec::new();
    for (first, second) in pairs {
        online.push(server.user(first));
        let mut other = server.client();
        let answer = register(&mut other, &format!("\"{second}\""));
        assert_eq!(
            answer,
            format!("ERROR \"REGISTER: name {second} is taken\"")
        );
    }
}

#[test]
fn lookups_by_name_fold_too_and_others_see_the_name_as_typed() {
    let server = Server::start(&[]);
    let mut strasse = server.user("straße");
    let mut alice = server.client();
    alice.send("REGISTER [\"alice\",\"available\",{\"presence\":\"none\"}]");
    alice.expect("ONLINE_USERS ");

    alice.send("INVITE [\"STRASSE\",\"ＡＬＩＣＥ\"]");
    alice.expect_line("INVITATION [1,\"alice\"]");
    alice.expect_line("ERROR \"INVITE: not invited: ＡＬＩＣＥ (yourself)\"");
    strasse.recv_until("the invitation", |l| l == "INVITATION [1,\"alice\"]");
    strasse.send("JOIN [1]");
    alice.expect_line("CONVERSATIONS {\"1\":[\"alice\",\"straße\"]}");
    strasse.send("SEND_MESSAGE [1,\"hi\"]");
    alice.expect_line("MESSAGE [1,\"straße\",\"hi\"]");

    let mut full = server.client();
    full.send("REGISTER [\"carol\"]");
    full.expect_line(
        "ONLINE_USERS {\"alice\":\"available\",\"carol\":\"available\",\"straße\":\"available\"}",
    );
}
