//! Expiries that carry their key and deadline: [`Expired`] and the calls
//! that yield it, on the tick core and on the `Instant` layer.
//!
//! These are the same engine steps as [`poll_at`](Wheel::poll_at) and
//! [`advance_to`](Wheel::advance_to) (which are written on top of them):
//! the key and the deadline tick are already in hand when a timer fires, so
//! handing them back costs a few more bytes moved and no allocation.

use super::advance::Step;
use super::{TimerKey, Wheel};
use std::time::Instant;

/// A timer that fired: the key [`insert`](Wheel::insert) returned for it,
/// its deadline tick and its value. Yielded by
/// [`poll_expired`](Wheel::poll_expired) /
/// [`poll_expired_at`](Wheel::poll_expired_at) and
/// [`advance_expired`](Wheel::advance_expired) /
/// [`advance_expired_to`](Wheel::advance_expired_to).
///
/// The key is already stale (the timer is gone, so cancelling it returns
/// `None`), but it compares equal to the key the insert returned: use it to
/// find the timer's entry in your own bookkeeping without storing an id in
/// the value.
///
/// # Examples
///
/// ```
/// use corelane::timer::{Expired, Wheel};
///
/// let mut wheel = Wheel::new();
/// let key = wheel.insert_at(7, "order 42 ttl");
/// let Some(Expired { key: fired, deadline_tick, value, .. }) = wheel.poll_expired_at(10) else {
///     unreachable!("due at tick 7");
/// };
/// assert_eq!((fired, deadline_tick, value), (key, 7, "order 42 ttl"));
/// assert_eq!(wheel.cancel(fired), None); // stale: it fired
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Expired<T> {
    /// The key returned when the timer was armed (now stale).
    pub key: TimerKey,
    /// The deadline tick as last requested (by insert or reset), not clamped:
    /// a deadline that was already past when armed is reported as given,
    /// below the tick at which it fired. Convert with
    /// [`Wheel::tick_to_instant`] for the start of that tick, which is at or
    /// after the `Instant` passed to [`insert`](Wheel::insert) and less than
    /// one tick after it.
    pub deadline_tick: u64,
    /// The timer's value.
    pub value: T,
}

impl<T> Wheel<T> {
    /// [`poll_at`](Self::poll_at) that hands back the key and the deadline
    /// tick with the value: fires the next timer with a deadline tick
    /// `<= tick`, or returns `None` once none is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::collections::HashMap;
    ///
    /// let mut wheel = Wheel::new();
    /// let mut open = HashMap::new();
    /// for (order, ttl) in [(41, 30), (42, 10)] {
    ///     open.insert(wheel.insert_at(ttl, order), order);
    /// }
    /// while let Some(e) = wheel.poll_expired_at(50) {
    ///     assert_eq!(open.remove(&e.key), Some(e.value));
    ///     println!("order {} expired at tick {}", e.value, e.deadline_tick);
    /// }
    /// assert!(open.is_empty());
    /// ```
    #[inline]
    pub fn poll_expired_at(&mut self, tick: u64) -> Option<Expired<T>> {
        let mut budget = usize::MAX;
        match self.step(tick, &mut budget) {
            Step::Fired(e) => Some(e),
            Step::Done | Step::OutOfBudget => None,
        }
    }

    /// [`advance_to`](Self::advance_to) that hands back the key and the
    /// deadline tick with each value: fires every timer with a deadline tick
    /// `<= tick`, in deadline order (at tick granularity), calling `f` with
    /// each; returns how many fired.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// for t in [7, 3, 200_000] {
    ///     wheel.insert_at(t, t * 10);
    /// }
    /// let mut fired = Vec::new();
    /// let n = wheel.advance_expired_to(100, |e| fired.push((e.deadline_tick, e.value)));
    /// assert_eq!(n, 2);
    /// assert_eq!(fired, [(3, 30), (7, 70)]);
    /// ```
    pub fn advance_expired_to(&mut self, tick: u64, mut f: impl FnMut(Expired<T>)) -> usize {
        let mut budget = usize::MAX;
        let mut fired = 0;
        while let Step::Fired(e) = self.step(tick, &mut budget) {
            fired += 1;
            f(e);
        }
        fired
    }

    /// [`poll`](Self::poll) that hands back the key and the deadline tick
    /// with the value. See [`poll_expired_at`](Self::poll_expired_at).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let mut wheel = Wheel::builder().origin(t0).tick(Duration::from_millis(1)).build();
    /// let key = wheel.insert(t0 + Duration::from_micros(2500), "quote expiry");
    /// let e = wheel.poll_expired(t0 + Duration::from_millis(3)).unwrap();
    /// assert_eq!((e.key, e.value), (key, "quote expiry"));
    /// // The deadline rounded up to its tick: never before the Instant given.
    /// assert_eq!(wheel.tick_to_instant(e.deadline_tick), Some(t0 + Duration::from_millis(3)));
    /// ```
    #[inline]
    pub fn poll_expired(&mut self, now: Instant) -> Option<Expired<T>> {
        let tick = self.now_to_tick(now);
        self.poll_expired_at(tick)
    }

    /// [`advance`](Self::advance) that hands back the key and the deadline
    /// tick with each value. See
    /// [`advance_expired_to`](Self::advance_expired_to).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::timer::Wheel;
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let mut wheel = Wheel::builder().origin(t0).tick(Duration::from_millis(1)).build();
    /// for ms in 1..=5 {
    ///     wheel.insert(t0 + Duration::from_millis(ms), ms);
    /// }
    /// let mut fired = Vec::new();
    /// let now = t0 + Duration::from_millis(3);
    /// assert_eq!(wheel.advance_expired(now, |e| fired.push(e)), 3);
    /// for e in &fired {
    ///     let deadline = wheel.tick_to_instant(e.deadline_tick).unwrap();
    ///     assert_eq!(deadline, t0 + Duration::from_millis(e.value));
    ///     println!("{} ms late", (now - deadline).as_millis());
    /// }
    /// ```
    pub fn advance_expired(&mut self, now: Instant, f: impl FnMut(Expired<T>)) -> usize {
        let tick = self.now_to_tick(now);
        self.advance_expired_to(tick, f)
    }
}
