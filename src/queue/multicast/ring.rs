//! The shared body of a multicast ring: preallocated slots, the producer
//! cursor, a read-mostly control line, the two wake-up cells and the
//! registry of subscribers.

use super::graph::Registry;
use super::sequence::{Sequence, Stamp};
use crate::queue::wait::Notify;
use crate::sync::{AtomicU32, AtomicUsize, CachePadded, Mutex, Ordering, UnsafeCell};

/// `closed_at` while at least one publisher is alive.
pub(crate) const OPEN: usize = usize::MAX;

/// One preallocated slot: its publication stamp and its value, which is
/// always initialized (made by the ring's factory, then overwritten in place).
pub(crate) struct Slot<T> {
    pub(crate) stamp: Stamp,
    pub(crate) value: UnsafeCell<T>,
    /// loom only: stands for the value's bytes in a lossy cursor's racy
    /// copy (loom cannot see which write a plain copy read from). Written
    /// Relaxed with the value, read Relaxed with the copy, exactly as the
    /// bytes are; a copy the seqlock accepts must have read `pos + 1`.
    #[cfg(corelane_loom)]
    probe: AtomicUsize,
}

impl<T> Slot<T> {
    pub(crate) fn new(value: T) -> Self {
        Slot {
            stamp: Stamp::new(),
            value: UnsafeCell::new(value),
            #[cfg(corelane_loom)]
            probe: AtomicUsize::new(0),
        }
    }

    /// Called by a publisher right after writing the value of `pos`; a
    /// no-op outside loom builds.
    #[inline(always)]
    pub(crate) fn wrote(&self, pos: usize) {
        // Relaxed, exactly as the value's bytes are written: the Release
        // fence after `begin_write` orders it after the `WRITING` mark, and
        // the stamp's publication (Release, or a run's fence) after it.
        #[cfg(corelane_loom)]
        self.probe.store(pos.wrapping_add(1), Ordering::Relaxed);
        #[cfg(not(corelane_loom))]
        let _ = pos;
    }

    /// loom only: which write a racy copy taken now reads from.
    #[cfg(corelane_loom)]
    pub(crate) fn probe(&self) -> usize {
        // Relaxed, exactly as the racy copy reads the bytes: if it read a
        // later write, the Acquire fence of the `recheck` that follows syncs
        // with that writer's fence and the seqlock rejects the copy.
        self.probe.load(Ordering::Relaxed)
    }
}

/// Written only on join/leave and on the last publisher's drop; read on
/// every publish (`version`) and in slow paths.
struct Control {
    /// Bumped (under the registry lock) by every join and leave.
    version: AtomicUsize,
    /// The final position once every publisher is gone, else [`OPEN`].
    closed_at: AtomicUsize,
    /// Live publisher handles.
    publishers: AtomicUsize,
    /// Lossy cursors switched to the seqlock read
    /// ([`LossyCursor::copied`](super::LossyCursor::copied)); the others
    /// clone under an announcement, which publishers must check (see
    /// `lossy.rs`). Changed and read only under the registry lock, which
    /// orders every access: Relaxed.
    copied_taps: AtomicUsize,
}

pub(crate) struct Ring<T> {
    /// The producer's position. Single producer: the count of published
    /// items (stored after their stamps, once per batch and at gating
    /// refreshes, so it may lag single-item publishes). Many producers: the
    /// next position to claim (claims are not publications).
    pub(crate) producer: Sequence,
    ctl: CachePadded<Control>,
    /// Root subscribers wait here for items.
    pub(crate) items: CachePadded<Notify>,
    /// Publishers wait here for room, dependent subscribers for their
    /// upstream; every release notifies it.
    pub(crate) released: CachePadded<Notify>,
    pub(crate) registry: Mutex<Registry>,
    pub(crate) multi: bool,
    mask: usize,
    slots: Box<[Slot<T>]>,
    /// Per slot: lossy cursors cloning out of it right now (the
    /// announcements of `lossy.rs`; at most one per lossy cursor, and
    /// there are fewer than `2^32` nodes). A separate array, so a slot is
    /// no larger for rings without a cloning tap; publishers look at it
    /// only while one is subscribed.
    clones: Box<[AtomicU32]>,
}

