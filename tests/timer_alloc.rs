//! A counting global allocator proves that a warm `timer::Wheel` never
//! allocates: insert (absolute and `insert_in`), cancel, reset, advance,
//! bounded advance, poll, the expiry calls that hand back key and deadline
//! (`poll_expired*`, `advance_expired*`) and `next_deadline` all run on the
//! preallocated slab and level table.

use corelane::timer::{TimerKey, Wheel};
use std::cell::Cell;
use std::time::Duration;

#[path = "common/alloc.rs"]
mod counting_alloc;
use counting_alloc::Counting;

thread_local! {
    /// Allocations made by this thread while counting is on.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: `note` touches only const-initialised thread-local `Cell`s
// (through `try_with`): it never allocates and never unwinds.
#[global_allocator]
static GLOBAL: Counting = unsafe { Counting::new(note) };

fn counting<R>(f: impl FnOnce() -> R) -> (R, u64) {
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let r = f();
    COUNTING.with(|on| on.set(false));
    (r, ALLOCS.with(Cell::get))
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const CAP: usize = 50_000;

/// A mixed workload that keeps at most `CAP` timers pending.
fn churn(wheel: &mut Wheel<u64>, keys: &mut [Option<TimerKey>], rng: &mut Rng, ops: usize) -> u64 {
    let mut fired = 0u64;
    for _ in 0..ops {
        let r = rng.next();
        let slot = (r >> 8) as usize % keys.len();
        let now = wheel.current_tick();
        let deadline = match r % 8 {
            0 => now.saturating_sub(r >> 60),
            1..=4 => now + (r >> 40) % 5_000,
            5 => now + (r >> 20) % (1 << 26),
            6 => r >> 1,
            _ => u64::MAX,
        };
        match (r >> 4) % 13 {
            0..=2 => {
                if let Some(k) = keys[slot].take() {
                    wheel.cancel(k);
                }
                keys[slot] = Some(wheel.insert_at(deadline, r));
            }
            3 => {
                if let Some(k) = keys[slot].take() {
                    wheel.cancel(k);
                }
                let delay = Duration::from_micros((r >> 40) % 5_000_000);
                keys[slot] = Some(wheel.insert_in(delay, r));
            }
            4..=5 => {
                if let Some(k) = keys[slot].take() {
                    let _ = wheel.cancel(k);
                }
            }
            6 => {
                if let Some(k) = keys[slot] {
                    wheel.reset_at(k, deadline);
                }
            }
            7 => fired += wheel.advance_to(now + (r >> 50) % 300, |_| {}) as u64,
            8 => {
                let _ = wheel.advance_to_bounded(now + (r >> 50) % 5_000, 32, |_| fired += 1);
            }
            9 => {
                if wheel.poll_at(now + (r >> 50) % 100).is_some() {
                    fired += 1;
                }
                let _ = wheel.next_deadline_tick();
            }
            10 | 11 => {
                if let Some(e) = wheel.poll_expired_at(now + (r >> 50) % 100) {
                    fired += 1;
                    // The key it hands back is stale: cancelling it touches nothing.
                    let _ = wheel.cancel(e.key);
                }
            }
            _ => {
                fired += wheel.advance_expired_to(now + (r >> 50) % 300, |e| {
                    std::hint::black_box((e.key, e.deadline_tick));
                }) as u64;
            }
        }
    }
    fired
}

#[test]
fn warm_wheel_never_allocates() {
    let mut wheel = Wheel::with_capacity(CAP);
    let mut keys = vec![None; CAP];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    // Warm-up: fill to capacity, then churn.
    for k in keys.iter_mut() {
        *k = Some(wheel.insert_at(rng.next() % 100_000, 1));
    }
    churn(&mut wheel, &mut keys, &mut rng, 100_000);

    let (fired, allocs) = counting(|| churn(&mut wheel, &mut keys, &mut rng, 400_000));
    assert!(fired > 1_000, "the workload fires timers ({fired})");
    assert_eq!(allocs, 0, "a warm wheel allocated {allocs} times");

    // The Instant layer too.
    let origin = wheel.origin();
    let (_, allocs) = counting(|| {
        for i in 0..10_000u64 {
            let k = wheel.insert(origin + Duration::from_micros(i * 37), i);
            let _ = wheel.reset(k, origin + Duration::from_millis(i));
            let _ = wheel.poll(origin + Duration::from_millis(i / 2));
            let _ = wheel.next_deadline();
            let _ = wheel.cancel(k);
            let k = wheel.insert_in(Duration::from_micros(i * 41), i);
            let _ = wheel.poll_expired(origin + Duration::from_millis(i / 2));
            let _ = wheel.advance_expired(origin + Duration::from_millis(i / 3), |e| {
                std::hint::black_box(e);
            });
            let _ = wheel.cancel(k);
        }
    });
    assert_eq!(allocs, 0);
}

#[test]
fn the_counter_sees_allocations() {
    let (_, allocs) = counting(|| {
        let mut wheel: Wheel<u64> = Wheel::with_capacity(0);
        for i in 0..100 {
            wheel.insert_at(i, i);
        }
        wheel
    });
    assert!(allocs > 0);
}
