//! The wake-up cell behind every blocking and async wait: an eventcount
//! whose StoreLoad handshake is asymmetric while waits are rare and becomes
//! symmetric, for good, once they are frequent.
//!
//! # Ground rules
//!
//! Every ring has two `Notify` cells: `items` (consumers wait here for
//! data) and `space` (producers wait here for room). A waiter never sleeps
//! unless it has *announced* itself in `state` and then *re-checked* the
//! ring:
//!
//! ```text
//!   waiter                                publisher (every push / pop)
//!   key = epoch.load()                    store slot / cursor       (Release)
//!   prev = state += unit    (SeqCst RMW)  light_barrier()
//!          (a park also clears WOKEN)     s = state.load()
//!   barrier(prev)           (rules 1-3)   if s != 0:                  (cold)
//!   if ring op succeeds: state -= unit,     if s has PUBLISHERS_FENCE:
//!                        done                 fence(SeqCst); s = state.load()
//!   futex_wait(epoch, key)                  if s counts a parked thread and
//!     or return Pending                     state.fetch_or(WOKEN) found it
//!   state -= unit                           clear: epoch += 1; futex_wake
//!                                           if s counts an async waiter:
//!                                             take and wake the wakers
//! ```
//!
//! `state` holds two mode bits (`PUBLISHERS_FENCE`, `WAITERS_FENCE`), the
//! `WOKEN` flag, the number of registered async wakers and, in the upper
//! half of the word, the number of parked threads. Mode bits are only ever
//! set, never cleared.
//!
//! 1. **Asymmetric** (a new `Notify`): the waiter's barrier is
//!    `heavy_barrier()` (`membarrier(2)`), which runs a full fence on every
//!    CPU running the process, so the publisher's light barrier is a
//!    compiler fence. Either the publisher's load sees the announcement and
//!    wakes, or its store was visible before the waiter's re-check (Dekker).
//!    Cheap for the publisher; a few µs (under KVM, tens) per wait, and IPIs
//!    to every CPU of the process.
//! 2. **Symmetric** (`WAITERS_FENCE` read by the announcing RMW): the
//!    waiter's barrier is `fence(SeqCst)`. A publisher that reads a non-zero
//!    state with `PUBLISHERS_FENCE` runs `fence(SeqCst)` and re-loads before
//!    acting. The two SeqCst fences are a Dekker pair: either the re-load
//!    sees the announcement, or the re-check sees the store. A publish then
//!    costs a full fence, a wait no syscall.
//! 3. **The switch.** A waiter that has paid [`SWITCH_BURST`] heavy
//!    barriers within [`SWITCH_WINDOW`] (waits are frequent: a stream that
//!    fills and drains) sets `PUBLISHERS_FENCE`, runs *one* heavy barrier
//!    (also its own wait's barrier), and only if that barrier is trusted
//!    sets `WAITERS_FENCE`. A waiter skips the heavy barrier only after
//!    reading `WAITERS_FENCE`. Why no wake-up is lost: take such a waiter W
//!    and any publisher P. (a) If P's light barrier came before the
//!    switch's heavy barrier, membarrier made P's store visible before that
//!    barrier returned, hence before `WAITERS_FENCE` was set and read by
//!    W's RMW: W's re-check sees it. (On x86-TSO: the IPI drains P's store
//!    buffer; in the C++ model: the membarrier fence on P's thread precedes
//!    the switcher's, whose later RMW W reads from.) (b) Otherwise P's load
//!    after its light barrier sees `PUBLISHERS_FENCE`, set before the
//!    heavy barrier, so P is in rule 2 with W. Waiters that announce before
//!    `WAITERS_FENCE` is set run the heavy barrier themselves (rule 1, or
//!    rule 2 for publishers that already fence). Setting `WAITERS_FENCE`
//!    before the heavy barrier returned would break (a) for a second waiter
//!    that reads it in between. After a *failed* membarrier the switch does
//!    not complete: waiters keep the heavy barrier and its degraded mode.
//! 4. **Parked threads and async wakers are counted apart**, so a publisher
//!    makes the `FUTEX_WAKE` syscall only when its (post-barrier) load
//!    counts a parked thread. A parked thread whose announcement the
//!    publisher did not see is covered by the Dekker pair: its re-check
//!    sees the store, and it does not sleep. The `epoch` it sleeps on was
//!    read *before* announcing, so a wake that lands between the re-check
//!    and `futex_wait` makes the wait return at once. **One wake per
//!    sleep**: a woken thread may wait a while for a CPU before it retracts
//!    its count, and every publish meanwhile would wake it again. So the
//!    publisher that wakes sets `WOKEN` (`fetch_or`; only the one that
//!    found it clear bumps and wakes), and a parker clears it in the same
//!    RMW that announces it. A publisher that finds `WOKEN` set skips the
//!    syscall: every parker its load counted announced before the last
//!    `fetch_or` that set the flag (a later announcement clears it), so
//!    took its key before that setter's bump (had it read the bumped epoch, the `fetch_or` would happen
//!    before its announcement), and that bump wakes it or keeps it from
//!    sleeping. Clearing `WOKEN` is always safe (it costs a redundant wake
//!    at most), so the last parker to retract clears it, and so does a
//!    publisher that finds it set with nobody parked.
//! 5. **A waker already registered** (and not taken by a notify since)
//!    needs no new barrier: its earlier announcement was followed by a
//!    barrier, so every publisher since either saw the count (and will
//!    take the waker, under the same lock this check holds) or published
//!    before that barrier (and the re-check sees it).
//! 6. Waking on disconnection ([`Notify::notify_slow`]) is unconditional.
//! 7. An async wait may re-poll itself (`wake_by_ref`, `Pending`) instead
//!    of announcing, [`ASYNC_SPINS`] times per cell between two successful
//!    polls, and a `Park` wait spins for as many steps as have lately paid
//!    on this cell: hints, outside the handshake (a wait that has not
//!    announced relies on no notify).
//!
//! Every rule is a loom model in `loom-tests/tests/notify.rs`; the loom
//! cfg models membarrier as in `sync::light_barrier`, and each model was
//! seen to fail against the [`Mutant`] that breaks its rule.

