//! Single-producer single-consumer ring.
//!
//! # Ground rules
//!
//! * Slots are grouped in *blocks* of `k`, each block one cache line holding
//!   a *stamp* and `k` values (`k = 7` for `u64`; see `blocks.rs`). A
//!   *publication* (one push, or one committed chunk) writes its values, then
//!   stores its new `tail` (Release) into the stamp of the block where it
//!   *started*. So every stamp is some past `tail`: every position below a
//!   stamp's value has been written.
//! * The consumer keeps `avail`, the end of the run it knows is ready, which
//!   is always a publication boundary (a past `tail`). When it runs out
//!   (`head == avail`) it loads the stamp of the block holding `head`
//!   (Acquire): the next publication after a boundary starts *at* it, so it
//!   stores exactly that stamp. A value `s` with `0 < s - head <= cap` makes
//!   `[head, s)` ready; anything else (older laps, wrapping) means empty.
//! * So the consumer never needs the producer's cursor to know what is
//!   ready (it reads it only as a prefetch hint, see below): a single-item
//!   hand-off moves exactly one cache line (the block's), which keeps the
//!   round trip at the cost of one line per direction; and in a stream it
//!   loads a stamp once per block or per chunk, moving 7 `u64`s per line.
//! * The consumer publishes its cursor `head` (Release) after reading; the
//!   producer may overwrite position `p - cap` only after loading a `head > p -
//!   cap` (Acquire). It caches `head + cap` as its *limit* and reloads only
//!   when the cache says "full", so with room to spare a push touches only the
//!   slot and the producer's own line.
//!   After a look that found the ring more than half full, it
//!   pauses briefly before the next look (see `ProdCursor::free`).
//! * The producer also publishes `tail` (Release) after each push/chunk, used
//!   by `len` and by `Drop`, and read now and then by the consumer as a hint
//!   of which blocks are safe to prefetch (see `Lead`).
//! * Positions are `usize` and wrap; stamps compare with `==`, so wrapping is
//!   harmless (position `p` expects `p + 1`, which no earlier lap wrote).
//! * Each side's "other side is gone" flag lives in *its own* cache line and
//!   is written once, by the other side's `Drop` (Release), so checking it
//!   costs a cache hit.
//!
//! # Examples
//!
//! ```
//! use corelane::queue::spsc;
//!
//! let (mut tx, mut rx) = spsc::channel::<u64>(1024);
//! let t = std::thread::spawn(move || {
//!     for i in 0..10_000 {
//!         while tx.push(i).is_err() {
//!             std::hint::spin_loop();
//!         }
//!     }
//! });
//! let mut expected = 0;
//! while expected < 10_000 {
//!     if let Ok(v) = rx.pop() {
//!         assert_eq!(v, expected);
//!         expected += 1;
//!     }
//! }
//! t.join().unwrap();
//! ```

use std::fmt;
use std::marker::PhantomData;

mod blocks;
use blocks::{block_len_for, Blocks, Walk};
use super::wait::{block_on, Notify, Retry, WaitStrategy};
use super::{ring_capacity, PopError, PushError};
use crate::sync::{spin_hint, Arc, AtomicBool, AtomicUsize, CachePadded, Ordering};

/// A cursor and the flag the *other* side sets when it goes away, in one line.
struct Side {
    pos: AtomicUsize,
    peer_gone: AtomicBool,
}

struct Shared<T> {
    /// Producer's line: `tail`, and "consumer gone".
    prod: CachePadded<Side>,
    /// Consumer's line: `head`, and "producer gone".
    cons: CachePadded<Side>,
    /// Consumers wait here for items.
    items: CachePadded<Notify>,
    /// Producers wait here for space.
    space: CachePadded<Notify>,
    mask: usize,
    /// The consumer's slot number when it dropped (see `Drop`).
    cons_slot: AtomicUsize,
    blocks: Blocks<T>,
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both handles are gone (we are the last Arc), so nobody races us.
        let head = self.cons.pos.load(Ordering::Acquire);
        let tail = self.prod.pos.load(Ordering::Acquire);
        // Slots are addressed from the consumer's walker, which its Drop
        // left here (ordered before its Release store of `cons.pos`).
        let start = self.blocks.start();
        let mut w = self
            .blocks
            .ahead(&start, self.cons_slot.load(Ordering::Relaxed));
        let mut p = head;
        while p != tail {
            let cell = self.blocks.cell(w.blk, w.off);
            // SAFETY: positions in [head, tail) were written and not read.
            cell.with_mut(|v| unsafe { (*v).assume_init_drop() });
            w.step(&self.blocks);
            p = p.wrapping_add(1);
        }
    }
}

