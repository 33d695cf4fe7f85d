//! The sides that decide from a slot's stamp whether it is theirs:
//! Vyukov's claims. A producer may claim `pos` only while the slot reads
//! `seq == pos` (free), a consumer only while it reads `seq == pos + 1`
//! (ready); see the ground rules in `mod.rs`.
//!
//! * [`SharedProducer`]: the many producers of MPMC (CAS on `tail`);
//! * [`SharedConsumer`]: the many consumers of SPMC and MPMC (CAS on `head`);
//! * [`SoleProducer`]: the single producer of SPMC (a private `tail`, plain
//!   stores).
//!
//! Batches (rules in `batch.rs`): the SPMC producer writes a run ahead and
//! publishes it at the end; MPMC producers claim a run of free slots with
//! one CAS ([`claim_free_run`]) after staging its values; consumers claim a
//! run of ready slots with one CAS ([`claim_ready_run`]). A run claim is
//! Vyukov's claim widened: it loads the stamp of every position of the run
//! (Acquire) before the CAS that moves the cursor past all of them, so
//! each position of the run is exactly as owned as a single claim's.

use std::iter::Peekable;

use super::batch::{
    push_staged, ClaimedRun, RunClaim, RunWriter, TailUpdate, WakeOnceWritten, STAGE_ITEMS,
    STAGE_ITEM_BYTES,
};
use super::{PopSide, PushSide, Ring};
use crate::queue::position::ahead;
use crate::queue::{Disconnected, PopError, PushError};
use crate::sync::{loom_mutant, Ordering};

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
        // Relaxed: only this thread stores `tail`, so it reads its own last
        // store whatever the ordering.
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

    #[inline]
    fn has_room<T>(&self, ring: &Ring<T>) -> bool {
        // Acquire: as in `push`. Only this producer fills slots, so a free
        // slot stays free until it pushes.
        ring.slot(self.tail).seq.load(Ordering::Acquire) == self.tail
    }
}

impl SoleProducer {
    /// Writes values from `values` into the free slots from `tail` on, each
    /// slot checked free (its stamp) before the value for it is taken, and
    /// publishes them as one run. Returns how many were pushed.
    pub(crate) fn push_run<T>(
        &mut self,
        ring: &Ring<T>,
        mut values: impl Iterator<Item = T>,
    ) -> Result<usize, Disconnected> {
        if ring.consumers_gone_hint() {
            return Err(Disconnected(()));
        }
        // Relaxed: our own last store (only the sole producer stores `tail`).
        debug_assert_eq!(ring.tail.load(Ordering::Relaxed), self.tail);
        let first = self.tail;
        let mut run = RunWriter::new(ring, first, TailUpdate::AfterStamps, Some(&mut self.tail));
        loop {
            let pos = run.next_pos();
            // Acquire: pairs with the Release in `read_and_free` of the
            // previous lap, as in `push`.
            if ring.slot_prefetched(pos).seq.load(Ordering::Acquire) != pos {
                break;
            }
            let Some(v) = values.next() else { break };
            // SAFETY: the sole producer owns every position from `tail` on,
            // and the stamp just loaded says this slot's previous item was
            // read.
            unsafe { run.write(v) };
        }
        Ok(run.finish())
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
                // Another producer took `pos`: start again from the tail
                // (Relaxed: a new hint, checked by the stamp and the CAS).
                _ => pos = ring.tail.load(Ordering::Relaxed),
            }
            crate::sync::spin_hint();
        }
    }

    fn has_room<T>(&self, ring: &Ring<T>) -> bool {
        loop {
            // Relaxed: a hint, as in `push`.
            let pos = ring.tail.load(Ordering::Relaxed);
            // Acquire: as in `push`.
            let seq = ring.slot(pos).seq.load(Ordering::Acquire);
            match ahead(seq, pos) {
                0 => return true,
                d if d < 0 => return false,
                // A stale tail: look again.
                _ => crate::sync::spin_hint(),
            }
        }
    }
}

