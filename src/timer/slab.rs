//! Entry storage: a `Vec`-backed slab with generation-checked keys.
//!
//! # Ground rules
//!
//! * A slot is either `Occupied` (a pending timer, linked into exactly one
//!   wheel list) or `Vacant` (on the free list). There is no third state.
//! * A slot's generation changes every time it is freed, so a [`TimerKey`]
//!   naming a freed (and possibly reused) slot no longer matches. A slot
//!   whose next generation would come back to its first one (after 2^32
//!   frees) is retired instead of reused: it stays vacant and off the free
//!   list for good, so no stale key ever matches again. Every slot was made
//!   with generation `seed` (the seed never changes; [`clear`](Slab::clear)
//!   frees each slot as a cancel would, moving its generation on), so a
//!   slot's generations run from `seed` round to `seed - 1`.
//! * Fresh slots start at a per-wheel random generation, so a key from
//!   another wheel matches only by a 1-in-2^32 accident.
//! * Indices are `u32`; [`NIL`] (`u32::MAX`) is "no entry". The slab holds at
//!   most `u32::MAX - 1` entries.
//! * No `unsafe`: the vacant variant carries no `T`, and the enum layout puts
//!   its tag in the niche of `Entry::list` (a `NonZeroU32`), which keeps an
//!   occupied slot with a `u64` payload at 32 bytes (checked by a test).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU32;

/// "No entry" for list links and the free list.
pub(crate) const NIL: u32 = u32::MAX;

/// A handle to a pending timer, returned by [`Wheel::insert`](super::Wheel::insert),
/// [`Wheel::insert_at`](super::Wheel::insert_at) and
/// [`Wheel::insert_in`](super::Wheel::insert_in), and handed back with the
/// value in an [`Expired`](super::Expired).
///
/// Eight bytes: a slab index and a generation. A key stays valid across
/// [`reset`](super::Wheel::reset) and becomes stale once its timer fires or
/// is cancelled; a stale key (or one from another wheel) makes
/// [`cancel`](super::Wheel::cancel), [`reset`](super::Wheel::reset) and
/// [`get`](super::Wheel::get) answer `None`/`false` and touch nothing.
///
/// # Examples
///
/// ```
/// use corelane::timer::Wheel;
///
/// let mut wheel = Wheel::new();
/// let key = wheel.insert_at(10, "order-7 ttl");
/// assert_eq!(wheel.cancel(key), Some("order-7 ttl"));
/// assert_eq!(wheel.cancel(key), None); // stale now
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TimerKey {
    index: u32,
    gen: u32,
}

impl TimerKey {
    /// The slab index this key names.
    #[inline]
    pub(crate) fn index(self) -> u32 {
        self.index
    }

    /// A key with arbitrary fields, for tests.
    #[cfg(test)]
    pub(crate) fn from_test(index: u32, gen: u32) -> Self {
        TimerKey { index, gen }
    }
}

/// An occupied slot: one pending timer.
pub(crate) struct Entry<T> {
    /// Previous entry in the list, or [`NIL`] at the head.
    pub(crate) prev: u32,
    /// Next entry in the list, or [`NIL`] at the tail.
    pub(crate) next: u32,
    gen: u32,
    /// List id + 1 (the niche holds the enum tag).
    list: NonZeroU32,
    /// The requested deadline tick (never clamped).
    pub(crate) deadline: u64,
    pub(crate) value: T,
}

impl<T> Entry<T> {
    /// The key that names this entry, stored at `index`. (After the entry
    /// is removed, the key is stale: its slot's generation has moved on.)
    #[inline]
    pub(crate) fn key(&self, index: u32) -> TimerKey {
        TimerKey {
            index,
            gen: self.gen,
        }
    }

    /// The id of the list this entry is linked into.
    #[inline]
    pub(crate) fn list(&self) -> u32 {
        self.list.get() - 1
    }

    /// Records the list this entry is linked into.
    #[inline]
    pub(crate) fn set_list(&mut self, list: u32) {
        // List ids are small (< 2^11), so this is exactly `list + 1`.
        self.list = NonZeroU32::MIN.saturating_add(list);
    }
}

enum Slot<T> {
    Occupied(Entry<T>),
    Vacant { gen: u32, next_free: u32 },
}

/// The slab itself.
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: u32,
    len: usize,
    /// Slots retired for good (ground rules): neither occupied nor free.
    retired: usize,
    seed: u32,
}