/// Creates a ring with room for `capacity` items (rounded up to a power of
/// two) and returns its two ends.
///
/// # Panics
///
/// If `capacity` is 0 or the ring would not fit in memory.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corelane::queue::spsc::channel::<u32>(1000);
/// assert_eq!(tx.capacity(), 1024);
/// assert_eq!(rx.capacity(), 1024);
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let cap = ring_capacity(capacity, std::mem::size_of::<T>());
    with_block_len(cap, block_len_for::<T>(cap))
}

/// [`channel`] with `k` slots per block instead of the one-line choice: for
/// tests and loom models that need block boundaries at small capacities.
/// `k` is clamped to `1..=capacity`.
///
/// # Panics
///
/// As [`channel`].
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::spsc::__with_block_len::<u8>(8, 3);
/// tx.push(1).unwrap();
/// assert_eq!(rx.pop(), Ok(1));
/// ```
#[doc(hidden)]
pub fn __with_block_len<T>(capacity: usize, k: usize) -> (Producer<T>, Consumer<T>) {
    let cap = ring_capacity(capacity, std::mem::size_of::<T>());
    with_block_len(cap, k.clamp(1, cap))
}

fn with_block_len<T>(cap: usize, k: usize) -> (Producer<T>, Consumer<T>) {
    let blocks = Blocks::new(cap, k);
    let walk = blocks.start();
    let side = || {
        CachePadded::new(Side {
            pos: AtomicUsize::new(0),
            peer_gone: AtomicBool::new(false),
        })
    };
    let shared = Arc::new(Shared {
        prod: side(),
        cons: side(),
        items: CachePadded::new(Notify::new()),
        space: CachePadded::new(Notify::new()),
        mask: cap - 1,
        cons_slot: AtomicUsize::new(0),
        blocks,
    });
    let producer = Producer {
        cursor: ProdCursor {
            tail: 0,
            limit: cap,
            walk,
            was_full: false,
        },
        shared: shared.clone(),
    };
    let consumer = Consumer {
        head: 0,
        avail: 0,
        walk,
        lead: Lead::default(),
        shared,
    };
    (producer, consumer)
}

struct ProdCursor {
    tail: usize,
    /// `head + capacity` as last seen: positions below it are free.
    limit: usize,
    /// Where `tail` is in the blocks.
    walk: Walk,
    /// The last refresh of `limit` found too little room.
    was_full: bool,
}

/// Pause hints before re-reading the consumer's cursor after a look that
/// found the ring more than half full (only on that path; see
/// `ProdCursor::free`). Under loom each hint is a scheduling point: one
/// keeps the models small (the protocol does not depend on the number).
#[cfg(not(corelane_loom))]
const FULL_PAUSES: u32 = 16;
#[cfg(corelane_loom)]
const FULL_PAUSES: u32 = 1;

/// The sending end of an SPSC ring. `Send`, not `Clone`.
pub struct Producer<T> {
    cursor: ProdCursor,
    shared: Arc<Shared<T>>,
}

/// The receiving end of an SPSC ring. `Send`, not `Clone`.
pub struct Consumer<T> {
    head: usize,
    /// End of the run known ready (a publication boundary, `>= head`).
    avail: usize,
    /// Where `head` is in the blocks.
    walk: Walk,
    lead: Lead,
    shared: Arc<Shared<T>>,
}

/// Blocks the consumer asks the CPU to fetch ahead of `head`.
const PREFETCH_BLOCKS: usize = 3;
/// Most lines a [`Consumer::read_chunk`] prefetches when it opens (beyond
/// the one it starts in).
const CHUNK_PREFETCH: usize = 16;
/// Fewest items the consumer takes between two looks at the producer's
/// cursor (at least half the capacity; see [`Lead`]).
const LEAD_RESAMPLE: usize = 512;

/// The consumer's idea of how far ahead the producer is, for prefetching.
///
/// Fetching the line of a block the producer is still writing would take the
/// line from it (and cost a second transfer when the producer writes again),
/// so the consumer prefetches only blocks below a producer cursor it has
/// seen. It looks at that cursor (the producer's own line, stored on every
/// push) at most once per `max(LEAD_RESAMPLE, capacity / 2)` items: each
/// look makes the producer's next store of it miss, and stores leave the
/// store buffer in order, so every later store of the producer waits for
/// that line. Looking every 64 items held a consumer that stayed close
/// behind its producer at about 110 M items/s; every 512, at 250.
#[derive(Clone, Copy, Debug, Default)]
struct Lead {
    /// A `tail` the producer has stored.
    seen: usize,
    /// `head` when `seen` was read.
    at: usize,
}

