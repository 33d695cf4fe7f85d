//! Property tests: `timer::Wheel` against a `BTreeMap` model.
//!
//! Random sequences of insert / relative insert (`insert_in`) / cancel /
//! reset / advance / bounded advance / poll, and the expiry calls that hand
//! back key and deadline (`poll_expired_at`, `advance_expired_to`), with
//! deadlines near, far, in the past and at `u64::MAX`, must produce exactly
//! the model's expiries, in deadline order at tick granularity, never early,
//! each with the key its insert returned and the deadline last requested,
//! and leave stale keys harmless — with the full horizon and with shortened
//! ones (the overflow list).

use corelane::timer::{Clock, Expired, ManualClock, TimerKey, Wheel};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How a deadline is chosen relative to the model's current tick.
#[derive(Clone, Debug)]
enum When {
    Past(u64),
    Near(u64),
    Mid(u64),
    Far(u64),
    Abs(u64),
    Max,
}

/// The tick length of the wheels under test (the default).
const TICK: Duration = Duration::from_millis(1);

#[derive(Clone, Debug)]
enum Op {
    Insert(When),
    /// `insert_in` with this delay.
    InsertIn(Duration),
    Cancel(usize),
    Reset(usize, When),
    Advance(u64),
    AdvanceBounded(u64, usize),
    Poll(u64),
    PollExpired(u64),
    AdvanceExpired(u64),
    ForeignCancel(usize),
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        1 => (0u64..300).prop_map(When::Past),
        6 => (0u64..200).prop_map(When::Near),
        4 => (0u64..20_000).prop_map(When::Mid),
        2 => (0u64..1 << 34).prop_map(When::Far),
        1 => any::<u64>().prop_map(When::Abs),
        1 => Just(When::Max),
    ]
}

/// Delays for `insert_in`: whole ticks, fractions, sub-tick, far, and ones
/// that saturate the tick count.
fn delay() -> impl Strategy<Value = Duration> {
    prop_oneof![
        4 => (0u64..300_000_000).prop_map(Duration::from_nanos),
        2 => (0u64..300).prop_map(Duration::from_millis),
        1 => (0u64..1_000_000).prop_map(Duration::from_nanos),
        1 => (0u64..1 << 40).prop_map(Duration::from_secs),
        1 => Just(Duration::MAX),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => when().prop_map(Op::Insert),
        4 => delay().prop_map(Op::InsertIn),
        4 => any::<usize>().prop_map(Op::Cancel),
        3 => (any::<usize>(), when()).prop_map(|(i, w)| Op::Reset(i, w)),
        3 => prop_oneof![0u64..70, 0u64..5_000, 0u64..1 << 22, 0u64..1 << 36].prop_map(Op::Advance),
        2 => (prop_oneof![0u64..200, 0u64..1 << 20], 0usize..40).prop_map(|(b, m)| Op::AdvanceBounded(b, m)),
        2 => (0u64..300).prop_map(Op::Poll),
        2 => (0u64..300).prop_map(Op::PollExpired),
        2 => prop_oneof![0u64..70, 0u64..5_000, 0u64..1 << 36].prop_map(Op::AdvanceExpired),
        1 => any::<usize>().prop_map(Op::ForeignCancel),
    ]
}

/// The model: pending timers by id, each with its requested deadline and its
/// effective deadline (`max(deadline, now at arming)`).
struct Model {
    now: u64,
    pending: BTreeMap<u64, (u64, u64)>,
    last_fired_eff: u64,
}

impl Model {
    fn deadline(&self, w: &When) -> u64 {
        match *w {
            When::Past(d) => self.now.saturating_sub(d),
            When::Near(d) => self.now.saturating_add(d),
            When::Mid(d) => self.now.saturating_add(d),
            When::Far(d) => self.now.saturating_add(d),
            When::Abs(t) => t,
            When::Max => u64::MAX,
        }
    }

    fn arm(&mut self, id: u64, deadline: u64) {
        self.pending.insert(id, (deadline, deadline.max(self.now)));
    }

    /// The tick `insert_in(delay)` must arm: the model's now plus
    /// `ceil(delay / TICK)`, saturating (computed in `u128`, apart from the
    /// wheel's own arithmetic).
    fn deadline_in(&self, delay: Duration) -> u64 {
        let ticks = delay.as_nanos().div_ceil(TICK.as_nanos());
        u64::try_from(u128::from(self.now) + ticks).unwrap_or(u64::MAX)
    }

