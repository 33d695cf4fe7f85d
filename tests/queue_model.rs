//! Property tests: every ring against a `VecDeque` model.
//!
//! Each case builds a ring of a random capacity and runs a random sequence
//! of single-threaded operations on it (push and pop in their try,
//! blocking, deadline, async and poll forms, inspection, cloning and
//! dropping handles, the batch calls every ring has, `push_slice`,
//! `push_iter` and `pop_batch`, and SPSC's chunks), checking every result
//! against the model. Items carry a live-count, so after every step the
//! number of live items must equal the model's length while a handle
//! exists, and zero once the last handle is gone: every item is dropped
//! exactly once (clones made by `push_slice` included).
//!
//! Blocking calls are issued only when the model says they return at once;
//! deadline calls get a deadline that has already passed (they try once);
//! async calls are polled once with a no-op waker (a `Pending` future is
//! dropped, or its value taken back with `SendFuture::cancel`, which must
//! leave the ring intact).

use std::collections::VecDeque;
use std::fmt::Debug;
use std::future::Future;
use std::iter::Peekable;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use corelane::queue::spsc::{ReadChunkError, WriteChunkError};
use corelane::queue::wait::WaitStrategy;
use corelane::queue::{
    mpmc, mpsc, spmc, spsc, Disconnected, PopError, PopTimeoutError, PushError, PushTimeoutError,
};
use futures_core::Stream;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Items that count themselves
// ---------------------------------------------------------------------------

/// Items alive right now (created minus dropped), per test case.
#[derive(Default)]
struct Live(AtomicUsize);

impl Live {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

struct Item {
    v: u32,
    live: Arc<Live>,
}

impl Item {
    fn new(v: u32, live: &Arc<Live>) -> Self {
        live.0.fetch_add(1, Ordering::SeqCst);
        Item {
            v,
            live: live.clone(),
        }
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        let before = self.live.0.fetch_sub(1, Ordering::SeqCst);
        assert!(before > 0, "item {} dropped twice", self.v);
    }
}

/// A clone is a new live item with the same value (as `push_slice` makes).
impl Clone for Item {
    fn clone(&self) -> Self {
        Item::new(self.v, &self.live)
    }
}

impl Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Item({})", self.v)
    }
}

/// Polls `fut` exactly once with a no-op waker.
fn poll_once<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => None,
    }
}

