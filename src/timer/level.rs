//! The level table: list heads, per-slot counts, occupancy bitmaps, and the
//! placement math. Pure integer ticks; no clocks here.
//!
//! # Ground rules
//!
//! * Level `L` has slots `64^L` ticks wide. A deadline `d` has the absolute
//!   level-`L` slot number `d >> 6L`; its list is `L * 128 + (d >> 6L) % 128`.
//! * Each level keeps **two rotations** of 64 slots (128 lists, a 128-bit
//!   `occupied` bitmap): the rotation containing `now` and the next one. The
//!   second rotation is what lets a coarse slot be moved down *gradually*,
//!   while the finer level is still busy with the current rotation.
//! * Placement (from tick `now`, for `d > now`): the lowest level `L` with
//!   `(d >> 6(L+1)) - (now >> 6(L+1)) <= 1`, i.e. `d` lies in the current or
//!   the next rotation of level `L`. Consequences:
//!   - level 0 holds `now < d < now + 128`, so a level-0 slot holds exactly
//!     one tick's timers and firing needs no deadline comparison;
//!   - on a level `L >= 1` an entry's absolute slot `m` satisfies
//!     `c + 2 <= m <= c + 127` when placed (`c = now >> 6L`), so the 128
//!     lists never alias, and the current slot `c` only receives entries
//!     when `now` crosses into it (it is then drained before `now` moves on);
//!   - `d <= now` goes to the level-0 list of `now` ("due").
//! * With fewer than 11 levels (a shortened horizon), a deadline beyond the
//!   top level's two rotations goes to the **overflow list** (unsorted,
//!   doubly linked like the others, so cancel stays O(1)). `overflow_min` is
//!   a lower bound of its deadlines. Placeability only changes when `now`
//!   crosses a top-level rotation, so the overflow needs a look only at the
//!   rotation boundary that brings `overflow_min` into range
//!   ([`overflow_scan_tick`](Levels::overflow_scan_tick)); the scan places
//!   what fits and recomputes the minimum. Nothing is dropped, and a large
//!   jump costs one scan, not one step per rotation. With 11 levels
//!   (`6 * 11 >= 64`) every `u64` deadline has a level and the overflow is
//!   never used.
//! * `counts[list]` is the number of entries in a list; `occupied` has a bit
//!   set exactly when the list is non-empty (two `u64` words a level, word
//!   `list >> 6`); `nonempty` has bit `L` set exactly when level `L` has any
//!   entry. Bits change only when a count goes 0 -> 1 or 1 -> 0.
//! * A list's head is recognised by `heads[list] == index`, never by its
//!   `prev` link, which is left stale when the head is removed: removing the
//!   head (firing, or cancelling the newest timer) touches no other entry.
//! * The tables are sized for 16 levels and indexed with a mask, so the
//!   compiler can drop their bounds checks.

use super::slab::{Slab, TimerKey, NIL};

/// log2 of the slots per rotation.
pub(crate) const SLOT_BITS: u32 = 6;
/// Lists per level: two rotations of 64 slots.
pub(crate) const RING: u32 = 128;
const RING_MASK: u64 = RING as u64 - 1;
/// Levels needed to cover every `u64` tick (`6 * 11 >= 64`).
pub(crate) const MAX_LEVELS: u32 = 11;
/// The smallest level count (levels 0 and 1 have fast paths).
pub(crate) const MIN_LEVELS: u32 = 2;

/// Lists the tables have room for (16 levels; only `levels` are used).
const LISTS: usize = 16 * RING as usize;
/// The overflow list (beyond a shortened horizon): the last list of the
/// table, on a level never used, so the engine's level loops skip it.
pub(crate) const OVERFLOW: u32 = LISTS as u32 - 1;

/// The level table.
pub(crate) struct Levels {
    heads: Box<[u32; LISTS]>,
    counts: Box<[u32; LISTS]>,
    occupied: [u64; LISTS / 64],
    nonempty: u32,
    levels: u32,
    /// A lower bound of the overflow list's deadlines (`u64::MAX` if empty).
    overflow_min: u64,
}

/// The list of `slot` (absolute slot number) on `level`.
#[inline]
pub(crate) fn list_id(level: u32, slot: u64) -> u32 {
    level * RING + (slot & RING_MASK) as u32
}

/// The level-0 list holding timers due at tick `now` (and earlier).
#[inline]
pub(crate) fn due_list(now: u64) -> u32 {
    (now & RING_MASK) as u32
}

#[inline(always)]
fn ix(list: u32) -> usize {
    list as usize & (LISTS - 1)
}

impl Levels {
    /// A table of `levels` levels (clamped to `MIN_LEVELS..=MAX_LEVELS`).
    pub(crate) fn new(levels: u32) -> Self {
        Levels {
            heads: Box::new([NIL; LISTS]),
            counts: Box::new([0; LISTS]),
            occupied: [0; LISTS / 64],
            nonempty: 0,
            levels: levels.clamp(MIN_LEVELS, MAX_LEVELS),
            overflow_min: u64::MAX,
        }
    }

