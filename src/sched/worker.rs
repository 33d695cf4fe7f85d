//! One core's executor: its queues, its inbox, its timer wheel, its
//! registry of live tasks, and the loop that drives them.
//!
//! # The loop
//!
//! Each pass:
//!
//! 1. drains up to [`INBOX_BATCH`] items of the inbox (remote spawns and
//!    wakes keep their class: a remote `High` wake lands in the `High`
//!    queue, ahead of local `Normal` work);
//! 2. fires due timers, at most once per wheel tick (a TSC comparison
//!    decides; `Instant::now()` is read only when a tick has passed and the
//!    wheel is not empty);
//! 3. runs one task of the highest non-empty class, unless a lower class
//!    has waited longer than the starvation bound (then that class gets one
//!    poll);
//! 4. with nothing to run: steals (nearest cores first), then idles as
//!    configured (spin, then park on the doorbell until the next timer).
//!
//! # Reentrancy
//!
//! The worker lives on its thread; tasks reach it through a thread-local
//! pointer. Every field is a `Cell`/`RefCell` borrowed only for a few
//! instructions and never across user code (a poll, a wake, a drop of a
//! waker or of a task): wakes that fire timers are collected first and
//! woken after the wheel's borrow ends, registry wakers are taken out
//! before they are dropped or woken.

mod shutdown;

use super::clock::{self, Ticks};
use super::inbox::Msg;
use super::park::Park;
use super::registry::Registry;
use super::remote::{deliver, send, Remote, Shared};
use super::stats::Counters;
use super::task::{self, JoinHandle, Kind, Meta, Runnable};
use super::{Idle, Priority, CLASSES};
use crate::queue::{mpsc, spmc, PopError, PushError};
use crate::sync::{Arc, Ordering};
use crate::timer::Wheel;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::task::Waker;
use std::time::{Duration, Instant};

/// Inbox items handled per pass (bounded so a flood of remote wakes cannot
/// keep the core from its own queues).
pub(crate) const INBOX_BATCH: usize = 128;

/// The stealable queues of one core, as a thief holds them.
pub(crate) type StealSide = [spmc::Consumer<Runnable>; CLASSES];

/// Everything a worker thread is built from.
pub(crate) struct Parts {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) inbox: mpsc::Consumer<Msg>,
    pub(crate) peers: Vec<mpsc::Producer<Msg>>,
    pub(crate) steal_tx: [spmc::Producer<Runnable>; CLASSES],
    pub(crate) steal_rx: StealSide,
    /// Other cores' stealable queues, nearest first.
    pub(crate) victims: Vec<(usize, StealSide)>,
    pub(crate) park: Box<dyn Park + Send>,
}

/// One core's executor state (lives on its thread).
pub(crate) struct Worker {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    local: [RefCell<VecDeque<Runnable>>; CLASSES],
    steal_tx: [RefCell<spmc::Producer<Runnable>>; CLASSES],
    steal_rx: [RefCell<spmc::Consumer<Runnable>>; CLASSES],
    /// Per class, an upper bound of what our stealable ring holds: we are
    /// its only producer, thieves only take. Zero means empty, so a core
    /// running only pinned and local tasks never touches its rings.
    in_ring: [Cell<usize>; CLASSES],
    /// Per class, stealable tasks waiting for room in the ring.
    spill: [RefCell<VecDeque<Runnable>>; CLASSES],
    victims: RefCell<Vec<(usize, StealSide)>>,
    inbox: RefCell<mpsc::Consumer<Msg>>,
    peers: RefCell<Vec<mpsc::Producer<Msg>>>,
    pub(crate) wheel: RefCell<Wheel<Waker>>,
    registry: RefCell<Registry>,
    park: RefCell<Box<dyn Park>>,
    /// The park step is an io driver: poll it while busy and spinning.
    has_io: bool,
    /// Task polls since the io driver was last entered, and when it was.
    since_io: Cell<u32>,
    last_io: Cell<Ticks>,
    /// The class and start of the poll in progress.
    running: Cell<Option<(Priority, Ticks)>>,
    /// The clock at the start of this loop pass.
    pass_now: Cell<Ticks>,
    next_check: Cell<Ticks>,
    check_every: Ticks,
    next_publish: Cell<Ticks>,
    stats_seen: Cell<u64>,
    last_served: [Cell<Ticks>; CLASSES],
    prefer_ring: [Cell<bool>; CLASSES],
    pub(crate) counters: Counters,
    expired: RefCell<Vec<Waker>>,
    steal_buf: RefCell<Vec<Runnable>>,
}