impl Lead {
    /// True if the producer is known to have stored a `tail` at least `n`
    /// items past `head` (looking at its cursor again if the last look is
    /// used up and `max(LEAD_RESAMPLE, capacity / 2)` items have passed
    /// since).
    #[inline]
    fn is_ahead<T>(&mut self, shared: &Shared<T>, head: usize, n: usize) -> bool {
        let ahead = |seen: usize| seen.wrapping_sub(head).wrapping_sub(n) <= shared.mask;
        if ahead(self.seen) {
            return true;
        }
        if head.wrapping_sub(self.at) < ((shared.mask + 1) >> 1).max(LEAD_RESAMPLE) {
            return false;
        }
        // Relaxed: only a hint for a prefetch; no slot is read on its
        // strength (the stamps still decide what is ready).
        self.seen = shared.prod.pos.load(Ordering::Relaxed);
        self.at = head;
        ahead(self.seen)
    }

    /// Called after a stamp refresh in block `blk` (the block holding
    /// `head`; at most once per publication): starts loading block
    /// `blk + PREFETCH_BLOCKS` if the producer is known to be past it.
    #[inline]
    fn prefetch<T>(&mut self, shared: &Shared<T>, head: usize, blk: usize) {
        let need = (PREFETCH_BLOCKS + 1) * shared.blocks.block_len();
        if self.is_ahead(shared, head, need) {
            shared.blocks.prefetch(blk + PREFETCH_BLOCKS);
        }
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Producer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Consumer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl ProdCursor {
    /// Free slots, refreshing the cached head only if the cache says fewer
    /// than `want`.
    #[inline]
    fn free<T>(&mut self, shared: &Shared<T>, want: usize) -> usize {
        let free = self.limit.wrapping_sub(self.tail);
        if free >= want {
            return free;
        }
        if self.was_full {
            // The last look found the ring (nearly) full: give the consumer
            // a moment before pulling its line again. A producer re-reading
            // `head` in a tight loop takes the line from the consumer on
            // every pop (which stores `head`), which slows the very consumer
            // it waits for; measured at half the throughput of a full ring.
            for _ in 0..FULL_PAUSES {
                spin_hint();
            }
        }
        // Acquire: pairs with the consumer's Release store of `head`, so its
        // reads of the slots below `head` happened before we overwrite them.
        self.limit = shared
            .cons
            .pos
            .load(Ordering::Acquire)
            .wrapping_add(shared.mask + 1);
        let free = self.limit.wrapping_sub(self.tail);
        // A ring more than half full means the consumer is the slow side:
        // look at its line again only after a pause, so the producer
        // refreshes at most once per pause plus a run of pushes (with the
        // consumer's prefetch, raised 1024-slot throughput from about 130
        // to 220-240 M/s here; a quarter instead of a half gave 180-225).
        self.was_full = free < want.saturating_add((shared.mask + 1) >> 1);
        free
    }

    #[inline(always)]
    fn push<T, const NOTIFY: bool>(
        &mut self,
        shared: &Shared<T>,
        value: T,
    ) -> Result<(), PushError<T>> {
        // Relaxed: the flag only ever goes false -> true; a stale false lets
        // one more item into a ring nobody reads, which Drop then frees.
        if shared.prod.peer_gone.load(Ordering::Relaxed) {
            return Err(PushError::Disconnected(value));
        }
        if self.free(shared, 1) == 0 {
            return Err(PushError::Full(value));
        }
        let (blk, off) = (self.walk.blk, self.walk.off);
        // SAFETY: `tail < limit`, so the consumer released this slot (Acquire
        // above) and will not read it before we store a stamp past it.
        (shared.blocks.cell(blk, off)).with_mut(|v| unsafe { (*v).write(value) });
        self.tail = self.tail.wrapping_add(1);
        // Release: pairs with the consumer's Acquire stamp load in `pop` /
        // `read_chunk`; the publication starts in this block, so this is the
        // stamp a consumer at the old `tail` looks at.
        shared.blocks.stamp(blk).store(self.tail, Ordering::Release);
        self.walk.step(&shared.blocks);
        // Release: pairs with the Acquire loads in `len` and `Drop`.
        shared.prod.pos.store(self.tail, Ordering::Release);
        if NOTIFY {
            shared.items.notify();
        }
        Ok(())
    }
}

impl<T> Producer<T> {
    /// Pushes `value`, or hands it back if the ring is full or the consumer
    /// is gone. Never blocks: when the producer last saw the ring more than
    /// half full and its cached view is used up, the push pauses for 16
    /// spin hints before re-reading the consumer's position, so that a
    /// producer outrunning its consumer does not slow it down by pulling its
    /// cache line on every attempt. (A hint is x86's `pause`: about 9 ns on
    /// the machine the README's figures come from, up to about 50 ns on
    /// other x86 CPUs.)
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] when every slot is taken; [`PushError::Disconnected`]
    /// when the consumer has been dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, PushError};
    ///
    /// let (mut tx, rx) = spsc::channel::<u8>(1);
    /// assert_eq!(tx.push(1), Ok(()));
    /// assert_eq!(tx.push(2), Err(PushError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.push(3), Err(PushError::Disconnected(3)));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        self.cursor.push::<T, true>(&self.shared, value)
    }

