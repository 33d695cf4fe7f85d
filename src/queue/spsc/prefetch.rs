//! The consumer's prefetching: which block lines it asks the CPU to start
//! loading before it reads them, and how it learns which blocks are safe to
//! ask for.
//!
//! # Ground rules
//!
//! * A prefetch is only a hint: it never decides what is ready (the stamps
//!   do, see `mod.rs`), so the producer's cursor is read here with Relaxed.
//! * Fetch only blocks the producer is known to be done with: fetching the
//!   line of a block the producer is still writing would take the line from
//!   it (and cost a second transfer when the producer writes again). So the
//!   consumer prefetches only blocks below a producer `tail` it has seen.
//! * Look at the producer's cursor rarely: it lives in the producer's own
//!   line, which the producer stores on every push. Each look makes the
//!   producer's next store of it miss, and since stores leave the store
//!   buffer in order, every later store of the producer waits behind that
//!   one. So the consumer looks at most once per
//!   `max(TAIL_LOOK_MIN_ITEMS, capacity / 2)` items (the README has the
//!   figures that chose the interval).

use super::blocks::SlotAddr;
use super::shared::Shared;
use crate::sync::Ordering;

/// Blocks ahead of `head` the consumer asks the CPU to fetch after a stamp
/// refresh.
const PREFETCH_DISTANCE_BLOCKS: usize = 3;
/// Most lines a [`Consumer::read_chunk`](super::Consumer::read_chunk)
/// prefetches when it opens (beyond the one it starts in).
const CHUNK_PREFETCH_MAX_BLOCKS: usize = 16;
/// Fewest items the consumer takes between two looks at the producer's
/// cursor (at least half the capacity is used if that is more).
const TAIL_LOOK_MIN_ITEMS: usize = 512;

/// The consumer's last look at the producer's published `tail`: how far
/// ahead the producer is known to be, for prefetching only.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct TailSighting {
    /// A `tail` the producer has published.
    tail: usize,
    /// The consumer's `head` when `tail` was read.
    head_then: usize,
}

impl TailSighting {
    /// True if the producer is known to have published a `tail` at least `n`
    /// items past `head` (looking at its cursor again if the last sighting
    /// does not show that and `max(TAIL_LOOK_MIN_ITEMS, capacity / 2)` items
    /// have been taken since).
    #[inline]
    pub(super) fn producer_known_past<T>(
        &mut self,
        shared: &Shared<T>,
        head: usize,
        n: usize,
    ) -> bool {
        let past = |tail: usize| tail.wrapping_sub(head).wrapping_sub(n) <= shared.mask;
        if past(self.tail) {
            return true;
        }
        if head.wrapping_sub(self.head_then) < ((shared.mask + 1) >> 1).max(TAIL_LOOK_MIN_ITEMS) {
            return false;
        }
        // Relaxed: only a hint for a prefetch; no slot is read on its
        // strength (the stamps still decide what is ready).
        self.tail = shared.producer.tail.load(Ordering::Relaxed);
        self.head_then = head;
        past(self.tail)
    }

    /// Called by `pop` after a stamp refresh in `block` (the block holding
    /// `head`; at most once per publication): starts loading block
    /// `block + PREFETCH_DISTANCE_BLOCKS` if the producer is known to be
    /// past it.
    #[inline]
    pub(super) fn prefetch_after_refresh<T>(
        &mut self,
        shared: &Shared<T>,
        head: usize,
        block: usize,
    ) {
        let need = (PREFETCH_DISTANCE_BLOCKS + 1) * shared.blocks.slots_per_block();
        if self.producer_known_past(shared, head, need) {
            shared.blocks.prefetch(block + PREFETCH_DISTANCE_BLOCKS);
        }
    }

    /// Called when a read chunk of `len` items opens at `head` (at
    /// `head_addr`), with `[head, ready_end)` known published.
    ///
    /// Blocks wholly below `ready_end` are done with by the producer: start
    /// all their transfers now rather than one per block as the reader gets
    /// there; and the next chunk's as well if the producer is known to be
    /// past it. (The block holding `ready_end` may still be being written:
    /// fetching it would take its line from the producer.)
    ///
    /// Forced inline: this was tuned as part of `read_chunk`'s body.
    #[inline(always)]
    pub(super) fn prefetch_chunk<T>(
        &mut self,
        shared: &Shared<T>,
        head: usize,
        head_addr: &SlotAddr,
        ready_end: usize,
        len: usize,
    ) {
        let k = shared.blocks.slots_per_block();
        let offset = head_addr.offset;
        let mut lines = (offset + ready_end.wrapping_sub(head)) / k;
        let next_chunk_lines = (offset + 2 * len).div_ceil(k);
        if next_chunk_lines > lines && self.producer_known_past(shared, head, next_chunk_lines * k)
        {
            lines = next_chunk_lines;
        }
        for i in 1..lines.min(CHUNK_PREFETCH_MAX_BLOCKS + 1) {
            shared.blocks.prefetch(head_addr.block + i);
        }
    }
}