impl<T> Slab<T> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(capacity);
        Slab {
            slots: Vec::with_capacity(capacity),
            free: NIL,
            len: 0,
            retired: 0,
            seed: h.finish() as u32,
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.slots.capacity() - self.retired
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        let spare = self.slots.len() - self.len - self.retired;
        self.slots.reserve(additional.saturating_sub(spare));
    }

    /// Stores a new entry with the given links and returns its key.
    ///
    /// Panics when `u32::MAX - 1` entries are already stored.
    #[inline]
    pub(crate) fn insert(
        &mut self,
        prev: u32,
        next: u32,
        list: u32,
        deadline: u64,
        value: T,
    ) -> TimerKey {
        let mut entry = Entry {
            prev,
            next,
            gen: 0,
            list: NonZeroU32::MIN,
            deadline,
            value,
        };
        entry.set_list(list);
        let index = self.free;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            if let Slot::Vacant { gen, next_free } = *slot {
                self.free = next_free;
                self.len += 1;
                entry.gen = gen;
                *slot = Slot::Occupied(entry);
                return TimerKey { index, gen };
            }
        }
        self.insert_grow(entry)
    }

    /// [`insert`](Self::insert) with an empty free list: a new slot.
    #[cold]
    #[inline(never)]
    fn insert_grow(&mut self, mut entry: Entry<T>) -> TimerKey {
        let (index, gen) = self.grow();
        entry.gen = gen;
        self.slots[index as usize] = Slot::Occupied(entry);
        self.len += 1;
        TimerKey { index, gen }
    }

    /// Appends a fresh vacant slot (the free list is empty).
    fn grow(&mut self) -> (u32, u32) {
        debug_assert_eq!(self.free, NIL);
        let index = self.slots.len();
        assert!(
            index < NIL as usize,
            "timer wheel holds at most 2^32 - 2 timers"
        );
        self.slots.push(Slot::Vacant {
            gen: self.seed,
            next_free: NIL,
        });
        (index as u32, self.seed)
    }

    /// Frees the entry named by `key` and returns it, if the key is live.
    #[inline]
    pub(crate) fn take(&mut self, key: TimerKey) -> Option<Entry<T>> {
        match self.slots.get(key.index as usize) {
            Some(Slot::Occupied(e)) if e.gen == key.gen => Some(self.remove(key.index)),
            _ => None,
        }
    }

    /// The index named by `key` if it is live, else `None`.
    #[inline]
    pub(crate) fn find(&self, key: TimerKey) -> Option<u32> {
        match self.slots.get(key.index as usize) {
            Some(Slot::Occupied(e)) if e.gen == key.gen => Some(key.index),
            _ => None,
        }
    }

    /// Frees an occupied slot and returns its entry.
    #[inline]
    pub(crate) fn remove(&mut self, index: u32) -> Entry<T> {
        let slot = &mut self.slots[index as usize];
        let gen = match slot {
            Slot::Occupied(e) => e.gen.wrapping_add(1),
            Slot::Vacant { .. } => unreachable!("removing a vacant slot"),
        };
        // Generations used up: retire the slot (ground rules).
        let retire = gen == self.seed;
        let old = std::mem::replace(
            slot,
            Slot::Vacant {
                gen,
                next_free: if retire { NIL } else { self.free },
            },
        );
        if retire {
            self.retired += 1;
        } else {
            self.free = index;
        }
        self.len -= 1;
        match old {
            Slot::Occupied(e) => e,
            Slot::Vacant { .. } => unreachable!(),
        }
    }

    /// The occupied entry at `index` (an internal invariant: lists only
    /// name occupied slots).
    #[inline]
    pub(crate) fn entry(&self, index: u32) -> &Entry<T> {
        match &self.slots[index as usize] {
            Slot::Occupied(e) => e,
            Slot::Vacant { .. } => unreachable!("list names a vacant slot"),
        }
    }

    /// Mutable form of [`entry`](Self::entry).
    #[inline]
    pub(crate) fn entry_mut(&mut self, index: u32) -> &mut Entry<T> {
        match &mut self.slots[index as usize] {
            Slot::Occupied(e) => e,
            Slot::Vacant { .. } => unreachable!("list names a vacant slot"),
        }
    }

    /// Frees every entry (dropping the values) as a cancel would, so every
    /// outstanding key goes stale, and keeps the allocation. Each slot is
    /// vacated before its value is dropped; if a value's `Drop` panics, the
    /// rest are still freed (and dropped) while the panic unwinds, so the
    /// slab is never left naming entries that its lists have forgotten.
    pub(crate) fn clear(&mut self) {
        /// Frees the slots from `next` on, also while unwinding.
        struct Rest<'a, T> {
            slab: &'a mut Slab<T>,
            next: usize,
        }
        impl<T> Rest<'_, T> {
            fn run(&mut self) {
                while self.next < self.slab.slots.len() {
                    let i = self.next;
                    self.next += 1;
                    if matches!(self.slab.slots[i], Slot::Occupied(_)) {
                        drop(self.slab.remove(i as u32));
                    }
                }
            }
        }
        impl<T> Drop for Rest<'_, T> {
            fn drop(&mut self) {
                self.run();
            }
        }
        Rest {
            slab: self,
            next: 0,
        }
        .run();
        debug_assert_eq!(self.len, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupied_slot_with_u64_payload_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Slot<u64>>(), 32);
        assert_eq!(std::mem::size_of::<Slot<()>>(), 24);
    }

    #[test]
    fn generations_reject_stale_keys() {
        let mut slab = Slab::with_capacity(2);
        let a = slab.insert(NIL, NIL, 0, 1, 'a');
        assert_eq!(slab.find(a), Some(a.index));
        assert_eq!(slab.take(a).map(|e| e.value), Some('a'));
        assert!(slab.take(a).is_none());
        assert_eq!(slab.find(a), None);
        let b = slab.insert(NIL, NIL, 0, 2, 'b');
        assert_eq!(slab.entry(b.index).key(b.index), b);
        assert_eq!(b.index, a.index, "freed slot is reused");
        assert_ne!(b, a);
        assert_eq!(slab.find(a), None);
        assert_eq!(slab.find(b), Some(b.index));
        let far = TimerKey {
            index: 1000,
            gen: b.gen,
        };
        assert_eq!(slab.find(far), None);
    }

    /// A slot that has used every generation is never handed out again, so
    /// a key from its first use cannot name a later timer.
    #[test]
    fn a_slot_whose_generations_wrap_is_retired() {
        let mut slab = Slab::with_capacity(2);
        let first = slab.insert(NIL, NIL, 0, 1, 'a');
        assert_eq!(first.gen, slab.seed);
        // Fast-forward the slot to its last generation (2^32 - 1 frees on).
        let last = TimerKey {
            index: first.index,
            gen: slab.seed.wrapping_sub(1),
        };
        match &mut slab.slots[first.index as usize] {
            Slot::Occupied(e) => e.gen = last.gen,
            Slot::Vacant { .. } => unreachable!(),
        }
        assert_eq!(slab.take(last).map(|e| e.value), Some('a'));
        let next = slab.insert(NIL, NIL, 0, 2, 'b');
        assert_ne!(next.index, first.index, "a worn-out slot is not reused");
        assert_eq!(slab.find(first), None);
        assert_eq!(slab.find(last), None);
        assert_eq!(slab.len(), 1);
        // Other slots recycle as usual.
        assert_eq!(slab.take(next).map(|e| e.value), Some('b'));
        let again = slab.insert(NIL, NIL, 0, 3, 'c');
        assert_eq!(again.index, next.index);
        assert_eq!(slab.capacity(), slab.slots.capacity() - 1);
    }

    /// `clear` frees entries as cancels do: a key from before it never
    /// names a later timer, however many clears follow.
    ///
    /// The counts are chosen so that any scheme which re-seeds generations
    /// by a fixed step per clear (0x9E37_79B9) would hand the old key's
    /// index and generation to the next timer.
    #[test]
    fn keys_from_before_a_clear_stay_stale() {
        let mut slab = Slab::with_capacity(1);
        for _ in 0..52_777 {
            let k = slab.insert(NIL, NIL, 0, 1, 0u32);
            slab.take(k);
        }
        let old = slab.insert(NIL, NIL, 0, 1, 1u32);
        for _ in 0..28_657 {
            slab.clear();
        }
        let new = slab.insert(NIL, NIL, 0, 1, 2u32);
        assert_ne!(new, old);
        assert_eq!(slab.find(old), None);
    }

    /// A value whose `Drop` panics in the middle of `clear` leaves the
    /// slab empty and consistent: every other value is dropped too.
    #[test]
    fn clear_survives_a_panicking_drop() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Bomb(bool);
        impl Drop for Bomb {
            fn drop(&mut self) {
                // Relaxed: one thread drops and reads (a drop counter).
                DROPS.fetch_add(1, Ordering::Relaxed);
                assert!(!self.0, "boom");
            }
        }
        let mut slab = Slab::with_capacity(3);
        slab.insert(NIL, NIL, 0, 1, Bomb(false));
        let bomb = slab.insert(NIL, NIL, 0, 1, Bomb(true));
        slab.insert(NIL, NIL, 0, 1, Bomb(false));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| slab.clear()));
        assert!(caught.is_err());
        // Relaxed: the drops ran on this thread.
        assert_eq!(DROPS.load(Ordering::Relaxed), 3);
        assert_eq!(slab.len(), 0);
        assert_eq!(slab.find(bomb), None);
        slab.reserve(3);
        assert_eq!(slab.insert(NIL, NIL, 0, 1, Bomb(false)).index, 2);
    }
}
