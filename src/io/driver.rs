//! One core's io_uring: the ring, the ops slab, the submission backlog, the
//! doorbell poll and the park step.
//!
//! **Ownership.** Every operation lives in a slab slot from submission to
//! its terminal completion (the one without `IORING_CQE_F_MORE`). The slot,
//! not the future that asked for the op, owns the op's memory (the `Bytes`
//! being sent, the address being connected to), so dropping a future never
//! frees memory the kernel may still touch: the slot turns into an orphan,
//! an `ASYNC_CANCEL` is queued, and the slot is freed by the terminal
//! completion. A connection that an orphaned accept still produced is
//! closed; data an orphaned recv still received is dropped.
//!
//! **Keys.** `user_data` packs the slot, the op kind and the slot's
//! generation; a completion whose generation or kind does not match its
//! slot is counted and ignored (it cannot happen while slots are freed only
//! at terminal completions, and the check keeps it that way).
//!
//! **Reentrancy.** The driver sits in a `RefCell`. Wakers are collected
//! while it is borrowed and woken after; drop paths that find it borrowed
//! (an old waker whose task's output owns a stream, say) queue their work
//! in `deferred`, run at the next entry.

mod complete;
mod park;
mod send;
mod vectored;

use park::set_waker;
pub(crate) use park::{current, install, Inner, IoPark};
pub(crate) use vectored::Vectored;

use super::buf_ring::{self, BufRing};
use super::{Config, Unavailable};
use crate::sched::stats::{IoStats, RingSetup};
use bytes::Bytes;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Accepted connections queued on a listener before its multishot accept
/// is paused (the rest wait in the kernel's listen backlog).
const ACCEPT_BUDGET: usize = 256;

/// What the driver drops only after its borrow ends (a user's `Bytes`
/// owner or a waker may run code that reaches the driver).
#[allow(dead_code)] // the fields are held only to be dropped later
pub(crate) enum Garbage {
    Waker(Waker),
    Mem(Mem),
}

/// `user_data` of the doorbell's poll.
const DOORBELL: u64 = u64::MAX;
/// `user_data` of fire-and-forget ops (cancels, closes of orphans).
const IGNORE: u64 = u64::MAX - 1;
const IORING_ENTER_GETEVENTS: u32 = 1;

/// What an op is (checked against the completion's key).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Kind {
    AcceptMulti = 1,
    RecvMulti = 2,
    Send = 3,
    Connect = 4,
    Close = 5,
    Shutdown = 6,
}

impl Kind {
    fn multishot(self) -> bool {
        matches!(self, Kind::AcceptMulti | Kind::RecvMulti)
    }
}

/// A descriptor as the ring sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Target {
    Fd(RawFd),
    /// A direct descriptor (an index into the ring's file table).
    Fixed(u32),
}

/// A slab key: slot and generation (the kind is checked separately).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Key {
    slot: u32,
    gen: u32,
}

impl Key {
    fn user_data(self, kind: Kind) -> u64 {
        (u64::from(self.gen & 0xff_ffff) << 40) | ((kind as u64) << 32) | u64::from(self.slot)
    }
}

/// Memory an op needs until its terminal completion.
pub(crate) enum Mem {
    None,
    Send(Bytes),
    Copy(Vec<u8>),
    /// A connect's address, and its socket: closed (if the connect is
    /// abandoned) only after the kernel is done with the op.
    Connect(
        Box<(libc::sockaddr_storage, libc::socklen_t)>,
        std::os::fd::OwnedFd,
    ),
    /// A vectored send's buffers, iovecs and msghdr, boxed: the entry
    /// points into the box (see `vectored`'s ground rules).
    Vectored(Box<Vectored>),
}

impl Mem {
    /// The bytes a send op sends.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Mem::Send(b) => b,
            Mem::Copy(v) => v,
            _ => &[],
        }
    }

    /// The length of a send op's data (a vectored send's total).
    pub(crate) fn send_len(&self) -> usize {
        match self {
            Mem::Vectored(v) => v.total(),
            m => m.bytes().len(),
        }
    }
}