// The shim's thread-local: under loom every model thread has its own.
crate::sync::thread_local_const! {
    static CURRENT: Cell<*const Worker> = Cell::new(std::ptr::null());
}

/// Runs `f` with the worker of this thread (`None` off runtime threads).
#[inline]
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&Worker>) -> R) -> R {
    let p = CURRENT.with(|c| c.get());
    // `Worker::main` clears `CURRENT` before its worker is dropped.
    // SAFETY: `CURRENT` points to a worker on this thread's stack while set;
    // only shared references are ever made from it.
    f(unsafe { p.as_ref() })
}

/// Runs `f` with the worker of this thread, if it is a runtime thread.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Worker) -> R) -> Option<R> {
    with_worker(|w| w.map(f))
}

/// `w` if it is a worker of the runtime `shared`.
#[inline]
pub(crate) fn same<'a>(w: Option<&'a Worker>, shared: &Shared) -> Option<&'a Worker> {
    w.filter(|w| std::ptr::eq(Arc::as_ptr(&w.shared), shared))
}

/// Registers a task's waker with this core (task rule 4).
pub(crate) fn register(waker: &Waker) -> Option<(u32, u32)> {
    with_current(|w| {
        let slot = w.registry.borrow_mut().insert(waker.clone());
        (w.index as u32, slot)
    })
}

/// Frees a registry slot, here or through its core's inbox.
pub(crate) fn deregister(shared: &Shared, core: usize, slot: u32) {
    with_worker(|w| match same(w, shared) {
        Some(w) if w.index == core => {
            let waker = w.registry.borrow_mut().remove(slot);
            drop(waker); // outside the borrow: may run a task's destructor
        }
        _ if shared.is_shutdown() => {} // the registries are being emptied
        _ => send(shared, core, Msg::Deregister(slot)),
    })
}

/// Where a woken task goes: its home core's queues if we are on it, its
/// home core's inbox otherwise.
pub(crate) fn route(runnable: Runnable) {
    let home = runnable.metadata().home();
    with_worker(|w| match same(w, &runnable.metadata().shared) {
        Some(w) if w.index == home => {
            // The pass clock: no TSC read per wake (the delay histogram
            // has loop-pass resolution for local wakes).
            runnable.metadata().mark_ready(w.pass_now.get());
            w.counters.bump(&w.counters.local_wakes);
            w.push_ready(runnable);
        }
        // The worker's own `Arc` keeps the runtime alive across the push
        // (after it the task may run, finish and free its metadata).
        Some(w) => {
            runnable.metadata().mark_ready(w.pass_now.get());
            w.send(home, Msg::Run(runnable))
        }
        None => {
            runnable.metadata().mark_ready(clock::now());
            // A thread outside this runtime: hold the runtime for the push.
            let shared = runnable.metadata().shared.clone();
            send(&shared, home, Msg::Run(runnable));
        }
    })
}

/// One steal from one victim queue: half of what it holds, rounded up (one
/// claim, `pop_batch`). Returns how many items were moved to `out`.
pub(crate) fn steal_half<T>(rx: &mut spmc::Consumer<T>, out: &mut Vec<T>) -> usize {
    let len = rx.len();
    if len == 0 {
        return 0;
    }
    rx.pop_batch(out, len.div_ceil(2)).unwrap_or(0)
}

impl Worker {
    pub(crate) fn new(parts: Parts) -> Worker {
        let Parts {
            index,
            shared,
            inbox,
            peers,
            steal_tx,
            steal_rx,
            victims,
            park,
        } = parts;
        let cfg = &shared.config;
        let wheel = Wheel::<Waker>::builder().tick(cfg.tick).build();
        let check_every = clock::from_duration(cfg.tick).max(1);
        let now = clock::now();
        Worker {
            index,
            local: std::array::from_fn(|_| RefCell::new(VecDeque::with_capacity(256))),
            steal_tx: steal_tx.map(RefCell::new),
            steal_rx: steal_rx.map(RefCell::new),
            in_ring: std::array::from_fn(|_| Cell::new(0)),
            spill: std::array::from_fn(|_| RefCell::new(VecDeque::new())),
            victims: RefCell::new(victims),
            inbox: RefCell::new(inbox),
            peers: RefCell::new(peers),
            wheel: RefCell::new(wheel),
            registry: RefCell::new(Registry::default()),
            park: RefCell::new(park),
            has_io: false,
            since_io: Cell::new(0),
            last_io: Cell::new(now),
            running: Cell::new(None),
            pass_now: Cell::new(now),
            next_check: Cell::new(now),
            check_every,
            next_publish: Cell::new(now),
            stats_seen: Cell::new(0),
            last_served: std::array::from_fn(|_| Cell::new(now)),
            prefer_ring: std::array::from_fn(|_| Cell::new(false)),
            counters: Counters::default(),
            expired: RefCell::new(Vec::new()),
            // A steal takes at most half a ring: no allocation per steal.
            steal_buf: RefCell::new(Vec::with_capacity(shared.config.steal_capacity)),
            shared,
        }
    }

