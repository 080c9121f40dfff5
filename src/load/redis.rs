//! Redis pub/sub over RESP3: `HELLO 3`, `SUBSCRIBE conv:<g>`, `PUBLISH conv:<g> text`.
//!
//! In RESP3 a subscribed connection may still send commands, so each client publishes and
//! subscribes on its one connection, and (being subscribed) receives its own messages too,
//! as an im client does.
//!
//! RESP frames are read line by line, through the project's line framer: every RESP header
//! ends in `\r\n`, and so does a bulk string's data. A bulk string whose data holds a `\n`
//! would span lines; [`RespReader`] notices (the line's length is not the announced one)
//! and reports it. imload never sends such data, and Redis's answers to the commands it
//! uses hold none.

use std::fmt;

use crate::protocol::PresenceMode;

use super::proto::{Event, Member, Protocol};

/// Aggregates nested deeper than this are refused: Redis's replies to imload's commands
/// nest two levels, and a bound keeps a hostile server from growing the stack of open
/// aggregates without limit.
const MAX_DEPTH: usize = 8;

/// Elements one frame may hold. `HELLO` answers with about twenty; a bound keeps a hostile
/// server from making the reader store an endless frame.
const MAX_ELEMENTS: usize = 1024;

/// A RESP reply that imload cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespError(pub String);

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad RESP: {}", self.0)
    }
}

/// One complete top-level frame: its type byte (`>` push, `*` array, `%` map, `:` integer,
/// `+` simple string, `-` error, ...) and its scalar elements in order, flattened.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: u8,
    pub items: &'a [String],
}

/// Reassembles RESP3 frames from lines.
#[derive(Debug, Default)]
pub struct RespReader {
    /// Elements still expected by each open aggregate, innermost last.
    open: Vec<usize>,
    /// The announced length of the bulk string whose data is the next line.
    bulk: Option<usize>,
    /// Type byte of the frame being read.
    kind: u8,
    /// Scalars of the frame so far; the strings are reused from frame to frame, so a
    /// steady stream of messages allocates nothing.
    items: Vec<String>,
    used: usize,
}

impl RespReader {
    /// Takes one line (without `\r\n`). `Ok(None)`: the frame goes on.
    pub fn feed(&mut self, line: &str) -> Result<Option<Frame<'_>>, RespError> {
        let result = self.step(line);
        if result.is_err() {
            self.reset();
        }
        match result? {
            true => {
                let frame = Frame {
                    kind: self.kind,
                    items: &self.items[..self.used],
                };
                Ok(Some(frame))
            }
            false => Ok(None),
        }
    }

    /// Whether the frame is complete after this line.
    fn step(&mut self, line: &str) -> Result<bool, RespError> {
        if let Some(len) = self.bulk.take() {
            if line.len() != len {
                return Err(RespError(format!(
                    "bulk data of {} bytes, {len} announced",
                    line.len()
                )));
            }
            self.push_item(line)?;
            return Ok(self.close_element());
        }
        // The line framer drops empty lines, so the empty data of `$0` never arrives (it is
        // completed below, with its header); an empty line here carries nothing.
        let Some(&kind) = line.as_bytes().first() else {
            return Ok(false);
        };
        if self.open.is_empty() {
            self.used = 0;
            self.kind = kind;
        }
        let rest = line.get(1..).unwrap_or("");
        let count = || {
            rest.parse::<i64>()
                .map_err(|_| RespError(format!("bad length {rest:?}")))
        };
        match kind {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => {
                self.push_item(rest)?;
                Ok(self.close_element())
            }
            b'$' | b'=' | b'!' => match count()? {
                n if n <= 0 => {
                    self.push_item("")?;
                    Ok(self.close_element())
                }
                n => {
                    self.bulk = Some(n as usize);
                    Ok(false)
                }
            },
            b'*' | b'>' | b'~' | b'%' => {
                let n = count()?;
                let n = if kind == b'%' { n.saturating_mul(2) } else { n };
                if n <= 0 {
                    return Ok(self.close_element());
                }
                if self.open.len() == MAX_DEPTH {
                    return Err(RespError(format!("nested deeper than {MAX_DEPTH}")));
                }
                self.open.push(n as usize);
                Ok(false)
            }
            other => Err(RespError(format!(
                "unsupported type byte {:?}",
                other as char
            ))),
        }
    }

    fn push_item(&mut self, text: &str) -> Result<(), RespError> {
        if self.used == MAX_ELEMENTS {
            return Err(RespError(format!("more than {MAX_ELEMENTS} elements")));
        }
        match self.items.get_mut(self.used) {
            Some(item) => {
                item.clear();
                item.push_str(text);
            }
            None => self.items.push(text.to_string()),
        }
        self.used += 1;
        Ok(())
    }

    /// One element is complete: count it off its aggregate, closing every aggregate that
    /// is now full. Returns whether the top-level frame is complete.
    fn close_element(&mut self) -> bool {
        while let Some(left) = self.open.last_mut() {
            *left -= 1;
            if *left > 0 {
                return false;
            }
            self.open.pop();
        }
        true
    }

    fn reset(&mut self) {
        self.open.clear();
        self.bulk = None;
        self.used = 0;
    }
}

