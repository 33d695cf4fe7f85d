//! Unit tests of the wheel internals that the integration tests cannot see.

use super::*;

fn drain_to(wheel: &mut Wheel<u64>, tick: u64) -> Vec<u64> {
    let mut out = Vec::new();
    wheel.advance_to(tick, |v| out.push(v));
    out
}

#[test]
fn every_level_boundary_fires_exactly_on_time() {
    let mut wheel = Wheel::new();
    let mut ticks: Vec<u64> = (0..11).map(|l| 1u64 << (6 * l)).collect();
    ticks.extend(ticks.clone().iter().map(|t| t - 1));
    ticks.extend([u64::MAX, u64::MAX - 1, (1 << 63) + 12345]);
    ticks.sort_unstable();
    ticks.dedup();
    for &t in &ticks {
        wheel.insert_at(t, t);
    }
    for &t in &ticks {
        if t > 0 {
            assert_eq!(
                drain_to(&mut wheel, t - 1),
                Vec::<u64>::new(),
                "early before {t}"
            );
        }
        assert_eq!(drain_to(&mut wheel, t), vec![t]);
    }
    assert!(wheel.is_empty());
    assert_eq!(wheel.current_tick(), u64::MAX);
    // Past the end of time: everything is due at once.
    wheel.insert_at(7, 7);
    assert_eq!(drain_to(&mut wheel, u64::MAX), vec![7]);
}

#[test]
fn pacing_moves_the_next_slot_down_before_it_is_due() {
    let mut wheel = Wheel::new();
    // 640 timers in level-1 slot 2 (ticks 128..192), placed from tick 0.
    for i in 0..640u64 {
        wheel.insert_at(128 + i % 64, i);
    }
    let slot = level::list_id(1, 2);
    assert_eq!(wheel.levels.count(slot), 640);
    // One tick at a time through slot 1: the share moved per tick is small.
    let mut before = 640;
    for t in 1..=127 {
        assert!(drain_to(&mut wheel, t).is_empty());
        let left = wheel.levels.count(slot);
        if t > 64 {
            assert!(before - left <= 12, "tick {t} moved {}", before - left);
        }
        before = left;
    }
    assert_eq!(
        wheel.levels.count(slot),
        0,
        "paced out before the slot starts"
    );
    assert_eq!(drain_to(&mut wheel, 191).len(), 640);
}

#[test]
fn bounded_advance_resumes_mid_drain() {
    let mut wheel = Wheel::new();
    for i in 0..10_000u64 {
        wheel.insert_at(1 << 20, i);
    }
    // Jump straight to the deadline: one big drain, spread by the budget.
    let mut fired = 0;
    let mut calls = 0;
    loop {
        let p = wheel.advance_to_bounded(1 << 20, 100, |_| fired += 1);
        calls += 1;
        if p.done {
            break;
        }
    }
    assert_eq!(fired, 10_000);
    assert!(calls > 100);
}

#[test]
fn limited_horizon_keeps_far_timers() {
    let mut wheel = Wheel::builder().horizon(Duration::from_millis(64)).build();
    assert_eq!(wheel.levels.levels(), 2);
    let far = [
        1u64 << 20,
        (1 << 20) + 1,
        1 << 24,
        1 << 40,
        u64::MAX - 1,
        u64::MAX,
    ];
    for &t in &far {
        wheel.insert_at(t, t);
    }
    let cancelled = wheel.insert_at(1 << 30, 0);
    assert_ne!(wheel.levels.head(level::OVERFLOW), slab::NIL);
    assert!(wheel.next_deadline_tick().unwrap() <= 1 << 20);
    for &t in &far {
        assert!(drain_to(&mut wheel, t - 1).is_empty());
        assert_eq!(drain_to(&mut wheel, t), vec![t]);
        if t == 1 << 24 {
            assert_eq!(wheel.cancel(cancelled), Some(0));
        }
    }
    assert!(wheel.is_empty());
    assert_eq!(wheel.deadline_tick(TimerKey::from_test(0, 0)), None);
}

#[test]
fn a_huge_jump_over_overflow_timers_is_one_scan_not_a_walk() {
    let mut wheel = Wheel::builder().horizon(Duration::from_millis(64)).build();
    for i in 0..1000u64 {
        wheel.insert_at(u64::MAX - i * 1_000_000_007, i);
    }
    wheel.insert_at(5, 5);
    let t0 = std::time::Instant::now();
    let mut n = 0;
    wheel.advance_to(u64::MAX, |_| n += 1);
    assert_eq!(n, 1001);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[test]
fn next_deadline_is_a_lower_bound_and_exact_at_level_zero() {
    let mut wheel = Wheel::new();
    wheel.insert_at(5000, 1);
    let hint = wheel.next_deadline_tick().unwrap();
    assert!(hint <= 5000);
    let mut t = 0;
    let mut wakeups = 0;
    while t < 5000 {
        t = wheel.next_deadline_tick().unwrap();
        wakeups += 1;
        let fired = drain_to(&mut wheel, t);
        assert!(t == 5000 || fired.is_empty());
    }
    assert!(wakeups <= 3, "{wakeups} wakeups");
    assert_eq!(wheel.next_deadline_tick(), None);
}

/// Work per tick (timers fired + entries moved between levels) in a steady
/// state: `pending` timers, deadlines uniform over the next `horizon` ticks,
/// every fired timer re-armed. Returns the per-tick work, sorted.
fn work_per_tick(pacing: bool, pending: u64, horizon: u64, ticks: u64) -> Vec<u64> {
    let mut wheel = Wheel::with_capacity(pending as usize);
    wheel.pacing = pacing;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for i in 0..pending {
        wheel.insert_at(1 + rnd(horizon), i);
    }
    // Warm up for one level-2 rotation, then measure.
    let mut work = Vec::new();
    for now in 1..=4096 + ticks {
        let moved = wheel.moved;
        let mut fired = 0;
        while wheel.poll_at(now).is_some() {
            fired += 1;
        }
        for i in 0..fired {
            wheel.insert_at(now + 1 + rnd(horizon), i);
        }
        if now > 4096 {
            work.push(fired + wheel.moved - moved);
        }
    }
    work.sort_unstable();
    work
}

/// The "no cascade bursts" property behind the `poll_1M` p99.9/p50 target,
/// measured in work units instead of nanoseconds (immune to a noisy box).
#[test]
fn paced_cascading_keeps_the_work_per_tick_flat() {
    let (pending, horizon, ticks) = (200_000, 25_000, 3 * 4096);
    let q = |w: &[u64], p: f64| w[((w.len() - 1) as f64 * p) as usize];
    let paced = work_per_tick(true, pending, horizon, ticks);
    let bursty = work_per_tick(false, pending, horizon, ticks);
    let (p50, p999, max) = (q(&paced, 0.5), q(&paced, 0.999), q(&paced, 1.0));
    let (b50, b999, bmax) = (q(&bursty, 0.5), q(&bursty, 0.999), q(&bursty, 1.0));
    let mean = |w: &[u64]| w.iter().sum::<u64>() as f64 / w.len() as f64;
    println!("paced:  p50 {p50} p99.9 {p999} max {max} mean {:.1}; unpaced: p50 {b50} p99.9 {b999} max {bmax} mean {:.1}", mean(&paced), mean(&bursty));
    assert!(p999 <= 3 * p50, "paced p99.9 {p999} > 3 x p50 {p50}");
    assert!(max <= 4 * p50, "paced max {max} vs p50 {p50}");
    assert!(
        bmax > 50 * b50,
        "the unpaced wheel does burst ({bmax} vs {b50})"
    );
}
