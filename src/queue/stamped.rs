//! The stamped-slot ring behind [`mpsc`](super::mpsc), [`spmc`](super::spmc)
//! and [`mpmc`](super::mpmc) (Dmitry Vyukov's bounded MPMC queue, 2010).
//!
//! # Ground rules
//!
//! * Slot `i` starts with sequence `seq = i`. For position `p` (slot
//!   `p & mask`):
//!   - `seq == p`: free for the producer of `p`;
//!   - `seq == p + 1`: holds the item of `p`;
//!   - `seq == p + cap`: consumed, free for the producer of `p + cap`.
//! * A producer owns `p` once it moved `tail` from `p` to `p + 1` (CAS for many
//!   producers, a plain store for one) *after* loading `seq == p` (Acquire,
//!   pairing with the consumer's Release store of `p`, which follows its read
//!   of the previous lap's value). It writes the value, then stores
//!   `seq = p + 1` (Release).
//! * A consumer owns `p` once it moved `head` from `p` to `p + 1` after
//!   loading `seq == p + 1` (Acquire, pairing with that Release). It reads,
//!   then stores `seq = p + cap` (Release).
//! * So a slow claimer never exposes an unwritten slot: readiness is the
//!   slot's own stamp, not a cursor. What a failed try *can* see is a slot
//!   claimed but not finished by another thread; that is reported as `Busy`,
//!   distinct from `Full`/`Empty` (decided by comparing the cursors). The
//!   one exception is the MPSC consumer: there a not-yet-written head slot
//!   reads as `Empty`, because telling `Busy` apart would mean loading the
//!   producers' contended `tail` line on every empty poll (measured: it
//!   halves 1→1 throughput).
//! * A single consumer also publishes `head` (Release) after each release;
//!   the MPSC producers rely on it instead of the stamps: `head > q` means
//!   every position `< head` was released, in order, so one Acquire load of
//!   `head` (cached until the ring looks full) vouches for a whole run of
//!   free slots. The MPSC consumer therefore skips the `seq = p + cap`
//!   store (its slots keep `p + 1`, which no later lap expects), and never
//!   writes a slot line.
//! * `senders` / `receivers` count live handles; the last one to leave
//!   wakes the other side, which then re-checks the ring before reporting
//!   `Disconnected` (Release decrement, Acquire load).

use std::mem::MaybeUninit;

use super::position::ahead;
use super::wait::Notify;
use super::{ring_capacity, Disconnected, PopError, PushError};
use crate::sync::{fence, AtomicUsize, CachePadded, Ordering, UnsafeCell};