    /// `push` without the wake-up check, for measuring what the check costs.
    /// Items pushed this way do not wake a parked consumer.
    #[doc(hidden)]
    #[inline]
    pub fn __push_without_notify(&mut self, value: T) -> Result<(), PushError<T>> {
        self.cursor.push::<T, false>(&self.shared, value)
    }

    /// Pushes `value`, waiting per `strategy` while the ring is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, wait::WaitStrategy};
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u8>(1);
    /// tx.push_blocking(1, WaitStrategy::Park).unwrap();
    /// assert_eq!(rx.pop(), Ok(1));
    /// ```
    pub fn push_blocking(&mut self, value: T, strategy: WaitStrategy) -> Result<(), PushError<T>> {
        let Producer { cursor, shared } = self;
        let mut value = Some(value);
        block_on(strategy, &shared.space, || {
            retry_push(cursor, shared, &mut value)
        })
    }

    /// Pushes `value`, waiting asynchronously while the ring is full. Works
    /// under any executor (it registers the task's [`Waker`](std::task::Waker)).
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(1);
    /// tx.send(5).await.unwrap();
    /// assert_eq!(rx.recv().await, Ok(5));
    /// # });
    /// ```
    pub async fn send(&mut self, value: T) -> Result<(), PushError<T>> {
        let Producer { cursor, shared } = self;
        let mut value = Some(value);
        Retry {
            notify: &shared.space,
            op: || retry_push(cursor, shared, &mut value),
        }
        .await
    }

    /// Opens a chunk of exactly `n` free slots to fill in place; its items are
    /// published together, with one release, when the chunk is committed or
    /// dropped.
    ///
    /// # Errors
    ///
    /// [`ChunkError::TooFewSlots`] with the number of free slots if fewer than
    /// `n` are free; [`ChunkError::Disconnected`] if the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::spsc;
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u32>(8);
    /// let mut chunk = tx.write_chunk(3).unwrap();
    /// chunk.fill_from_iter(10..);
    /// chunk.commit();
    /// assert_eq!(rx.pop(), Ok(10));
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn write_chunk(&mut self, n: usize) -> Result<WriteChunk<'_, T>, ChunkError> {
        if self.shared.prod.peer_gone.load(Ordering::Relaxed) {
            return Err(ChunkError::Disconnected);
        }
        let free = self.cursor.free(&self.shared, n);
        if free < n {
            return Err(ChunkError::TooFewSlots(free));
        }
        let walk = self.cursor.walk;
        Ok(WriteChunk {
            producer: self,
            len: n,
            filled: 0,
            walk,
        })
    }

    /// Items in the ring (exact from this side's view: may only shrink
    /// concurrently, as the consumer pops).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let head = self.shared.cons.pos.load(Ordering::Acquire);
        // `head` never passes our own tail.
        self.cursor.tail.wrapping_sub(head)
    }

    /// True if no item is in the ring (may become false only by our pushes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every slot is taken *now*; a `false` is a guarantee that the
    /// next `push` succeeds (only we fill slots), a `true` may be stale.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(1);
    /// tx.push(1).unwrap();
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
    /// assert_eq!(corelane::queue::spsc::channel::<u8>(3).0.capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// True once the consumer has been dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// drop(rx);
    /// assert!(tx.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.shared.prod.peer_gone.load(Ordering::Acquire)
    }
}