/// A send of `m`'s data from byte `off` on `t` (no SIGPIPE; the caller
/// sets user_data). A vectored send re-aims its iovecs: only while no SQE
/// of the op is in the kernel.
fn send_entry(t: Target, m: &mut Mem, off: usize) -> squeue::Entry {
    if let Mem::Vectored(v) = m {
        return v.entry(t, off);
    }
    let s = &m.bytes()[off..];
    let len = s.len().min(u32::MAX as usize) as u32;
    match t {
        Target::Fd(fd) => opcode::Send::new(types::Fd(fd), s.as_ptr(), len),
        Target::Fixed(i) => opcode::Send::new(types::Fixed(i), s.as_ptr(), len),
    }
    // WAITALL: the kernel itself finishes a stream send the socket buffer
    // could not take at once (the driver resubmits what it still reports
    // short).
    .flags(libc::MSG_NOSIGNAL | libc::MSG_WAITALL)
    .build()
}

/// One multishot completion.
pub(crate) enum Event {
    /// Received bytes (a lent buffer).
    Data(Bytes),
    /// A result: an accepted descriptor, `0` (end of stream) or `-errno`.
    Res(i32),
}

struct Slot {
    gen: u32,
    live: bool,
    kind: Kind,
    orphan: bool,
    /// The terminal completion has arrived.
    ended: bool,
    waker: Option<Waker>,
    result: i32,
    events: VecDeque<Event>,
    mem: Mem,
    /// A multishot op asked to stop (its queue reached the budget, or
    /// its owner let go): its `ECANCELED` end is not an error.
    throttled: bool,
    /// A send's watcher that is woken only if the send fails (a receive
    /// waiting on the same stream: a reset may reach only the send).
    err_waker: Option<Waker>,
    /// A detached send's descriptor, closed when the send ends.
    close_after: Option<Target>,
    /// A send's descriptor and how much of it went out so far.
    target: Option<Target>,
    done: usize,
    next_free: u32,
}

/// A drop-path action that found the driver borrowed.
pub(crate) enum Deferred {
    Release(Key),
    /// A stream's last send, and its descriptor to close once it ends.
    Detach(Key, Target),
    Close(Target),
}

pub(crate) struct Driver {
    ring: IoUring,
    pub(crate) direct: bool,
    slots: Vec<Slot>,
    free: u32,
    inflight: usize,
    backlog: VecDeque<squeue::Entry>,
    bufs: Option<BufRing>,
    cfg: Config,
    doorbell: Option<RawFd>,
    doorbell_armed: bool,
    wake: Vec<Waker>,
    /// Receives that ended for want of buffers.
    starved: Vec<Waker>,
    /// Spare buffers for `write_all` (copies of borrowed slices).
    pool: Vec<Vec<u8>>,
    /// Spare vectored-send storage (emptied). Boxed on purpose: a pooled
    /// box moves into `Mem::Vectored` as it is, with no allocation.
    #[allow(clippy::vec_box)]
    vec_pool: Vec<Box<Vectored>>,
    /// Sends whose stream was dropped, with the end of their grace.
    detached: Vec<(Key, Instant)>,
    /// Teardown found ops still in flight: their memory is leaked, never
    /// freed, when the driver drops.
    pub(crate) leak: bool,
    /// Teardown has cancelled every op: a send's partial count (or
    /// EAGAIN) ends it instead of resuming it.
    pub(crate) closing: bool,
    pub(crate) stats: IoStats,
}

pub(crate) const NONE: u32 = u32::MAX;

/// Reads `kernel.io_uring_disabled` (0 when absent).
fn sysctl_disabled() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn kernel_at_least(major: u32, minor: u32) -> Result<(), String> {
    // SAFETY: all-zero is a valid utsname (arrays of bytes).
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a live, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Ok(()); // cannot tell: let the ring setup decide
    }
    let rel: String = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let maj: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let min: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    if (maj, min) >= (major, minor) {
        Ok(())
    } else {
        Err(rel)
    }
}

