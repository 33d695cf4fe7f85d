//! Worker groups: a node of the consumer graph whose members share one claim
//! cursor, so each item goes to exactly one member.
//!
//! # Ground rules
//!
//! * The group's `claim` is the next unclaimed position. A member claims the
//!   run `[c, c + n)` by CAS `c -> c + n`, only after learning that `c + n`
//!   is within its barrier (stamps, or its upstream nodes). A CAS hands each
//!   position to exactly one member.
//! * Each member publishes the position it *holds*: before the CAS it stores
//!   `held = c` (Release), and when it has finished its run it stores
//!   [`IDLE`] (Release, after reading the slots). A member that holds nothing
//!   is `IDLE`, so a sleeping member never holds the group back.
//! * The group's released position is `min(claim, every non-idle held)`,
//!   reading `claim` **first** (Acquire). If a member's CAS is in the claim
//!   value read, the CAS (Release) published its `held` store before it, so
//!   the later load of `held` sees `c` or a later value; if the CAS is not in
//!   it, the claim read is `<= c` anyway. Either way no position a member is
//!   still reading is reported as released.

use std::fmt;

use super::batch::{Batch, Item, Release};
use super::graph::{NodeId, Upstream};
use super::reader::{batch_async, batch_blocking, Horizon, ReadSide, WakeCell};
use super::ring::{Ring, OPEN};
use super::sequence::Sequence;
use crate::queue::position::earlier;
use crate::queue::wait::WaitStrategy;
use crate::queue::PopError;
use crate::sync::Arc;

/// A member's `held` value when it holds nothing.
pub(crate) const IDLE: usize = usize::MAX;

pub(crate) struct GroupShared {
    claim: Sequence,
    held: Box<[Sequence]>,
}

impl GroupShared {
    /// Where a node joining after this group starts: the claim cursor, which
    /// only grows and is at or past every position the group released (so
    /// the producer cannot have reused a slot at or after it). Items the
    /// members hold at the moment of the join are not seen by the joiner.
    pub(crate) fn start_after(&self) -> usize {
        self.claim.get()
    }

    /// Moves a just-joined group (no worker handle exists yet) from its
    /// provisional position to its start. Release, via [`Sequence::set`]:
    /// pairs with the producer's Acquire gating loads.
    pub(crate) fn start_at(&self, start: usize) {
        self.claim.set(start);
    }

    pub(crate) fn new(start: usize, members: usize) -> Self {
        GroupShared {
            claim: Sequence::new(start),
            held: (0..members).map(|_| Sequence::new(IDLE)).collect(),
        }
    }

    /// Every position below the result is released by the group (see the
    /// ground rules for why `claim` is read first).
    ///
    /// A lower bound, and not monotone: a member about to lose its claim
    /// race may announce a stale `held` below what the group already
    /// released, for a moment. Fine for the producer's floor and for a
    /// barrier (a low value only holds them back); a joiner must not start
    /// from it (see [`start_after`](Self::start_after)). Nor is it an upper
    /// bound for the nodes after the group: a node that joins after it
    /// starts at its claim cursor, past items its members may still hold,
    /// which is why every node gates the producer, not only the leaves
    /// (`graph.rs`).
    #[inline]
    pub(crate) fn position(&self) -> usize {
        let claim = self.claim.get();
        self.held.iter().fold(claim, |m, h| match h.get() {
            IDLE => m,
            held => earlier(m, held),
        })
    }
}

/// One member of a worker group: together the members see every item once,
/// each item going to exactly one member (in claim order, in runs of up to
/// the `max` a member asks for).
///
/// Made by [`Builder::group`](super::Builder::group) and taken with
/// [`Handles::workers`](super::Handles::workers). Dropping a worker leaves
/// the group; when the last member leaves, the group leaves the graph.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::Builder;
///
/// let mut b = Builder::new(16, || 0u64);
/// let g = b.group(2);
/// let (mut tx, mut handles) = b.build().unwrap();
/// let mut workers = handles.workers(g);
/// for i in 0..4 {
///     tx.try_publish(i).unwrap();
/// }
/// let a = workers[0].poll(3).unwrap().iter().copied().collect::<Vec<_>>();
/// let b = workers[1].poll(3).unwrap().iter().copied().collect::<Vec<_>>();
/// assert_eq!((a, b), (vec![0, 1, 2], vec![3]));
/// ```
pub struct Worker<T> {
    ring: Arc<Ring<T>>,
    group: Arc<GroupShared>,
    state: WorkerState,
}

