//! A small random generator (xorshift64): deterministic from its seed, so a failing random
//! test can be replayed, and enough for spreading the server's announcements in time
//! (`event_loop/announce.rs`), which need spread, not secrecy.

#[derive(Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
