//! The driver as one core shares it: the thread-local handle futures
//! reach it through, wakes after the borrow ends, drop paths that defer
//! while the driver is borrowed, and the park step ([`IoPark`]) with its
//! teardown.

use super::{buf_ring, Config, Deferred, Driver, Garbage, Unavailable};
use crate::sched::stats::IoStats;
use io_uring::types;
use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

/// The driver as futures and the park step share it on one thread.
pub(crate) struct Inner {
    pub(crate) driver: RefCell<Driver>,
    pub(super) deferred: RefCell<std::collections::VecDeque<Deferred>>,
    /// The park step has been torn down: drop paths close plain
    /// descriptors themselves.
    dead: std::cell::Cell<bool>,
}

pub(super) fn set_waker(slot: &mut Option<Waker>, w: &Waker) {
    match slot {
        Some(old) if old.will_wake(w) => {}
        _ => {
            // The old waker is dropped after the driver's borrow (it may
            // be the last reference to a finished task whose output owns
            // a stream).
            if let Some(old) = slot.replace(w.clone()) {
                discard(Garbage::Waker(old));
            }
        }
    }
}

thread_local! {
    /// What the driver let go of while borrowed, dropped after.
    static GARBAGE: RefCell<Vec<Garbage>> = const { RefCell::new(Vec::new()) };
    /// This thread's driver (a core of a runtime with io).
    static CURRENT: RefCell<Current> = const { RefCell::new(Current::None) };
}

/// Keeps `g` to be dropped once the driver's borrow has ended.
pub(crate) fn discard(g: Garbage) {
    GARBAGE.with(|d| d.borrow_mut().push(g));
}

/// Drops what [`discard`] kept (one at a time: the list keeps its
/// capacity, and a drop that discards more cannot find it borrowed); a
/// vectored send's emptied storage goes back to `inner`'s pool.
fn drop_replaced(inner: &Inner) {
    while let Some(g) = GARBAGE.with(|d| d.borrow_mut().pop()) {
        // A user's `Bytes` owner or waker may panic in its drop: that
        // must not unwind out of the core's park step. The panic is
        // swallowed (its payload leaked), as the scheduler does for drops
        // it runs outside any task.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.dispose())) {
            Ok(Some(spare)) => {
                if let Ok(mut d) = inner.driver.try_borrow_mut() {
                    d.put_vectored(spare);
                }
            }
            Ok(None) => {}
            Err(payload) => std::mem::forget(payload),
        }
    }
}

impl Garbage {
    /// Drops it; a vectored send's storage is returned, emptied, for reuse.
    fn dispose(self) -> Option<Box<super::Vectored>> {
        match self {
            Garbage::Mem(super::Mem::Vectored(mut v)) => {
                v.clear();
                Some(v)
            }
            g => {
                drop(g);
                None
            }
        }
    }
}

enum Current {
    None,
    Ready(Rc<Inner>),
    Failed(Unavailable),
}

/// The current core's driver, or why there is none.
pub(crate) fn current() -> Result<Rc<Inner>, Unavailable> {
    CURRENT.with(|c| match &*c.borrow() {
        Current::Ready(i) => Ok(i.clone()),
        Current::Failed(u) => Err(u.clone()),
        Current::None => Err(if crate::sched::try_current_core().is_ok() {
            Unavailable::Off
        } else {
            Unavailable::NotInRuntime
        }),
    })
}

