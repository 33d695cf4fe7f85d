//! Scale: 10 million pending timers insert, cancel (in random order) and
//! expire correctly — exactly once, never early.
//!
//! The debug build (what CI's `cargo test` runs) uses 1 million timers to
//! keep the run short; `cargo test --release --test timer_scale` runs the
//! full 10 million.

use corelane::timer::{TimerKey, Wheel};

const N: usize = if cfg!(debug_assertions) {
    1_000_000
} else {
    10_000_000
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn ten_million_pending_timers() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut wheel: Wheel<u64> = Wheel::with_capacity(N);
    let horizon = 1u64 << 24;
    let mut deadlines = Vec::with_capacity(N);
    let mut keys: Vec<TimerKey> = Vec::with_capacity(N);
    for i in 0..N {
        let r = rng.next();
        // Mostly within the horizon; one in 64 far out (up to 2^40 ticks).
        let d = if r & 63 == 0 { r >> 24 } else { r % horizon };
        deadlines.push(d);
        keys.push(wheel.insert_at(d, i as u64));
    }
    assert_eq!(wheel.len(), N);

    // Cancel half, in random order.
    let mut order: Vec<u32> = (0..N as u32).collect();
    for i in (1..N).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut state = vec![0u8; N]; // 0 pending, 1 cancelled, 2 fired
    for &i in &order[..N / 2] {
        assert_eq!(wheel.cancel(keys[i as usize]), Some(u64::from(i)));
        state[i as usize] = 1;
    }
    // Stale keys stay harmless.
    for &i in order[..1000].iter() {
        assert_eq!(wheel.cancel(keys[i as usize]), None);
    }
    assert_eq!(wheel.len(), N - N / 2);

    // Churn at full population: insert + cancel pairs.
    for _ in 0..N / 10 {
        let k = wheel.insert_at(rng.next() % horizon, u64::MAX);
        assert_eq!(wheel.cancel(k), Some(u64::MAX));
    }

    // Expire everything in uneven steps.
    let mut now = 0u64;
    let mut fired = 0usize;
    while !wheel.is_empty() {
        let step = 1 + rng.next() % 20_000;
        now = now.saturating_add(if now > horizon { 1 << 30 } else { step });
        wheel.advance_to(now, |i| {
            let i = i as usize;
            assert!(deadlines[i] <= now, "timer {i} fired early");
            assert_eq!(state[i], 0, "timer {i} fired twice or after cancel");
            state[i] = 2;
            fired += 1;
        });
        // Nothing due is left behind.
        if let Some(next) = wheel.next_deadline_tick() {
            assert!(next > now);
        }
    }
    assert_eq!(fired, N - N / 2);
    assert!(state.iter().all(|&s| s != 0));
}
