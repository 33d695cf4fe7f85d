//! Single-producer single-consumer ring.
//!
//! # Ground rules
//!
//! Positions are `usize` counts of items since the ring was made: the
//! producer's `tail` (items it has published) and the consumer's `head`
//! (items it has taken). Each side keeps its cursor privately and publishes
//! a copy in its own cache line; only that side writes its cursor, private
//! or published.
//!
//! * **Order.** `head <= ready_end <= tail <= head + cap` (compared as
//!   wrapping differences): the consumer never passes what it knows is
//!   published (`ready_end`, below), and the producer never writes more than
//!   `cap` positions past the last `head` it loaded.
//! * **Blocks and stamps.** Slots are grouped in *blocks* of `k`, each block
//!   one cache line holding a *stamp* and `k` values (`k = 7` for `u64`; see
//!   `blocks.rs`). A *publication* (one push, or one committed
//!   [`WriteChunk`]) writes its values, then stores its new `tail` (Release)
//!   into the stamp of the block where it *started*. So every stamp is some
//!   past `tail`: every position below a stamp's value has been written.
//! * **Readiness.** The consumer keeps `ready_end`, the end of the run it
//!   knows is published; it is always a publication boundary (a past
//!   `tail`). When it runs out (`head == ready_end`) it loads the stamp of
//!   the block holding `head` (Acquire): the next publication after a
//!   boundary starts *at* it, so it stores exactly that stamp. A value `s`
//!   with `0 < s - head <= cap` makes `[head, s)` ready; anything else (older
//!   laps, wrapping) means empty.
//! * So the consumer never needs the producer's cursor to know what is
//!   ready (it reads it only as a prefetch hint, see `prefetch.rs`): a
//!   single-item hand-off moves exactly one cache line (the block's), which
//!   keeps the round trip at the cost of one line per direction; and in a
//!   stream it loads a stamp once per block or per chunk, moving `k` values
//!   per line.
//! * **Release of slots.** The consumer publishes its `head` (Release) after
//!   reading; the producer may overwrite position `p - cap` only after
//!   loading a published `head > p - cap` (Acquire). It caches `head + cap`
//!   as its `free_end` and reloads only when the cache says "full", so with
//!   room to spare a push touches only the slot and the producer's own line.
//!   After a look that found the ring more than half full, it pauses briefly
//!   before the next look (see `ProducerCursor::free_slots`).
//! * The producer also publishes `tail` (Release) after each push or chunk,
//!   used by `len` and by the final drop, and read now and then by the
//!   consumer as a hint of which blocks are safe to prefetch.
//! * **Wrapping.** Positions wrap around `usize`; stamps compare by
//!   difference with the position asked about, so wrapping is harmless
//!   (position `p` expects `p + 1`, which no earlier lap wrote).
//! * **Chunks survive `mem::forget`.** A [`ReadChunk`] advances the
//!   consumer's private `head` *before* it hands each item out, and publishes
//!   it when dropped: a forgotten read chunk never hands an item out twice;
//!   it only delays the release of its slots to the next pop, chunk or the
//!   consumer's drop (which always publishes the private `head`). A
//!   [`WriteChunk`] writes ahead of the private `tail` and moves `tail` only
//!   when committed: a forgotten write chunk publishes nothing (its values
//!   are leaked: never read, never dropped) and the next publication writes
//!   its slots again.
//! * **Disconnection.** Each side's "other side is gone" flag lives in *its
//!   own* cache line and is written once, by the other side's `Drop`
//!   (Release), so checking it costs a cache hit. Whoever drops the ring last
//!   drops exactly the items in `[head, tail)`.
//!
//! # Files
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | these rules, [`channel`], [`WriteChunkError`], [`ReadChunkError`] |
//! | `blocks.rs` | the storage: blocks of a stamp and `k` slots, slot addresses |
//! | `shared.rs` | what both ends share: cursor lines, wake-up cells, the stamp check, dropping what is left |
//! | `producer.rs` | [`Producer`]: push (every form) and its cached view of the free slots |
//! | `consumer.rs` | [`Consumer`]: pop (every form), length, disconnection |
//! | `prefetch.rs` | which lines the consumer asks the CPU for ahead of time |
//! | `write_chunk.rs` | [`Producer::write_chunk`], [`WriteChunk`], and the batch pushes built on it (`push_slice`, `push_iter`) |
//! | `read_chunk.rs` | [`Consumer::read_chunk`], [`ReadChunk`], and the batch pop built on it (`pop_batch`) |
//!
//! # Chunks and batches
//!
//! A *chunk* is exactly `n` slots or items, opened in place:
//! [`Producer::write_chunk`]`(n)` reserves `n` free slots to fill,
//! [`Consumer::read_chunk`]`(n)` opens `n` waiting items to read (as rtrb's
//! chunks); either fails, saying how many there are, when there are fewer.
//! A *batch* moves as many as fit now, up to what you offer:
//! [`Producer::push_slice`], [`Producer::push_iter`] and
//! [`Consumer::pop_batch`] return the count. Both publish with one store
//! per call. `free_len()` answers "how many would fit" without opening
//! anything.
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

