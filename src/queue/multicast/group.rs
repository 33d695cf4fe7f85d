//! Worker groups: a node of the consumer graph whose members share one claim
//! cursor, so each item goes to exactly one member. The claim protocol is
//! here; the [`Worker`](super::Worker) handle is in `worker.rs`.
//!
//! # Ground rules
//!
//! * The group's `claim` is the next unclaimed position. A member claims the
//!   run `[c, c + n)` by CAS `c -> c + n`, only after learning that `c + n`
//!   is within its barrier (stamps, or its upstream nodes). A CAS hands each
//!   position to exactly one member.
//! * Each member publishes the position it *holds*: before the CAS it stores
//!   `held = c` (Release), and when it has finished its run it stores
//!   [`IDLE`] (Release, after reading the slots). A member that holds nothing
//!   is `IDLE`, so a sleeping member never holds the group back.
//! * The group's released position is `min(claim, every non-idle held)`,
//!   reading `claim` **first** (Acquire). If a member's CAS is in the claim
//!   value read, the CAS (Release) published its `held` store before it, so
//!   the later load of `held` sees `c` or a later value; if the CAS is not in
//!   it, the claim read is `<= c` anyway. Either way no position a member is
//!   still reading is reported as released.
//! * A member that drops its run unfinished (its thread unwinds, or a
//!   batch was leaked and the worker then dropped or took again) has lost
//!   the rest of it: no other member will claim those items. It first
//!   marks the group failed at the first lost position (`failed_at`, under
//!   the registry lock, Release), and only then stores [`IDLE`] (Release).
//!   A dependent that
//!   loads `held` (Acquire) and sees `IDLE` then sees the mark when it loads
//!   `failed_at` after it, so an [`OnFailure::Fail`](super::OnFailure)
//!   dependent never reads a lost item (`Gate::failed_at`).

use super::error::TryRecvError;
use super::graph::NOT_FAILED;
use super::reader::{Horizon, ReadSide, Run, WakeCell};
use super::ring::{Ring, OPEN};
use super::sequence::Sequence;
use crate::queue::position::earlier;

/// A member's `held` value when it holds nothing.
pub(crate) const IDLE: usize = usize::MAX;

pub(crate) struct GroupShared {
    /// The next unclaimed position (ground rules).
    pub(crate) claim: Sequence,
    /// Each member's held position, or [`IDLE`].
    pub(crate) held: Box<[Sequence]>,
    /// Where the group failed (a member lost items, or the group stopped on
    /// a failed upstream, or left before the end), or [`NOT_FAILED`];
    /// written under the registry lock.
    pub(crate) failed_at: Sequence,
}

impl GroupShared {
    /// Where a node joining after this group starts: the claim cursor, which
    /// only grows and is at or past every position the group released (so
    /// the producer cannot have reused a slot at or after it). Items the
    /// members hold at the moment of the join are not seen by the joiner.
    pub(crate) fn start_after(&self) -> usize {
        self.claim.get()
    }

    /// Moves a just-joined group (no worker handle exists yet) from its
    /// provisional position to its start. Release, via [`Sequence::set`]:
    /// pairs with the producer's Acquire gating loads.
    pub(crate) fn start_at(&self, start: usize) {
        self.claim.set(start);
    }

    pub(crate) fn new(start: usize, members: usize) -> Self {
        GroupShared {
            claim: Sequence::new(start),
            held: (0..members).map(|_| Sequence::new(IDLE)).collect(),
            failed_at: Sequence::new(NOT_FAILED),
        }
    }

    /// Every position below the result is released by the group (see the
    /// ground rules for why `claim` is read first).
    ///
    /// A lower bound, and not monotone: a member about to lose its claim
    /// race may announce a stale `held` below what the group already
    /// released, for a moment. Fine for the producer's floor and for a
    /// barrier (a low value only holds them back); a joiner must not start
    /// from it (see [`start_after`](Self::start_after)). Nor is it an upper
    /// bound for the nodes after the group: a node that joins after it
    /// starts at its claim cursor, past items its members may still hold,
    /// which is why every node gates the producer, not only the leaves
    /// (`graph.rs`).
    #[inline]
    pub(crate) fn position(&self) -> usize {
        let claim = self.claim.get();
        self.held.iter().fold(claim, |m, h| match h.get() {
            IDLE => m,
            held => earlier(m, held),
        })
    }
}

