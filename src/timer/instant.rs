//! The `Instant` layer of [`Wheel`]: deadlines and `now`s convert to ticks
//! through the wheel's origin and tick length (see the rounding rules in the
//! [module documentation](super#rounding)), then go to the tick core; delays
//! ([`insert_in`](Wheel::insert_in)) convert through the tick length alone.

use super::{TimerKey, Wheel};
use std::time::{Duration, Instant};

impl<T> Wheel<T> {
    /// Arms a timer for `deadline` (rounded up to a tick, so it never fires
    /// early) and returns its key. Any `Instant` is accepted. O(1).
    ///
    /// # Panics
    ///
    /// Panics if `2^32 - 2` timers are already pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let mut wheel = Wheel::builder().origin(t0).tick(Duration::from_millis(1)).build();
    /// wheel.insert(t0 + Duration::from_micros(1500), "ttl");
    /// assert_eq!(wheel.poll(t0 + Duration::from_micros(1999)), None); // tick 1
    /// assert_eq!(wheel.poll(t0 + Duration::from_millis(2)), Some("ttl"));
    /// ```
    #[inline]
    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerKey {
        let tick = self.clock.deadline_tick(deadline);
        self.insert_at(tick, value)
    }

    /// Arms a timer `delay` after the wheel's *now* and returns its key.
    /// O(1).
    ///
    /// **What "now" is.** The wheel reads no clock: its now is the start of
    /// [`current_tick`](Self::current_tick), the tick that the last
    /// advance or poll reached (tick 0, the origin, before the first). The
    /// deadline is that instant plus `delay`, rounded up to a tick:
    /// tick `current_tick() + ceil(delay / tick)`, saturating. So
    /// `insert_in(d, v)` arms the same tick as
    /// `insert(tick_to_instant(current_tick()).unwrap() + d, v)` (without
    /// its panics for instants out of range), and works the same on a wheel
    /// driven through the tick core, where no `Instant` is ever passed. A
    /// zero `delay` is due on the next advance.
    ///
    /// Measured from the instant of your last poll, which lies somewhere
    /// inside the current tick, the timer may fire less than one tick early;
    /// and if the wheel has not been advanced for a while, its now lags the
    /// clock and the timer fires that much earlier in real time. When the
    /// delay must hold from the real present, read the clock instead:
    /// `insert(clock.now() + delay, value)`.
    ///
    /// # Panics
    ///
    /// Panics if `2^32 - 2` timers are already pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::{Clock, ManualClock, Wheel};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let mut wheel = Wheel::builder()
    ///     .origin(clock.now())
    ///     .tick(Duration::from_millis(1))
    ///     .build();
    /// clock.advance(Duration::from_micros(2500));
    /// assert_eq!(wheel.poll(clock.now()), None); // the wheel's now: tick 2
    ///
    /// let key = wheel.insert_in(Duration::from_micros(1500), "resend");
    /// assert_eq!(wheel.deadline_tick(key), Some(4)); // 2 + ceil(1.5)
    /// clock.advance(Duration::from_micros(1499));
    /// assert_eq!(wheel.poll(clock.now()), None);
    /// clock.advance(Duration::from_micros(1));
    /// assert_eq!(wheel.poll(clock.now()), Some("resend"));
    /// ```
    #[inline]
    pub fn insert_in(&mut self, delay: Duration, value: T) -> TimerKey {
        let tick = self
            .current_tick()
            .saturating_add(self.clock.ticks_ceil(delay));
        self.insert_at(tick, value)
    }

    /// Moves a pending timer to `deadline` in place (see
    /// [`reset_at`](Self::reset_at)). Returns `false` if the key is stale.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let mut wheel = Wheel::builder().origin(t0).build();
    /// let key = wheel.insert(t0 + Duration::from_secs(1), "quote expiry");
    /// assert!(wheel.reset(key, t0 + Duration::from_millis(10)));
    /// assert_eq!(wheel.poll(t0 + Duration::from_millis(10)), Some("quote expiry"));
    /// ```
    #[inline]
    pub fn reset(&mut self, key: TimerKey, deadline: Instant) -> bool {
        let tick = self.clock.deadline_tick(deadline);
        self.reset_at(key, tick)
    }

