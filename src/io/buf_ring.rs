//! One core's provided buffer ring: the memory every multishot recv on the
//! core lands in, lent out as [`Bytes`] without a copy.
//!
//! Each buffer is a `BytesMut` the ring keeps a handle to. A completion of
//! `n` bytes into buffer `bid` becomes `handle.split_to(n).freeze()`: a
//! `Bytes` sharing the buffer's allocation (a reference count, no
//! allocation once the buffer has been lent once). The buffer goes back to
//! the kernel when the ring's handle is the only reference left
//! (`BytesMut::try_reclaim`, whose uniqueness check is an Acquire load
//! pairing with the Release decrement of the last `Bytes` dropped, on any
//! thread): so a `Bytes` dropped on another core comes home with no message
//! at all. The ring scans the buffers it has lent before every wait
//! ([`BufRing::reclaim`]); a user who holds on to every buffer starves the
//! core's receives (they end with `ENOBUFS` and re-arm once buffers return),
//! never its memory safety.

use bytes::{Bytes, BytesMut};
use io_uring::types::BufRingEntry;
use std::alloc::{self, Layout};
use std::sync::atomic::{AtomicU16, Ordering};

/// The buffer group id of the (one) ring per core.
pub(crate) const GROUP: u16 = 0;

pub(crate) struct BufRing {
    /// The kernel-shared entry array (page aligned, `entries` long).
    ring: *mut BufRingEntry,
    layout: Layout,
    mask: u16,
    /// Our copy of the tail (the kernel only reads it).
    tail: u16,
    size: usize,
    bufs: Vec<BytesMut>,
    /// Where each buffer starts: what the kernel was given.
    base: Vec<*mut u8>,
    /// Buffers lent out as `Bytes`, in lending order.
    lent: Vec<u16>,
    /// Where the next partial reclaim scan starts.
    cursor: usize,
    /// Buffers the kernel may fill right now.
    pub(crate) available: usize,
}

/// At most this many lent buffers are looked at per reclaim (a rotating
/// window), unless the caller asks for a full scan.
const SCAN: usize = 256;