fn retry_push<T>(
    cursor: &mut ProdCursor,
    shared: &Shared<T>,
    value: &mut Option<T>,
) -> Option<Result<(), PushError<T>>> {
    let v = value
        .take()
        .expect("corelane: push retried after completion");
    match cursor.push::<T, true>(shared, v) {
        Ok(()) => Some(Ok(())),
        Err(PushError::Disconnected(v)) => Some(Err(PushError::Disconnected(v))),
        Err(PushError::Full(v) | PushError::Busy(v)) => {
            *value = Some(v);
            None
        }
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Release: pairs with the consumer's Acquire load in `pop`, so every
        // item we pushed is visible once it sees the flag.
        self.shared.cons.peer_gone.store(true, Ordering::Release);
        self.shared.items.notify_slow();
    }
}

/// Why [`Producer::write_chunk`] or [`Consumer::read_chunk`] could not open
/// the chunk asked for.
///
/// # Examples
///
/// ```
/// use corelane::queue::spsc::{self, ChunkError};
///
/// let (mut tx, _rx) = spsc::channel::<u8>(2);
/// assert!(matches!(tx.write_chunk(3), Err(ChunkError::TooFewSlots(2))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// Fewer slots than asked for are free; the number free is given.
    TooFewSlots(usize),
    /// The other side is gone.
    Disconnected,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::TooFewSlots(n) => write!(f, "only {n} slots are free"),
            ChunkError::Disconnected => f.write_str("the other side of the ring is gone"),
        }
    }
}

impl std::error::Error for ChunkError {}

/// A run of free slots reserved by [`Producer::write_chunk`], filled in
/// place in order. On [`commit`](WriteChunk::commit) (or drop) every filled
/// slot is published with one release fence and one cursor store; the
/// unfilled rest stays free.
pub struct WriteChunk<'a, T> {
    producer: &'a mut Producer<T>,
    len: usize,
    filled: usize,
    /// Where the next value goes.
    walk: Walk,
}

impl<T> WriteChunk<'_, T> {
    /// Writes `value` into the next slot of the chunk, or hands it back when
    /// the chunk is full.
    ///
    /// # Errors
    ///
    /// The value, if all `len()` slots are already filled.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// let mut c = tx.write_chunk(1).unwrap();
    /// assert_eq!(c.push(1), Ok(()));
    /// assert_eq!(c.push(2), Err(2));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.filled == self.len {
            return Err(value);
        }
        let blocks = &self.producer.shared.blocks;
        blocks
            .cell(self.walk.blk, self.walk.off)
            // SAFETY: `tail + filled < limit` (checked by `write_chunk`), so the
            // consumer released the slot; it reads it only after `commit`
            // stores a stamp past it.
            .with_mut(|v| unsafe { (*v).write(value) });
        self.walk.step(blocks);
        self.filled += 1;
        Ok(())
    }

    /// Fills the remaining slots from `iter`; returns how many were written.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// let mut c = tx.write_chunk(4).unwrap();
    /// assert_eq!(c.fill_from_iter([1, 2]), 2);
    /// assert_eq!(c.fill_from_iter(0..), 2);
    /// ```
    pub fn fill_from_iter(&mut self, iter: impl IntoIterator<Item = T>) -> usize {
        let before = self.filled;
        let mut iter = iter.into_iter();
        while self.filled < self.len {
            match iter.next() {
                Some(v) => {
                    let _ = self.push(v);
                }
                None => break,
            }
        }
        self.filled - before
    }

    /// Slots reserved.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// assert_eq!(tx.write_chunk(3).unwrap().len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the chunk reserved no slot.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// assert!(tx.write_chunk(0).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots written so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// let mut c = tx.write_chunk(3).unwrap();
    /// c.push(9).unwrap();
    /// assert_eq!(c.filled(), 1);
    /// ```
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Publishes the filled slots (the same as dropping the chunk).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// let mut c = tx.write_chunk(2).unwrap();
    /// c.fill_from_iter([1, 2]);
    /// c.commit();
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn commit(self) {}
}

impl<T> Drop for WriteChunk<'_, T> {
    fn drop(&mut self) {
        if self.filled == 0 {
            return;
        }
        let Producer { cursor, shared } = &mut *self.producer;
        let first = cursor.walk.blk;
        cursor.tail = cursor.tail.wrapping_add(self.filled);
        cursor.walk = self.walk;
        // One store publishes the whole chunk: the stamp of the block where
        // it starts, which is the one a consumer at the old `tail` loads.
        // Release: pairs with that Acquire load, ordering every value write
        // above before it.
        shared
            .blocks
            .stamp(first)
            .store(cursor.tail, Ordering::Release);
        // Release: pairs with the Acquire loads in `len` and `Drop`.
        shared.prod.pos.store(cursor.tail, Ordering::Release);
        shared.items.notify();
    }
}

