//! Cross-core hand-over: what travels through a core's inbox ring, and the
//! doorbell that wakes a parked core.
//!
//! Every core owns one `mpsc` ring (corelane's own): the other cores each
//! hold a producer clone (no lock), threads outside the runtime share one
//! producer behind a mutex, and a full ring spills into an overflow list
//! (never lost). One ring per core, not one per pair: a core polls one
//! ring whatever the number of senders (Seastar's 2N-1 polls per loop are
//! scylladb/seastar#986).
//!
//! # The doorbell (an eventcount)
//!
//! ```text
//!   sender                              core going to sleep
//!   push into the inbox (Release)       state = PARKED
//!   fence(SeqCst)                       fence(SeqCst)
//!   if state == PARKED and              if inbox, overflow or shutdown
//!      swap(RUNNING) == PARKED:            has something: state = RUNNING,
//!        signal (eventfd write)            do not sleep
//!                                       sleep on the signal (eventfd),
//!                                         at most until the next timer
//!                                       state = RUNNING
//! ```
//!
//! The two SeqCst fences are a Dekker pair: either the sender's load sees
//! `PARKED` (and exactly one sender, the one whose swap found it, signals),
//! or the sleeper's re-check sees the push. A busy core is never signalled:
//! its sender pays a fence and a load, no syscall. A signal that arrives
//! after the core woke by itself (timeout) leaves the eventfd readable;
//! the next sleep then returns at once, re-checks and sleeps again: a
//! spurious wake, never a lost one.
//!
//! loom models (`loom-tests/tests/sched.rs`): a push from another core's
//! producer or from a foreign thread against a core going to park, and the
//! whole worker loop taking a remote wake; each fails without either fence
//! (the `RingSkipsFence` and `ParkSkipsFence` mutants).

use super::task::Runnable;
use crate::sync::{fence, loom_mutant, AtomicU32, CachePadded, Ordering};

/// One item in a core's inbox.
pub(crate) enum Msg {
    /// A task to run here (a remote spawn or a remote wake).
    Run(Runnable),
    /// A task registered here has finished elsewhere: free its slot.
    Deregister(u32),
    /// Wake whatever task holds this registry slot (it was aborted).
    Abort(u32),
    /// Cancel a timer of this core's wheel (a `Sleep` whose task moved).
    CancelTimer(crate::timer::TimerKey),
}

const RUNNING: u32 = 0;
const PARKED: u32 = 1;

/// The wake-up signal of one core: an eventfd (which an io_uring park can
/// keep a read armed on), or, under loom, a futex word.
pub(crate) struct Doorbell {
    state: CachePadded<AtomicU32>,
    signal: Signal,
}

impl Doorbell {
    pub(crate) fn new() -> std::io::Result<Doorbell> {
        Ok(Doorbell {
            state: CachePadded::new(AtomicU32::new(RUNNING)),
            signal: Signal::new()?,
        })
    }

    /// The sender's half: call after the push is published. Returns
    /// whether the core was asleep (and has been signalled).
    #[inline]
    pub(crate) fn ring(&self) -> bool {
        // SeqCst fence: the sender's half of the Dekker pair with the one
        // in `prepare_park` (push; fence; load state). (`RingSkipsFence`:
        // the loom mutant without it, see `ci/loom-mutants.sh`.)
        if !loom_mutant("RingSkipsFence") {
            fence(Ordering::SeqCst);
        }
        // Relaxed load: ordered by the fence above; only a PARKED reading
        // leads anywhere, and the swap below re-reads it atomically.
        if self.state.load(Ordering::Relaxed) == PARKED
            // AcqRel swap: one sender wins a given park (the loser reads
            // RUNNING); Acquire is not needed for data, Release keeps the
            // push before the signal on weakly ordered machines.
            && self.state.swap(RUNNING, Ordering::AcqRel) == PARKED
        {
            self.signal.raise();
            return true;
        }
        false
    }

    /// The sleeper's first half: announce, then fence. The caller must
    /// re-check its inbox (and everything else that can make work) after
    /// this and before [`Doorbell::sleep`].
    #[inline]
    pub(crate) fn prepare_park(&self) {
        // Relaxed store: the fence below orders it before the re-check
        // (the sleeper's half of the Dekker pair with `ring`).
        self.state.store(PARKED, Ordering::Relaxed);
        // (`ParkSkipsFence`: the loom mutant without it.)
        if !loom_mutant("ParkSkipsFence") {
            fence(Ordering::SeqCst);
        }
    }

    /// The sleeper is awake (or decided not to sleep).
    #[inline]
    pub(crate) fn finish_park(&self) {
        // Relaxed: only senders read it, and a stale PARKED costs them one
        // spurious signal (the swap), never a lost one.
        self.state.store(RUNNING, Ordering::Relaxed);
    }

    /// The underlying signal (for a park step that waits on it).
    pub(crate) fn signal(&self) -> &Signal {
        &self.signal
    }
}

/// The eventfd behind a doorbell.
#[cfg(not(corelane_loom))]
pub(crate) struct Signal {
    fd: std::os::fd::OwnedFd,
}

#[cfg(not(corelane_loom))]
impl Signal {
    fn new() -> std::io::Result<Signal> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd has no memory preconditions; a non-negative
        // return is a fresh descriptor we own.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by no one else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(Signal { fd })
    }

    /// The eventfd (an io_uring park keeps a read armed on it).
    #[allow(dead_code)] // the io park step uses it
    pub(crate) fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.fd.as_raw_fd()
    }

    fn raise(&self) {
        use std::os::fd::AsRawFd;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. A failure
        // (EAGAIN at a counter of u64::MAX - 1) leaves the fd readable,
        // which is all a signal needs.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Waits until the signal is raised or `timeout` passes (`None`:
    /// forever), then clears it. May return early.
    pub(crate) fn wait(&self, timeout: Option<std::time::Duration>) {
        use std::os::fd::AsRawFd;
        let fd = self.fd.as_raw_fd();
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: one live pollfd; the timespec (if any) lives across the
        // call; no signal mask.
        unsafe { libc::ppoll(&mut pfd, 1, tsp, std::ptr::null()) };
        let mut buf = 0u64;
        // SAFETY: reads at most 8 bytes into a live u64; the fd is
        // non-blocking, so an unsignalled fd returns EAGAIN at once.
        unsafe { libc::read(fd, (&mut buf as *mut u64).cast(), 8) };
    }
}

/// Under loom: a futex word (`sync::Futex` is a mutex and condvar there).
#[cfg(corelane_loom)]
pub(crate) struct Signal {
    futex: crate::sync::Futex,
    raised: crate::sync::AtomicBool,
}

#[cfg(corelane_loom)]
impl Signal {
    fn new() -> std::io::Result<Signal> {
        Ok(Signal {
            futex: crate::sync::Futex::new(),
            raised: crate::sync::AtomicBool::new(false),
        })
    }

    fn raise(&self) {
        // SeqCst: a model-only flag; the strongest ordering keeps the
        // model about the doorbell, not about this stand-in.
        self.raised.store(true, Ordering::SeqCst);
        self.futex.bump_and_wake();
    }

    /// Sleeps until raised (loom has no time: a timed wait is a yield).
    pub(crate) fn wait(&self, timeout: Option<std::time::Duration>) {
        let key = self.futex.load();
        if !self.raised.swap(false, Ordering::SeqCst) {
            match timeout {
                Some(t) => self.futex.wait_timeout(key, t),
                None => self.futex.wait(key),
            }
            self.raised.store(false, Ordering::SeqCst);
        }
    }
}