struct WorkerState {
    /// This worker's index in the group's `held` table.
    member: usize,
    /// How far from the group's claim position this worker may read (valid
    /// while the claim has not passed it: the group gates the producer
    /// until it does).
    horizon: Horizon,
}

impl<T> fmt::Debug for Worker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Worker")
            .field("id", &self.state.horizon.id())
            .field("member", &self.state.member)
            .finish()
    }
}

impl<T> Worker<T> {
    pub(crate) fn new(
        ring: Arc<Ring<T>>,
        group: Arc<GroupShared>,
        id: NodeId,
        member: usize,
        upstream: Upstream,
        version: usize,
    ) -> Self {
        let start = group.claim.get();
        Worker {
            ring,
            group,
            state: WorkerState {
                member,
                horizon: Horizon::new(id, start, upstream, version),
            },
        }
    }

    fn batch(&mut self, (start, len): (usize, usize)) -> Batch<'_, T> {
        let held = &self.group.held[self.state.member];
        Batch::new(&self.ring, start, len, Release::Worker(held))
    }

    /// Claims the next item, read in place; the worker is done with it when
    /// the [`Item`] drops. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if nothing is left to claim now;
    /// [`PopError::Disconnected`] once every publisher is gone and the group
    /// has claimed everything.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::Builder, PopError};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.try_publish(5).unwrap();
    /// assert_eq!(*w.try_next().unwrap(), 5);
    /// assert!(matches!(w.try_next(), Err(PopError::Empty)));
    /// ```
    #[inline]
    pub fn try_next(&mut self) -> Result<Item<'_, T>, PopError> {
        let r = self.state.take(&self.ring, &self.group, 1)?;
        Ok(Item(self.batch(r)))
    }

    /// Claims a run of up to `max` items (at least one), read in place.
    ///
    /// # Errors
    ///
    /// As [`try_next`](Self::try_next).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(8, || 0u8);
    /// let g = b.group(3);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut ws = h.workers(g);
    /// tx.try_publish_batch(5, |i, slot| *slot = i as u8).unwrap();
    /// assert_eq!(ws[2].poll(8).unwrap().len(), 5);
    /// assert!(ws[0].poll(8).is_err());
    /// ```
    #[inline]
    pub fn poll(&mut self, max: usize) -> Result<Batch<'_, T>, PopError> {
        let r = self.state.take(&self.ring, &self.group, max)?;
        Ok(self.batch(r))
    }

    /// Claims up to `max` items and hands each to `handler` with its
    /// sequence number and an end-of-batch flag; returns how many.
    ///
    /// If `handler` panics, the rest of the claimed run is released
    /// unhandled: no other member of the group will see those items.
    ///
    /// # Errors
    ///
    /// As [`try_next`](Self::try_next).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(8, || 0u32);
    /// let g = b.group(2);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut ws = h.workers(g);
    /// tx.try_publish(7).unwrap();
    /// let mut seen = vec![];
    /// ws[0].process(16, |v, seq, last| seen.push((*v, seq, last))).unwrap();
    /// assert_eq!(seen, [(7, 0, true)]);
    /// ```
    pub fn process<F: FnMut(&T, u64, bool)>(
        &mut self,
        max: usize,
        handler: F,
    ) -> Result<usize, PopError> {
        Ok(self.poll(max)?.process(handler))
    }

    /// Claims the next item, waiting per `strategy` while none is left.
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once every publisher is gone and the group
    /// has claimed everything.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::Builder, wait::WaitStrategy};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// std::thread::spawn(move || tx.try_publish(3).unwrap());
    /// assert_eq!(*w.next_blocking(WaitStrategy::Park).unwrap(), 3);
    /// ```
    pub fn next_blocking(&mut self, strategy: WaitStrategy) -> Result<Item<'_, T>, PopError> {
        Ok(Item(self.poll_blocking(1, strategy)?))
    }

    /// Claims up to `max` items, waiting per `strategy` while none is left.
    ///
    /// # Errors
    ///
    /// As [`next_blocking`](Self::next_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::Builder, wait::WaitStrategy};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(2);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.try_publish(1).unwrap();
    /// assert_eq!(w.poll_blocking(4, WaitStrategy::Yield).unwrap().len(), 1);
    /// ```
    pub fn poll_blocking(
        &mut self,
        max: usize,
        strategy: WaitStrategy,
    ) -> Result<Batch<'_, T>, PopError> {
        let mut side = WorkSide {
            state: &mut self.state,
            group: &self.group,
        };
        let r = batch_blocking(&mut side, &self.ring, max, strategy)?;
        Ok(self.batch(r))
    }

    /// Claims the next item, waiting asynchronously while none is left.
    ///
    /// # Errors
    ///
    /// As [`next_blocking`](Self::next_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.try_publish(9).unwrap();
    /// assert_eq!(*w.recv().await.unwrap(), 9);
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<Item<'_, T>, PopError> {
        Ok(Item(self.recv_batch(1).await?))
    }

    /// Claims up to `max` items, waiting asynchronously while none is left.
    ///
    /// # Errors
    ///
    /// As [`next_blocking`](Self::next_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.try_publish(1).unwrap();
    /// tx.try_publish(2).unwrap();
    /// assert_eq!(w.recv_batch(8).await.unwrap().len(), 2);
    /// # });
    /// ```
    pub async fn recv_batch(&mut self, max: usize) -> Result<Batch<'_, T>, PopError> {
        let mut side = WorkSide {
            state: &mut self.state,
            group: &self.group,
        };
        let r = batch_async(&mut side, &self.ring, max).await?;
        Ok(self.batch(r))
    }

    /// This group's node id (shared by every member), for
    /// [`Joiner::subscribe_after`](super::Joiner::subscribe_after).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(2);
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert!(h.workers(g).iter().all(|w| w.id() == g));
    /// ```
    pub fn id(&self) -> NodeId {
        self.state.horizon.id()
    }

    /// Number of slots in the ring.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(5, || 0u8);
    /// let g = b.group(1);
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert_eq!(h.workers(g)[0].capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        // Holds nothing from now on (a forgotten batch may have left `held`).
        self.group.held[self.state.member].set(IDLE);
        super::joiner::leave(&self.ring, self.state.horizon.id());
    }
}