impl Inner {
    /// Runs `f` on the driver, then wakes what it completed. Drop paths use
    /// [`Inner::or_defer`] instead.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Driver) -> R) -> R {
        let (r, wakes) = {
            let mut d = self.driver.borrow_mut();
            self.run_deferred(&mut d);
            let r = f(&mut d);
            let w = if d.wake.is_empty() {
                None
            } else {
                Some(d.take_wakes())
            };
            (r, w)
        };
        self.after(wakes);
        r
    }

    fn after(&self, wakes: Option<Vec<Waker>>) {
        // Wakes first: a panicking drop below must not lose them.
        if let Some(mut v) = wakes {
            for w in v.drain(..) {
                w.wake();
            }
            if let Ok(mut d) = self.driver.try_borrow_mut() {
                d.put_back(v);
            }
        }
        drop_replaced(self);
    }

    /// For drop paths: act now, or later if the driver is busy.
    pub(crate) fn or_defer(&self, action: Deferred) {
        if self.dead.get() {
            // Nothing submits to the ring any more: close a plain
            // descriptor here (a direct one goes with the ring's table).
            if let Deferred::Close(super::Target::Fd(fd))
            | Deferred::Detach(_, super::Target::Fd(fd)) = action
            {
                // SAFETY: `fd` was ours to close (the stream or listener
                // gave it up); nothing else refers to it any more.
                unsafe { libc::close(fd) };
            }
            return;
        }
        match self.driver.try_borrow_mut() {
            Ok(mut d) => {
                self.run_deferred(&mut d);
                run_action(&mut d, action);
            }
            Err(_) => self.deferred.borrow_mut().push_back(action),
        }
    }

    /// Runs the drop-path actions queued while the driver was borrowed.
    /// The queue is not borrowed while they run (an action may drop what
    /// queues more), and the driver discards instead of dropping.
    fn run_deferred(&self, d: &mut Driver) {
        loop {
            // In order: a close queued after a cancel is submitted after it.
            let a = self.deferred.borrow_mut().pop_front();
            match a {
                Some(a) => run_action(d, a),
                None => return,
            }
        }
    }

    /// The park step: replenish buffers, keep the doorbell armed, one
    /// enter that waits up to `timeout` (shorter while receives starve,
    /// since buffers dropped on another core send no signal).
    pub(crate) fn park(&self, doorbell: RawFd, timeout: Option<Duration>) {
        let wakes = {
            let mut d = self.driver.borrow_mut();
            self.run_deferred(&mut d);
            d.doorbell = Some(doorbell);
            d.replenish();
            if !d.wake.is_empty() {
                // Buffers came back for a starved receive: do not sleep.
                d.enter(false, None);
            } else {
                d.arm_doorbell();
                let mut timeout = timeout;
                if !d.starved.is_empty() {
                    let cap = Duration::from_micros(200);
                    timeout = Some(timeout.map_or(cap, |t| t.min(cap)));
                }
                if let Some(at) = d.next_expiry() {
                    let left = at.saturating_duration_since(Instant::now());
                    timeout = Some(timeout.map_or(left, |t| t.min(left)));
                }
                d.stats.parks += 1;
                d.enter(true, timeout);
                d.replenish();
            }
            Some(d.take_wakes())
        };
        self.after(wakes);
    }

    /// A non-blocking pass: submit, run deferred completions, reap.
    /// Returns whether any task was woken.
    pub(crate) fn poll(&self) -> bool {
        let wakes = {
            let Ok(mut d) = self.driver.try_borrow_mut() else {
                return false;
            };
            self.run_deferred(&mut d);
            d.replenish();
            d.enter(false, None);
            d.take_wakes()
        };
        let any = !wakes.is_empty();
        self.after(Some(wakes));
        any
    }
}

fn run_action(d: &mut Driver, a: Deferred) {
    match a {
        Deferred::Release(k) => d.release(k),
        Deferred::Detach(k, t) => d.detach(k, Some(t)),
        Deferred::Close(t) => d.close(t),
    }
}

/// Installs a driver on this thread (a core of a runtime with io) and
/// returns the park step that drives it.
pub(crate) fn install(cfg: &Config) -> Result<IoPark, Unavailable> {
    match Driver::new(cfg) {
        Ok(d) => {
            let inner = Rc::new(Inner {
                driver: RefCell::new(d),
                deferred: RefCell::new(std::collections::VecDeque::new()),
                dead: std::cell::Cell::new(false),
            });
            CURRENT.with(|c| *c.borrow_mut() = Current::Ready(inner.clone()));
            Ok(IoPark { inner })
        }
        Err(u) => {
            CURRENT.with(|c| *c.borrow_mut() = Current::Failed(u.clone()));
            Err(u)
        }
    }
}

