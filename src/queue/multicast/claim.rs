//! How publishers claim, write and publish positions: the gating cache,
//! the many-producer claim, the lossy marking, and the publication of
//! single items and batches. [`Publisher`](super::Publisher) is the API
//! over it.
//!
//! # Ground rules (gating and the join handshake)
//!
//! * A publisher may write position `q` only if `q < floor + capacity`, where
//!   `floor` is the earliest position of the *gating set* (every node of
//!   the consumer graph but lossy cursors) read with Acquire — pairing with each reader's Release
//!   of its position, so the reads of the previous lap happen-before the
//!   overwrite. It caches `floor + capacity` as its `limit` and re-reads the
//!   gating set only when the cache says "full" (the single-producer
//!   Disruptor's gating-sequence cache). The floor also includes the
//!   publisher's own position, so with no gating reader it still re-checks
//!   once per lap.
//! * The gating set changes only under the registry lock, which bumps
//!   `version`. A publisher caches the set it copied and its version, and
//!   refreshes the copy whenever it sees the version move.
//! * Join handshake (a Dekker pair on the asymmetric barrier). Publisher's
//!   refresh: load the gating positions; `light_barrier()`; load `version`;
//!   accept the floor only if the version is the one its copy came from.
//!   Joiner: register (version bump, SeqCst) with a provisional position no
//!   later than any gating position; `heavy_barrier()`; load the producer
//!   cursor (and the positions of the nodes it runs after); start at their
//!   minimum. Either the publisher's version load sees the join (it re-copies
//!   the set, which holds the joiner), or its gating loads came before the
//!   joiner's loads, so its floor is no later than where the joiner starts,
//!   and its limit never reaches a slot the joiner will read.
//! * Single producer: position `p` is written, then its stamp is published
//!   (Release). The producer cursor (the count published) is stored only
//!   after a batch and at every gating refresh, *before* the refresh's
//!   barrier (so the joiner's load after its barrier sees at least the
//!   position the refresh started from), never per item: readers load it to
//!   extend a run past a batch in one go, and a per-item store would bounce
//!   its line between the producer and every reader. It lags single-item
//!   publishes by less than a ring; a joiner walks the stamps from it to the
//!   frontier. Multi producer: positions are claimed by CAS
//!   on the shared claim cursor, and each claimer publishes its own stamps,
//!   so a reader never reads a claimed-but-unwritten slot.
//! * Either mode: a claimed slot is published even if the writing closure
//!   panics (it holds whatever the closure left; `PublishOnDrop`,
//!   `PublishOnUnwind`), so one panic cannot stall a reader, nor leave a
//!   slot marked `WRITING` under a lossy cursor.
//! * Multi producer, writer against writer: the gating floor protects
//!   readers, but the claim cursor is not the publication frontier, so a
//!   floor made of the claim cursor alone (no gating node, or one that
//!   joined at the claim cursor) could hand a second publisher the slot of
//!   a claim still being written a lap earlier. A claim of `q` is therefore
//!   made only if the slot's stamp shows `q - cap` published (`lap_free`,
//!   Acquire, checked before the CAS; nobody else can change that stamp
//!   before the CAS succeeds). Otherwise the claim reports `Full`, and every
//!   multi-producer publish notifies `released`, where such a publisher
//!   waits.
//! * With nobody waiting, a publish costs one `Notify::notify` on top of the
//!   write: a compiler fence (the light barrier) and one load (two for many
//!   producers).
//! * Slots are marked `WRITING` before an overwrite only while a lossy
//!   cursor is subscribed (the cached `mark`). Gating readers never look at
//!   a slot being overwritten. Lossy join handshake (a Dekker pair again):
//!   the joiner registers (version bump, SeqCst), runs the heavy barrier,
//!   then starts at the first unpublished position `J` (single producer:
//!   the stamps walked from the cursor; many: the claim cursor). The
//!   publisher, after each claim and before deciding to mark, runs the
//!   light barrier and re-reads `version` (`recheck_mark`). For a single
//!   producer the store before that barrier is the previous position's
//!   stamp: either the joiner saw it published (so this claim is at most
//!   `J`, and overwrites a position a lap below `J`, which the joiner never
//!   reads) or the publisher sees the new version and marks. For many
//!   producers the store is the claim's CAS: either the joiner's cursor
//!   load saw the claim (the claimed position is below `J`) or the claimer
//!   sees the version and marks. So any overwrite of a position at or past
//!   `J` (a claim of `J + cap` or later) is marked. (The gating limit alone
//!   makes most of this so too, and the loom model of a lossy join passes
//!   without `recheck_mark`; but with many producers that argument rests
//!   on loads on both sides of the barrier pair, which the C++ model does
//!   not order, while the claim's CAS is a store it does.)
//! * While a lossy cursor that *clones* is subscribed (the cached
//!   `cloning`, decided at the same points as `mark` and by the same
//!   handshake), a publisher also waits, after marking, for the clones in
//!   progress out of the slots it is about to overwrite: the announcement
//!   protocol of `lossy.rs` (`begin_overwrite`).

