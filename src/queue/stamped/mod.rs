//! The stamped-slot ring behind [`mpsc`](super::mpsc), [`spmc`](super::spmc)
//! and [`mpmc`](super::mpmc): Dmitry Vyukov's bounded MPMC queue (2010,
//! "Bounded MPMC queue" on 1024cores.net), with shortcuts for a side that
//! has a single handle.
//!
//! # Ground rules
//!
//! * Positions only grow (wrapping); position `p` lives in slot
//!   `p & mask`. Slot `i` starts with stamp `seq = i`. For position `p`:
//!   - `seq == p`: free for the producer of `p`;
//!   - `seq == p + 1`: holds the item of `p`;
//!   - `seq == p + cap`: consumed, free for the producer of `p + cap`.
//! * A producer owns `p` once it moved `tail` from `p` to `p + 1` by CAS
//!   *after* loading `seq == p` (Acquire, pairing with the consumer's
//!   Release store of `p`, which follows its read of the previous lap's
//!   value). It writes the value, then stores `seq = p + 1` (Release). The
//!   single SPMC producer owns every position in turn: it checks the stamp
//!   the same way, and stores `tail` (Release) only after the stamp, so
//!   `head` may briefly pass `tail` there (`len` clamps it).
//! * A consumer owns `p` once it moved `head` from `p` to `p + 1` after
//!   loading `seq == p + 1` (Acquire, pairing with that Release). It reads,
//!   then stores `seq = p + cap` (Release).
//! * So a slow claimer never exposes an unwritten slot: readiness is the
//!   slot's own stamp, not a cursor. What a failed try *can* see is a slot
//!   claimed but not finished by another thread; that is reported as `Busy`,
//!   distinct from `Full`/`Empty` (decided by comparing the cursors). The
//!   one exception is the MPSC consumer: there a not-yet-written head slot
//!   reads as `Empty`, because telling `Busy` apart would mean loading the
//!   producers' contended `tail` line on every empty poll.
//! * A single consumer (MPSC) also publishes `head` (Release) after each
//!   read; the MPSC producers rely on it instead of the stamps: `head > q`
//!   means every position `< head` was read, in order, so one Acquire load
//!   of `head` (cached until the ring looks full) vouches for a whole run of
//!   free slots. The MPSC consumer therefore skips the `seq = p + cap`
//!   store (its slots keep `p + 1`, which no later lap expects), and never
//!   writes a slot line.
//! * `producers` / `consumers` count live handles; the last one to leave
//!   wakes the other side, which then re-checks the ring before reporting
//!   `Disconnected` (Release decrement, Acquire load). A consumer reports
//!   it only when, after seeing `producers == 0`, the stamp of its position
//!   is still short of `p + 1`: nothing was or will be written there. A
//!   stamp past `p + 1` only means another consumer took `p` meanwhile.
//!
//! * Batches claim *runs*: a run claim loads the stamp of every position of
//!   the run before the one CAS that moves the cursor past them all, and a
//!   claimed position is always written (producers) or read (consumers),
//!   whatever the caller's code does; the rules are in [`batch`].
//!
//! # Layout
//!
//! * this file: the ring, what every side shares (slot access, handle
//!   counts, the blocking and async loops);
//! * [`batch`]: runs: writing one ahead and publishing it with one fence,
//!   staging clones before a claim, handing a claimed run out;
//! * [`by_stamp`]: the sides that decide from a slot's stamp whether it is
//!   theirs: Vyukov's CAS claims ([`SharedProducer`], [`SharedConsumer`])
//!   and the single producer of SPMC ([`SoleProducer`]);
//! * [`by_head`]: the MPSC pair: the single consumer publishes `head`
//!   ([`SoleConsumer`]), the producers decide "free" from it
//!   ([`HeadGatedProducer`]).
//!
//! Each ring's `Producer<T>` / `Consumer<T>` (in `mpsc.rs`, `spmc.rs`,
//! `mpmc.rs`) holds an `Arc<Ring<T>>` and one of these sides.

use std::mem::MaybeUninit;
use std::task::{Context, Poll};
use std::time::Instant;