/// A deadline that has already passed: a deadline call tries exactly once.
fn past() -> Instant {
    Instant::now()
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

// ---------------------------------------------------------------------------
// The common endpoint API, so one model runner drives all four rings
// ---------------------------------------------------------------------------

type Items = Peekable<std::vec::IntoIter<Item>>;

trait Tx: Sized + Debug {
    fn push(&mut self, v: Item) -> Result<(), PushError<Item>>;
    fn push_blocking(&mut self, v: Item, s: WaitStrategy) -> Result<(), Disconnected<Item>>;
    fn push_timeout(&mut self, v: Item, s: WaitStrategy) -> Result<(), PushTimeoutError<Item>>;
    fn push_until(&mut self, v: Item, s: WaitStrategy) -> Result<(), PushTimeoutError<Item>>;
    /// Polls `send(v)` once; if pending, takes the value back by `cancel`.
    fn send_once(&mut self, v: Item) -> Result<Result<(), Disconnected<Item>>, Item>;
    fn poll_ready_once(&mut self) -> Poll<Result<(), Disconnected>>;
    fn push_slice(&mut self, items: &[Item]) -> Result<usize, Disconnected>;
    fn push_iter(&mut self, items: &mut Items) -> Result<usize, Disconnected>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool;
    fn is_full(&self) -> bool;
    fn capacity(&self) -> usize;
    fn free_len(&self) -> usize;
    fn is_disconnected(&self) -> bool;
    fn try_clone(&self) -> Option<Self>;
}

trait Rx: Sized + Debug + Stream<Item = Item> + Unpin {
    fn pop(&mut self) -> Result<Item, PopError>;
    fn pop_blocking(&mut self, s: WaitStrategy) -> Result<Item, Disconnected>;
    fn pop_timeout(&mut self, s: WaitStrategy) -> Result<Item, PopTimeoutError>;
    fn pop_until(&mut self, s: WaitStrategy) -> Result<Item, PopTimeoutError>;
    fn recv_once(&mut self) -> Option<Result<Item, Disconnected>>;
    fn poll_pop_once(&mut self) -> Poll<Result<Item, Disconnected>>;
    fn pop_batch(&mut self, out: &mut Vec<Item>, max: usize) -> Result<usize, Disconnected>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool;
    fn is_full(&self) -> bool;
    fn capacity(&self) -> usize;
    fn free_len(&self) -> usize;
    fn is_disconnected(&self) -> bool;
    fn try_clone(&self) -> Option<Self>;
}

/// Implements `Tx`/`Rx` for one ring module; `$tc`/`$rc` say whether the
/// producer/consumer is `Clone`. (Test scaffolding: the rings' own API is
/// written out per ring.)
macro_rules! endpoints {
    ($m:ident, tx_clone = $tc:expr, rx_clone = $rc:expr) => {
        impl Tx for $m::Producer<Item> {
            fn push(&mut self, v: Item) -> Result<(), PushError<Item>> {
                $m::Producer::push(self, v)
            }
            fn push_blocking(
                &mut self,
                v: Item,
                s: WaitStrategy,
            ) -> Result<(), Disconnected<Item>> {
                $m::Producer::push_blocking(self, v, s)
            }
            fn push_timeout(
                &mut self,
                v: Item,
                s: WaitStrategy,
            ) -> Result<(), PushTimeoutError<Item>> {
                $m::Producer::push_timeout(self, v, Duration::ZERO, s)
            }
            fn push_until(
                &mut self,
                v: Item,
                s: WaitStrategy,
            ) -> Result<(), PushTimeoutError<Item>> {
                $m::Producer::push_until(self, v, past(), s)
            }
            fn send_once(&mut self, v: Item) -> Result<Result<(), Disconnected<Item>>, Item> {
                let mut send = self.send(v);
                match Pin::new(&mut send).poll(&mut noop_cx()) {
                    Poll::Ready(r) => {
                        assert!(send.cancel().is_none(), "a completed send keeps nothing");
                        Ok(r)
                    }
                    Poll::Pending => Err(send.cancel().expect("a pending send keeps its value")),
                }
            }
            fn poll_ready_once(&mut self) -> Poll<Result<(), Disconnected>> {
                $m::Producer::poll_ready(self, &mut noop_cx())
            }
            fn push_slice(&mut self, items: &[Item]) -> Result<usize, Disconnected> {
                $m::Producer::push_slice(self, items)
            }
            fn push_iter(&mut self, items: &mut Items) -> Result<usize, Disconnected> {
                $m::Producer::push_iter(self, items)
            }
            fn len(&self) -> usize {
                $m::Producer::len(self)
            }
            fn is_empty(&self) -> bool {
                $m::Producer::is_empty(self)
            }
            fn is_full(&self) -> bool {
                $m::Producer::is_full(self)
            }
            fn capacity(&self) -> usize {
                $m::Producer::capacity(self)
            }
            fn free_len(&self) -> usize {
                $m::Producer::free_len(self)
            }
            fn is_disconnected(&self) -> bool {
                $m::Producer::is_disconnected(self)
            }
            fn try_clone(&self) -> Option<Self> {
                let f: fn(&Self) -> Option<Self> = $tc;
                f(self)
            }
        }

        impl Rx for $m::Consumer<Item> {
            fn pop(&mut self) -> Result<Item, PopError> {
                $m::Consumer::pop(self)
            }
            fn pop_blocking(&mut self, s: WaitStrategy) -> Result<Item, Disconnected> {
                $m::Consumer::pop_blocking(self, s)
            }
            fn pop_timeout(&mut self, s: WaitStrategy) -> Result<Item, PopTimeoutError> {
                $m::Consumer::pop_timeout(self, Duration::ZERO, s)
            }
            fn pop_until(&mut self, s: WaitStrategy) -> Result<Item, PopTimeoutError> {
                $m::Consumer::pop_until(self, past(), s)
            }
            fn recv_once(&mut self) -> Option<Result<Item, Disconnected>> {
                poll_once(self.recv())
            }
            fn poll_pop_once(&mut self) -> Poll<Result<Item, Disconnected>> {
                $m::Consumer::poll_pop(self, &mut noop_cx())
            }
            fn pop_batch(
                &mut self,
                out: &mut Vec<Item>,
                max: usize,
            ) -> Result<usize, Disconnected> {
                $m::Consumer::pop_batch(self, out, max)
            }
            fn len(&self) -> usize {
                $m::Consumer::len(self)
            }
            fn is_empty(&self) -> bool {
                $m::Consumer::is_empty(self)
            }
            fn is_full(&self) -> bool {
                $m::Consumer::is_full(self)
            }
            fn capacity(&self) -> usize {
                $m::Consumer::capacity(self)
            }
            fn free_len(&self) -> usize {
                $m::Consumer::free_len(self)
            }
            fn is_disconnected(&self) -> bool {
                $m::Consumer::is_disconnected(self)
            }
            fn try_clone(&self) -> Option<Self> {
                let f: fn(&Self) -> Option<Self> = $rc;
                f(self)
            }
        }
    };
}

endpoints!(spsc, tx_clone = |_| None, rx_clone = |_| None);
endpoints!(mpsc, tx_clone = |p| Some(p.clone()), rx_clone = |_| None);
endpoints!(spmc, tx_clone = |_| None, rx_clone = |c| Some(c.clone()));
endpoints!(
    mpmc,
    tx_clone = |p| Some(p.clone()),
    rx_clone = |c| Some(c.clone())
);

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum How {
    Try,
    Blocking(WaitStrategy),
    /// `*_timeout` with a zero timeout.
    Timeout(WaitStrategy),
    /// `*_until` with a deadline already passed.
    Until(WaitStrategy),
    /// `send`/`recv` polled once.
    AsyncOnce,
    /// `poll_ready` then `push` / `poll_pop` / `Stream::poll_next`, once.
    Poll,
    /// `Stream::poll_next` once (pop side; a push does `Poll`).
    Stream,
}

#[derive(Debug, Clone, Copy)]
enum FillHow {
    /// `WriteChunk::push` one by one (extra pushes must hand the value back).
    Each,
    /// `WriteChunk::fill_from_iter` with `fill` items.
    FromIter,
    /// Half by `push`, the rest by `fill_from_iter`.
    Mixed,
}

#[derive(Debug, Clone)]
enum Op {
    Push(usize, How),
    Pop(usize, How),
    Inspect,
    CloneTx(usize),
    DropTx(usize),
    CloneRx(usize),
    DropRx(usize),
    /// `push_slice` of `n` fresh items.
    PushSlice(usize, usize),
    /// `push_iter` over a `Peekable` of `n` fresh items.
    PushIter(usize, usize),
    /// `pop_batch` of at most `max` items.
    PopBatch(usize, usize),
    /// SPSC `write_chunk(n)`, filled with `fill` items, committed or dropped.
    WriteChunk {
        n: usize,
        fill: usize,
        how: FillHow,
        commit: bool,
    },
    /// SPSC `read_chunk(n)`, `take` items moved out, then `commit_all` or drop.
    ReadChunk {
        n: usize,
        take: usize,
        commit_all: bool,
    },
}

fn strategy() -> impl Strategy<Value = WaitStrategy> {
    prop_oneof![
        Just(WaitStrategy::BusySpin),
        Just(WaitStrategy::Yield),
        Just(WaitStrategy::Backoff),
        Just(WaitStrategy::Park),
    ]
}

fn how() -> impl Strategy<Value = How> {
    prop_oneof![
        6 => Just(How::Try),
        2 => strategy().prop_map(How::Blocking),
        1 => strategy().prop_map(How::Timeout),
        1 => strategy().prop_map(How::Until),
        2 => Just(How::AsyncOnce),
        1 => Just(How::Poll),
        1 => Just(How::Stream),
    ]
}

/// Which ring-specific operations to generate.
#[derive(Clone, Copy)]
enum Extra {
    None,
    Chunks,
}

fn ops(extra: Extra) -> impl Strategy<Value = Vec<Op>> {
    let h = 0usize..4;
    let common = prop_oneof![
        10 => (h.clone(), how()).prop_map(|(i, w)| Op::Push(i, w)),
        10 => (h.clone(), how()).prop_map(|(i, w)| Op::Pop(i, w)),
        3 => Just(Op::Inspect),
        2 => (h.clone(), 0usize..=12).prop_map(|(i, n)| Op::PushSlice(i, n)),
        2 => (h.clone(), 0usize..=12).prop_map(|(i, n)| Op::PushIter(i, n)),
        3 => (h.clone(), 0usize..=12).prop_map(|(i, n)| Op::PopBatch(i, n)),
        1 => h.clone().prop_map(Op::CloneTx),
        1 => h.clone().prop_map(Op::CloneRx),
        // Rare, so most sequences run long with both sides alive.
        1 => (h.clone(), 0..4u8).prop_map(|(i, r)| if r == 0 { Op::DropTx(i) } else { Op::Inspect }),
        1 => (h.clone(), 0..4u8).prop_map(|(i, r)| if r == 0 { Op::DropRx(i) } else { Op::Inspect }),
    ];
    let fill = prop_oneof![
        Just(FillHow::Each),
        Just(FillHow::FromIter),
        Just(FillHow::Mixed)
    ];
    let op = match extra {
        Extra::None => common.boxed(),
        Extra::Chunks => prop_oneof![
            6 => common,
            2 => (0usize..=10, 0usize..=12, fill, any::<bool>())
                .prop_map(|(n, f, how, commit)| Op::WriteChunk { n, fill: f, how, commit }),
            2 => (0usize..=10, 0usize..=12, any::<bool>())
                .prop_map(|(n, take, commit_all)| Op::ReadChunk { n, take, commit_all }),
        ]
        .boxed(),
    };
    prop::collection::vec(op, 0..120)
}

/// Requested capacities: small ones (wrap-around happens within a case),
/// with the power-of-two boundaries well represented.
fn capacity() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 1usize..=9, 1 => Just(16usize), 1 => Just(17usize)]
}

