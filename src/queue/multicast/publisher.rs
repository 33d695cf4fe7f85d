//! Publishers: the single-producer [`Publisher`] and the cloneable
//! [`MultiPublisher`]. The protocol (gating, claims, lossy marking) and its
//! ground rules are in `claim.rs`.

use std::fmt;
use std::marker::PhantomData;

use super::claim::ClaimState;
use super::ring::Ring;
use super::Joiner;
use crate::queue::wait::{attempt_with, block_on, Retry, WaitStrategy};
use crate::queue::PushError;
use crate::sync::Arc;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Single {}
    impl Sealed for super::Multi {}
}

/// How a [`Publisher`] claims positions: [`Single`] (one thread publishes;
/// plain stores) or [`Multi`] (the handle is `Clone`; claims by CAS).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, Multi, Publisher};
///
/// let (tx, _h): (Publisher<u8, Multi>, _) = Builder::new(4, || 0u8).build_multi().unwrap();
/// let _tx2 = tx.clone();
/// ```
pub trait Mode: sealed::Sealed + 'static {
    #[doc(hidden)]
    const MULTI: bool;
}

/// One publishing thread (the default [`Mode`]).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Publisher, Single};
///
/// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
/// let _: &Publisher<u8, Single> = &tx;
/// ```
#[derive(Debug)]
pub enum Single {}

/// Many publishing threads, each with a clone of the handle.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, MultiPublisher};
///
/// let (tx, _h) = Builder::new(4, || 0u8).build_multi().unwrap();
/// let _: MultiPublisher<u8> = tx;
/// ```
#[derive(Debug)]
pub enum Multi {}

impl Mode for Single {
    const MULTI: bool = false;
}

impl Mode for Multi {
    const MULTI: bool = true;
}

/// A publisher that many threads share, each through its own clone.
pub type MultiPublisher<T> = Publisher<T, Multi>;

/// The producing end of a multicast ring. Publishes fill a preallocated slot
/// in place (the closure gets `&mut T`), or move a value in.
///
/// `Publisher<T>` (mode [`Single`]) is for one thread; [`MultiPublisher<T>`]
/// is `Clone`. Dropping every publisher ends the stream: cursors read what
/// is left, then see `Disconnected`.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast;
///
/// #[derive(Default)]
/// struct Order { id: u64, qty: u32 }
///
/// let (mut tx, mut cs) = multicast::broadcast(1024, Order::default, 1);
/// tx.try_publish_with(|o| { o.id = 7; o.qty = 100; }).unwrap();
/// let o = cs[0].try_next().unwrap();
/// assert_eq!((o.id, o.qty), (7, 100));
/// ```
pub struct Publisher<T, M: Mode = Single> {
    ring: Arc<Ring<T>>,
    state: ClaimState,
    _mode: PhantomData<fn() -> M>,
}

