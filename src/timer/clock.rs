//! Clocks, and the `Instant` <-> tick conversion used by the wheel.
//!
//! # Rounding rules
//!
//! Tick `t` is the half-open interval `[origin + t * tick, origin + (t + 1) * tick)`.
//!
//! * A **deadline** maps to the first tick whose *start* is at or after it:
//!   `ceil((deadline - origin) / tick)`. Rounding up means a timer is never
//!   reported before its `Instant` has passed.
//! * A **now** maps to the tick containing it: `floor((now - origin) / tick)`.
//!   `poll(now)` fires every timer whose deadline tick is `<=` that tick, so
//!   a timer fires at the first poll made at or after the start of its
//!   deadline tick — less than one tick after its `Instant`.
//! * Instants before the origin map to tick 0; ones too far away for a `u64`
//!   tick count saturate to `u64::MAX`. No conversion panics.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// A source of `Instant`s, so code driving a [`Wheel`](super::Wheel) can run
/// on the real clock or on a [`ManualClock`] in tests.
///
/// # Examples
///
/// ```
/// use corelane::timer::{Clock, ManualClock, MonotonicClock};
/// use std::time::Duration;
///
/// fn elapsed_since<C: Clock>(clock: &C, start: std::time::Instant) -> Duration {
///     clock.now() - start
/// }
///
/// let manual = ManualClock::new();
/// let start = manual.now();
/// manual.advance(Duration::from_millis(3));
/// assert_eq!(elapsed_since(&manual, start), Duration::from_millis(3));
/// let _ = elapsed_since(&MonotonicClock, std::time::Instant::now());
/// ```
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// The real monotonic clock: [`Instant::now`].
///
/// # Examples
///
/// ```
/// use corelane::timer::{Clock, MonotonicClock};
///
/// let a = MonotonicClock.now();
/// assert!(MonotonicClock.now() >= a);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to: deterministic tests and
/// simulations. Interior mutability (`Cell`), so a shared `&ManualClock` can
/// be advanced by the test while the code under test reads it. Not `Sync`.
///
/// # Examples
///
/// ```
/// use corelane::timer::{Clock, ManualClock, Wheel};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let mut wheel = Wheel::builder()
///     .tick(Duration::from_millis(1))
///     .origin(clock.now())
///     .build();
/// wheel.insert(clock.now() + Duration::from_millis(5), "heartbeat");
///
/// clock.advance(Duration::from_millis(4));
/// assert_eq!(wheel.poll(clock.now()), None);
/// clock.advance(Duration::from_millis(1));
/// assert_eq!(wheel.poll(clock.now()), Some("heartbeat"));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Cell<Instant>,
}

impl ManualClock {
    /// A manual clock reading the current real instant, frozen.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// assert_eq!(clock.now(), clock.now());
    /// ```
    pub fn new() -> Self {
        Self::starting_at(Instant::now())
    }

