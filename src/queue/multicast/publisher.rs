//! Publishers: the single-producer [`Publisher`] and the cloneable
//! [`MultiPublisher`].
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
//!   so a reader never reads a claimed-but-unwritten slot. A claimed slot is
//!   published even if the writing closure panics (it holds whatever the
//!   closure left), so one panic cannot stall every reader.
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
//!   reads) or the publisher sees the new version and marks. For many producers the store is the claim's CAS: either the
//!   joiner's cursor load saw the claim (the claimed position is below `J`)
//!   or the claimer sees the version and marks. So any overwrite of a
//!   position at or past `J` (a claim of `J + cap` or later) is marked.

use std::fmt;
use std::marker::PhantomData;

use super::graph::Gate;
use super::ring::Ring;
use super::sequence::{earlier, signed, write_fence};
use super::Joiner;
use crate::queue::wait::{block_on, Retry, WaitStrategy};
use crate::queue::PushError;
use crate::sync::{light_barrier, Arc};

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Single {}
    impl Sealed for super::Multi {}
}

/// How a [`Publisher`] claims positions: [`Single`] (one thread publishes;
/// plain stores) or [`Multi`] (the handle is `Clone`; claims by CAS).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, Multi, Publisher};
///
/// let (tx, _h): (Publisher<u8, Multi>, _) = Builder::new(4, || 0u8).build_multi().unwrap();
/// let _tx2 = tx.clone();
/// ```
pub trait Mode: sealed::Sealed + 'static {
    #[doc(hidden)]
    const MULTI: bool;
}

/// One publishing thread (the default [`Mode`]).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Publisher, Single};
///
/// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
/// let _: &Publisher<u8, Single> = &tx;
/// ```
#[derive(Debug)]
pub enum Single {}

/// Many publishing threads, each with a clone of the handle.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, MultiPublisher};
///
/// let (tx, _h) = Builder::new(4, || 0u8).build_multi().unwrap();
/// let _: MultiPublisher<u8> = tx;
/// ```
#[derive(Debug)]
pub enum Multi {}

impl Mode for Single {
    const MULTI: bool = false;
}

impl Mode for Multi {
    const MULTI: bool = true;
}

/// A publisher that many threads share, each through its own clone.
pub type MultiPublisher<T> = Publisher<T, Multi>;

/// The producing end of a multicast ring. Publishes fill a preallocated slot
/// in place (the closure gets `&mut T`), or move a value in.
///
/// `Publisher<T>` (mode [`Single`]) is for one thread; [`MultiPublisher<T>`]
/// is `Clone`. Dropping every publisher ends the stream: cursors read what
/// is left, then see `Disconnected`.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast;
///
/// #[derive(Default)]
/// struct Order { id: u64, qty: u32 }
///
/// let (mut tx, mut cs) = multicast::broadcast(1024, Order::default, 1);
/// tx.try_publish_with(|o| { o.id = 7; o.qty = 100; }).unwrap();
/// let o = cs[0].try_next().unwrap();
/// assert_eq!((o.id, o.qty), (7, 100));
/// ```
pub struct Publisher<T, M: Mode = Single> {
    ring: Arc<Ring<T>>,
    state: ClaimState,
    _mode: PhantomData<fn() -> M>,
}

