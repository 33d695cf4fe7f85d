//! Hierarchical timer wheel: O(1) insert and cancel, never early, never lost,
//! 32 bytes a pending timer with a `u64` payload, no allocation once warm.
//!
//! [`Wheel<T>`] is single-threaded by design (a scheduler owns one per core;
//! it uses no atomics). It has two layers:
//!
//! * a **tick core** — [`insert_at`](Wheel::insert_at),
//!   [`advance_to`](Wheel::advance_to), [`poll_at`](Wheel::poll_at) — on pure
//!   `u64` ticks, deterministic and clock-free;
//! * an **`Instant` layer** — [`insert`](Wheel::insert),
//!   [`insert_in`](Wheel::insert_in), [`poll`](Wheel::poll),
//!   [`advance`](Wheel::advance), [`next_deadline`](Wheel::next_deadline) —
//!   which converts through a configurable tick length (1 µs for trading,
//!   1 ms for brokers; see [`Builder::tick`]).
//!
//! Each way of firing timers also comes in a form that hands back an
//! [`Expired`] — the timer's key and deadline tick with its value:
//! [`poll_expired`](Wheel::poll_expired) /
//! [`poll_expired_at`](Wheel::poll_expired_at) and
//! [`advance_expired`](Wheel::advance_expired) /
//! [`advance_expired_to`](Wheel::advance_expired_to).
//!
//! # Guarantees
//!
//! * **Never early.** A timer fires only from an advance whose target tick is
//!   at or after its deadline tick, and an `Instant` deadline rounds *up* to
//!   a tick (see [Rounding](#rounding)). A delay given to
//!   [`insert_in`](Wheel::insert_in) counts from the wheel's own now, the
//!   start of its current tick (see there for what that means in real time).
//! * **At most one tick late.** `advance_to(t)` fires every timer with a
//!   deadline `<= t` before it returns. Through `poll(now)` a timer fires at
//!   the first poll at or after the start of its deadline tick, which is less
//!   than one tick after its `Instant`.
//! * **Exactly once.** Every inserted timer fires once or is cancelled once.
//!   A deadline at or before the current tick fires on the next advance (it
//!   counts as due at the current tick).
//! * **Never lost, never a panic.** Any `u64` tick and any `Instant` are
//!   accepted; with the default horizon every tick has a level, and with a
//!   shorter [`Builder::horizon`] farther deadlines wait in an overflow list
//!   and are placed when the wheel comes within reach of them.
//! * **Order.** Timers fire in deadline order at tick granularity; within one
//!   tick the order is unspecified.
//! * **Stale keys are harmless.** [`TimerKey`]s are generation-checked: a key
//!   whose timer fired or was cancelled (or a key from another wheel, barring
//!   a 1-in-2^32 generation match) cancels nothing and returns `None`.
//!
//! # Rounding
//!
//! Tick `t` covers `[origin + t * tick, origin + (t + 1) * tick)`. A deadline
//! maps to the first tick whose start is at or after it (round **up**); a
//! `now` maps to the tick containing it (round down). Instants before the
//! origin are tick 0; ones beyond `u64::MAX` ticks saturate.
//!
//! # Design
//!
//! Entries live in a slab of 32-byte slots (`u32` prev/next links, a `u32`
//! generation, a `u32` list id, the `u64` deadline, the payload), linked into
//! intrusive doubly-linked lists — O(1) insert, cancel and reset. Level `L`
//! has slots `64^L` ticks wide and an occupancy bitmap, so the next occupied
//! slot is a `trailing_zeros`, never a scan:
//!
//! | level | slot width | reach (ticks) | at 1 µs a tick | at 1 ms a tick |
//! |------:|-----------:|--------------:|---------------:|---------------:|
//! | 0     | 1          | 64–128        | 64 µs          | 64 ms          |
//! | 1     | 64         | 2^12–2^13     | 4 ms           | 4 s            |
//! | 2     | 2^12       | 2^18–2^19     | 0.26 s         | 4.4 min        |
//! | 3     | 2^18       | 2^24–2^25     | 17 s           | 4.7 h          |
//! | 4     | 2^24       | 2^30–2^31     | 18 min         | 12 days        |
//! | …     |            |               |                |                |
//! | 10    | 2^60       | all of `u64`  |                |                |
//!
//! Each level keeps its current rotation of 64 slots *and the next one*
//! (128 lists). That second rotation lets the wheel move a coarse slot down
//! gradually during the `64^L` ticks before it is due (**paced cascading**),
//! so 1M pending timers do not turn every 64th poll into a burst; see the
//! `advance` module's ground rules. Work per call can also be capped with
//! [`advance_to_bounded`](Wheel::advance_to_bounded).
//!
//! # Examples
//!
//! ```
//! use corelane::timer::Wheel;
//! use std::time::{Duration, Instant};
//!
//! let start = Instant::now();
//! let mut wheel = Wheel::builder()
//!     .tick(Duration::from_micros(100))
//!     .origin(start)
//!     .capacity(1024)
//!     .build();
//!
//! let ttl = wheel.insert(start + Duration::from_millis(5), "cancel order 42");
//! wheel.insert(start + Duration::from_millis(1), "heartbeat");
//! assert_eq!(wheel.cancel(ttl), Some("cancel order 42")); // the fill came first
//!
//! let mut fired = Vec::new();
//! wheel.advance(start + Duration::from_millis(10), |v| fired.push(v));
//! assert_eq!(fired, ["heartbeat"]);
//! ```

