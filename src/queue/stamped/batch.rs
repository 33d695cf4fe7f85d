//! Runs: what the batch calls (`push_slice`, `push_iter`, `pop_batch`) of
//! the stamped rings share. See the ground rules in `mod.rs`; the rules
//! for runs are these:
//!
//! * **A claimed position is always written.** Positions are claimed in
//!   order and read in order: a position claimed and never written would
//!   stall every consumer behind it, and the ring's `Drop` would drop a
//!   value that does not exist. So between a claim (a CAS, or a plain
//!   store by a sole claimer) and the writes it owes, no caller code runs:
//!   a multi-producer batch clones its values *before* it claims
//!   ([`Staged`]), and a surplus of clones (a racing producer took some of
//!   the slots) is dropped, the originals being still the caller's.
//! * **A sole producer writes ahead.** A producer that nobody can race
//!   (the SPMC producer; the only MPSC producer handle) owns every free
//!   position past `tail` without claiming it, so it writes values as the
//!   caller's code produces them and claims and publishes the run at the
//!   end ([`RunWriter`]); if that code panics, the run written so far is
//!   published on the way out.
//! * **One fence publishes a run.** The values are written, then one
//!   Release fence, then each slot's stamp by a Relaxed store: a consumer's
//!   Acquire load of any of those stamps synchronizes with the fence, so it
//!   sees the value of that slot (and everything written before the fence).
//! * **A claimed run of items is always read.** A consumer that claimed a
//!   run hands its items to the caller one by one ([`ClaimedRun`]); the ones
//!   the caller did not take (a panic, an `Extend` that stops early) are
//!   read and dropped when the run goes, so every slot is freed, even if
//!   one of those drops panics.

use std::mem::MaybeUninit;

use super::Ring;
use crate::sync::{fence, Ordering};

/// How a [`RunWriter`] moves `ring.tail` when it publishes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TailUpdate {
    /// The run was claimed by moving `tail` already.
    Claimed,
    /// The MPSC sole producer: store the run's end (Relaxed) before the
    /// fence, so a consumer that sees a stamp of the run also sees `tail`
    /// past it (the sole consumer's debug check, and `len`).
    BeforeStamps,
    /// The SPMC producer: store the run's end (Release) after the stamps, as
    /// its `push` does (`tail` never runs ahead of a stamp there).
    AfterStamps,
}

/// Writes a run of values at consecutive positions from `first`, and
/// publishes them with one fence when dropped (after the last write, or on
/// the way out of a panic).
pub(super) struct RunWriter<'a, T> {
    ring: &'a Ring<T>,
    first: usize,
    written: usize,
    tail: TailUpdate,
    /// A sole producer's private copy of `tail`, moved with it.
    private_tail: Option<&'a mut usize>,
}

impl<'a, T> RunWriter<'a, T> {
    /// A run starting at `first`, published per `tail`.
    pub(super) fn new(
        ring: &'a Ring<T>,
        first: usize,
        tail: TailUpdate,
        private_tail: Option<&'a mut usize>,
    ) -> Self {
        RunWriter {
            ring,
            first,
            written: 0,
            tail,
            private_tail,
        }
    }

    /// The position the next [`write`](Self::write) goes to.
    #[inline]
    pub(super) fn next_pos(&self) -> usize {
        self.first.wrapping_add(self.written)
    }

    /// Values written so far.
    #[inline]
    pub(super) fn written(&self) -> usize {
        self.written
    }

    /// Writes `value` at [`next_pos`](Self::next_pos).
    ///
    /// # Safety
    ///
    /// The caller owns that position (claimed it, or is its sole producer)
    /// and its slot is free: the previous lap's item has been read.
    #[inline]
    pub(super) unsafe fn write(&mut self, value: T) {
        let slot = self.ring.slot(self.next_pos());
        // SAFETY: the caller's contract: the position is ours and its slot
        // free; nobody reads it before `publish` stamps it.
        slot.value.with_mut(|v| unsafe { (*v).write(value) });
        self.written += 1;
    }

