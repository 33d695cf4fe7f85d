//! The two lossy reads and the publisher's side of the clone announcement.
//! The protocol and its ground rules are in the parent module's docs.

use std::mem::MaybeUninit;

use super::LossyTryRecvError;
use crate::queue::multicast::reader::frontier;
use crate::queue::multicast::ring::Ring;
use crate::queue::multicast::sequence::{write_fence, Stamp};
use crate::queue::position::{ahead, later};
use crate::queue::wait::Backoff;
use crate::sync::{fence, AtomicU32, Ordering};

/// What a [`ReadMode`](super::ReadMode) reads with: the ring and the
/// cursor's position, borrowed apart so the waiting loops can hold both.
/// Public only to appear in the sealed trait; nothing outside the crate can
/// name or build it.
#[doc(hidden)]
pub struct Tap<'a, T> {
    pub(super) ring: &'a Ring<T>,
    pub(super) pos: &'a mut usize,
}

impl<T> std::fmt::Debug for Tap<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap").field("pos", &self.pos).finish()
    }
}

/// The announcement of one clone in progress out of a slot: made by
/// [`Announced::enter`], withdrawn when dropped (so also when `clone()`
/// unwinds).
struct Announced<'a>(&'a AtomicU32);

impl<'a> Announced<'a> {
    /// Counts this reader into the slot's `clones`, then the reader's fence
    /// of the Dekker pair (ground rules).
    #[inline]
    fn enter(clones: &'a AtomicU32) -> Self {
        // Relaxed: the fence below orders it before the stamp's re-check;
        // nothing is published by the increment itself.
        clones.fetch_add(1, Ordering::Relaxed);
        // Pairs with the publisher's fence in `begin_overwrite`: loom
        // models SeqCst fences, not SeqCst loads and stores.
        fence(Ordering::SeqCst);
        Announced(clones)
    }
}