use super::position::ahead;
use super::wait::{self, Notify, SendFuture, WaitStrategy};
use super::{ring_capacity, Disconnected, PopError, PopTimeoutError, PushError, PushTimeoutError};
use crate::sync::{AtomicUsize, CachePadded, Ordering, UnsafeCell};

mod batch;
mod by_head;
mod by_stamp;

pub(crate) use by_head::{HeadGatedProducer, SoleConsumer};
pub(crate) use by_stamp::{SharedConsumer, SharedProducer, SoleProducer};

/// How a producer handle claims a position and pushes. Each ring's
/// `Producer<T>` holds one kind, next to its `Arc<Ring<T>>`.
pub(crate) trait PushSide {
    /// Pushes `value`, or hands it back with the reason. Never blocks.
    fn push<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>>;

    /// True if this handle's next push would have found a free slot at the
    /// moment of the check (for `poll_ready`). Only a sole producer can
    /// count on it staying free.
    fn has_room<T>(&self, ring: &Ring<T>) -> bool;
}

/// How a consumer handle claims a position and pops.
pub(crate) trait PopSide {
    /// Takes the oldest item, or says why not. Never blocks.
    fn pop<T>(&mut self, ring: &Ring<T>) -> Result<T, PopError>;
}

struct Slot<T> {
    /// The stamp: which position this slot is free for, or holds (see the
    /// ground rules).
    seq: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Live handles of each side.
struct HandleCounts {
    producers: AtomicUsize,
    consumers: AtomicUsize,
}

pub(crate) struct Ring<T> {
    /// The next position to claim for a push.
    tail: CachePadded<AtomicUsize>,
    /// The next position to claim for a pop.
    head: CachePadded<AtomicUsize>,
    /// Read on every push/pop, written only when a handle is cloned/dropped.
    handles: CachePadded<HandleCounts>,
    /// Consumers wait here for items.
    items: CachePadded<Notify>,
    /// Producers wait here for room.
    space: CachePadded<Notify>,
    mask: usize,
    slots: Box<[Slot<T>]>,
}

// No `&self` method of `Ring` or of any mpsc/spmc/mpmc handle hands out a
// `&T`: values only move in (push) and out (pop), so `T: Sync` is not
// needed. trybuild cases `mpsc_producer_rc_not_send`,
// `rc_mpmc_ring_not_send` and `spmc_consumer_rc_not_send` pin `T: Send`.
// SAFETY: items move between threads (`T: Send`); each slot's value is
// accessed only by the thread that claimed its position, per the stamps.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring` exposes only atomics and the claim protocol.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        // At least 2: with one slot, "holds the item of p" (p + 1) and "free
        // for p + 1" would be the same stamp.
        let cap = ring_capacity(capacity, std::mem::size_of::<Slot<T>>()).max(2);
        debug_assert!(cap.is_power_of_two() && cap >= 2);
        let slots = (0..cap)
            .map(|i| Slot {
                seq: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            tail: CachePadded::new(AtomicUsize::new(0)),
            head: CachePadded::new(AtomicUsize::new(0)),
            handles: CachePadded::new(HandleCounts {
                producers: AtomicUsize::new(1),
                consumers: AtomicUsize::new(1),
            }),
            items: CachePadded::new(Notify::new()),
            space: CachePadded::new(Notify::new()),
            mask: cap - 1,
            slots,
        }
    }

    #[inline]
    fn slot(&self, pos: usize) -> &Slot<T> {
        &self.slots[pos & self.mask]
    }

