//! Property tests: `timer::Wheel` against a `BTreeMap` model.
//!
//! Random sequences of insert / cancel / reset / advance / bounded advance /
//! poll, with deadlines near, far, in the past and at `u64::MAX`, must
//! produce exactly the model's expiries, in deadline order at tick
//! granularity, never early, and leave stale keys harmless — with the full
//! horizon and with shortened ones (the overflow list).

use corelane::timer::{Clock, ManualClock, TimerKey, Wheel};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

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

#[derive(Clone, Debug)]
enum Op {
    Insert(When),
    Cancel(usize),
    Reset(usize, When),
    Advance(u64),
    AdvanceBounded(u64, usize),
    Poll(u64),
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

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => when().prop_map(Op::Insert),
        4 => any::<usize>().prop_map(Op::Cancel),
        3 => (any::<usize>(), when()).prop_map(|(i, w)| Op::Reset(i, w)),
        3 => prop_oneof![0u64..70, 0u64..5_000, 0u64..1 << 22, 0u64..1 << 36].prop_map(Op::Advance),
        2 => (prop_oneof![0u64..200, 0u64..1 << 20], 0usize..40).prop_map(|(b, m)| Op::AdvanceBounded(b, m)),
        2 => (0u64..300).prop_map(Op::Poll),
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

    /// Checks one fired id: it was pending, it was due at `limit`, and the
    /// effective deadlines never go backwards.
    fn fire(&mut self, id: u64, limit: u64) {
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
    let mut wheel: Wheel<u64> = match horizon {
        None => Wheel::new(),
        Some(h) => Wheel::builder().horizon(h).build(),
    };
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
    wheel.advance_to(u64::MAX, |id| fired.push(id));
    for id in fired {
        model.fire(id, u64::MAX);
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