/// Encodes a command as a RESP array of bulk strings, appending to `out`.
pub fn encode_command(args: &[&str], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

fn command(args: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(args, &mut out);
    out
}

/// Redis pub/sub, one channel `conv:<g>` per group.
#[derive(Debug, Default, Clone, Copy)]
pub struct Redis;

impl Protocol for Redis {
    type State = RespReader;
    const ECHOES: bool = true;

    fn login(&self, _name: &str, _presence: PresenceMode) -> Vec<u8> {
        command(&["HELLO", "3"])
    }

    fn form(&self, me: Member<'_>, _names: &[String]) -> Option<Vec<u8>> {
        Some(command(&["SUBSCRIBE", &format!("conv:{}", me.group)]))
    }

    fn accept(&self, _conv: u64) -> Vec<u8> {
        Vec::new()
    }

    fn message(&self, conv: u64, text: &str, out: &mut Vec<u8>) {
        encode_command(&["PUBLISH", &format!("conv:{conv}"), text], out);
    }

    fn parse<'a>(&self, state: &'a mut RespReader, _me: &str, line: &'a str) -> Event<'a> {
        let frame = match state.feed(line) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Event::Partial,
            Err(e) => return Event::Error(e.to_string()),
        };
        match (frame.kind, frame.items) {
            (b'>', [kind, _channel, text]) if kind == "message" => Event::Message(text),
            (b'>', [kind, ..]) if kind == "subscribe" => Event::Joined,
            (b'%', _) => Event::Registered,
            (b'-' | b'!', [text]) => Event::Error(text.clone()),
            _ => Event::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a whole RESP text (CRLF-separated) and returns each completed frame.
    fn frames(text: &str) -> Vec<(char, Vec<String>)> {
        let mut reader = RespReader::default();
        let mut out = Vec::new();
        for line in text.strip_suffix("\r\n").unwrap().split("\r\n") {
            if let Some(frame) = reader.feed(line).unwrap() {
                out.push((frame.kind as char, frame.items.to_vec()));
            }
        }
        out
    }

    #[test]
    fn commands_encode_as_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        encode_command(&["PUBLISH", "conv:1", "hi"], &mut out);
        assert_eq!(out, b"*3\r\n$7\r\nPUBLISH\r\n$6\r\nconv:1\r\n$2\r\nhi\r\n");
        assert_eq!(
            command(&["HELLO", "3"]),
            b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"
        );
    }

    #[test]
    fn push_messages_and_scalars_come_out_whole() {
        let got = frames(">3\r\n$7\r\nmessage\r\n$6\r\nconv:1\r\n$2\r\nhi\r\n:5\r\n+OK\r\n");
        assert_eq!(
            got[0],
            ('>', vec!["message".into(), "conv:1".into(), "hi".into()])
        );
        assert_eq!(got[1], (':', vec!["5".into()]));
        assert_eq!(got[2], ('+', vec!["OK".into()]));
    }

    #[test]
    fn nested_maps_and_empty_or_null_aggregates_close_correctly() {
        let hello = "%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n\
                     $7\r\nmodules\r\n*0\r\n_\r\n";
        let got = frames(hello);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, '%');
        assert_eq!(got[0].1, ["server", "redis", "proto", "3", "modules"]);
        assert_eq!(got[1].0, '_');
        assert_eq!(frames("*-1\r\n$-1\r\n").len(), 2);
    }

    #[test]
    fn frames_mean_events() {
        let mut state = RespReader::default();
        let mut last = Event::Other;
        for line in [">3", "$7", "message", "$6", "conv:1", "$5", "s1.2x"] {
            last = Redis.parse(&mut state, "u1", line);
        }
        assert_eq!(last, Event::Message("s1.2x"));
        for line in [">3", "$9", "subscribe", "$6", "conv:1", ":1"] {
            last = Redis.parse(&mut state, "u1", line);
        }
        assert_eq!(last, Event::Joined);
        assert_eq!(
            Redis.parse(&mut state, "u1", "-ERR no"),
            Event::Error("ERR no".into())
        );
        assert_eq!(Redis.parse(&mut state, "u1", ":2"), Event::Other);
    }

    #[test]
    fn malformed_input_is_an_error_and_the_reader_recovers() {
        let mut reader = RespReader::default();
        assert_eq!(reader.feed("").unwrap(), None);
        for junk in ["?x", "$abc", "*x", "\u{e9}x"] {
            assert!(reader.feed(junk).is_err(), "{junk:?}");
        }
        assert_eq!(reader.feed("$3").unwrap(), None);
        assert!(
            reader.feed("toolong").is_err(),
            "data longer than announced"
        );
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1);
        let mut reader = RespReader::default();
        let errors = deep
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .filter(|l| reader.feed(l).is_err());
        assert_eq!(errors.count(), 1);
        assert_eq!(reader.feed("+OK").unwrap().map(|f| f.kind), Some(b'+'));
    }
}
