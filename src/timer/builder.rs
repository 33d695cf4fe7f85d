//! [`Builder`]: tick length, horizon, capacity and origin of a [`Wheel`].

use super::level::{MAX_LEVELS, MIN_LEVELS, SLOT_BITS};
use super::Wheel;
use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// Configures a [`Wheel<T>`]. Start from [`Wheel::builder`].
///
/// Defaults: a 1 ms tick, the full `u64` horizon (11 levels), no
/// preallocation, origin at the `Instant` of [`build`](Self::build).
///
/// The builder carries the payload type `T` of the wheel it builds, so
/// `Wheel::<Order>::builder()` names it up front; without the turbofish the
/// compiler infers it from how the wheel is used, as with `Vec::new()`.
///
/// # Examples
///
/// ```
/// use corelane::timer::Wheel;
/// use std::time::{Duration, Instant};
///
/// let wheel: Wheel<u64> = Wheel::builder()
///     .tick(Duration::from_micros(1))
///     .horizon(Duration::from_secs(60))
///     .capacity(100_000)
///     .origin(Instant::now())
///     .build();
/// assert!(wheel.capacity() >= 100_000);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<T> {
    tick: Duration,
    horizon: Option<Duration>,
    capacity: usize,
    origin: Option<Instant>,
    /// `fn() -> T`: the builder holds no `T`, so it is `Send`, `Sync`,
    /// `Clone` and `Debug` whatever `T` is.
    payload: PhantomData<fn() -> T>,
}

// By hand: a derive would ask `T: Clone` / `T: Debug` of a builder that
// holds no `T`.
impl<T> Clone for Builder<T> {
    fn clone(&self) -> Self {
        Builder {
            tick: self.tick,
            horizon: self.horizon,
            capacity: self.capacity,
            origin: self.origin,
            payload: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Builder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("tick", &self.tick)
            .field("horizon", &self.horizon)
            .field("capacity", &self.capacity)
            .field("origin", &self.origin)
            .finish()
    }
}

impl<T> Builder<T> {
    pub(crate) fn new() -> Self {
        Builder {
            tick: Duration::from_millis(1),
            horizon: None,
            capacity: 0,
            origin: None,
            payload: PhantomData,
        }
    }

    /// The tick length: the wheel's resolution. Anything from 1 ns up works;
    /// 1 µs suits trading engines, 1 ms brokers.
    ///
    /// # Panics
    ///
    /// Panics if `tick` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::Duration;
    ///
    /// let wheel: Wheel<()> = Wheel::builder().tick(Duration::from_secs(1)).build();
    /// assert_eq!(wheel.tick_duration(), Duration::from_secs(1));
    /// ```
    pub fn tick(mut self, tick: Duration) -> Self {
        assert!(!tick.is_zero(), "timer wheel tick must be non-zero");
        self.tick = tick;
        self
    }

    /// How far ahead timers are placed directly. The wheel gets the fewest
    /// levels (2 to 11) whose reach covers `horizon`; a deadline beyond it
    /// waits in an overflow list (O(1) insert and cancel, nothing dropped)
    /// that is scanned once, in one pass, each time the wheel's top level
    /// turns over with an overflow deadline coming into reach. The default
    /// is the whole `u64` tick range (11 levels, no overflow). A shorter
    /// horizon saves little memory (the level table is fixed-size); use it
    /// when deadlines beyond it are rare.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::Duration;
    ///
    /// let mut wheel = Wheel::builder()
    ///     .tick(Duration::from_millis(1))
    ///     .horizon(Duration::from_secs(4)) // 2 levels
    ///     .build();
    /// wheel.insert_at(1 << 30, "far beyond the horizon: still kept");
    /// assert_eq!(wheel.poll_at((1 << 30) - 1), None);
    /// assert_eq!(wheel.poll_at(1 << 30), Some("far beyond the horizon: still kept"));
    /// ```
    pub fn horizon(mut self, horizon: Duration) -> Self {
        self.horizon = Some(horizon);
        self
    }

    /// Pending timers to allocate room for up front (32 bytes each with a
    /// `u64` payload). Up to that many pending timers, nothing allocates.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let wheel: Wheel<u64> = Wheel::builder().capacity(4096).build();
    /// assert!(wheel.capacity() >= 4096);
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The `Instant` of tick 0. Defaults to the `Instant` of
    /// [`build`](Self::build); set it explicitly for deterministic tests (with
    /// a [`ManualClock`](super::ManualClock)) or to share a time base between
    /// wheels.
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
    pub fn origin(mut self, origin: Instant) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Builds the wheel.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let wheel: Wheel<String> = Wheel::builder().build();
    /// assert!(wheel.is_empty());
    /// let wheel = Wheel::<String>::builder().capacity(8).build();
    /// assert!(wheel.capacity() >= 8);
    /// ```
    pub fn build(self) -> Wheel<T> {
        let levels = match self.horizon {
            None => MAX_LEVELS,
            Some(h) => levels_for(ticks_in(h, self.tick)),
        };
        let origin = self.origin.unwrap_or_else(Instant::now);
        Wheel::from_parts(levels, self.capacity, origin, self.tick)
    }
}

/// `ceil(h / tick)`, saturating.
fn ticks_in(h: Duration, tick: Duration) -> u64 {
    let (h, t) = (h.as_nanos(), tick.as_nanos().max(1));
    u64::try_from(h.div_ceil(t)).unwrap_or(u64::MAX)
}

/// The fewest levels whose guaranteed reach (`64^levels` ticks) covers
/// `ticks`.
fn levels_for(ticks: u64) -> u32 {
    let mut levels = MIN_LEVELS;
    while levels < MAX_LEVELS
        && (SLOT_BITS * levels) < u64::BITS
        && (1u64 << (SLOT_BITS * levels)) < ticks
    {
        levels += 1;
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_picks_enough_levels() {
        assert_eq!(levels_for(0), 2);
        assert_eq!(levels_for(4096), 2);
        assert_eq!(levels_for(4097), 3);
        assert_eq!(levels_for(1 << 30), 5);
        assert_eq!(levels_for(u64::MAX), 11);
        assert_eq!(
            ticks_in(Duration::from_secs(4), Duration::from_millis(1)),
            4000
        );
    }
}