impl Drop for Announced<'_> {
    #[inline]
    fn drop(&mut self) {
        // Release: pairs with the publisher's Acquire load in
        // `begin_overwrite` / `wait_for_clones` that reads the count this
        // or any later decrement leaves (all changes are RMWs, so they
        // continue this release sequence): the clone's reads of the value
        // happen-before the overwrite.
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// The announced clone of the ground rules ([`Cloned`](super::Cloned)).
#[inline]
pub(super) fn clone_out<T: Clone>(tap: Tap<'_, T>) -> Result<T, LossyTryRecvError> {
    let Tap { ring, pos } = tap;
    let slot = ring.slot(*pos);
    let first = slot.stamp.load();
    if first != pos.wrapping_add(1) {
        return Err(not_ready(ring, pos, first));
    }
    let announced = Announced::enter(ring.clones(*pos));
    // After the fence: either this sees the publisher's mark (or a later
    // stamp), or the publisher sees our announcement and waits for it.
    let second = slot.stamp.load();
    if second != first {
        drop(announced);
        return Err(not_ready(ring, pos, second));
    }
    // The slot holds the published value of `pos` (the Acquire load of its
    // stamp saw `pos + 1`, pairing with the publish's Release), and no
    // publisher touches it until our announcement is withdrawn: one that
    // marked the slot before our fence made us see `WRITING` above instead;
    // one that marks it after waits for the count to drop (ground rules).
    // Only shared references to it exist meanwhile (gating readers, taps).
    // SAFETY: as just argued, a shared borrow of a published, untouched value.
    let value = slot.value.with(|v| unsafe { (*v).clone() });
    drop(announced);
    *pos = pos.wrapping_add(1);
    Ok(value)
}

/// Whether the next read has an item to take (`Ok`), without taking it:
/// the waiting loops wait on this, and take the item outside them, so a
/// `clone()` (user code that may panic) never runs inside the wait
/// machinery (a parked waiter's registration would leak on unwind). A lag
/// or the end is reported (and a lag skipped) as by a read.
#[inline]
pub(super) fn ready<T>(ring: &Ring<T>, pos: &mut usize) -> Result<(), LossyTryRecvError> {
    // Acquire (in `load`): pairs with the publish's Release; the read that
    // follows loads the stamp again anyway.
    let stamp = ring.slot(*pos).stamp.load();
    if stamp == pos.wrapping_add(1) {
        Ok(())
    } else {
        Err(not_ready(ring, pos, stamp))
    }
}

/// The seqlock read of the ground rules ([`Copied`](super::Copied)).
#[inline]
pub(super) fn copy_out<T: Copy>(tap: Tap<'_, T>) -> Result<T, LossyTryRecvError> {
    let Tap { ring, pos } = tap;
    let slot = ring.slot(*pos);
    let first = slot.stamp.load();
    if first != pos.wrapping_add(1) {
        return Err(not_ready(ring, pos, first));
    }
    let copy = slot
        .value
        // SAFETY: a bytewise copy into `MaybeUninit`, which any bytes inhabit;
        // it may race with a writer (see the ground rules), in which case the
        // recheck below fails and the copy is discarded unread.
        .with_racy(|v| unsafe { std::ptr::read_volatile(v.cast::<MaybeUninit<T>>()) });
    #[cfg(corelane_loom)]
    let copied = slot.probe();
    let second = slot.stamp.recheck();
    if second != first {
        return Err(not_ready(ring, pos, second));
    }
    #[cfg(corelane_loom)]
    assert_eq!(
        copied,
        pos.wrapping_add(1),
        "corelane (loom): a lossy read accepted a copy that overlapped an overwrite"
    );
    *pos = pos.wrapping_add(1);
    // SAFETY: the stamp did not change around the copy, so no writer touched
    // the value meanwhile: it is the published `T`.
    Ok(unsafe { copy.assume_init() })
}

/// The slot does not hold `pos` (its stamp is `stamp`): lapped (then `pos`
/// skips the lap), not yet published, or the end of the stream.
#[cold]
fn not_ready<T>(ring: &Ring<T>, pos: &mut usize, stamp: usize) -> LossyTryRecvError {
    let cap = ring.capacity();
    // The producer cursor (Acquire: it covers every stamp stored before it)
    // may lag single-item publishes by up to a ring.
    let cursor = ring.producer.get();
    let oldest = if stamp != Stamp::WRITING && ahead(stamp.wrapping_sub(1), *pos) > 0 {
        // The slot holds position `stamp - 1`, a later lap: positions up to
        // `stamp - 1 - cap` are gone. Lapped is the slow path: walk the
        // cursor forward to the frontier, to skip the whole lap at once
        // rather than one overwritten slot per read.
        later(
            frontier(ring, cursor).wrapping_sub(cap),
            stamp.wrapping_sub(cap),
        )
    } else {
        // Not published yet, or being written: the common empty poll of a
        // caught-up cursor. The cursor alone (no walk over a ring of stamp
        // lines); a lap it misses shows in the stamp on a later read.
        cursor.wrapping_sub(cap)
    };
    if ahead(oldest, *pos) > 0 {
        let missed = oldest.wrapping_sub(*pos);
        *pos = oldest;
        return LossyTryRecvError::Lagged(missed as u64);
    }
    if ring.closed_at() == *pos {
        return LossyTryRecvError::Disconnected;
    }
    LossyTryRecvError::Empty
}

/// A publisher's step before it overwrites the claimed run `[p, p + n)`
/// while a lossy cursor is subscribed: marks each slot `WRITING`, then
/// orders the marks before the value writes. With a cloning tap
/// (`cloning`) that order is the publisher's SeqCst fence of the Dekker
/// pair, after which it waits for every clone announced out of the run's
/// slots ([`begin_cloned_overwrite`], out of line); otherwise a Release
/// fence (the seqlock's, free on x86).
#[inline(always)]
pub(crate) fn begin_overwrite<T>(ring: &Ring<T>, p: usize, n: usize, cloning: bool) {
    if cloning {
        return begin_cloned_overwrite(ring, p, n);
    }
    for i in 0..n {
        ring.slot(p.wrapping_add(i)).stamp.begin_write();
    }
    write_fence();
}

/// [`begin_overwrite`] with a cloning tap subscribed: kept out of line, so
/// the publish paths stay small for rings without one.
#[cold]
#[inline(never)]
fn begin_cloned_overwrite<T>(ring: &Ring<T>, p: usize, n: usize) {
    for i in 0..n {
        ring.slot(p.wrapping_add(i)).stamp.begin_write();
    }
    // Pairs with the reader's fence in `Announced::enter` (ground rules);
    // as a Release fence it also orders the marks before the writes.
    fence(Ordering::SeqCst);
    for i in 0..n {
        let clones = ring.clones(p.wrapping_add(i));
        // Acquire: pairs with the Release decrement that withdrew the last
        // announcement (see `Announced::drop`).
        if clones.load(Ordering::Acquire) != 0 {
            wait_for_clones(clones);
        }
    }
}

/// Waits out the clones announced out of one slot before the publisher's
/// mark: bounded by one `clone()` per lossy cursor (a reader announces only
/// after seeing the slot hold the position it wants, and holds one
/// announcement at a time). Spins, then yields; never parks.
#[cold]
#[inline(never)]
fn wait_for_clones(clones: &AtomicU32) {
    let mut backoff = Backoff::default();
    // Acquire: as in `begin_overwrite`.
    while clones.load(Ordering::Acquire) != 0 {
        backoff.snooze();
    }
}
