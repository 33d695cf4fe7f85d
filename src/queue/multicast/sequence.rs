//! The two atomics of the multicast protocol, as types whose methods fix the
//! memory ordering (so a call site cannot pick the wrong one).
//!
//! * [`Sequence`]: a position published by one thread for others — the
//!   producer's cursor, a subscriber's released position, a worker group's
//!   claim cursor or a group member's held position. `set` is Release, `get`
//!   is Acquire: whatever the owner did before publishing a position (reading
//!   the slots below it, writing the slots it covers) happens-before whatever
//!   a reader of that position does next.
//! * [`Stamp`]: the per-slot publication mark (LMAX's availability buffer,
//!   kept inside the slot so it travels with the value's cache line).
//!   Position `p` is published in its slot when the stamp reads `p + 1`;
//!   [`Stamp::WRITING`] marks a slot being (over)written, so the seqlock
//!   check of a lossy reader notices the overwrite.

use crate::sync::{fence, AtomicUsize, CachePadded, Ordering};

/// A position shared between threads, on its own cache line.
pub(crate) struct Sequence(CachePadded<AtomicUsize>);

impl Sequence {
    pub(crate) fn new(pos: usize) -> Self {
        Sequence(CachePadded::new(AtomicUsize::new(pos)))
    }

    /// The published position. Acquire: pairs with the Release in
    /// [`set`](Self::set) / [`advance`](Self::advance).
    #[inline]
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// A possibly stale value, for a hint (a CAS's first guess, a `len`) that
    /// is validated by something else before anything depends on it.
    #[inline]
    pub(crate) fn get_relaxed(&self) -> usize {
        // Relaxed: callers read their own last store, or take a guess (a
        // CAS's expected value, `Busy` vs `Empty`, a sequence number to
        // report); no slot is read or written on its strength alone.
        self.0.load(Ordering::Relaxed)
    }

    /// Publishes `pos`. Release: pairs with the Acquire in [`get`](Self::get).
    #[inline]
    pub(crate) fn set(&self, pos: usize) {
        self.0.store(pos, Ordering::Release);
    }

    /// Moves the position from `from` to `to` if nobody else moved it first;
    /// on failure returns the current position. AcqRel on success: Release
    /// publishes the claimer's earlier stores (a worker's held position) to
    /// whoever Acquires the claim cursor; Acquire makes claims a chain.
    #[inline]
    pub(crate) fn advance(&self, from: usize, to: usize) -> Result<(), usize> {
        self.0
            .compare_exchange_weak(from, to, Ordering::AcqRel, Ordering::Relaxed)
            .map(|_| ())
    }
}

/// The publication mark of one slot. See the module docs of
/// [`multicast`](super) for the protocol.
pub(crate) struct Stamp(AtomicUsize);

impl Stamp {
    /// "Never written" and "being written": no position `p` has `p + 1 == 0`
    /// within 2^64 publications.
    pub(crate) const WRITING: usize = 0;

    pub(crate) fn new() -> Self {
        Stamp(AtomicUsize::new(Self::WRITING))
    }

    /// True if the slot holds position `pos`. Acquire: pairs with the
    /// Release of [`publish`](Self::publish) (or the fence before
    /// [`publish_relaxed`](Self::publish_relaxed)), making the value visible.
    #[inline]
    pub(crate) fn holds(&self, pos: usize) -> bool {
        self.0.load(Ordering::Acquire) == pos.wrapping_add(1)
    }

    /// The raw stamp (Acquire, as in [`holds`](Self::holds)); a seqlock
    /// reader's first read.
    #[inline]
    pub(crate) fn load(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// A seqlock reader's validation, after copying the value: an Acquire
    /// fence, then the stamp again. If the copy read anything a writer stored
    /// after its [`begin_write`](Self::begin_write), the fence synchronizes
    /// with the writer's Release fence and this load sees `WRITING` or a
    /// later stamp, never the first read's value.
    #[inline]
    pub(crate) fn recheck(&self) -> usize {
        fence(Ordering::Acquire);
        self.0.load(Ordering::Relaxed)
    }

    /// Marks the slot as being overwritten, before the value is touched.
    /// Relaxed: ordered before the value writes by [`write_fence`], which the
    /// caller issues once for one slot or a whole batch.
    #[inline]
    pub(crate) fn begin_write(&self) {
        self.0.store(Self::WRITING, Ordering::Relaxed);
    }

    /// Publishes position `pos` in this slot. Release: pairs with the Acquire
    /// in [`holds`](Self::holds) / [`load`](Self::load).
    #[inline]
    pub(crate) fn publish(&self, pos: usize) {
        self.0.store(pos.wrapping_add(1), Ordering::Release);
    }

    /// Publishes `pos` after the caller issued one [`write_fence`] for a
    /// whole batch of value writes. Relaxed: the fence before it plays the
    /// Release, pairing with a reader's Acquire load of this stamp.
    #[inline]
    pub(crate) fn publish_relaxed(&self, pos: usize) {
        self.0.store(pos.wrapping_add(1), Ordering::Relaxed);
    }
}

/// A Release fence: orders earlier stamp marks before later value writes, or
/// a batch's value writes before its Relaxed stamp publications.
#[inline]
pub(crate) fn write_fence() {
    fence(Ordering::Release);
}
