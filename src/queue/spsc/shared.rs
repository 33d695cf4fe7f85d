//! What both ends of an SPSC ring share: each side's cursor line, the
//! wake-up cells, the blocks, the stamp check that decides what is ready,
//! and dropping the items left when the last end goes. The ground rules are
//! in `mod.rs`.

use super::blocks::Blocks;
use crate::queue::wait::Notify;
use crate::sync::{AtomicBool, AtomicUsize, CachePadded, Ordering};

/// The producer's cache line: written by the producer on every publication,
/// and once by the consumer when it drops.
pub(super) struct ProducerLine {
    /// The producer's `tail` as last published (Release), for `len`, the
    /// final drop and the consumer's prefetch hint; never for readiness,
    /// which the stamps decide.
    pub(super) tail: AtomicUsize,
    /// Set (Release) by the consumer's `Drop`; read by the producer on every
    /// push, where it is a hit in its own line.
    pub(super) consumer_gone: AtomicBool,
}

/// The consumer's cache line: written by the consumer whenever it releases
/// slots, and once by the producer when it drops.
pub(super) struct ConsumerLine {
    /// The consumer's `head` as last published (Release): every position
    /// below it has been read, so its slot may be written again.
    pub(super) head: AtomicUsize,
    /// Set (Release) by the producer's `Drop`.
    pub(super) producer_gone: AtomicBool,
}

pub(super) struct Shared<T> {
    pub(super) producer: CachePadded<ProducerLine>,
    pub(super) consumer: CachePadded<ConsumerLine>,
    /// The consumer waits here for items.
    pub(super) items: CachePadded<Notify>,
    /// The producer waits here for space.
    pub(super) space: CachePadded<Notify>,
    /// `capacity - 1` (the capacity is a power of two).
    pub(super) mask: usize,
    /// The slot index of the consumer's `head` when it dropped, so the last
    /// end can find the items left (see `Drop`).
    pub(super) consumer_slot_at_drop: AtomicUsize,
    pub(super) blocks: Blocks<T>,
}

impl<T> Shared<T> {
    /// An empty ring of `cap` slots (a power of two) in blocks of `k`.
    pub(super) fn new(cap: usize, k: usize) -> Self {
        Shared {
            producer: CachePadded::new(ProducerLine {
                tail: AtomicUsize::new(0),
                consumer_gone: AtomicBool::new(false),
            }),
            consumer: CachePadded::new(ConsumerLine {
                head: AtomicUsize::new(0),
                producer_gone: AtomicBool::new(false),
            }),
            items: CachePadded::new(Notify::new()),
            space: CachePadded::new(Notify::new()),
            mask: cap - 1,
            consumer_slot_at_drop: AtomicUsize::new(0),
            blocks: Blocks::new(cap, k),
        }
    }

    /// The publication boundary `at` extended by the stamp of block `block`
    /// (the block holding `at`): `Some(end)` if `[at, end)` is ready.
    #[inline]
    pub(super) fn published_end(&self, block: usize, at: usize) -> Option<usize> {
        // Acquire: pairs with the producer's Release stamp store in `push`
        // or a write chunk's commit, making the values below the stamp
        // visible.
        let stamp = self.blocks.stamp(block).load(Ordering::Acquire);
        // Ready iff 0 < stamp - at <= cap: every stamp is a past tail, and
        // the tail is never more than `cap` ahead of the consumer.
        (stamp.wrapping_sub(at).wrapping_sub(1) <= self.mask).then_some(stamp)
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both handles are gone (we are the last Arc), so nobody races us.
        // Acquire: pairs with the consumer's last Release `head` store (its
        // `Drop`) and the producer's last Release `tail` store; the Arc's
        // own release/acquire on the last decrement already orders them, so
        // this is belt and braces, not what the drop relies on.
        let head = self.consumer.head.load(Ordering::Acquire);
        let tail = self.producer.tail.load(Ordering::Acquire);
        debug_assert!(
            tail.wrapping_sub(head) <= self.mask + 1,
            "more items left ({head}..{tail}) than slots"
        );
        // Slots are addressed from the consumer's position, which its Drop
        // left here (ordered before its Release store of `head`).
        let first = self.blocks.first_addr();
        let mut addr = self
            .blocks
            .addr_after(&first, self.consumer_slot_at_drop.load(Ordering::Relaxed));
        let mut pos = head;
        while pos != tail {
            let cell = self.blocks.cell(addr.block, addr.offset);
            // SAFETY: positions in [head, tail) were written and not read.
            cell.with_mut(|v| unsafe { (*v).assume_init_drop() });
            addr.advance(&self.blocks);
            pos = pos.wrapping_add(1);
        }
    }
}