use std::panic::AssertUnwindSafe;
use std::task::Waker;

use super::wait::Backoff;
use std::time::Duration;
#[cfg(not(corelane_loom))]
use std::time::Instant;

use crate::sync::{
    barrier_trusted, fence, heavy_barrier, light_barrier, AtomicU32, AtomicUsize, CachePadded,
    Futex, Mutex, Ordering,
};

/// Mode bit: a publisher that sees the state non-zero fences and re-loads
/// (rule 2).
const PUBLISHERS_FENCE: usize = 1;
/// Mode bit: the switch is complete; waiters pair with a plain fence.
const WAITERS_FENCE: usize = 1 << 1;
const MODE_BITS: usize = PUBLISHERS_FENCE | WAITERS_FENCE;
/// Every parked thread counted has been sent a wake-up since it took its
/// key (rule 4): set by the publisher that wakes, cleared by the next
/// thread that announces a park, and by the last one to retract.
const WOKEN: usize = 1 << 2;
/// One registered async waker.
const ONE_ASYNC: usize = 1 << 3;
/// One parked thread: the upper half of the word (room for 2^32 parked
/// threads and 2^29 registered wakers per cell; corelane is 64-bit only).
const ONE_PARKED: usize = 1 << (usize::BITS / 2);
const PARKED: usize = !(ONE_PARKED - 1);
const ASYNC: usize = !PARKED & !MODE_BITS & !WOKEN;

/// Heavy barriers within [`SWITCH_WINDOW`] that make a cell switch to
/// symmetric fences (rule 3). Under loom the second one does, so the
/// models see both modes and the switch between them.
#[cfg(not(corelane_loom))]
const SWITCH_BURST: u32 = 16;
#[cfg(corelane_loom)]
const SWITCH_BURST: u32 = 2;
/// See [`SWITCH_BURST`]: 16 membarriers in 10 ms cost a few % of a CPU (plus
/// the IPIs), against a fence per publish once switched.
#[cfg(not(corelane_loom))]
const SWITCH_WINDOW: Duration = Duration::from_millis(10);

