//! The SPSC ring's storage: slots grouped in *blocks*, one stamp per block,
//! laid out so that a small block is exactly one cache line.
//!
//! ```text
//!   block 0 (64 B)                    block 1 (64 B)
//!   [stamp][v0][v1][v2][v3][v4][v5][v6] [stamp][v7][v8] ...      (T = u64)
//! ```
//!
//! Slot `i` (of `cap`, a power of two) lives in block `i / k` at offset
//! `i % k`; the last block may be shorter. `k` is chosen from `T`'s size and
//! alignment so the stamp and `k` values share one 64-byte line (`k = 1` when
//! a value does not fit beside the stamp). This module only owns the memory:
//! what the stamps *mean* is the SPSC protocol's business (see `spsc.rs`).
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
    /// Slots per (full) block.
    k: usize,
    nblocks: usize,
    /// Slots in the last block (`1..=k`).
    last_len: usize,
    cap: usize,
    _owns: PhantomData<T>,
}

// SAFETY: `Blocks` owns its allocation like a `Box<[_]>` of atomics and
// cells; sharing it is as safe as sharing those (the SPSC protocol decides
// who touches which cell), and moving values of `T` across threads needs
// `T: Send`.
unsafe impl<T: Send> Send for Blocks<T> {}
// SAFETY: as above: `&Blocks` only hands out `&AtomicUsize` and `&Cell<T>`.
unsafe impl<T: Send> Sync for Blocks<T> {}

impl<T> Blocks<T> {
    /// Storage for `cap` slots (a power of two) in blocks of `k` slots.
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
            (LINE, LINE.max(block.align()))
        } else {
            (block.size(), block.align())
        };
        let nblocks = cap.div_ceil(k);
        let last_len = cap - (nblocks - 1) * k;
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
            last_len,
            cap,
            _owns: PhantomData,
        };
        for b in 0..nblocks {
            // SAFETY: `stamp_ptr`/`cell_ptr` point inside the allocation, at
            // offsets aligned for their types (`Layout::extend` placed them;
            // `stride` is a multiple of the block's alignment); the memory is
            // uninitialized, so `write` (no drop of the old bytes) is right.
            unsafe {
                blocks.stamp_ptr(b).write(AtomicUsize::new(0));
                for off in 0..blocks.block_len(b) {
                    blocks.cell_ptr(b, off).write(UnsafeCell::new(MaybeUninit::uninit()));
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
        debug_assert!(b < self.nblocks && off < self.block_len(b));
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

    /// The cell at offset `off` of block `b`.
    #[inline]
    pub(super) fn cell(&self, b: usize, off: usize) -> &Cell<T> {
        assert!(off < self.block_len(b));
        // SAFETY: in bounds (`block_len` asserts `b < nblocks`), initialized
        // in `new`, dropped only in our `Drop`.
        unsafe { &*self.cell_ptr(b, off) }
    }

    /// Slots in block `b`.
    #[inline]
    pub(super) fn block_len(&self, b: usize) -> usize {
        assert!(b < self.nblocks);
        if b + 1 == self.nblocks {
            self.last_len
        } else {
            self.k
        }
    }

    /// The block and offset of slot `i` (`i < cap`); a division, so not for
    /// per-item paths (those walk with [`Walk`]).
    #[inline]
    pub(super) fn locate(&self, i: usize) -> (usize, usize) {
        debug_assert!(i < self.cap);
        (i / self.k, i % self.k)
    }

    /// The cell of absolute position `pos`.
    pub(super) fn cell_at(&self, pos: usize) -> &Cell<T> {
        let (b, off) = self.locate(pos & (self.cap - 1));
        self.cell(b, off)
    }

    /// A walker standing at absolute position `pos`.
    pub(super) fn walk_at(&self, pos: usize) -> Walk {
        let (blk, off) = self.locate(pos & (self.cap - 1));
        Walk {
            blk,
            off,
            left: self.block_len(blk) - off,
        }
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
                for off in 0..self.block_len(b) {
                    std::ptr::drop_in_place(self.cell_ptr(b, off));
                }
            }
        }
        // SAFETY: allocated in `new` with this very layout.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// A cursor over the slots in ring order, stepping without divisions.
#[derive(Clone, Copy, Debug)]
pub(super) struct Walk {
    /// Current block.
    pub(super) blk: usize,
    /// Offset in the block.
    pub(super) off: usize,
    /// Slots left in the block, the current one included (`>= 1`).
    left: usize,
}

impl Walk {
    /// Moves to the next slot (wrapping at the ring's end).
    #[inline]
    pub(super) fn step<T>(&mut self, blocks: &Blocks<T>) {
        self.left -= 1;
        if self.left != 0 {
            self.off += 1;
        } else {
            self.blk += 1;
            if self.blk == blocks.nblocks {
                self.blk = 0;
            }
            self.off = 0;
            self.left = blocks.block_len(self.blk);
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
        assert_eq!(b.nblocks, 147);
        assert_eq!(b.last_len, 1024 - 146 * 7);
        assert_eq!(b.base.as_ptr() as usize % 64, 0);
    }

    #[test]
    fn walk_matches_locate() {
        for (cap, k) in [(1, 1), (8, 3), (16, 7), (64, 64), (32, 5)] {
            let b = Blocks::<u32>::new(cap, k);
            let mut w = b.walk_at(0);
            for pos in 0..3 * cap {
                let (blk, off) = b.locate(pos % cap);
                assert_eq!((w.blk, w.off), (blk, off), "cap {cap} k {k} pos {pos}");
                let w2 = b.walk_at(pos);
                assert_eq!((w2.blk, w2.off, w2.left), (w.blk, w.off, w.left));
                w.step(&b);
            }
        }
    }

    #[test]
    fn large_and_overaligned_items_get_their_own_block() {
        #[repr(align(128))]
        struct Big([u8; 200]);
        assert_eq!(block_len_for::<Big>(16), 1);
        let b = Blocks::<Big>::new(16, 1);
        assert_eq!(b.stride % 128, 0);
        assert_eq!(b.cell(3, 0).with(|p| p as usize) % 128, 0);
    }
}