impl<T> Shared<T> {
    /// The publication boundary `at` extended by the stamp of block `blk`
    /// (the block holding `at`): `Some(end)` if `[at, end)` is ready.
    #[inline]
    fn published(&self, blk: usize, at: usize) -> Option<usize> {
        // Acquire: pairs with the producer's Release stamp store in `push`
        // or a chunk's commit, making the values below the stamp visible.
        let s = self.blocks.stamp(blk).load(Ordering::Acquire);
        // Ready iff 0 < s - at <= cap: every stamp is a past tail, and the
        // tail is never more than `cap` ahead of the consumer.
        (s.wrapping_sub(at).wrapping_sub(1) <= self.mask).then_some(s)
    }
}

/// The consumer's cursor state, borrowed apart from its `Arc` so the
/// blocking and async paths can use it in closures.
struct ConsCursor<'a> {
    head: &'a mut usize,
    avail: &'a mut usize,
    walk: &'a mut Walk,
    lead: &'a mut Lead,
}

impl ConsCursor<'_> {
    #[inline(always)]
    fn pop<T>(&mut self, shared: &Shared<T>) -> Result<T, PopError> {
        if *self.head == *self.avail {
            match shared.published(self.walk.blk, *self.head) {
                Some(end) => {
                    *self.avail = end;
                    self.lead.prefetch(shared, *self.head, self.walk.blk);
                }
                None => return Err(self.empty_reason(shared)),
            }
        }
        let value = shared
            .blocks
            .cell(self.walk.blk, self.walk.off)
            // SAFETY: `head < avail`, a stamp the producer stored after writing
            // this position (Acquire above); it will not touch the slot again
            // until we publish a head past it.
            .with(|v| unsafe { (*v).assume_init_read() });
        *self.head = self.head.wrapping_add(1);
        self.walk.step(&shared.blocks);
        // Release: pairs with the producer's Acquire head load, ordering our
        // read of the slot before its overwrite.
        shared.cons.pos.store(*self.head, Ordering::Release);
        shared.space.notify();
        Ok(value)
    }

    #[cold]
    fn empty_reason<T>(&mut self, shared: &Shared<T>) -> PopError {
        // Acquire: pairs with the producer's Release in its Drop; after it,
        // every item it pushed is visible, so re-checking the stamp is final.
        if !shared.cons.peer_gone.load(Ordering::Acquire) {
            return PopError::Empty;
        }
        match shared.published(self.walk.blk, *self.head) {
            // An item published just before the producer left: not empty
            // after all (the caller retries and takes it).
            Some(_) => PopError::Empty,
            None => PopError::Disconnected,
        }
    }
}