/// Failed async polls of one cell, since an async poll of it last
/// succeeded, that re-poll themselves (`wake_by_ref`, `Pending`) instead
/// of registering: a short cooperative spin that keeps a streaming task
/// (and its thread) awake across the other side's next move. Under loom
/// one, so the models see the path.
#[cfg(not(corelane_loom))]
const ASYNC_SPINS: u32 = 32;
#[cfg(corelane_loom)]
const ASYNC_SPINS: u32 = 1;

/// How often a sleeper re-checks on its own once the asymmetric barrier has
/// failed (a degraded mode that costs wake-ups, never correctness).
pub(crate) const DEGRADED_RECHECK: Duration = Duration::from_millis(1);

/// Wakers each cell has room for before its first registration.
const WAKER_ROOM: usize = 4;

/// One side's wake-up cell. See the module docs for the protocol.
pub(crate) struct Notify {
    /// Mode bits, registered async wakers, parked threads (module docs).
    state: AtomicUsize,
    /// What parked threads sleep on.
    epoch: Futex,
    slow: Mutex<Slow>,
    /// How the waiters of this cell have fared spinning; on a line of its
    /// own, since waiters write it while publishers read `state`.
    hints: CachePadded<SpinHints>,
}

/// Hints for the waiters' spinning, outside the handshake (rule 7).
struct SpinHints {
    /// Failed async polls since the last successful one (up to
    /// [`ASYNC_SPINS`]).
    async_spins: AtomicU32,
    /// Spin steps a `Park` wait takes before it yields
    /// ([`Notify::park_spin_steps`]).
    #[cfg(not(corelane_loom))]
    park_spin_steps: AtomicU32,
}

/// The waiters' side, under the lock.
struct Slow {
    /// One per registered task (deduplicated with `will_wake`), each
    /// counted in `state`.
    wakers: Vec<Waker>,
    /// An empty buffer swapped in while a multi-waker wake has `wakers`
    /// out of the lock, so a registration meanwhile does not allocate;
    /// the emptied buffer comes back as the next spare.
    spare: Vec<Waker>,
    meter: SwitchMeter,
}

/// Counts heavy barriers to decide when to switch (rule 3).
struct SwitchMeter {
    count: u32,
    #[cfg(not(corelane_loom))]
    since: Instant,
}

impl SwitchMeter {
    fn new() -> Self {
        SwitchMeter {
            count: 0,
            #[cfg(not(corelane_loom))]
            since: Instant::now(),
        }
    }

    /// Counts one heavy barrier; true if it is time to switch.
    fn tick(&mut self) -> bool {
        #[cfg(not(corelane_loom))]
        {
            let now = Instant::now();
            if now.duration_since(self.since) > SWITCH_WINDOW {
                self.count = 0;
                self.since = now;
            }
        }
        self.count += 1;
        self.count >= SWITCH_BURST
    }
}

/// Deliberately broken variants of the protocol, for the loom models to
/// fail against (`ci/loom-mutants.sh`). Compiled in only by a loom build
/// run with `CORELANE_LOOM_MUTANT=<variant name>`; in any other build
/// [`mutant`] is a constant `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(corelane_loom), allow(dead_code))]
pub(crate) enum Mutant {
    /// Rule 3 without its one heavy barrier: both mode bits set at once.
    SwitchWithoutBarrier,
    /// Rule 3 with `WAITERS_FENCE` set before the heavy barrier.
    WaitersFenceEarly,
    /// Rule 2 without the publisher's fence and re-load.
    PublisherSkipsFence,
    /// Rule 4 with the parked count ignored: the futex is woken only when
    /// an async waker is counted (as if parked threads were not counted).
    ParkedNotCounted,
    /// Rule 4 with a parker that does not clear `WOKEN` when it announces
    /// (publishers still skip the wake while the flag is set).
    WokenNotCleared,
    /// Rule 4 with a timed sleep that does not take its announcement back
    /// when it ends (the count of parked threads leaks).
    TimedParkKeepsCount,
}

