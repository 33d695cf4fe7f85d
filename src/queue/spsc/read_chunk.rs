//! Read chunks: a run of published items the consumer reads in place and
//! releases with one store; and the batch pop, a read chunk sized to what
//! is waiting. The ground rules are in `mod.rs`.

use std::marker::PhantomData;

use super::blocks::{Blocks, SlotAddr};
use super::consumer::Consumer;
use super::ReadChunkError;
use crate::queue::Disconnected;
use crate::sync::Ordering;

impl<T> Consumer<T> {
    /// Extends the known-ready run one publication at a time until it covers
    /// `want` items or reaches the producer; returns how many of `want` are
    /// ready.
    fn extend_ready(&mut self, want: usize) -> usize {
        while self.ready_end.wrapping_sub(self.head) < want {
            let block = if self.ready_end == self.head {
                self.head_addr.block
            } else {
                let ahead = self.ready_end.wrapping_sub(self.head);
                self.shared.blocks.addr_after(&self.head_addr, ahead).block
            };
            match self.shared.published_end(block, self.ready_end) {
                Some(end) => self.ready_end = end,
                None => break,
            }
        }
        debug_assert!(
            self.ready_end.wrapping_sub(self.head) <= self.capacity(),
            "the known-ready run is longer than the ring"
        );
        self.ready_end.wrapping_sub(self.head).min(want)
    }

    /// [`extend_ready`](Self::extend_ready), looking once more after seeing
    /// the producer gone if fewer than `want` are ready: `Err(ready)` if
    /// there are fewer than `want` and the producer is gone, so there never
    /// will be more.
    fn ready_or_ended(&mut self, want: usize) -> Result<usize, usize> {
        let ready = self.extend_ready(want);
        if ready == want || !self.is_disconnected() {
            return Ok(ready);
        }
        // The flag's Acquire load (in `is_disconnected`) pairs with the
        // producer's Release store in its Drop: everything it published is
        // visible now, so this look is final.
        let ready = self.extend_ready(want);
        if ready == want {
            Ok(ready)
        } else {
            Err(ready)
        }
    }

    /// Opens the first `len` ready items as a chunk (`len <= ready`).
    fn open_chunk(&mut self, len: usize) -> ReadChunk<'_, T> {
        self.tail_sighting.prefetch_chunk(
            &self.shared,
            self.head,
            &self.head_addr,
            self.ready_end,
            len,
        );
        ReadChunk {
            consumer: self,
            remaining: len,
            taken: 0,
            _items_by_ref: PhantomData,
        }
    }

    /// Opens a chunk of exactly `n` waiting items, to read in place; the
    /// items taken from it are released with one store when it drops.
    ///
    /// # Errors
    ///
    /// [`ReadChunkError::TooFewItems`] with the number waiting if fewer than
    /// `n` are; [`ReadChunkError::Disconnected`] if fewer than `n` are
    /// waiting and the producer is gone (there will never be `n`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u32>(8);
    /// for i in 0..5 {
    ///     tx.push(i).unwrap();
    /// }
    /// let chunk = rx.read_chunk(3).unwrap();
    /// assert_eq!(chunk.len(), 3);
    /// assert_eq!(chunk.get(1), Some(&1));
    /// let taken: Vec<u32> = chunk.collect();
    /// assert_eq!(taken, [0, 1, 2]);
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn read_chunk(&mut self, n: usize) -> Result<ReadChunk<'_, T>, ReadChunkError> {
        match self.ready_or_ended(n) {
            Ok(ready) if ready == n => Ok(self.open_chunk(n)),
            Ok(ready) => Err(ReadChunkError::TooFewItems(ready)),
            Err(_) => Err(ReadChunkError::Disconnected),
        }
    }

    /// Moves up to `max` waiting items, oldest first, into `out` (with one
    /// [`Extend::extend`] call); returns how many. They are read in place,
    /// as from a [`ReadChunk`], and their slots released with one store
    /// after `extend` returns. Items `out.extend` does not take (it panics,
    /// or stops early) stay in the ring, in order.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if nothing was moved because the ring is empty and
    /// the producer is gone. (`max == 0` always returns `Ok(0)`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::Disconnected;
    ///
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(8);
    /// tx.push_slice(&[1, 2, 3]).unwrap();
    /// let mut got = Vec::new();
    /// assert_eq!(rx.pop_batch(&mut got, 2), Ok(2));
    /// assert_eq!(rx.pop_batch(&mut got, 10), Ok(1));
    /// assert_eq!(got, [1, 2, 3]);
    /// drop(tx);
    /// assert_eq!(rx.pop_batch(&mut got, 10), Err(Disconnected(())));
    /// ```
    pub fn pop_batch<E: Extend<T>>(
        &mut self,
        out: &mut E,
        max: usize,
    ) -> Result<usize, Disconnected> {
        if max == 0 {
            return Ok(0);
        }
        let ready = match self.ready_or_ended(max) {
            Ok(ready) | Err(ready) if ready > 0 => ready,
            Ok(_) => return Ok(0),
            Err(_) => return Err(Disconnected(())),
        };
        let mut chunk = self.open_chunk(ready);
        out.extend(&mut chunk);
        Ok(chunk.taken)
    }
}

