//! `send().await` / `recv().await` on every ring.
//!
//! * Under tokio's multi-thread runtime: producer and consumer tasks on a
//!   ring of the smallest capacity, so nearly every operation waits and is
//!   woken through a registered `Waker`; no loss, no duplicate, per-producer
//!   FIFO. The same on a current-thread runtime, where only wakers can make
//!   progress (a lost wake-up hangs, which the timeout turns into a failure).
//! * Under a minimal hand-written executor (`block_on` with a thread-park
//!   waker): the rings need nothing from tokio.
//! * Async on one side, blocking `Park` on the other: wakers and futex
//!   sleepers share the ring's wake-up cells.
//! * Disconnect while awaiting, under both executors; a future dropped
//!   while pending (cancellation) leaves the ring working, and a pending
//!   `send` hands its value back through `SendFuture::cancel`; a task that
//!   re-polls with a different waker is woken through the new one.
//! * Every consumer is a `Stream` that ends when the ring is drained and
//!   the producers are gone.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use corelane::queue::wait::WaitStrategy;
use corelane::queue::{mpmc, mpsc, spmc, spsc, Disconnected, PopError};
use futures_core::Stream;
use futures_util::StreamExt;

fn scaled(release: usize) -> usize {
    if cfg!(debug_assertions) {
        release / 10
    } else {
        release
    }
}

/// Generous limit for a whole test body; hitting it means a lost wake-up.
const WATCHDOG: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// A minimal executor
// ---------------------------------------------------------------------------

/// Wakes the thread blocked in [`block_on`].
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Release: pairs with the Acquire swap in `block_on`, so what the
        // waker's caller did before waking is visible to the next poll.
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Polls `fut` on this thread, parking between polls until woken.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let state = Arc::new(ThreadWaker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        // Acquire: pairs with the Release store in `wake_by_ref`.
        while !state.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

/// Counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// Runs `body` on a thread; fails if it does not finish within [`WATCHDOG`].
fn guarded(name: &str, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std_mpsc::channel();
    let worker = thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(WATCHDOG) {
        Ok(()) => worker.join().unwrap(),
        Err(std_mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().expect_err("ended without finishing"))
        }
        Err(std_mpsc::RecvTimeoutError::Timeout) => panic!("{name}: hung (lost wake-up?)"),
    }
}

// ---------------------------------------------------------------------------
// One async API over the four rings
// ---------------------------------------------------------------------------

trait Tx: Send + Sized + 'static {
    fn send(&mut self, v: u64) -> impl Future<Output = Result<(), Disconnected<u64>>> + Send + '_;
    /// Polls `send(v)` once with `waker`, then `cancel`s it: the poll's
    /// result and what `cancel` handed back.
    fn send_then_cancel(
        &mut self,
        v: u64,
        waker: &Waker,
    ) -> (Poll<Result<(), Disconnected<u64>>>, Option<u64>);
    fn push_blocking(&mut self, v: u64, s: WaitStrategy) -> Result<(), Disconnected<u64>>;
    fn try_clone(&self) -> Option<Self>;
}

trait Rx: Send + Sized + Unpin + Stream<Item = u64> + 'static {
    fn recv(&mut self) -> impl Future<Output = Result<u64, Disconnected>> + Send + '_;
    fn pop(&mut self) -> Result<u64, PopError>;
    fn pop_blocking(&mut self, s: WaitStrategy) -> Result<u64, Disconnected>;
    fn try_clone(&self) -> Option<Self>;
}