mod blocks;
mod consumer;
mod prefetch;
mod producer;
mod read_chunk;
mod shared;
#[cfg(all(test, not(corelane_loom)))]
mod tests;
mod write_chunk;

pub use consumer::Consumer;
pub use producer::Producer;
pub use read_chunk::ReadChunk;
pub use write_chunk::WriteChunk;

use super::ring_capacity;
use crate::sync::Arc;
use blocks::slots_per_block_for;
use shared::Shared;

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
    with_slots_per_block(cap, slots_per_block_for::<T>(cap))
}

/// [`channel`] with `k` slots per block instead of the one-line choice: for
/// tests and loom models that need block boundaries at small capacities.
/// `k` is clamped to `1..=capacity`. Only with the `bench-internals`
/// feature (not part of the API).
///
/// # Panics
///
/// As [`channel`].
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "bench-internals")] {
/// let (mut tx, mut rx) = corelane::queue::spsc::__with_block_len::<u8>(8, 3);
/// tx.push(1).unwrap();
/// assert_eq!(rx.pop(), Ok(1));
/// # }
/// ```
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub fn __with_block_len<T>(capacity: usize, k: usize) -> (Producer<T>, Consumer<T>) {
    let cap = ring_capacity(capacity, std::mem::size_of::<T>());
    with_slots_per_block(cap, k.clamp(1, cap))
}

/// The two ends of a ring of `cap` slots (a power of two) in blocks of `k`.
fn with_slots_per_block<T>(cap: usize, k: usize) -> (Producer<T>, Consumer<T>) {
    let shared = Arc::new(Shared::new(cap, k));
    (Producer::new(shared.clone()), Consumer::new(shared))
}

/// Why [`Producer::write_chunk`] could not open the chunk asked for.
///
/// # Examples
///
/// ```
/// use corelane::queue::spsc::{self, WriteChunkError};
///
/// let (mut tx, rx) = spsc::channel::<u8>(2);
/// assert_eq!(tx.write_chunk(3).err(), Some(WriteChunkError::TooFewSlots(2)));
/// drop(rx);
/// assert_eq!(tx.write_chunk(1).err(), Some(WriteChunkError::Disconnected));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteChunkError {
    /// Fewer slots than asked for are free; the number free is given (a
    /// chunk of that many would open now). Asking for more than
    /// [`capacity`](Producer::capacity) always ends here.
    TooFewSlots(usize),
    /// The consumer is gone: nothing written could ever be read.
    Disconnected,
}

impl fmt::Display for WriteChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteChunkError::TooFewSlots(n) => write!(f, "only {n} slots are free"),
            WriteChunkError::Disconnected => f.write_str("the consumer is gone"),
        }
    }
}

impl std::error::Error for WriteChunkError {}

/// Why [`Consumer::read_chunk`] could not open the chunk asked for.
///
/// # Examples
///
/// ```
/// use corelane::queue::spsc::{self, ReadChunkError};
///
/// let (mut tx, mut rx) = spsc::channel::<u8>(4);
/// tx.push(1).unwrap();
/// assert_eq!(rx.read_chunk(2).err(), Some(ReadChunkError::TooFewItems(1)));
/// drop(tx);
/// assert_eq!(rx.read_chunk(2).err(), Some(ReadChunkError::Disconnected));
/// assert_eq!(rx.read_chunk(1).map(|c| c.len()), Ok(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadChunkError {
    /// Fewer items than asked for are waiting, and the producer may still
    /// push more; the number waiting is given (a chunk of that many would
    /// open now).
    TooFewItems(usize),
    /// Fewer items than asked for are waiting and the producer is gone, so
    /// there will never be enough. The items still waiting
    /// ([`len`](Consumer::len)) can be taken by `pop`, `pop_batch` or a
    /// smaller chunk.
    Disconnected,
}

impl fmt::Display for ReadChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadChunkError::TooFewItems(n) => write!(f, "only {n} items are waiting"),
            ReadChunkError::Disconnected => {
                f.write_str("too few items are waiting and the producer is gone")
            }
        }
    }
}

impl std::error::Error for ReadChunkError {}
