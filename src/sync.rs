//! The one shim that names atomics, cells, fences and spin hints.
//!
//! Everything in corelane that touches shared memory goes through this module.
//! Under the crate-specific cfg `corelane_loom` it re-exports [loom]'s
//! instrumented types so every atomic protocol can be model-checked; in normal
//! builds it re-exports `std` (and adds nothing). The cfg is crate-specific on
//! purpose: a user running their own code with `--cfg loom` must not flip our
//! internals.
//!
//! Besides re-exports the shim provides three things protocols need:
//!
//! * [`UnsafeCell`] with loom's closure API (`with` / `with_mut`) on both sides.
//! * An *asymmetric barrier* pair, [`light_barrier`] and [`heavy_barrier`]: the
//!   wake-up handshake of the wait strategies ("publish, then check for
//!   sleepers" against "announce, then re-check for data") needs a StoreLoad
//!   barrier on both sides. The publisher's side runs on every push, so it is a
//!   compiler fence only, and the sleeper's side (a slow path) asks the kernel
//!   (`membarrier(2)`, private expedited) to run a full barrier on every CPU
//!   running this process. Where membarrier is unavailable both sides fall back
//!   to `fence(SeqCst)`. Under loom they are modelled as membarrier behaves
//!   (see [`light_barrier`]): a light barrier alone is no fence, so a
//!   protocol that pairs it with anything but a heavy barrier fails its model.
//! * [`Futex`]: a 32-bit word threads can sleep on (futex on Linux; a
//!   mutex/condvar pair under loom, so a lost wake-up shows up as a deadlock).
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(corelane_loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(not(corelane_loom))]
pub(crate) use std::sync::Arc;

#[cfg(corelane_loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(corelane_loom)]
pub(crate) use loom::sync::Arc;

/// Declares a `static` thread-local with a `const` initializer: std's
/// `thread_local!` (const-initialized: no lazy-init check on access), or
/// under loom loom's, whose values are per *model* thread. loom runs every
/// model thread on one OS thread, so a std thread-local would be shared by
/// all of them (a worker's pointer to itself seen from a waker's thread).
/// loom's macro takes no `const { .. }` initializer, hence this one.
macro_rules! thread_local_const {
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(corelane_loom))]
        std::thread_local! {
            $(#[$attr])* $vis static $name: $t = const { $init };
        }
        #[cfg(corelane_loom)]
        loom::thread_local! {
            $(#[$attr])* $vis static $name: $t = $init;
        }
    };
}
pub(crate) use thread_local_const;

/// True in a loom build made with `CORELANE_LOOM_MUTANT=<name>` (the
/// deliberately broken variants `ci/loom-mutants.sh` checks the models
/// fail against); a constant `false` in every other build. The names are
/// listed where they are used and in `ci/loom-mutants.sh` (the wake-up
/// cell keeps its own enum, `queue::notify::Mutant`).
#[inline(always)]
pub(crate) fn loom_mutant(name: &str) -> bool {
    #[cfg(corelane_loom)]
    return option_env!("CORELANE_LOOM_MUTANT") == Some(name);
    #[cfg(not(corelane_loom))]
    {
        let _ = name;
        false
    }
}

/// A mutex for slow paths (waker lists); poisoning is ignored because the
/// protected data (a list of wakers) stays consistent whatever panics.
#[cfg(not(corelane_loom))]
pub(crate) struct Mutex<T>(std::sync::Mutex<T>);
#[cfg(corelane_loom)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(v: T) -> Self {
        #[cfg(not(corelane_loom))]
        return Mutex(std::sync::Mutex::new(v));
        #[cfg(corelane_loom)]
        return Mutex(loom::sync::Mutex::new(v));
    }

    #[cfg(not(corelane_loom))]
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(corelane_loom)]
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A spin-loop hint: `pause` on x86; a yield to the scheduler under loom so
/// spin loops do not explode the model.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(corelane_loom))]
    std::hint::spin_loop();
    #[cfg(corelane_loom)]
    loom::thread::yield_now();
}

