//! Write chunks: a run of free slots the producer fills in place and
//! publishes with one stamp store; and the batch pushes, which are write
//! chunks sized to what fits. The ground rules are in `mod.rs`.

use super::blocks::SlotAddr;
use super::producer::Producer;
use super::WriteChunkError;
use crate::queue::Disconnected;
use crate::sync::Ordering;

impl<T> Producer<T> {
    /// The free slots, looking again at the consumer's cursor if the cached
    /// view shows fewer than `want`; `Disconnected` if the consumer is gone.
    fn free_for(&mut self, want: usize) -> Result<usize, Disconnected> {
        // Relaxed: as in `push`: a stale `false` admits a chunk nobody will
        // read, which the final drop frees.
        if self.shared.producer.consumer_gone.load(Ordering::Relaxed) {
            return Err(Disconnected(()));
        }
        Ok(self.cursor.free_slots(&self.shared, want))
    }

    /// A chunk of `len` slots, all free (`len <= free_slots`).
    fn chunk(&mut self, len: usize) -> WriteChunk<'_, T> {
        debug_assert!(len <= self.capacity(), "a chunk larger than the ring");
        let next_addr = self.cursor.tail_addr;
        WriteChunk {
            producer: self,
            len,
            filled: 0,
            next_addr,
        }
    }

    /// Opens a chunk of exactly `n` free slots to fill in place; its items are
    /// published together, with one release, when the chunk is committed or
    /// dropped. Slots of the chunk left unfilled stay free.
    ///
    /// # Errors
    ///
    /// [`WriteChunkError::TooFewSlots`] with the number of free slots if
    /// fewer than `n` are free (always, if `n` exceeds the capacity);
    /// [`WriteChunkError::Disconnected`] if the consumer is gone.
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
    pub fn write_chunk(&mut self, n: usize) -> Result<WriteChunk<'_, T>, WriteChunkError> {
        let free = self
            .free_for(n)
            .map_err(|_| WriteChunkError::Disconnected)?;
        if free < n {
            return Err(WriteChunkError::TooFewSlots(free));
        }
        Ok(self.chunk(n))
    }

    /// Pushes clones of the longest prefix of `items` that fits now; returns
    /// how many (0 when the ring is full). `items[..n]` went in, in order;
    /// the rest did not. The clones are written in place and published with
    /// one release store, as a [`WriteChunk`]; if a `clone` panics, the
    /// items cloned before it are published.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if the consumer is gone (nothing is pushed).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u32>(4);
    /// let ticks = [1, 2, 3, 4, 5, 6];
    /// let n = tx.push_slice(&ticks).unwrap();
    /// assert_eq!(n, 4);
    /// assert_eq!(rx.pop(), Ok(1));
    /// assert_eq!(tx.push_slice(&ticks[n..]), Ok(1));
    /// ```
    pub fn push_slice(&mut self, items: &[T]) -> Result<usize, Disconnected>
    where
        T: Clone,
    {
        let n = self.free_for(items.len())?.min(items.len());
        if n == 0 {
            return Ok(0);
        }
        let mut chunk = self.chunk(n);
        chunk.fill_from_iter(items[..n].iter().cloned());
        chunk.commit();
        Ok(n)
    }

    /// Pushes items from `iter` while slots are free; returns how many (0
    /// when the ring is full or `iter` is empty). An item is taken out of
    /// `iter` only for a slot known free, and only this producer fills
    /// slots, so every item taken is pushed: what does not fit stays in
    /// `iter`. Any iterator will do (a multi-producer ring's `push_iter`
    /// needs a [`Peekable`](std::iter::Peekable), which is an iterator
    /// too).
    ///
    /// The items are written in place and published with one release
    /// store, as a [`WriteChunk`]; if `iter` panics, the items taken before
    /// it are published.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if the consumer is gone (nothing is taken from
    /// `iter`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u32>(2);
    /// let mut ticks = 1..=3;
    /// assert_eq!(tx.push_iter(&mut ticks), Ok(2));
    /// assert_eq!(ticks.next(), Some(3), "the one that did not fit");
    /// assert_eq!(rx.pop(), Ok(1));
    /// ```
    pub fn push_iter<I: Iterator<Item = T>>(
        &mut self,
        iter: &mut I,
    ) -> Result<usize, Disconnected> {
        let free = self.free_for(iter.size_hint().0.max(1))?;
        if free == 0 {
            return Ok(0);
        }
        let mut chunk = self.chunk(free);
        // Takes at most `free` items: `fill_from_iter` stops asking once
        // the chunk is full.
        let n = chunk.fill_from_iter(iter);
        chunk.commit();
        Ok(n)
    }
}

/// A run of free slots reserved by [`Producer::write_chunk`], filled in
/// place in order. On [`commit`](WriteChunk::commit) (or drop) every filled
/// slot is published with one stamp store (Release) and one cursor store;
/// the unfilled rest stays free.
///
/// Forgetting the chunk (`mem::forget`) publishes nothing: the values
/// written into it are leaked (never read, never dropped) and the slots are
/// written again by the next publication.
///
/// `Send` and `Sync` for `T: Send`: from `&self` it hands out only counts.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u32>(8);
/// let mut chunk = tx.write_chunk(4).unwrap();
/// chunk.push(1).unwrap();
/// chunk.fill_from_iter([2, 3]);
/// drop(chunk); // publishes the three filled; the fourth slot stays free
/// assert_eq!(rx.len(), 3);
/// ```
pub struct WriteChunk<'a, T> {
    /// The producer's `tail` stays at the chunk's start until the commit.
    producer: &'a mut Producer<T>,
    /// Slots reserved (`len <= capacity`, all free).
    len: usize,
    /// Slots written so far (`filled <= len`), from the chunk's start.
    filled: usize,
    /// Where the next value goes.
    next_addr: SlotAddr,
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
            .cell(self.next_addr.block, self.next_addr.offset)
            // SAFETY: `tail + filled < free_end` (checked by `write_chunk`),
            // so the consumer released the slot; it reads it only after
            // `commit` stores a stamp past it.
            .with_mut(|v| unsafe { (*v).write(value) });
        self.next_addr.advance(blocks);
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
        debug_assert!(self.filled <= self.len);
        if self.filled == 0 {
            return;
        }
        let Producer { cursor, shared } = &mut *self.producer;
        let first_block = cursor.tail_addr.block;
        cursor.tail = cursor.tail.wrapping_add(self.filled);
        cursor.tail_addr = self.next_addr;
        // One store publishes the whole chunk: the stamp of the block where
        // it starts, which is the one a consumer at the old `tail` loads.
        // Release: pairs with that Acquire load, ordering every value write
        // above before it.
        shared
            .blocks
            .stamp(first_block)
            .store(cursor.tail, Ordering::Release);
        // Release: pairs with the Acquire loads in `len` and the final drop.
        shared.producer.tail.store(cursor.tail, Ordering::Release);
        shared.items.notify();
    }
}