use super::graph::Gate;
use super::lossy::begin_overwrite;
use super::publisher::Mode;
use super::ring::Ring;
use super::sequence::write_fence;
use crate::queue::position::{ahead, earlier};
use crate::queue::{Disconnected, PushError};
use crate::sync::light_barrier;

pub(crate) struct ClaimState {
    gating: Gating,
    /// Single producer: the next position to publish.
    next: usize,
}

/// A publisher's cached view of the gating set (see the ground rules).
struct Gating {
    gates: Box<[Gate]>,
    version: usize,
    live: usize,
    /// Mark slots `WRITING` before overwriting them: only while a lossy
    /// cursor is subscribed (gating readers never look at a slot being
    /// overwritten). See the ground rules.
    mark: bool,
    /// Also wait for clones in progress before overwriting (implies
    /// `mark`): while a lossy cursor that clones (not a seqlock
    /// [`copied`](super::LossyCursor::copied) one) is subscribed. See
    /// `lossy.rs`.
    cloning: bool,
    /// Positions below `limit` may be written.
    limit: usize,
}

enum Fail {
    Full,
    Disconnected,
}

impl Fail {
    fn with<V>(self, v: V) -> PushError<V> {
        match self {
            Fail::Full => PushError::Full(v),
            Fail::Disconnected => PushError::Disconnected(v),
        }
    }
}

impl Gating {
    fn new<T>(ring: &Ring<T>, own: usize) -> Self {
        let mut g = Gating {
            gates: Box::new([]),
            version: ring.version().wrapping_sub(1),
            live: 0,
            mark: true,
            cloning: true,
            limit: own,
        };
        g.resync(ring);
        g
    }

    #[cold]
    fn resync<T>(&mut self, ring: &Ring<T>) {
        let reg = ring.registry.lock();
        // Under the lock: the copy and the version belong together.
        self.version = ring.version();
        self.gates = reg.gating();
        self.live = reg.live();
        self.mark = reg.has_lossy();
        self.cloning = reg.lossy_count() > ring.copied_taps();
    }

    /// Refreshes `limit` so that `[own, own + n)` may be written, or says why
    /// not (the refresh of the ground rules).
    #[cold]
    #[inline(never)]
    fn make_room<T>(
        &mut self,
        ring: &Ring<T>,
        single: bool,
        own: usize,
        n: usize,
    ) -> Result<(), Fail> {
        if single {
            // Bring the cursor up to date before the barrier: the joiner's
            // half of the handshake reads it (ground rules).
            ring.producer.set(own);
        }
        loop {
            if ring.version() != self.version {
                self.resync(ring);
            }
            if self.live == 0 {
                // Keep the cache stale, so every later publish asks again
                // (a join may make it work), instead of filling the room
                // left from before.
                self.limit = own;
                return Err(Fail::Disconnected);
            }
            let floor = self.gates.iter().fold(own, |m, g| earlier(m, g.position()));
            // Pairs with the joiner's heavy barrier (ground rules).
            light_barrier();
            if ring.version() == self.version {
                self.limit = floor.wrapping_add(ring.capacity());
                let fits = ahead(self.limit, own.wrapping_add(n)) >= 0;
                return if fits { Ok(()) } else { Err(Fail::Full) };
            }
        }
    }

