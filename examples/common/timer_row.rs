//! The timer row of `examples/latency.rs`: corelane's wheel vs tokio-util's
//! DelayQueue, through their `Instant` APIs, at 100k pending timers.
//!
//! Include with `#[path = "common/timer_row.rs"] mod timer_row;` and call
//! [`timer_row`]. Self-contained: it builds its own paused tokio runtime for
//! DelayQueue and touches no global state beyond entering that runtime for
//! the duration of the call.

use corelane::timer::Wheel;
use std::hint::black_box;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[path = "../../benches/common/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

const PENDING: usize = 100_000;
/// Background deadlines: 1 ms .. 125 s.
const FAR_MS: u64 = 125_000;
/// Near deadlines (the timed pairs, the expiry run): 1 ms .. 1 s, which the
/// expiry run walks 1 ms at a time.
const NEAR_MS: u64 = 1000;
/// Precomputed near deadlines the insert+cancel pairs cycle through (a power
/// of two: the index is masked).
const DELAYS: usize = 4096;
/// Seeds: the pairs runs and the expiry runs each see the same deadlines
/// for both implementations.
const PAIRS_SEED: u64 = 0xDEAD_BEEF;
const EXPIRY_SEED: u64 = 0xE1E1_0000;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Labelled nanosecond figures, each the lowest of its repetitions (one in
/// `quick` mode, five otherwise):
///
/// * `timer insert+cancel @100k/<impl>` — ns per insert + cancel pair with
///   100k other timers pending;
/// * `timer expiry @100k/<impl>` — ns per fired timer, 100k timers spread
///   over the next second, advanced 1 ms at a time.
///
/// `quick` cuts the repetitions (a smoke run, not a measurement).
pub fn timer_row(quick: bool) -> Vec<(&'static str, f64)> {
    let reps = if quick { 1 } else { 5 };
    let pairs = if quick { 200_000 } else { 2_000_000 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tokio runtime");
    let _guard = rt.enter();
    vec![
        (
            "timer insert+cancel @100k/corelane",
            best(reps, || corelane_pairs(pairs)),
        ),
        (
            "timer insert+cancel @100k/DelayQueue",
            best(reps, || delay_queue_pairs(pairs)),
        ),
        ("timer expiry @100k/corelane", best(reps, corelane_expiry)),
        (
            "timer expiry @100k/DelayQueue",
            best(reps, || delay_queue_expiry(&rt)),
        ),
    ]
}

/// The lowest of `reps` runs (the least disturbed one).
fn best(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..reps).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// The `i`-th of the cycled near deadlines.
fn nth<T: Copy>(delays: &[T], i: u64) -> T {
    delays[i as usize & (DELAYS - 1)]
}

fn corelane_pairs(pairs: u64) -> f64 {
    let base = Instant::now();
    let mut wheel = Wheel::builder()
        .tick(ms(1))
        .origin(base)
        .capacity(PENDING + 1)
        .build();
    let mut rng = Rng(PAIRS_SEED);
    for i in 0..PENDING as u64 {
        wheel.insert(base + ms(1 + rng.below(FAR_MS)), i);
    }
    let delays: Vec<Instant> = (0..DELAYS)
        .map(|_| base + ms(1 + rng.below(NEAR_MS)))
        .collect();
    let t0 = Instant::now();
    for i in 0..pairs {
        let key = wheel.insert(nth(&delays, i), i);
        black_box(wheel.cancel(key));
    }
    t0.elapsed().as_nanos() as f64 / pairs as f64
}

fn delay_queue_pairs(pairs: u64) -> f64 {
    let base = tokio::time::Instant::now();
    let mut queue = tokio_util::time::DelayQueue::with_capacity(PENDING + 1);
    let mut rng = Rng(PAIRS_SEED);
    for i in 0..PENDING as u64 {
        queue.insert_at(i, base + ms(1 + rng.below(FAR_MS)));
    }
    let delays: Vec<tokio::time::Instant> = (0..DELAYS)
        .map(|_| base + ms(1 + rng.below(NEAR_MS)))
        .collect();
    let t0 = Instant::now();
    for i in 0..pairs {
        let key = queue.insert_at(i, nth(&delays, i));
        black_box(queue.try_remove(&key));
    }
    t0.elapsed().as_nanos() as f64 / pairs as f64
}

fn corelane_expiry() -> f64 {
    let base = Instant::now();
    let mut wheel = Wheel::builder()
        .tick(ms(1))
        .origin(base)
        .capacity(PENDING)
        .build();
    let mut rng = Rng(EXPIRY_SEED);
    for i in 0..PENDING as u64 {
        wheel.insert(base + ms(1 + rng.below(NEAR_MS)), i);
    }
    let mut fired = 0;
    let mut spent = Duration::ZERO;
    for t in 1..=NEAR_MS {
        let now = base + ms(t);
        let t0 = Instant::now();
        fired += wheel.advance(now, |v| {
            black_box(v);
        });
        spent += t0.elapsed();
    }
    assert_eq!(fired, PENDING);
    spent.as_nanos() as f64 / fired as f64
}

fn delay_queue_expiry(rt: &tokio::runtime::Runtime) -> f64 {
    let base = tokio::time::Instant::now();
    let mut queue = tokio_util::time::DelayQueue::with_capacity(PENDING);
    let mut rng = Rng(EXPIRY_SEED);
    for i in 0..PENDING as u64 {
        queue.insert_at(i, base + ms(1 + rng.below(NEAR_MS)));
    }
    let mut cx = Context::from_waker(Waker::noop());
    let mut fired = 0;
    let mut spent = Duration::ZERO;
    for t in 1..=NEAR_MS {
        // Moving tokio's paused clock is not DelayQueue's work: untimed.
        let target = base + ms(t);
        let now = tokio::time::Instant::now();
        if target > now {
            rt.block_on(tokio::time::advance(target - now));
        }
        let t0 = Instant::now();
        while let Poll::Ready(Some(e)) = queue.poll_expired(&mut cx) {
            black_box(e.into_inner());
            fired += 1;
        }
        spent += t0.elapsed();
    }
    assert_eq!(fired, PENDING);
    spent.as_nanos() as f64 / fired as f64
}