    fn remote(&self) -> &Remote {
        &self.shared.cores[self.index]
    }

    /// Queues a task that is ready to run on this core.
    pub(crate) fn push_ready(&self, r: Runnable) {
        let meta = r.metadata();
        let class = meta.class as usize;
        if meta.kind == Kind::Stealable && self.shared.config.stealing {
            if !self.spill[class].borrow().is_empty() {
                // Behind what already waits for room in the ring (FIFO).
                self.spill[class].borrow_mut().push_back(r);
                return;
            }
            let pushed = self.steal_tx[class].borrow_mut().push(r);
            match pushed {
                Ok(()) => {
                    self.in_ring[class].set(self.in_ring[class].get() + 1);
                    self.maybe_wake_thief()
                }
                // Full: wait in the spill queue; each pop from the ring
                // moves one back in, so a burst of spawns stays stealable.
                Err(PushError::Full(r) | PushError::Busy(r) | PushError::Disconnected(r)) => {
                    self.spill[class].borrow_mut().push_back(r)
                }
            }
        } else {
            self.local[class].borrow_mut().push_back(r);
        }
    }

    /// Stealable work is piling up and a core sleeps: ring it.
    fn maybe_wake_thief(&self) {
        // Relaxed: a hint. A missed sleeper costs balance, never a task
        // (the owner runs everything it queued).
        let sleepers = self.shared.sleepers.load(Ordering::Relaxed) & !(1u64 << (self.index % 64));
        if sleepers == 0 {
            return;
        }
        let backlog: usize = self.in_ring.iter().map(Cell::get).sum();
        if backlog >= 2 {
            let victims = self.victims.borrow();
            if let Some((core, _)) = victims
                .iter()
                .find(|(c, _)| sleepers & (1u64 << (c % 64)) != 0)
            {
                self.shared.cores[*core].doorbell.ring();
            }
        }
    }

    /// Sends to a core's inbox with this worker's own producer.
    pub(crate) fn send(&self, core: usize, msg: Msg) {
        let pushed = self.peers.borrow_mut()[core].push(msg);
        deliver(&self.shared.cores[core], pushed);
    }

    /// Spawns a task whose home is this core.
    pub(crate) fn spawn<F>(&self, class: Priority, kind: Kind, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let meta = Meta::new(self.shared.clone(), self.index, class, kind);
        // SAFETY: task rule 3: a `!Send` future is only spawned with
        // `Kind::Local` (the `spawn_local` path), here, on its home core.
        let (runnable, handle) = unsafe { task::cell(fut, meta) };
        if self.shared.is_shutdown() {
            drop(runnable); // cancelled: the handle says so
            return handle;
        }
        runnable.metadata().mark_ready(self.pass_now.get());
        self.counters.bump(&self.counters.spawns);
        self.push_ready(runnable);
        handle
    }

    /// Replaces the park step with the core's io driver (made on this
    /// thread: a single-issuer ring belongs to the thread that made it).
    #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
    pub(crate) fn set_io(&mut self, park: crate::io::IoPark) {
        *self.park.get_mut() = Box::new(park);
        self.has_io = true;
    }

    /// Enters the io driver without blocking (submits what tasks queued,
    /// reaps completions, wakes their tasks). Returns whether it woke any.
    fn poll_io(&self) -> bool {
        self.since_io.set(0);
        self.last_io.set(self.pass_now.get());
        match self.park.try_borrow_mut() {
            Ok(mut p) => p.poll(),
            Err(_) => false,
        }
    }

