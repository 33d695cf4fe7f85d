//! The advance engine: firing, draining, and paced cascading.
//!
//! # Ground rules
//!
//! * `now` is the tick being processed. Every timer due at or before `now`
//!   is in the level-0 list of `now` (the "due list") or, while a drain is
//!   pending, in the current slot of a level `>= 1`. Every other timer is in
//!   a slot after the current one of its level.
//! * A tick is complete when its due list is empty and no level `>= 1` holds
//!   entries in the slot containing it. Only then does `now` move, and only
//!   to the next *stop*: the target, or the earliest tick at which some
//!   level's earliest occupied slot starts — so no occupied slot is ever
//!   jumped over, and empty stretches cost nothing.
//! * **Drain** (correctness): when `now` reaches the start of an occupied
//!   slot on level `L >= 1`, its entries are placed again from `now`
//!   (they land on lower levels, or in the due list). This is the classic
//!   cascade, and it is all a wheel strictly needs.
//! * **Pacing** (smoothness): while the wheel moves from `now` to the next
//!   stop, each level `L >= 1` moves a share of its *next* slot (`c + 1`)
//!   down ahead of time, `ceil(count * step / (aim - now))` entries, where
//!   `aim` is one lower-level slot before that slot starts. A slot is thus
//!   spread over the `64^L` ticks before it is due instead of landing on one
//!   poll, and the drains find it (almost always) empty. Pacing moves only
//!   entries due at or after the next stop, so it never makes anything late;
//!   skipping it (budget exhausted) is always safe.
//! * **Overflow** (shortened horizons only): when `now` reaches the
//!   overflow list's scan tick, one pass places what fits (see the `level`
//!   module). The scan tick is a stop like any other, so a jump over a long
//!   empty stretch costs nothing extra.
//! * Every unit of work — firing one timer or moving one entry — costs one
//!   unit of the caller's budget, which is how `advance_to_bounded` bounds a
//!   call (an overflow scan, once begun, runs to its end).

use super::level::{due_list, list_id, MAX_LEVELS, OVERFLOW, SLOT_BITS};
use super::slab::NIL;
use super::{Expired, Wheel};

/// What one engine step produced.
pub(super) enum Step<T> {
    /// A timer fired: its key, deadline and value.
    Fired(Expired<T>),
    /// The wheel is caught up with the target.
    Done,
    /// The budget ran out first.
    OutOfBudget,
}

enum Drain {
    Clean,
    Moved,
    OutOfBudget,
}

impl<T> Wheel<T> {
    /// Runs the wheel toward `target` until one timer fires, the target is
    /// reached, or `budget` is spent.
    pub(super) fn step(&mut self, target: u64, budget: &mut usize) -> Step<T> {
        loop {
            let due = due_list(self.now);
            if self.levels.head(due) != NIL {
                if *budget == 0 {
                    return Step::OutOfBudget;
                }
                *budget -= 1;
                let index = self.levels.head(due);
                let e = self.slab.remove(index);
                self.levels.detach(&mut self.slab, index, NIL, e.next, due);
                return Step::Fired(Expired {
                    key: e.key(index),
                    deadline_tick: e.deadline,
                    value: e.value,
                });
            }
            // Slots on levels >= 1 start at multiples of 64.
            if self.now & 63 == 0 && self.levels.nonempty() & !1 != 0 {
                match self.drain(budget) {
                    Drain::Clean => {}
                    Drain::Moved => continue,
                    Drain::OutOfBudget => return Step::OutOfBudget,
                }
            }
            if self
                .levels
                .overflow_scan_tick()
                .is_some_and(|t| t <= self.now)
            {
                self.scan_overflow(budget);
                continue;
            }
            if self.now >= target {
                return Step::Done;
            }
            let stop = self.next_stop(target);
            self.pace(stop, budget);
            self.now = stop;
        }
    }

    /// Unlinks entry `index` and links it where it belongs seen from `from`.
    #[inline]
    fn relink(&mut self, index: u32, from: u64) {
        #[cfg(test)]
        {
            self.moved += 1;
        }
        self.levels.unlink(&mut self.slab, index);
        let list = self.levels.list_for(from, self.slab.entry(index).deadline);
        self.levels.push(&mut self.slab, list, index);
    }

