//! Flood control: a token bucket per connection, on lines.
//!
//! A connection may send `burst` lines at once and `per_sec` lines a second after that. One
//! over its rate is simply not read until its next token is due: its lines wait in its read
//! buffer and in the kernel, TCP's window closes, and its sender blocks. Nothing is dropped
//! or reordered, and nobody else slows. The bucket is pure: it is given the loop's `now`.

use std::fmt;
use std::str::FromStr;

/// Default `--max-line-rate`: 50 lines a second. Nobody types that fast, and it is far
/// above what a person's client sends even when it pastes; a script or bot that needs more
/// is run against a server started with the limit raised or `off`.
pub const DEFAULT_LINE_RATE: u32 = 50;

/// Default `--line-burst`: 200 lines at once. A paste of a long text line by line, or a
/// client that invites, joins and asks for lists in a burst after connecting, goes through
/// without waiting; a flood is held to the rate after four seconds' worth of it.
pub const DEFAULT_LINE_BURST: u32 = 200;

/// Tokens are counted in thousandths of a line, so a rate in lines per second refills by
/// a whole number (the rate) every millisecond.
const MILLI: u64 = 1000;

/// A connection's allowance: `per_sec` lines a second, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRate {
    /// Lines per second after the burst; at least 1.
    pub per_sec: u32,
    /// Lines that may arrive at once, and what an idle connection saves up to; at least 1.
    pub burst: u32,
}

impl Default for LineRate {
    fn default() -> LineRate {
        LineRate {
            per_sec: DEFAULT_LINE_RATE,
            burst: DEFAULT_LINE_BURST,
        }
    }
}

/// The value of `--max-line-rate`: lines per second, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateFlag(pub Option<u32>);

impl FromStr for RateFlag {
    type Err = String;

    fn from_str(text: &str) -> Result<RateFlag, String> {
        if text == "off" {
            return Ok(RateFlag(None));
        }
        match text.parse::<u32>() {
            Ok(per_sec) if per_sec > 0 => Ok(RateFlag(Some(per_sec))),
            _ => Err(format!(
                "{text:?} is not a number of lines per second (1 or more) or `off`"
            )),
        }
    }
}

impl fmt::Display for RateFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(per_sec) => write!(f, "{per_sec}"),
            None => f.write_str("off"),
        }
    }
}

/// One connection's tokens. Sixteen bytes; refilled from the pass's `now`, never from a
/// clock of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    /// Tokens, in thousandths of a line.
    credit: u64,
    /// When `credit` was last brought up to date.
    at: u64,
}

impl Bucket {
    /// A new connection's bucket: full, so it starts with a whole burst.
    pub(crate) fn full(rate: LineRate, now: u64) -> Bucket {
        Bucket {
            credit: capacity(rate),
            at: now,
        }
    }

    /// Adds what has accrued since the last refill, up to the burst.
    pub(crate) fn refill(&mut self, rate: LineRate, now: u64) {
        let accrued = now.saturating_sub(self.at).saturating_mul(per_ms(rate));
        self.credit = self.credit.saturating_add(accrued).min(capacity(rate));
        self.at = self.at.max(now);
    }

    /// Whether one more line may be served now.
    pub(crate) fn has_token(&self) -> bool {
        self.credit >= MILLI
    }

    /// Spends one token on a line just served.
    pub(crate) fn spend(&mut self) {
        self.credit = self.credit.saturating_sub(MILLI);
    }

    /// Milliseconds from the last refill until a token is due (at least 1).
    pub(crate) fn ms_until_token(&self, rate: LineRate) -> u64 {
        MILLI
            .saturating_sub(self.credit)
            .div_ceil(per_ms(rate))
            .max(1)
    }
}

fn capacity(rate: LineRate) -> u64 {
    u64::from(rate.burst.max(1)) * MILLI
}

/// Thousandths of a line per millisecond: the rate in lines per second.
fn per_ms(rate: LineRate) -> u64 {
    u64::from(rate.per_sec.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: LineRate = LineRate {
        per_sec: 50,
        burst: 4,
    };

    fn spend_all(bucket: &mut Bucket) -> usize {
        let mut lines = 0;
        while bucket.has_token() {
            bucket.spend();
            lines += 1;
        }
        lines
    }

    #[test]
    fn a_burst_then_the_rate() {
        let mut bucket = Bucket::full(RATE, 1_000);
        assert_eq!(spend_all(&mut bucket), 4, "the burst");
        assert_eq!(bucket.ms_until_token(RATE), 20, "50 a second");
        bucket.refill(RATE, 1_019);
        assert!(!bucket.has_token(), "not a millisecond early");
        bucket.refill(RATE, 1_020);
        assert_eq!(spend_all(&mut bucket), 1);
        bucket.refill(RATE, 1_030);
        assert_eq!(bucket.ms_until_token(RATE), 10, "half a token saved");
        bucket.refill(RATE, 1_070);
        assert_eq!(spend_all(&mut bucket), 2);
    }

    #[test]
    fn an_idle_connection_saves_up_to_the_burst_only() {
        let mut bucket = Bucket::full(RATE, 0);
        spend_all(&mut bucket);
        bucket.refill(RATE, u64::MAX);
        assert_eq!(spend_all(&mut bucket), 4);
        bucket.refill(RATE, 5);
        assert!(!bucket.has_token(), "a clock going backwards adds nothing");
    }

    #[test]
    fn the_flag_is_a_rate_or_off() {
        assert_eq!("50".parse(), Ok(RateFlag(Some(50))));
        assert_eq!("off".parse(), Ok(RateFlag(None)));
        assert!("0".parse::<RateFlag>().is_err());
        assert!("fast".parse::<RateFlag>().is_err());
        assert_eq!(RateFlag(None).to_string(), "off");
        assert_eq!(RateFlag(Some(50)).to_string(), "50");
    }
}
