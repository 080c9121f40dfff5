//! Turning what a run did into the text of an excerpt: a protocol exchange (`>` sent,
//! `<` received, notes in a column), the README's two columns of `nc` sessions, and a
//! window of the server's log with notes.

#[cfg(feature = "web")]
use crate::common::ws::WsClient;
use crate::common::Client;

/// The column where notes start, as in the hand-written docs before them.
const NOTE_COLUMN: usize = 45;

/// Pads `line` to `column` (at least two spaces) and appends `note`.
fn with_note_at(line: &str, note: &str, column: usize) -> String {
    let width = line.chars().count();
    let pad = if width + 2 <= column {
        column - width
    } else {
        2
    };
    format!("{line}{}{note}", " ".repeat(pad))
}

fn with_note(line: &str, note: &str) -> String {
    with_note_at(line, note, NOTE_COLUMN)
}

/// A protocol exchange: every `>` line is one the scenario sent, every `<` line one a
/// client really received, in the order they happened.
#[derive(Default)]
pub struct Transcript {
    lines: Vec<String>,
}

impl Transcript {
    /// Sends `line` and records `> line`.
    pub fn send(&mut self, client: &mut Client, line: &str) -> &mut Self {
        self.send_shown(client, line, line)
    }

    /// Sends `line` but records `> shown`: for a line too long to print (the note must say
    /// what was cut).
    pub fn send_shown(&mut self, client: &mut Client, line: &str, shown: &str) -> &mut Self {
        client.send(line);
        self.lines.push(format!("> {shown}"));
        self
    }

    /// Sends `line` as one WebSocket text frame and records `> line`.
    #[cfg(feature = "web")]
    pub fn send_frame(&mut self, client: &mut WsClient, line: &str) -> &mut Self {
        client.send(line);
        self.lines.push(format!("> {}", line.replace('\n', "\\n")));
        self
    }

    /// Receives the next WebSocket text frame and records it.
    #[cfg(feature = "web")]
    pub fn recv_frame(&mut self, client: &mut WsClient) -> &mut Self {
        let line = client.recv();
        self.lines.push(format!("< {line}"));
        self
    }

    /// Receives the next line and records it.
    pub fn recv(&mut self, client: &mut Client) -> &mut Self {
        let line = client.recv();
        self.lines.push(format!("< {line}"));
        self
    }

    /// Receives the next line, which must be `expected` (a scenario that relies on a line
    /// says so; the excerpt then shows it), and records it.
    pub fn recv_exactly(&mut self, client: &mut Client, expected: &str) -> &mut Self {
        let line = client.recv();
        assert_eq!(line, expected, "the scenario expected another line");
        self.lines.push(format!("< {line}"));
        self
    }

    /// Puts a note in the column beside the last line.
    pub fn note(&mut self, note: &str) -> &mut Self {
        let last = self.lines.pop().expect("a line to note");
        self.lines.push(with_note(&last, note));
        self
    }

    /// A line the scenario wrote some other way (bytes that are not UTF-8, say), as it is
    /// to be shown, with a note saying what was really sent.
    pub fn aside_shown(&mut self, shown: &str, note: &str) -> &mut Self {
        self.lines.push(with_note(shown, note));
        self
    }

    /// The last line received, without its `< `.
    pub fn last_received(&self) -> String {
        let last = self.lines.iter().rev().find(|l| l.starts_with("< "));
        let last = last.expect("a line received");
        last[2..].split("  ").next().unwrap_or_default().to_string()
    }

    /// A line of its own saying what happens meanwhile: `  (text)`.
    pub fn aside(&mut self, text: &str) -> &mut Self {
        self.lines.push(format!("  ({text})"));
        self
    }

    /// A note alone in the note column: something another client receives.
    pub fn aside_in_column(&mut self, text: &str) -> &mut Self {
        self.lines.push(with_note("", text));
        self
    }

    pub fn render(&self) -> String {
        self.lines.join("\n")
    }
}

/// Two `nc` sessions side by side: left and right columns, one row per event, in the order
/// the events happened; a row with both is two clients receiving the same line.
pub struct Columns {
    rows: Vec<(String, String)>,
}

/// Where the right-hand session starts.
const RIGHT_COLUMN: usize = 43;

impl Columns {
    pub fn new(left_header: &str, right_header: &str) -> Columns {
        Columns {
            rows: vec![(left_header.to_string(), right_header.to_string())],
        }
    }

    /// The left client sends a line (typed, so nc shows it in its terminal).
    pub fn left_sends(&mut self, client: &mut Client, line: &str) {
        client.send(line);
        self.rows.push((line.to_string(), String::new()));
    }

    pub fn right_sends(&mut self, client: &mut Client, line: &str) {
        client.send(line);
        self.rows.push((String::new(), line.to_string()));
    }

    pub fn left_gets(&mut self, client: &mut Client) {
        self.rows.push((client.recv(), String::new()));
    }

    pub fn right_gets(&mut self, client: &mut Client) {
        self.rows.push((String::new(), client.recv()));
    }

    /// Both receive one line each, shown on one row (on two when the left one is too
    /// wide to leave room).
    pub fn both_get(&mut self, left: &mut Client, right: &mut Client) {
        let (left, right) = (left.recv(), right.recv());
        if left.chars().count() < RIGHT_COLUMN {
            self.rows.push((left, right));
        } else {
            self.rows.push((left, String::new()));
            self.rows.push((String::new(), right));
        }
    }

    pub fn render(&self) -> String {
        self.rows
            .iter()
            .map(|(left, right)| {
                if right.is_empty() {
                    left.clone()
                } else {
                    let pad = RIGHT_COLUMN.saturating_sub(left.chars().count()).max(1);
                    format!("{left}{}{right}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A log line with its date cut: `2026-11-25T17:18:21.180Z INFO  [trace] ...` becomes
/// `17:18:21.180Z INFO  [trace] ...` (the time is masked when compared).
pub fn cut_date(line: &str) -> &str {
    match line.split_once('T') {
        Some((date, rest)) if date.len() == 10 && date.as_bytes()[4] == b'-' => rest,
        _ => line,
    }
}

/// A log line with its whole timestamp cut: `INFO  [trace] ...`. Trace excerpts show many
/// lines within a millisecond; their times would say nothing and widen every line.
pub fn cut_timestamp(line: &str) -> &str {
    let rest = cut_date(line);
    match rest.split_once(' ') {
        Some((time, rest)) if time.ends_with('Z') => rest,
        _ => rest,
    }
}

/// Log lines with notes: each `(needle, note)` goes beside the first line after the
/// previous note's line that contains `needle`; a needle not found fails the scenario.
/// Notes line up three columns after the longest noted line.
pub fn annotate(lines: &[String], notes: &[(&str, &str)]) -> String {
    let mut placed = Vec::new();
    let mut from = 0;
    for (needle, note) in notes {
        let at = (from..lines.len())
            .find(|&i| lines[i].contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} to note in {lines:#?}"));
        placed.push((at, *note));
        from = at + 1;
    }
    let column = placed
        .iter()
        .map(|&(at, _)| lines[at].chars().count() + 3)
        .max()
        .unwrap_or(0);
    let mut out: Vec<String> = lines.to_vec();
    for (at, note) in placed {
        out[at] = with_note_at(&lines[at], note, column);
    }
    out.join("\n")
}
