//! The SPSC ring's storage: slots grouped in *blocks*, one stamp per block,
//! laid out so that a small block is exactly one cache line.
//!
//! ```text
//!   block 0 (64 B)                    block 1 (64 B)
//!   [stamp][v0][v1][v2][v3][v4][v5][v6] [stamp][v7][v8] ...      (T = u64)
//! ```
//!
//! `k` is chosen from `T`'s size and alignment so the stamp and `k` values
//! share one 64-byte line (`k = 1` when a value does not fit beside the
//! stamp). There is one block more than `cap` slots need: the ring never
//! holds more than `cap` items, so a full ring always leaves at least a
//! block's worth of slots unused, and a producer refilling a full ring
//! writes the block *behind* the one the consumer is reading instead of
//! fighting it for the same line. With `N = nblocks * k` slots (not a power
//! of two), slots are addressed *relative* to a walker (the consumer's or
//! the producer's), never from absolute positions, so positions may wrap
//! around `usize` freely.
//!
//! This module only owns the memory: what the stamps *mean* is the SPSC
//! protocol's business (see `spsc.rs`).
//!
//! All the raw-pointer code of the ring is here. Stamps and cells are the
//! `sync` shim's types, placed with `ptr::write`, so the same code runs under
//! loom.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::sync::{AtomicUsize, UnsafeCell};

/// One slot's value cell.
pub(super) type Cell<T> = UnsafeCell<MaybeUninit<T>>;

/// The line size blocks are fitted to.
const LINE: usize = 64;
/// Line-sized blocks start on this boundary: x86_64's adjacent-line
/// prefetcher fetches lines in 128-byte pairs, and with pairs aligned to
/// blocks, reading an even block also fetches the next one. Measured: with
/// only 64-byte alignment the ring's throughput swung between runs with
/// where the allocator happened to put it.
const PAIR: usize = 128;

/// Slots per block for `T`: as many values as fit beside an 8-byte stamp in
/// one line (at least 1, at most `cap`).
pub(super) fn block_len_for<T>(cap: usize) -> usize {
    let align = std::mem::align_of::<T>();
    let size = std::mem::size_of::<T>().max(1);
    let first = std::mem::size_of::<usize>().next_multiple_of(align);
    let k = LINE.saturating_sub(first) / size;
    k.clamp(1, cap)
}

pub(super) struct Blocks<T> {
    base: NonNull<u8>,
    layout: Layout,
    /// Bytes from one block to the next.
    stride: usize,
    /// Offset of the first cell in a block.
    cell_off: usize,
    /// Slots per block.
    k: usize,
    nblocks: usize,
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
// SAFETY: `&Blocks` hands out `&AtomicUsize` (stamps) and `&Cell<T>`; each
// cell is accessed by one thread at a time under the protocol above, and
// only to move values in or out, which needs `T: Send`. A handle that turns
// a cell into a `&T` reachable from `&self` must itself be `Sync` only for
// `T: Sync` (the SPSC `ReadChunk` is: see its `_items_by_ref` marker).
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
        let cells = Layout::array::<Cell<T>>(k).unwrap_or_else(|_| too_big());
        let (block, cell_off) = stamp.extend(cells).unwrap_or_else(|_| too_big());
        let block = block.pad_to_align();
        // A block that fits in a line gets the whole line, so no two blocks
        // (and no two sides) ever share one.
        let (stride, align) = if block.size() <= LINE {
            (LINE, PAIR.max(block.align()))
        } else {
            (block.size(), block.align())
        };
        let nblocks = cap.div_ceil(k) + 1;
        let layout = stride
            .checked_mul(nblocks)
            .and_then(|size| Layout::from_size_align(size, align).ok())
            .unwrap_or_else(|| too_big());
        // SAFETY: `layout` has a nonzero size (at least one block holding
        // an 8-byte stamp).
        let raw = unsafe { alloc(layout) };
        let base = NonNull::new(raw).unwrap_or_else(|| handle_alloc_error(layout));
        let blocks = Blocks {
            base,
            layout,
            stride,
            cell_off,
            k,
            nblocks,
            _owns: PhantomData,
        };
        for b in 0..nblocks {
            // `Layout::extend` placed stamp and cells; `stride` is a multiple
            // of the block's alignment; the memory is still uninitialized.
            // SAFETY: in-bounds, aligned pointers; `write` drops nothing.
            unsafe {
                blocks.stamp_ptr(b).write(AtomicUsize::new(0));
                for off in 0..k {
                    blocks
                        .cell_ptr(b, off)
                        .write(UnsafeCell::new(MaybeUninit::uninit()));
                }
            }
        }
        blocks
    }

    fn stamp_ptr(&self, b: usize) -> *mut AtomicUsize {
        debug_assert!(b < self.nblocks);
        self.base
            .as_ptr()
            .wrapping_add(b * self.stride)
            .cast::<AtomicUsize>()
    }

    fn cell_ptr(&self, b: usize, off: usize) -> *mut Cell<T> {
        debug_assert!(b < self.nblocks && off < self.k);
        self.base
            .as_ptr()
            .wrapping_add(b * self.stride + self.cell_off)
            .cast::<Cell<T>>()
            .wrapping_add(off)
    }

    /// Block `b`'s stamp.
    #[inline]
    pub(super) fn stamp(&self, b: usize) -> &AtomicUsize {
        assert!(b < self.nblocks);
        // SAFETY: in bounds (checked), initialized in `new`, dropped only in
        // our `Drop`; the borrow of `self` keeps it alive.
        unsafe { &*self.stamp_ptr(b) }
    }

    /// Hints the CPU to start loading block `b`'s line.
    #[inline]
    pub(super) fn prefetch(&self, b: usize) {
        let b = if b < self.nblocks {
            b
        } else {
            b % self.nblocks
        };
        crate::sync::prefetch(self.stamp_ptr(b));
    }

    /// The cell at offset `off` of block `b`.
    #[inline]
    pub(super) fn cell(&self, b: usize, off: usize) -> &Cell<T> {
        assert!(b < self.nblocks && off < self.k);
        // SAFETY: in bounds (checked), initialized in `new`, dropped only in
        // our `Drop`.
        unsafe { &*self.cell_ptr(b, off) }
    }

    /// The walker `d` slots ahead of `w` (`d < N`); a division, so not
    /// for per-item paths (those [`step`](Walk::step)).
    pub(super) fn ahead(&self, w: &Walk, d: usize) -> Walk {
        let n = self.nblocks * self.k;
        debug_assert!(d < n);
        let i = w.blk * self.k + w.off + d;
        let i = if i >= n { i - n } else { i };
        Walk {
            blk: i / self.k,
            off: i % self.k,
        }
    }

    /// `w`'s slot number (`< N`), for [`ahead`](Self::ahead) of
    /// [`start`](Self::start).
    pub(super) fn index(&self, w: &Walk) -> usize {
        w.blk * self.k + w.off
    }

    /// Slots per block.
    #[inline]
    pub(super) fn block_len(&self) -> usize {
        self.k
    }

    /// The walker at the first slot.
    pub(super) fn start(&self) -> Walk {
        Walk { blk: 0, off: 0 }
    }
}