// ---------------------------------------------------------------------------
// The model runner
// ---------------------------------------------------------------------------

struct Harness<P, C> {
    txs: Vec<P>,
    rxs: Vec<C>,
    model: VecDeque<u32>,
    cap: usize,
    next: u32,
    live: Arc<Live>,
}

impl<P: Tx, C: Rx> Harness<P, C> {
    fn new((tx, rx): (P, C), requested: usize, min_cap: usize) -> Self {
        let cap = requested.next_power_of_two().max(min_cap);
        assert_eq!(tx.capacity(), cap, "requested {requested}");
        assert_eq!(rx.capacity(), cap, "requested {requested}");
        Harness {
            txs: vec![tx],
            rxs: vec![rx],
            model: VecDeque::new(),
            cap,
            next: 0,
            live: Arc::default(),
        }
    }

    fn item(&mut self) -> Item {
        self.next += 1;
        Item::new(self.next, &self.live)
    }

    fn has_room(&self) -> bool {
        self.model.len() < self.cap
    }

    fn push(&mut self, i: usize, how: How) {
        if self.txs.is_empty() {
            return;
        }
        let i = i % self.txs.len();
        let disconnected = self.rxs.is_empty();
        let would_block = !disconnected && !self.has_room();
        let item = self.item();
        let v = item.v;
        let tx = &mut self.txs[i];
        // Every form, mapped to the non-blocking vocabulary, after checking
        // what each one may return.
        let r: Result<(), PushError<Item>> = match how {
            How::Try => tx.push(item),
            How::Blocking(_) if would_block => return,
            How::Blocking(s) => tx
                .push_blocking(item, s)
                .map_err(|e| PushError::Disconnected(e.0)),
            How::Timeout(_) | How::Until(_) => {
                let r = match how {
                    How::Timeout(s) => tx.push_timeout(item, s),
                    How::Until(s) => tx.push_until(item, s),
                    _ => unreachable!(),
                };
                match r {
                    Ok(()) => Ok(()),
                    Err(PushTimeoutError::Timeout(back)) => {
                        assert!(would_block, "spurious Timeout");
                        assert_eq!(back.v, v, "Timeout must hand the value back");
                        return;
                    }
                    Err(e) => Err(PushError::Disconnected(e.into_inner())),
                }
            }
            How::AsyncOnce => match tx.send_once(item) {
                Ok(r) => r.map_err(|e| PushError::Disconnected(e.0)),
                Err(back) => {
                    assert!(would_block, "send pending with room or disconnected");
                    assert_eq!(back.v, v, "cancel must hand the value back");
                    return;
                }
            },
            How::Poll | How::Stream => match tx.poll_ready_once() {
                Poll::Ready(Ok(())) => {
                    assert!(!would_block && !disconnected, "poll_ready: Ready");
                    tx.push(item)
                }
                Poll::Ready(Err(Disconnected(()))) => {
                    assert!(disconnected, "poll_ready: spurious Disconnected");
                    return;
                }
                Poll::Pending => {
                    assert!(would_block, "poll_ready: Pending with room");
                    return;
                }
            },
        };
        match r {
            Ok(()) => {
                assert!(!disconnected && !would_block, "push of {v} succeeded");
                self.model.push_back(v);
            }
            Err(PushError::Disconnected(back)) => {
                assert!(disconnected, "spurious Disconnected");
                assert_eq!(back.v, v, "Disconnected must hand the value back");
            }
            Err(PushError::Full(back)) => {
                assert!(would_block, "spurious Full");
                assert!(matches!(how, How::Try));
                assert_eq!(back.v, v, "Full must hand the value back");
            }
            Err(e) => panic!("single-threaded push: {e:?}"),
        }
    }