mod advance;
mod builder;
mod clock;
mod expired;
mod instant;
mod level;
mod slab;

pub use builder::Builder;
pub use clock::{Clock, ManualClock, MonotonicClock};
pub use expired::Expired;
pub use slab::TimerKey;

use advance::Step;
use clock::TickClock;
use level::{due_list, Levels};
use slab::{Slab, NIL};
use std::fmt;
use std::time::{Duration, Instant};

/// A hierarchical timer wheel holding values of type `T`. See the
/// [module documentation](self) for the guarantees and the design.
///
/// # Examples
///
/// The tick core, with deterministic integer ticks:
///
/// ```
/// use corelane::timer::Wheel;
///
/// let mut wheel = Wheel::with_capacity(16);
/// let a = wheel.insert_at(5, 'a');
/// wheel.insert_at(3, 'b');
/// wheel.insert_at(1_000_000, 'c');
/// wheel.reset_at(a, 2);
///
/// let mut fired = Vec::new();
/// wheel.advance_to(10, |v| fired.push(v));
/// assert_eq!(fired, ['a', 'b']);
/// assert_eq!(wheel.next_deadline_tick().map(|t| t <= 1_000_000), Some(true));
/// assert_eq!(wheel.len(), 1);
/// ```
pub struct Wheel<T> {
    slab: Slab<T>,
    levels: Levels,
    now: u64,
    clock: TickClock,
    /// Unit tests: entries moved between levels so far.
    #[cfg(test)]
    moved: u64,
    /// Unit tests: `false` turns pacing off (to show what it prevents).
    #[cfg(test)]
    pacing: bool,
}

/// The outcome of [`Wheel::advance_to_bounded`].
///
/// # Examples
///
/// ```
/// use corelane::timer::Wheel;
///
/// let mut wheel = Wheel::new();
/// for i in 0..10 {
///     wheel.insert_at(1, i);
/// }
/// let p = wheel.advance_to_bounded(1, 4, |_| {});
/// assert_eq!((p.fired, p.done), (4, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Timers fired by this call.
    pub fired: usize,
    /// `true` when the wheel caught up with the target tick; `false` when the
    /// work budget ran out first (call again to continue).
    pub done: bool,
}

impl<T> Wheel<T> {
    /// An empty wheel with a 1 ms tick, its origin at `Instant::now()`, the
    /// full `u64` horizon, and no preallocated entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::Duration;
    ///
    /// let wheel: Wheel<u64> = Wheel::new();
    /// assert!(wheel.is_empty());
    /// assert_eq!(wheel.tick_duration(), Duration::from_millis(1));
    /// ```
    pub fn new() -> Self {
        Builder::new().build()
    }