    /// Number of levels.
    #[inline]
    pub(crate) fn levels(&self) -> u32 {
        self.levels
    }

    /// Bit `L` set when level `L` holds any entry (the overflow list is not
    /// a level and never shows here).
    #[inline]
    pub(crate) fn nonempty(&self) -> u32 {
        self.nonempty & ((1 << self.levels) - 1)
    }

    /// The tick at which the overflow list must be scanned: the top-level
    /// rotation boundary from which its earliest deadline can be placed.
    /// `None` when it is empty.
    #[inline]
    pub(crate) fn overflow_scan_tick(&self) -> Option<u64> {
        if self.counts[ix(OVERFLOW)] == 0 {
            return None;
        }
        // Placeable from `now` once `(d >> S) <= (now >> S) + 1`; overflow
        // entries have `d >> S >= 2`, so this does not underflow.
        let shift = SLOT_BITS * self.levels;
        Some(((self.overflow_min >> shift).max(1) - 1) << shift)
    }

    /// Records the exact minimum after a scan of the overflow list.
    pub(crate) fn set_overflow_min(&mut self, min: u64) {
        self.overflow_min = min;
    }

    /// First entry of a list, or [`NIL`].
    #[inline(always)]
    pub(crate) fn head(&self, list: u32) -> u32 {
        self.heads[ix(list)]
    }

    /// Entries in a list.
    #[inline]
    pub(crate) fn count(&self, list: u32) -> u32 {
        self.counts[ix(list)]
    }

    /// The 128-bit occupancy of `level` (bit `i`: list `level * 128 + i`).
    #[inline]
    fn occupancy(&self, level: u32) -> u128 {
        let w = (level as usize * 2) & (LISTS / 64 - 1);
        u128::from(self.occupied[w]) | u128::from(self.occupied[(w + 1) & (LISTS / 64 - 1)]) << 64
    }

    /// The list a deadline belongs to, seen from tick `now` (see the ground
    /// rules).
    #[inline]
    pub(crate) fn list_for(&self, now: u64, deadline: u64) -> u32 {
        match self.list_near(now, deadline) {
            Some(list) => list,
            None => self.list_for_far(now, deadline),
        }
    }

    /// [`list_for`](Self::list_for) when the answer is the due list or on
    /// level 0 or 1 (the hot cases), else `None`.
    #[inline(always)]
    pub(crate) fn list_near(&self, now: u64, deadline: u64) -> Option<u32> {
        if deadline <= now {
            Some(due_list(now))
        } else if (deadline >> SLOT_BITS) <= (now >> SLOT_BITS) + 1 {
            Some(list_id(0, deadline))
        } else if (deadline >> (2 * SLOT_BITS)) <= (now >> (2 * SLOT_BITS)) + 1 {
            Some(list_id(1, deadline >> SLOT_BITS))
        } else {
            None
        }
    }

    fn list_for_far(&self, now: u64, deadline: u64) -> u32 {
        for level in 2..self.levels {
            let shift = SLOT_BITS * (level + 1);
            if shift >= u64::BITS || (deadline >> shift) <= (now >> shift) + 1 {
                return list_id(level, deadline >> (SLOT_BITS * level));
            }
        }
        OVERFLOW
    }

    /// Stores a new timer at the head of `list`; one slab write.
    #[inline(always)]
    pub(crate) fn link_new<T>(
        &mut self,
        slab: &mut Slab<T>,
        list: u32,
        deadline: u64,
        value: T,
    ) -> TimerKey {
        if list == OVERFLOW {
            self.overflow_min = self.overflow_min.min(deadline);
        }
        let head = self.heads[ix(list)];
        let key = slab.insert(NIL, head, list, deadline, value);
        if head != NIL {
            slab.entry_mut(head).prev = key.index();
        }
        self.heads[ix(list)] = key.index();
        self.added(list);
        key
    }

    /// Links the (unlinked) entry `index` at the head of `list`.
    #[inline]
    pub(crate) fn push<T>(&mut self, slab: &mut Slab<T>, list: u32, index: u32) {
        let head = self.heads[ix(list)];
        debug_assert_ne!(head, index, "an entry is linked into one list once");
        let e = slab.entry_mut(index);
        if list == OVERFLOW {
            self.overflow_min = self.overflow_min.min(e.deadline);
        }
        e.prev = NIL;
        e.next = head;
        e.set_list(list);
        if head != NIL {
            slab.entry_mut(head).prev = index;
        }
        self.heads[ix(list)] = index;
        self.added(list);
    }

    #[inline(always)]
    fn added(&mut self, list: u32) {
        let count = &mut self.counts[ix(list)];
        *count += 1;
        if *count == 1 {
            self.occupied[ix(list) >> 6] |= 1 << (list & 63);
            self.nonempty |= 1 << (list / RING);
        }
    }