impl RunClaim for SharedProducer {
    /// `capacity - len()`. Only a hint that sizes the next group of clones
    /// in `push_staged`, never a claim; a snapshot of two contended cursors
    /// is good enough for that:
    ///
    /// * **It cannot make a batch over-claim.** [`claim_free_run`] loads
    ///   the stamp of every position it claims and moves `tail` by one CAS
    ///   from the position it scanned from, so a slot that is not free is
    ///   never claimed, however much room the look reported.
    /// * **Too high** (slots consumers have claimed by moving `head` but are
    ///   still reading count as free; another producer claims some between
    ///   the look and the claim): the claim gets fewer than were staged, the
    ///   surplus clones are dropped, and the batch stops, because the next
    ///   slot is not free at the claim, where a `push` would have failed
    ///   too (`Busy` or `Full`).
    /// * **Too low** (consumers freed slots since the look): the claim gets
    ///   every position it asked for, and the loop looks again before the
    ///   next group, so the batch does not stop early for it.
    /// * **Zero** stops the batch before anything is cloned. `len` re-loads
    ///   `tail` after its `head` load and retries until both `tail` loads
    ///   agree, so the pair is `tail` and `head` at one moment (on
    ///   multi-copy-atomic hardware such as x86-64 and AArch64, the three
    ///   Acquire loads kept in order; the C++ model would allow a stale
    ///   `head` here, as it allows a `push` to read a stale stamp and
    ///   report `Full`). Zero
    ///   room then means every slot held a claimed, unpopped position at
    ///   that moment: a `push` would have failed then too.
    ///
    /// So `push_slice` pushes the longest prefix that fits as of its
    /// claims, like a loop of `push`es stopping at the first failure. The
    /// price is the look itself: one load of the consumers' `head` line per
    /// group, and `len`'s retries while other producers keep moving `tail`
    /// (lock-free, not wait-free).
    fn room<T>(&mut self, ring: &Ring<T>) -> usize {
        ring.free_len()
    }

    fn claim<T>(&mut self, ring: &Ring<T>, max: usize) -> (usize, usize) {
        claim_free_run(ring, max)
    }
}

impl SharedProducer {
    /// Pushes the longest prefix of `items` that fits, a staged group of
    /// clones per claim (see `batch.rs`).
    pub(crate) fn push_slice<T: Clone>(
        &mut self,
        ring: &Ring<T>,
        items: &[T],
    ) -> Result<usize, Disconnected> {
        if ring.consumers_gone_hint() {
            return Err(Disconnected(()));
        }
        Ok(if std::mem::size_of::<T>() <= STAGE_ITEM_BYTES {
            push_staged::<T, STAGE_ITEMS>(ring, items, self)
        } else {
            push_staged::<T, 1>(ring, items, self)
        })
    }

    /// Pushes items of `iter` while slots are free, claiming one position
    /// per item *before* taking the item (it was only peeked at): an item
    /// that finds no slot stays in `iter`.
    pub(crate) fn push_iter<T, I: Iterator<Item = T>>(
        &mut self,
        ring: &Ring<T>,
        iter: &mut Peekable<I>,
    ) -> Result<usize, Disconnected> {
        if ring.consumers_gone_hint() {
            return Err(Disconnected(()));
        }
        // Wakes the consumers once, at the end or if `iter` panics.
        let mut pushed = WakeOnceWritten::new(ring);
        while iter.peek().is_some() {
            let (pos, got) = claim_free_run(ring, 1);
            if got == 0 {
                break;
            }
            // Peeked: `next` hands the held item back, running no caller
            // code, so the claimed position is always written.
            let v = iter.next().expect("corelane: Peekable lost a peeked item");
            ring.write_and_stamp(pos, v);
            pushed.count += 1;
        }
        Ok(pushed.count)
    }
}