impl<T> Consumer<T> {
    /// Takes the oldest item. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if no item is waiting; [`PopError::Disconnected`]
    /// if none is waiting and the producer is gone (items pushed before the
    /// producer was dropped are still returned first).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, PopError};
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.pop(), Ok(1));
    /// assert_eq!(rx.pop(), Err(PopError::Disconnected));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Result<T, PopError> {
        let (mut cursor, shared) = self.split();
        cursor.pop(shared)
    }

    #[inline]
    fn split(&mut self) -> (ConsCursor<'_>, &Shared<T>) {
        let Consumer {
            head,
            avail,
            walk,
            lead,
            shared,
        } = self;
        (
            ConsCursor {
                head,
                avail,
                walk,
                lead,
            },
            shared,
        )
    }

    /// Takes the oldest item, waiting per `strategy` while the ring is empty.
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once the ring is empty and the producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, wait::WaitStrategy};
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u8>(2);
    /// std::thread::spawn(move || tx.push(3).unwrap());
    /// assert_eq!(rx.pop_blocking(WaitStrategy::Park), Ok(3));
    /// ```
    pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<T, PopError> {
        let (mut cursor, shared) = self.split();
        block_on(strategy, &shared.items, || retry_pop(cursor.pop(shared)))
    }

    /// Takes the oldest item, waiting asynchronously while the ring is empty.
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once the ring is empty and the producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.recv().await, Ok(1));
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<T, PopError> {
        let (mut cursor, shared) = self.split();
        Retry {
            notify: &shared.items,
            op: || retry_pop(cursor.pop(shared)),
        }
        .await
    }

    /// Opens the run of up to `max` items waiting, to read in place; the items
    /// taken from it are released with one store when it drops.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u32>(8);
    /// for i in 0..5 {
    ///     tx.push(i).unwrap();
    /// }
    /// let chunk = rx.read_chunk(3);
    /// assert_eq!(chunk.len(), 3);
    /// assert_eq!(chunk.get(1), Some(&1));
    /// let taken: Vec<u32> = chunk.collect();
    /// assert_eq!(taken, [0, 1, 2]);
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn read_chunk(&mut self, max: usize) -> ReadChunk<'_, T> {
        // Extend the known-ready run one publication at a time until it
        // covers `max` or reaches the producer.
        while self.avail.wrapping_sub(self.head) < max {
            let blk = if self.avail == self.head {
                self.walk.blk
            } else {
                let ahead = self.avail.wrapping_sub(self.head);
                self.shared.blocks.ahead(&self.walk, ahead).blk
            };
            match self.shared.published(blk, self.avail) {
                Some(end) => self.avail = end,
                None => break,
            }
        }
        let len = self.avail.wrapping_sub(self.head).min(max);
        // Blocks wholly below `avail` are done with by the producer: start
        // all their transfers now rather than one per block as the reader
        // gets there; and the next chunk's as well if the producer is known
        // to be past it. (The block holding `avail` may still be being
        // written: fetching it would take its line from the producer.)
        let k = self.shared.blocks.block_len();
        let off = self.walk.off;
        let mut lines = (off + self.avail.wrapping_sub(self.head)) / k;
        let next = (off + 2 * len).div_ceil(k);
        if next > lines && self.lead.is_ahead(&self.shared, self.head, next * k) {
            lines = next;
        }
        for i in 1..lines.min(CHUNK_PREFETCH + 1) {
            self.shared.blocks.prefetch(self.walk.blk + i);
        }
        ReadChunk {
            consumer: self,
            remaining: len,
            taken: 0,
            _items_by_ref: PhantomData,
        }
    }

    /// Items waiting (may only grow concurrently, as the producer pushes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let tail = self.shared.prod.pos.load(Ordering::Acquire);
        // The producer stores `tail` after the stamp, so we may have popped
        // past the `tail` we see: clamp a negative gap to 0.
        (tail.wrapping_sub(self.head) as isize).max(0) as usize
    }

    /// True if no item is waiting *now* (a `false` guarantees the next `pop`
    /// succeeds, since only we take items).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.head == self.avail && self.shared.published(self.walk.blk, self.head).is_none()
    }

    /// True if every slot holds an item.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spsc::channel::<u8>(1);
    /// tx.push(1).unwrap();
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
    /// assert_eq!(corelane::queue::spsc::channel::<u8>(5).1.capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// True once the producer has been dropped (items may still be waiting).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// drop(tx);
    /// assert!(rx.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.shared.cons.peer_gone.load(Ordering::Acquire)
    }
}

fn retry_pop<T>(r: Result<T, PopError>) -> Option<Result<T, PopError>> {
    match r {
        Err(PopError::Empty | PopError::Busy) => None,
        other => Some(other),
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Publish the private head first: a forgotten `ReadChunk` may have
        // moved items out past the shared position, and whoever drops the
        // ring last drops exactly `[cons.pos, prod.pos)`. Release: pairs
        // with that drop's Acquire load (and the producer's head loads).
        // Relaxed: ordered before that Release store.
        let slot = self.shared.blocks.index(&self.walk);
        self.shared.cons_slot.store(slot, Ordering::Relaxed);
        self.shared.cons.pos.store(self.head, Ordering::Release);
        // Release: pairs with the producer's loads of the flag.
        self.shared.prod.peer_gone.store(true, Ordering::Release);
        self.shared.space.notify_slow();
    }
}

/// A run of waiting items opened by [`Consumer::read_chunk`], read in place.
///
/// Iterating moves items out in order; when the chunk drops, the items taken
/// are released to the producer with one store. Items not taken stay in the
/// ring.
pub struct ReadChunk<'a, T> {
    /// `consumer.head` is advanced as items are taken, so it always points
    /// at the first item not yet taken; forgetting the chunk is therefore
    /// safe (taken items are never handed out again; their slots are
    /// released by the next `pop` or chunk).
    consumer: &'a mut Consumer<T>,
    remaining: usize,
    taken: usize,
    /// Makes the chunk `Sync` only when `T: Sync` (and `Send` only when `T:
    /// Send`, as the consumer borrow already does): [`get`](Self::get) and
    /// [`iter`](Self::iter) hand out `&T` from `&self`, so sharing `&chunk`
    /// between threads shares `&T`. Without it the chunk would be `Sync`
    /// whenever the consumer is (`T: Send`), and two threads could race on a
    /// `Cell` through `&chunk` (tests/ui/spsc_read_chunk_shared_needs_sync.rs).
    _items_by_ref: PhantomData<T>,
}