    /// Checks one fired id: it was pending, it was due at `limit`, and the
    /// effective deadlines never go backwards. Returns its requested
    /// deadline.
    fn fire(&mut self, id: u64, limit: u64) -> u64 {
        let (deadline, eff) = self
            .pending
            .remove(&id)
            .unwrap_or_else(|| panic!("fired {id}, not pending"));
        assert!(
            deadline <= limit,
            "early: id {id} deadline {deadline} fired by advance to {limit}"
        );
        assert!(
            eff >= self.last_fired_eff,
            "out of order: eff {eff} after {}",
            self.last_fired_eff
        );
        self.last_fired_eff = eff;
        deadline
    }

    /// [`fire`](Self::fire) for an [`Expired`]: also checks the key and the
    /// deadline it carries.
    fn fire_expired(&mut self, e: &Expired<u64>, keys: &[(TimerKey, u64)], limit: u64) {
        let deadline = self.fire(e.value, limit);
        assert_eq!(e.key, keys[e.value as usize].0, "key of id {}", e.value);
        assert_eq!(e.deadline_tick, deadline, "deadline of id {}", e.value);
    }

    fn min_due_eff(&self, limit: u64) -> Option<u64> {
        self.pending
            .values()
            .filter(|(d, _)| *d <= limit)
            .map(|(_, e)| *e)
            .min()
    }
}