    #[inline]
    fn stale<T>(&self, ring: &Ring<T>, end: usize) -> bool {
        ring.version() != self.version || ahead(self.limit, end) < 0
    }

    /// The publisher's half of the lossy join handshake, after a claim and
    /// before deciding whether to mark (ground rules): if the registry moved
    /// since the copy was made, a lossy cursor may have joined, so mark,
    /// and wait for its clones (a joiner clones until it asks to copy).
    /// The copy itself is refreshed by the next claim's `stale` check.
    /// (Already marking and checking clones: nothing to learn.)
    #[inline]
    fn recheck_mark<T>(&mut self, ring: &Ring<T>) {
        if self.cloning {
            return;
        }
        // Pairs with the joiner's `join_barrier` in `subscribe_lossy`.
        light_barrier();
        if ring.version() != self.version {
            self.mark = true;
            self.cloning = true;
        }
    }
}

/// Many producers: true if no claim a lap before `[c, c + n)` is still being
/// written, i.e. each slot's stamp shows position `q - cap` published (or
/// `q` is in the first lap). The gating floor protects readers only; this
/// keeps two publishers out of one slot when no gating node sits at or
/// below an unpublished claim (only lossy cursors, or a node that joined at
/// the claim cursor). Positions are 64-bit and never wrap in a ring's life.
#[inline]
fn lap_free<T>(ring: &Ring<T>, c: usize, n: usize) -> bool {
    let cap = ring.capacity();
    (0..n).all(|i| {
        let q = c.wrapping_add(i);
        // Acquire (in `holds`): pairs with the earlier claimer's publish, so
        // its writes (and its drop of the old value) happen-before ours.
        q < cap || ring.slot(q).stamp.holds(q - cap)
    })
}

/// Publishes a multi-producer claim when dropped, even while unwinding.
struct PublishOnDrop<'a, T> {
    ring: &'a Ring<T>,
    start: usize,
    n: usize,
}

impl<T> Drop for PublishOnDrop<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.n == 1 {
            self.ring.slot(self.start).stamp.publish(self.start);
        } else {
            publish_run(self.ring, self.start, self.n);
        }
        if std::thread::panicking() {
            // The caller's notifies are skipped by the unwind; a reader
            // parked on this run (it saw `Busy`), or a publisher waiting for
            // its slot a lap later (`lap_free`), must still wake.
            self.ring.items.notify();
            self.ring.released.notify();
        }
    }
}

/// Single producer: publishes a claimed run if filling it panics, as
/// [`PublishOnDrop`] does for many producers, so that no slot stays marked
/// `WRITING` (a lossy cursor would wait on it for ever). The publisher moves
/// `next` past the run before filling it, so the next publish never claims
/// positions again that readers may already hold. Disarmed with
/// `mem::forget` once the run is written.
struct PublishOnUnwind<'a, T> {
    ring: &'a Ring<T>,
    start: usize,
    n: usize,
}

impl<T> Drop for PublishOnUnwind<'_, T> {
    #[inline]
    fn drop(&mut self) {
        publish_abandoned_run(self.ring, self.start, self.n);
    }
}

/// The body of [`PublishOnUnwind`], out of line: the landing pad of every
/// publish stays one call, so the publish paths stay small enough to inline.
#[cold]
#[inline(never)]
fn publish_abandoned_run<T>(ring: &Ring<T>, start: usize, n: usize) {
    publish_run(ring, start, n);
    ring.producer.set(start.wrapping_add(n));
    ring.items.notify();
    ring.released.notify();
}