/// True if this build is the loom mutant `m`.
#[inline(always)]
fn mutant(m: Mutant) -> bool {
    #[cfg(corelane_loom)]
    return option_env!("CORELANE_LOOM_MUTANT") == Some(mutant_name(m));
    #[cfg(not(corelane_loom))]
    {
        let _ = m;
        false
    }
}

#[cfg(corelane_loom)]
fn mutant_name(m: Mutant) -> &'static str {
    match m {
        Mutant::SwitchWithoutBarrier => "SwitchWithoutBarrier",
        Mutant::WaitersFenceEarly => "WaitersFenceEarly",
        Mutant::PublisherSkipsFence => "PublisherSkipsFence",
        Mutant::ParkedNotCounted => "ParkedNotCounted",
        Mutant::WokenNotCleared => "WokenNotCleared",
        Mutant::TimedParkKeepsCount => "TimedParkKeepsCount",
    }
}

impl Notify {
    pub(crate) fn new() -> Self {
        crate::sync::barrier_init();
        Notify {
            state: AtomicUsize::new(0),
            epoch: Futex::new(),
            slow: Mutex::new(Slow {
                // Room for a few wakers up front: the first registration
                // on a cell can come at any time (a wait registers only
                // once its re-polls fail), and a wake path that allocates
                // then is one that allocates in a hot loop's first stall.
                wakers: Vec::with_capacity(WAKER_ROOM),
                spare: Vec::with_capacity(WAKER_ROOM),
                meter: SwitchMeter::new(),
            }),
            hints: CachePadded::new(SpinHints {
                async_spins: AtomicU32::new(0),
                #[cfg(not(corelane_loom))]
                park_spin_steps: AtomicU32::new(Backoff::SPIN_STEPS),
            }),
        }
    }

    /// The publisher's half: call after making progress visible.
    #[inline]
    pub(crate) fn notify(&self) {
        light_barrier();
        // Relaxed: ordered after our publication by the light barrier, which
        // pairs with the waiter's heavy barrier (rules 1 and 3).
        let state = self.state.load(Ordering::Relaxed);
        if state != 0 {
            self.notify_contended(state);
        }
    }

    /// The publisher's half once the state is non-zero: a waiter, or the
    /// symmetric mode.
    #[cold]
    #[inline(never)]
    fn notify_contended(&self, mut state: usize) {
        if state & PUBLISHERS_FENCE != 0 && !mutant(Mutant::PublisherSkipsFence) {
            // Pairs with the waiters' fence in symmetric mode (rule 2).
            fence(Ordering::SeqCst);
            // Relaxed: ordered after our publication by the fence above.
            state = self.state.load(Ordering::Relaxed);
        }
        let parked = if mutant(Mutant::ParkedNotCounted) {
            state & ASYNC != 0
        } else {
            state & PARKED != 0
        };
        if parked {
            self.wake_parked(state);
        } else if state & WOKEN != 0 {
            // Nobody parked: a stale flag would send every publish here.
            // Relaxed: clearing the flag is always safe (rule 4).
            self.state.fetch_and(!WOKEN, Ordering::Relaxed);
        }
        if state & ASYNC != 0 {
            self.wake_registered();
        }
    }

    /// Wakes the parked threads `state` counts, unless they have all been
    /// woken since they took their keys (rule 4).
    fn wake_parked(&self, state: usize) {
        if state & WOKEN != 0 {
            return;
        }
        // SeqCst: in the one order of the state's RMWs rule 4 reasons
        // about (the epoch's Release/Acquire orders the bump itself).
        if self.state.fetch_or(WOKEN, Ordering::SeqCst) & WOKEN == 0 {
            self.epoch.bump_and_wake();
        }
    }

    /// Wakes everyone unconditionally (disconnection).
    #[cold]
    pub(crate) fn notify_slow(&self) {
        self.epoch.bump_and_wake();
        self.wake_registered();
    }