    /// Publishes the run; returns its length.
    pub(super) fn finish(self) -> usize {
        let n = self.written;
        drop(self);
        n
    }
}

impl<T> Drop for RunWriter<'_, T> {
    fn drop(&mut self) {
        if self.written == 0 {
            return;
        }
        let ring = self.ring;
        let end = self.first.wrapping_add(self.written);
        if self.tail == TailUpdate::BeforeStamps {
            // Relaxed: ordered before the stamps by the fence below, which
            // the consumer's Acquire stamp load synchronizes with.
            ring.tail.store(end, Ordering::Relaxed);
        }
        // Release: pairs with the consumers' Acquire loads of the stamps
        // stored below (`pop`, `claim_ready_run`), ordering every value
        // written above before them.
        fence(Ordering::Release);
        for i in 0..self.written {
            let pos = self.first.wrapping_add(i);
            // Relaxed: published by the fence above.
            ring.slot(pos)
                .seq
                .store(pos.wrapping_add(1), Ordering::Relaxed);
        }
        if self.tail == TailUpdate::AfterStamps {
            // Release: as in `SoleProducer::push`, pairs with the Acquire
            // loads of `tail` in `pop_failure` and `len`.
            ring.tail.store(end, Ordering::Release);
        }
        if let Some(tail) = self.private_tail.as_deref_mut() {
            *tail = end;
        }
        ring.items.notify();
    }
}

/// Up to `N` values in hand (clones made before a claim), taken out in
/// order; those not taken are dropped with it.
pub(super) struct Staged<T, const N: usize> {
    buf: [MaybeUninit<T>; N],
    /// `buf[taken..len]` are initialized.
    taken: usize,
    len: usize,
}

impl<T, const N: usize> Staged<T, N> {
    pub(super) fn new() -> Self {
        Staged {
            buf: [const { MaybeUninit::uninit() }; N],
            taken: 0,
            len: 0,
        }
    }

    /// Stages clones of `items` (at most `N`).
    pub(super) fn clone_from(&mut self, items: &[T]) -> usize
    where
        T: Clone,
    {
        for item in items.iter().take(N) {
            // A panicking `clone` leaves `len` counting what was staged.
            self.buf[self.len].write(item.clone());
            self.len += 1;
        }
        self.len
    }

    /// Takes the next staged value.
    pub(super) fn take(&mut self) -> Option<T> {
        if self.taken == self.len {
            return None;
        }
        let i = self.taken;
        self.taken += 1;
        // SAFETY: `i < len` was initialized by `clone_from` and, now past
        // `taken`, is never read again (nor dropped by `Drop`).
        Some(unsafe { self.buf[i].assume_init_read() })
    }
}

impl<T, const N: usize> Drop for Staged<T, N> {
    fn drop(&mut self) {
        for i in self.taken..self.len {
            // SAFETY: `buf[taken..len]` are initialized and not taken.
            unsafe { self.buf[i].assume_init_drop() };
        }
    }
}

/// How many clones a multi-producer batch stages before one claim: 16 for
/// items of up to 64 bytes (a 1 KiB buffer on the stack); larger items are
/// cloned and claimed one at a time.
pub(super) const STAGE_ITEMS: usize = 16;
/// Items larger than this are staged one at a time.
pub(super) const STAGE_ITEM_BYTES: usize = 64;

/// How a multi-producer side claims a run of free positions.
pub(super) trait RunClaim {
    /// Free slots as this handle sees them now (a hint: other producers
    /// may take them; 0 ends the batch before anything is cloned).
    fn room<T>(&mut self, ring: &Ring<T>) -> usize;

    /// Claims up to `max` consecutive free positions; returns `(first,
    /// count)`. Every claimed position must then be written.
    fn claim<T>(&mut self, ring: &Ring<T>, max: usize) -> (usize, usize);
}