struct Slot<T> {
    seq: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

struct Ends {
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

pub(crate) struct Ring<T> {
    tail: CachePadded<AtomicUsize>,
    head: CachePadded<AtomicUsize>,
    /// Read on every push/pop, written only when a handle is cloned/dropped.
    ends: CachePadded<Ends>,
    pub(crate) items: CachePadded<Notify>,
    pub(crate) space: CachePadded<Notify>,
    mask: usize,
    slots: Box<[Slot<T>]>,
}

// SAFETY: items move between threads (`T: Send`); each slot's value is
// accessed only by the thread that claimed its position, per the stamps.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring` exposes only atomics and the claim protocol.
unsafe impl<T: Send> Sync for Ring<T> {}

/// How a side claims positions: [`Owned`] for the single side (a private
/// cursor, plain stores) or [`SharedClaim`] for the cloneable side (CAS).
pub(crate) trait Claim: Default {
    fn push<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>>;
    fn pop<T>(&mut self, ring: &Ring<T>) -> Result<T, PopError>;
}

/// The single side's private cursor.
#[derive(Default)]
pub(crate) struct Owned(usize);

/// The many side: positions are claimed on the shared cursor.
#[derive(Default, Clone, Copy)]
pub(crate) struct SharedClaim;

/// The many producers of a **single-consumer** ring (MPSC): claims by CAS on
/// the tail, but decides "slot free" from a cached copy of the consumer's
/// `head` instead of loading the slot's stamp, so a push touches the slot's
/// line once (to write it) and the consumer's line only when the cache says
/// the ring is full.
#[derive(Default, Clone, Copy)]
pub(crate) struct ScProducerClaim {
    head_cache: usize,
}

impl Claim for ScProducerClaim {
    #[inline]
    fn push<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>> {
        ring.push_sc(&mut self.head_cache, value)
    }
    #[inline]
    fn pop<T>(&mut self, ring: &Ring<T>) -> Result<T, PopError> {
        ring.pop_shared()
    }
}

impl Claim for Owned {
    #[inline]
    fn push<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>> {
        ring.push_owned(&mut self.0, value)
    }
    #[inline]
    fn pop<T>(&mut self, ring: &Ring<T>) -> Result<T, PopError> {
        ring.pop_owned(&mut self.0)
    }
}

impl Claim for SharedClaim {
    #[inline]
    fn push<T>(&mut self, ring: &Ring<T>, value: T) -> Result<(), PushError<T>> {
        ring.push_shared(value)
    }
    #[inline]
    fn pop<T>(&mut self, ring: &Ring<T>) -> Result<T, PopError> {
        ring.pop_shared()
    }
}

impl<T> Ring<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        // At least 2: with one slot, "holds the item of p" (p + 1) and "free
        // for p + 1" would be the same stamp.
        let cap = ring_capacity(capacity, std::mem::size_of::<Slot<T>>()).max(2);
        let slots = (0..cap)
            .map(|i| Slot {
                seq: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            tail: CachePadded::new(AtomicUsize::new(0)),
            head: CachePadded::new(AtomicUsize::new(0)),
            ends: CachePadded::new(Ends {
                senders: AtomicUsize::new(1),
                receivers: AtomicUsize::new(1),
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
    /// to it), with a prefetch of its line issued first.
    ///
    /// Measured, not derived: a `prefetcht0` right before the stamp load
    /// took MPMC 1->1 from 0.9-1.0x crossbeam's ArrayQueue to 1.15-1.4x
    /// over several builds, with round trips unchanged. Issuing it after
    /// the stamp load instead gave parity, and a real `prefetchw` (fetch
    /// for ownership) gave no more throughput and 5-10% slower round trips.
    /// A read prefetch also leaves the line shared, so handles polling a
    /// slot that is not ready do not take it from one another.
    #[inline]
    fn slot_to_claim(&self, pos: usize) -> &Slot<T> {
        let slot = self.slot(pos);
        crate::sync::prefetch(slot);
        slot
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Items claimed by producers and not yet claimed by consumers.
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

    #[inline]
    fn write(&self, pos: usize, value: T) {
        let slot = self.slot(pos);
        // SAFETY: we own position `pos` (claimed after seeing `seq == pos`);
        // no consumer reads it before the Release store below.
        slot.value.with_mut(|v| unsafe { (*v).write(value) });
        // Release: pairs with the consumer's Acquire `seq` load.
        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
    }

    #[inline]
    fn read(&self, pos: usize) -> T {
        let slot = self.slot(pos);
        // SAFETY: we own position `pos` (claimed after seeing `seq == pos+1`).
        let value = slot.value.with(|v| unsafe { (*v).assume_init_read() });
        // Release: pairs with the next lap's producer Acquire `seq` load.
        slot.seq
            .store(pos.wrapping_add(self.capacity()), Ordering::Release);
        value
    }

    #[inline]
    fn receivers_gone(&self) -> bool {
        // Relaxed: only decides whether to refuse a value early; a stale
        // answer admits one item that the ring's Drop frees.
        self.ends.receivers.load(Ordering::Relaxed) == 0
    }

    /// Why position `pos` could not be pushed: all slots hold items, or a
    /// consumer is still reading the previous lap of this slot.
    #[cold]
    fn full_reason(&self, pos: usize, value: T) -> PushError<T> {
        let head = self.head.load(Ordering::Acquire);
        if ahead(pos, head) >= self.capacity() as isize {
            PushError::Full(value)
        } else {
            PushError::Busy(value)
        }
    }

    /// Why position `pos` could not be popped: nothing claimed, a producer
    /// is mid-write, or nothing will ever come.
    #[cold]
    fn empty_reason(&self, pos: usize) -> PopError {
        // Acquire: pairs with the producers' Release tail stores/CAS order.
        if ahead(self.tail.load(Ordering::Acquire), pos) > 0 {
            return PopError::Busy;
        }
        // Acquire: pairs with the last sender's Release decrement; every push
        // before it is then visible, so a slot still short of `pos + 1` now
        // will never be written. A stamp *past* `pos + 1` is not that: `pos`
        // came from a Relaxed load of `head` and another consumer took it
        // meanwhile, so later positions may still hold items (`Empty`, and
        // the retry starts from a fresh `head`).
        if self.ends.senders.load(Ordering::Acquire) == 0
            && ahead(
                self.slot(pos).seq.load(Ordering::Acquire),
                pos.wrapping_add(1),
            ) < 0
        {
            return PopError::Disconnected;
        }
        PopError::Empty
    }

    /// `empty_reason` for the single consumer: it does **not** read the
    /// producers' `tail` (the line every push CASes), so an empty poll costs
    /// no contention; the price is that a slot claimed but not yet written
    /// reports `Empty`, not `Busy` (documented on `mpsc::Consumer::pop`).
    #[cold]
    fn empty_reason_sc(&self, pos: usize) -> PopError {
        // Acquire: pairs with the last sender's Release decrement (as in
        // `empty_reason`).
        if self.ends.senders.load(Ordering::Acquire) == 0
            && self.slot(pos).seq.load(Ordering::Acquire) != pos.wrapping_add(1)
        {
            return PopError::Disconnected;
        }
        PopError::Empty
    }

    #[inline]
    pub(crate) fn push_owned(&self, tail: &mut usize, value: T) -> Result<(), PushError<T>> {
        if self.receivers_gone() {
            return Err(PushError::Disconnected(value));
        }
        let pos = *tail;
        // Acquire: pairs with the Release in `read` of the previous lap.
        if self.slot_to_claim(pos).seq.load(Ordering::Acquire) != pos {
            return Err(self.full_reason(pos, value));
        }
        self.write(pos, value);
        *tail = pos.wrapping_add(1);
        // Release: after the slot's stamp, so a consumer that sees the new
        // tail (Acquire, in `empty_reason`/`len`) never reports `Busy`.
        self.tail.store(*tail, Ordering::Release);
        self.items.notify();
        Ok(())
    }

    #[inline]
    pub(crate) fn push_shared(&self, value: T) -> Result<(), PushError<T>> {
        if self.receivers_gone() {
            return Err(PushError::Disconnected(value));
        }
        // Relaxed: a hint; ownership is decided by the CAS below.
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            // Acquire: pairs with the Release in `read` of the previous lap.
            let seq = self.slot_to_claim(pos).seq.load(Ordering::Acquire);
            match ahead(seq, pos) {
                0 => {
                    // Relaxed: the CAS only arbitrates ownership of `pos`; the
                    // data's visibility rides on the slot's `seq`.
                    match self.tail.compare_exchange_weak(
                        pos,
                        pos.wrapping_add(1),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            self.write(pos, value);
                            self.items.notify();
                            return Ok(());
                        }
                        Err(now) => pos = now,
                    }
                }
                d if d < 0 => return Err(self.full_reason(pos, value)),
                _ => pos = self.tail.load(Ordering::Relaxed),
            }
            crate::sync::spin_hint();
        }
    }

    /// Multi-producer push for a ring with a **single consumer**, which
    /// releases positions in order and publishes `head` after each release:
    /// `pos - head < capacity` then proves the slot of `pos` free.
    #[inline]
    pub(crate) fn push_sc(&self, head_cache: &mut usize, value: T) -> Result<(), PushError<T>> {
        if self.receivers_gone() {
            return Err(PushError::Disconnected(value));
        }
        let cap = self.capacity() as isize;
        // Acquire: pairs with the Release decrement of a producer handle that
        // left (its claims happen-before what we read of `tail` next). The
        // line is read on every push anyway (`receivers_gone`).
        if self.ends.senders.load(Ordering::Acquire) == 1 {
            return self.push_sole(head_cache, value);
        }
        // Relaxed: a hint; ownership is decided by the CAS below.
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            if ahead(pos, *head_cache) >= cap {
                // Acquire: pairs with the consumer's Release head store in
                // `pop_owned`, issued after it read and released every
                // position below `head`.
                *head_cache = self.head.load(Ordering::Acquire);
                if ahead(pos, *head_cache) >= cap {
                    let now = self.tail.load(Ordering::Relaxed);
                    if now == pos {
                        return Err(PushError::Full(value));
                    }
                    pos = now;
                    continue;
                }
            }
            // Relaxed: ownership only (see `push_shared`).
            match self.tail.compare_exchange_weak(
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
        self.write(pos, value);
        self.items.notify();
        Ok(())
    }

    /// `push_sc` for the only producer handle: a plain load and store of
    /// `tail` instead of a CAS. A locked CAS on x86 waits for the previous
    /// push's slot stores to leave the store buffer, i.e. for the slot line
    /// to come back from the consumer: it costs a cache-line round trip per
    /// push in 1→1 use. Sound because nobody else can claim meanwhile: the
    /// handle is `&mut` for the push, and another handle can only come from
    /// cloning this one (an increment this thread made, so its next load of
    /// `senders` sees it) and be used elsewhere only after being sent there
    /// (which orders our `tail` store before its CAS). When a clone leaves,
    /// its Release decrement, seen by our Acquire load of `senders`, orders
    /// its last claim before our plain load of `tail`.
    #[inline]
    fn push_sole(&self, head_cache: &mut usize, value: T) -> Result<(), PushError<T>> {
        // Relaxed: we are the only writer of `tail` right now (see above).
        let pos = self.tail.load(Ordering::Relaxed);
        if ahead(pos, *head_cache) >= self.capacity() as isize {
            // Acquire: as in `push_sc`.
            *head_cache = self.head.load(Ordering::Acquire);
            if ahead(pos, *head_cache) >= self.capacity() as isize {
                return Err(PushError::Full(value));
            }
        }
        // Relaxed: ownership only, as the CAS in `push_sc`; the item's
        // visibility rides on the slot stamp stored by `write`.
        self.tail.store(pos.wrapping_add(1), Ordering::Relaxed);
        self.write(pos, value);
        self.items.notify();
        Ok(())
    }

    #[inline]
    pub(crate) fn pop_owned(&self, head: &mut usize) -> Result<T, PopError> {
        let pos = *head;
        // Acquire: pairs with the producer's Release in `write`.
        if self.slot(pos).seq.load(Ordering::Acquire) != pos.wrapping_add(1) {
            return Err(self.empty_reason_sc(pos));
        }
        // No stamp store after the read: the producers of a single-consumer
        // ring decide "free" from `head` (`push_sc`, `push_batch_sc`), never
        // from the stamp, and the stale `pos + 1` left in the slot never
        // equals a later lap's `pos + cap + 1`. So the consumer never writes
        // a slot line the producers are filling.
        let value = self
            .slot(pos)
            .value
            // SAFETY: we own position `pos` (the single consumer, after
            // seeing `seq == pos + 1`).
            .with(|v| unsafe { (*v).assume_init_read() });
        *head = pos.wrapping_add(1);
        // Release: pairs with the Acquire head loads of `push_sc`,
        // `push_batch_sc` (and `len`): every position below the new head has
        // been read, so its slot may be overwritten.
        self.head.store(pos.wrapping_add(1), Ordering::Release);
        self.space.notify();
        Ok(value)
    }

    #[inline]
    pub(crate) fn pop_shared(&self) -> Result<T, PopError> {
        // Relaxed: a hint; ownership is decided by the CAS below.
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            // Acquire: pairs with the producer's Release in `write`.
            let seq = self.slot_to_claim(pos).seq.load(Ordering::Acquire);
            match ahead(seq, pos.wrapping_add(1)) {
                0 => {
                    // Relaxed: ownership only; see `push_shared`.
                    match self.head.compare_exchange_weak(
                        pos,
                        pos.wrapping_add(1),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            let value = self.read(pos);
                            self.space.notify();
                            return Ok(value);
                        }
                        Err(now) => pos = now,
                    }
                }
                d if d < 0 => return Err(self.empty_reason(pos)),
                _ => pos = self.head.load(Ordering::Relaxed),
            }
            crate::sync::spin_hint();
        }
    }

    /// Pushes the longest prefix of `items` that fits, claiming the run with
    /// one CAS. Only sound with a **single consumer** (see ground rules).
    pub(crate) fn push_batch_sc(&self, items: &mut Vec<T>) -> Result<usize, Disconnected> {
        if self.receivers_gone() {
            return Err(Disconnected);
        }
        if items.is_empty() {
            return Ok(0);
        }
        let (pos, k) = self.claim_run(items.len());
        if k == 0 {
            return Ok(0);
        }
        for (i, v) in items.drain(..k).enumerate() {
            self.slot(pos.wrapping_add(i))
                .value
                // SAFETY: positions pos..pos+k are ours (claim_run) and
                // released by the consumer (head Acquire); nobody reads them
                // until the stamps below are stored.
                .with_mut(|s| unsafe { (*s).write(v) });
        }
        // One Release fence for the run: the consumer's Acquire `seq` load of
        // any of the Relaxed stamps below synchronizes with it.
        fence(Ordering::Release);
        for i in 0..k {
            let p = pos.wrapping_add(i);
            self.slot(p).seq.store(p.wrapping_add(1), Ordering::Relaxed);
        }
        self.items.notify();
        Ok(k)
    }

    /// Claims up to `n` consecutive free positions; returns (first, count).
    fn claim_run(&self, n: usize) -> (usize, usize) {
        // Relaxed: a hint; ownership is decided by the CAS.
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            // Acquire: pairs with the single consumer's Release head store;
            // every position below `head` has been read and released.
            let head = self.head.load(Ordering::Acquire);
            let used = ahead(pos, head);
            if used < 0 {
                pos = self.tail.load(Ordering::Relaxed);
                continue;
            }
            let k = n.min(self.capacity().saturating_sub(used as usize));
            if k == 0 {
                return (pos, 0);
            }
            // Relaxed: ownership only (see `push_shared`).
            match self.tail.compare_exchange_weak(
                pos,
                pos.wrapping_add(k),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (pos, k),
                Err(now) => pos = now,
            }
        }
    }

    /// Registers one more handle of a side.
    pub(crate) fn add_sender(&self) {
        // Relaxed: the caller already holds a handle, which keeps it above 0.
        self.ends.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers one more receiving handle.
    pub(crate) fn add_receiver(&self) {
        // Relaxed: as in `add_sender`.
        self.ends.receivers.fetch_add(1, Ordering::Relaxed);
    }

    /// A sending handle leaves; the last one wakes the receivers.
    pub(crate) fn drop_sender(&self) {
        // AcqRel: Release publishes our pushes to a consumer that sees 0.
        if self.ends.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.items.notify_slow();
        }
    }

    /// A receiving handle leaves; the last one wakes the senders.
    pub(crate) fn drop_receiver(&self) {
        // AcqRel: pairs with the producers' loads of the count.
        if self.ends.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.space.notify_slow();
        }
    }

