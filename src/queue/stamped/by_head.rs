//! The MPSC pair: the single consumer reads positions in order and
//! publishes `head` after each read, so its producers decide "slot free"
//! from `head` instead of the slot's stamp (see the ground rules in
//! `mod.rs`).
//!
//! * [`SoleConsumer`]: owns `head`; never re-stamps a slot it read, so it
//!   never writes a line the producers are filling;
//! * [`HeadGatedProducer`]: claims by CAS on `tail` (a plain store while it
//!   is the only producer handle) once a cached copy of `head` shows room;
//!   can claim a whole run at once ([`HeadGatedProducer::push_batch`]).
//!
//! Neither is sound with another kind of peer: a head-gated producer needs
//! a consumer that reads in order and publishes `head` after the read; the
//! sole consumer's stale stamps are only harmless because no producer
//! looks at them.

use super::{PopSide, PushSide, Ring};
use crate::queue::position::ahead;
use crate::queue::{Disconnected, PopError, PushError};
use crate::sync::{fence, Ordering};

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
        debug_assert_eq!(
            ring.head.load(Ordering::Relaxed),
            pos,
            "only the sole consumer moves head"
        );
        // Acquire: pairs with the producer's Release in `write_and_stamp`
        // (or the Release fence of `push_batch`).
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
        // (`HeadGatedProducer::push`, `claim_run`) and `len`: every position
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

    /// Pushes the longest prefix of `items` that fits, claiming the run with
    /// one CAS and publishing it with one Release fence. The cached head is
    /// not used (the handle is shared, `&self`): each claim attempt loads
    /// `head` once.
    pub(crate) fn push_batch<T>(
        &self,
        ring: &Ring<T>,
        items: &mut Vec<T>,
    ) -> Result<usize, Disconnected> {
        if ring.consumers_gone_hint() {
            return Err(Disconnected(()));
        }
        if items.is_empty() {
            return Ok(0);
        }
        let (first, claimed) = claim_run(ring, items.len());
        if claimed == 0 {
            return Ok(0);
        }
        for (i, v) in items.drain(..claimed).enumerate() {
            let pos = first.wrapping_add(i);
            debug_assert_slot_free(ring, pos);
            // Positions first..first+claimed are ours (`claim_run`) and
            // the consumer has read their previous lap (head, Acquire);
            // nobody reads them until the stamps below are stored.
            let cell = &ring.slot(pos).value;
            // SAFETY: as just said: this thread alone touches the slot.
            cell.with_mut(|s| unsafe { (*s).write(v) });
        }
        // One Release fence for the run: the consumer's Acquire `seq` load of
        // any of the Relaxed stamps below synchronizes with it.
        fence(Ordering::Release);
        for i in 0..claimed {
            let pos = first.wrapping_add(i);
            ring.slot(pos)
                .seq
                .store(pos.wrapping_add(1), Ordering::Relaxed);
        }
        ring.items.notify();
        Ok(claimed)
    }
}

/// Claims up to `n` consecutive free positions; returns (first, count). The
/// run may wrap past the end of the slot array: positions are claimed, slots
/// follow by `pos & mask`.
fn claim_run<T>(ring: &Ring<T>, n: usize) -> (usize, usize) {
    // Relaxed: a hint; ownership is decided by the CAS.
    let mut pos = ring.tail.load(Ordering::Relaxed);
    loop {
        // Acquire: pairs with the sole consumer's Release head store; every
        // position below `head` has been read.
        let head = ring.head.load(Ordering::Acquire);
        let used = ahead(pos, head);
        if used < 0 {
            // A stale `tail`: the consumer is already past it.
            pos = ring.tail.load(Ordering::Relaxed);
            continue;
        }
        let claimed = n.min(ring.capacity().saturating_sub(used as usize));
        if claimed == 0 {
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