    /// Takes every registered waker (and its count) and wakes it, each one
    /// even if another's `wake` panics ([`wake_all`]).
    fn wake_registered(&self) {
        let mut slow = self.slow.lock();
        let n = slow.wakers.len();
        if n == 0 {
            return;
        }
        // The count of async registrations leaves with their wakers, under
        // the lock they were counted under.
        self.state.fetch_sub(n * ONE_ASYNC, Ordering::SeqCst);
        if n == 1 {
            // `pop` keeps the list's buffer for the next registration. One
            // waker: if its `wake` panics, there is nobody else to wake.
            let one = slow.wakers.pop();
            drop(slow);
            one.into_iter().for_each(Waker::wake);
        } else {
            let spare = std::mem::take(&mut slow.spare);
            let mut all = std::mem::replace(&mut slow.wakers, spare);
            drop(slow);
            let panic = wake_all(&mut all);
            // The (now empty) buffer is the next spare: once both have
            // grown, waking and registering allocate nothing.
            let mut slow = self.slow.lock();
            if slow.spare.capacity() < all.capacity() {
                slow.spare = all;
            }
            drop(slow);
            if let Some(payload) = panic {
                std::panic::resume_unwind(payload);
            }
        }
    }

    /// Announces a parked thread (clearing `WOKEN` in the same RMW, rule
    /// 4) and runs the barrier its mode asks for. Returns false if the
    /// barrier pair could not be trusted (`sync::heavy_barrier`).
    fn announce_park(&self) -> bool {
        let keep = if mutant(Mutant::WokenNotCleared) {
            !0
        } else {
            !WOKEN
        };
        let announce = |s: usize| Some(s.wrapping_add(ONE_PARKED) & keep);
        // SeqCst: one RMW in the order of the state's changes; the barrier
        // after it is what pairs with the publisher.
        let prev = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, announce)
            .unwrap_or_else(|s| s);
        self.barrier_after_announcing(prev)
    }

    /// Takes back a park announcement; the last parker out clears `WOKEN`.
    fn retract_park(&self) {
        let prev = self.state.fetch_sub(ONE_PARKED, Ordering::SeqCst);
        if prev & PARKED == ONE_PARKED && prev & WOKEN != 0 {
            // Relaxed: clearing the flag is always safe (rule 4).
            self.state.fetch_and(!WOKEN, Ordering::Relaxed);
        }
    }

    /// The waiter's barrier, between announcing (the RMW that returned
    /// `prev`) and re-checking.
    fn barrier_after_announcing(&self, prev: usize) -> bool {
        if prev & WAITERS_FENCE != 0 {
            // Pairs with the publishers' fence in symmetric mode (rule 2).
            fence(Ordering::SeqCst);
            return true;
        }
        if self.slow.lock().meter.tick() {
            return self.switch();
        }
        heavy_barrier()
    }

    /// Switches this cell to symmetric fences (rule 3); runs the heavy
    /// barrier of the wait that switches.
    #[cold]
    fn switch(&self) -> bool {
        if mutant(Mutant::SwitchWithoutBarrier) {
            self.state
                .fetch_or(PUBLISHERS_FENCE | WAITERS_FENCE, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            return true;
        }
        if mutant(Mutant::WaitersFenceEarly) {
            self.state
                .fetch_or(PUBLISHERS_FENCE | WAITERS_FENCE, Ordering::SeqCst);
            return heavy_barrier();
        }
        // SeqCst RMWs: the barrier between them orders the first before
        // every publisher's load after its light barrier (rule 3 (b)), and
        // the second after every earlier publisher's store (rule 3 (a)).
        self.state.fetch_or(PUBLISHERS_FENCE, Ordering::SeqCst);
        let trusted = heavy_barrier();
        if trusted {
            self.state.fetch_or(WAITERS_FENCE, Ordering::SeqCst);
        }
        trusted
    }

    /// Parks the calling thread until `op` returns `Some` (re-checked after
    /// announcing, so no wake-up is lost).
    #[cold]
    pub(crate) fn park_until<R>(&self, op: &mut impl FnMut() -> Option<R>) -> R {
        loop {
            let key = self.epoch.load();
            let trusted = self.announce_park();
            if let Some(r) = op() {
                self.retract_park();
                return r;
            }
            self.sleep(key, trusted);
            self.retract_park();
            if let Some(r) = op() {
                return r;
            }
        }
    }

    /// [`park_until`](Self::park_until) that gives up at `deadline`
    /// (`None`).
    #[cold]
    pub(crate) fn park_until_deadline<R>(
        &self,
        op: &mut impl FnMut() -> Option<R>,
        deadline: std::time::Instant,
    ) -> Option<R> {
        loop {
            let key = self.epoch.load();
            let trusted = self.announce_park();
            if let Some(r) = op() {
                self.retract_park();
                return Some(r);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                self.retract_park();
                return None;
            }
            let mut nap = deadline - now;
            if !trusted {
                nap = nap.min(DEGRADED_RECHECK);
            }
            self.epoch.wait_timeout(key, nap);
            if !mutant(Mutant::TimedParkKeepsCount) {
                self.retract_park();
            }
            if let Some(r) = op() {
                return Some(r);
            }
        }
    }

    /// Sleeps until the epoch moves from `key`; only for a while if the
    /// barrier pair could not be trusted (`sync::heavy_barrier`), since the
    /// wake-up that the handshake promises may then be missed.
    #[cold]
    fn sleep(&self, key: u32, trusted: bool) {
        #[cfg(not(corelane_loom))]
        if !trusted {
            self.epoch.wait_timeout(key, DEGRADED_RECHECK);
            return;
        }
        let _ = trusted;
        self.epoch.wait(key);
    }

    /// True if a failed async poll should re-poll itself rather than
    /// register (at most [`ASYNC_SPINS`] times between two successful
    /// polls of this cell, whoever polls it). Never needed for
    /// correctness: registering is always right.
    #[inline]
    pub(crate) fn async_spin(&self) -> bool {
        // Relaxed: a hint shared by the waiters, not part of the handshake;
        // racing increments may lose one, which only shortens nothing
        // (each waiter still counts up to the limit).
        let n = self.hints.async_spins.load(Ordering::Relaxed);
        if n >= ASYNC_SPINS {
            return false;
        }
        // Relaxed, as the load: a load and a store, not an RMW, so racing
        // waiters may both store `n + 1` (one spin more, harmless in a hint).
        self.hints.async_spins.store(n + 1, Ordering::Relaxed);
        true
    }

    /// Spin steps for the next `Park` wait on this cell: the full ladder
    /// while waits have lately ended during the spin, fewer (down to one)
    /// while they have ended only once they yielded. Under loom, fixed.
    #[inline]
    pub(crate) fn park_spin_steps(&self) -> u32 {
        // Relaxed: a hint (rule 7).
        #[cfg(not(corelane_loom))]
        return self.hints.park_spin_steps.load(Ordering::Relaxed);
        #[cfg(corelane_loom)]
        Backoff::SPIN_STEPS
    }

    /// Records whether a `Park` wait that ended before parking did so while
    /// spinning (`paid`) or only once it yielded.
    #[inline]
    pub(crate) fn park_spin_paid(&self, paid: bool) {
        #[cfg(not(corelane_loom))]
        {
            // Relaxed: a hint (rule 7); a racing update may be lost.
            let steps = &self.hints.park_spin_steps;
            let n = steps.load(Ordering::Relaxed);
            let m = if paid {
                (n + 1).min(Backoff::SPIN_STEPS)
            } else {
                n.saturating_sub(1).max(1)
            };
            if m != n {
                // Relaxed: the same hint; no other memory is read on it.
                steps.store(m, Ordering::Relaxed);
            }
        }
        #[cfg(corelane_loom)]
        let _ = paid;
    }

    /// An async poll of this cell succeeded: the next wait may spin again.
    #[inline]
    pub(crate) fn async_progress(&self) {
        // Relaxed: a hint (see `async_spin`); the load keeps the line
        // shared while nobody spins.
        if self.hints.async_spins.load(Ordering::Relaxed) != 0 {
            self.hints.async_spins.store(0, Ordering::Relaxed);
        }
    }

    /// Registers `waker` to be woken at the next notify; the caller then
    /// re-checks. Returns false if the barrier pair could not be trusted:
    /// the caller must then arrange its own re-poll rather than rely on a
    /// notify.
    #[cold]
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        let mut slow = self.slow.lock();
        if slow.wakers.iter().any(|w| w.will_wake(waker)) {
            // Rule 5: announced, followed by a barrier, not taken since.
            // Relaxed: the mode bits only say which barrier that was.
            let symmetric = self.state.load(Ordering::Relaxed) & WAITERS_FENCE != 0;
            return symmetric || barrier_trusted();
        }
        slow.wakers.push(waker.clone());
        // Counted under the lock, as `wake_registered` uncounts (SeqCst:
        // as in `announce`).
        let prev = self.state.fetch_add(ONE_ASYNC, Ordering::SeqCst);
        drop(slow);
        self.barrier_after_announcing(prev)
    }

    /// Whether this cell has switched to symmetric fences (tests only).
    #[cfg(all(test, not(corelane_loom)))]
    pub(crate) fn is_symmetric(&self) -> bool {
        // Relaxed: mode bits are only ever set, and the tests read them on
        // the thread that set them (or after joining it).
        self.state.load(Ordering::Relaxed) & WAITERS_FENCE != 0
    }
}

