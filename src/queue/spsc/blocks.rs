//! The SPSC ring's storage: slots grouped in *blocks*, one stamp per block,
//! laid out so that a small block is exactly one cache line.
//!
//! ```text
//!   block 0 (64 B)                    block 1 (64 B)
//!   [stamp][v0][v1][v2][v3][v4][v5][v6] [stamp][v7][v8] ...      (T = u64)
//! ```
//!
//! The number of slots per block, `k`, is chosen from `T`'s size and
//! alignment so the stamp and `k` values share one 64-byte line (`k = 1`
//! when a value does not fit beside the stamp). There is one block more than
//! `cap` slots need: the ring never holds more than `cap` items, so a full
//! ring always leaves at least a block's worth of slots unused, and a
//! producer refilling a full ring writes the block *behind* the one the
//! consumer is reading instead of fighting it for the same line.
//!
//! # Ground rules
//!
//! * There are `N = block_count * k` slots, not a power of two, so a slot is
//!   never found from an absolute position (`p % N` would be a division, and
//!   positions wrap around `usize`, which `N` does not divide). Each side
//!   instead keeps a [`SlotAddr`] (block, offset) for its own position and
//!   [`advance`](SlotAddr::advance)s it one slot at a time, in step with the
//!   position; [`Blocks::addr_after`] (a division) is for slow paths.
//! * An address always names a slot in bounds: `block < block_count`,
//!   `offset < k`. [`Blocks::stamp`] and [`Blocks::cell`] check it.
//! * This module only owns the memory: what the stamps *mean*, and who may
//!   touch which cell when, is the SPSC protocol's business (`mod.rs`).
//!
//! All the raw-pointer code of the ring is here. Stamps and cells are the
//! `sync` shim's types, placed with `ptr::write`, so the same code runs under
//! loom.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::sync::{AtomicUsize, UnsafeCell};

/// One slot's value cell: uninitialized until the producer writes it, and
/// again once the consumer moves the value out.
pub(super) type SlotCell<T> = UnsafeCell<MaybeUninit<T>>;

/// The cache-line size blocks are fitted to.
const LINE_BYTES: usize = 64;
/// Line-sized blocks start on this boundary: x86_64's adjacent-line
/// prefetcher fetches lines in 128-byte pairs, and with pairs aligned to
/// blocks, reading an even block also fetches the next one. (With only
/// 64-byte alignment the ring's throughput depended on where the allocator
/// happened to place it; see the README.)
const LINE_PAIR_BYTES: usize = 128;

/// Slots per block for `T`: as many values as fit beside an 8-byte stamp in
/// one line (at least 1, at most `cap`).
pub(super) fn slots_per_block_for<T>(cap: usize) -> usize {
    let align = std::mem::align_of::<T>();
    let size = std::mem::size_of::<T>().max(1);
    let first_cell = std::mem::size_of::<usize>().next_multiple_of(align);
    let k = LINE_BYTES.saturating_sub(first_cell) / size;
    k.clamp(1, cap)
}

/// The ring's memory: `block_count` blocks, each a stamp then
/// `slots_per_block` cells, `block_stride` bytes apart.
pub(super) struct Blocks<T> {
    base: NonNull<u8>,
    layout: Layout,
    /// Bytes from one block to the next.
    block_stride: usize,
    /// Offset of the first cell in a block.
    first_cell_offset: usize,
    /// Slots per block (`k`).
    slots_per_block: usize,
    block_count: usize,
    _owns: PhantomData<T>,
}

// Owns its allocation like a `Box<[_]>` of atomics and cells. Who may touch
// which cell when is the SPSC protocol's business: the producer writes a
// slot, then publishes it by a stamp; the consumer reads (moves out) a slot
// only after seeing that stamp, and hands it back by its cursor. So a value
// of `T` is made on one thread and moved out or dropped on another: that
// needs `T: Send`, and nothing more, because the storage never hands out
// `&T` itself.
// SAFETY: `Blocks<T>` owns the values in its cells (moved out or dropped by
// the ring, on whichever thread holds it last), hence `T: Send`.
unsafe impl<T: Send> Send for Blocks<T> {}
// `&Blocks` hands out `&AtomicUsize` (stamps) and `&SlotCell<T>`; each cell
// is accessed by one thread at a time under the protocol above, and only to
// move values in or out. A handle that turns a cell into a `&T` reachable
// from `&self` must itself be `Sync` only for `T: Sync` (`ReadChunk` is:
// its `_items_by_ref` marker; trybuild `spsc_read_chunk_shared_needs_sync`).
// SAFETY: as just said: moving values between threads needs `T: Send` only.
unsafe impl<T: Send> Sync for Blocks<T> {}