    /// A [`Builder`] to choose the tick length, horizon, capacity and origin.
    ///
    /// The payload type can be named here (`Wheel::<Order>::builder()`) or
    /// left to inference from the wheel's use.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::Duration;
    ///
    /// struct Order {
    ///     id: u64,
    /// }
    ///
    /// let mut wheel = Wheel::<Order>::builder().tick(Duration::from_micros(1)).build();
    /// assert_eq!(wheel.tick_duration(), Duration::from_micros(1));
    ///
    /// // No turbofish: the first insert fixes the payload type.
    /// let mut inferred = Wheel::builder().capacity(16).build();
    /// inferred.insert_at(3, "ttl");
    /// # wheel.insert_at(1, Order { id: 1 });
    /// # assert_eq!(wheel.poll_at(1).map(|o| o.id), Some(1));
    /// ```
    pub fn builder() -> Builder<T> {
        Builder::new()
    }

    /// Like [`new`](Self::new), with room for `capacity` pending timers
    /// allocated up front: up to that many pending timers, no operation
    /// allocates.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let wheel: Wheel<u64> = Wheel::with_capacity(1 << 20);
    /// assert!(wheel.capacity() >= 1 << 20);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Builder::new().capacity(capacity).build()
    }

    pub(crate) fn from_parts(
        levels: u32,
        capacity: usize,
        origin: Instant,
        tick: Duration,
    ) -> Self {
        Wheel {
            slab: Slab::with_capacity(capacity),
            levels: Levels::new(levels),
            now: 0,
            clock: TickClock::new(origin, tick),
            #[cfg(test)]
            moved: 0,
            #[cfg(test)]
            pacing: true,
        }
    }

    // ----- tick core ------------------------------------------------------

    /// Arms a timer for tick `tick` and returns its key. O(1).
    ///
    /// Any `u64` is accepted: a tick at or before
    /// [`current_tick`](Self::current_tick) fires on the next advance.
    ///
    /// # Panics
    ///
    /// Panics if `2^32 - 2` timers are already pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// wheel.insert_at(u64::MAX, "far");
    /// wheel.insert_at(0, "due");
    /// assert_eq!(wheel.poll_at(0), Some("due"));
    /// assert_eq!(wheel.poll_at(1 << 40), None);
    /// ```
    #[inline]
    pub fn insert_at(&mut self, tick: u64, value: T) -> TimerKey {
        match self.levels.list_near(self.now, tick) {
            Some(list) => self.levels.link_new(&mut self.slab, list, tick, value),
            None => self.insert_far(tick, value),
        }
    }

    /// [`insert_at`](Self::insert_at) for a deadline on level 2 or above.
    #[inline(never)]
    fn insert_far(&mut self, tick: u64, value: T) -> TimerKey {
        let list = self.levels.list_for(self.now, tick);
        self.levels.link_new(&mut self.slab, list, tick, value)
    }

    /// Moves a pending timer to tick `tick`, in place: the key stays valid
    /// and nothing is allocated. Returns `false` (and does nothing) if the key
    /// is stale. O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let hb = wheel.insert_at(30, "heartbeat");
    /// assert!(wheel.reset_at(hb, 60)); // traffic seen: push it out
    /// assert_eq!(wheel.poll_at(59), None);
    /// assert_eq!(wheel.poll_at(60), Some("heartbeat"));
    /// assert!(!wheel.reset_at(hb, 90)); // fired: the key is stale
    /// ```
    #[inline]
    pub fn reset_at(&mut self, key: TimerKey, tick: u64) -> bool {
        let Some(index) = self.slab.find(key) else {
            return false;
        };
        self.levels.unlink(&mut self.slab, index);
        self.slab.entry_mut(index).deadline = tick;
        let list = self.levels.list_for(self.now, tick);
        self.levels.push(&mut self.slab, list, index);
        true
    }

    /// Fires every timer with a deadline tick `<= tick`, in deadline order
    /// (at tick granularity), calling `f` with each value; returns how many
    /// fired. A `tick` before [`current_tick`](Self::current_tick) only fires
    /// what is already due.
    ///
    /// Use [`poll_at`](Self::poll_at) instead when the handler needs the
    /// wheel (to re-arm, say), and
    /// [`advance_to_bounded`](Self::advance_to_bounded) to cap the work.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// for t in [7, 3, 5, 200_000] {
    ///     wheel.insert_at(t, t);
    /// }
    /// let mut fired = Vec::new();
    /// assert_eq!(wheel.advance_to(6, |t| fired.push(t)), 2);
    /// assert_eq!(fired, [3, 5]);
    /// assert_eq!(wheel.current_tick(), 6);
    /// ```
    pub fn advance_to(&mut self, tick: u64, mut f: impl FnMut(T)) -> usize {
        self.advance_expired_to(tick, |e| f(e.value))
    }

    /// Like [`advance_to`](Self::advance_to), doing at most `max_work` units
    /// of work, where firing a timer or moving one between levels is one
    /// unit. When the budget runs out the call returns with
    /// [`Progress::done`] `== false`; calling again continues where it
    /// stopped. This spreads a burst of expiries (a thundering herd of
    /// order TTLs) over several loop iterations.
    ///
    /// Timers are still never early; a timer may be later than one tick only
    /// by as many calls as the caller chooses to defer.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// for i in 0..1000 {
    ///     wheel.insert_at(100, i);
    /// }
    /// let mut total = 0;
    /// loop {
    ///     let p = wheel.advance_to_bounded(100, 64, |_| {});
    ///     assert!(p.fired <= 64);
    ///     total += p.fired;
    ///     if p.done {
    ///         break;
    ///     }
    /// }
    /// assert_eq!(total, 1000);
    /// ```
    pub fn advance_to_bounded(
        &mut self,
        tick: u64,
        max_work: usize,
        mut f: impl FnMut(T),
    ) -> Progress {
        let mut budget = max_work;
        let mut fired = 0;
        loop {
            match self.step(tick, &mut budget) {
                Step::Fired(e) => {
                    fired += 1;
                    f(e.value);
                }
                Step::Done => return Progress { fired, done: true },
                Step::OutOfBudget => return Progress { fired, done: false },
            }
        }
    }

    /// Fires the next timer with a deadline tick `<= tick` and returns its
    /// value, or `None` once none is left. Between calls the wheel is free
    /// for inserts and cancels, so a handler can re-arm.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// wheel.insert_at(10, 10u64);
    /// let mut seen = Vec::new();
    /// while let Some(period) = wheel.poll_at(35) {
    ///     seen.push(wheel.current_tick());
    ///     wheel.insert_at(wheel.current_tick() + period, period); // periodic
    /// }
    /// assert_eq!(seen, [10, 20, 30]);
    /// ```
    #[inline]
    pub fn poll_at(&mut self, tick: u64) -> Option<T> {
        self.poll_expired_at(tick).map(|e| e.value)
    }

    /// The earliest tick at which an advance can have work, or `None` if the
    /// wheel is empty. Never later than the earliest pending deadline; equal
    /// to it when that deadline is within the next 64–128 ticks (level 0).
    /// For a farther timer it is the start of the coarse slot holding it, so
    /// a loop sleeping until this tick wakes at most once per level early.
    /// O(levels).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// assert_eq!(wheel.next_deadline_tick(), None);
    /// wheel.insert_at(100, ());
    /// assert_eq!(wheel.next_deadline_tick(), Some(100));
    /// wheel.insert_at(1_000_000, ());
    /// assert_eq!(wheel.next_deadline_tick(), Some(100));
    /// ```
    pub fn next_deadline_tick(&self) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let mask = self.levels.nonempty();
        if self.levels.head(due_list(self.now)) != NIL || self.levels.drain_pending(self.now) {
            return Some(self.now);
        }
        let mut best = self.levels.overflow_scan_tick();
        let mut m = mask;
        while m != 0 {
            let level = m.trailing_zeros();
            m &= m - 1;
            if let Some(t) = self.levels.next_event(level, self.now) {
                best = Some(best.map_or(t, |b| b.min(t)));
            }
        }
        best
    }

    /// The tick the wheel has advanced to: deadlines at or before it are due.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel: Wheel<()> = Wheel::new();
    /// assert_eq!(wheel.current_tick(), 0);
    /// wheel.advance_to(42, |_| {});
    /// assert_eq!(wheel.current_tick(), 42);
    /// ```
    #[inline]
    pub fn current_tick(&self) -> u64 {
        self.now
    }

    // ----- keys and size --------------------------------------------------

    /// Cancels a pending timer and returns its value; `None` (touching
    /// nothing) if the key is stale — already fired, cancelled, or from
    /// another wheel. O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let key = wheel.insert_at(5, 99u64);
    /// assert_eq!(wheel.cancel(key), Some(99));
    /// assert_eq!(wheel.cancel(key), None);
    /// assert_eq!(wheel.poll_at(10), None);
    /// ```
    #[inline]
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let e = self.slab.take(key)?;
        self.levels
            .detach(&mut self.slab, key.index(), e.prev, e.next, e.list());
        Some(e.value)
    }

    /// The value of a pending timer.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let key = wheel.insert_at(5, "x");
    /// assert_eq!(wheel.get(key), Some(&"x"));
    /// wheel.cancel(key);
    /// assert_eq!(wheel.get(key), None);
    /// ```
    #[inline]
    pub fn get(&self, key: TimerKey) -> Option<&T> {
        let index = self.slab.find(key)?;
        Some(&self.slab.entry(index).value)
    }

    /// The value of a pending timer, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let key = wheel.insert_at(5, 1u32);
    /// *wheel.get_mut(key).unwrap() += 1;
    /// assert_eq!(wheel.poll_at(5), Some(2));
    /// ```
    #[inline]
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        let index = self.slab.find(key)?;
        Some(&mut self.slab.entry_mut(index).value)
    }

    /// The deadline tick of a pending timer, as requested (not clamped).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let key = wheel.insert_at(u64::MAX, ());
    /// assert_eq!(wheel.deadline_tick(key), Some(u64::MAX));
    /// ```
    #[inline]
    pub fn deadline_tick(&self, key: TimerKey) -> Option<u64> {
        let index = self.slab.find(key)?;
        Some(self.slab.entry(index).deadline)
    }

    /// Pending timers.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// wheel.insert_at(1, ());
    /// assert_eq!(wheel.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// `true` when no timer is pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let wheel: Wheel<()> = Wheel::new();
    /// assert!(wheel.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// Pending timers the wheel can hold without allocating.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let wheel: Wheel<()> = Wheel::with_capacity(100);
    /// assert!(wheel.capacity() >= 100);
    /// ```
    pub fn capacity(&self) -> usize {
        self.slab.capacity()
    }

    /// Makes room for `additional` more pending timers than are pending now.
    ///
    /// # Panics
    ///
    /// Panics if the new allocation size overflows (as `Vec::reserve`).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel: Wheel<()> = Wheel::new();
    /// wheel.reserve(1000);
    /// assert!(wheel.capacity() >= 1000);
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        self.slab.reserve(additional);
    }

    /// Drops every pending timer, keeping the allocation and the current
    /// tick. Every outstanding key becomes stale.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let key = wheel.insert_at(9, ());
    /// wheel.clear();
    /// assert!(wheel.is_empty());
    /// assert_eq!(wheel.cancel(key), None);
    /// ```
    pub fn clear(&mut self) {
        // The lists first: dropping the values runs user code, which may
        // panic; the lists must not name slots the slab has freed.
        self.levels.clear();
        self.slab.clear();
    }
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("len", &self.len())
            .field("current_tick", &self.now)
            .field("tick", &self.clock.tick())
            .field("levels", &self.levels.levels())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
