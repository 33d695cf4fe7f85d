//! One interface over every timer implementation in `benches/timer.rs`.
//!
//! Time is in whole milliseconds since each structure's own epoch; every
//! implementation runs at 1 ms resolution (DelayQueue and
//! hierarchical_hash_wheel_timer are fixed at 1 ms; corelane, nexus-timer and
//! bitwheel are configured to it).

use corelane::timer::{TimerKey, Wheel};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// The operations the workloads need.
pub trait Timers: Sized {
    /// What `insert` hands back for `cancel`.
    type Key;
    /// The row label.
    const NAME: &'static str;
    /// `false` for structures without cancellation (BinaryHeap).
    const CANCEL: bool = true;
    /// An empty structure with room for `capacity` timers where it supports
    /// preallocation.
    fn new(capacity: usize) -> Self;
    /// Arms a timer at absolute millisecond `at`.
    fn insert(&mut self, at: u64, value: u64) -> Self::Key;
    /// Cancels; the value if it was pending.
    fn cancel(&mut self, key: Self::Key) -> Option<u64>;
    /// Untimed: moves an external clock to `to` (only DelayQueue has one).
    fn prepare(&mut self, _to: u64) {}
    /// Timed: fires everything due at `to`, returns how many fired.
    fn advance(&mut self, to: u64, f: &mut impl FnMut(u64)) -> usize;
    /// Lazily-cancelled entries still held (only hierarchical_hash_wheel_timer
    /// cancels lazily); the workloads rebuild before it grows without bound.
    fn garbage(&self) -> usize {
        0
    }
    /// Gives up a key the workload will never cancel with (nexus handles
    /// must be freed, not dropped).
    fn forget(&mut self, key: Self::Key) {
        drop(key);
    }
    /// Tears down, consuming keys that must not be dropped (nexus handles).
    fn discard(self, keys: Vec<Self::Key>) {
        drop(keys);
        drop(self);
    }
}

#[inline]
fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

// ----- corelane ----------------------------------------------------------

pub struct Corelane {
    wheel: Wheel<u64>,
    base: Instant,
}

impl Timers for Corelane {
    type Key = TimerKey;
    const NAME: &'static str = "corelane";
    fn new(capacity: usize) -> Self {
        let base = Instant::now();
        let wheel = Wheel::builder()
            .tick(ms(1))
            .origin(base)
            .capacity(capacity)
            .build();
        Corelane { wheel, base }
    }
    #[inline]
    fn insert(&mut self, at: u64, value: u64) -> TimerKey {
        self.wheel.insert(self.base + ms(at), value)
    }
    #[inline]
    fn cancel(&mut self, key: TimerKey) -> Option<u64> {
        self.wheel.cancel(key)
    }
    #[inline]
    fn advance(&mut self, to: u64, f: &mut impl FnMut(u64)) -> usize {
        self.wheel.advance(self.base + ms(to), f)
    }
}

/// corelane through its tick core (`insert_at` / `advance_to`): what an
/// engine that already keeps integer time pays. Not the apples-to-apples row
/// (every peer converts `Instant`s), shown for the cost of the wheel alone.
pub struct CorelaneTicks(Wheel<u64>);

impl Timers for CorelaneTicks {
    type Key = TimerKey;
    const NAME: &'static str = "corelane (tick API)";
    fn new(capacity: usize) -> Self {
        CorelaneTicks(Wheel::with_capacity(capacity))
    }
    #[inline]
    fn insert(&mut self, at: u64, value: u64) -> TimerKey {
        self.0.insert_at(at, value)
    }
    #[inline]
    fn cancel(&mut self, key: TimerKey) -> Option<u64> {
        self.0.cancel(key)
    }
    #[inline]
    fn advance(&mut self, to: u64, f: &mut impl FnMut(u64)) -> usize {
        self.0.advance_to(to, f)
    }
}

// ----- tokio-util DelayQueue, on a paused tokio clock ---------------------

/// One current-thread runtime with a paused clock, shared by every
/// DelayQueue instance (they each take their own epoch).
pub fn tokio_rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("tokio runtime")
    })
}

pub struct DelayQueue {
    queue: tokio_util::time::DelayQueue<u64>,
    base: tokio::time::Instant,
}