    /// Fires the next timer due at `now` and returns its value, or `None`.
    /// See [`poll_at`](Self::poll_at).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let mut wheel = Wheel::builder().origin(t0).build();
    /// wheel.insert(t0 + Duration::from_millis(3), 1);
    /// wheel.insert(t0 + Duration::from_millis(1), 2);
    /// let now = t0 + Duration::from_millis(5);
    /// assert_eq!(wheel.poll(now), Some(2));
    /// assert_eq!(wheel.poll(now), Some(1));
    /// assert_eq!(wheel.poll(now), None);
    /// ```
    #[inline]
    pub fn poll(&mut self, now: Instant) -> Option<T> {
        let tick = self.clock.now_tick(now);
        self.poll_at(tick)
    }

    /// Fires every timer due at `now`, calling `f` with each value; returns
    /// how many fired. See [`advance_to`](Self::advance_to).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let mut wheel = Wheel::builder().origin(t0).build();
    /// for ms in 1..=5 {
    ///     wheel.insert(t0 + Duration::from_millis(ms), ms);
    /// }
    /// let mut sum = 0;
    /// assert_eq!(wheel.advance(t0 + Duration::from_millis(3), |ms| sum += ms), 3);
    /// assert_eq!(sum, 6);
    /// ```
    #[inline]
    pub fn advance(&mut self, now: Instant, f: impl FnMut(T)) -> usize {
        let tick = self.clock.now_tick(now);
        self.advance_to(tick, f)
    }

    /// The start of [`next_deadline_tick`](Self::next_deadline_tick) as an
    /// `Instant`: sleep until it, then poll. `None` if the wheel is empty (or
    /// that tick lies beyond what an `Instant` can represent).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let mut wheel = Wheel::builder().origin(t0).tick(Duration::from_millis(1)).build();
    /// wheel.insert(t0 + Duration::from_millis(20), ());
    /// assert_eq!(wheel.next_deadline(), Some(t0 + Duration::from_millis(20)));
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clock.tick_start(self.next_deadline_tick()?)
    }

    /// The tick a deadline maps to (rounded up).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let wheel: Wheel<()> = Wheel::builder().origin(t0).tick(Duration::from_millis(1)).build();
    /// assert_eq!(wheel.deadline_to_tick(t0 + Duration::from_micros(1001)), 2);
    /// ```
    #[inline]
    pub fn deadline_to_tick(&self, deadline: Instant) -> u64 {
        self.clock.deadline_tick(deadline)
    }

    /// The tick containing `now` (rounded down).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let wheel: Wheel<()> = Wheel::builder().origin(t0).tick(Duration::from_millis(1)).build();
    /// assert_eq!(wheel.now_to_tick(t0 + Duration::from_micros(1999)), 1);
    /// ```
    #[inline]
    pub fn now_to_tick(&self, now: Instant) -> u64 {
        self.clock.now_tick(now)
    }

    /// The `Instant` at which tick `tick` starts, or `None` if it cannot be
    /// represented.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let wheel: Wheel<()> = Wheel::builder().origin(t0).tick(Duration::from_micros(10)).build();
    /// assert_eq!(wheel.tick_to_instant(3), Some(t0 + Duration::from_micros(30)));
    /// ```
    pub fn tick_to_instant(&self, tick: u64) -> Option<Instant> {
        self.clock.tick_start(tick)
    }

    /// The tick length.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::Duration;
    ///
    /// let wheel: Wheel<()> = Wheel::builder().tick(Duration::from_micros(5)).build();
    /// assert_eq!(wheel.tick_duration(), Duration::from_micros(5));
    /// ```
    pub fn tick_duration(&self) -> Duration {
        self.clock.tick()
    }

    /// The `Instant` of tick 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::Instant;
    ///
    /// let t0 = Instant::now();
    /// let wheel: Wheel<()> = Wheel::builder().origin(t0).build();
    /// assert_eq!(wheel.origin(), t0);
    /// ```
    pub fn origin(&self) -> Instant {
        self.clock.origin()
    }
}