    fn pop(&mut self, i: usize, how: How) {
        if self.rxs.is_empty() {
            return;
        }
        let i = i % self.rxs.len();
        let disconnected = self.txs.is_empty();
        let would_block = !disconnected && self.model.is_empty();
        let rx = &mut self.rxs[i];
        let pending = |r: Option<Result<Item, Disconnected>>| match r {
            Some(r) => r.map_err(PopError::from),
            None => Err(PopError::Empty),
        };
        let r: Result<Item, PopError> = match how {
            How::Try => rx.pop(),
            How::Blocking(_) if would_block => return,
            How::Blocking(s) => rx.pop_blocking(s).map_err(PopError::from),
            How::Timeout(s) | How::Until(s) => {
                let r = if matches!(how, How::Timeout(_)) {
                    rx.pop_timeout(s)
                } else {
                    rx.pop_until(s)
                };
                match r {
                    Ok(item) => Ok(item),
                    Err(PopTimeoutError::Timeout) => Err(PopError::Empty),
                    Err(_) => Err(PopError::Disconnected),
                }
            }
            How::AsyncOnce => pending(rx.recv_once()),
            How::Poll => match rx.poll_pop_once() {
                Poll::Ready(r) => r.map_err(PopError::from),
                Poll::Pending => Err(PopError::Empty),
            },
            How::Stream => match Pin::new(&mut *rx).poll_next(&mut noop_cx()) {
                Poll::Ready(Some(item)) => Ok(item),
                Poll::Ready(None) => Err(PopError::Disconnected),
                Poll::Pending => Err(PopError::Empty),
            },
        };
        match (r, self.model.pop_front()) {
            (Ok(item), Some(v)) => assert_eq!(item.v, v, "FIFO"),
            (Err(PopError::Empty), None) => assert!(!disconnected, "Empty, not Disconnected"),
            (Err(PopError::Disconnected), None) => assert!(disconnected, "spurious Disconnected"),
            (r, m) => panic!("pop ({how:?}) returned {r:?}, model has {m:?}"),
        }
    }