fn run(ops: Vec<Op>, horizon: Option<Duration>) {
    let mut wheel = match horizon {
        None => Wheel::<u64>::builder().build(),
        Some(h) => Wheel::builder().horizon(h).build(),
    };
    assert_eq!(wheel.tick_duration(), TICK);
    let mut other: Wheel<u64> = Wheel::new();
    let foreign: Vec<TimerKey> = (0..64).map(|i| other.insert_at(i * 1000, i)).collect();
    let mut model = Model {
        now: 0,
        pending: BTreeMap::new(),
        last_fired_eff: 0,
    };
    let mut keys: Vec<(TimerKey, u64)> = Vec::new();
    let mut next_id = 0u64;

    for op in ops {
        match op {
            Op::Insert(w) => {
                let d = model.deadline(&w);
                let key = wheel.insert_at(d, next_id);
                model.arm(next_id, d);
                keys.push((key, next_id));
                next_id += 1;
            }
            Op::InsertIn(delay) => {
                let d = model.deadline_in(delay);
                let key = wheel.insert_in(delay, next_id);
                assert_eq!(wheel.deadline_tick(key), Some(d), "insert_in({delay:?})");
                model.arm(next_id, d);
                keys.push((key, next_id));
                next_id += 1;
            }
            Op::Cancel(i) if !keys.is_empty() => {
                let (key, id) = keys[i % keys.len()];
                let expect = model.pending.remove(&id).map(|_| id);
                assert_eq!(wheel.cancel(key), expect);
                assert_eq!(wheel.get(key), None);
            }
            Op::Reset(i, w) if !keys.is_empty() => {
                let (key, id) = keys[i % keys.len()];
                let d = model.deadline(&w);
                let live = model.pending.contains_key(&id);
                assert_eq!(wheel.reset_at(key, d), live);
                if live {
                    model.arm(id, d);
                    assert_eq!(wheel.deadline_tick(key), Some(d));
                }
            }
            Op::Advance(by) => {
                let target = model.now.saturating_add(by);
                let mut fired = Vec::new();
                let n = wheel.advance_to(target, |id| fired.push(id));
                assert_eq!(n, fired.len());
                for id in fired {
                    model.fire(id, target);
                }
                assert_eq!(
                    model.min_due_eff(target),
                    None,
                    "a due timer was left behind"
                );
                model.now = target;
                assert_eq!(wheel.current_tick(), target);
            }
            Op::AdvanceBounded(by, max) => {
                let target = model.now.saturating_add(by);
                let mut fired = Vec::new();
                let p = wheel.advance_to_bounded(target, max, |id| fired.push(id));
                assert_eq!(p.fired, fired.len());
                assert!(p.fired <= max);
                let now = wheel.current_tick();
                assert!(now >= model.now && now <= target);
                for id in fired {
                    model.fire(id, now);
                }
                model.now = now;
                if p.done {
                    assert_eq!(now, target);
                    assert_eq!(model.min_due_eff(target), None);
                } else {
                    // Stopped mid-way: nothing older than the current tick is left.
                    assert!(model.min_due_eff(now).is_none_or(|e| e >= now));
                }
            }
            Op::Poll(by) => {
                let target = model.now.saturating_add(by);
                let expect_eff = model.min_due_eff(target);
                match wheel.poll_at(target) {
                    Some(id) => {
                        let eff = model.pending[&id].1;
                        assert_eq!(Some(eff), expect_eff, "poll skipped an earlier tick");
                        model.fire(id, target);
                        assert_eq!(wheel.current_tick(), eff);
                        model.now = eff;
                    }
                    None => {
                        assert_eq!(expect_eff, None);
                        model.now = target;
                        assert_eq!(wheel.current_tick(), target);
                    }
                }
            }
            Op::PollExpired(by) => {
                let target = model.now.saturating_add(by);
                let expect_eff = model.min_due_eff(target);
                match wheel.poll_expired_at(target) {
                    Some(e) => {
                        let eff = model.pending[&e.value].1;
                        assert_eq!(Some(eff), expect_eff, "poll skipped an earlier tick");
                        model.fire_expired(&e, &keys, target);
                        assert_eq!(wheel.current_tick(), eff);
                        assert_eq!(wheel.cancel(e.key), None, "an expired key is stale");
                        model.now = eff;
                    }
                    None => {
                        assert_eq!(expect_eff, None);
                        model.now = target;
                        assert_eq!(wheel.current_tick(), target);
                    }
                }
            }
            Op::AdvanceExpired(by) => {
                let target = model.now.saturating_add(by);
                let mut fired = Vec::new();
                let n = wheel.advance_expired_to(target, |e| fired.push(e));
                assert_eq!(n, fired.len());
                for e in &fired {
                    model.fire_expired(e, &keys, target);
                    assert_eq!(wheel.get(e.key), None);
                }
                assert_eq!(
                    model.min_due_eff(target),
                    None,
                    "a due timer was left behind"
                );
                model.now = target;
                assert_eq!(wheel.current_tick(), target);
            }
            Op::ForeignCancel(i) => {
                let key = foreign[i % foreign.len()];
                let before = wheel.len();
                assert_eq!(wheel.cancel(key), None);
                assert!(!wheel.reset_at(key, 0));
                assert_eq!(wheel.len(), before);
            }
            Op::Cancel(_) | Op::Reset(..) => {}
        }
        assert_eq!(wheel.len(), model.pending.len());
        if let Some(hint) = wheel.next_deadline_tick() {
            let min = model
                .pending
                .values()
                .map(|(_, e)| *e)
                .min()
                .expect("hint without timers");
            assert!(
                hint <= min,
                "next_deadline_tick {hint} after the earliest deadline {min}"
            );
            assert!(hint >= model.now);
        } else {
            assert!(model.pending.is_empty());
        }
    }

    // Finally everything fires (or was cancelled): exactly once.
    let mut fired = Vec::new();
    wheel.advance_expired_to(u64::MAX, |e| fired.push(e));
    for e in &fired {
        model.fire_expired(e, &keys, u64::MAX);
    }
    assert!(model.pending.is_empty());
    assert!(wheel.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn wheel_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, None);
    }

    /// Shortened horizons (2 to 4 levels at a 1 ms tick): far deadlines go
    /// through the overflow list and must still match the model.
    #[test]
    fn short_horizon_wheel_matches_btreemap_model(
        ops in prop::collection::vec(op(), 1..300),
        horizon_ms in prop_oneof![Just(64u64), Just(5_000), Just(300_000)],
    ) {
        run(ops, Some(Duration::from_millis(horizon_ms)));
    }

    /// The `Instant` layer on a manual clock: never before the deadline,
    /// and less than one tick after it when polled every `step`.
    #[test]
    fn instant_layer_is_never_early_and_at_most_a_tick_late(
        tick_us in 1u64..2_000,
        delays in prop::collection::vec(0u64..50_000_000, 1..60),
        step_ns in 1u64..400_000,
    ) {
        let clock = ManualClock::new();
        let tick = Duration::from_micros(tick_us);
        let mut wheel = Wheel::builder().tick(tick).origin(clock.now()).build();
        let start = clock.now();
        let mut deadlines = Vec::new();
        for (i, d) in delays.iter().enumerate() {
            let at = start + Duration::from_nanos(*d);
            wheel.insert(at, i);
            deadlines.push(at);
        }
        let mut left = delays.len();
        let step = Duration::from_nanos(step_ns);
        let mut prev_now = clock.now();
        while left > 0 {
            clock.advance(step);
            let now = clock.now();
            while let Some(i) = wheel.poll(now) {
                prop_assert!(deadlines[i] <= now, "fired early");
                // Due at the first poll at or after the start of its tick,
                // which is less than one tick after the deadline.
                prop_assert!(prev_now < deadlines[i] + tick, "fired late: deadline {:?}, previous poll {:?}", deadlines[i] - start, prev_now - start);
                left -= 1;
            }
            prev_now = now;
        }
        prop_assert!(wheel.is_empty());
    }
}

