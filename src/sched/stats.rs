//! What `Runtime::stats()` reports: per core counters and, per priority
//! class, the queueing delay (ready → first poll) as a histogram.
//!
//! Each core counts in plain cells and records delays into its own
//! histograms; about once a millisecond, whenever it parks or stops, and
//! when `stats()` asks (at its next loop pass), it merges them into a
//! snapshot behind a mutex that `stats()` copies.

use super::{Priority, CLASSES};
use hdrhistogram::Histogram;
use std::cell::{Cell, RefCell};

/// The largest delay a histogram records exactly (60 s); longer ones are
/// counted at this value.
const MAX_NS: u64 = 60_000_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 2).expect("static histogram bounds are valid")
}

/// A core's live counters (its thread only).
pub(crate) struct Counters {
    pub(crate) polls: Cell<u64>,
    pub(crate) spawns: Cell<u64>,
    pub(crate) local_wakes: Cell<u64>,
    pub(crate) remote_wakes: Cell<u64>,
    pub(crate) steals: Cell<u64>,
    pub(crate) parks: Cell<u64>,
    pub(crate) starved: Cell<u64>,
    delay: RefCell<[DelayHist; CLASSES]>,
}

/// A log-linear histogram cheap enough to record every poll (an index
/// computation and an add, against hdrhistogram's ~10 ns): 16 linear
/// sub-buckets per power of two, so a value is kept within 1/16 (6%).
/// Merged into the public `hdrhistogram` at publication.
pub(crate) struct DelayHist {
    counts: Box<[u64; 64 * 16]>,
    /// The range of buckets touched since the last drain (`lo > hi`: none),
    /// so a drain walks only those (a core publishes whenever it parks).
    lo: usize,
    hi: usize,
}

impl DelayHist {
    fn new() -> DelayHist {
        DelayHist {
            counts: Box::new([0; 64 * 16]),
            lo: usize::MAX,
            hi: 0,
        }
    }

    #[inline]
    fn index(v: u64) -> usize {
        if v < 16 {
            return v as usize;
        }
        let e = 63 - v.leading_zeros() as usize; // >= 4
        let mantissa = ((v >> (e - 4)) & 15) as usize;
        (e - 3) * 16 + mantissa
    }

    /// The smallest value of bucket `i` and the bucket's width.
    fn bucket(i: usize) -> (u64, u64) {
        if i < 16 {
            return (i as u64, 1);
        }
        let e = i / 16 + 3;
        let mantissa = (i % 16) as u64;
        ((16 + mantissa) << (e - 4), 1 << (e - 4))
    }

    #[inline]
    fn record(&mut self, v: u64) {
        let i = Self::index(v);
        self.counts[i] += 1;
        self.lo = self.lo.min(i);
        self.hi = self.hi.max(i);
    }

    /// Moves the counts into `h` (each at its bucket's midpoint).
    fn drain_into(&mut self, h: &mut Histogram<u64>) {
        if self.lo > self.hi {
            return;
        }
        let (lo, hi) = (self.lo, self.hi);
        for (i, c) in self.counts[lo..=hi]
            .iter_mut()
            .enumerate()
            .map(|(k, c)| (k + lo, c))
        {
            if *c != 0 {
                let (lo, width) = Self::bucket(i);
                h.saturating_record_n((lo + width / 2).clamp(1, MAX_NS), *c);
                *c = 0;
            }
        }
        (self.lo, self.hi) = (usize::MAX, 0);
    }
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            polls: Cell::new(0),
            spawns: Cell::new(0),
            local_wakes: Cell::new(0),
            remote_wakes: Cell::new(0),
            steals: Cell::new(0),
            parks: Cell::new(0),
            starved: Cell::new(0),
            delay: RefCell::new(std::array::from_fn(|_| DelayHist::new())),
        }
    }
}

impl Counters {
    #[inline]
    pub(crate) fn bump(&self, c: &Cell<u64>) {
        c.set(c.get() + 1);
    }

