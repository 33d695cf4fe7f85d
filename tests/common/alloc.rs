//! The counting global allocator of the `*_alloc` tests: it forwards every
//! call to `System` and reports each allocation (`alloc`, `alloc_zeroed`,
//! `realloc`; not `dealloc`) to a hook of the test's own, which decides
//! what counts (every thread but an excluded one, say, or this thread while
//! counting is on).
//!
//! Each test file includes it as `#[path = "common/alloc.rs"] mod counting_alloc;`
//! and installs its own static:
//!
//! ```ignore
//! // SAFETY: `note` never allocates and never unwinds.
//! #[global_allocator]
//! static GLOBAL: Counting = unsafe { Counting::new(note) };
//! ```

use std::alloc::{GlobalAlloc, Layout, System};

/// `System`, with a hook run before every allocation.
pub struct Counting {
    note: fn(),
}

impl Counting {
    /// An allocator that calls `note` on the allocating thread before each
    /// `alloc`, `alloc_zeroed` and `realloc`.
    ///
    /// # Safety
    ///
    /// `note` must not allocate (it would recurse into the allocator) and
    /// must not unwind (a global allocator that unwinds is undefined
    /// behaviour). It may run while thread-locals are being torn down.
    pub const unsafe fn new(note: fn()) -> Counting {
        Counting { note }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; `note` neither allocates nor unwinds
// (the contract of `Counting::new`).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (self.note)();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (self.note)();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (self.note)();
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}