// The producer writes values of `T` in place from its thread and
// subscribers on other threads read them by shared reference; who may touch
// which slot when is arbitrated by stamps and gating sequences (module docs
// of `multicast`); everything else is atomics or behind the registry mutex.
// SAFETY: hence `T: Send + Sync`, and the protocol above.
unsafe impl<T: Send + Sync> Send for Ring<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Ring<T> {}

impl<T> Ring<T> {
    pub(crate) fn new(slots: Box<[Slot<T>]>, multi: bool, registry: Registry) -> Self {
        debug_assert!(slots.len().is_power_of_two());
        let clones = (0..slots.len()).map(|_| AtomicU32::new(0)).collect();
        Ring {
            producer: Sequence::new(0),
            ctl: CachePadded::new(Control {
                version: AtomicUsize::new(0),
                closed_at: AtomicUsize::new(OPEN),
                publishers: AtomicUsize::new(1),
                copied_taps: AtomicUsize::new(0),
            }),
            items: CachePadded::new(Notify::new()),
            released: CachePadded::new(Notify::new()),
            registry: Mutex::new(registry),
            multi,
            mask: slots.len() - 1,
            slots,
            clones,
        }
    }

    /// The count of lossy cursors cloning out of `pos`'s slot (see
    /// `lossy.rs` for the protocol around it).
    #[inline]
    pub(crate) fn clones(&self, pos: usize) -> &AtomicU32 {
        &self.clones[pos & self.mask]
    }

    /// Lossy cursors that read by seqlock copy instead of cloning. Call
    /// with the registry lock held (see the field).
    pub(crate) fn copied_taps(&self) -> usize {
        // Relaxed: under the registry lock (see the field).
        self.ctl.copied_taps.load(Ordering::Relaxed)
    }

    /// One more (`true`) or one fewer seqlock tap. Call with the registry
    /// lock held, before the version bump that tells publishers.
    pub(crate) fn count_copied_tap(&self, more: bool) {
        // Relaxed: under the registry lock (see the field).
        if more {
            self.ctl.copied_taps.fetch_add(1, Ordering::Relaxed);
        } else {
            self.ctl.copied_taps.fetch_sub(1, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn slot(&self, pos: usize) -> &Slot<T> {
        // Masked, so always in bounds; the bounds check folds away.
        &self.slots[pos & self.mask]
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// The registry version. Relaxed: a fast-path hint only; the gating
    /// refresh re-reads it after a barrier (see `publisher.rs`), and a stale
    /// value sends a handle to the registry lock, which is authoritative.
    #[inline]
    pub(crate) fn version(&self) -> usize {
        self.ctl.version.load(Ordering::Relaxed)
    }

    /// Bumps the version; call with the registry lock held, after the
    /// change. SeqCst RMW: the joiner's half of the join handshake (with the
    /// heavy barrier after it; see `builder.rs`).
    pub(crate) fn bump_version(&self) -> usize {
        self.ctl
            .version
            .fetch_add(1, Ordering::SeqCst)
            .wrapping_add(1)
    }

    /// The final position, or [`OPEN`]. Acquire: pairs with the Release in
    /// [`close`](Self::close), so every stamp published before is visible.
    #[inline]
    pub(crate) fn closed_at(&self) -> usize {
        self.ctl.closed_at.load(Ordering::Acquire)
    }

    pub(crate) fn add_publisher(&self) {
        // Relaxed: the new handle is cloned from a live one, which keeps the
        // count above zero meanwhile (the `Arc::clone` argument).
        self.ctl.publishers.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops one publisher handle; the last one closes the ring at `at`
    /// (`None`: read the claim cursor, for many producers).
    pub(crate) fn remove_publisher(&self, at: Option<usize>) {
        // AcqRel: the last handle must see every other handle's publications
        // (their Release decrements) before it records the final position.
        if self.ctl.publishers.fetch_sub(1, Ordering::AcqRel) == 1 {
            let at = at.unwrap_or_else(|| self.producer.get());
            // Release: pairs with `closed_at`'s Acquire.
            self.ctl.closed_at.store(at, Ordering::Release);
            self.items.notify_slow();
            self.released.notify_slow();
        }
    }

    /// True once every publisher is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed_at() != OPEN
    }
}
