//! What a run counts: the stamp in every message, per-sender sequence tracking (loss,
//! duplicates, reordering) and latency histograms.

use std::collections::{BTreeSet, HashMap};

use hdrhistogram::Histogram;

use super::series::Series;

/// Highest latency the histograms hold, in microseconds (one minute); anything slower is
/// recorded as this. A run lasts seconds, so only a wedged server gets near it.
const MAX_LATENCY_US: u64 = 60_000_000;

/// Significant decimal digits the histograms keep: 0.1 % resolution, the usual choice.
const SIGNIFICANT_DIGITS: u8 = 3;

/// What each message carries: who sent it, its number in that sender's sequence, when it
/// was due and when it was actually queued (microseconds since sending started, so their
/// length does not depend on how long setup took). As text:
/// `s<sender>.<seq>.<due>.<queued>.` padded with `x` to the message size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub sender: u32,
    pub seq: u32,
    pub due_us: u64,
    pub queued_us: u64,
}

impl Stamp {
    /// Writes the stamp into `out` (cleared first), padded to `size` bytes.
    pub fn encode(&self, size: usize, out: &mut String) {
        use std::fmt::Write;
        out.clear();
        let _ = write!(
            out,
            "s{}.{}.{}.{}.",
            self.sender, self.seq, self.due_us, self.queued_us
        );
        let pad = size.saturating_sub(out.len());
        out.extend(std::iter::repeat_n('x', pad));
    }

    /// Reads a stamp back; `None` if the text is not one.
    pub fn decode(text: &str) -> Option<Stamp> {
        // Read once per delivery, so in one pass over the bytes: four numbers, each ended
        // by a `.` (or, for the last, the end of the text).
        let mut numbers = [0u64; 4];
        let (mut at, mut digits) = (0, 0);
        for &b in text.strip_prefix('s')?.as_bytes() {
            match b {
                b'0'..=b'9' if digits < MAX_DIGITS => {
                    numbers[at] = numbers[at] * 10 + u64::from(b - b'0');
                    digits += 1;
                }
                b'.' if digits > 0 => {
                    at += 1;
                    if at == numbers.len() {
                        break;
                    }
                    digits = 0;
                }
                _ => return None,
            }
        }
        if at < numbers.len() - 1 || (at == numbers.len() - 1 && digits == 0) {
            return None;
        }
        let [sender, seq, due_us, queued_us] = numbers;
        Some(Stamp {
            sender: u32::try_from(sender).ok()?,
            seq: u32::try_from(seq).ok()?,
            due_us,
            queued_us,
        })
    }
}

/// Digits a stamp's number has at most: any 19-digit number fits a `u64`.
const MAX_DIGITS: usize = 19;

/// How one delivery relates to those before it from the same sender to the same receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next in sequence, or ahead of it (the ones skipped are noted as missing).
    New,
    /// One that had been skipped arrived late: reordered.
    Late,
    /// Already received: a duplicate.
    Duplicate,
}

/// Sequence numbers: handed out per sender, and tracked per (receiver, sender) pair. Every
/// receiver and sender share a group, so the state is one counter per pair within a group:
/// N × K counters.
#[derive(Debug)]
pub struct Tracker {
    members: usize,
    /// Messages sent so far, per sender: the next sequence number to hand out.
    sent: Vec<u32>,
    /// Next expected sequence number, at `receiver * members + sender % members`.
    next: Vec<u32>,
    /// Sequence numbers skipped and not yet received, per pair. Empty on a healthy run, so
    /// a map costs nothing until something goes wrong.
    missing: HashMap<(usize, usize), BTreeSet<u32>>,
}

impl Tracker {
    pub fn new(clients: usize, members: usize) -> Tracker {
        Tracker {
            members,
            sent: vec![0; clients],
            next: vec![0; clients * members],
            missing: HashMap::new(),
        }
    }

    /// The sequence number of `sender`'s next message.
    pub fn next_seq(&mut self, sender: usize) -> u32 {
        let seq = self.sent[sender];
        self.sent[sender] += 1;
        seq
    }

    /// Whether a stamp can be genuine at `receiver`: from a client of its group, numbered
    /// below what that client has sent. Anything else (a garbled or foreign stamp) would
    /// corrupt the tracking, and an absurd sequence number would make it note billions of
    /// numbers as missing.
    pub fn plausible(&self, receiver: usize, sender: usize, seq: u32) -> bool {
        receiver / self.members == sender / self.members
            && self.sent.get(sender).is_some_and(|&sent| seq < sent)
    }