    /// `push_slice` of `n` fresh items: the longest prefix that fits.
    fn push_slice(&mut self, i: usize, n: usize) {
        if self.txs.is_empty() {
            return;
        }
        let items: Vec<Item> = (0..n).map(|_| self.item()).collect();
        let i = i % self.txs.len();
        let r = self.txs[i].push_slice(&items);
        if self.rxs.is_empty() {
            return assert_eq!(r, Err(Disconnected(())));
        }
        let k = n.min(self.cap - self.model.len());
        assert_eq!(r, Ok(k), "push_slice pushes the longest prefix that fits");
        self.model.extend(items[..k].iter().map(|x| x.v));
        // `items` (the originals) drop here; the clones live in the ring.
    }

    /// `push_iter` over `n` fresh items: what fits goes in, in order; the
    /// rest stays in the iterator, the next one still peekable.
    fn push_iter(&mut self, i: usize, n: usize) {
        if self.txs.is_empty() {
            return;
        }
        let items: Vec<Item> = (0..n).map(|_| self.item()).collect();
        let values: Vec<u32> = items.iter().map(|x| x.v).collect();
        let mut iter = items.into_iter().peekable();
        let i = i % self.txs.len();
        let r = self.txs[i].push_iter(&mut iter);
        if self.rxs.is_empty() {
            assert_eq!(r, Err(Disconnected(())));
            return assert_eq!(iter.len(), n, "Disconnected takes nothing");
        }
        let k = n.min(self.cap - self.model.len());
        assert_eq!(r, Ok(k), "push_iter pushes what fits");
        let rest: Vec<u32> = iter.map(|x| x.v).collect();
        assert_eq!(rest, values[k..], "what did not fit stays in the iterator");
        self.model.extend(&values[..k]);
    }

    /// `pop_batch` of at most `max`: the oldest items, in order.
    fn pop_batch(&mut self, i: usize, max: usize) {
        if self.rxs.is_empty() {
            return;
        }
        let i = i % self.rxs.len();
        let mut out = Vec::new();
        let r = self.rxs[i].pop_batch(&mut out, max);
        let k = max.min(self.model.len());
        if max > 0 && k == 0 && self.txs.is_empty() {
            return assert_eq!(r, Err(Disconnected(())));
        }
        assert_eq!(r, Ok(k), "pop_batch takes what is there, up to max");
        let got: Vec<u32> = out.iter().map(|x| x.v).collect();
        let expect: Vec<u32> = self.model.drain(..k).collect();
        assert_eq!(got, expect, "pop_batch FIFO");
    }