fn classify(e: std::io::Error) -> Unavailable {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => match sysctl_disabled() {
            0 => Unavailable::NotPermitted {
                errno: e.raw_os_error().unwrap_or(0),
            },
            n => Unavailable::Disabled { sysctl: n },
        },
        Some(libc::ENOSYS) => Unavailable::NotSupported,
        Some(libc::ENOMEM) | Some(libc::EMFILE) | Some(libc::ENFILE) => Unavailable::Resources {
            errno: e.raw_os_error().unwrap_or(0),
        },
        other => Unavailable::Other {
            errno: other.unwrap_or(0),
        },
    }
}

impl Driver {
    /// Creates this core's ring: `SINGLE_ISSUER | DEFER_TASKRUN`, else
    /// `COOP_TASKRUN | TASKRUN_FLAG`, else plain. Must run on the core's
    /// thread (a single-issuer ring belongs to the thread that made it).
    pub(crate) fn new(cfg: &Config) -> Result<Driver, Unavailable> {
        if let Err(release) = kernel_at_least(6, 0) {
            return Err(Unavailable::OldKernel { release });
        }
        let sq = cfg.sq_entries.clamp(8, 32_768);
        let cq = cfg.cq_entries.max(sq.saturating_mul(2)).min(65_536);
        type SetFlags = fn(&mut io_uring::Builder);
        let attempts: [(RingSetup, SetFlags); 3] = [
            (RingSetup::DeferTaskrun, |b| {
                b.setup_single_issuer().setup_defer_taskrun();
            }),
            (RingSetup::CoopTaskrun, |b| {
                b.setup_coop_taskrun().setup_taskrun_flag();
            }),
            (RingSetup::Plain, |_| {}),
        ];
        let mut last = None;
        let mut built = None;
        for (mode, set) in attempts {
            let mut b = IoUring::builder();
            b.setup_cqsize(cq).setup_submit_all().setup_clamp();
            set(&mut b);
            match b.build(sq) {
                Ok(r) => {
                    built = Some((r, mode));
                    break;
                }
                // EINVAL: a flag this kernel does not know; try the next.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
                Err(e) => return Err(classify(e)),
            }
        }
        let Some((ring, setup)) = built else {
            return Err(classify(last.unwrap_or_else(|| {
                std::io::Error::from_raw_os_error(libc::EINVAL)
            })));
        };
        if !ring.params().is_feature_ext_arg() || !ring.params().is_feature_nodrop() {
            return Err(Unavailable::OldKernel {
                release: "without IORING_FEAT_EXT_ARG / NODROP".into(),
            });
        }
        let direct = cfg.direct_descriptors > 0
            && ring
                .submitter()
                .register_files_sparse(cfg.direct_descriptors)
                .is_ok();
        let stats = IoStats {
            setup,
            direct,
            ..IoStats::default()
        };
        Ok(Driver {
            ring,
            direct,
            slots: Vec::with_capacity(256),
            free: NONE,
            inflight: 0,
            backlog: VecDeque::with_capacity(64),
            bufs: None,
            cfg: cfg.clone(),
            doorbell: None,
            doorbell_armed: false,
            wake: Vec::with_capacity(64),
            starved: Vec::new(),
            pool: Vec::new(),
            vec_pool: Vec::new(),
            detached: Vec::new(),
            leak: false,
            closing: false,
            stats,
        })
    }

    fn alloc(&mut self, kind: Kind, mem: Mem) -> Key {
        let slot = if self.free != NONE {
            let i = self.free;
            self.free = self.slots[i as usize].next_free;
            i
        } else {
            self.slots.push(Slot {
                gen: 0,
                live: false,
                kind,
                orphan: false,
                ended: false,
                waker: None,
                result: 0,
                events: VecDeque::with_capacity(8),
                mem: Mem::None,
                throttled: false,
                err_waker: None,
                close_after: None,
                target: None,
                done: 0,
                next_free: NONE,
            });
            (self.slots.len() - 1) as u32
        };
        let s = &mut self.slots[slot as usize];
        s.gen = s.gen.wrapping_add(1) & 0xff_ffff;
        s.live = true;
        s.kind = kind;
        s.orphan = false;
        s.ended = false;
        s.result = 0;
        s.mem = mem;
        s.target = None;
        s.done = 0;
        s.throttled = false;
        Key { slot, gen: s.gen }
    }