    /// Empties the current slot of every level `>= 1`, highest first.
    #[cold]
    fn drain(&mut self, budget: &mut usize) -> Drain {
        let mut moved = false;
        let mut mask = self.levels.nonempty() & !1;
        while mask != 0 {
            let level = u32::BITS - 1 - mask.leading_zeros();
            mask &= !(1 << level);
            let list = list_id(level, self.now >> (SLOT_BITS * level));
            loop {
                let index = self.levels.head(list);
                if index == NIL {
                    break;
                }
                if *budget == 0 {
                    return Drain::OutOfBudget;
                }
                *budget -= 1;
                self.relink(index, self.now);
                moved = true;
            }
        }
        if moved {
            Drain::Moved
        } else {
            Drain::Clean
        }
    }

    /// Places every overflow entry that fits now (a shortened horizon only)
    /// and records the exact minimum of the rest. One pass over the
    /// overflow list, run to completion; moved entries are charged to the
    /// budget, but the scan does not stop when it runs out.
    #[cold]
    fn scan_overflow(&mut self, budget: &mut usize) {
        let mut index = self.levels.head(OVERFLOW);
        let mut min = u64::MAX;
        while index != NIL {
            let e = self.slab.entry(index);
            let (next, deadline) = (e.next, e.deadline);
            if self.levels.list_for(self.now, deadline) == OVERFLOW {
                min = min.min(deadline);
            } else {
                self.relink(index, self.now);
                *budget = budget.saturating_sub(1);
            }
            index = next;
        }
        self.levels.set_overflow_min(min);
    }

    /// The first tick in `(now, target]` at which something must happen, or
    /// `target`.
    #[inline]
    fn next_stop(&self, target: u64) -> u64 {
        let mut stop = match self.levels.overflow_scan_tick() {
            Some(t) => target.min(t),
            None => target,
        };
        let mut mask = self.levels.nonempty();
        while mask != 0 {
            let level = mask.trailing_zeros();
            mask &= mask - 1;
            if let Some(t) = self.levels.next_event(level, self.now) {
                stop = stop.min(t);
            }
        }
        stop
    }

    /// Moves a share of each level's next slot down, for a step from `now`
    /// to `stop`. The levels' lists are walked round-robin, one entry each
    /// in turn: every list is a chain of dependent cache misses, and
    /// interleaving two or three chains lets their misses overlap.
    #[inline]
    fn pace(&mut self, stop: u64, budget: &mut usize) {
        #[cfg(test)]
        if !self.pacing {
            return;
        }
        let mut work = [(0u32, 0usize); MAX_LEVELS as usize];
        let mut lists = 0;
        let mut mask = self.levels.nonempty() & !1;
        let mut left = *budget;
        while mask != 0 && left > 0 {
            let level = mask.trailing_zeros();
            mask &= mask - 1;
            if let Some((list, share)) = self.share(level, stop) {
                let share = share.min(left);
                left -= share;
                work[lists] = (list, share);
                lists += 1;
            }
        }
        *budget = left;
        let mut busy = lists;
        while busy > 0 {
            busy = 0;
            for (list, share) in work[..lists].iter_mut() {
                if *share > 0 {
                    *share -= 1;
                    busy += usize::from(*share > 0);
                    let index = self.levels.head(*list);
                    self.relink(index, stop);
                }
            }
        }
    }

    /// The list of `level`'s next slot and how many of its entries to move
    /// for a step from `now` to `stop`: `ceil(count * step / (aim - now))`,
    /// or all of them once `stop` reaches `aim`.
    #[inline]
    fn share(&self, level: u32, stop: u64) -> Option<(u32, usize)> {
        let shift = SLOT_BITS * level;
        let next_slot = (self.now >> shift) + 1;
        if next_slot > u64::MAX >> shift {
            return None;
        }
        let list = list_id(level, next_slot);
        let count = self.levels.count(list);
        if count == 0 {
            return None;
        }
        let aim = (next_slot << shift) - (1 << (shift - SLOT_BITS));
        let share = if stop >= aim {
            u64::from(count)
        } else {
            let num = u128::from(count) * u128::from(stop - self.now);
            num.div_ceil(u128::from(aim - self.now)) as u64
        };
        Some((list, share as usize))
    }
}