    #[inline]
    pub(crate) fn add(&self, c: &Cell<u64>, n: u64) {
        c.set(c.get() + n);
    }

    #[inline]
    pub(crate) fn record_delay(&self, class: usize, ns: u64) {
        self.delay.borrow_mut()[class].record(ns);
    }

    pub(crate) fn publish_into(&self, p: &mut Published, inbox_depth: usize, live: usize) {
        p.stats.polls = self.polls.get();
        p.stats.spawns = self.spawns.get();
        p.stats.local_wakes = self.local_wakes.get();
        p.stats.remote_wakes = self.remote_wakes.get();
        p.stats.steals = self.steals.get();
        p.stats.parks = self.parks.get();
        p.stats.starvation_polls = self.starved.get();
        p.stats.inbox_depth = inbox_depth;
        p.stats.live_tasks = live;
        let mut d = self.delay.borrow_mut();
        for (mine, theirs) in d.iter_mut().zip(p.stats.classes.iter_mut()) {
            mine.drain_into(&mut theirs.delay);
        }
    }
}

/// The snapshot a core publishes.
pub(crate) struct Published {
    pub(crate) stats: CoreStats,
}

impl Published {
    pub(crate) fn new() -> Published {
        Published {
            stats: CoreStats {
                cpu: None,
                polls: 0,
                spawns: 0,
                local_wakes: 0,
                remote_wakes: 0,
                steals: 0,
                parks: 0,
                starvation_polls: 0,
                inbox_depth: 0,
                live_tasks: 0,
                timers: 0,
                classes: std::array::from_fn(|i| ClassStats {
                    priority: Priority::from_index(i),
                    delay: histogram(),
                }),
                io: None,
            },
        }
    }
}

/// A runtime's statistics: one entry per core (see
/// [`Runtime::stats`](super::Runtime::stats)).
///
/// # Examples
///
/// ```
/// use corelane::sched::{Priority, Runtime};
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// rt.block_on(async {});
/// let stats = rt.stats();
/// assert_eq!(stats.cores.len(), 1);
/// assert!(stats.cores[0].polls >= 1);
/// let normal = &stats.cores[0].classes[Priority::Normal.index()];
/// println!("Normal p99 queueing delay: {} ns", normal.delay.value_at_quantile(0.99));
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Stats {
    /// Per core, in core-index order.
    pub cores: Vec<CoreStats>,
}

impl Stats {
    /// The delay histogram of one class, merged over every core.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{Priority, Runtime};
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// rt.block_on(async {});
    /// assert!(rt.stats().delay(Priority::Normal).len() >= 1);
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn delay(&self, class: Priority) -> Histogram<u64> {
        let mut h = histogram();
        for c in &self.cores {
            let _ = h.add(&c.classes[class.index()].delay);
        }
        h
    }
}

/// One core's counters since the runtime started.
///
/// # Examples
///
/// See [`Stats`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CoreStats {
    /// The CPU the core's thread is pinned to (`None` when unpinned).
    pub cpu: Option<crate::topology::CpuId>,
    /// Task polls.
    pub polls: u64,
    /// Tasks spawned on this core by its own tasks.
    pub spawns: u64,
    /// Wakes that came from this core's own thread.
    pub local_wakes: u64,
    /// Spawns and wakes that came through the inbox (other cores, other
    /// threads).
    pub remote_wakes: u64,
    /// Tasks this core stole from others.
    pub steals: u64,
    /// Times the core went to sleep.
    pub parks: u64,
    /// Polls given to a lower class because it had waited past the
    /// starvation bound.
    pub starvation_polls: u64,
    /// Inbox items waiting when the snapshot was taken.
    pub inbox_depth: usize,
    /// Tasks that have been polled here and are not finished.
    pub live_tasks: usize,
    /// Timers pending in this core's wheel (sleeps, timeouts, intervals).
    pub timers: usize,
    /// Per class, highest first.
    pub classes: [ClassStats; CLASSES],
    /// The core's io_uring driver (`None`: the core has no io).
    pub io: Option<IoStats>,
}