impl Timers for DelayQueue {
    type Key = tokio_util::time::delay_queue::Key;
    const NAME: &'static str = "tokio-util DelayQueue";
    fn new(capacity: usize) -> Self {
        DelayQueue {
            queue: tokio_util::time::DelayQueue::with_capacity(capacity),
            base: tokio::time::Instant::now(),
        }
    }
    #[inline]
    fn insert(&mut self, at: u64, value: u64) -> Self::Key {
        self.queue.insert_at(value, self.base + ms(at))
    }
    #[inline]
    fn cancel(&mut self, key: Self::Key) -> Option<u64> {
        self.queue.try_remove(&key).map(|e| e.into_inner())
    }
    fn prepare(&mut self, to: u64) {
        let target = self.base + ms(to);
        let now = tokio::time::Instant::now();
        if target > now {
            tokio_rt().block_on(tokio::time::advance(target - now));
        }
    }
    #[inline]
    fn advance(&mut self, _to: u64, f: &mut impl FnMut(u64)) -> usize {
        let mut cx = Context::from_waker(Waker::noop());
        let mut n = 0;
        while let Poll::Ready(Some(e)) = self.queue.poll_expired(&mut cx) {
            f(e.into_inner());
            n += 1;
        }
        n
    }
}

// ----- hierarchical_hash_wheel_timer (cancellable quad wheel) -------------

type HhwtEntry = hierarchical_hash_wheel_timer::IdOnlyTimerEntry<u64>;

pub struct Hhwt {
    wheel: hierarchical_hash_wheel_timer::wheels::cancellable::QuadWheelWithOverflow<HhwtEntry>,
    now: u64,
    cancelled: usize,
}

impl Timers for Hhwt {
    /// Cancellation is by id; the value is the id.
    type Key = u64;
    const NAME: &'static str = "hierarchical_hash_wheel_timer";
    fn new(_capacity: usize) -> Self {
        Hhwt {
            wheel: Default::default(),
            now: 0,
            cancelled: 0,
        }
    }
    #[inline]
    fn insert(&mut self, at: u64, value: u64) -> u64 {
        // Its delays are relative and must be >= 1 ms.
        let delay = ms(at.saturating_sub(self.now).max(1));
        let entry = HhwtEntry::new(value, delay);
        assert!(self.wheel.insert(entry).is_ok(), "hhwt insert");
        value
    }
    #[inline]
    fn cancel(&mut self, id: u64) -> Option<u64> {
        self.cancelled += 1;
        self.wheel.cancel(&id).ok().map(|_| id)
    }
    #[inline]
    fn advance(&mut self, to: u64, f: &mut impl FnMut(u64)) -> usize {
        let mut n = 0;
        while self.now < to {
            self.now += 1;
            for e in self.wheel.tick() {
                f(e.id);
                n += 1;
            }
        }
        n
    }
    fn garbage(&self) -> usize {
        self.cancelled
    }
}

// ----- nexus-timer ----------------------------------------------------------

pub struct Nexus {
    wheel: nexus_timer::Wheel<u64>,
    base: Instant,
    buf: Vec<u64>,
}

impl Timers for Nexus {
    type Key = nexus_timer::TimerHandle<u64>;
    const NAME: &'static str = "nexus-timer";
    fn new(capacity: usize) -> Self {
        let base = Instant::now();
        Nexus {
            wheel: nexus_timer::Wheel::unbounded(capacity.max(1024), base),
            base,
            buf: Vec::with_capacity(1 << 16),
        }
    }
    #[inline]
    fn insert(&mut self, at: u64, value: u64) -> Self::Key {
        self.wheel.schedule(self.base + ms(at), value)
    }
    #[inline]
    fn cancel(&mut self, key: Self::Key) -> Option<u64> {
        self.wheel.cancel(key)
    }
    #[inline]
    fn advance(&mut self, to: u64, f: &mut impl FnMut(u64)) -> usize {
        // Its recommended steady-state poll: collect and rebalance.
        let n = self
            .wheel
            .poll_and_rebalance(self.base + ms(to), &mut self.buf);
        self.buf.drain(..).for_each(&mut *f);
        n
    }
    fn forget(&mut self, key: Self::Key) {
        self.wheel.free(key);
    }
    fn discard(mut self, keys: Vec<Self::Key>) {
        for k in keys {
            self.wheel.free(k);
        }
    }
}

