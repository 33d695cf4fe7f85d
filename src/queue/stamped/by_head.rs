//! The MPSC pair: the single consumer reads positions in order and
//! publishes `head` after each read, so its producers decide "slot free"
//! from `head` instead of the slot's stamp (see the ground rules in
//! `mod.rs`).
//!
//! * [`SoleConsumer`]: owns `head`; never re-stamps a slot it read, so it
//!   never writes a line the producers are filling;
//! * [`HeadGatedProducer`]: claims by CAS on `tail` (a plain store while it
//!   is the only producer handle) once a cached copy of `head` shows room;
//!   a batch claims a whole run at once ([`claim_run`]), or, from the only
//!   handle, writes the run ahead of `tail` and moves `tail` once (rules in
//!   `batch.rs`).
//!
//! Neither is sound with another kind of peer: a head-gated producer needs
//! a consumer that reads in order and publishes `head` after the read; the
//! sole consumer's stale stamps are only harmless because no producer
//! looks at them.

use std::iter::Peekable;

use super::batch::{
    push_staged, RunClaim, RunWriter, TailUpdate, WakeOnceWritten, STAGE_ITEMS, STAGE_ITEM_BYTES,
};
use super::{PopSide, PushSide, Ring};
use crate::queue::position::ahead;
use crate::queue::{Disconnected, PopError, PushError};
use crate::sync::Ordering;

/// The single consumer of an MPSC ring: it owns `head`, so a claim is a
/// plain store, not a CAS.
#[derive(Default)]
pub(crate) struct SoleConsumer {
    /// The next position to pop; `ring.head` mirrors it after each pop.
    head: usize,
}

/// One of the many producers of an MPSC ring. Claims by CAS on `tail`, but
/// decides "slot free" from a cached copy of the consumer's `head` instead
/// of loading the slot's stamp, so a push touches the slot's line once (to
/// write it) and the consumer's line only when the cache says the ring is
/// full.
#[derive(Default, Clone, Copy)]
pub(crate) struct HeadGatedProducer {
    /// A `head` this handle loaded (Acquire) or was cloned with: every
    /// position below it has been read. Never ahead of `tail`.
    cached_head: usize,
}

impl PopSide for SoleConsumer {
    #[inline]
    fn pop<T>(&mut self, ring: &Ring<T>) -> Result<T, PopError> {
        let pos = self.head;
        // Relaxed: only this thread stores `head`, so it reads its own last
        // store whatever the ordering.
        debug_assert_eq!(
            ring.head.load(Ordering::Relaxed),
            pos,
            "only the sole consumer moves head"
        );
        // Acquire: pairs with the producer's Release in `write_and_stamp`
        // (or a run's Release fence, `batch.rs`).
        if ring.slot(pos).seq.load(Ordering::Acquire) != pos.wrapping_add(1) {
            return Err(empty_or_disconnected(ring, pos));
        }
        debug_assert!(
            ahead(ring.tail.load(Ordering::Relaxed), pos) > 0,
            "a written position was claimed first"
        );
        // No stamp store after the read: the producers decide "free" from
        // `head`, never from the stamp, and the stale `pos + 1` left in the
        // slot never equals a later lap's `pos + cap + 1`. So the consumer
        // never writes a slot line the producers are filling.
        let value = ring
            .slot(pos)
            .value
            // SAFETY: we own position `pos` (the single consumer, after
            // seeing `seq == pos + 1`).
            .with(|v| unsafe { (*v).assume_init_read() });
        self.head = pos.wrapping_add(1);
        // Release: pairs with the Acquire head loads of the producers
        // (`HeadGatedProducer::push`, `claim_run`, `write_ahead`) and `len`: every position
        // below the new head has been read, so its slot may be overwritten.
        ring.head.store(self.head, Ordering::Release);
        ring.space.notify();
        Ok(value)
    }
}

/// Why the sole consumer could not pop `pos`: nothing will ever come
/// (`Disconnected`), or nothing is ready there yet (`Empty`), including a
/// slot a producer claimed and has not finished writing. It does **not**
/// load `tail` to tell that case apart as `Busy`: `tail` is the line every
/// push CASes, and an empty poll would then contend with the producers.
#[cold]
fn empty_or_disconnected<T>(ring: &Ring<T>, pos: usize) -> PopError {
    if ring.ended_before(pos) {
        PopError::Disconnected
    } else {
        PopError::Empty
    }
}