/// A timer armed by `insert_in` in the test below.
struct Armed {
    key: TimerKey,
    /// The start of the tick current at the insert, plus the delay.
    earliest: Instant,
    /// The clock at the insert (just after a poll).
    inserted_at: Instant,
    delay: Duration,
}

/// Polls everything due at `now` with `poll_expired`, checking each timer
/// against what `insert_in` promises; returns how many fired.
fn poll_insert_in_timers(
    wheel: &mut Wheel<usize>,
    armed: &[Armed],
    now: Instant,
    prev_now: Instant,
) -> Result<usize, TestCaseError> {
    let tick = wheel.tick_duration();
    let mut n = 0;
    while let Some(e) = wheel.poll_expired(now) {
        let a = &armed[e.value];
        prop_assert_eq!(e.key, a.key);
        let deadline_start = wheel.tick_to_instant(wheel.deadline_to_tick(a.earliest));
        prop_assert_eq!(wheel.tick_to_instant(e.deadline_tick), deadline_start);
        prop_assert!(now >= a.earliest, "fired early");
        prop_assert!(prev_now < a.earliest + tick, "fired more than a tick late");
        prop_assert!(
            now + tick > a.inserted_at + a.delay,
            "a tick or more before the delay measured from the last poll"
        );
        n += 1;
    }
    Ok(n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `insert_in` on a manual clock polled every `step`: each timer fires
    /// never before the start of the tick current at its insert plus the
    /// delay, less than a tick after that, and less than a tick before the
    /// delay measured from the poll just before the insert (what its docs
    /// promise). `poll_expired` hands back the key and the deadline.
    #[test]
    fn insert_in_counts_from_the_start_of_the_current_tick(
        tick_us in 1u64..2_000,
        steps in prop::collection::vec(
            (1u64..400_000, prop::option::of(0u64..20_000_000)),
            1..200,
        ),
    ) {
        let clock = ManualClock::new();
        let tick = Duration::from_micros(tick_us);
        let mut wheel = Wheel::builder().tick(tick).origin(clock.now()).build();
        let mut armed = Vec::new();
        let mut fired = 0;
        let mut prev_now = clock.now();
        for (step_ns, delay_ns) in steps {
            clock.advance(Duration::from_nanos(step_ns));
            let now = clock.now();
            fired += poll_insert_in_timers(&mut wheel, &armed, now, prev_now)?;
            prev_now = now;
            if let Some(ns) = delay_ns {
                let delay = Duration::from_nanos(ns);
                let start = wheel.tick_to_instant(wheel.current_tick()).unwrap();
                let key = wheel.insert_in(delay, armed.len());
                armed.push(Armed { key, earliest: start + delay, inserted_at: now, delay });
            }
        }
        while fired < armed.len() {
            clock.advance(Duration::from_micros(250));
            let now = clock.now();
            fired += poll_insert_in_timers(&mut wheel, &armed, now, prev_now)?;
            prev_now = now;
        }
        prop_assert!(wheel.is_empty());
    }
}

#[test]
fn deadline_order_at_tick_granularity_with_many_per_tick() {
    let mut wheel = Wheel::new();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let d = x % 300_000;
        wheel.insert_at(d, d);
    }
    let mut last = 0;
    let mut n = 0;
    wheel.advance_to(u64::MAX, |d| {
        assert!(d >= last);
        last = d;
        n += 1;
    });
    assert_eq!(n, 50_000);
}

#[test]
fn instants_before_the_origin_and_far_beyond_it_are_accepted() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let mut wheel = Wheel::builder()
        .origin(t0)
        .tick(Duration::from_nanos(1))
        .build();
    if let Some(before) = t0.checked_sub(Duration::from_secs(3600)) {
        wheel.insert(before, "before origin");
    }
    if let Some(far) = t0.checked_add(Duration::from_secs(1 << 40)) {
        wheel.insert(far, "beyond u64 ticks");
        assert_eq!(wheel.deadline_to_tick(far), u64::MAX);
    }
    let first = wheel.poll(t0);
    assert!(first.is_none() || first == Some("before origin"));
    assert_eq!(wheel.poll(t0), None);
}