struct ClaimState {
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
                let fits = signed(self.limit, own.wrapping_add(n)) >= 0;
                return if fits { Ok(()) } else { Err(Fail::Full) };
            }
        }
    }

    #[inline]
    fn stale<T>(&self, ring: &Ring<T>, end: usize) -> bool {
        ring.version() != self.version || signed(self.limit, end) < 0
    }

    /// The publisher's half of the lossy join handshake, after a claim and
    /// before deciding whether to mark (ground rules): if the registry moved
    /// since the copy was made, a lossy cursor may have joined, so mark.
    /// The copy itself is refreshed by the next claim's `stale` check.
    #[inline]
    fn recheck_mark<T>(&mut self, ring: &Ring<T>) {
        // Pairs with the joiner's `join_barrier` in `subscribe_lossy`.
        light_barrier();
        if ring.version() != self.version {
            self.mark = true;
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

impl ClaimState {
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
    fn put<T, M: Mode, V, W: FnOnce(V, &mut T)>(
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
        let slot = ring.slot(p);
        if self.gating.mark {
            slot.stamp.begin_write();
            write_fence();
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
            // SAFETY: as above (the single producer owns `next`).
            slot.value.with_mut(|t| write(v, unsafe { &mut *t }));
            slot.wrote(p);
            slot.stamp.publish(p);
            // No cursor store here: see the ground rules.
            self.next = p.wrapping_add(1);
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
    fn put_batch<T, M: Mode, F: FnMut(usize, &mut T)>(
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
            for i in 0..n {
                ring.slot(p.wrapping_add(i)).stamp.begin_write();
            }
            write_fence();
        }
        // Lazily: `then_some` would build the guard (and, for a single
        // producer, drop it on the spot, publishing the run before its
        // values are written).
        let publish = M::MULTI.then(|| PublishOnDrop { ring, start: p, n });
        for i in 0..n {
            let slot = ring.slot(p.wrapping_add(i));
            // SAFETY: as in `put`, for each claimed position of the run.
            slot.value.with_mut(|t| f(i, unsafe { &mut *t }));
            slot.wrote(p.wrapping_add(i));
        }
        drop(publish);
        if !M::MULTI {
            // The cursor goes out before the run's first stamp (which the
            // run's readers wait on): a reader that sees that stamp (Acquire)
            // sees the cursor past the whole run too. Reading by the cursor
            // needs no stamp: its Release covers every value write above.
            write_fence();
            for i in (1..n).rev() {
                let q = p.wrapping_add(i);
                ring.slot(q).stamp.publish_relaxed(q);
            }
            self.next = p.wrapping_add(n);
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

    /// One blocking/async attempt: `None` while full.
    fn retry<T, M: Mode, V, W: Fn(V, &mut T) + Copy>(
        &mut self,
        ring: &Ring<T>,
        v: &mut Option<V>,
        write: W,
    ) -> Option<Result<u64, PushError<V>>> {
        let value = v
            .take()
            .expect("corelane: publish retried after completion");
        match self.put::<T, M, V, W>(ring, true, value, write) {
            Err(PushError::Full(value) | PushError::Busy(value)) => {
                *v = Some(value);
                None
            }
            r => Some(r),
        }
    }
}

impl<T, M: Mode> fmt::Debug for Publisher<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Publisher")
            .field("multi", &M::MULTI)
            .field("sequence", &self.sequence())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T, M: Mode> Publisher<T, M> {
    pub(crate) fn new(ring: Arc<Ring<T>>) -> Self {
        let gating = Gating::new(&ring, 0);
        Publisher {
            ring,
            state: ClaimState { gating, next: 0 },
            _mode: PhantomData,
        }
    }

    /// Publishes `value` (moved into the slot; the slot's previous value is
    /// dropped), returning its sequence number. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] (with the value) if the slowest gating cursor has
    /// not released the slot; [`PushError::Disconnected`] if no subscriber is
    /// left (the item would reach nobody; a later join makes publishing work
    /// again).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, PushError};
    ///
    /// let (mut tx, cs) = multicast::broadcast(1, || 0u32, 1);
    /// assert_eq!(tx.try_publish(1), Ok(0));
    /// assert_eq!(tx.try_publish(2), Err(PushError::Full(2)));
    /// drop(cs);
    /// assert_eq!(tx.try_publish(3), Err(PushError::Disconnected(3)));
    /// ```
    #[inline]
    pub fn try_publish(&mut self, value: T) -> Result<u64, PushError<T>> {
        self.state
            .put::<T, M, T, _>(&self.ring, true, value, |v, slot| *slot = v)
    }

    /// Fills the next slot in place with `fill` and publishes it, returning
    /// its sequence number. Never blocks. The slot holds whatever the last
    /// lap left there (or the factory's value): `fill` should set every
    /// field it cares about.
    ///
    /// # Errors
    ///
    /// As [`try_publish`](Self::try_publish); the closure is handed back
    /// uncalled.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, Vec::<u8>::new, 1);
    /// tx.try_publish_with(|v| { v.clear(); v.extend_from_slice(b"abc"); }).unwrap();
    /// assert_eq!(&cs[0].try_next().unwrap()[..], b"abc");
    /// ```
    #[inline]
    pub fn try_publish_with<F: FnOnce(&mut T)>(&mut self, fill: F) -> Result<u64, PushError<F>> {
        self.state
            .put::<T, M, F, _>(&self.ring, true, fill, |f, slot| f(slot))
    }

    /// [`try_publish`](Self::try_publish) without the wake-up check, to
    /// measure what the check costs. Parked readers are not woken.
    #[doc(hidden)]
    #[inline]
    pub fn __try_publish_without_notify(&mut self, value: T) -> Result<u64, PushError<T>> {
        self.state
            .put::<T, M, T, _>(&self.ring, false, value, |v, slot| *slot = v)
    }

    /// Publishes `value`, waiting per `strategy` while the ring is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if no subscriber is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(1, || 0u32, 1);
    /// tx.publish_blocking(1, WaitStrategy::Park).unwrap();
    /// let mut c = cs.pop().unwrap();
    /// let t = std::thread::spawn(move || {
    ///     let first = *c.next_blocking(WaitStrategy::Park).unwrap();
    ///     (first, c) // keep the cursor subscribed
    /// });
    /// tx.publish_blocking(2, WaitStrategy::Park).unwrap(); // waits for the release
    /// assert_eq!(t.join().unwrap().0, 1);
    /// ```
    pub fn publish_blocking(
        &mut self,
        value: T,
        strategy: WaitStrategy,
    ) -> Result<u64, PushError<T>> {
        let Publisher { ring, state, .. } = self;
        let mut v = Some(value);
        block_on(strategy, &ring.released, || {
            state.retry::<T, M, T, _>(ring, &mut v, |v, slot| *slot = v)
        })
    }

    /// Fills the next slot in place, waiting per `strategy` while the ring
    /// is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the closure) if no subscriber is
    /// left.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(2, || 0u32, 1);
    /// tx.publish_with_blocking(|v| *v = 5, WaitStrategy::Backoff).unwrap();
    /// assert_eq!(*cs[0].try_next().unwrap(), 5);
    /// ```
    pub fn publish_with_blocking<F: FnOnce(&mut T)>(
        &mut self,
        fill: F,
        strategy: WaitStrategy,
    ) -> Result<u64, PushError<F>> {
        let Publisher { ring, state, .. } = self;
        let mut v = Some(fill);
        block_on(strategy, &ring.released, || {
            state.retry::<T, M, F, _>(ring, &mut v, |f, slot| f(slot))
        })
    }

    /// Publishes `value`, waiting asynchronously while the ring is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if no subscriber is left.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(2, || 0u32, 1);
    /// tx.publish(3).await.unwrap();
    /// assert_eq!(*cs[0].recv().await.unwrap(), 3);
    /// # });
    /// ```
    pub async fn publish(&mut self, value: T) -> Result<u64, PushError<T>> {
        let Publisher { ring, state, .. } = self;
        let mut v = Some(value);
        Retry {
            notify: &ring.released,
            op: || state.retry::<T, M, T, _>(ring, &mut v, |v, slot| *slot = v),
        }
        .await
    }

    /// Fills `n` consecutive slots in place — `fill(i, slot)` for `i` in
    /// `0..n` — and publishes them together with one fence; returns the
    /// first one's sequence number. Never blocks. `n == 0` publishes nothing.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] (with the closure, uncalled) if fewer than `n`
    /// slots are free; [`PushError::Disconnected`] if no subscriber is left.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the capacity (it could never fit).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(8, || 0u32, 1);
    /// assert_eq!(tx.try_publish_batch(3, |i, v| *v = i as u32).unwrap(), 0);
    /// assert!(tx.try_publish_batch(6, |_, _| {}).is_err());
    /// assert_eq!(cs[0].poll(8).unwrap().len(), 3);
    /// ```
    #[inline]
    pub fn try_publish_batch<F: FnMut(usize, &mut T)>(
        &mut self,
        n: usize,
        fill: F,
    ) -> Result<u64, PushError<F>> {
        self.state.put_batch::<T, M, F>(&self.ring, n, fill)
    }

    /// Like [`try_publish_batch`](Self::try_publish_batch), waiting per
    /// `strategy` until `n` slots are free.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the closure) if no subscriber is
    /// left.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// tx.publish_batch_blocking(4, |i, v| *v = i as u32, WaitStrategy::Yield).unwrap();
    /// assert_eq!(cs[0].poll(4).unwrap().len(), 4);
    /// ```
    pub fn publish_batch_blocking<F: FnMut(usize, &mut T)>(
        &mut self,
        n: usize,
        fill: F,
        strategy: WaitStrategy,
    ) -> Result<u64, PushError<F>> {
        let Publisher { ring, state, .. } = self;
        let mut f = Some(fill);
        block_on(strategy, &ring.released, || {
            let fill = f
                .take()
                .expect("corelane: publish retried after completion");
            match state.put_batch::<T, M, F>(ring, n, fill) {
                Err(PushError::Full(fill) | PushError::Busy(fill)) => {
                    f = Some(fill);
                    None
                }
                r => Some(r),
            }
        })
    }

    /// Number of slots (a power of two).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(1000, || 0u8, 1);
    /// assert_eq!(tx.capacity(), 1024);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// The sequence number the next publish gets (for many producers: the
    /// next unclaimed one, a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// assert_eq!(tx.sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        if M::MULTI {
            self.ring.producer.get_relaxed() as u64
        } else {
            self.state.next as u64
        }
    }

    /// Live subscriber handles (cursors, workers, lossy cursors). Takes the
    /// registry lock: for monitoring, not for the hot path.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 2);
    /// cs.pop();
    /// assert_eq!(tx.subscribers(), 1);
    /// ```
    pub fn subscribers(&self) -> usize {
        self.ring.registry.lock().live()
    }

    /// A handle to subscribe cursors to this ring at run time.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// let late = tx.joiner().subscribe();
    /// assert_eq!(late.sequence(), 1); // starts at the published position
    /// ```
    pub fn joiner(&self) -> Joiner<T> {
        Joiner::new(self.ring.clone())
    }
}

impl<T> Clone for Publisher<T, Multi> {
    fn clone(&self) -> Self {
        self.ring.add_publisher();
        let own = self.ring.producer.get_relaxed();
        Publisher {
            ring: self.ring.clone(),
            state: ClaimState {
                gating: Gating::new(&self.ring, own),
                next: 0,
            },
            _mode: PhantomData,
        }
    }
}

impl<T, M: Mode> Drop for Publisher<T, M> {
    fn drop(&mut self) {
        let at = (!M::MULTI).then_some(self.state.next);
        self.ring.remove_publisher(at);
    }
}