impl PushSide for HeadGatedProducer {
    #[inline]
    fn push<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>> {
        if ring.consumers_gone_hint() {
            return Err(PushError::Disconnected(value));
        }
        // Acquire: pairs with the Release decrement of a producer handle that
        // left (its claims happen-before what we read of `tail` next). The
        // line is read on every push anyway (`consumers_gone_hint`).
        if ring.handles.producers.load(Ordering::Acquire) == 1 {
            return self.push_alone(ring, value);
        }
        let cap = ring.capacity() as isize;
        // Relaxed: a hint; ownership is decided by the CAS below.
        let mut pos = ring.tail.load(Ordering::Relaxed);
        loop {
            debug_assert!(ahead(pos, self.cached_head) >= 0, "head passed tail");
            if ahead(pos, self.cached_head) >= cap {
                // Acquire: pairs with the consumer's Release head store in
                // `SoleConsumer::pop`, issued after it read every position
                // below `head`.
                self.cached_head = ring.head.load(Ordering::Acquire);
                if ahead(pos, self.cached_head) >= cap {
                    let now = ring.tail.load(Ordering::Relaxed);
                    if now == pos {
                        return Err(PushError::Full(value));
                    }
                    pos = now;
                    continue;
                }
            }
            // Relaxed: the CAS only arbitrates ownership of `pos`; the item's
            // visibility rides on the slot's stamp.
            match ring.tail.compare_exchange_weak(
                pos,
                pos.wrapping_add(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => pos = now,
            }
            crate::sync::spin_hint();
        }
        debug_assert_slot_free(ring, pos);
        ring.write_and_stamp(pos, value);
        ring.items.notify();
        Ok(())
    }

    fn has_room<T>(&self, ring: &Ring<T>) -> bool {
        ring.len() < ring.capacity()
    }
}

impl HeadGatedProducer {
    /// `push` for the only producer handle: a plain load and store of
    /// `tail` instead of a CAS. A locked CAS on x86 waits for the previous
    /// push's slot stores to leave the store buffer, i.e. for the slot line
    /// to come back from the consumer: it costs a cache-line round trip per
    /// push in 1→1 use. Sound because nobody else can claim meanwhile: the
    /// handle is `&mut` for the push, and another handle can only come from
    /// cloning this one (an increment this thread made, so its next load of
    /// `producers` sees it) and be used elsewhere only after being sent
    /// there (which orders our `tail` store before its CAS). When a clone
    /// leaves, its Release decrement, seen by our Acquire load of
    /// `producers`, orders its last claim before our plain load of `tail`.
    #[inline]
    fn push_alone<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>> {
        let cap = ring.capacity() as isize;
        // Relaxed: we are the only writer of `tail` right now (see above).
        let pos = ring.tail.load(Ordering::Relaxed);
        debug_assert!(ahead(pos, self.cached_head) >= 0, "head passed tail");
        if ahead(pos, self.cached_head) >= cap {
            // Acquire: as in `push`.
            self.cached_head = ring.head.load(Ordering::Acquire);
            if ahead(pos, self.cached_head) >= cap {
                return Err(PushError::Full(value));
            }
        }
        // Relaxed: ownership only, as the CAS in `push`; the item's
        // visibility rides on the slot stamp stored by `write_and_stamp`.
        ring.tail.store(pos.wrapping_add(1), Ordering::Relaxed);
        debug_assert_slot_free(ring, pos);
        ring.write_and_stamp(pos, value);
        ring.items.notify();
        Ok(())
    }

    /// True if only this handle can claim: no other producer handle exists,
    /// and none can appear while this one is borrowed (see `push_alone`).
    #[inline]
    fn is_sole<T>(ring: &Ring<T>) -> bool {
        // Acquire: as in `push`, pairs with the Release decrement of a
        // handle that left, ordering its last claim before our loads.
        ring.handles.producers.load(Ordering::Acquire) == 1
    }

    /// Pushes the longest prefix of `items` that fits: the only handle
    /// writes the clones ahead and publishes them as one run; a shared one
    /// claims a staged group of clones per CAS (see `batch.rs`).
    pub(crate) fn push_slice<T: Clone>(
        &mut self,
        ring: &Ring<T>,
        items: &[T],
    ) -> Result<usize, Disconnected> {
        if ring.consumers_gone_hint() {
            return Err(Disconnected(()));
        }
        if Self::is_sole(ring) {
            return Ok(self.write_ahead(ring, items.iter().cloned(), items.len()));
        }
        Ok(if std::mem::size_of::<T>() <= STAGE_ITEM_BYTES {
            push_staged::<T, STAGE_ITEMS>(ring, items, self)
        } else {
            push_staged::<T, 1>(ring, items, self)
        })
    }