    fn run(&self) {
        let mut idle_since: Option<Ticks> = None;
        loop {
            if self.shared.is_shutdown() {
                return;
            }
            self.drain_inbox();
            let now = clock::now();
            self.pass_now.set(now);
            if now >= self.next_check.get() {
                self.periodic(now);
            }
            // Relaxed: a request flag; the snapshot itself goes through
            // the `published` mutex, and the ack below is Release.
            if self.shared.stats_epoch.load(Ordering::Relaxed) != self.stats_seen.get() {
                self.publish_on_request();
            }
            if let Some((class, r)) = self.next_task(now) {
                idle_since = None;
                self.run_task(class, r, now);
                // A busy core still submits and reaps every 32 polls (and
                // once per tick in `periodic`).
                if self.has_io {
                    let n = self.since_io.get() + 1;
                    self.since_io.set(n);
                    if n >= 32 {
                        self.poll_io();
                    }
                }
                continue;
            }
            // Out of tasks. Spinning cores enter the ring without blocking
            // (what queued tasks submitted goes out; completions come in);
            // a parking core does both in its one blocking enter.
            if self.has_io && !matches!(self.shared.config.idle, Idle::Park) && self.poll_io() {
                idle_since = None;
                continue;
            }
            if self.shared.config.stealing && self.steal() {
                idle_since = None;
                continue;
            }
            match self.shared.config.idle {
                Idle::BusyPoll => crate::sync::spin_hint(),
                Idle::Spin(d) => {
                    let start = *idle_since.get_or_insert(now);
                    // Saturating (not `as`, which wraps: 2^64 ns became 0).
                    let spin_ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
                    if clock::to_nanos(now.saturating_sub(start)) < spin_ns {
                        crate::sync::spin_hint();
                    } else {
                        self.park();
                        idle_since = None;
                    }
                }
                Idle::Park => self.park(),
            }
        }
    }

    /// Once per wheel tick: fire due timers, publish statistics now and then.
    fn periodic(&self, now: Ticks) {
        // Saturating: `check_every` is up to `u64::MAX` for a huge
        // `Builder::tick`.
        self.next_check.set(now.saturating_add(self.check_every));
        self.fire_timers();
        // A core busy with tasks for a whole tick still enters its ring
        // (right after a park, the next park will do).
        if self.has_io
            && self.since_io.get() > 0
            && now.saturating_sub(self.last_io.get()) >= self.check_every
        {
            self.poll_io();
        }
        if now >= self.next_publish.get() {
            self.next_publish
                .set(now.saturating_add(clock::from_duration(Duration::from_millis(1))));
            self.publish();
        }
    }

    fn fire_timers(&self) {
        if self.wheel.borrow().is_empty() {
            return;
        }
        let now = Instant::now();
        let mut buf = std::mem::take(&mut *self.expired.borrow_mut());
        self.wheel.borrow_mut().advance(now, |w| buf.push(w));
        for w in buf.drain(..) {
            // May schedule onto our queues: no borrow held. A task can arm
            // a timer with a waker of its own (a combinator's, say), whose
            // wake may panic: the panic is that waker's, not the core's.
            quietly(|| w.wake());
        }
        *self.expired.borrow_mut() = buf;
    }

    pub(crate) fn drain_inbox(&self) -> usize {
        let mut n = 0;
        while n < INBOX_BATCH {
            let m = self.inbox.borrow_mut().pop();
            let Ok(m) = m else { break };
            n += 1;
            self.handle(m);
        }
        if n < INBOX_BATCH && self.remote().has_overflow() {
            let batch = self.remote().take_overflow(INBOX_BATCH - n);
            n += batch.len();
            batch.into_iter().for_each(|m| self.handle(m));
        }
        n
    }

    fn handle(&self, m: Msg) {
        match m {
            Msg::Run(r) => {
                self.counters.bump(&self.counters.remote_wakes);
                self.push_ready(r);
            }
            Msg::Deregister(slot) => {
                let w = self.registry.borrow_mut().remove(slot);
                drop(w);
            }
            Msg::CancelTimer(key) => {
                let w = self.wheel.borrow_mut().cancel(key);
                // Outside the borrow; a waker's drop may panic (user code).
                quietly(|| drop(w));
            }
            Msg::Abort(slot) => {
                let w = self.registry.borrow().get(slot).cloned();
                if let Some(w) = w {
                    w.wake();
                }
            }
        }
    }