impl BufRing {
    /// `entries` buffers (a power of two, at most 32768) of `size` bytes.
    pub(crate) fn new(entries: u16, size: usize) -> std::io::Result<BufRing> {
        assert!(entries.is_power_of_two() && entries <= 32768);
        let bytes = usize::from(entries) * std::mem::size_of::<BufRingEntry>();
        // Page aligned, whatever the page size (the kernel maps it).
        // SAFETY: sysconf has no memory preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096);
        let layout = Layout::from_size_align(bytes.max(page), page)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: the layout has a non-zero size.
        let ring = unsafe { alloc::alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if ring.is_null() {
            return Err(std::io::ErrorKind::OutOfMemory.into());
        }
        let mut bufs = Vec::with_capacity(usize::from(entries));
        let mut base = Vec::with_capacity(usize::from(entries));
        for _ in 0..entries {
            let mut b = BytesMut::with_capacity(size);
            // Make the handle shared now (`split_to` on a fresh BytesMut
            // allocates its reference-counted header once), so lending it
            // later allocates nothing.
            b.resize(1, 0);
            drop(b.split_to(1));
            let reclaimed = b.try_reclaim(size);
            debug_assert!(reclaimed);
            base.push(b.as_mut_ptr());
            bufs.push(b);
        }
        let mut r = BufRing {
            ring,
            layout,
            mask: entries - 1,
            tail: 0,
            size,
            bufs,
            base,
            lent: Vec::with_capacity(usize::from(entries)),
            cursor: 0,
            available: 0,
        };
        for bid in 0..entries {
            r.put(bid);
        }
        r.publish();
        Ok(r)
    }

    pub(crate) fn ring_addr(&self) -> u64 {
        self.ring as u64
    }

    pub(crate) fn entries(&self) -> u16 {
        self.mask.wrapping_add(1)
    }

    pub(crate) fn lent(&self) -> usize {
        self.lent.len()
    }

    /// Writes buffer `bid` into the next entry (not yet visible).
    fn put(&mut self, bid: u16) {
        let i = usize::from(self.tail & self.mask);
        // SAFETY: `i < entries`, inside the allocation; the kernel reads
        // entries only between its head and our published tail, and this
        // one is past the tail until `publish`.
        let e = unsafe { &mut *self.ring.add(i) };
        e.set_addr(self.base[usize::from(bid)] as u64);
        e.set_len(self.size as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        self.available += 1;
    }

    /// Makes the entries written since the last call visible to the kernel.
    fn publish(&self) {
        // SAFETY: `ring` is the page-aligned first entry of the array the
        // kernel was given; `tail` points into its `resv` field, which the
        // kernel reads as the ring's tail and never writes.
        let tail = unsafe { BufRingEntry::tail(self.ring) } as *const AtomicU16;
        // Release: the entries written above must be visible before the
        // kernel (which loads the tail with acquire semantics) reads them.
        // SAFETY: an aligned u16 field, live as long as `self`; only this
        // thread writes it.
        unsafe { (*tail).store(self.tail, Ordering::Release) };
    }

    /// The kernel filled `len` bytes of buffer `bid`: lend them out.
    pub(crate) fn take(&mut self, bid: u16, len: usize) -> Option<Bytes> {
        let b = self.bufs.get_mut(usize::from(bid))?;
        if len > b.capacity() || b.as_mut_ptr() != self.base[usize::from(bid)] {
            return None; // not a buffer we handed out: ignore the claim
        }
        self.available -= 1;
        // SAFETY: the kernel wrote `len` initialised bytes at the start of
        // this buffer (the completion says so), and `len <= capacity`.
        unsafe { b.set_len(len) };
        let out = b.split_to(len).freeze();
        self.lent.push(bid);
        Some(out)
    }

    /// The kernel picked buffer `bid` but put nothing in it (an error or
    /// end of stream): give it straight back.
    pub(crate) fn recycle(&mut self, bid: u16) {
        if usize::from(bid) < self.bufs.len() {
            self.available -= 1;
            self.put(bid);
            self.publish();
        }
    }

    /// Gives back to the kernel every lent buffer nobody references any
    /// more (up to [`SCAN`] looked at, or all with `full`). Returns how
    /// many came back.
    pub(crate) fn reclaim(&mut self, full: bool) -> usize {
        if self.lent.is_empty() {
            return 0;
        }
        let n = self.lent.len();
        let look = if full { n } else { n.min(SCAN) };
        let mut back = 0;
        let mut i = self.cursor.min(n.saturating_sub(1));
        let mut seen = 0;
        while seen < look && !self.lent.is_empty() {
            if i >= self.lent.len() {
                i = 0;
            }
            let bid = self.lent[i];
            let size = self.size;
            let b = &mut self.bufs[usize::from(bid)];
            // `try_reclaim` succeeds only when this handle is the last
            // reference (then it rewinds to the buffer's start, no copy:
            // the handle is empty).
            if b.try_reclaim(size) {
                if b.as_mut_ptr() != self.base[usize::from(bid)] {
                    // Cannot happen with bytes' documented behaviour; if it
                    // ever did, replace the buffer rather than hand the
                    // kernel memory we do not own.
                    let mut fresh = BytesMut::with_capacity(size);
                    self.base[usize::from(bid)] = fresh.as_mut_ptr();
                    *b = fresh;
                }
                self.lent.swap_remove(i);
                self.put(bid);
                back += 1;
            } else {
                i += 1;
            }
            seen += 1;
        }
        self.cursor = i;
        if back > 0 {
            self.publish();
        }
        back
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // The driver unregisters the ring (or leaks it, when the kernel may
        // still use it) before this runs. The buffers themselves are
        // `BytesMut`s: outstanding `Bytes` keep theirs alive.
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { alloc::dealloc(self.ring.cast(), self.layout) };
    }
}