    /// Pushes items of `iter` while slots are free. The only handle writes
    /// them ahead, taking an item only for a slot it knows free; a shared
    /// one claims one position per item before taking it (it was only
    /// peeked at), so an item that finds no slot stays in `iter`.
    pub(crate) fn push_iter<T, I: Iterator<Item = T>>(
        &mut self,
        ring: &Ring<T>,
        iter: &mut Peekable<I>,
    ) -> Result<usize, Disconnected> {
        if ring.consumers_gone_hint() {
            return Err(Disconnected(()));
        }
        if Self::is_sole(ring) {
            let want = iter.size_hint().0.max(1);
            return Ok(self.write_ahead(ring, iter, want));
        }
        // Wakes the consumers once, at the end or if `iter` panics.
        let mut pushed = WakeOnceWritten::new(ring);
        while iter.peek().is_some() {
            let (pos, got) = self.claim(ring, 1);
            if got == 0 {
                break;
            }
            // Peeked: `next` hands the held item back, running no caller
            // code, so the claimed position is always written.
            let v = iter.next().expect("corelane: Peekable lost a peeked item");
            debug_assert_slot_free(ring, pos);
            ring.write_and_stamp(pos, v);
            pushed.count += 1;
        }
        Ok(pushed.count)
    }

    /// The only producer handle's batch: writes values from `values` into
    /// the free positions from `tail` on (at most the free count, refreshed
    /// if the cache shows fewer than `want`), then moves `tail` and
    /// publishes them as one run. Nobody else claims meanwhile (the
    /// argument of `push_alone`), so `tail` moves only at the end; a
    /// panicking `values` publishes what it produced so far.
    fn write_ahead<T>(
        &mut self,
        ring: &Ring<T>,
        values: impl Iterator<Item = T>,
        want: usize,
    ) -> usize {
        let cap = ring.capacity() as isize;
        // Relaxed: we are the only writer of `tail` (see `push_alone`).
        let first = ring.tail.load(Ordering::Relaxed);
        // The cached head may be more than a capacity behind `tail` (it was
        // loaded, or cloned, before other handles that have left since
        // pushed): then it vouches for nothing, and the fresh one is looked
        // at, as in `push_alone`.
        let mut free = (cap - ahead(first, self.cached_head)).max(0) as usize;
        if free < want {
            // Acquire: as in `push`.
            self.cached_head = ring.head.load(Ordering::Acquire);
            let used = ahead(first, self.cached_head);
            debug_assert!((0..=cap).contains(&used), "head passed tail");
            free = (cap - used) as usize;
        }
        let mut run = RunWriter::new(ring, first, TailUpdate::BeforeStamps, None);
        for v in values.take(free) {
            debug_assert_slot_free(ring, run.next_pos());
            // SAFETY: positions `first..first + free` are below the cached
            // head plus the capacity (read by the consumer, Acquire) and
            // nobody else claims them (the only handle, borrowed).
            unsafe { run.write(v) };
        }
        debug_assert!(run.written() <= free);
        run.finish()
    }
}

impl RunClaim for HeadGatedProducer {
    fn room<T>(&mut self, ring: &Ring<T>) -> usize {
        let cap = ring.capacity();
        // Relaxed: a hint; the claim decides.
        let tail = ring.tail.load(Ordering::Relaxed);
        let free = |head| cap.saturating_sub(ahead(tail, head).max(0) as usize);
        if free(self.cached_head) == 0 {
            // Acquire: as in `push`.
            self.cached_head = ring.head.load(Ordering::Acquire);
        }
        free(self.cached_head)
    }