/// Asks the CPU to start loading the cache line holding `p` into its
/// caches (`prefetcht0`). A hint: never faults, has no visible effect, and
/// is a no-op off x86_64 and under loom.
#[inline]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(all(target_arch = "x86_64", not(corelane_loom)))]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch of any address is sound: it never faults and
        // reads nothing the program can observe (SSE is baseline on x86_64).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(all(target_arch = "x86_64", not(corelane_loom))))]
    let _ = p;
}

/// Under loom, a yield to the model scheduler; nothing in other builds.
/// For a loop that can go round waiting for another thread's progress
/// without a spin hint of its own (say, a ring slot claimed and not yet
/// written): loom must be told, or it runs the loop forever.
#[inline(always)]
pub(crate) fn loom_yield() {
    #[cfg(corelane_loom)]
    loom::thread::yield_now();
}

/// Yields the thread to the OS scheduler (loom: to the model scheduler).
#[inline]
pub(crate) fn yield_now() {
    #[cfg(not(corelane_loom))]
    std::thread::yield_now();
    #[cfg(corelane_loom)]
    loom::thread::yield_now();
}

/// `UnsafeCell` with loom's closure API, so slot access is checked by loom.
///
/// Under loom the data lives in a plain cell and a loom cell of `()` tracks
/// the accesses: `with`/`with_mut` are checked exactly as loom's own cell
/// would check them, and [`with_racy`](UnsafeCell::with_racy) (a seqlock's
/// copy, which races with writers by design and is validated afterwards)
/// reads without being tracked.
#[cfg(corelane_loom)]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T> {
    tracker: loom::cell::UnsafeCell<()>,
    data: std::cell::UnsafeCell<T>,
}

#[cfg(corelane_loom)]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(v: T) -> Self {
        UnsafeCell {
            tracker: loom::cell::UnsafeCell::new(()),
            data: std::cell::UnsafeCell::new(v),
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.tracker.with(|_| f(self.data.get()))
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.tracker.with_mut(|_| f(self.data.get()))
    }

    /// A read that may race with a writer (a seqlock's copy); not tracked.
    pub(crate) fn with_racy<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.data.get())
    }
}

/// `UnsafeCell` with loom's closure API, so slot access is checked by loom.
#[cfg(not(corelane_loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(corelane_loom))]
impl<T> UnsafeCell<T> {
    #[inline]
    pub(crate) const fn new(v: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }

    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }

    /// A read that may race with a writer (a seqlock's copy, validated
    /// afterwards); loom builds do not track it.
    #[inline]
    pub(crate) fn with_racy<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
}

// ---------------------------------------------------------------------------
// Asymmetric barriers
// ---------------------------------------------------------------------------

#[cfg(all(not(corelane_loom), target_os = "linux"))]
mod membarrier {
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::Once;

    const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    /// Not registered yet: both sides use full fences.
    const UNKNOWN: u8 = 0;
    /// Registered: the light side is a compiler fence.
    const YES: u8 = 1;
    /// Unavailable: both sides use full fences (a sound pair).
    const NO: u8 = 2;
    /// Registered, then an expedited barrier failed: both sides use full
    /// fences from now on, but a light barrier that read `YES` just before
    /// may still be in flight, so the handshake is no longer trusted and
    /// sleepers wake up on a timer to re-check (see `Notify`).
    const FAILED: u8 = 3;

    /// Moves UNKNOWN -> YES | NO (once, under `INIT`), then YES -> FAILED at
    /// most once. Relaxed suffices: a thread that reads a stale UNKNOWN or
    /// NO takes the full-fence path, which is correct on its own; YES is
    /// stored only after registration returned; a stale YES after FAILED is
    /// the in-flight case that FAILED's timed sleeps cover.
    static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
    static INIT: Once = Once::new();