    fn free_slot(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        s.live = false;
        s.throttled = false;
        if let Some(w) = s.waker.take() {
            park::discard(Garbage::Waker(w));
        }
        if let Some(w) = s.err_waker.take() {
            park::discard(Garbage::Waker(w));
        }
        let mem = std::mem::replace(&mut s.mem, Mem::None);
        let close = s.close_after.take();
        self.drop_events(slot);
        self.recycle_mem(mem);
        if let Some(t) = close {
            self.close_orphan(t);
        }
        self.slots[slot as usize].next_free = self.free;
        self.free = slot;
    }

    /// Empties a slot's event queue: received data is dropped (its buffers
    /// go home), connections nobody will take are closed.
    fn drop_events(&mut self, slot: u32) {
        let direct = self.direct;
        let kind = self.slots[slot as usize].kind;
        while let Some(ev) = self.slots[slot as usize].events.pop_front() {
            if let (Kind::AcceptMulti, Event::Res(fd)) = (kind, &ev) {
                if *fd >= 0 {
                    let t = if direct {
                        Target::Fixed(*fd as u32)
                    } else {
                        Target::Fd(*fd)
                    };
                    self.close_orphan(t);
                }
            }
        }
    }

    /// Takes an op's memory back: copy buffers return to the pool; other
    /// memory (a user's `Bytes` may own anything) is dropped after the
    /// driver's borrow ends.
    pub(crate) fn recycle_mem(&mut self, mem: Mem) {
        match mem {
            Mem::None => {}
            Mem::Copy(mut v) => {
                if self.pool.len() < 64 && v.capacity() <= 1 << 16 {
                    v.clear();
                    self.pool.push(v);
                }
            }
            other => park::discard(Garbage::Mem(other)),
        }
    }