/// How a core's io_uring was set up (the first the kernel accepted).
///
/// # Examples
///
/// See [`IoStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RingSetup {
    /// `SINGLE_ISSUER | DEFER_TASKRUN` (6.1+): completions run only when
    /// the core enters the kernel for them, on its own thread.
    #[default]
    DeferTaskrun,
    /// `COOP_TASKRUN | TASKRUN_FLAG` (5.19+).
    CoopTaskrun,
    /// No setup flags.
    Plain,
}

/// One core's io_uring counters (cumulative since start).
///
/// # Examples
///
/// ```
/// use corelane::sched::Runtime;
///
/// let rt = Runtime::builder().build()?;
/// for core in &rt.stats().cores {
///     if let Some(io) = &core.io {
///         println!("{:?}: {} enters, {} completions", io.setup, io.enters, io.cqes);
///     }
/// }
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct IoStats {
    /// The ring's setup flags.
    pub setup: RingSetup,
    /// Accepted connections use direct descriptors (a ring file table).
    pub direct: bool,
    /// `io_uring_enter` calls.
    pub enters: u64,
    /// Enters that could block (the park step).
    pub parks: u64,
    /// Submission entries queued.
    pub sqes: u64,
    /// Completions reaped.
    pub cqes: u64,
    /// Completions the kernel had to hold back (the CQ was full).
    pub cq_overflow: u64,
    /// Enters refused with `EBUSY` (completion backpressure).
    pub busy: u64,
    /// The longest submission backlog (entries waiting for SQ room).
    pub backlog_max: u64,
    /// Completions that matched no live op, or named a buffer the driver
    /// could not hand out (always 0 unless the kernel or the driver errs).
    pub stale: u64,
    /// Multishot receives ended by an empty buffer ring.
    pub enobufs: u64,
    /// Times a receive waited for buffers to come back.
    pub enobufs_waits: u64,
    /// Multishot receives and accepts paused because their owner had the
    /// budget's worth queued (re-armed once it catches up).
    pub throttled: u64,
    /// Enters the kernel refused with an unexpected error.
    pub enter_errors: u64,
    /// Sends of dropped streams cancelled at the end of their grace.
    pub sends_expired: u64,
    /// Sends the kernel took only part of (the rest was sent again), and
    /// vectored sends of more buffers than one op takes (1024), once per
    /// further op.
    pub short_sends: u64,
    /// Multishot receives armed (first arms and re-arms).
    pub recv_arms: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// Direct descriptors open now.
    pub direct_open: u64,
    /// Ops submitted and not yet finished.
    pub ops_in_flight: u64,
    /// Receive buffers lent out as `Bytes` now.
    pub buffers_lent: u64,
}

/// One class on one core.
///
/// # Examples
///
/// See [`Stats`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClassStats {
    /// The class.
    pub priority: Priority,
    /// Queueing delay, ready → poll, in nanoseconds (1 ns .. 60 s, 2
    /// significant digits).
    pub delay: Histogram<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_within_a_sixteenth() {
        for v in (0..5000u64).chain([65_535, 1 << 20, 123_456_789, MAX_NS, u64::MAX]) {
            let i = DelayHist::index(v);
            let (lo, width) = DelayHist::bucket(i);
            assert!(lo <= v && v - lo < width, "v={v} i={i} lo={lo} w={width}");
            assert!(width == 1 || width * 16 <= lo, "precision at v={v}");
        }
    }

    #[test]
    fn drain_moves_counts() {
        let mut d = DelayHist::new();
        let mut h = histogram();
        for v in [5u64, 1000, 1000, 50_000] {
            d.record(v);
        }
        d.drain_into(&mut h);
        assert_eq!(h.len(), 4);
        assert!((940..=1070).contains(&h.value_at_quantile(0.5)));
        d.drain_into(&mut h);
        assert_eq!(h.len(), 4);
    }
}