    /// Notes a delivery, which must be plausible (see [`Tracker::plausible`]).
    pub fn arrive(&mut self, receiver: usize, sender: usize, seq: u32) -> Arrival {
        let slot = receiver * self.members + sender % self.members;
        let next = self.next[slot];
        if seq >= next {
            if seq > next {
                self.missing
                    .entry((receiver, sender))
                    .or_default()
                    .extend(next..seq);
            }
            self.next[slot] = seq + 1;
            return Arrival::New;
        }
        let late = self
            .missing
            .get_mut(&(receiver, sender))
            .is_some_and(|set| set.remove(&seq));
        if late {
            Arrival::Late
        } else {
            Arrival::Duplicate
        }
    }
}

/// Everything counted during a run.
#[derive(Debug)]
pub struct Stats {
    /// Latency from the time each message was due (coordinated omission corrected), µs.
    pub corrected: Histogram<u64>,
    /// Latency from the time each message was actually queued, µs.
    pub uncorrected: Histogram<u64>,
    /// Messages sent, all of them; those due in the warmup, and in the measured window.
    pub sent: u64,
    pub sent_warmup: u64,
    pub sent_measured: u64,
    /// Messages received by a member other than their sender, each counted once.
    pub delivered: u64,
    /// Of those, received during the warmup, and inside the measured window.
    pub delivered_warmup: u64,
    pub delivered_measured: u64,
    /// The measured window second by second.
    pub series: Series,
    /// A sender receiving its own message (im and Redis), each counted once.
    pub echoes: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Messages received that are not imload's, or from outside the receiver's group.
    pub strays: u64,
    /// Bytes of message lines, of presence lines, and of everything else received.
    pub message_bytes: u64,
    pub message_bytes_measured: u64,
    pub presence_bytes: u64,
    pub other_bytes: u64,
    /// Error lines from the server, connections it closed.
    pub errors: u64,
    pub closed: u64,
    /// The first few error texts, for the report.
    pub error_samples: Vec<String>,
}

/// Error texts kept for the report: enough to see what went wrong, not a flood.
pub const ERROR_SAMPLES: usize = 5;

impl Stats {
    pub fn new() -> Stats {
        let histogram = || {
            Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
                .expect("constant histogram bounds are valid")
        };
        Stats {
            corrected: histogram(),
            uncorrected: histogram(),
            sent: 0,
            sent_warmup: 0,
            sent_measured: 0,
            delivered: 0,
            delivered_warmup: 0,
            delivered_measured: 0,
            series: Series::new(histogram()),
            echoes: 0,
            duplicates: 0,
            reordered: 0,
            strays: 0,
            message_bytes: 0,
            message_bytes_measured: 0,
            presence_bytes: 0,
            other_bytes: 0,
            errors: 0,
            closed: 0,
            error_samples: Vec::new(),
        }
    }

    /// Counts an error, keeping its text if it is one of the first.
    pub fn error(&mut self, text: impl Into<String>) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(text.into());
        }
    }
}

impl Default for Stats {
    fn default() -> Stats {
        Stats::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_pad_to_size() {
        let stamp = Stamp {
            sender: 12,
            seq: 3,
            due_us: 1_000_000,
            queued_us: 1_000_250,
        };
        let mut text = String::new();
        stamp.encode(40, &mut text);
        assert_eq!(text.len(), 40);
        assert!(text.starts_with("s12.3.1000000.1000250.x"));
        assert_eq!(Stamp::decode(&text), Some(stamp));
        stamp.encode(1, &mut text);
        assert_eq!(
            Stamp::decode(&text),
            Some(stamp),
            "a small size never cuts the stamp"
        );
        for junk in [
            "",
            "s",
            "s1.2",
            "x1.2.3.4.",
            "s1.-2.3.4.",
            "s99999999999.1.1.1.",
            "s+1.2.3.4.",
            "s1..3.4.",
            "s1.2.3.99999999999999999999.",
        ] {
            assert_eq!(Stamp::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn tracker_tells_loss_reordering_and_duplicates_apart() {
        let mut t = Tracker::new(4, 2);
        for _ in 0..3 {
            t.next_seq(0);
        }
        assert_eq!(t.next_seq(2), 0);
        assert!(
            t.plausible(1, 0, 2) && !t.plausible(1, 0, 3),
            "0 sent only 3"
        );
        assert!(
            !t.plausible(2, 1, 0) && !t.plausible(0, 9, 0),
            "other group, no client"
        );
        assert_eq!(t.arrive(1, 0, 0), Arrival::New);
        assert_eq!(t.arrive(1, 0, 2), Arrival::New, "1 skipped");
        assert_eq!(t.arrive(1, 0, 1), Arrival::Late);
        assert_eq!(t.arrive(1, 0, 1), Arrival::Duplicate);
        assert_eq!(t.arrive(1, 0, 2), Arrival::Duplicate);
        assert_eq!(t.arrive(0, 0, 0), Arrival::New, "pairs are tracked apart");
        assert_eq!(t.arrive(3, 2, 0), Arrival::New);
    }
}
