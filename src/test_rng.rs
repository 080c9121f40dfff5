//! A small deterministic random generator for tests (xorshift64), so a failing random
//! sequence can be replayed from its seed.

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