    fn inspect(&self) {
        let n = self.model.len();
        let len_field = format!("len: {n},");
        for tx in &self.txs {
            assert_eq!(tx.len(), n, "producer len");
            assert_eq!(tx.is_empty(), n == 0, "producer is_empty");
            assert_eq!(tx.is_full(), n == self.cap, "producer is_full");
            assert_eq!(tx.capacity(), self.cap);
            assert_eq!(tx.free_len(), self.cap - n, "producer free_len");
            assert_eq!(tx.is_disconnected(), self.rxs.is_empty());
            assert!(format!("{tx:?}").contains(&len_field), "{tx:?}");
        }
        for rx in &self.rxs {
            assert_eq!(rx.len(), n, "consumer len");
            assert_eq!(rx.is_empty(), n == 0, "consumer is_empty");
            assert_eq!(rx.is_full(), n == self.cap, "consumer is_full");
            assert_eq!(rx.capacity(), self.cap);
            assert_eq!(rx.free_len(), self.cap - n, "consumer free_len");
            assert_eq!(rx.is_disconnected(), self.txs.is_empty());
            assert!(format!("{rx:?}").contains(&len_field), "{rx:?}");
        }
    }

    /// Live items must be exactly those in the ring while any handle exists,
    /// and none once the last handle is gone.
    fn check_live(&self) {
        let expect = if self.txs.is_empty() && self.rxs.is_empty() {
            0
        } else {
            self.model.len()
        };
        assert_eq!(self.live.get(), expect, "live items (dropped exactly once)");
    }

    fn common(&mut self, op: &Op) -> bool {
        match *op {
            Op::Push(i, how) => self.push(i, how),
            Op::Pop(i, how) => self.pop(i, how),
            Op::Inspect => self.inspect(),
            Op::PushSlice(i, n) => self.push_slice(i, n),
            Op::PushIter(i, n) => self.push_iter(i, n),
            Op::PopBatch(i, max) => self.pop_batch(i, max),
            Op::CloneTx(i) if !self.txs.is_empty() => {
                if let Some(c) = self.txs[i % self.txs.len()].try_clone() {
                    self.txs.push(c);
                }
            }
            Op::CloneRx(i) if !self.rxs.is_empty() => {
                if let Some(c) = self.rxs[i % self.rxs.len()].try_clone() {
                    self.rxs.push(c);
                }
            }
            Op::DropTx(i) if !self.txs.is_empty() => {
                let i = i % self.txs.len();
                drop(self.txs.swap_remove(i));
            }
            Op::DropRx(i) if !self.rxs.is_empty() => {
                let i = i % self.rxs.len();
                drop(self.rxs.swap_remove(i));
            }
            Op::CloneTx(_) | Op::CloneRx(_) | Op::DropTx(_) | Op::DropRx(_) => {}
            _ => return false,
        }
        true
    }

    fn finish(mut self) {
        self.inspect();
        self.txs.clear();
        self.check_live();
        self.rxs.clear();
        self.model.clear();
        self.check_live();
    }
}

/// Runs `ops` against the model; `extra` handles the ring-specific ops.
fn run<P: Tx, C: Rx>(
    mut h: Harness<P, C>,
    ops: &[Op],
    mut extra: impl FnMut(&mut Harness<P, C>, &Op),
) {
    for op in ops {
        if !h.common(op) {
            extra(&mut h, op);
        }
        h.check_live();
    }
    h.finish();
}

// ---------------------------------------------------------------------------
// SPSC chunks
// ---------------------------------------------------------------------------

type Spsc = Harness<spsc::Producer<Item>, spsc::Consumer<Item>>;

fn write_chunk(h: &mut Spsc, n: usize, fill: usize, how: FillHow, commit: bool) {
    let Some(tx) = h.txs.first_mut() else { return };
    let free = h.cap - h.model.len();
    let base = h.next;
    let live = h.live.clone();
    let mut chunk = match tx.write_chunk(n) {
        Err(WriteChunkError::Disconnected) => return assert!(h.rxs.is_empty()),
        Err(WriteChunkError::TooFewSlots(f)) => {
            assert!(!h.rxs.is_empty() && n > free, "TooFewSlots({f}) for {n}");
            return assert_eq!(f, free, "TooFewSlots reports the free slots");
        }
        Err(e) => panic!("{e:?}"),
        Ok(chunk) => chunk,
    };
    assert!(!h.rxs.is_empty() && n <= free, "chunk of {n} opened");
    assert_eq!(
        (chunk.len(), chunk.is_empty(), chunk.filled()),
        (n, n == 0, 0)
    );
    let mut values = (base + 1..).map(|v| Item::new(v, &live));
    let by_push = match how {
        FillHow::Each => fill,
        FillHow::FromIter => 0,
        FillHow::Mixed => fill / 2,
    };
    for k in 0..by_push {
        let item = values.next().unwrap();
        let v = item.v;
        match chunk.push(item) {
            Ok(()) => assert!(k < n),
            Err(back) => assert!(k >= n && back.v == v, "chunk push hands back"),
        }
    }
    let room = n.saturating_sub(by_push);
    let want = fill - by_push;
    assert_eq!(
        chunk.fill_from_iter(values.by_ref().take(want)),
        want.min(room)
    );
    let filled = fill.min(n);
    assert_eq!(chunk.filled(), filled);
    // Nothing is visible to the consumer before the chunk is published.
    for rx in &h.rxs {
        assert_eq!(rx.len(), h.model.len(), "uncommitted items are invisible");
        assert_eq!(rx.is_empty(), h.model.is_empty());
    }
    if commit {
        chunk.commit();
    } else {
        drop(chunk);
    }
    // Values handed out: base+1 ..; those that went in are the first
    // `by_push.min(n)` and the next `want.min(room)` of the iterator.
    let pushed = (base + 1..).take(by_push.min(n));
    let iterated = (base + 1 + by_push as u32..).take(want.min(room));
    h.model.extend(pushed.chain(iterated));
    h.next = base + fill as u32 + 1;
}