    /// A spare buffer for a copy (reused; allocates only when the pool is dry).
    pub(crate) fn copy_buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_default()
    }

    fn push(&mut self, e: squeue::Entry) {
        self.stats.sqes += 1;
        if self.backlog.is_empty() {
            // Every pointer in an entry we build points into memory owned
            // by the op's slot (or the driver) until the op's terminal
            // completion; see `submit`. A vectored send's entry points at
            // the msghdr in its `Box<Vectored>`, the msghdr at the box's
            // iovecs, the iovecs into the box's `Bytes`: the slot holds the
            // box until the terminal completion, and moving the `Mem` moves
            // the box pointer, not the heap block (`vectored`'s ground rules).
            // If the runtime tears down with ops still in flight, the driver
            // leaks their memory and the buffer ring rather than free it
            // (`IoPark::drop`, `leak`).
            // SAFETY: so the entry's memory outlives the op (above).
            if unsafe { self.ring.submission().push(&e) }.is_ok() {
                return;
            }
        }
        self.backlog.push_back(e);
        self.stats.backlog_max = self.stats.backlog_max.max(self.backlog.len() as u64);
    }

    /// Queues an op whose memory `mem` moves into its slot; `build` makes the
    /// entry from the slot's memory (stable: it is on the heap; `build` may
    /// write it, a vectored send's iovecs, before the entry is queued).
    pub(crate) fn submit(
        &mut self,
        kind: Kind,
        mem: Mem,
        build: impl FnOnce(&mut Mem) -> squeue::Entry,
    ) -> Key {
        let key = self.alloc(kind, mem);
        let e = build(&mut self.slots[key.slot as usize].mem).user_data(key.user_data(kind));
        self.inflight += 1;
        self.push(e);
        key
    }

    /// A fire-and-forget op (its completion is ignored).
    fn submit_ignored(&mut self, e: squeue::Entry) {
        self.push(e.user_data(IGNORE));
    }

    fn close_orphan(&mut self, t: Target) {
        let e = match t {
            Target::Fd(fd) => opcode::Close::new(types::Fd(fd)).build(),
            Target::Fixed(i) => {
                self.stats.direct_open = self.stats.direct_open.saturating_sub(1);
                opcode::Close::new(types::Fixed(i)).build()
            }
        };
        self.submit_ignored(e);
    }

    /// Closes a descriptor through the ring (nobody waits for the result).
    pub(crate) fn close(&mut self, t: Target) {
        self.close_orphan(t);
    }

    fn slot(&mut self, key: Key) -> Option<&mut Slot> {
        self.slots
            .get_mut(key.slot as usize)
            .filter(|s| s.live && s.gen == key.gen)
    }

    /// A single-shot op's result, once it is in (frees the slot).
    pub(crate) fn poll_result(&mut self, key: Key, cx: &mut Context<'_>) -> Poll<(i32, Mem)> {
        let Some(s) = self.slot(key) else {
            return Poll::Ready((-libc::ECANCELED, Mem::None));
        };
        if s.ended {
            let out = (s.result, std::mem::replace(&mut s.mem, Mem::None));
            self.free_slot(key.slot);
            return Poll::Ready(out);
        }
        set_waker(&mut s.waker, cx.waker());
        Poll::Pending
    }

    /// The next completion of a multishot op: `Some(event)`, `None` once it
    /// has ended and every event was taken (the caller then releases it).
    pub(crate) fn poll_event(&mut self, key: Key, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let Some(s) = self.slot(key) else {
            return Poll::Ready(None);
        };
        if let Some(ev) = s.events.pop_front() {
            return Poll::Ready(Some(ev));
        }
        if s.ended {
            return Poll::Ready(None);
        }
        set_waker(&mut s.waker, cx.waker());
        Poll::Pending
    }

    /// The owner of `key` lets go: freed now if the op is over, otherwise
    /// cancelled and freed by its terminal completion.
    pub(crate) fn release(&mut self, key: Key) {
        let Some(s) = self.slot(key) else { return };
        if s.ended {
            self.free_slot(key.slot);
            return;
        }
        s.orphan = true;
        if let Some(w) = s.waker.take() {
            park::discard(Garbage::Waker(w));
        }
        let ud = key.user_data(s.kind);
        let throttled = std::mem::replace(&mut s.throttled, true);
        self.drop_events(key.slot);
        if !throttled {
            self.submit_ignored(opcode::AsyncCancel::new(ud).build());
        }
    }

    /// The core's buffer ring, made on first use.
    pub(crate) fn bufs(&mut self) -> std::io::Result<&mut BufRing> {
        if self.bufs.is_none() {
            let br = BufRing::new(self.cfg.buffers, self.cfg.buffer_size)?;
            // SAFETY: the entry array is page aligned, `entries` long, and
            // lives in `self.bufs` until `IoPark::drop` unregisters it (or
            // `Driver::drop` leaks it, when ops were still in flight).
            unsafe {
                self.ring.submitter().register_buf_ring_with_flags(
                    br.ring_addr(),
                    br.entries(),
                    buf_ring::GROUP,
                    0,
                )?;
            }
            self.bufs = Some(br);
        }
        Ok(self.bufs.as_mut().expect("just made"))
    }

    /// Arms a multishot receive on `t` into the buffer ring.
    pub(crate) fn arm_recv(&mut self, t: Target) -> std::io::Result<Key> {
        let cap = self.cfg.recv_cap.min(self.cfg.buffer_size) as u32;
        self.bufs()?;
        self.stats.recv_arms += 1;
        Ok(self.submit(Kind::RecvMulti, Mem::None, |_| match t {
            Target::Fd(fd) => opcode::RecvMulti::new(types::Fd(fd), buf_ring::GROUP)
                .len(cap)
                .build(),
            Target::Fixed(i) => opcode::RecvMulti::new(types::Fixed(i), buf_ring::GROUP)
                .len(cap)
                .build(),
        }))
    }

    /// Buffers the kernel can fill now (after a reclaim).
    pub(crate) fn buffers_available(&mut self) -> usize {
        match self.bufs.as_mut() {
            Some(b) => {
                b.reclaim(true);
                let n = b.available;
                self.wake_starved();
                n
            }
            None => usize::MAX,
        }
    }

    /// Wakes `w` when buffers come back.
    pub(crate) fn starve(&mut self, w: &Waker) {
        self.stats.enobufs_waits += 1;
        if !self.starved.iter().any(|s| s.will_wake(w)) {
            self.starved.push(w.clone());
        }
    }

    fn flush_backlog(&mut self) {
        while let Some(e) = self.backlog.front() {
            // SAFETY: as in `push`.
            if unsafe { self.ring.submission().push(e) }.is_err() {
                return;
            }
            self.backlog.pop_front();
        }
    }

    fn arm_doorbell(&mut self) {
        if let (Some(fd), false) = (self.doorbell, self.doorbell_armed) {
            let e = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32)
                .multi(true)
                .build()
                .user_data(DOORBELL);
            self.doorbell_armed = true;
            self.push(e);
        }
    }

    /// Gives back every buffer nobody holds; wakes starved receives.
    fn replenish(&mut self) {
        self.expire_detached();
        let full = !self.starved.is_empty();
        if let Some(b) = self.bufs.as_mut() {
            b.reclaim(full);
        }
        self.wake_starved();
    }

    /// One `io_uring_enter`: submits everything queued and reaps; waits
    /// for a completion (the doorbell's included) up to `timeout` when
    /// `wait`, never blocks otherwise.
    fn enter(&mut self, wait: bool, timeout: Option<Duration>) {
        loop {
            self.flush_backlog();
            self.stats.enters += 1;
            let r = if wait {
                match timeout {
                    Some(t) => {
                        let ts = types::Timespec::from(t);
                        let args = types::SubmitArgs::new().timespec(&ts);
                        self.ring.submitter().submit_with_args(1, &args)
                    }
                    None => self.ring.submitter().submit_and_wait(1),
                }
            } else {
                let n = self.ring.submission().len() as u32;
                // GETEVENTS with min_complete 0 runs deferred completions
                // without blocking (the crate's `submit` does not set it,
                // and under DEFER_TASKRUN completions would stall).
                // SAFETY: no argument pointer; plain flags.
                unsafe {
                    self.ring.submitter().enter::<libc::sigset_t>(
                        n,
                        0,
                        IORING_ENTER_GETEVENTS,
                        None,
                    )
                }
            };
            if let Err(e) = &r {
                match e.raw_os_error() {
                    Some(libc::EBUSY) => {
                        // CQ full (overflow backpressure): reap, then retry.
                        self.stats.busy += 1;
                        self.reap();
                        continue;
                    }
                    // A timeout or a signal ends a wait; nothing wrong.
                    Some(libc::ETIME) | Some(libc::EINTR) => {}
                    _ => {
                        // Counted, and this pass ends (never a spin on a
                        // kernel that keeps refusing).
                        self.stats.enter_errors += 1;
                        self.reap();
                        return;
                    }
                }
            }
            self.reap();
            if self.backlog.is_empty() {
                return;
            }
            // The SQ filled up: it is empty after the submit, go again
            // without waiting.
            if wait {
                return self.enter(false, None);
            }
        }
    }

    fn take_wakes(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.wake)
    }

    fn put_back(&mut self, mut v: Vec<Waker>) {
        v.clear();
        if self.wake.is_empty() && v.capacity() > self.wake.capacity() {
            self.wake = v;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.leak {
            // The kernel may still write into op memory or buffers.
            std::mem::forget(std::mem::take(&mut self.slots));
            if let Some(b) = self.bufs.take() {
                std::mem::forget(b);
            }
        }
    }
}