    /// True once every sending handle is gone.
    pub(crate) fn senders_gone(&self) -> bool {
        self.ends.senders.load(Ordering::Acquire) == 0
    }

    /// True once every receiving handle is gone.
    pub(crate) fn receivers_gone_acq(&self) -> bool {
        self.ends.receivers.load(Ordering::Acquire) == 0
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Every handle is gone, so every claim completed: [head, tail) holds
        // written, unread items.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        let mut p = head;
        while p != tail {
            // SAFETY: position p was written and not read (see above).
            self.slot(p)
                .value
                .with_mut(|v| unsafe { (*v).assume_init_drop() });
            p = p.wrapping_add(1);
        }
    }
}

/// Generates the `Producer` / `Consumer` handle types of one stamped ring
/// flavour, with their docs (the three flavours share one vocabulary).
macro_rules! stamped_endpoints {
    (module = $m:literal, producer = $pclaim:ty, consumer = $cclaim:ty) => {
        use std::fmt;

        use crate::queue::stamped::{Claim, Ring};
        use crate::queue::wait::{attempt, attempt_with, block_on, Retry, WaitStrategy};
        use crate::queue::{PopError, PushError};
        use crate::sync::Arc;

        /// Creates a ring with room for `capacity` items (rounded up to a
        /// power of two, and to at least 2) and returns its two ends.
        ///
        /// # Panics
        ///
        /// If `capacity` is 0 or the ring would not fit in memory.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let (mut tx, mut rx) = corelane::queue::", $m, "::channel::<u32>(100);")]
        /// assert_eq!(tx.capacity(), 128);
        /// tx.push(1).unwrap();
        /// assert_eq!(rx.pop(), Ok(1));
        /// ```
        pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
            let ring = Arc::new(Ring::new(capacity));
            (
                Producer {
                    ring: ring.clone(),
                    claim: Default::default(),
                },
                Consumer {
                    ring,
                    claim: Default::default(),
                },
            )
        }

        /// The sending end.
        pub struct Producer<T> {
            ring: Arc<Ring<T>>,
            claim: $pclaim,
        }

        /// The receiving end.
        pub struct Consumer<T> {
            ring: Arc<Ring<T>>,
            claim: $cclaim,
        }

        impl<T> Producer<T> {
            /// Pushes `value`, or hands it back. Never blocks.
            ///
            /// # Errors
            ///
            /// [`PushError::Full`] if every slot holds an item,
            /// [`PushError::Busy`] if the next slot is still being read by
            /// a consumer (multi-consumer rings), [`PushError::Disconnected`]
            /// if every consumer is gone.
            ///
            /// # Examples
            ///
            /// ```
            /// use corelane::queue::PushError;
            #[doc = concat!("let (mut tx, rx) = corelane::queue::", $m, "::channel::<u8>(2);")]
            /// tx.push(1).unwrap();
            /// tx.push(2).unwrap();
            /// assert_eq!(tx.push(3), Err(PushError::Full(3)));
            /// drop(rx);
            /// assert_eq!(tx.push(4), Err(PushError::Disconnected(4)));
            /// ```
            #[inline]
            pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
                self.claim.push(&self.ring, value)
            }

            /// Pushes `value`, waiting per `strategy` while the ring is full.
            ///
            /// # Errors
            ///
            /// [`PushError::Disconnected`] (with the value) if every consumer is gone.
            ///
            /// # Examples
            ///
            /// ```
            /// use corelane::queue::wait::WaitStrategy;
            #[doc = concat!("let (mut tx, mut rx) = corelane::queue::", $m, "::channel::<u8>(1);")]
            /// tx.push_blocking(1, WaitStrategy::Park).unwrap();
            /// assert_eq!(rx.pop(), Ok(1));
            /// ```
            pub fn push_blocking(
                &mut self,
                value: T,
                strategy: WaitStrategy,
            ) -> Result<(), PushError<T>> {
                let Producer { ring, claim } = self;
                let mut value = Some(value);
                block_on(strategy, &ring.space, || {
                    attempt_with(&mut value, |v| claim.push(ring, v))
                })
            }

            /// Pushes `value`, waiting asynchronously while the ring is full;
            /// works under any executor.
            ///
            /// # Errors
            ///
            /// [`PushError::Disconnected`] (with the value) if every consumer is gone.
            ///
            /// # Examples
            ///
            /// ```
            /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            /// # rt.block_on(async {
            #[doc = concat!("let (mut tx, mut rx) = corelane::queue::", $m, "::channel::<u8>(1);")]
            /// tx.send(4).await.unwrap();
            /// assert_eq!(rx.recv().await, Ok(4));
            /// # });
            /// ```
            pub async fn send(&mut self, value: T) -> Result<(), PushError<T>> {
                let Producer { ring, claim } = self;
                let mut value = Some(value);
                Retry {
                    notify: &ring.space,
                    op: || attempt_with(&mut value, |v| claim.push(ring, v)),
                }
                .await
            }

            /// Items in the ring (a snapshot: other threads may change it).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (mut tx, _rx) = corelane::queue::", $m, "::channel::<u8>(4);")]
            /// tx.push(1).unwrap();
            /// assert_eq!(tx.len(), 1);
            /// ```
            pub fn len(&self) -> usize {
                self.ring.len()
            }

            /// True if the ring held no item at the moment of the check.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (tx, _rx) = corelane::queue::", $m, "::channel::<u8>(4);")]
            /// assert!(tx.is_empty());
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// True if every slot held an item at the moment of the check.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (mut tx, _rx) = corelane::queue::", $m, "::channel::<u8>(2);")]
            /// tx.push(1).unwrap();
            /// tx.push(2).unwrap();
            /// assert!(tx.is_full());
            /// ```
            pub fn is_full(&self) -> bool {
                self.len() == self.capacity()
            }

            /// Number of slots (a power of two).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (tx, _rx) = corelane::queue::", $m, "::channel::<u8>(3);")]
            /// assert_eq!(tx.capacity(), 4);
            /// ```
            pub fn capacity(&self) -> usize {
                self.ring.capacity()
            }

            /// True once every consumer is gone.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (tx, rx) = corelane::queue::", $m, "::channel::<u8>(4);")]
            /// drop(rx);
            /// assert!(tx.is_abandoned());
            /// ```
            pub fn is_abandoned(&self) -> bool {
                self.ring.receivers_gone_acq()
            }
        }