    /// A manual clock reading `start`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::{Clock, ManualClock};
    /// use std::time::Instant;
    ///
    /// let t0 = Instant::now();
    /// assert_eq!(ManualClock::starting_at(t0).now(), t0);
    /// ```
    pub fn starting_at(start: Instant) -> Self {
        ManualClock {
            now: Cell::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    ///
    /// # Panics
    ///
    /// Panics if the resulting instant cannot be represented (the same rule
    /// as `Instant + Duration`).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::{Clock, ManualClock};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let t0 = clock.now();
    /// clock.advance(Duration::from_micros(250));
    /// assert_eq!(clock.now() - t0, Duration::from_micros(250));
    /// ```
    pub fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }

    /// Sets the clock to `now`. Moving it backwards is allowed; a wheel
    /// simply ignores polls earlier than the tick it has reached.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::{Clock, ManualClock};
    /// use std::time::{Duration, Instant};
    ///
    /// let clock = ManualClock::new();
    /// let later = clock.now() + Duration::from_secs(1);
    /// clock.set(later);
    /// assert_eq!(clock.now(), later);
    /// ```
    pub fn set(&self, now: Instant) {
        self.now.set(now);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now(&self) -> Instant {
        self.now.get()
    }
}

/// Converts between `Instant`s and ticks (see the module's rounding rules).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TickClock {
    origin: Instant,
    tick: Duration,
    tick_ns: u64,
    /// `floor((2^64 - 1) / tick_ns)`: divides by a multiply (see `div`).
    magic: u64,
}

/// Durations below this many seconds fit a `u64` of nanoseconds (~544 years).
const FAST_SECS: u64 = 1 << 34;

impl TickClock {
    /// `tick` must be non-zero (checked by the builder); more than `u64::MAX`
    /// nanoseconds saturates.
    pub(crate) fn new(origin: Instant, tick: Duration) -> Self {
        let tick_ns = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX).max(1);
        TickClock {
            origin,
            tick,
            tick_ns,
            magic: u64::MAX / tick_ns,
        }
    }

    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }

    /// `(n / tick_ns, n % tick_ns)` without a hardware divide: the estimate
    /// `mulhi(n, magic)` is `floor(n / tick_ns)` or one less (because
    /// `magic >= 2^64 / tick_ns - 1` and `n < 2^64`), so one correction step
    /// makes it exact.
    #[inline]
    fn div(&self, n: u64) -> (u64, u64) {
        let mut q = ((u128::from(n) * u128::from(self.magic)) >> 64) as u64;
        let mut r = n - q * self.tick_ns;
        if r >= self.tick_ns {
            q += 1;
            r -= self.tick_ns;
        }
        (q, r)
    }

    /// Deadline -> tick, rounding up (never early).
    #[inline]
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        self.ticks_ceil(deadline.saturating_duration_since(self.origin))
    }

    /// Duration -> whole ticks, rounding up (`ceil(d / tick)`), saturating.
    #[inline]
    pub(crate) fn ticks_ceil(&self, d: Duration) -> u64 {
        if d.as_secs() < FAST_SECS {
            let (q, r) = self.div(d.as_secs() * 1_000_000_000 + u64::from(d.subsec_nanos()));
            q + u64::from(r != 0)
        } else {
            let (ns, t) = (d.as_nanos(), u128::from(self.tick_ns));
            u64::try_from(ns.div_ceil(t)).unwrap_or(u64::MAX)
        }
    }

    /// Now -> tick, rounding down.
    #[inline]
    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.origin);
        if d.as_secs() < FAST_SECS {
            self.div(d.as_secs() * 1_000_000_000 + u64::from(d.subsec_nanos()))
                .0
        } else {
            u64::try_from(d.as_nanos() / u128::from(self.tick_ns)).unwrap_or(u64::MAX)
        }
    }

    /// The start of tick `tick`, or `None` if no `Instant` can represent it.
    pub(crate) fn tick_start(&self, tick: u64) -> Option<Instant> {
        let ns = u128::from(tick) * u128::from(self.tick_ns);
        let secs = u64::try_from(ns / 1_000_000_000).ok()?;
        let d = Duration::new(secs, (ns % 1_000_000_000) as u32);
        self.origin.checked_add(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_nows_round_down() {
        let o = Instant::now();
        let c = TickClock::new(o, Duration::from_micros(10));
        assert_eq!(c.deadline_tick(o), 0);
        assert_eq!(c.deadline_tick(o + Duration::from_nanos(1)), 1);
        assert_eq!(c.deadline_tick(o + Duration::from_micros(10)), 1);
        assert_eq!(c.deadline_tick(o + Duration::from_nanos(10_001)), 2);
        assert_eq!(c.now_tick(o + Duration::from_nanos(9_999)), 0);
        assert_eq!(c.now_tick(o + Duration::from_micros(10)), 1);
        assert_eq!(c.tick_start(3), Some(o + Duration::from_micros(30)));
        assert_eq!(c.ticks_ceil(Duration::ZERO), 0);
        assert_eq!(c.ticks_ceil(Duration::from_nanos(1)), 1);
        assert_eq!(c.ticks_ceil(Duration::from_micros(20)), 2);
        assert_eq!(c.ticks_ceil(Duration::MAX), u64::MAX);
        if let Some(before) = o.checked_sub(Duration::from_secs(1)) {
            assert_eq!(c.deadline_tick(before), 0);
            assert_eq!(c.now_tick(before), 0);
        }
    }

    #[test]
    fn multiply_division_is_exact() {
        let o = Instant::now();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for tick_ns in [
            1u64,
            2,
            3,
            7,
            1000,
            999_983,
            1_000_000,
            1 << 40,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let c = TickClock::new(o, Duration::from_nanos(tick_ns));
            for n in [
                0,
                1,
                tick_ns - 1,
                tick_ns,
                tick_ns.saturating_add(1),
                u64::MAX - 1,
                u64::MAX,
            ] {
                assert_eq!(c.div(n), (n / tick_ns, n % tick_ns), "{n} / {tick_ns}");
            }
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let n = x >> (x % 64);
                assert_eq!(c.div(n), (n / tick_ns, n % tick_ns), "{n} / {tick_ns}");
            }
        }
    }

    #[test]
    fn huge_values_saturate() {
        let o = Instant::now();
        let c = TickClock::new(o, Duration::from_nanos(1));
        if let Some(far) = o.checked_add(Duration::from_secs(1 << 40)) {
            assert_eq!(c.deadline_tick(far), u64::MAX);
            assert_eq!(c.now_tick(far), u64::MAX);
        }
        let coarse = TickClock::new(o, Duration::from_secs(1 << 40));
        assert_eq!(coarse.tick_start(u64::MAX), None);
    }
}