/// A run of waiting items opened by [`Consumer::read_chunk`], read in place.
///
/// Iterating moves items out in order; when the chunk drops, the items taken
/// are released to the producer with one store. Items not taken stay in the
/// ring.
///
/// Forgetting the chunk (`mem::forget`) is safe: an item taken from it is
/// never handed out again, and its slot is released by the consumer's next
/// pop, chunk or drop.
///
/// `Send` for `T: Send` (it moves with the consumer's exclusive borrow);
/// `Sync` only for `T: Send + Sync`, because [`get`](Self::get) and
/// [`iter`](Self::iter) hand out `&T` from `&self`.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u32>(8);
/// tx.push_slice(&[1, 2, 3]).unwrap();
/// let mut chunk = rx.read_chunk(3).unwrap();
/// assert_eq!(chunk.get(2), Some(&3)); // in place
/// assert_eq!(chunk.next(), Some(1)); // moved out
/// drop(chunk); // releases the one taken; 2 and 3 stay
/// assert_eq!(rx.len(), 2);
/// ```
pub struct ReadChunk<'a, T> {
    /// `consumer.head` is advanced as items are taken, so it always points
    /// at the first item not yet taken; forgetting the chunk is therefore
    /// safe (taken items are never handed out again; their slots are
    /// released by the next `pop` or chunk).
    consumer: &'a mut Consumer<T>,
    /// Items in the chunk not yet taken (`[head, head + remaining)` is
    /// published).
    remaining: usize,
    /// Items taken so far: whether dropping must release anything.
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
    /// tx.push_slice(&[1, 2]).unwrap();
    /// let mut chunk = rx.read_chunk(2).unwrap();
    /// chunk.next();
    /// assert_eq!(chunk.len(), 1);
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
    /// assert!(rx.read_chunk(0).unwrap().is_empty());
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
    /// assert_eq!(rx.read_chunk(1).unwrap().get(0), Some(&7));
    /// ```
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len() {
            return None;
        }
        let consumer = &self.consumer;
        let addr = consumer.shared.blocks.addr_after(&consumer.head_addr, i);
        Some({
            // Positions in the chunk were published (stamp seen with
            // Acquire in `read_chunk`) and are not released until we
            // drop; the reference borrows `self`, which holds the
            // consumer exclusively, and crosses threads only if
            // `T: Sync` (`_items_by_ref`).
            let cell = consumer.shared.blocks.cell(addr.block, addr.offset);
            // SAFETY: as just said: the slot holds a published value.
            cell.with(|v| unsafe { (*v).assume_init_ref() })
        })
    }

    /// The items not yet taken, in order, as slices: one per block of the
    /// ring the chunk spans.
    ///
    /// Why not one or two slices, as in a plain ring buffer (rtrb's
    /// `as_slices`)? This ring is made of blocks, each a cache line holding
    /// a stamp and then its values (`blocks.rs`), so values are contiguous
    /// only within a block: a chunk of `n` items spans about `n / k + 1`
    /// blocks (`k` is 7 for `u64`, 56 for `u8`, 1 for items of more than 56
    /// bytes). The slices borrow the chunk; nothing is copied.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u64>(64);
    /// tx.push_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
    /// let chunk = rx.read_chunk(10).unwrap();
    /// let mut sum = 0;
    /// for run in chunk.slices() {
    ///     sum += run.iter().sum::<u64>(); // e.g. hand `run` to a SIMD routine
    /// }
    /// assert_eq!(sum, 55);
    /// assert_eq!(chunk.slices().flatten().count(), 10);
    /// ```
    pub fn slices(&self) -> impl Iterator<Item = &[T]> + '_ {
        ChunkSlices {
            blocks: &self.consumer.shared.blocks,
            addr: self.consumer.head_addr,
            left: self.remaining,
            _items_by_ref: PhantomData,
        }
    }

    /// Iterates over the items not yet taken, by reference.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// let c = rx.read_chunk(2).unwrap();
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
    /// rx.read_chunk(1).unwrap().commit_all();
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
        let consumer = &mut *self.consumer;
        let (block, offset) = (consumer.head_addr.block, consumer.head_addr.offset);
        // Advance the private cursor *before* handing the item out, so even a
        // forgotten chunk can never hand it out again.
        consumer.head = consumer.head.wrapping_add(1);
        consumer.head_addr.advance(&consumer.shared.blocks);
        self.remaining -= 1;
        self.taken += 1;
        Some(
            consumer
                .shared
                .blocks
                .cell(block, offset)
                // SAFETY: published (stamp seen with Acquire in `read_chunk`),
                // taken exactly once (`head` moved past it), released only by
                // a later store.
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
        let consumer = &mut *self.consumer;
        // Release: pairs with the producer's Acquire head load (see `pop`),
        // ordering our reads of the taken slots before their overwrite.
        consumer
            .shared
            .consumer
            .head
            .store(consumer.head, Ordering::Release);
        consumer.shared.space.notify();
    }
}

/// The items of a read chunk as one slice per block ([`ReadChunk::slices`]).
struct ChunkSlices<'a, T> {
    blocks: &'a Blocks<T>,
    /// Where the next slice starts.
    addr: SlotAddr,
    /// Items not handed out yet.
    left: usize,
    /// It hands out `&T`: `Send` and `Sync` only for `T: Sync`.
    _items_by_ref: PhantomData<&'a [T]>,
}

impl<'a, T> Iterator for ChunkSlices<'a, T> {
    type Item = &'a [T];

    fn next(&mut self) -> Option<&'a [T]> {
        if self.left == 0 {
            return None;
        }
        // The chunk's items are published (stamp seen with Acquire when it
        // opened) and stay in place, untouched by the producer, until the
        // chunk releases them; the chunk is borrowed for `'a`, so it
        // neither moves them out nor releases them meanwhile.
        // SAFETY: as just argued, `left` published items from `addr` on.
        let run = unsafe { self.blocks.values_from(&self.addr, self.left) };
        debug_assert!(!run.is_empty() && run.len() <= self.left);
        self.addr.advance_in_block(run.len(), self.blocks);
        self.left -= run.len();
        Some(run)
    }
}