        impl<T> Drop for Producer<T> {
            fn drop(&mut self) {
                self.ring.drop_sender();
            }
        }

        impl<T> fmt::Debug for Producer<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(concat!($m, "::Producer"))
                    .field("len", &self.len())
                    .field("capacity", &self.capacity())
                    .finish()
            }
        }

        impl<T> Consumer<T> {
            /// Takes the oldest item. Never blocks.
            ///
            /// # Errors
            ///
            /// [`PopError::Empty`] if nothing is waiting, [`PopError::Busy`]
            /// if a producer claimed the next slot but has not finished
            /// writing it (multi-producer rings; items may wait behind it),
            /// [`PopError::Disconnected`] if the ring is empty and every
            /// producer is gone.
            ///
            /// # Examples
            ///
            /// ```
            /// use corelane::queue::PopError;
            #[doc = concat!("let (mut tx, mut rx) = corelane::queue::", $m, "::channel::<u8>(2);")]
            /// tx.push(1).unwrap();
            /// drop(tx);
            /// assert_eq!(rx.pop(), Ok(1));
            /// assert_eq!(rx.pop(), Err(PopError::Disconnected));
            /// ```
            #[inline]
            pub fn pop(&mut self) -> Result<T, PopError> {
                self.claim.pop(&self.ring)
            }

            /// Takes the oldest item, waiting per `strategy` while none is ready.
            ///
            /// # Errors
            ///
            /// [`PopError::Disconnected`] once the ring is empty and every producer is gone.
            ///
            /// # Examples
            ///
            /// ```
            /// use corelane::queue::wait::WaitStrategy;
            #[doc = concat!("let (mut tx, mut rx) = corelane::queue::", $m, "::channel::<u8>(2);")]
            /// std::thread::spawn(move || tx.push(9).unwrap());
            /// assert_eq!(rx.pop_blocking(WaitStrategy::Park), Ok(9));
            /// ```
            pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<T, PopError> {
                let Consumer { ring, claim } = self;
                block_on(strategy, &ring.items, || attempt(claim.pop(ring)))
            }

            /// Takes the oldest item, waiting asynchronously; works under any
            /// executor.
            ///
            /// # Errors
            ///
            /// [`PopError::Disconnected`] once the ring is empty and every producer is gone.
            ///
            /// # Examples
            ///
            /// ```
            /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            /// # rt.block_on(async {
            #[doc = concat!("let (mut tx, mut rx) = corelane::queue::", $m, "::channel::<u8>(2);")]
            /// tx.push(1).unwrap();
            /// assert_eq!(rx.recv().await, Ok(1));
            /// # });
            /// ```
            pub async fn recv(&mut self) -> Result<T, PopError> {
                let Consumer { ring, claim } = self;
                Retry {
                    notify: &ring.items,
                    op: || attempt(claim.pop(ring)),
                }
                .await
            }

            /// Items in the ring (a snapshot: other threads may change it).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (mut tx, rx) = corelane::queue::", $m, "::channel::<u8>(4);")]
            /// tx.push(1).unwrap();
            /// assert_eq!(rx.len(), 1);
            /// ```
            pub fn len(&self) -> usize {
                self.ring.len()
            }

            /// True if the ring held no item at the moment of the check.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (_tx, rx) = corelane::queue::", $m, "::channel::<u8>(4);")]
            /// assert!(rx.is_empty());
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// True if every slot held an item at the moment of the check.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (mut tx, rx) = corelane::queue::", $m, "::channel::<u8>(2);")]
            /// tx.push(1).unwrap();
            /// tx.push(2).unwrap();
            /// assert!(rx.is_full());
            /// ```
            pub fn is_full(&self) -> bool {
                self.len() == self.capacity()
            }

            /// Number of slots (a power of two).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (_tx, rx) = corelane::queue::", $m, "::channel::<u8>(5);")]
            /// assert_eq!(rx.capacity(), 8);
            /// ```
            pub fn capacity(&self) -> usize {
                self.ring.capacity()
            }

            /// True once every producer is gone (items may still be waiting).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (tx, rx) = corelane::queue::", $m, "::channel::<u8>(4);")]
            /// drop(tx);
            /// assert!(rx.is_abandoned());
            /// ```
            pub fn is_abandoned(&self) -> bool {
                self.ring.senders_gone()
            }
        }

        impl<T> Drop for Consumer<T> {
            fn drop(&mut self) {
                self.ring.drop_receiver();
            }
        }

        impl<T> fmt::Debug for Consumer<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(concat!($m, "::Consumer"))
                    .field("len", &self.len())
                    .field("capacity", &self.capacity())
                    .finish()
            }
        }
    };
}
pub(crate) use stamped_endpoints;