/// A worker's private state: which member it is, and how far it may read.
pub(crate) struct WorkerState {
    /// This worker's index in the group's `held` table.
    pub(crate) member: usize,
    /// How far from the group's claim position this worker may read (valid
    /// while the claim has not passed it: the group gates the producer
    /// until it does).
    pub(crate) horizon: Horizon,
}

/// A worker's read side for the shared blocking/async helpers.
pub(crate) struct WorkSide<'a> {
    pub(crate) state: &'a mut WorkerState,
    pub(crate) group: &'a GroupShared,
}

impl<T> ReadSide<T> for WorkSide<'_> {
    fn take(&mut self, ring: &Ring<T>, max: usize) -> Result<Run, TryRecvError> {
        self.state.take(ring, self.group, max)
    }

    fn wake_cell(&self) -> WakeCell {
        self.state.horizon.wake_cell()
    }
}

impl WorkerState {
    /// Claims `[c, c + n)` with `1 <= n <= max` (see the ground rules).
    #[inline]
    pub(crate) fn take<T>(
        &mut self,
        ring: &Ring<T>,
        group: &GroupShared,
        max: usize,
    ) -> Result<Run, TryRecvError> {
        let held = &group.held[self.member];
        // Only this member stores `held`: its own last store.
        let left = held.get_relaxed();
        if left != IDLE {
            Self::leaked_run(ring, group, held, left);
        }
        // No run is longer than the ring (and `max` must fit an `isize`).
        let max = max.clamp(1, ring.capacity());
        let mut c = group.claim.get_relaxed();
        let mut announced = false;
        loop {
            if self.horizon.ahead(c) < max as isize {
                self.horizon.scan(ring, c, max);
            }
            let have = self.horizon.ahead(c);
            if have <= 0 {
                if announced {
                    // Withdrawing an announcement is a release: a publisher
                    // (or a node after the group) may have parked on it.
                    held.set(IDLE);
                    ring.released.notify();
                    announced = false;
                }
                self.nothing_ready(ring, group)?;
                c = group.claim.get_relaxed();
                continue;
            }
            let n = (have as usize).min(max);
            held.set(c);
            announced = true;
            match group.claim.advance(c, c.wrapping_add(n)) {
                Ok(()) => return Ok((c, n)),
                Err(now) => c = now,
            }
        }
    }

    /// Nothing to claim: rewire after a leave upstream (then `Ok`, retry),
    /// or report `Empty` / `Disconnected` / `UpstreamFailed`.
    /// A take finds this member still holding the run from `start`: its
    /// batch was leaked (`mem::forget`), as nothing else leaves `held` set
    /// between two takes. Its items are lost to the group, as when a
    /// worker drops with a leaked batch (`Worker::drop`): mark the group
    /// failed at the run's first item, *then* withdraw `held` (Release
    /// both; ground rules), before a new claim moves it past the run.
    #[cold]
    #[inline(never)]
    fn leaked_run<T>(ring: &Ring<T>, group: &GroupShared, held: &Sequence, start: usize) {
        ring.registry.lock().mark_failed(&group.failed_at, start);
        held.set(IDLE);
        ring.released.notify();
    }

    #[cold]
    fn nothing_ready<T>(
        &mut self,
        ring: &Ring<T>,
        group: &GroupShared,
    ) -> Result<(), TryRecvError> {
        if self.horizon.rewire(ring) {
            return Ok(());
        }
        let c = group.claim.get();
        let closed = ring.closed_at();
        if closed != OPEN {
            if c == closed {
                return Err(TryRecvError::Disconnected);
            }
            let before = self.horizon.ahead(c);
            self.horizon.scan(ring, c, 1);
            if self.horizon.ahead(c) != before {
                return Ok(());
            }
        }
        if let Some(failed) = self.horizon.failure(c) {
            // The group stops here for good: so do the nodes after it.
            if group.failed_at.get() != c {
                ring.registry.lock().mark_failed(&group.failed_at, c);
                ring.released.notify();
            }
            return Err(TryRecvError::UpstreamFailed(failed));
        }
        Err(TryRecvError::Empty)
    }
}
