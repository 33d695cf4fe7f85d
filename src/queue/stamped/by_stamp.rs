//! The sides that decide from a slot's stamp whether it is theirs:
//! Vyukov's claims. A producer may claim `pos` only while the slot reads
//! `seq == pos` (free), a consumer only while it reads `seq == pos + 1`
//! (ready); see the ground rules in `mod.rs`.
//!
//! * [`SharedProducer`]: the many producers of MPMC (CAS on `tail`);
//! * [`SharedConsumer`]: the many consumers of SPMC and MPMC (CAS on `head`);
//! * [`SoleProducer`]: the single producer of SPMC (a private `tail`, plain
//!   stores).

use super::{PopSide, PushSide, Ring};
use crate::queue::position::ahead;
use crate::queue::{PopError, PushError};
use crate::sync::Ordering;

/// The single producer of an SPMC ring: it owns `tail`, so a claim is a
/// plain store, not a CAS.
#[derive(Default)]
pub(crate) struct SoleProducer {
    /// The next position to push; `ring.tail` mirrors it after each push.
    tail: usize,
}

/// One of the many producers of an MPMC ring: claims positions by CAS on
/// the shared `tail`.
#[derive(Default, Clone, Copy)]
pub(crate) struct SharedProducer;

/// One of the many consumers of an SPMC or MPMC ring: claims positions by
/// CAS on the shared `head`.
#[derive(Default, Clone, Copy)]
pub(crate) struct SharedConsumer;

impl PushSide for SoleProducer {
    #[inline]
    fn push<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>> {
        if ring.consumers_gone_hint() {
            return Err(PushError::Disconnected(value));
        }
        let pos = self.tail;
        debug_assert_eq!(
            ring.tail.load(Ordering::Relaxed),
            pos,
            "only the sole producer moves tail"
        );
        // Acquire: pairs with the Release in `read_and_free` of the previous
        // lap.
        if ring.slot_prefetched(pos).seq.load(Ordering::Acquire) != pos {
            return Err(push_failure(ring, pos, value));
        }
        ring.write_and_stamp(pos, value);
        self.tail = pos.wrapping_add(1);
        // Release: after the slot's stamp, so a consumer that sees the new
        // tail (Acquire, in `pop_failure`/`len`) sees the item ready too.
        ring.tail.store(self.tail, Ordering::Release);
        ring.items.notify();
        Ok(())
    }
}

impl PushSide for SharedProducer {
    #[inline]
    fn push<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>> {
        if ring.consumers_gone_hint() {
            return Err(PushError::Disconnected(value));
        }
        // Relaxed: a hint; ownership is decided by the CAS below.
        let mut pos = ring.tail.load(Ordering::Relaxed);
        loop {
            // Acquire: pairs with the Release in `read_and_free` of the
            // previous lap.
            let seq = ring.slot_prefetched(pos).seq.load(Ordering::Acquire);
            match ahead(seq, pos) {
                0 => {
                    // Relaxed: the CAS only arbitrates ownership of `pos`; the
                    // data's visibility rides on the slot's `seq`.
                    match ring.tail.compare_exchange_weak(
                        pos,
                        pos.wrapping_add(1),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            ring.write_and_stamp(pos, value);
                            ring.items.notify();
                            return Ok(());
                        }
                        Err(now) => pos = now,
                    }
                }
                // The slot still holds (or is being read for) the previous
                // lap: full, or a consumer is mid-read.
                d if d < 0 => return Err(push_failure(ring, pos, value)),
                // Another producer took `pos`: start again from the tail.
                _ => pos = ring.tail.load(Ordering::Relaxed),
            }
            crate::sync::spin_hint();
        }
    }
}

impl PopSide for SharedConsumer {
    #[inline]
    fn pop<T>(&mut self, ring: &Ring<T>) -> Result<T, PopError> {
        // Relaxed: a hint; ownership is decided by the CAS below.
        let mut pos = ring.head.load(Ordering::Relaxed);
        loop {
            // Acquire: pairs with the producer's Release in `write_and_stamp`.
            let seq = ring.slot_prefetched(pos).seq.load(Ordering::Acquire);
            match ahead(seq, pos.wrapping_add(1)) {
                0 => {
                    // Relaxed: ownership only; see `SharedProducer::push`.
                    match ring.head.compare_exchange_weak(
                        pos,
                        pos.wrapping_add(1),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            let value = ring.read_and_free(pos);
                            ring.space.notify();
                            return Ok(value);
                        }
                        Err(now) => pos = now,
                    }
                }
                // Not written yet (or our `pos` is stale): decide why.
                d if d < 0 => return Err(pop_failure(ring, pos)),
                // Another consumer took `pos`: start again from the head.
                _ => pos = ring.head.load(Ordering::Relaxed),
            }
            crate::sync::spin_hint();
        }
    }
}

/// Why position `pos` could not be pushed: every slot holds an item no
/// consumer has claimed (`Full`), or a consumer claimed the previous lap of
/// this slot and is still reading it (`Busy`).
#[cold]
fn push_failure<T>(ring: &Ring<T>, pos: usize, value: T) -> PushError<T> {
    // Relaxed: only the value matters (consumers move `head` by a Relaxed
    // CAS, so there is no store to pair with); a stale `head` can only turn
    // a `Busy` into a `Full`, and both are retried alike.
    let head = ring.head.load(Ordering::Relaxed);
    if ahead(pos, head) >= ring.capacity() as isize {
        PushError::Full(value)
    } else {
        PushError::Busy(value)
    }
}

/// Why position `pos` could not be popped: a producer claimed it and has
/// not finished writing (`Busy`; with the SPMC producer, which moves `tail`
/// only after the stamp, this means the item arrived during the call),
/// nothing will ever come (`Disconnected`), or nothing is there yet
/// (`Empty`).
#[cold]
fn pop_failure<T>(ring: &Ring<T>, pos: usize) -> PopError {
    // Acquire: pairs with the SPMC producer's Release `tail` store, issued
    // after the stamp, so there `Busy` means the item was published during
    // this call. MPMC producers claim by a Relaxed CAS: `tail > pos` then
    // means `pos` is claimed, whether or not written yet.
    if ahead(ring.tail.load(Ordering::Acquire), pos) > 0 {
        return PopError::Busy;
    }
    if ring.ended_before(pos) {
        return PopError::Disconnected;
    }
    PopError::Empty
}