/// The park step of a core with io.
pub(crate) struct IoPark {
    inner: Rc<Inner>,
}

impl IoPark {
    pub(crate) fn stats(&self) -> IoStats {
        match self.inner.driver.try_borrow() {
            Ok(d) => {
                let mut s = d.stats.clone();
                s.ops_in_flight = d.inflight as u64;
                s.buffers_lent = d.bufs.as_ref().map_or(0, |b| b.lent() as u64);
                s
            }
            Err(_) => IoStats::default(),
        }
    }
}

impl Drop for IoPark {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = Current::None);
        // Wakers and memory let go of last may drop streams, which queue
        // closes: drop them, then submit what they queued, until quiet.
        for _ in 0..8 {
            let wakes = self.inner.driver.borrow_mut().take_wakes();
            drop(wakes);
            drop_replaced(&self.inner);
            let mut d = self.inner.driver.borrow_mut();
            self.inner.run_deferred(&mut d);
            d.enter(false, None);
            let quiet = d.wake.is_empty()
                && self.inner.deferred.borrow().is_empty()
                && GARBAGE.with(|g| g.borrow().is_empty());
            if quiet {
                break;
            }
        }
        let mut d = self.inner.driver.borrow_mut();
        let _ = d
            .ring
            .submitter()
            .register_sync_cancel(None, types::CancelBuilder::any());
        // A send cancelled here reports what it sent so far (or ECANCELED,
        // if nothing since it went in) and is resumed (a detached send may
        // still finish within this wait).
        let deadline = Instant::now() + Duration::from_secs(1);
        while d.inflight > 0 && Instant::now() < deadline {
            d.enter(true, Some(Duration::from_millis(10)));
        }
        if d.inflight > 0 {
            // What is still in flight (resumed sends to a peer that does
            // not read, say): cancel again, and this time a send ends where
            // it stands, so its memory is freed rather than leaked below.
            d.closing = true;
            // A resumption queued by the last reap is submitted first (the
            // cancel reaches only what the kernel has).
            d.enter(false, None);
            let _ = d
                .ring
                .submitter()
                .register_sync_cancel(None, types::CancelBuilder::any());
            let deadline = Instant::now() + Duration::from_millis(200);
            while d.inflight > 0 && Instant::now() < deadline {
                d.enter(true, Some(Duration::from_millis(10)));
            }
        }
        // Closes queued by the last completions (detached sends' streams,
        // an orphaned accept's connections); reaping those can queue more.
        for _ in 0..8 {
            d.enter(false, None);
            if d.backlog.is_empty() && d.ring.submission().is_empty() {
                break;
            }
        }
        let wakes = d.take_wakes();
        if d.inflight == 0 {
            if d.bufs.is_some() {
                let _ = d.ring.submitter().unregister_buf_ring(buf_ring::GROUP);
            }
        } else {
            // The kernel may still write into op memory or buffers: leak
            // them rather than free memory it can touch.
            d.leak = true;
        }
        drop(d);
        // From here drop paths close plain descriptors themselves (what
        // the drops below or earlier queued is run now, the rest as it
        // comes).
        self.inner.dead.set(true);
        drop(wakes);
        drop_replaced(&self.inner);
        let late: Vec<Deferred> = self.inner.deferred.borrow_mut().drain(..).collect();
        for a in late {
            self.inner.or_defer(a);
        }
    }
}

impl crate::sched::park::Park for IoPark {
    fn park(&mut self, doorbell: &crate::sched::inbox::Doorbell, timeout: Option<Duration>) {
        self.inner.park(doorbell.signal().fd(), timeout);
    }

    fn poll(&mut self) -> bool {
        self.inner.poll()
    }

    fn io_stats(&self) -> Option<IoStats> {
        Some(self.stats())
    }
}
