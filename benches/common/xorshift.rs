//! Deterministic pseudo-random deadlines for `benches/timer.rs` and the timer
//! row of the examples (`examples/common/timer_row.rs`), included with
//! `#[path]` by both.

/// xorshift64 (Marsaglia): the same seed gives the same sequence every run.
pub struct Rng(pub u64);

impl Rng {
    /// The next value, reduced to `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