    /// Unlinks entry `index` from whatever list holds it.
    #[inline]
    pub(crate) fn unlink<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let e = slab.entry(index);
        let (prev, next, list) = (e.prev, e.next, e.list());
        self.detach(slab, index, prev, next, list);
    }

    /// Closes the gap entry `index` (links `prev`/`next`) leaves in `list`;
    /// the entry itself may already be freed.
    #[inline(always)]
    pub(crate) fn detach<T>(
        &mut self,
        slab: &mut Slab<T>,
        index: u32,
        prev: u32,
        next: u32,
        list: u32,
    ) {
        debug_assert!(self.counts[ix(list)] > 0, "unlinking from an empty list");
        if self.heads[ix(list)] == index {
            // The new head's `prev` is never read: leave it.
            self.heads[ix(list)] = next;
        } else {
            debug_assert_ne!(prev, NIL, "a list's non-head entry has a prev");
            slab.entry_mut(prev).next = next;
            if next != NIL {
                slab.entry_mut(next).prev = prev;
            }
        }
        let count = &mut self.counts[ix(list)];
        *count -= 1;
        if *count == 0 {
            self.emptied(list);
        }
    }

    #[inline]
    fn emptied(&mut self, list: u32) {
        if list == OVERFLOW {
            self.overflow_min = u64::MAX;
        }
        debug_assert_eq!(self.heads[ix(list)], NIL, "an emptied list has no head");
        let w = ix(list) >> 6;
        self.occupied[w] &= !(1 << (list & 63));
        if self.occupied[w] == 0 && self.occupied[w ^ 1] == 0 {
            self.nonempty &= !(1 << (list / RING));
        }
    }

    /// The first tick after `now` at which `level` needs attention: the start
    /// of its earliest occupied slot after the current one (for level 0 that
    /// is the exact deadline of the timers there).
    #[inline]
    pub(crate) fn next_event(&self, level: u32, now: u64) -> Option<u64> {
        let shift = SLOT_BITS * level;
        let c = now >> shift;
        let bits = self.occupancy(level) & !(1u128 << (c & RING_MASK));
        if bits == 0 {
            return None;
        }
        let from = c.checked_add(1)?;
        let m = from.checked_add(u64::from(
            bits.rotate_right((from & RING_MASK) as u32)
                .trailing_zeros(),
        ))?;
        if m > u64::MAX >> shift {
            return None;
        }
        Some(m << shift)
    }

    /// `true` when a level `>= 1` still holds entries in the slot containing
    /// `now` (a drain is pending).
    pub(crate) fn drain_pending(&self, now: u64) -> bool {
        let mut mask = self.nonempty() & !1;
        while mask != 0 {
            let level = mask.trailing_zeros();
            mask &= mask - 1;
            if self.head(list_id(level, now >> (SLOT_BITS * level))) != NIL {
                return true;
            }
        }
        false
    }

    /// Empties every list (the slab is cleared separately).
    pub(crate) fn clear(&mut self) {
        self.heads.fill(NIL);
        self.counts.fill(0);
        self.occupied = [0; LISTS / 64];
        self.nonempty = 0;
        self.overflow_min = u64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level_of(list: u32) -> u32 {
        list / RING
    }

    #[test]
    fn placement_picks_the_lowest_level_whose_two_rotations_hold_the_deadline() {
        let l = Levels::new(MAX_LEVELS);
        assert_eq!(l.list_for(100, 5), due_list(100));
        assert_eq!(l.list_for(100, 100), due_list(100));
        assert_eq!(l.list_for(0, 127), 127);
        assert_eq!(level_of(l.list_for(0, 128)), 1);
        assert_eq!(level_of(l.list_for(63, 64)), 0);
        assert_eq!(level_of(l.list_for(4095, 4096)), 0);
        assert_eq!(level_of(l.list_for(4095, 4096 + 200)), 1);
        assert_eq!(level_of(l.list_for(0, u64::MAX)), 10);
        assert_eq!(level_of(l.list_for(u64::MAX - 1, u64::MAX)), 0);
        // Never the current slot of a level >= 1.
        for now in [0u64, 63, 64, 4095, 1 << 40, u64::MAX - 5000] {
            for d in [now + 129, now + 5000, now.saturating_add(1 << 30), u64::MAX] {
                let list = l.list_for(now, d);
                let level = level_of(list);
                if level > 0 {
                    let c = now >> (6 * level);
                    assert_ne!(list, list_id(level, c), "now={now} d={d}");
                    assert_ne!(list, list_id(level, c + 1), "now={now} d={d}");
                }
            }
        }
    }

    #[test]
    fn beyond_the_horizon_goes_to_the_overflow_list() {
        let l = Levels::new(3);
        assert_eq!(l.list_for(0, 1 << 40), OVERFLOW);
        assert_eq!(level_of(l.list_for(0, (1 << 18) * 2 - 1)), 2);
        assert_eq!(l.list_for(0, (1 << 18) * 2), OVERFLOW);
        assert_eq!(l.nonempty(), 0);
    }
}