/// Test scaffolding: `Tx`/`Rx` for one ring module.
macro_rules! endpoints {
    ($m:ident, tx_clone = $tc:expr, rx_clone = $rc:expr) => {
        impl Tx for $m::Producer<u64> {
            fn send(
                &mut self,
                v: u64,
            ) -> impl Future<Output = Result<(), Disconnected<u64>>> + Send + '_ {
                $m::Producer::send(self, v)
            }
            fn send_then_cancel(
                &mut self,
                v: u64,
                waker: &Waker,
            ) -> (Poll<Result<(), Disconnected<u64>>>, Option<u64>) {
                let mut send = $m::Producer::send(self, v);
                let polled = poll_with(&mut send, waker);
                (polled, send.cancel())
            }
            fn push_blocking(&mut self, v: u64, s: WaitStrategy) -> Result<(), Disconnected<u64>> {
                $m::Producer::push_blocking(self, v, s)
            }
            fn try_clone(&self) -> Option<Self> {
                let f: fn(&Self) -> Option<Self> = $tc;
                f(self)
            }
        }

        impl Rx for $m::Consumer<u64> {
            fn recv(&mut self) -> impl Future<Output = Result<u64, Disconnected>> + Send + '_ {
                $m::Consumer::recv(self)
            }
            fn pop(&mut self) -> Result<u64, PopError> {
                $m::Consumer::pop(self)
            }
            fn pop_blocking(&mut self, s: WaitStrategy) -> Result<u64, Disconnected> {
                $m::Consumer::pop_blocking(self, s)
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

fn clones<E>(first: E, n: usize, clone: impl Fn(&E) -> Option<E>) -> Vec<E> {
    let mut all: Vec<E> = (1..n)
        .map(|_| clone(&first).expect("this side is not Clone"))
        .collect();
    all.push(first);
    all
}

// ---------------------------------------------------------------------------
// Checking what the consumers saw
// ---------------------------------------------------------------------------

fn tag(id: usize, seq: usize) -> u64 {
    ((id as u64) << 32) | seq as u64
}

/// Checks one consumer's items for per-producer FIFO; returns them.
fn fifo_per_producer(items: Vec<u64>) -> Vec<u64> {
    let mut last: Vec<Option<u64>> = Vec::new();
    for &v in &items {
        let (id, seq) = ((v >> 32) as usize, v & 0xFFFF_FFFF);
        if last.len() <= id {
            last.resize(id + 1, None);
        }
        assert!(
            last[id] < Some(seq),
            "producer {id}: {seq} after {:?}",
            last[id]
        );
        last[id] = Some(seq);
    }
    items
}

/// Every `(id, seq)` for `id < producers`, `seq < per` exactly once.
fn assert_exactly_once(all: Vec<u64>, producers: usize, per: usize) {
    let mut all = all;
    all.sort_unstable();
    let expected: Vec<u64> = (0..producers)
        .flat_map(|id| (0..per).map(move |s| tag(id, s)))
        .collect();
    assert_eq!(all.len(), expected.len(), "lost or duplicated items");
    assert!(all == expected, "lost or duplicated items");
}

// ---------------------------------------------------------------------------
// Many items through a tiny ring under tokio
// ---------------------------------------------------------------------------

async fn send_all<P: Tx>(mut tx: P, id: usize, per: usize) {
    for seq in 0..per {
        tx.send(tag(id, seq)).await.expect("consumers alive");
    }
}

async fn recv_all<C: Rx>(mut rx: C) -> Vec<u64> {
    let mut got = Vec::new();
    loop {
        match rx.recv().await {
            Ok(v) => got.push(v),
            Err(Disconnected(())) => return fifo_per_producer(got),
        }
    }
}

fn tokio_many<P: Tx, C: Rx>(rt: tokio::runtime::Runtime, (tx, rx): (P, C), p: usize, c: usize) {
    let per = scaled(200_000) / p;
    rt.block_on(async move {
        let consumers: Vec<_> = clones(rx, c, C::try_clone)
            .into_iter()
            .map(|rx| tokio::spawn(recv_all(rx)))
            .collect();
        let producers: Vec<_> = clones(tx, p, P::try_clone)
            .into_iter()
            .enumerate()
            .map(|(id, tx)| tokio::spawn(send_all(tx, id, per)))
            .collect();
        let work = async {
            for t in producers {
                t.await.unwrap();
            }
            let mut all = Vec::new();
            for t in consumers {
                all.extend(t.await.unwrap());
            }
            all
        };
        let all = tokio::time::timeout(WATCHDOG, work)
            .await
            .expect("hung (lost wake-up?)");
        assert_exactly_once(all, p, per);
    });
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn tokio_multi_thread_spsc() {
    tokio_many(multi_thread(), spsc::channel::<u64>(1), 1, 1);
}

#[test]
fn tokio_multi_thread_mpsc() {
    tokio_many(multi_thread(), mpsc::channel::<u64>(2), 3, 1);
}

#[test]
fn tokio_multi_thread_spmc() {
    tokio_many(multi_thread(), spmc::channel::<u64>(2), 1, 3);
}

#[test]
fn tokio_multi_thread_mpmc() {
    tokio_many(multi_thread(), mpmc::channel::<u64>(2), 3, 3);
}

#[test]
fn tokio_current_thread_all_rings() {
    tokio_many(current_thread(), spsc::channel::<u64>(1), 1, 1);
    tokio_many(current_thread(), mpsc::channel::<u64>(2), 2, 1);
    tokio_many(current_thread(), spmc::channel::<u64>(2), 1, 2);
    tokio_many(current_thread(), mpmc::channel::<u64>(2), 2, 2);
}

// ---------------------------------------------------------------------------
// The hand-written executor
// ---------------------------------------------------------------------------

/// Each producer and consumer is its own OS thread running `block_on`.
fn threads_block_on<P: Tx, C: Rx>((tx, rx): (P, C), p: usize, c: usize) {
    let per = scaled(100_000) / p;
    let consumers: Vec<_> = clones(rx, c, C::try_clone)
        .into_iter()
        .map(|rx| thread::spawn(move || block_on(recv_all(rx))))
        .collect();
    let producers: Vec<_> = clones(tx, p, P::try_clone)
        .into_iter()
        .enumerate()
        .map(|(id, tx)| thread::spawn(move || block_on(send_all(tx, id, per))))
        .collect();
    for t in producers {
        t.join().unwrap();
    }
    let all = consumers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_exactly_once(all, p, per);
}

#[test]
fn block_on_threads_all_rings() {
    guarded("block_on threads", || {
        threads_block_on(spsc::channel::<u64>(1), 1, 1);
        threads_block_on(mpsc::channel::<u64>(2), 2, 1);
        threads_block_on(spmc::channel::<u64>(2), 1, 2);
        threads_block_on(mpmc::channel::<u64>(2), 2, 2);
    });
}

/// Producer and consumer joined into one future on one thread: progress
/// needs every wake-up to reach the waker.
#[test]
fn block_on_one_thread_join() {
    guarded("block_on join", || {
        let per = scaled(100_000);
        let (tx, rx) = spsc::channel::<u64>(1);
        let (_, got) = block_on(futures_util::future::join(
            send_all(tx, 0, per),
            recv_all(rx),
        ));
        assert_exactly_once(got, 1, per);
        let (tx, rx) = mpmc::channel::<u64>(2);
        let (_, got) = block_on(futures_util::future::join(
            send_all(tx, 0, per),
            recv_all(rx),
        ));
        assert_exactly_once(got, 1, per);
    });
}

// ---------------------------------------------------------------------------
// Async on one side, blocking on the other
// ---------------------------------------------------------------------------

fn async_and_blocking<P: Tx, C: Rx>(make: impl Fn() -> (P, C)) {
    let per = scaled(100_000);
    // Async producer, parked consumer thread.
    let (tx, mut rx) = make();
    let consumer = thread::spawn(move || {
        let mut got = Vec::new();
        while let Ok(v) = rx.pop_blocking(WaitStrategy::Park) {
            got.push(v);
        }
        got
    });
    block_on(send_all(tx, 0, per));
    assert_exactly_once(fifo_per_producer(consumer.join().unwrap()), 1, per);
    // Parked producer thread, async consumer.
    let (mut tx, rx) = make();
    let producer = thread::spawn(move || {
        for seq in 0..per {
            tx.push_blocking(tag(0, seq), WaitStrategy::Park).unwrap();
        }
    });
    let got = block_on(recv_all(rx));
    producer.join().unwrap();
    assert_exactly_once(got, 1, per);
}

#[test]
fn async_side_meets_parked_side() {
    guarded("async and blocking", || {
        async_and_blocking(|| spsc::channel::<u64>(1));
        async_and_blocking(|| mpsc::channel::<u64>(2));
        async_and_blocking(|| spmc::channel::<u64>(2));
        async_and_blocking(|| mpmc::channel::<u64>(2));
    });
}

// ---------------------------------------------------------------------------
// Disconnect while awaiting
// ---------------------------------------------------------------------------

/// Every consumer awaits `recv` on an empty ring; producer handles drop one
/// by one: they all finish with `Disconnected`.
fn recv_disconnects<P: Tx, C: Rx>(rt: &tokio::runtime::Runtime, (tx, rx): (P, C), c: usize) {
    rt.block_on(async move {
        let waiting: Vec<_> = clones(rx, c, C::try_clone)
            .into_iter()
            .map(|mut rx| tokio::spawn(async move { rx.recv().await }))
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await; // let them register
        let spare = tx.try_clone();
        drop(tx);
        drop(spare);
        for w in waiting {
            let r = tokio::time::timeout(WATCHDOG, w).await.expect("hung");
            assert_eq!(r.unwrap(), Err(Disconnected(())));
        }
    });
}

/// Every producer awaits `send` on a full ring; consumers drop: they all
/// finish with `Disconnected`, value handed back.
fn send_disconnects<P: Tx, C: Rx>(rt: &tokio::runtime::Runtime, (mut tx, rx): (P, C), p: usize) {
    rt.block_on(async move {
        // Fill the ring: send until a send would wait.
        let mut n = 0;
        while let Some(r) = futures_util::FutureExt::now_or_never(tx.send(n)) {
            r.unwrap();
            n += 1;
        }
        let waiting: Vec<_> = clones(tx, p, P::try_clone)
            .into_iter()
            .enumerate()
            .map(|(id, mut tx)| tokio::spawn(async move { (id, tx.send(1000 + id as u64).await) }))
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await; // let them register
        let spare = rx.try_clone();
        drop(rx);
        drop(spare);
        for w in waiting {
            let (id, r) = tokio::time::timeout(WATCHDOG, w)
                .await
                .expect("hung")
                .unwrap();
            assert_eq!(
                r,
                Err(Disconnected(1000 + id as u64)),
                "the value handed back"
            );
        }
    });
}

#[test]
fn tokio_disconnect_while_awaiting() {
    for rt in [multi_thread(), current_thread()] {
        recv_disconnects(&rt, spsc::channel::<u64>(1), 1);
        recv_disconnects(&rt, mpsc::channel::<u64>(2), 1);
        recv_disconnects(&rt, spmc::channel::<u64>(2), 2);
        recv_disconnects(&rt, mpmc::channel::<u64>(2), 2);
        send_disconnects(&rt, spsc::channel::<u64>(1), 1);
        send_disconnects(&rt, mpsc::channel::<u64>(2), 2);
        send_disconnects(&rt, spmc::channel::<u64>(2), 1);
        send_disconnects(&rt, mpmc::channel::<u64>(2), 2);
    }
}

#[test]
fn block_on_disconnect_while_awaiting() {
    guarded("block_on disconnect", || {
        let (tx, mut rx) = mpmc::channel::<u64>(2);
        let waiter = thread::spawn(move || block_on(rx.recv()));
        thread::sleep(Duration::from_millis(10));
        drop(tx);
        assert_eq!(waiter.join().unwrap(), Err(Disconnected(())));

        let (mut tx, rx) = spsc::channel::<u64>(1);
        tx.push(1).unwrap();
        let waiter = thread::spawn(move || block_on(tx.send(2)));
        thread::sleep(Duration::from_millis(10));
        drop(rx);
        assert_eq!(waiter.join().unwrap(), Err(Disconnected(2)));
    });
}

// ---------------------------------------------------------------------------
// Cancellation and changing wakers
// ---------------------------------------------------------------------------

/// A `recv` polled to `Pending` and dropped, and a `recv` cancelled by a
/// tokio timeout, leave the ring fully working.
#[test]
fn cancelled_futures_leave_the_ring_working() {
    let noop = Waker::noop();
    let (mut tx, mut rx) = spsc::channel::<u64>(1);
    assert!(poll_with(&mut Box::pin(rx.recv()), noop).is_pending());
    tx.push(1).unwrap();
    assert!(poll_with(&mut Box::pin(tx.send(2)), noop).is_pending()); // value 2 dropped
    assert_eq!(block_on(rx.recv()), Ok(1));
    assert_eq!(rx.pop(), Err(PopError::Empty));

    current_thread().block_on(async {
        let (mut tx, mut rx) = mpmc::channel::<u64>(2);
        let r = tokio::time::timeout(Duration::from_millis(1), rx.recv()).await;
        assert!(r.is_err(), "nothing was sent, the recv must time out");
        tx.send(5).await.unwrap();
        assert_eq!(rx.recv().await, Ok(5));
    });
}

/// A task re-polled with a different waker (as after moving to another
/// executor thread) must be woken through the newest one.
#[test]
fn newest_waker_is_woken() {
    fn check<P: Tx, C: Rx>((mut tx, mut rx): (P, C)) {
        let (a, b) = (
            Arc::new(CountingWaker::default()),
            Arc::new(CountingWaker::default()),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let mut recv = Box::pin(rx.recv());
        assert!(poll_with(&mut recv, &wa).is_pending());
        assert!(poll_with(&mut recv, &wb).is_pending());
        let mut send = Box::pin(tx.send(9));
        assert_eq!(poll_with(&mut send, Waker::noop()), Poll::Ready(Ok(())));
        assert!(
            b.0.load(Ordering::SeqCst) >= 1,
            "the newest waker was not woken"
        );
        assert_eq!(poll_with(&mut recv, &wb), Poll::Ready(Ok(9)));
    }
    check(spsc::channel::<u64>(1));
    check(mpsc::channel::<u64>(2));
    check(spmc::channel::<u64>(2));
    check(mpmc::channel::<u64>(2));
}

/// Fills the ring with `send`s that complete at once; returns how many.
fn fill<P: Tx>(tx: &mut P) -> u64 {
    let mut n = 0;
    while let Some(r) = futures_util::FutureExt::now_or_never(tx.send(n)) {
        r.unwrap();
        n += 1;
    }
    n
}

/// A `send` pending on a full ring hands its value back through `cancel`
/// (and never pushes it); a completed one keeps nothing. The `select!`
/// shape: the losing branch's value is taken back, not dropped.
#[test]
fn cancelled_send_hands_the_value_back() {
    fn check<P: Tx, C: Rx>((mut tx, mut rx): (P, C)) {
        let n = fill(&mut tx);
        let (polled, back) = tx.send_then_cancel(99, Waker::noop());
        assert!(polled.is_pending(), "the ring is full");
        assert_eq!(back, Some(99), "cancel hands the value back");
        for i in 0..n {
            assert_eq!(rx.pop(), Ok(i));
        }
        assert_eq!(
            rx.pop(),
            Err(PopError::Empty),
            "the cancelled value never went in"
        );
        let (polled, back) = tx.send_then_cancel(7, Waker::noop());
        assert_eq!((polled, back), (Poll::Ready(Ok(())), None));
        assert_eq!(rx.pop(), Ok(7));
        drop(rx);
        let (polled, back) = tx.send_then_cancel(8, Waker::noop());
        assert_eq!((polled, back), (Poll::Ready(Err(Disconnected(8))), None));
    }
    check(spsc::channel::<u64>(1));
    check(mpsc::channel::<u64>(2));
    check(spmc::channel::<u64>(2));
    check(mpmc::channel::<u64>(2));

    // Under tokio, as the queue docs show it: the send loses a `select!`.
    current_thread().block_on(async {
        let (mut tx, _rx) = mpmc::channel::<String>(2);
        tx.push("a".into()).unwrap();
        tx.push("b".into()).unwrap();
        let mut send = tx.send("c".into());
        tokio::select! {
            _ = &mut send => panic!("nobody pops"),
            _ = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
        assert_eq!(send.cancel().as_deref(), Some("c"));
    });
}

/// Every consumer is a `Stream`: it yields what is in the ring, then ends
/// (`None`) once the ring is drained and every producer is gone, including
/// while it is waiting.
#[test]
fn streams_end_at_disconnection() {
    fn check<P: Tx, C: Rx>((mut tx, rx): (P, C)) {
        let n = fill(&mut tx);
        drop(tx);
        let got: Vec<u64> = block_on(rx.collect());
        assert_eq!(got, (0..n).collect::<Vec<_>>());
    }
    fn check_waiting<P: Tx, C: Rx>((mut tx, rx): (P, C)) {
        let reader = thread::spawn(move || block_on(rx.collect::<Vec<u64>>()));
        thread::sleep(Duration::from_millis(10)); // let it wait
        block_on(tx.send(1)).unwrap();
        thread::sleep(Duration::from_millis(10));
        drop(tx);
        assert_eq!(reader.join().unwrap(), [1]);
    }
    guarded("streams", || {
        check(spsc::channel::<u64>(4));
        check(mpsc::channel::<u64>(4));
        check(spmc::channel::<u64>(4));
        check(mpmc::channel::<u64>(4));
        check_waiting(spsc::channel::<u64>(4));
        check_waiting(mpsc::channel::<u64>(4));
        check_waiting(spmc::channel::<u64>(4));
        check_waiting(mpmc::channel::<u64>(4));
    });
}