    fn pop_class(&self, c: usize) -> Option<Runnable> {
        if !self.shared.config.stealing {
            return self.local[c].borrow_mut().pop_front();
        }
        // Alternate between the stealable ring and the local queue so
        // neither starves the other within a class.
        let ring_first = !self.prefer_ring[c].get();
        self.prefer_ring[c].set(ring_first);
        let from_ring = || self.pop_ring(c);
        let from_local = || self.local[c].borrow_mut().pop_front();
        if ring_first {
            from_ring().or_else(from_local)
        } else {
            from_local().or_else(from_ring)
        }
    }

    /// Pops our own stealable ring of class `c` (skipped while the bound
    /// says it is empty).
    fn pop_ring(&self, c: usize) -> Option<Runnable> {
        if self.in_ring[c].get() == 0 {
            // Thieves emptied it, or everything waits in the spill.
            self.refill(c);
        }
        let n = self.in_ring[c].get();
        if n == 0 {
            return None;
        }
        let popped = self.steal_rx[c].borrow_mut().pop();
        match popped {
            Ok(r) => {
                self.in_ring[c].set(n - 1);
                self.refill(c);
                Some(r)
            }
            // Thieves took the rest.
            Err(PopError::Empty | PopError::Disconnected) => {
                self.in_ring[c].set(0);
                self.refill(c);
                // The oldest spilled task is now at the ring's head.
                let again = self.steal_rx[c].borrow_mut().pop().ok();
                if again.is_some() {
                    self.in_ring[c].set(self.in_ring[c].get().saturating_sub(1));
                }
                again
            }
            // Only while a push is in flight; we are the only pusher.
            Err(_) => None,
        }
    }

    /// Moves spilled stealable tasks into the ring while it has room (one
    /// per pop in the steady state), so they stay stealable in order.
    fn refill(&self, c: usize) {
        loop {
            let r = self.spill[c].borrow_mut().pop_front();
            let Some(r) = r else { return };
            let pushed = self.steal_tx[c].borrow_mut().push(r);
            match pushed {
                Ok(()) => {
                    self.in_ring[c].set(self.in_ring[c].get() + 1);
                    if self.in_ring[c].get() >= self.shared.config.steal_capacity / 2 {
                        return;
                    }
                }
                Err(PushError::Full(r) | PushError::Busy(r) | PushError::Disconnected(r)) => {
                    self.spill[c].borrow_mut().push_front(r);
                    return;
                }
            }
        }
    }

    /// The next task: the highest non-empty class, unless a lower class
    /// has waited past the starvation bound.
    fn next_task(&self, now: Ticks) -> Option<(usize, Runnable)> {
        let bound = self.shared.config.starvation;
        let mut chosen: Option<(usize, Runnable)> = None;
        for c in 0..CLASSES {
            match &chosen {
                None => {
                    let r = self.pop_class(c);
                    self.last_served[c].set(now);
                    if let Some(r) = r {
                        chosen = Some((c, r));
                    }
                }
                Some(_) => {
                    if now.saturating_sub(self.last_served[c].get()) <= bound {
                        continue;
                    }
                    self.last_served[c].set(now);
                    if let Some(r) = self.pop_class(c) {
                        let (hc, hr) = chosen.take().expect("chosen");
                        self.local[hc].borrow_mut().push_front(hr);
                        self.counters.bump(&self.counters.starved);
                        return Some((c, r));
                    }
                }
            }
        }
        chosen
    }

    fn run_task(&self, class: usize, r: Runnable, now: Ticks) {
        let delay = clock::to_nanos(now.saturating_sub(r.metadata().ready_at()));
        self.counters.record_delay(class, delay);
        self.counters.bump(&self.counters.polls);
        self.running.set(Some((Priority::from_index(class), now)));
        r.run();
        self.running.set(None);
    }

    /// Whether the running task should yield: a higher class is ready (the
    /// inbox is drained first so a remote wake counts), or it has run
    /// past its quantum.
    pub(crate) fn should_yield(&self) -> bool {
        let Some((class, start)) = self.running.get() else {
            return false;
        };
        let now = clock::now();
        self.pass_now.set(now);
        if now.saturating_sub(start) > self.shared.config.quantum {
            return true;
        }
        if now >= self.next_check.get() {
            // A tick has passed: due timers may wake a higher class.
            self.periodic(now);
        }
        self.drain_inbox();
        let class = class as usize;
        (0..class).any(|c| {
            !self.local[c].borrow().is_empty()
                || (self.shared.config.stealing
                    && (self.in_ring[c].get() != 0 || !self.spill[c].borrow().is_empty()))
        })
    }