impl<T> ReadChunk<'_, T> {
    /// Items in the chunk not yet taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.read_chunk(8).len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.remaining
    }

    /// True if nothing is left in the chunk.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, mut rx) = corelane::queue::spsc::channel::<u8>(4);
    /// assert!(rx.read_chunk(8).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th item not yet taken, by reference (in place, no copy).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(7).unwrap();
    /// assert_eq!(rx.read_chunk(1).get(0), Some(&7));
    /// ```
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len() {
            return None;
        }
        let c = &self.consumer;
        let w = c.shared.blocks.ahead(&c.walk, i);
        Some(
            c.shared
                .blocks
                .cell(w.blk, w.off)
                // SAFETY: positions in the chunk were published (stamp seen with
                // Acquire in `read_chunk`) and are not released until we drop; the
                // reference borrows `self`, which holds the consumer exclusively.
                .with(|v| unsafe { (*v).assume_init_ref() }),
        )
    }

    /// Iterates over the items not yet taken, by reference.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// let c = rx.read_chunk(4);
    /// assert_eq!(c.iter().sum::<u8>(), 3);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    /// Drops every item left in the chunk and releases the whole chunk.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// rx.read_chunk(4).commit_all();
    /// assert!(rx.is_empty());
    /// ```
    pub fn commit_all(mut self) {
        for _ in self.by_ref() {}
    }
}

impl<T> Iterator for ReadChunk<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.remaining == 0 {
            return None;
        }
        let c = &mut *self.consumer;
        let (blk, off) = (c.walk.blk, c.walk.off);
        // Advance the private cursor *before* handing the item out, so even a
        // forgotten chunk can never hand it out again.
        c.head = c.head.wrapping_add(1);
        c.walk.step(&c.shared.blocks);
        self.remaining -= 1;
        self.taken += 1;
        Some(
            c.shared
                .blocks
                .cell(blk, off)
                // SAFETY: published (stamp seen with Acquire in `read_chunk`), taken
                // exactly once (`head` moved past it), released only by a later store.
                .with(|v| unsafe { (*v).assume_init_read() }),
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl<T> ExactSizeIterator for ReadChunk<'_, T> {}

impl<T> Drop for ReadChunk<'_, T> {
    fn drop(&mut self) {
        if self.taken == 0 {
            return;
        }
        let c = &mut *self.consumer;
        // Release: pairs with the producer's Acquire head load (see `pop`).
        c.shared.cons.pos.store(c.head, Ordering::Release);
        c.shared.space.notify();
    }
}

#[cfg(all(test, not(corelane_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdCount;

    #[test]
    fn fifo_and_wrap() {
        let (mut tx, mut rx) = channel::<usize>(4);
        for round in 0..10 {
            for i in 0..4 {
                tx.push(round * 4 + i).unwrap();
            }
            assert!(tx.push(99).is_err());
            for i in 0..4 {
                assert_eq!(rx.pop(), Ok(round * 4 + i));
            }
            assert_eq!(rx.pop(), Err(PopError::Empty));
        }
    }

    #[test]
    fn drops_leftovers_once() {
        static DROPS: StdCount = StdCount::new(0);
        struct D;
        impl Drop for D {
            fn drop(&mut self) {
                DROPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let (mut tx, mut rx) = channel::<D>(8);
        for _ in 0..6 {
            assert!(tx.push(D).is_ok());
        }
        drop(rx.pop().unwrap());
        drop(tx);
        assert_eq!(DROPS.load(std::sync::atomic::Ordering::SeqCst), 1);
        drop(rx);
        assert_eq!(DROPS.load(std::sync::atomic::Ordering::SeqCst), 6);
    }

    #[test]
    fn huge_chunk_requests_report_the_free_slots() {
        let (mut tx, _rx) = channel::<u64>(8);
        tx.push(1).unwrap();
        for n in [9, usize::MAX / 2, usize::MAX] {
            assert!(matches!(tx.write_chunk(n), Err(ChunkError::TooFewSlots(7))));
        }
        assert_eq!(tx.write_chunk(7).map(|c| c.len()).ok(), Some(7));
    }

    #[test]
    fn chunk_partial_take_keeps_rest() {
        let (mut tx, mut rx) = channel::<String>(4);
        let mut c = tx.write_chunk(3).unwrap();
        c.fill_from_iter(["a", "b", "c"].map(String::from));
        drop(c);
        let mut r = rx.read_chunk(3);
        assert_eq!(r.next().as_deref(), Some("a"));
        drop(r);
        assert_eq!(rx.pop().as_deref(), Ok("b"));
        assert_eq!(rx.len(), 1);
    }
}
