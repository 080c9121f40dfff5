//! IRC: `NICK`/`USER`, `JOIN #c<g>`, `PRIVMSG #c<g> :text`.
//!
//! An IRC server does not send a client its own `PRIVMSG`, so each message reaches the
//! other members only; the driver expects one delivery fewer per message than with im or
//! Redis. The server's `PING`s are answered, or it would drop idle clients.

use crate::protocol::PresenceMode;

use super::proto::{Event, Member, Protocol};

/// One IRC message line, split (RFC 2812 section 2.3.1): an optional `:prefix`, the
/// command, the middle parameters and an optional `:trailing` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcLine<'a> {
    /// The nick (or server name) of the prefix, before any `!user@host`.
    pub source: Option<&'a str>,
    pub command: &'a str,
    pub params: Vec<&'a str>,
    /// The text after ` :`, which may hold spaces.
    pub trailing: Option<&'a str>,
}

/// Splits one line; `None` if it has no command.
pub fn parse_irc(line: &str) -> Option<IrcLine<'_>> {
    let mut rest = line;
    let mut source = None;
    if let Some(prefixed) = rest.strip_prefix(':') {
        let (prefix, after) = prefixed.split_once(' ')?;
        source = Some(prefix.split(['!', '@']).next().unwrap_or(prefix));
        rest = after;
    }
    let (head, trailing) = match rest.split_once(" :") {
        Some((head, trailing)) => (head, Some(trailing)),
        None => (rest, None),
    };
    let mut words = head.split(' ').filter(|w| !w.is_empty());
    let command = words.next()?;
    Some(IrcLine {
        source,
        command,
        params: words.collect(),
        trailing,
    })
}

/// IRC, one channel `#c<g>` per group.
#[derive(Debug, Default, Clone, Copy)]
pub struct Irc;

impl Protocol for Irc {
    type State = ();
    const ECHOES: bool = false;

    fn login(&self, name: &str, _presence: PresenceMode) -> Vec<u8> {
        format!("NICK {name}\r\nUSER {name} 0 * :{name}\r\n").into_bytes()
    }

    fn form(&self, me: Member<'_>, _names: &[String]) -> Option<Vec<u8>> {
        Some(format!("JOIN #c{}\r\n", me.group).into_bytes())
    }

    fn accept(&self, _conv: u64) -> Vec<u8> {
        Vec::new()
    }

    fn message(&self, conv: u64, text: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("PRIVMSG #c{conv} :{text}\r\n").as_bytes());
    }

    fn parse<'a>(&self, _state: &'a mut (), me: &str, line: &'a str) -> Event<'a> {
        let Some(msg) = parse_irc(line) else {
            return Event::Other;
        };
        let is_me = msg.source.is_some_and(|s| s.eq_ignore_ascii_case(me));
        match msg.command {
            "PRIVMSG" => msg.trailing.map_or(Event::Other, Event::Message),
            "PING" => {
                let token = msg.trailing.or(msg.params.first().copied()).unwrap_or("");
                Event::Answer(format!("PONG :{token}\r\n").into_bytes())
            }
            "001" => Event::Registered,
            "JOIN" if is_me => Event::Joined,
            "ERROR" => Event::Error(line.to_string()),
            // Numeric replies 400 to 599 are errors (RFC 2812 section 5.2).
            numeric if numeric.len() == 3 && matches!(numeric.as_bytes()[0], b'4' | b'5') => {
                Event::Error(line.to_string())
            }
            _ => Event::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_into_prefix_command_and_parameters() {
        let line = parse_irc(":u1!~u1@localhost PRIVMSG #c0 :hello there").unwrap();
        assert_eq!(line.source, Some("u1"));
        assert_eq!(line.command, "PRIVMSG");
        assert_eq!(line.params, ["#c0"]);
        assert_eq!(line.trailing, Some("hello there"));
        let ping = parse_irc("PING :irc.example.net").unwrap();
        assert_eq!(
            (ping.source, ping.command, ping.trailing),
            (None, "PING", Some("irc.example.net"))
        );
        let welcome = parse_irc(":srv 001 u1 :Welcome").unwrap();
        assert_eq!(welcome.params, ["u1"]);
        assert_eq!(parse_irc(""), None);
        assert_eq!(parse_irc(":lonely"), None);
    }

    #[test]
    fn commands_encode_with_crlf() {
        assert_eq!(
            Irc.login("u1", PresenceMode::None),
            b"NICK u1\r\nUSER u1 0 * :u1\r\n"
        );
        let me = Member {
            name: "u1",
            group: 4,
            leader: false,
        };
        assert_eq!(Irc.form(me, &[]), Some(b"JOIN #c4\r\n".to_vec()));
        let mut out = Vec::new();
        Irc.message(4, "s1.2", &mut out);
        assert_eq!(out, b"PRIVMSG #c4 :s1.2\r\n");
    }

    #[test]
    fn lines_mean_events() {
        // The state is `()`: leaking it allocates nothing, and lets the event borrow the line.
        let parse = |line: &'static str| Irc.parse(Box::leak(Box::new(())), "u1", line);
        assert_eq!(parse(":srv 001 u1 :Welcome to IRC"), Event::Registered);
        assert_eq!(parse(":u1!~u1@localhost JOIN :#c0"), Event::Joined);
        assert_eq!(parse(":u2!~u2@localhost JOIN :#c0"), Event::Other);
        assert_eq!(
            parse(":u2!~u2@h PRIVMSG #c0 :s2.0.5"),
            Event::Message("s2.0.5")
        );
        assert_eq!(parse("PING :srv"), Event::Answer(b"PONG :srv\r\n".to_vec()));
        assert!(matches!(
            parse(":srv 433 * u1 :Nickname already in use"),
            Event::Error(_)
        ));
        assert_eq!(parse(":srv 353 u1 = #c0 :u1 u2"), Event::Other);
        assert_eq!(parse(":srv NOTICE * :*** Looking up"), Event::Other);
    }
}