impl<T> Drop for Blocks<T> {
    fn drop(&mut self) {
        // Values are dropped by the ring (only it knows which are live);
        // here the stamps and cells themselves go (no-ops in std builds,
        // bookkeeping under loom), then the memory.
        for b in 0..self.nblocks {
            // SAFETY: initialized in `new`, dropped exactly once, here; no
            // reference to them outlives `&self`.
            unsafe {
                std::ptr::drop_in_place(self.stamp_ptr(b));
                for off in 0..self.k {
                    std::ptr::drop_in_place(self.cell_ptr(b, off));
                }
            }
        }
        // SAFETY: allocated in `new` with this very layout.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// A cursor over the slots in ring order, stepping without divisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Walk {
    /// Current block.
    pub(super) blk: usize,
    /// Offset in the block.
    pub(super) off: usize,
}

impl Walk {
    /// Moves to the next slot (wrapping at the ring's end).
    #[inline]
    pub(super) fn step<T>(&mut self, blocks: &Blocks<T>) {
        self.off += 1;
        if self.off == blocks.k {
            self.off = 0;
            self.blk += 1;
            if self.blk == blocks.nblocks {
                self.blk = 0;
            }
        }
    }
}

#[cfg(all(test, not(corelane_loom)))]
mod tests {
    use super::*;

    #[test]
    fn u64_blocks_fill_one_line() {
        assert_eq!(block_len_for::<u64>(1024), 7);
        assert_eq!(block_len_for::<u8>(1024), 56);
        assert_eq!(block_len_for::<u64>(4), 4);
        assert_eq!(block_len_for::<[u8; 100]>(1024), 1);
        let b = Blocks::<u64>::new(1024, 7);
        assert_eq!(b.stride, 64);
        assert_eq!(b.nblocks, 1024usize.div_ceil(7) + 1);
        assert_eq!(b.base.as_ptr() as usize % 128, 0);
    }

    #[test]
    fn step_matches_ahead() {
        for (cap, k) in [(1, 1), (8, 3), (16, 7), (64, 64), (32, 5)] {
            let b = Blocks::<u32>::new(cap, k);
            let n = b.nblocks * k;
            assert!(n >= cap + k);
            let origin = b.start();
            let mut w = origin;
            for d in 0..3 * n {
                assert_eq!(w, b.ahead(&origin, d % n), "cap {cap} k {k} d {d}");
                for e in [0, 1, n - 1] {
                    let mut x = w;
                    for _ in 0..e {
                        x.step(&b);
                    }
                    assert_eq!(x, b.ahead(&w, e));
                }
                w.step(&b);
            }
        }
    }

    #[test]
    fn large_and_overaligned_items_get_their_own_block() {
        #[repr(align(128))]
        struct Big(#[allow(dead_code)] [u8; 200]);
        assert_eq!(block_len_for::<Big>(16), 1);
        let b = Blocks::<Big>::new(16, 1);
        assert_eq!(b.stride % 128, 0);
        assert_eq!(b.cell(3, 0).with(|p| p as usize) % 128, 0);
    }
}
