//! The registry of a core's live tasks: a slab of wakers with a free
//! list. A task takes a slot on its first `Pending` and frees it when it is
//! dropped (`task.rs`); shutdown wakes whatever is left.

use std::task::Waker;

/// Live tasks that have been polled here: what shutdown wakes so every
/// pending future is dropped on its core.
#[derive(Default)]
pub(crate) struct Registry {
    slots: Vec<Slot>,
    free: Option<u32>,
    pub(crate) len: usize,
}

enum Slot {
    Full(Waker),
    Free(Option<u32>),
}

impl Registry {
    pub(crate) fn insert(&mut self, w: Waker) -> u32 {
        self.len += 1;
        match self.free {
            Some(i) => {
                let Slot::Free(next) = self.slots[i as usize] else {
                    unreachable!("free list")
                };
                self.free = next;
                self.slots[i as usize] = Slot::Full(w);
                i
            }
            None => {
                self.slots.push(Slot::Full(w));
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub(crate) fn remove(&mut self, i: u32) -> Option<Waker> {
        let slot = self.slots.get_mut(i as usize)?;
        if matches!(slot, Slot::Free(_)) {
            return None;
        }
        let Slot::Full(w) = std::mem::replace(slot, Slot::Free(self.free)) else {
            unreachable!()
        };
        self.free = Some(i);
        self.len -= 1;
        Some(w)
    }

    pub(crate) fn get(&self, i: u32) -> Option<&Waker> {
        match self.slots.get(i as usize)? {
            Slot::Full(w) => Some(w),
            Slot::Free(_) => None,
        }
    }

    pub(crate) fn take_all(&mut self) -> Vec<Waker> {
        let slots = std::mem::take(&mut self.slots);
        self.free = None;
        self.len = 0;
        slots
            .into_iter()
            .filter_map(|s| match s {
                Slot::Full(w) => Some(w),
                Slot::Free(_) => None,
            })
            .collect()
    }
}