/// Pushes the longest prefix of `items` that fits in groups of up to `N`
/// clones: each group is cloned first, then claimed with one
/// [`RunClaim::claim`], and the claimed part is written and published.
/// Stops at the first group that did not fit whole. Returns how many items
/// were pushed.
pub(super) fn push_staged<T: Clone, const N: usize>(
    ring: &Ring<T>,
    items: &[T],
    side: &mut impl RunClaim,
) -> usize {
    let mut pushed = 0;
    while pushed < items.len() {
        // A look at the free slots first, so a full ring costs no clones.
        let want = (items.len() - pushed).min(side.room(ring)).min(N);
        if want == 0 {
            break;
        }
        let mut staged = Staged::<T, N>::new();
        staged.clone_from(&items[pushed..pushed + want]);
        let (first, got) = side.claim(ring, want);
        let mut run = RunWriter::new(ring, first, TailUpdate::Claimed, None);
        for _ in 0..got {
            let v = staged
                .take()
                .expect("a claim never exceeds what was staged");
            // SAFETY: `claim` made positions `first..first + got` ours,
            // with their slots free.
            unsafe { run.write(v) };
        }
        run.finish();
        // Clones that found no slot are dropped here; the originals stay
        // in `items`, past the count returned.
        drop(staged);
        pushed += got;
        if got < want {
            break;
        }
    }
    pushed
}

/// A run of positions a shared consumer claimed (all written): hands out
/// their items in order, reading each slot and stamping it free for the
/// next lap; when dropped, reads and drops the items not taken, then wakes
/// producers waiting for room.
pub(super) struct ClaimedRun<'a, T> {
    ring: &'a Ring<T>,
    next: usize,
    end: usize,
}

impl<'a, T> ClaimedRun<'a, T> {
    /// The claimed positions `first..first + n`.
    pub(super) fn new(ring: &'a Ring<T>, first: usize, n: usize) -> Self {
        ClaimedRun {
            ring,
            next: first,
            end: first.wrapping_add(n),
        }
    }
}

impl<T> Iterator for ClaimedRun<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        let pos = self.next;
        // Past it before reading: a panic after this point never reads the
        // position twice.
        self.next = pos.wrapping_add(1);
        Some(self.ring.read_and_free(pos))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.wrapping_sub(self.next);
        (n, Some(n))
    }
}

impl<T> ExactSizeIterator for ClaimedRun<'_, T> {}

impl<T> Drop for ClaimedRun<'_, T> {
    fn drop(&mut self) {
        /// Finishes the run if dropping one of its items panics: the items
        /// after it are still read (a second panic aborts, as in a slice's
        /// drop), so every claimed slot is freed and the producers woken.
        struct Rest<'r, 'a, T>(&'r mut ClaimedRun<'a, T>);
        impl<T> Drop for Rest<'_, '_, T> {
            fn drop(&mut self) {
                self.0.by_ref().for_each(drop);
                self.0.ring.space.notify();
            }
        }
        let rest = Rest(self);
        rest.0.by_ref().for_each(drop);
    }
}

/// Counts the items a multi-producer `push_iter` wrote, one claim each,
/// and wakes the consumers once when dropped if there were any: after the
/// last item, or on the way out of a panicking iterator (whose items
/// written before the panic are published, so a consumer parked on the
/// ring must hear of them).
pub(super) struct WakeOnceWritten<'a, T> {
    ring: &'a Ring<T>,
    /// Items written and stamped so far.
    pub(super) count: usize,
}

impl<'a, T> WakeOnceWritten<'a, T> {
    pub(super) fn new(ring: &'a Ring<T>) -> Self {
        WakeOnceWritten { ring, count: 0 }
    }
}

impl<T> Drop for WakeOnceWritten<'_, T> {
    fn drop(&mut self) {
        if self.count > 0 {
            self.ring.items.notify();
        }
    }
}
