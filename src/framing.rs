//! Line framing: a pure function from bytes to the next line.
//!
//! The protocol is one message per `\n`-terminated UTF-8 line. [`next_line`] looks at
//! the bytes a connection has received but not yet consumed and says one of three things:
//!
//! * `Ok(Some((line, used)))`: a complete line (without `\n` or a `\r` before it), and how
//!   many bytes of the input it used, so the caller advances its cursor by `used`;
//! * `Ok(None)`: no complete line yet, read more bytes (this is not an error);
//! * `Err(FrameError)`: a framing violation; the connection must be closed.
//!
//! It never copies and never allocates, so the server can run it once per line straight
//! over its read buffer, and the client and the load generator reuse it unchanged.
//!
//! [`next_line_after`] is the same function told how much of the input is already known to
//! hold no `\n`: a caller that remembers where the last search stopped (as
//! [`crate::buffer::ReadBuf`] does) then looks at each byte once, however slowly a long line
//! arrives. Without that, a 64 KiB tail growing one byte at a time is searched from its
//! start on every byte: 64 KiB of work per byte received.

use std::fmt;

/// A framing violation: after one of these, nothing more on the connection can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The line (or a tail with no `\n` yet) is longer than the limit, in bytes.
    TooLong { limit: usize },
    /// The line is not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { limit } => write!(f, "line longer than {limit} bytes"),
            FrameError::NotUtf8 => f.write_str("line is not UTF-8"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Finds the next complete line in `buf`.
///
/// `max_line` bounds the line's content, its `\r\n` or `\n` terminator not counted. The
/// bound also applies to a tail that has no `\n` yet: without that, a peer that never sends
/// a newline would make the server buffer forever.
pub fn next_line(buf: &[u8], max_line: usize) -> Result<Option<(&str, usize)>, FrameError> {
    next_line_after(buf, 0, max_line)
}

/// [`next_line`], for a caller that knows the first `scanned` bytes of `buf` hold no `\n`
/// (they were searched before): only the bytes after them are searched. When the answer is
/// `Ok(None)`, all of `buf` has been searched, so the caller's next `scanned` is `buf.len()`.
/// A `scanned` past the end is taken as the end.
pub fn next_line_after(
    buf: &[u8],
    scanned: usize,
    max_line: usize,
) -> Result<Option<(&str, usize)>, FrameError> {
    let from = scanned.min(buf.len());
    // memchr searches a word (or a vector register) at a time: this search is the whole
    // cost of cutting lines, for the server and for imload alike.
    let found = memchr::memchr(b'\n', &buf[from..]);
    let Some(newline) = found.map(|at| from + at) else {
        // A tail of exactly `max_line + 1` bytes ending in `\r` may still be a legal line
        // whose `\n` has not arrived yet.
        let content = buf.len() - usize::from(buf.last() == Some(&b'\r'));
        return if content > max_line {
            Err(FrameError::TooLong { limit: max_line })
        } else {
            Ok(None)
        };
    };
    let line = &buf[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > max_line {
        return Err(FrameError::TooLong { limit: max_line });
    }
    let line = std::str::from_utf8(line).map_err(|_| FrameError::NotUtf8)?;
    Ok(Some((line, newline + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_input_asks_for_more() {
        assert_eq!(next_line(b"", 10), Ok(None));
        assert_eq!(next_line(b"REGISTER", 10), Ok(None));
    }

    #[test]
    fn returns_one_line_and_the_bytes_it_used() {
        let buf = b"GOODBYE\nLIST";
        assert_eq!(next_line(buf, 64), Ok(Some(("GOODBYE", 8))));
        assert_eq!(next_line(&buf[8..], 64), Ok(None));
    }

    #[test]
    fn strips_crlf_and_returns_empty_lines() {
        assert_eq!(next_line(b"A\r\nB\n", 64), Ok(Some(("A", 3))));
        assert_eq!(next_line(b"\n", 64), Ok(Some(("", 1))));
        assert_eq!(next_line(b"\r\n", 64), Ok(Some(("", 2))));
    }

    #[test]
    fn only_the_last_cr_is_dropped() {
        assert_eq!(next_line(b"A\r\r\n", 64), Ok(Some(("A\r", 4))));
    }

    #[test]
    fn line_at_the_limit_is_accepted_and_one_more_byte_is_not() {
        assert_eq!(next_line(b"abcd\n", 4), Ok(Some(("abcd", 5))));
        assert_eq!(next_line(b"abcd\r\n", 4), Ok(Some(("abcd", 6))));
        assert_eq!(
            next_line(b"abcde\n", 4),
            Err(FrameError::TooLong { limit: 4 })
        );
    }

    #[test]
    fn unterminated_tail_is_bounded_too() {
        assert_eq!(next_line(b"abcd", 4), Ok(None));
        assert_eq!(next_line(b"abcd\r", 4), Ok(None));
        assert_eq!(
            next_line(b"abcde", 4),
            Err(FrameError::TooLong { limit: 4 })
        );
        assert_eq!(
            next_line(b"abcd\r\r", 4),
            Err(FrameError::TooLong { limit: 4 })
        );
    }

    #[test]
    fn invalid_utf8_is_a_violation_but_multibyte_text_is_fine() {
        assert_eq!(next_line(b"\xff\xfe\n", 64), Err(FrameError::NotUtf8));
        assert_eq!(
            next_line("h\u{e9}\n".as_bytes(), 64),
            Ok(Some(("h\u{e9}", 4)))
        );
    }

    #[test]
    fn the_bytes_already_scanned_are_not_searched_again() {
        // A `\n` inside the scanned prefix breaks the caller's promise, which shows that the
        // prefix is not looked at: only the `\n` after it is found.
        assert_eq!(next_line_after(b"A\nB\n", 2, 64), Ok(Some(("A\nB", 4))));
        assert_eq!(next_line_after(b"A\nBC", 2, 64), Ok(None));
        assert_eq!(next_line_after(b"AB\n", 0, 64), Ok(Some(("AB", 3))));
        assert_eq!(next_line_after(b"AB\n", 9, 64), Ok(None), "past the end");
    }

    #[test]
    fn the_tail_limit_holds_whatever_was_scanned() {
        assert_eq!(
            next_line_after(b"abcde", 5, 4),
            Err(FrameError::TooLong { limit: 4 })
        );
        assert_eq!(next_line_after(b"abcd\r", 4, 4), Ok(None));
        assert_eq!(
            next_line_after(b"abcde\n", 3, 4),
            Err(FrameError::TooLong { limit: 4 })
        );
    }

    #[test]
    fn a_line_split_anywhere_is_found_once_the_newline_arrives() {
        let all = b"SEND_MESSAGE [1,\"hi\"]\n";
        for cut in 0..all.len() {
            assert_eq!(next_line(&all[..cut], 64), Ok(None), "cut at {cut}");
        }
        assert_eq!(
            next_line(all, 64),
            Ok(Some(("SEND_MESSAGE [1,\"hi\"]", all.len())))
        );
    }
}