    /// The slot of `pos`, for a claim (which loads its stamp, then stores
    /// to it), with a read prefetch of its line issued first, so the line
    /// is on its way while the claim runs. A measured choice, not a derived
    /// one (the figures, and the variants that did worse, are in the
    /// README's queue section). A read prefetch also leaves the line
    /// shared, so handles polling a slot that is not ready do not take it
    /// from one another.
    #[inline]
    fn slot_prefetched(&self, pos: usize) -> &Slot<T> {
        let slot = self.slot(pos);
        crate::sync::prefetch(slot);
        slot
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Slots not counted by [`len`](Self::len): `capacity - len`.
    pub(crate) fn free_len(&self) -> usize {
        self.capacity() - self.len()
    }

    /// Positions claimed by producers and not yet claimed by consumers.
    pub(crate) fn len(&self) -> usize {
        loop {
            // Acquire both; re-read tail to get a consistent pair.
            let tail = self.tail.load(Ordering::Acquire);
            let head = self.head.load(Ordering::Acquire);
            if self.tail.load(Ordering::Acquire) == tail {
                // A single producer stores `tail` after the stamp, so a fast
                // consumer can be ahead of it: clamp a negative gap to 0.
                return (ahead(tail, head).max(0) as usize).min(self.capacity());
            }
        }
    }

    /// Writes the item of `pos`, then stamps it ready (`pos + 1`).
    #[inline]
    fn write_and_stamp(&self, pos: usize, value: T) {
        let slot = self.slot(pos);
        // SAFETY: we own position `pos` (claimed after seeing it free); no
        // consumer reads it before the Release store below.
        slot.value.with_mut(|v| unsafe { (*v).write(value) });
        // Release: pairs with the consumer's Acquire `seq` load.
        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
    }

    /// Reads the item of `pos`, then stamps the slot free for the next lap
    /// (`pos + cap`).
    #[inline]
    fn read_and_free(&self, pos: usize) -> T {
        let slot = self.slot(pos);
        // SAFETY: we own position `pos` (claimed after seeing `seq == pos+1`).
        let value = slot.value.with(|v| unsafe { (*v).assume_init_read() });
        // Release: pairs with the next lap's producer Acquire `seq` load.
        slot.seq
            .store(pos.wrapping_add(self.capacity()), Ordering::Release);
        value
    }

    /// True if every producer is gone and position `pos` was never written:
    /// nothing will ever arrive there, nor (positions being claimed in
    /// order, and every claim written before its handle left) after it.
    #[inline]
    fn ended_before(&self, pos: usize) -> bool {
        // Acquire: pairs with the last producer's Release decrement in
        // `drop_producer`; every push is then visible, so a stamp still
        // short of `pos + 1` will never reach it. A stamp *past* `pos + 1`
        // does not end the stream: a shared consumer's `pos` may be stale
        // (another consumer took it), and later positions may hold items.
        self.handles.producers.load(Ordering::Acquire) == 0
            && ahead(
                // Acquire, as every stamp load of a claim; after the count's
                // Acquire every producer's stamp store happened before this
                // load, so it reads the slot's final stamp.
                self.slot(pos).seq.load(Ordering::Acquire),
                pos.wrapping_add(1),
            ) < 0
    }

    /// Relaxed: only decides whether to refuse a value early; a stale answer
    /// admits one item that the ring's Drop frees.
    #[inline]
    fn consumers_gone_hint(&self) -> bool {
        self.handles.consumers.load(Ordering::Relaxed) == 0
    }

    /// True once every consumer handle is gone.
    pub(crate) fn consumers_gone(&self) -> bool {
        // Acquire: pairs with the last consumer's Release decrement.
        self.handles.consumers.load(Ordering::Acquire) == 0
    }

    /// True once every producer handle is gone.
    pub(crate) fn producers_gone(&self) -> bool {
        // Acquire: pairs with the last producer's Release decrement.
        self.handles.producers.load(Ordering::Acquire) == 0
    }

    /// Registers one more producer handle.
    pub(crate) fn add_producer(&self) {
        // Relaxed: the caller already holds a handle, which keeps it above 0.
        self.handles.producers.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers one more consumer handle.
    pub(crate) fn add_consumer(&self) {
        // Relaxed: as in `add_producer`.
        self.handles.consumers.fetch_add(1, Ordering::Relaxed);
    }

    /// A producer handle leaves; the last one wakes the consumers.
    pub(crate) fn drop_producer(&self) {
        // AcqRel: the Release half publishes our pushes to whoever loads the
        // count with Acquire afterwards: a consumer that sees 0
        // (`ended_before`, `producers_gone`), or the remaining MPSC handle
        // choosing the sole-producer path (`HeadGatedProducer::push`).
        let before = self.handles.producers.fetch_sub(1, Ordering::AcqRel);
        debug_assert_ne!(before, 0, "more producer handles left than existed");
        if before == 1 {
            self.items.notify_slow();
        }
    }

    /// A consumer handle leaves; the last one wakes the producers.
    pub(crate) fn drop_consumer(&self) {
        // AcqRel: pairs with the producers' loads of the count.
        let before = self.handles.consumers.fetch_sub(1, Ordering::AcqRel);
        debug_assert_ne!(before, 0, "more consumer handles left than existed");
        if before == 1 {
            self.space.notify_slow();
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Every handle is gone, so every claim completed: [head, tail) holds
        // written, unread items. Relaxed: `&mut self` (the last Arc) is
        // synchronized with every handle's accesses by the Arc's final
        // release/acquire decrement; nothing races these loads.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        debug_assert!(
            (0..=self.capacity() as isize).contains(&ahead(tail, head)),
            "the ring holds between 0 and capacity items"
        );
        let mut pos = head;
        while pos != tail {
            // SAFETY: position `pos` was written and not read (see above).
            self.slot(pos)
                .value
                .with_mut(|v| unsafe { (*v).assume_init_drop() });
            pos = pos.wrapping_add(1);
        }
    }
}

/// The body of every stamped ring's `push_blocking`: `side.push` until it
/// succeeds or the consumers are gone, waiting per `strategy` on `space`.
pub(crate) fn push_blocking<T, S: PushSide>(
    ring: &Ring<T>,
    side: &mut S,
    value: T,
    strategy: WaitStrategy,
) -> Result<(), Disconnected<T>> {
    wait::push_blocking(strategy, &ring.space, value, |v| side.push(ring, v))
}

/// The body of every stamped ring's `push_timeout` / `push_until`
/// (`deadline` `None`: too far to represent, wait without one).
pub(crate) fn push_until<T, S: PushSide>(
    ring: &Ring<T>,
    side: &mut S,
    value: T,
    deadline: Option<Instant>,
    strategy: WaitStrategy,
) -> Result<(), PushTimeoutError<T>> {
    wait::push_until(strategy, &ring.space, deadline, value, |v| {
        side.push(ring, v)
    })
}

/// The future of every stamped ring's `send`: `side.push`, re-polled when
/// `space` is notified.
pub(crate) fn send<'a, T, S: PushSide>(
    ring: &'a Ring<T>,
    side: &'a mut S,
    value: T,
) -> SendFuture<'a, T, impl FnMut(T) -> Result<(), PushError<T>> + Unpin + 'a> {
    SendFuture::new(&ring.space, value, move |v| side.push(ring, v))
}

/// The body of every stamped ring's `poll_ready`.
pub(crate) fn poll_ready<T, S: PushSide>(
    ring: &Ring<T>,
    side: &S,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Disconnected>> {
    wait::poll_retry(&ring.space, cx, || {
        if ring.consumers_gone() {
            Some(Err(Disconnected(())))
        } else if side.has_room(ring) {
            Some(Ok(()))
        } else {
            None
        }
    })
}

/// The body of every stamped ring's `pop_blocking`: `side.pop` until it
/// takes an item or the stream ended, waiting per `strategy` on `items`.
pub(crate) fn pop_blocking<T, S: PopSide>(
    ring: &Ring<T>,
    side: &mut S,
    strategy: WaitStrategy,
) -> Result<T, Disconnected> {
    wait::pop_blocking(strategy, &ring.items, || side.pop(ring))
}

/// The body of every stamped ring's `pop_timeout` / `pop_until`.
pub(crate) fn pop_until<T, S: PopSide>(
    ring: &Ring<T>,
    side: &mut S,
    deadline: Option<Instant>,
    strategy: WaitStrategy,
) -> Result<T, PopTimeoutError> {
    wait::pop_until(strategy, &ring.items, deadline, || side.pop(ring))
}

/// The body of every stamped ring's `poll_pop` (and so of `recv` and
/// `Stream::poll_next`).
pub(crate) fn poll_pop<T, S: PopSide>(
    ring: &Ring<T>,
    side: &mut S,
    cx: &mut Context<'_>,
) -> Poll<Result<T, Disconnected>> {
    wait::poll_pop(&ring.items, cx, || side.pop(ring))
}