impl<T, M: Mode> fmt::Debug for Publisher<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Publisher")
            .field("multi", &M::MULTI)
            .field("sequence", &self.sequence())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T, M: Mode> Publisher<T, M> {
    pub(crate) fn new(ring: Arc<Ring<T>>) -> Self {
        let state = ClaimState::new(&ring, 0);
        Publisher {
            ring,
            state,
            _mode: PhantomData,
        }
    }

    /// Publishes `value` (moved into the slot; the slot's previous value is
    /// dropped), returning its sequence number. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] (with the value) if the slowest gating cursor has
    /// not released the slot; [`PushError::Disconnected`] if no subscriber is
    /// left (the item would reach nobody; a later join makes publishing work
    /// again).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, PushError};
    ///
    /// let (mut tx, cs) = multicast::broadcast(1, || 0u32, 1);
    /// assert_eq!(tx.try_publish(1), Ok(0));
    /// assert_eq!(tx.try_publish(2), Err(PushError::Full(2)));
    /// drop(cs);
    /// assert_eq!(tx.try_publish(3), Err(PushError::Disconnected(3)));
    /// ```
    #[inline]
    pub fn try_publish(&mut self, value: T) -> Result<u64, PushError<T>> {
        self.state
            .put::<T, M, T, _>(&self.ring, true, value, |v, slot| *slot = v)
    }

    /// Fills the next slot in place with `fill` and publishes it, returning
    /// its sequence number. Never blocks. The slot holds whatever the last
    /// lap left there (or the factory's value): `fill` should set every
    /// field it cares about.
    ///
    /// # Errors
    ///
    /// As [`try_publish`](Self::try_publish); the closure is handed back
    /// uncalled.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, Vec::<u8>::new, 1);
    /// tx.try_publish_with(|v| { v.clear(); v.extend_from_slice(b"abc"); }).unwrap();
    /// assert_eq!(&cs[0].try_next().unwrap()[..], b"abc");
    /// ```
    #[inline]
    pub fn try_publish_with<F: FnOnce(&mut T)>(&mut self, fill: F) -> Result<u64, PushError<F>> {
        self.state
            .put::<T, M, F, _>(&self.ring, true, fill, |f, slot| f(slot))
    }

    /// [`try_publish`](Self::try_publish) without the wake-up check, to
    /// measure what the check costs. Parked readers are not woken.
    #[doc(hidden)]
    #[inline]
    pub fn __try_publish_without_notify(&mut self, value: T) -> Result<u64, PushError<T>> {
        self.state
            .put::<T, M, T, _>(&self.ring, false, value, |v, slot| *slot = v)
    }

    /// Publishes `value`, waiting per `strategy` while the ring is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if no subscriber is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(1, || 0u32, 1);
    /// tx.publish_blocking(1, WaitStrategy::Park).unwrap();
    /// let mut c = cs.pop().unwrap();
    /// let t = std::thread::spawn(move || {
    ///     let first = *c.next_blocking(WaitStrategy::Park).unwrap();
    ///     (first, c) // keep the cursor subscribed
    /// });
    /// tx.publish_blocking(2, WaitStrategy::Park).unwrap(); // waits for the release
    /// assert_eq!(t.join().unwrap().0, 1);
    /// ```
    pub fn publish_blocking(
        &mut self,
        value: T,
        strategy: WaitStrategy,
    ) -> Result<u64, PushError<T>> {
        let Publisher { ring, state, .. } = self;
        let mut v = Some(value);
        block_on(strategy, &ring.released, || {
            state.retry::<T, M, T, _>(ring, &mut v, |v, slot| *slot = v)
        })
    }

    /// Fills the next slot in place, waiting per `strategy` while the ring
    /// is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the closure) if no subscriber is
    /// left.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(2, || 0u32, 1);
    /// tx.publish_with_blocking(|v| *v = 5, WaitStrategy::Backoff).unwrap();
    /// assert_eq!(*cs[0].try_next().unwrap(), 5);
    /// ```
    pub fn publish_with_blocking<F: FnOnce(&mut T)>(
        &mut self,
        fill: F,
        strategy: WaitStrategy,
    ) -> Result<u64, PushError<F>> {
        let Publisher { ring, state, .. } = self;
        let mut v = Some(fill);
        block_on(strategy, &ring.released, || {
            state.retry::<T, M, F, _>(ring, &mut v, |f, slot| f(slot))
        })
    }

    /// Publishes `value`, waiting asynchronously while the ring is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if no subscriber is left.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(2, || 0u32, 1);
    /// tx.publish(3).await.unwrap();
    /// assert_eq!(*cs[0].recv().await.unwrap(), 3);
    /// # });
    /// ```
    pub async fn publish(&mut self, value: T) -> Result<u64, PushError<T>> {
        let Publisher { ring, state, .. } = self;
        let mut v = Some(value);
        Retry {
            notify: &ring.released,
            op: || state.retry::<T, M, T, _>(ring, &mut v, |v, slot| *slot = v),
        }
        .await
    }

    /// Fills `n` consecutive slots in place — `fill(i, slot)` for `i` in
    /// `0..n` — and publishes them together with one fence; returns the
    /// first one's sequence number. Never blocks. `n == 0` publishes nothing.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] (with the closure, uncalled) if fewer than `n`
    /// slots are free; [`PushError::Disconnected`] if no subscriber is left.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the capacity (it could never fit).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(8, || 0u32, 1);
    /// assert_eq!(tx.try_publish_batch(3, |i, v| *v = i as u32).unwrap(), 0);
    /// assert!(tx.try_publish_batch(6, |_, _| {}).is_err());
    /// assert_eq!(cs[0].poll(8).unwrap().len(), 3);
    /// ```
    #[inline]
    pub fn try_publish_batch<F: FnMut(usize, &mut T)>(
        &mut self,
        n: usize,
        fill: F,
    ) -> Result<u64, PushError<F>> {
        self.state.put_batch::<T, M, F>(&self.ring, n, fill)
    }

    /// Like [`try_publish_batch`](Self::try_publish_batch), waiting per
    /// `strategy` until `n` slots are free.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the closure) if no subscriber is
    /// left.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// tx.publish_batch_blocking(4, |i, v| *v = i as u32, WaitStrategy::Yield).unwrap();
    /// assert_eq!(cs[0].poll(4).unwrap().len(), 4);
    /// ```
    pub fn publish_batch_blocking<F: FnMut(usize, &mut T)>(
        &mut self,
        n: usize,
        fill: F,
        strategy: WaitStrategy,
    ) -> Result<u64, PushError<F>> {
        let Publisher { ring, state, .. } = self;
        let mut f = Some(fill);
        block_on(strategy, &ring.released, || {
            attempt_with(&mut f, |fill| state.put_batch::<T, M, F>(ring, n, fill))
        })
    }

    /// Number of slots (a power of two).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(1000, || 0u8, 1);
    /// assert_eq!(tx.capacity(), 1024);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// The sequence number the next publish gets (for many producers: the
    /// next unclaimed one, a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// assert_eq!(tx.sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        if M::MULTI {
            self.ring.producer.get_relaxed() as u64
        } else {
            self.state.next() as u64
        }
    }

    /// Live subscriber handles (cursors, workers, lossy cursors). Takes the
    /// registry lock: for monitoring, not for the hot path.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 2);
    /// cs.pop();
    /// assert_eq!(tx.subscribers(), 1);
    /// ```
    pub fn subscribers(&self) -> usize {
        self.ring.registry.lock().live()
    }

    /// A handle to subscribe cursors to this ring at run time.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// let late = tx.joiner().subscribe();
    /// assert_eq!(late.sequence(), 1); // starts at the published position
    /// ```
    pub fn joiner(&self) -> Joiner<T> {
        Joiner::new(self.ring.clone())
    }
}

impl<T> Clone for Publisher<T, Multi> {
    fn clone(&self) -> Self {
        self.ring.add_publisher();
        let own = self.ring.producer.get_relaxed();
        Publisher {
            ring: self.ring.clone(),
            state: ClaimState::new(&self.ring, own),
            _mode: PhantomData,
        }
    }
}

impl<T, M: Mode> Drop for Publisher<T, M> {
    fn drop(&mut self) {
        let at = (!M::MULTI).then_some(self.state.next());
        self.ring.remove_publisher(at);
    }
}