    fn membarrier(cmd: libc::c_long) -> bool {
        // SAFETY: membarrier takes (cmd, flags, cpu_id) integers and touches
        // no user memory; an unsupported command just returns -1.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            ) == 0
        }
    }

    /// Registers once per process; concurrent callers wait for the first.
    #[cold]
    pub(crate) fn init() {
        INIT.call_once(|| {
            let ok = membarrier(CMD_REGISTER_PRIVATE_EXPEDITED);
            // Relaxed (see `STATE`): YES only after registration returned;
            // a reader that misses it takes the full-fence path. `INIT`
            // orders it for the threads that waited in `call_once`.
            STATE.store(if ok { YES } else { NO }, Ordering::Relaxed);
        });
    }

    #[inline(always)]
    pub(crate) fn available() -> bool {
        // Relaxed (see `STATE`): a stale answer picks the full fence, which
        // is sound on its own, or is the in-flight case FAILED covers.
        STATE.load(Ordering::Relaxed) == YES
    }

    /// Runs the expedited barrier if registered. Returns false if the
    /// handshake cannot be trusted (the barrier failed, now or before).
    #[cold]
    pub(crate) fn heavy() -> bool {
        // Relaxed (see `STATE`): the barrier orders nothing by this load;
        // the syscall (or the full fences of the other states) does.
        match STATE.load(Ordering::Relaxed) {
            YES => {
                // A transient failure (the kernel could not allocate its
                // CPU mask) may pass: try twice before giving up for good.
                if membarrier(CMD_PRIVATE_EXPEDITED) || membarrier(CMD_PRIVATE_EXPEDITED) {
                    return true;
                }
                fail();
                false
            }
            FAILED => false,
            _ => true,
        }
    }

    /// False once the barrier has failed (`heavy` returns false from then on).
    #[inline]
    pub(crate) fn trusted() -> bool {
        // Relaxed (see `STATE`): a stale "trusted" right after a failure is
        // the in-flight case; the failing waiter itself got `false` from
        // `heavy` and sleeps on a timer.
        STATE.load(Ordering::Relaxed) != FAILED
    }

    /// Gives up on membarrier for the rest of the process.
    #[cold]
    fn fail() {
        // Relaxed both ways (see `STATE`): the CAS only makes YES -> FAILED
        // happen once; no other memory is published with it.
        let _ = STATE.compare_exchange(YES, FAILED, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Enters the degraded state whatever the current one (tests only).
    #[cfg(test)]
    pub(crate) fn force_failed() {
        // Relaxed: as `fail` (tests only).
        STATE.store(FAILED, Ordering::Relaxed);
    }
}

/// Prepares the asymmetric barrier (registers with `membarrier(2)` once per
/// process; concurrent first calls are serialized). Cheap after the first
/// call.
#[inline]
pub(crate) fn barrier_init() {
    #[cfg(all(not(corelane_loom), target_os = "linux"))]
    membarrier::init();
}

/// The fast side of the StoreLoad handshake: orders this thread's earlier
/// stores before its later loads *with respect to a concurrent
/// [`heavy_barrier`]*, and with respect to nothing else. A compiler fence
/// when membarrier is registered, else `fence(SeqCst)`.
///
/// Under loom, membarrier is modelled as the full fence it runs on this
/// thread landing exactly here: the light barrier is an AcqRel RMW of a
/// word of this thread's own, and a heavy barrier RMWs every such word in
/// turn. A light barrier before the heavy one's visit releases this
/// thread's earlier stores to the heavy side's later loads; one after it
/// acquires the heavy side's earlier stores for this thread's later loads,
/// which is what membarrier promises. A light barrier is no
/// `fence(SeqCst)`, so a protocol that pairs it with a plain fence, or with
/// nothing, fails its model; and light barriers of two threads never
/// synchronize with each other (an earlier model, one word for everyone,
/// let them, which real compiler fences do not).
#[inline(always)]
pub(crate) fn light_barrier() {
    #[cfg(all(not(corelane_loom), target_os = "linux"))]
    {
        if membarrier::available() {
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }
    #[cfg(all(not(corelane_loom), not(target_os = "linux")))]
    fence(Ordering::SeqCst);
    #[cfg(corelane_loom)]
    loom_membarrier::light();
}

/// The loom model of membarrier (see [`light_barrier`]).
///
/// One word per thread: a thread's light barriers are AcqRel RMWs of its
/// own word, and a heavy barrier RMWs the word of every thread that has
/// passed a light barrier, one after another. So for each thread, the heavy
/// barrier lands either after its light barrier (its earlier stores are
/// released to the heavy side) or before it (the heavy side's earlier
/// stores are released to its later loads), which is what membarrier
/// promises, thread by thread. Two light barriers of different threads
/// never synchronize (compiler fences do not), so a protocol that needs
/// them to fails its model.
#[cfg(corelane_loom)]
mod loom_membarrier {
    use super::{AtomicUsize, Ordering};

    loom::lazy_static! {
        /// One word per thread; only the order of the RMWs of each matters.
        static ref WORDS: [AtomicUsize; loom::MAX_THREADS] =
            std::array::from_fn(|_| AtomicUsize::new(0));
        /// How many words are taken: threads that passed a light barrier.
        static ref TAKEN: AtomicUsize = AtomicUsize::new(0);
    }

    loom::thread_local! {
        /// This thread's word. Acquire (no Release): a thread that takes
        /// its word after a heavy barrier counted the words (that RMW heads
        /// the release sequence) sees that barrier's earlier stores, and
        /// threads taking words do not synchronize with one another.
        static WORD: usize = TAKEN.fetch_add(1, Ordering::Acquire);
    }

    /// A light barrier: this thread's place in the order of the heavy
    /// barriers' visits to its word.
    pub(super) fn light() {
        WORD.with(|&i| WORDS[i].fetch_add(1, Ordering::AcqRel));
    }

    /// A heavy barrier: a visit to every taken word.
    pub(super) fn heavy() {
        // AcqRel RMW, not a load: it joins the release sequence `WORD`'s
        // Acquire takes, so a thread taking its word later sees our stores.
        let taken = TAKEN.fetch_add(0, Ordering::AcqRel);
        for word in &WORDS[..taken] {
            // AcqRel: pairs with that thread's light-barrier RMW of the
            // same word, in whichever order the two land (see above).
            word.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The slow side of the StoreLoad handshake: after it returns `true`, every
/// thread that passed a [`light_barrier`] has its earlier stores visible to
/// us, or will see our earlier stores in its later loads.
///
/// Returns `false` when that cannot be promised: the expedited membarrier
/// failed (now or earlier in the process), so a light barrier that was
/// already in flight may have been only a compiler fence. Light barriers
/// use full fences from then on; a caller about to sleep on the handshake
/// must sleep with a timeout and re-check.
#[cold]
#[must_use = "a false return means the handshake may miss a concurrent light barrier"]
pub(crate) fn heavy_barrier() -> bool {
    fence(Ordering::SeqCst);
    // When membarrier is not available the light side used a full fence,
    // so the fence above completes the pair.
    #[cfg(all(not(corelane_loom), target_os = "linux"))]
    return membarrier::heavy();
    #[cfg(all(not(corelane_loom), not(target_os = "linux")))]
    return true;
    #[cfg(corelane_loom)]
    {
        loom_membarrier::heavy();
        true
    }
}

/// False once a heavy barrier has failed in this process (the state every
/// later [`heavy_barrier`] reports), without running one.
#[inline]
pub(crate) fn barrier_trusted() -> bool {
    #[cfg(all(not(corelane_loom), target_os = "linux"))]
    return membarrier::trusted();
    #[cfg(any(corelane_loom, not(target_os = "linux")))]
    true
}

/// Makes the asymmetric barrier behave as after a failed `membarrier`, for
/// tests of the degraded path.
#[cfg(all(test, not(corelane_loom), target_os = "linux"))]
pub(crate) fn simulate_membarrier_failure() {
    barrier_init();
    membarrier::force_failed();
}

/// A join handshake's heavy side: [`heavy_barrier`], and if that cannot be
/// trusted, a grace period for light barriers already in flight (every
/// later one is a full fence), then a full fence again.
#[cold]
pub(crate) fn join_barrier() {
    if !heavy_barrier() {
        #[cfg(not(corelane_loom))]
        std::thread::sleep(std::time::Duration::from_millis(1));
        fence(Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Futex
// ---------------------------------------------------------------------------

/// A 32-bit word a thread can sleep on until it changes.
pub(crate) struct Futex {
    word: AtomicU32,
    #[cfg(corelane_loom)]
    lock: loom::sync::Mutex<()>,
    #[cfg(corelane_loom)]
    cv: loom::sync::Condvar,
}

impl Futex {
    pub(crate) fn new() -> Self {
        Futex {
            word: AtomicU32::new(0),
            #[cfg(corelane_loom)]
            lock: loom::sync::Mutex::new(()),
            #[cfg(corelane_loom)]
            cv: loom::sync::Condvar::new(),
        }
    }

    /// Current value (Acquire: pairs with the Release in [`Futex::bump_and_wake`]).
    #[inline]
    pub(crate) fn load(&self) -> u32 {
        self.word.load(Ordering::Acquire)
    }

    /// Sleeps while the word still equals `expected`. May return spuriously.
    #[cfg(not(corelane_loom))]
    pub(crate) fn wait(&self, expected: u32) {
        #[cfg(target_os = "linux")]
        // SAFETY: the word is a live, aligned u32 for the duration of the
        // call (we hold `&self`); FUTEX_WAIT only reads it.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                std::ptr::null::<libc::timespec>(),
            );
        }
        // Acquire: pairs with the Release bump in `bump_and_wake`, as `load`.
        #[cfg(not(target_os = "linux"))]
        while self.word.load(Ordering::Acquire) == expected {
            std::thread::park_timeout(std::time::Duration::from_micros(50));
        }
    }

    /// Sleeps while the word still equals `expected`, at most `timeout`.
    /// May return spuriously.
    #[cfg(not(corelane_loom))]
    pub(crate) fn wait_timeout(&self, expected: u32, timeout: std::time::Duration) {
        #[cfg(target_os = "linux")]
        {
            let ts = libc::timespec {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            // SAFETY: as in `wait`; the timespec lives across the call
            // (a relative timeout for FUTEX_WAIT).
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    expected,
                    &ts as *const libc::timespec,
                );
            }
        }
        // Acquire: pairs with the Release bump in `bump_and_wake`, as `load`.
        #[cfg(not(target_os = "linux"))]
        if self.word.load(Ordering::Acquire) == expected {
            std::thread::park_timeout(timeout);
        }
    }

    /// Under loom time does not pass: a timed wait is a yield (a spurious
    /// return, which every caller allows).
    #[cfg(corelane_loom)]
    pub(crate) fn wait_timeout(&self, _expected: u32, _timeout: std::time::Duration) {
        loom::thread::yield_now();
    }

    /// Sleeps while the word still equals `expected`.
    #[cfg(corelane_loom)]
    pub(crate) fn wait(&self, expected: u32) {
        let mut g = self.lock.lock().unwrap();
        // Acquire: pairs with the Release bump in `bump_and_wake`; the
        // bumper then takes the lock to notify, so no wake is missed.
        while self.word.load(Ordering::Acquire) == expected {
            g = self.cv.wait(g).unwrap();
        }
    }

    /// Changes the word and wakes every sleeper.
    pub(crate) fn bump_and_wake(&self) {
        // Release: pairs with the Acquire `load` a sleeper took its key with.
        self.word.fetch_add(1, Ordering::Release);
        #[cfg(all(not(corelane_loom), target_os = "linux"))]
        // SAFETY: as in `wait`; FUTEX_WAKE does not access the word.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            );
        }
        #[cfg(corelane_loom)]
        {
            let _g = self.lock.lock().unwrap();
            self.cv.notify_all();
        }
    }
}

/// A fresh process-wide tag (for telling apart the ids of different rings).
/// A plain counter, not part of any protocol: always std, never modelled.
/// Relaxed: only uniqueness matters (wraps after 2^32 tags).
pub(crate) fn next_tag() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Pads and aligns a value to the length of a cache line (128 bytes on
/// x86_64: the adjacent-line prefetcher pulls lines in pairs).
pub(crate) use crossbeam_utils::CachePadded;