// ----- bitwheel -------------------------------------------------------------

pub struct Fire(u64);

impl bitwheel::timer::Timer for Fire {
    type Context = Vec<u64>;
    fn fire(&mut self, ctx: &mut Vec<u64>) {
        ctx.push(self.0);
    }
}

/// 4 gears of 64 slots at 1 ms (reach ~4.7 h), 4096 timers a slot, 8
/// probes, with its BTreeMap failover (the plain `BitWheel` refuses inserts
/// once a slot and its probes are full). Its slots are preallocated for the
/// worst case. Note: bitwheel does not cascade — a timer in gear `g` fires
/// at that gear's granularity (`64^g` ms), not at its exact tick.
type BitWheelCfg = bitwheel::timer::BitWheelWithFailover<Fire, 4, 1, 4096, 8, 32>;

pub struct Bit {
    wheel: Box<BitWheelCfg>,
    base: Instant,
    buf: Vec<u64>,
}

impl Timers for Bit {
    type Key = bitwheel::timer::TimerHandle;
    const NAME: &'static str = "bitwheel";
    fn new(_capacity: usize) -> Self {
        let base = Instant::now();
        Bit {
            wheel: BitWheelCfg::boxed_with_epoch(base),
            base,
            buf: Vec::with_capacity(1 << 16),
        }
    }
    #[inline]
    fn insert(&mut self, at: u64, value: u64) -> Self::Key {
        self.wheel.insert(self.base + ms(at), Fire(value))
    }
    #[inline]
    fn cancel(&mut self, key: Self::Key) -> Option<u64> {
        self.wheel.cancel(key).map(|f| f.0)
    }
    #[inline]
    fn advance(&mut self, to: u64, f: &mut impl FnMut(u64)) -> usize {
        let n = self.wheel.poll(self.base + ms(to), &mut self.buf);
        self.buf.drain(..).for_each(&mut *f);
        n
    }
}

// ----- baselines ------------------------------------------------------------

/// `BTreeMap<(deadline, id), value>`: O(log n) everything.
pub struct BTree(BTreeMap<(u64, u64), u64>);

impl Timers for BTree {
    type Key = (u64, u64);
    const NAME: &'static str = "BTreeMap";
    fn new(_capacity: usize) -> Self {
        BTree(BTreeMap::new())
    }
    #[inline]
    fn insert(&mut self, at: u64, value: u64) -> (u64, u64) {
        self.0.insert((at, value), value);
        (at, value)
    }
    #[inline]
    fn cancel(&mut self, key: (u64, u64)) -> Option<u64> {
        self.0.remove(&key)
    }
    #[inline]
    fn advance(&mut self, to: u64, f: &mut impl FnMut(u64)) -> usize {
        let mut n = 0;
        while let Some(e) = self.0.first_entry() {
            if e.key().0 > to {
                break;
            }
            f(e.remove());
            n += 1;
        }
        n
    }
}

/// `BinaryHeap<Reverse<(deadline, value)>>`: no cancellation at all.
pub struct Heap(BinaryHeap<Reverse<(u64, u64)>>);

impl Timers for Heap {
    type Key = ();
    const NAME: &'static str = "BinaryHeap (no cancel)";
    const CANCEL: bool = false;
    fn new(capacity: usize) -> Self {
        Heap(BinaryHeap::with_capacity(capacity))
    }
    #[inline]
    fn insert(&mut self, at: u64, value: u64) {
        self.0.push(Reverse((at, value)));
    }
    fn cancel(&mut self, _key: ()) -> Option<u64> {
        None
    }
    #[inline]
    fn advance(&mut self, to: u64, f: &mut impl FnMut(u64)) -> usize {
        let mut n = 0;
        while let Some(Reverse((at, _))) = self.0.peek() {
            if *at > to {
                break;
            }
            if let Some(Reverse((_, v))) = self.0.pop() {
                f(v);
                n += 1;
            }
        }
        n
    }
}