/// One Release fence, then the run's stamps, last to first: a reader
/// waiting on the run's first stamp (in program order the last store) then
/// finds the whole run published at once, instead of chasing the stores
/// line by line and pulling each line away from the writer in between.
/// Only a heuristic (Relaxed stores to different slots may become visible in
/// any order); correctness rests on each stamp alone.
#[inline]
fn publish_run<T>(ring: &Ring<T>, start: usize, n: usize) {
    write_fence();
    for i in (0..n).rev() {
        let p = start.wrapping_add(i);
        ring.slot(p).stamp.publish_relaxed(p);
    }
}

/// Fills the claimed run `[p, p + n)`, `f(i, slot)` for each position.
#[inline(always)]
fn fill_run<T, F: FnMut(usize, &mut T)>(ring: &Ring<T>, p: usize, n: usize, f: &mut F) {
    for i in 0..n {
        let slot = ring.slot(p.wrapping_add(i));
        // SAFETY: the caller claimed every position of the run; as in
        // `put`, nobody else touches these slots until their stamps.
        slot.value.with_mut(|t| f(i, unsafe { &mut *t }));
        slot.wrote(p.wrapping_add(i));
    }
}

impl ClaimState {
    /// A publisher's state, its gating copy refreshed from `ring`, for a
    /// handle whose claims start at `own`.
    pub(crate) fn new<T>(ring: &Ring<T>, own: usize) -> Self {
        ClaimState {
            gating: Gating::new(ring, own),
            next: own,
        }
    }

    /// Single producer: the next position to publish.
    #[inline]
    pub(crate) fn next(&self) -> usize {
        self.next
    }

    /// Claims `[p, p + n)`.
    #[inline]
    fn claim<T, M: Mode>(&mut self, ring: &Ring<T>, n: usize) -> Result<usize, Fail> {
        if !M::MULTI {
            let p = self.next;
            if self.gating.stale(ring, p.wrapping_add(n)) {
                self.gating.make_room(ring, true, p, n)?;
            }
            return Ok(p);
        }
        let mut c = ring.producer.get_relaxed();
        loop {
            if self.gating.stale(ring, c.wrapping_add(n)) {
                self.gating.make_room(ring, false, c, n)?;
            }
            if !lap_free(ring, c, n) {
                return Err(Fail::Full);
            }
            match ring.producer.advance(c, c.wrapping_add(n)) {
                Ok(()) => return Ok(c),
                Err(now) => c = now,
            }
        }
    }

    /// Writes `v` into position `p` (claimed) and publishes it.
    #[inline]
    pub(crate) fn put<T, M: Mode, V, W: FnOnce(V, &mut T)>(
        &mut self,
        ring: &Ring<T>,
        notify: bool,
        v: V,
        write: W,
    ) -> Result<u64, PushError<V>> {
        let p = match self.claim::<T, M>(ring, 1) {
            Ok(p) => p,
            Err(e) => return Err(e.with(v)),
        };
        self.gating.recheck_mark(ring);
        debug_assert!(
            ahead(self.gating.limit, p.wrapping_add(1)) >= 0,
            "a claim stays below the gating limit"
        );
        let slot = ring.slot(p);
        if self.gating.mark {
            begin_overwrite(ring, p, 1, self.gating.cloning);
        }
        if M::MULTI {
            let _publish = PublishOnDrop {
                ring,
                start: p,
                n: 1,
            };
            // SAFETY: we claimed `p`; the gating check put it past every
            // gating reader and `lap_free` past the claim a lap before:
            // nobody else touches the slot until its stamp.
            slot.value.with_mut(|t| write(v, unsafe { &mut *t }));
            slot.wrote(p);
        } else {
            // No producer-position store here: see the ground rules.
            self.next = p.wrapping_add(1);
            let unwind = PublishOnUnwind {
                ring,
                start: p,
                n: 1,
            };
            // SAFETY: as above (the single producer owns `next`).
            slot.value.with_mut(|t| write(v, unsafe { &mut *t }));
            std::mem::forget(unwind);
            slot.wrote(p);
            slot.stamp.publish(p);
        }
        if notify {
            ring.items.notify();
            if M::MULTI {
                // A publisher may wait for this slot a lap on (`lap_free`).
                ring.released.notify();
            }
        }
        Ok(p as u64)
    }