    /// Steals half of the first non-empty stealable queue, nearest core
    /// first, highest class first.
    fn steal(&self) -> bool {
        let mut buf = std::mem::take(&mut *self.steal_buf.borrow_mut());
        let mut got = 0;
        {
            let mut victims = self.victims.borrow_mut();
            'outer: for (_, side) in victims.iter_mut() {
                for rx in side.iter_mut() {
                    let n = steal_half(rx, &mut buf);
                    if n > 0 {
                        got = n;
                        break 'outer;
                    }
                }
            }
        }
        for r in buf.drain(..) {
            // Task rule 2: the thief names itself home before it runs it.
            r.metadata().set_home(self.index);
            self.push_ready(r);
        }
        *self.steal_buf.borrow_mut() = buf;
        if got > 0 {
            self.counters.add(&self.counters.steals, got as u64);
        }
        got > 0
    }

    fn has_work(&self) -> bool {
        self.shared.is_shutdown()
            || !self.inbox.borrow().is_empty()
            || self.remote().has_overflow()
            || self.local.iter().any(|q| !q.borrow().is_empty())
            || self.steal_rx.iter().any(|q| !q.borrow().is_empty())
            || self.spill.iter().any(|q| !q.borrow().is_empty())
            || (self.shared.config.stealing && self.victim_backlog())
    }

    /// Another core has stealable work piling up (two or more tasks in one
    /// class: one of them is probably its next poll). A sleeping core
    /// would only be woken for it by that core's next spawn.
    fn victim_backlog(&self) -> bool {
        self.victims
            .borrow()
            .iter()
            .any(|(_, side)| side.iter().any(|rx| rx.len() >= 2))
    }

    fn park(&self) {
        // At most once per millisecond (`Runtime::stats` rings a parked
        // core for a fresh snapshot anyway): an io core parks once per
        // loop pass.
        let now = clock::now();
        if now >= self.next_publish.get() {
            self.next_publish
                .set(now.saturating_add(clock::from_duration(Duration::from_millis(1))));
            self.publish();
        }
        let bit = 1u64 << (self.index % 64);
        let stealing = self.shared.config.stealing;
        if stealing {
            // Relaxed: a hint (see `maybe_wake_thief`).
            self.shared.sleepers.fetch_or(bit, Ordering::Relaxed);
        }
        let remote = self.remote();
        remote.doorbell.prepare_park();
        if !self.has_work() {
            let timeout = self
                .wheel
                .borrow()
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if timeout != Some(Duration::ZERO) {
                self.counters.bump(&self.counters.parks);
                self.park.borrow_mut().park(&remote.doorbell, timeout);
                self.since_io.set(0);
                self.last_io.set(clock::now());
            }
        } else {
            // The inbox may hold a slot claimed and not yet written: the
            // next pass pops nothing and comes back here. loom must be
            // told the loop waits for that producer (no-op otherwise).
            crate::sync::loom_yield();
        }
        remote.doorbell.finish_park();
        if stealing {
            // Relaxed: a hint.
            self.shared.sleepers.fetch_and(!bit, Ordering::Relaxed);
        }
        // The wait may have outlasted a tick: check timers at once.
        self.next_check.set(0);
    }

    /// Publishes for the latest `Runtime::stats` request and acknowledges it.
    pub(crate) fn publish_on_request(&self) {
        // Relaxed: see the check in `run`.
        let req = self.shared.stats_epoch.load(Ordering::Relaxed);
        self.stats_seen.set(req);
        self.publish();
        // Release: pairs with the Acquire in `Handle::stats` (the ack is
        // read before the snapshot; the mutex orders the snapshot anyway).
        self.remote().stats_ack.store(req, Ordering::Release);
    }

    /// Copies the counters and histograms out for `Runtime::stats`.
    pub(crate) fn publish(&self) {
        let depth = self.inbox.borrow().len();
        let live = self.registry.borrow().len;
        let timers = self.wheel.borrow().len();
        let io = self.park.try_borrow().ok().and_then(|p| p.io_stats());
        let mut p = self.remote().published.lock();
        self.counters.publish_into(&mut p, depth, live);
        p.stats.timers = timers;
        if io.is_some() {
            p.stats.io = io;
        }
    }
}

/// Runs `f`, swallowing a panic (its payload leaked: its own destructor
/// could panic too). For user code the loop calls outside any task.
fn quietly(f: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        std::mem::forget(payload);
    }
}