impl<T> Blocks<T> {
    /// Storage for a ring of `cap` items (a power of two) in blocks of `k`
    /// slots, one block more than `cap` needs.
    ///
    /// # Panics
    ///
    /// If the storage would not fit in memory.
    pub(super) fn new(cap: usize, k: usize) -> Self {
        assert!(cap.is_power_of_two() && (1..=cap).contains(&k));
        let too_big = || -> ! {
            panic!(
                "corelane: ring capacity {cap} is too large for {}-byte items",
                std::mem::size_of::<T>()
            )
        };
        let stamp = Layout::new::<AtomicUsize>();
        let cells = Layout::array::<SlotCell<T>>(k).unwrap_or_else(|_| too_big());
        let (block, first_cell_offset) = stamp.extend(cells).unwrap_or_else(|_| too_big());
        let block = block.pad_to_align();
        // A block that fits in a line gets the whole line, so no two blocks
        // (and no two sides) ever share one.
        let (block_stride, align) = if block.size() <= LINE_BYTES {
            (LINE_BYTES, LINE_PAIR_BYTES.max(block.align()))
        } else {
            (block.size(), block.align())
        };
        let block_count = cap.div_ceil(k) + 1;
        let layout = block_stride
            .checked_mul(block_count)
            .and_then(|size| Layout::from_size_align(size, align).ok())
            .unwrap_or_else(|| too_big());
        // SAFETY: `layout` has a nonzero size (at least one block holding
        // an 8-byte stamp).
        let raw = unsafe { alloc(layout) };
        let base = NonNull::new(raw).unwrap_or_else(|| handle_alloc_error(layout));
        let blocks = Blocks {
            base,
            layout,
            block_stride,
            first_cell_offset,
            slots_per_block: k,
            block_count,
            _owns: PhantomData,
        };
        for b in 0..block_count {
            // `Layout::extend` placed stamp and cells; `block_stride` is a multiple
            // of the block's alignment; the memory is still uninitialized.
            // SAFETY: in-bounds, aligned pointers; `write` drops nothing.
            unsafe {
                blocks.stamp_ptr(b).write(AtomicUsize::new(0));
                for offset in 0..k {
                    blocks
                        .cell_ptr(b, offset)
                        .write(UnsafeCell::new(MaybeUninit::uninit()));
                }
            }
        }
        blocks
    }

    fn stamp_ptr(&self, b: usize) -> *mut AtomicUsize {
        debug_assert!(b < self.block_count);
        self.base
            .as_ptr()
            .wrapping_add(b * self.block_stride)
            .cast::<AtomicUsize>()
    }

    fn cell_ptr(&self, b: usize, offset: usize) -> *mut SlotCell<T> {
        debug_assert!(b < self.block_count && offset < self.slots_per_block);
        self.base
            .as_ptr()
            .wrapping_add(b * self.block_stride + self.first_cell_offset)
            .cast::<SlotCell<T>>()
            .wrapping_add(offset)
    }

    /// Block `b`'s stamp.
    #[inline]
    pub(super) fn stamp(&self, b: usize) -> &AtomicUsize {
        assert!(b < self.block_count);
        // SAFETY: in bounds (checked), initialized in `new`, dropped only in
        // our `Drop`; the borrow of `self` keeps it alive.
        unsafe { &*self.stamp_ptr(b) }
    }

    /// Hints the CPU to start loading block `b`'s line (`b` may run past
    /// the last block: it wraps).
    #[inline]
    pub(super) fn prefetch(&self, b: usize) {
        let b = if b < self.block_count {
            b
        } else {
            b % self.block_count
        };
        crate::sync::prefetch(self.stamp_ptr(b));
    }

    /// The cell at `offset` in block `b`.
    #[inline]
    pub(super) fn cell(&self, b: usize, offset: usize) -> &SlotCell<T> {
        assert!(b < self.block_count && offset < self.slots_per_block);
        // SAFETY: in bounds (checked), initialized in `new`, dropped only in
        // our `Drop`.
        unsafe { &*self.cell_ptr(b, offset) }
    }

    /// The longest run of values from `addr` that stays in its block, at
    /// most `max` long (at least 1 for `max > 0`), as a slice. Under loom,
    /// where a cell is not laid out as its value, one value at a time.
    ///
    /// # Safety
    ///
    /// Those cells hold initialized values that nobody writes, moves out or
    /// drops while the returned slice lives.
    #[cfg(not(corelane_loom))]
    pub(super) unsafe fn values_from(&self, addr: &SlotAddr, max: usize) -> &[T] {
        let len = max.min(self.slots_per_block - addr.offset);
        assert!(addr.block < self.block_count && addr.offset + len <= self.slots_per_block);
        // A block's cells are one `Layout::array` of `SlotCell<T>`, and a
        // `SlotCell<T>` (transparent `UnsafeCell<MaybeUninit<T>>`) is laid
        // out exactly as a `T`: the `len` cells from `addr` are a `[T]`.
        let first = self.cell_ptr(addr.block, addr.offset).cast::<T>();
        // SAFETY: in bounds (checked), laid out as `[T; len]` (above), and
        // initialized and left alone while borrowed (the caller's contract).
        unsafe { std::slice::from_raw_parts(first, len) }
    }

    /// Under loom: one value at a time (see above).
    ///
    /// # Safety
    ///
    /// As above.
    #[cfg(corelane_loom)]
    pub(super) unsafe fn values_from(&self, addr: &SlotAddr, max: usize) -> &[T] {
        if max == 0 {
            return &[];
        }
        let cell = self.cell(addr.block, addr.offset);
        // SAFETY: initialized and left alone while borrowed (the caller's
        // contract); the reference borrows `self`.
        cell.with(|v| std::slice::from_ref(unsafe { (*v).assume_init_ref() }))
    }