/// Wakes (and empties) every waker of `wakers`. The wakers were taken from
/// the cell and uncounted, so no later notify would wake one this call
/// skips: a `wake` that panics must not leave the rest to be dropped
/// unwoken by the unwind. Each `wake` runs under `catch_unwind`; the first
/// panic's payload is returned for the caller to resume once the buffer is
/// back (later ones are dropped: one panic is all a caller can take).
#[cold]
fn wake_all(wakers: &mut Vec<Waker>) -> Option<Box<dyn std::any::Any + Send>> {
    let mut first_panic = None;
    for waker in wakers.drain(..) {
        // AssertUnwindSafe: the closure owns the waker, which is consumed
        // whether `wake` returns or unwinds; nothing of ours is left half
        // changed (the lock is released and the count already taken).
        if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            first_panic.get_or_insert(payload);
        }
    }
    first_panic
}

/// The cell's protocol as the loom models in `loom-tests/` drive it (loom
/// builds only; not part of the API).
#[cfg(corelane_loom)]
pub mod loom_hooks {
    use std::task::{Context, Poll};

    /// One wake-up cell.
    pub struct Cell(super::Notify);

    impl Cell {
        /// A fresh cell (asymmetric mode).
        #[allow(clippy::new_without_default)]
        pub fn new() -> Self {
            Cell(super::Notify::new())
        }