/// A worker's read side for the shared blocking/async helpers.
struct WorkSide<'a> {
    state: &'a mut WorkerState,
    group: &'a GroupShared,
}

impl<T> ReadSide<T> for WorkSide<'_> {
    fn take(&mut self, ring: &Ring<T>, max: usize) -> Result<(usize, usize), PopError> {
        self.state.take(ring, self.group, max)
    }

    fn wake_cell(&self) -> WakeCell {
        self.state.horizon.wake_cell()
    }
}

impl WorkerState {
    /// Claims `[c, c + n)` with `1 <= n <= max` (see the ground rules).
    #[inline]
    fn take<T>(
        &mut self,
        ring: &Ring<T>,
        group: &GroupShared,
        max: usize,
    ) -> Result<(usize, usize), PopError> {
        let held = &group.held[self.member];
        // No run is longer than the ring (and `max` must fit an `isize`).
        let max = max.clamp(1, ring.capacity());
        let mut c = group.claim.get_relaxed();
        let mut announced = false;
        loop {
            if self.horizon.ahead(c) < max as isize {
                self.horizon.scan(ring, c, max);
            }
            let have = self.horizon.ahead(c);
            if have <= 0 {
                if announced {
                    // Withdrawing an announcement is a release: a publisher
                    // (or a node after the group) may have parked on it.
                    held.set(IDLE);
                    ring.released.notify();
                    announced = false;
                }
                self.nothing_ready(ring, group)?;
                c = group.claim.get_relaxed();
                continue;
            }
            let n = (have as usize).min(max);
            held.set(c);
            announced = true;
            match group.claim.advance(c, c.wrapping_add(n)) {
                Ok(()) => return Ok((c, n)),
                Err(now) => c = now,
            }
        }
    }

    /// Nothing to claim: rewire after a leave upstream (then `Ok`, retry),
    /// or report `Empty` / `Disconnected`.
    #[cold]
    fn nothing_ready<T>(&mut self, ring: &Ring<T>, group: &GroupShared) -> Result<(), PopError> {
        if self.horizon.rewire(ring) {
            return Ok(());
        }
        let closed = ring.closed_at();
        if closed != OPEN {
            let c = group.claim.get();
            if c == closed {
                return Err(PopError::Disconnected);
            }
            let before = self.horizon.ahead(c);
            self.horizon.scan(ring, c, 1);
            if self.horizon.ahead(c) != before {
                return Ok(());
            }
        }
        Err(PopError::Empty)
    }
}
