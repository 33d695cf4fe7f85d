//! Read chunks: a run of published items the consumer reads in place and
//! releases with one store. The ground rules are in `mod.rs`.

use std::marker::PhantomData;

use super::consumer::Consumer;
use crate::sync::Ordering;

impl<T> Consumer<T> {
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
        while self.ready_end.wrapping_sub(self.head) < max {
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
        let len = self.ready_end.wrapping_sub(self.head).min(max);
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