    /// The address `d` slots after `from` (`d < N`); a division, so not
    /// for per-item paths (those [`advance`](SlotAddr::advance)).
    pub(super) fn addr_after(&self, from: &SlotAddr, d: usize) -> SlotAddr {
        let n = self.block_count * self.slots_per_block;
        debug_assert!(d < n);
        let i = self.slot_index(from) + d;
        let i = if i >= n { i - n } else { i };
        SlotAddr {
            block: i / self.slots_per_block,
            offset: i % self.slots_per_block,
        }
    }

    /// `addr`'s slot number (`< N`): the distance from
    /// [`first_addr`](Self::first_addr), for [`addr_after`](Self::addr_after).
    pub(super) fn slot_index(&self, addr: &SlotAddr) -> usize {
        addr.block * self.slots_per_block + addr.offset
    }

    /// Slots per block (`k`).
    #[inline]
    pub(super) fn slots_per_block(&self) -> usize {
        self.slots_per_block
    }

    /// The address of the first slot, where both sides start.
    pub(super) fn first_addr(&self) -> SlotAddr {
        SlotAddr {
            block: 0,
            offset: 0,
        }
    }
}

impl<T> Drop for Blocks<T> {
    fn drop(&mut self) {
        // Values are dropped by the ring (only it knows which are live);
        // here the stamps and cells themselves go (no-ops in std builds,
        // bookkeeping under loom), then the memory.
        for b in 0..self.block_count {
            // SAFETY: initialized in `new`, dropped exactly once, here; no
            // reference to them outlives `&self`.
            unsafe {
                std::ptr::drop_in_place(self.stamp_ptr(b));
                for offset in 0..self.slots_per_block {
                    std::ptr::drop_in_place(self.cell_ptr(b, offset));
                }
            }
        }
        // SAFETY: allocated in `new` with this very layout.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// Where a side's position lives in the blocks: a block and an offset in
/// it, moved one slot at a time without divisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SlotAddr {
    /// The block (`< block_count`).
    pub(super) block: usize,
    /// The offset in the block (`< slots_per_block`).
    pub(super) offset: usize,
}

impl SlotAddr {
    /// Moves `n` slots on within the block (`offset + n <= k`), to the next
    /// block's first slot if that ends the block.
    #[inline]
    pub(super) fn advance_in_block<T>(&mut self, n: usize, blocks: &Blocks<T>) {
        debug_assert!(self.offset + n <= blocks.slots_per_block);
        self.offset += n;
        if self.offset == blocks.slots_per_block {
            self.offset = 0;
            self.block += 1;
            if self.block == blocks.block_count {
                self.block = 0;
            }
        }
    }

    /// Moves to the next slot in ring order (wrapping at the last block).
    #[inline]
    pub(super) fn advance<T>(&mut self, blocks: &Blocks<T>) {
        self.offset += 1;
        if self.offset == blocks.slots_per_block {
            self.offset = 0;
            self.block += 1;
            if self.block == blocks.block_count {
                self.block = 0;
            }
        }
    }
}

#[cfg(all(test, not(corelane_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_block_of_small_items_fills_one_line() {
        assert_eq!(slots_per_block_for::<u64>(1024), 7);
        assert_eq!(slots_per_block_for::<u8>(1024), 56);
        assert_eq!(slots_per_block_for::<u64>(4), 4);
        assert_eq!(slots_per_block_for::<[u8; 100]>(1024), 1);
        let b = Blocks::<u64>::new(1024, 7);
        assert_eq!(b.block_stride, 64);
        assert_eq!(b.block_count, 1024usize.div_ceil(7) + 1);
        assert_eq!(b.base.as_ptr() as usize % 128, 0);
    }

    #[test]
    fn advancing_one_slot_at_a_time_agrees_with_addr_after() {
        for (cap, k) in [(1, 1), (8, 3), (16, 7), (64, 64), (32, 5)] {
            let b = Blocks::<u32>::new(cap, k);
            let n = b.block_count * k;
            assert!(n >= cap + k);
            let origin = b.first_addr();
            let mut addr = origin;
            for d in 0..3 * n {
                assert_eq!(addr, b.addr_after(&origin, d % n), "cap {cap} k {k} d {d}");
                for e in [0, 1, n - 1] {
                    let mut further = addr;
                    for _ in 0..e {
                        further.advance(&b);
                    }
                    assert_eq!(further, b.addr_after(&addr, e));
                }
                addr.advance(&b);
            }
        }
    }

    #[test]
    fn large_and_overaligned_items_get_their_own_block() {
        #[repr(align(128))]
        struct Big(#[allow(dead_code)] [u8; 200]);
        assert_eq!(slots_per_block_for::<Big>(16), 1);
        let b = Blocks::<Big>::new(16, 1);
        assert_eq!(b.block_stride % 128, 0);
        assert_eq!(b.cell(3, 0).with(|p| p as usize) % 128, 0);
    }
}