fn read_chunk(h: &mut Spsc, n: usize, take: usize, commit_all: bool) {
    let Some(rx) = h.rxs.first_mut() else { return };
    let before = h.model.len();
    let mut chunk = match rx.read_chunk(n) {
        Err(ReadChunkError::TooFewItems(k)) => {
            assert!(n > before && !h.txs.is_empty(), "TooFewItems({k}) for {n}");
            return assert_eq!(k, before, "TooFewItems reports the items waiting");
        }
        Err(ReadChunkError::Disconnected) => {
            return assert!(n > before && h.txs.is_empty(), "Disconnected for {n}");
        }
        Err(e) => panic!("{e:?}"),
        Ok(chunk) => chunk,
    };
    assert!(n <= before, "a chunk of {n} opened with {before} waiting");
    let len = n;
    assert_eq!((chunk.len(), chunk.is_empty()), (len, len == 0));
    assert_eq!(chunk.size_hint(), (len, Some(len)));
    let by_slices: Vec<u32> = chunk.slices().flatten().map(|i| i.v).collect();
    assert!(chunk.slices().all(|s| !s.is_empty()), "no empty slice");
    let peek: Vec<u32> = chunk.iter().map(|i| i.v).collect();
    assert_eq!(peek, h.model.iter().take(len).copied().collect::<Vec<_>>());
    assert_eq!(by_slices, peek, "slices() are the chunk's items in order");
    for (i, v) in peek.iter().enumerate() {
        assert_eq!(chunk.get(i).map(|x| x.v), Some(*v));
    }
    assert!(chunk.get(len).is_none());
    let mut taken = 0;
    for _ in 0..take {
        match chunk.next() {
            Some(item) => {
                assert_eq!(Some(item.v), h.model.pop_front(), "chunk FIFO");
                taken += 1;
            }
            None => assert_eq!(taken, len, "chunk ended early"),
        }
    }
    assert_eq!(chunk.len(), len - taken);
    assert_eq!(
        chunk.get(0).map(|x| x.v),
        h.model.front().copied().filter(|_| taken < len)
    );
    // Taken slots are released to the producer only when the chunk goes.
    for tx in &h.txs {
        assert_eq!(tx.len(), before, "slots released before the chunk dropped");
    }
    if commit_all {
        chunk.commit_all();
        for _ in taken..len {
            h.model.pop_front();
        }
    } else {
        drop(chunk);
    }
}

// ---------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn spsc_matches_model(cap in capacity(), k in 0usize..=5, ops in ops(Extra::Chunks)) {
        // k = 0: the default one-line blocks; 1..=5: blocks of k slots, so
        // block boundaries fall inside chunks and wrap at small capacities.
        let pair = if k == 0 {
            spsc::channel::<Item>(cap)
        } else {
            spsc::__with_block_len::<Item>(cap, k)
        };
        let h = Harness::new(pair, cap, 1);
        run(h, &ops, |h, op| match *op {
            Op::WriteChunk { n, fill, how, commit } => write_chunk(h, n, fill, how, commit),
            Op::ReadChunk { n, take, commit_all } => read_chunk(h, n, take, commit_all),
            _ => unreachable!("{op:?}"),
        });
    }

    #[test]
    fn mpsc_matches_model(cap in capacity(), ops in ops(Extra::None)) {
        let h = Harness::new(mpsc::channel::<Item>(cap), cap, 2);
        run(h, &ops, |_, op| unreachable!("{op:?}"));
    }

    #[test]
    fn spmc_matches_model(cap in capacity(), ops in ops(Extra::None)) {
        let h = Harness::new(spmc::channel::<Item>(cap), cap, 2);
        run(h, &ops, |_, op| unreachable!("{op:?}"));
    }

    #[test]
    fn mpmc_matches_model(cap in capacity(), ops in ops(Extra::None)) {
        let h = Harness::new(mpmc::channel::<Item>(cap), cap, 2);
        run(h, &ops, |_, op| unreachable!("{op:?}"));
    }

    /// Long runs of full/empty cycles: positions wrap many laps.
    #[test]
    fn stamped_rings_wrap_many_laps(cap in 1usize..=4, laps in 1usize..40) {
        let (mut tx, mut rx) = mpmc::channel::<u64>(cap);
        let cap = tx.capacity() as u64;
        let mut next = 0;
        for _ in 0..laps {
            for _ in 0..cap {
                tx.push(next).unwrap();
                next += 1;
            }
            prop_assert_eq!(tx.push(0), Err(PushError::Full(0)));
            for k in (0..cap).rev() {
                prop_assert_eq!(rx.pop(), Ok(next - k - 1));
            }
            prop_assert_eq!(rx.pop(), Err(PopError::Empty));
        }
    }
}

