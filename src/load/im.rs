//! The im protocol: `REGISTER`, then the group's first member `INVITE`s the others, who
//! `JOIN`; messages are `SEND_MESSAGE` and come back to every member, the sender included,
//! as `MESSAGE`.

use crate::protocol::{cmd, split_command, ConvId, Password, PresenceMode, Reply, Request};

use super::proto::{Event, Member, Protocol};
use super::Settings;

/// Our own protocol (see `docs/protocol.md`).
#[derive(Debug, Default, Clone)]
pub struct Im {
    /// The server's password (`--password-file`), sent with every `REGISTER`.
    pub password: Option<Password>,
}

impl Im {
    /// The protocol as a run's settings want it spoken.
    pub fn of(settings: &Settings) -> Im {
        Im {
            password: settings.password.clone(),
        }
    }
}

impl Protocol for Im {
    /// Whether the answer to `REGISTER` has arrived.
    type State = bool;
    const ECHOES: bool = true;

    fn login(&self, name: &str, presence: PresenceMode) -> Vec<u8> {
        Request::Register {
            name: name.to_string(),
            status: None,
            presence: Some(presence),
            password: self.password.clone(),
        }
        .encode()
    }

    fn form(&self, me: Member<'_>, names: &[String]) -> Option<Vec<u8>> {
        let others = names
            .iter()
            .filter(|n| n.as_str() != me.name)
            .cloned()
            .collect();
        me.leader.then(|| Request::Invite(others).encode())
    }

    fn accept(&self, conv: u64) -> Vec<u8> {
        Request::Join(conv).encode()
    }

    fn message(&self, conv: u64, text: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(&Request::SendMessage(conv, text.to_string()).encode());
    }

    fn parse<'a>(&self, registered: &'a mut bool, me: &str, line: &'a str) -> Event<'a> {
        // The hot path, one line per delivery: the server writes `MESSAGE [..]` with one
        // space and no padding, so the text is found without trimming, splitting or JSON.
        if let Some(text) = line.strip_prefix("MESSAGE ").and_then(message_text) {
            return Event::Message(text);
        }
        let Some((word, args)) = split_command(line) else {
            return Event::Other;
        };
        match word {
            // The hot path: one per delivery, so the text is found without decoding JSON.
            cmd::MESSAGE => args.and_then(message_text).map_or_else(
                || Event::Error(format!("unreadable message: {line}")),
                Event::Message,
            ),
            // The first snapshot naming this client answers its `REGISTER`; the rest are
            // presence traffic.
            cmd::ONLINE_USERS if !*registered => match Reply::parse(line) {
                Ok(Reply::OnlineUsers(users)) if users.contains_key(me) => {
                    *registered = true;
                    Event::Registered
                }
                _ => Event::Presence,
            },
            cmd::ONLINE_USERS | cmd::PRESENCE => Event::Presence,
            _ => match Reply::parse(line) {
                Ok(Reply::Invitation { conv, from }) => Event::Invited {
                    conv,
                    by_me: from == me,
                },
                Ok(Reply::Conversations(map)) if joined(&map, me) => Event::Joined,
                Ok(Reply::Error(text)) => Event::Error(text),
                Ok(_) => Event::Other,
                Err(e) => Event::Error(e.to_string()),
            },
        }
    }
}

/// The text of `[conv,"from","text"]`, when it needs no unescaping (imload's stamps never
/// do). `None` for anything else.
fn message_text(args: &str) -> Option<&str> {
    let body = args.strip_suffix("\"]")?;
    let start = body.rfind('"')? + 1;
    let text = &body[start..];
    (!text.contains('\\') && body[..start].ends_with(",\"")).then_some(text)
}

/// Whether a `CONVERSATIONS` map lists `me` as a member of some conversation.
fn joined(map: &std::collections::BTreeMap<ConvId, Vec<String>>, me: &str) -> bool {
    map.values().any(|members| members.iter().any(|m| m == me))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses with a fresh state (leaked, so the event may borrow the line; a test's few
    /// bytes).
    fn parse(line: &'static str) -> Event<'static> {
        Im::default().parse(Box::leak(Box::new(false)), "u1", line)
    }

    #[test]
    fn lines_mean_what_the_contract_says() {
        assert_eq!(
            parse("ONLINE_USERS {\"u1\":\"available\"}"),
            Event::Registered
        );
        assert_eq!(
            parse("ONLINE_USERS {\"u2\":\"available\"}"),
            Event::Presence
        );
        assert_eq!(parse("PRESENCE {\"u2\":null}"), Event::Presence);
        assert_eq!(
            parse("INVITATION [3,\"u1\"]"),
            Event::Invited {
                conv: 3,
                by_me: true
            }
        );
        assert_eq!(
            parse("INVITATION [3,\"u0\"]"),
            Event::Invited {
                conv: 3,
                by_me: false
            }
        );
        assert_eq!(
            parse("CONVERSATIONS {\"3\":[\"u0\",\"u1\"]}"),
            Event::Joined
        );
        assert_eq!(parse("CONVERSATIONS {\"3\":[\"u0\"]}"), Event::Other);
        assert_eq!(
            parse("MESSAGE [3,\"u0\",\"s0.1.2.3.xx\"]"),
            Event::Message("s0.1.2.3.xx")
        );
        assert_eq!(parse("ERROR \"JOIN: no\""), Event::Error("JOIN: no".into()));
    }

    #[test]
    fn only_the_first_snapshot_naming_the_client_answers_its_register() {
        let mut registered = false;
        let snapshot = "ONLINE_USERS {\"u1\":\"available\"}";
        assert_eq!(
            Im::default().parse(&mut registered, "u1", snapshot),
            Event::Registered
        );
        assert_eq!(
            Im::default().parse(&mut registered, "u1", snapshot),
            Event::Presence
        );
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        for junk in [
            "MESSAGE",
            "MESSAGE [3,\"u0\",\"a\\\"b\"]",
            "MESSAGE \"]",
            "WHAT [1]",
        ] {
            assert!(matches!(parse(junk), Event::Error(_)), "{junk}");
        }
    }

    #[test]
    fn the_leader_invites_the_others_and_members_wait() {
        let names = vec!["u0".to_string(), "u1".to_string()];
        let leader = Member {
            name: "u0",
            group: 0,
            leader: true,
        };
        assert_eq!(
            Im::default().form(leader, &names),
            Some(b"INVITE [\"u1\"]\n".to_vec())
        );
        assert_eq!(
            Im::default().form(
                Member {
                    name: "u1",
                    group: 0,
                    leader: false
                },
                &names
            ),
            None
        );
        let mut out = Vec::new();
        Im::default().message(3, "hi", &mut out);
        assert_eq!(out, b"SEND_MESSAGE [3,\"hi\"]\n");
    }
}