        /// The publisher's half, after a store the waiters' `op` reads.
        pub fn notify(&self) {
            self.0.notify();
        }

        /// Parks until `op` returns `Some`, as `WaitStrategy::Park` does.
        pub fn park_until<R>(&self, mut op: impl FnMut() -> Option<R>) -> R {
            self.0.park_until(&mut op)
        }

        /// One poll of an async wait on `op`, as `recv` and `send` do.
        pub fn poll<R>(&self, cx: &mut Context<'_>, op: impl FnMut() -> Option<R>) -> Poll<R> {
            crate::queue::wait::poll_retry(&self.0, cx, op)
        }

        /// Parks until `op` returns `Some` or `deadline` passes, as the
        /// `*_until` calls with `WaitStrategy::Park` do once they stop
        /// spinning (under loom each timed sleep is a yield).
        pub fn park_until_deadline<R>(
            &self,
            mut op: impl FnMut() -> Option<R>,
            deadline: std::time::Instant,
        ) -> Option<R> {
            self.0.park_until_deadline(&mut op, deadline)
        }

        /// The parked threads the cell counts: 0 once every wait has ended
        /// (each announcement taken back).
        pub fn parked(&self) -> usize {
            // Relaxed: read once the waiters have been joined.
            (self.0.state.load(super::Ordering::Relaxed) & super::PARKED) / super::ONE_PARKED
        }
    }
}

#[cfg(all(test, not(corelane_loom)))]
mod tests;