// ---------------------------------------------------------------------------
// Capacity edges
// ---------------------------------------------------------------------------

#[test]
fn capacities_round_up() {
    for (req, spsc_cap, stamped_cap) in [(1, 1, 2), (2, 2, 2), (3, 4, 4), (1000, 1024, 1024)] {
        assert_eq!(spsc::channel::<u8>(req).0.capacity(), spsc_cap);
        assert_eq!(mpsc::channel::<u8>(req).0.capacity(), stamped_cap);
        assert_eq!(spmc::channel::<u8>(req).0.capacity(), stamped_cap);
        assert_eq!(mpmc::channel::<u8>(req).0.capacity(), stamped_cap);
    }
}

#[test]
fn zero_sized_items_count() {
    let (mut tx, mut rx) = spsc::channel::<()>(2);
    tx.push(()).unwrap();
    tx.push(()).unwrap();
    assert_eq!(tx.push(()), Err(PushError::Full(())));
    assert_eq!(
        (rx.pop(), rx.pop(), rx.pop()),
        (Ok(()), Ok(()), Err(PopError::Empty))
    );
    let (mut tx, mut rx) = mpmc::channel::<()>(2);
    tx.push(()).unwrap();
    assert_eq!((rx.pop(), rx.pop()), (Ok(()), Err(PopError::Empty)));
}

macro_rules! capacity_panics {
    ($($zero:ident, $huge:ident, $m:ident;)*) => {$(
        #[test]
        #[should_panic(expected = "at least 1")]
        fn $zero() {
            let _ = $m::channel::<u64>(0);
        }

        #[test]
        #[should_panic(expected = "too large")]
        fn $huge() {
            // Rounds to 2^62 slots of at least 16 bytes: more than isize::MAX.
            let _ = $m::channel::<u64>((1 << 61) + 1);
        }
    )*};
}

capacity_panics! {
    spsc_zero_capacity_panics, spsc_huge_capacity_panics, spsc;
    mpsc_zero_capacity_panics, mpsc_huge_capacity_panics, mpsc;
    spmc_zero_capacity_panics, spmc_huge_capacity_panics, spmc;
    mpmc_zero_capacity_panics, mpmc_huge_capacity_panics, mpmc;
}

#[test]
fn unroundable_capacity_panics() {
    let r = std::panic::catch_unwind(|| spsc::channel::<u8>(usize::MAX));
    let msg = r.expect_err("usize::MAX cannot round up");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("too large"), "{msg}");
}

/// An MPSC producer left alone after a clone pushed laps: its cached view of
/// the consumer's position is more than a capacity behind the tail, so its
/// batch must look at the consumer again rather than count free slots from
/// the cache (found by `mpsc_matches_model`: the free count underflowed).
#[test]
fn mpsc_batch_after_a_clone_pushed_laps() {
    let (mut tx, mut rx) = mpsc::channel::<u32>(4);
    let mut other = tx.clone();
    for _ in 0..3 {
        for i in 0..4 {
            other.push(i).unwrap();
        }
        for i in 0..4 {
            assert_eq!(rx.pop(), Ok(i));
        }
    }
    drop(other);
    assert_eq!(tx.push_slice(&[7, 8, 9, 10, 11]), Ok(4));
    assert_eq!(tx.push_iter(&mut (12..14).peekable()), Ok(0));
    let mut got = Vec::new();
    assert_eq!(rx.pop_batch(&mut got, 8), Ok(4));
    assert_eq!(got, [7, 8, 9, 10]);
}
