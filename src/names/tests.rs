use super::*;

fn key(name: &str) -> String {
    name_key(name)
        .map(Cow::into_owned)
        .unwrap_or_else(|e| panic!("{name:?}: {e}"))
}

#[test]
fn accepts_letters_and_digits_of_any_script_and_printable_ascii() {
    for name in [
        "alice",
        "Zoë",
        "李小龍",
        "straße",
        "Ωmega",
        "bob_2",
        "a.b-c!",
        "ｂｏｂ",
    ] {
        assert!(name_key(name).is_ok(), "{name:?} refused");
    }
}

#[test]
fn refuses_invisible_direction_changing_and_unassigned_code_points() {
    let refused = [
        ("ali\u{202E}ce", '\u{202E}'), // right-to-left override
        ("a\u{200D}b", '\u{200D}'),    // zero-width joiner, not after a virama
        ("a\u{200B}b", '\u{200B}'),    // zero-width space
        ("\u{FEFF}alice", '\u{FEFF}'), // byte order mark
        ("alice\u{FFFF}", '\u{FFFF}'), // noncharacter
        ("a\u{0378}", '\u{0378}'),     // unassigned
        ("a\u{1E922}", '\u{1E922}'),   // Adlam, a letter since Unicode 9: after 6.3
        ("bob\u{2605}", '\u{2605}'),   // a symbol (black star)
        ("a b", ' '),
        ("a\tb", '\t'),
        ("a\u{7F}", '\u{7F}'),
    ];
    for (name, c) in refused {
        assert_eq!(name_key(name), Err(BadName::Character(c)), "{name:?}");
    }
    // A zero-width non-joiner with nothing before it fails its context rule as a whole.
    assert_eq!(name_key("\u{200C}"), Err(BadName::Refused));
}

#[test]
fn length_counts_the_name_as_typed() {
    assert_eq!(name_key(""), Err(BadName::Length));
    assert!(name_key(&"a".repeat(MAX_NAME_CHARS)).is_ok());
    assert_eq!(
        name_key(&"a".repeat(MAX_NAME_CHARS + 1)),
        Err(BadName::Length)
    );
    // Characters, not bytes: 32 two-byte letters are fine.
    assert!(name_key(&"é".repeat(MAX_NAME_CHARS)).is_ok());
    // Fullwidth letters count as typed, even though each maps to one ASCII letter.
    assert_eq!(
        name_key(&"ａ".repeat(MAX_NAME_CHARS + 1)),
        Err(BadName::Length)
    );
}

#[test]
fn a_right_to_left_name_must_follow_the_bidi_rule() {
    assert!(name_key("שלום").is_ok());
    // A right-to-left label may not start with a European digit.
    assert_eq!(name_key("1שלום"), Err(BadName::Refused));
}

#[test]
fn names_that_look_alike_have_one_key() {
    let pairs = [
        ("straße", "STRASSE"),
        ("ΟΣ", "οσ"),
        ("ος", "ΟΣ"),
        ("ａｌｉｃｅ", "alice"),
        ("Alice", "alice"),
        ("Zoë", "zoe\u{308}"), // composed and decomposed
        ("ẞ", "ss"),
    ];
    for (a, b) in pairs {
        assert_eq!(key(a), key(b), "{a:?} and {b:?}");
    }
    assert_ne!(key("alice"), key("alicf"));
}

#[test]
fn rfc_8265_alone_only_lower_cases_so_folding_is_what_joins_them() {
    let enforce = |name| UsernameCaseMapped::enforce(name).map(Cow::into_owned);
    assert_ne!(enforce("straße"), enforce("STRASSE"));
    // The profile lower-cases one character at a time, so "ΟΣ" becomes "οσ"; a final sigma
    // typed as such ("ος") is still another name until folding.
    assert_ne!(enforce("ος"), enforce("οσ"));
}

#[test]
fn a_lower_case_ascii_name_is_its_own_key_without_a_copy() {
    assert!(matches!(name_key("alice"), Ok(Cow::Borrowed("alice"))));
}

#[test]
fn the_ascii_fast_path_agrees_with_the_profile() {
    for b in 0x21u8..=0x7E {
        let name = format!("x{}y", b as char);
        let slow = UsernameCaseMapped::enforce(name.as_str()).map(|k| fold(&k));
        assert_eq!(slow.as_deref(), Ok(key(&name).as_str()), "{name:?}");
    }
}
