//! Write chunks: a run of free slots the producer fills in place and
//! publishes with one stamp store. The ground rules are in `mod.rs`.

use super::blocks::SlotAddr;
use super::producer::Producer;
use super::ChunkError;
use crate::sync::Ordering;

impl<T> Producer<T> {
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
        if self.shared.producer.consumer_gone.load(Ordering::Relaxed) {
            return Err(ChunkError::Disconnected);
        }
        let free = self.cursor.free_slots(&self.shared, n);
        if free < n {
            return Err(ChunkError::TooFewSlots(free));
        }
        debug_assert!(n <= self.capacity(), "a chunk larger than the ring");
        let next_addr = self.cursor.tail_addr;
        Ok(WriteChunk {
            producer: self,
            len: n,
            filled: 0,
            next_addr,
        })
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