/// Claims up to `max` consecutive free positions from `tail` with one CAS;
/// returns `(first, count)`, `count == 0` when the first is not free (the
/// ring is full, or a consumer is still reading the slot's previous lap).
fn claim_free_run<T>(ring: &Ring<T>, max: usize) -> (usize, usize) {
    // Relaxed: a hint; ownership is decided by the CAS below.
    let mut pos = ring.tail.load(Ordering::Relaxed);
    loop {
        let mut n = 0;
        while n < max {
            let p = pos.wrapping_add(n);
            // Acquire: pairs with the Release in `read_and_free` of the
            // previous lap, as in `push`: that read happens before our
            // write.
            let seq = ring.slot_prefetched(p).seq.load(Ordering::Acquire);
            if seq != p {
                if n == 0 && ahead(seq, p) < 0 {
                    return (pos, 0);
                }
                break;
            }
            n += 1;
        }
        if n == 0 {
            // Another producer took `pos`: start again from the tail
            // (Relaxed: a new hint, checked by the stamps and the CAS).
            pos = ring.tail.load(Ordering::Relaxed);
            crate::sync::spin_hint();
            continue;
        }
        // Relaxed: ownership only, as in `push`. Success means `tail` was
        // still `pos`: no other producer claimed any of `pos..pos + n`,
        // and their stamps (free for exactly these positions) can change
        // only by our writes.
        match ring.tail.compare_exchange_weak(
            pos,
            pos.wrapping_add(n),
            // Relaxed on success: ownership only (above). Relaxed on
            // failure: `now` is only the next guess, re-validated by the
            // stamps and the next CAS.
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return (pos, n),
            Err(now) => pos = now,
        }
        crate::sync::spin_hint();
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
                // Another consumer took `pos`: start again from the head
                // (Relaxed: a new hint, checked by the stamp and the CAS).
                _ => pos = ring.head.load(Ordering::Relaxed),
            }
            crate::sync::spin_hint();
        }
    }
}

impl SharedConsumer {
    /// Claims up to `max` ready items with one CAS and hands them to `out`.
    pub(crate) fn pop_batch<T, E: Extend<T>>(
        &mut self,
        ring: &Ring<T>,
        out: &mut E,
        max: usize,
    ) -> Result<usize, Disconnected> {
        if max == 0 {
            return Ok(0);
        }
        let (first, got) = claim_ready_run(ring, max);
        if got == 0 {
            return match pop_failure(ring, first) {
                PopError::Disconnected => Err(Disconnected(())),
                _ => Ok(0),
            };
        }
        // Items `out` does not take are read and dropped with the run.
        let mut run = ClaimedRun::new(ring, first, got);
        out.extend(&mut run);
        Ok(got)
    }
}

/// Claims up to `max` consecutive ready positions from `head` with one CAS;
/// returns `(first, count)`, `count == 0` when the first is not ready.
fn claim_ready_run<T>(ring: &Ring<T>, max: usize) -> (usize, usize) {
    // Relaxed: a hint; ownership is decided by the CAS below.
    let mut pos = ring.head.load(Ordering::Relaxed);
    loop {
        let mut n = 0;
        while n < max {
            let p = pos.wrapping_add(n);
            // Acquire: pairs with the producer's Release in
            // `write_and_stamp` (or a run's Release fence): its write of the
            // value happens before our read. (`StealStampRelaxed`: the loom
            // mutant with a Relaxed load, see `ci/loom-mutants.sh`.)
            let order = if loom_mutant("StealStampRelaxed") {
                Ordering::Relaxed
            } else {
                Ordering::Acquire
            };
            let seq = ring.slot_prefetched(p).seq.load(order);
            if seq != p.wrapping_add(1) {
                if n == 0 && ahead(seq, p.wrapping_add(1)) < 0 {
                    return (pos, 0);
                }
                break;
            }
            n += 1;
        }
        if n == 0 {
            // Another consumer took `pos`: start again from the head
            // (Relaxed: a new hint, checked by the stamps and the CAS).
            pos = ring.head.load(Ordering::Relaxed);
            crate::sync::spin_hint();
            continue;
        }
        // Relaxed: ownership only, as in `pop`. Success means `head` was
        // still `pos`: no other consumer claimed any of `pos..pos + n`.
        let claim = if loom_mutant("StealClaimNotAtomic") {
            // The mutant: a check, then a store (another consumer's claim
            // can land between the two).
            claim_by_check_then_store(ring, pos, n)
        } else {
            ring.head.compare_exchange_weak(
                pos,
                pos.wrapping_add(n),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
        };
        match claim {
            Ok(_) => return (pos, n),
            Err(now) => pos = now,
        }
        crate::sync::spin_hint();
    }
}

/// The `StealClaimNotAtomic` loom mutant's claim: `head`'s CAS split into a
/// load and a store, so two consumers can claim the same positions.
#[cold]
fn claim_by_check_then_store<T>(ring: &Ring<T>, pos: usize, n: usize) -> Result<usize, usize> {
    let head = ring.head.load(Ordering::Relaxed);
    if head != pos {
        return Err(head);
    }
    ring.head.store(pos.wrapping_add(n), Ordering::Relaxed);
    Ok(head)
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