    fn claim<T>(&mut self, ring: &Ring<T>, max: usize) -> (usize, usize) {
        claim_run(ring, &mut self.cached_head, max)
    }
}

/// Claims up to `n` consecutive free positions with one CAS; returns
/// (first, count). Free means below `head + capacity` for a `head` loaded
/// with Acquire (`cached_head`, refreshed when it shows fewer than `n`).
/// The run may wrap past the end of the slot array: positions are claimed,
/// slots follow by `pos & mask`.
fn claim_run<T>(ring: &Ring<T>, cached_head: &mut usize, n: usize) -> (usize, usize) {
    let cap = ring.capacity();
    // Relaxed: a hint; ownership is decided by the CAS.
    let mut pos = ring.tail.load(Ordering::Relaxed);
    loop {
        let mut used = ahead(pos, *cached_head);
        if used < 0 || used as usize + n > cap {
            // Acquire: pairs with the sole consumer's Release head store;
            // every position below `head` has been read.
            *cached_head = ring.head.load(Ordering::Acquire);
            used = ahead(pos, *cached_head);
        }
        if used < 0 {
            // A stale `tail`: the consumer is already past it. Relaxed: a new
            // hint, checked against `head` and by the CAS.
            pos = ring.tail.load(Ordering::Relaxed);
            continue;
        }
        let claimed = n.min(cap.saturating_sub(used as usize));
        if claimed == 0 {
            // Full as of a fresh `head`, for a `pos` no later than `tail`.
            return (pos, 0);
        }
        // Relaxed: ownership only, as in `HeadGatedProducer::push`.
        match ring.tail.compare_exchange_weak(
            pos,
            pos.wrapping_add(claimed),
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return (pos, claimed),
            Err(now) => pos = now,
        }
        crate::sync::spin_hint();
    }
}

impl SoleConsumer {
    /// Hands up to `max` ready items to `out`, in order, stopping at the
    /// first slot not written yet; publishes `head` once, at the end.
    pub(crate) fn pop_batch<T, E: Extend<T>>(
        &mut self,
        ring: &Ring<T>,
        out: &mut E,
        max: usize,
    ) -> Result<usize, Disconnected> {
        if max == 0 {
            return Ok(0);
        }
        let start = self.head;
        out.extend(&mut HeadRun {
            ring,
            head: &mut self.head,
            start,
            left: max,
        });
        let taken = self.head.wrapping_sub(start);
        if taken == 0 && ring.ended_before(self.head) {
            return Err(Disconnected(()));
        }
        Ok(taken)
    }
}

/// The sole consumer's items in order from `head`, while ready; `head`
/// advances before each item is handed out and is published (Release) when
/// the run drops, for the whole run at once.
struct HeadRun<'a, T> {
    ring: &'a Ring<T>,
    head: &'a mut usize,
    /// `head` when the run began.
    start: usize,
    /// Items still allowed.
    left: usize,
}

impl<T> Iterator for HeadRun<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        let pos = *self.head;
        let slot = self.ring.slot(pos);
        // Acquire: pairs with the producer's Release in `write_and_stamp`
        // (or a run's Release fence), as in `pop`.
        if slot.seq.load(Ordering::Acquire) != pos.wrapping_add(1) {
            self.left = 0;
            return None;
        }
        // SAFETY: the sole consumer owns `pos`, written (stamp above); it
        // moves `head` past it at once, so it never reads it twice.
        let value = slot.value.with(|v| unsafe { (*v).assume_init_read() });
        *self.head = pos.wrapping_add(1);
        self.left -= 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl<T> Drop for HeadRun<'_, T> {
    fn drop(&mut self) {
        if *self.head == self.start {
            return;
        }
        // Release: as in `pop`, pairs with the producers' Acquire head
        // loads: every position below the new head has been read.
        self.ring.head.store(*self.head, Ordering::Release);
        self.ring.space.notify();
    }
}

/// Debug check of the MPSC ground rule for a position a head-gated producer
/// just claimed: its slot still carries the stamp the previous lap left,
/// `pos` on the first lap (the initial stamp) or `pos - cap + 1` after
/// (written by that lap's producer, read by the sole consumer, never
/// re-stamped). Anything else means the slot was not free.
#[inline]
fn debug_assert_slot_free<T>(ring: &Ring<T>, pos: usize) {
    if cfg!(debug_assertions) {
        // Relaxed: the claim (head Acquire) already ordered the previous
        // lap's stamp store before this load.
        let seq = ring.slot(pos).seq.load(Ordering::Relaxed);
        let previous_lap = pos.wrapping_sub(ring.capacity()).wrapping_add(1);
        debug_assert!(
            seq == pos || seq == previous_lap,
            "slot of position {pos} not free: stamp {seq}"
        );
    }
}
