//! The server password (`imserver --password-file`, `imclient --password-file`): read from a
//! file, so it never shows in `ps`; never printed; compared in constant time.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A password: the server's secret, or the one a client sends in its `REGISTER` options.
/// Its `Debug` never shows it, and `==` takes the same time wherever the two differ.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    /// The password in `path`: the file's contents with one trailing `\n` or `\r\n` taken
    /// off (what `echo secret > FILE` and editors leave). `Err` says why not, without the
    /// contents: unreadable, not UTF-8 (it travels as a JSON string), or empty.
    pub fn read_file(path: &Path) -> Result<Password, String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        let text = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        if text.is_empty() {
            return Err("the file is empty".to_string());
        }
        Ok(Password(text.to_string()))
    }

    /// `--password-file FILE`, for the binaries that take it: `None` when it was not given,
    /// else the password in FILE, or the line to print saying why not.
    pub fn from_flag(file: Option<&Path>) -> Result<Option<Password>, String> {
        file.map(|file| {
            Password::read_file(file)
                .map_err(|why| format!("cannot read --password-file {}: {why}", file.display()))
        })
        .transpose()
    }

    /// The text, for the one place that must send it (a client's `REGISTER`).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this password, in a time that depends on this password's length
    /// and not on where (or whether) `given` differs: a client timing the server's answers
    /// learns nothing of the secret but, at most, its length.
    pub fn matches(&self, given: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), given.as_bytes())
    }
}

/// `secret == given`, reading every byte of `secret` whatever `given` holds, with no branch
/// on their contents. Hand-written: the core build has no crypto crate, and the loop is
/// short enough to check by eye. `black_box` keeps the compiler from turning the
/// accumulated difference back into an early exit.
fn constant_time_eq(secret: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(secret.len() != given.len());
    for (i, s) in secret.iter().enumerate() {
        // Past the end of `given` a zero is compared: the length check above already failed.
        let g = given.get(i).copied().unwrap_or(0);
        diff = std::hint::black_box(diff | (s ^ g));
    }
    diff == 0
}

/// Constant-time too, so no `==` anywhere can leak the secret.
impl PartialEq for Password {
    fn eq(&self, other: &Password) -> bool {
        self.matches(&other.0)
    }
}

impl Eq for Password {}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(hidden)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_every_byte_and_the_length_agree() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(constant_time_eq(b"", b""));
        for other in [
            &b"s3creT"[..],
            b"S3cret",
            b"s3cre",
            b"s3cret!",
            b"",
            b"s3cret\0",
        ] {
            assert!(!constant_time_eq(b"s3cret", other), "{other:?}");
        }
        // A prefix padded with the zeros compared past its end is still too short.
        assert!(!constant_time_eq(b"ab\0", b"ab"));
        assert!(Password::new("x").matches("x"));
        assert!(!Password::new("x").matches("y"));
    }

    #[test]
    fn debug_never_shows_it() {
        let shown = format!("{:?}", Some(Password::new("hunter2")));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_file_loses_one_line_ending_and_must_not_be_empty() {
        let dir = std::env::temp_dir().join(format!("imchat-password-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let read = |name: &str, contents: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, contents).unwrap();
            Password::read_file(&path).map(|p| p.expose().to_string())
        };
        assert_eq!(read("lf", b"s3cret\n"), Ok("s3cret".into()));
        assert_eq!(read("crlf", b"s3cret\r\n"), Ok("s3cret".into()));
        assert_eq!(read("bare", b"s3cret"), Ok("s3cret".into()));
        assert_eq!(read("two", b"s3cret\n\n"), Ok("s3cret\n".into()));
        assert_eq!(read("spaces", b" s3 \n"), Ok(" s3 ".into()));
        assert!(read("empty", b"").is_err());
        assert!(read("newline", b"\n").is_err());
        assert!(read("binary", b"\xff\xfe\n").is_err());
        assert!(Password::read_file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