    /// Fills and publishes `n` positions with one fence.
    #[inline]
    pub(crate) fn put_batch<T, M: Mode, F: FnMut(usize, &mut T)>(
        &mut self,
        ring: &Ring<T>,
        n: usize,
        mut f: F,
    ) -> Result<u64, PushError<F>> {
        assert!(
            n <= ring.capacity(),
            "corelane: batch of {n} exceeds the ring capacity {}",
            ring.capacity()
        );
        if n == 0 {
            let at = if M::MULTI {
                ring.producer.get_relaxed()
            } else {
                self.next
            };
            return Ok(at as u64);
        }
        let p = match self.claim::<T, M>(ring, n) {
            Ok(p) => p,
            Err(e) => return Err(e.with(f)),
        };
        self.gating.recheck_mark(ring);
        if self.gating.mark {
            begin_overwrite(ring, p, n, self.gating.cloning);
        }
        if M::MULTI {
            let publish = PublishOnDrop { ring, start: p, n };
            fill_run(ring, p, n, &mut f);
            drop(publish);
        } else {
            self.next = p.wrapping_add(n);
            let unwind = PublishOnUnwind { ring, start: p, n };
            fill_run(ring, p, n, &mut f);
            std::mem::forget(unwind);
            // The producer position goes out before the run's first stamp
            // (which the run's readers wait on): a reader that sees that
            // stamp (Acquire) sees the position past the whole run too.
            // Reading by the position needs no stamp: its Release covers
            // every value write above.
            write_fence();
            for i in (1..n).rev() {
                let q = p.wrapping_add(i);
                ring.slot(q).stamp.publish_relaxed(q);
            }
            ring.producer.set(self.next);
            ring.slot(p).stamp.publish(p);
        }
        ring.items.notify();
        if M::MULTI {
            // A publisher may wait for these slots a lap on (`lap_free`).
            ring.released.notify();
        }
        Ok(p as u64)
    }

    /// Whether a claim of `n` positions would find room now, without
    /// claiming (`poll_ready`): `Ok(false)` while full, `Err` with no
    /// subscriber left. Refreshes the gating cache as a claim would.
    pub(crate) fn has_room<T, M: Mode>(
        &mut self,
        ring: &Ring<T>,
        n: usize,
    ) -> Result<bool, Disconnected> {
        let own = self.own::<T, M>(ring);
        if self.gating.stale(ring, own.wrapping_add(n)) {
            match self.gating.make_room(ring, !M::MULTI, own, n) {
                Ok(()) => {}
                Err(Fail::Full) => return Ok(false),
                Err(Fail::Disconnected) => return Err(Disconnected(())),
            }
        }
        Ok(!M::MULTI || lap_free(ring, own, n))
    }

    /// The next position this handle would claim: its own for a single
    /// producer, the shared claim cursor (a snapshot) for many.
    #[inline]
    pub(crate) fn own<T, M: Mode>(&self, ring: &Ring<T>) -> usize {
        if M::MULTI {
            ring.producer.get_relaxed()
        } else {
            self.next
        }
    }

    /// The earliest position the gating set holds now (or `own`), for the
    /// inspectors: from the cached copy while it is current, else from the
    /// registry (under its lock).
    pub(crate) fn floor<T>(&self, ring: &Ring<T>, own: usize) -> usize {
        if ring.version() == self.gating.version {
            let gates = self.gating.gates.iter();
            gates.fold(own, |m, g| earlier(m, g.position()))
        } else {
            ring.registry.lock().gating_floor(own)
        }
    }

    /// Live subscriber handles, as [`floor`](Self::floor) reads them.
    pub(crate) fn live<T>(&self, ring: &Ring<T>) -> usize {
        if ring.version() == self.gating.version {
            self.gating.live
        } else {
            ring.registry.lock().live()
        }
    }
}
