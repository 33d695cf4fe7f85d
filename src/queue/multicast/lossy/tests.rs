use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use proptest::prelude::*;

use super::*;
use crate::queue::multicast::{broadcast, Builder};

/// Both modes on one ring: the same items, the same lag reports.
#[test]
fn cloned_and_copied_agree() {
    let mut b = Builder::new(4, || 0u64);
    let (a, c) = (b.lossy_cursor(), b.lossy_cursor());
    let (mut tx, mut h) = b.build().unwrap();
    let (mut a, mut c) = (h.lossy(a), h.lossy(c).copied());
    for i in 0..10 {
        tx.push(i).unwrap();
    }
    assert_eq!(
        (a.pop(), c.pop()),
        (
            Err(LossyTryRecvError::Lagged(6)),
            Err(LossyTryRecvError::Lagged(6))
        )
    );
    for i in 6..10 {
        assert_eq!((a.pop(), c.pop()), (Ok(i), Ok(i)));
    }
    assert_eq!(
        (a.pop(), c.pop()),
        (Err(LossyTryRecvError::Empty), Err(LossyTryRecvError::Empty))
    );
    drop(tx);
    assert_eq!(a.pop(), Err(LossyTryRecvError::Disconnected));
    assert_eq!(c.pop(), Err(LossyTryRecvError::Disconnected));
}

/// A payload whose `clone` panics while `PANIC` is set.
struct Fragile(u32);

static PANIC: AtomicBool = AtomicBool::new(false);

impl Clone for Fragile {
    fn clone(&self) -> Self {
        assert!(!PANIC.load(SeqCst), "clone refused");
        Fragile(self.0)
    }
}

/// A `clone()` that panics withdraws its announcement (the publisher can
/// overwrite the slot) and leaves the cursor where it was.
#[test]
fn a_panicking_clone_withdraws_its_announcement() {
    let (mut tx, _cs) = broadcast(2, || Fragile(0), 0);
    let mut l = tx.joiner().subscribe_lossy();
    tx.push(Fragile(7)).unwrap();
    PANIC.store(true, SeqCst);
    let r = catch_unwind(AssertUnwindSafe(|| l.pop()));
    PANIC.store(false, SeqCst);
    assert!(r.is_err());
    assert_eq!(l.sub.ring.clones(0).load(SeqCst), 0);
    assert_eq!(l.sequence(), 0);
    assert_eq!(l.pop().unwrap().0, 7);
    // A full lap over the slot the clone panicked in: would spin for ever
    // on a leaked announcement.
    for i in 0..2 {
        tx.push(Fragile(i)).unwrap();
    }
    assert_eq!(l.pop().unwrap().0, 0);
}

/// `copied` is counted while the cursor lives, and only then.
#[test]
fn copied_taps_are_counted() {
    let (tx, _cs) = broadcast(2, || 0u8, 1);
    let a = tx.joiner().subscribe_lossy();
    let ring = a.sub.ring.clone();
    let b = tx.joiner().subscribe_lossy().copied();
    assert_eq!(ring.copied_taps(), 1);
    assert_eq!(ring.registry.lock().lossy_count(), 2);
    drop(b);
    assert_eq!(ring.copied_taps(), 0);
    assert_eq!(ring.registry.lock().lossy_count(), 1);
    drop(a.copied());
    assert_eq!(ring.copied_taps(), 0);
    assert_eq!(ring.registry.lock().lossy_count(), 0);
}

#[test]
fn inspectors() {
    let (mut tx, _cs) = broadcast(2, String::new, 0);
    let mut l = tx.joiner().subscribe_lossy();
    assert!((l.is_empty(), l.len(), l.capacity()) == (true, 0, 2));
    for s in ["a", "b", "c"] {
        tx.push(s.into()).unwrap();
    }
    assert_eq!(l.len(), 3, "lapped: more than the capacity");
    assert_eq!(l.pop(), Err(LossyTryRecvError::Lagged(1)));
    assert_eq!(l.len(), 2);
    assert!(!l.is_disconnected());
    drop(tx);
    assert!(l.is_disconnected());
    assert!(format!("{l:?}").contains("Cloned"));
    let c = broadcast(2, || 0u8, 1).0.joiner().subscribe_lossy();
    assert!(format!("{:?}", c.copied()).contains("Copied"));
}

#[test]
fn waits_report_lags_and_the_end() {
    use crate::queue::wait::WaitStrategy::Park;
    let (mut tx, _cs) = broadcast(2, || 0u8, 0);
    let mut l = tx.joiner().subscribe_lossy();
    for i in 0..3 {
        tx.push(i).unwrap();
    }
    assert_eq!(l.pop_blocking(Park), Err(LossyRecvError::Lagged(1)));
    let d = Duration::from_millis(1);
    assert_eq!(l.pop_timeout(d, Park), Ok(1));
    assert_eq!(l.pop_until(Instant::now(), Park), Ok(2));
    assert_eq!(l.pop_timeout(d, Park), Err(LossyRecvTimeoutError::Timeout));
    // A timeout too long to represent waits without a deadline.
    let t = std::thread::spawn(move || l.pop_timeout(Duration::MAX, Park));
    drop(tx);
    assert_eq!(t.join().unwrap(), Err(LossyRecvTimeoutError::Disconnected));
}

#[test]
fn recv_and_stream() {
    use futures_util::StreamExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut tx, _cs) = broadcast(4, String::new, 0);
        let mut l = tx.joiner().subscribe_lossy();
        let t = tokio::spawn(async move {
            let first = l.recv().await;
            (first, l.collect::<Vec<_>>().await)
        });
        tokio::task::yield_now().await;
        for i in 0..7 {
            tx.push(i.to_string()).unwrap();
        }
        drop(tx);
        let (first, rest) = t.await.unwrap();
        let strings = |v: &[&str]| v.iter().map(|s| Ok(s.to_string())).collect::<Vec<_>>();
        match first {
            // The task ran before the publishes: woken by the first.
            Ok(s) => {
                assert_eq!(s, "0");
                let mut want = vec![Err(Lagged(2))];
                want.extend(strings(&["3", "4", "5", "6"]));
                assert_eq!(rest, want);
            }
            Err(e) => {
                assert_eq!(e, LossyRecvError::Lagged(3));
                assert_eq!(rest, strings(&["3", "4", "5", "6"]));
            }
        }
    });
}

/// One step of the single-threaded model test.
#[derive(Debug, Clone)]
enum Op {
    Publish(u8),
    Pop,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..6).prop_map(Op::Publish),
        Just(Op::Pop),
        Just(Op::Pop),
        Just(Op::Close),
    ]
}

/// What a pop returns, by the ground rules, on one thread: the oldest
/// intact item is `published - cap`.
fn model_pop(
    published: u64,
    pos: &mut u64,
    cap: u64,
    closed: bool,
) -> Result<u64, LossyTryRecvError> {
    if published - *pos > cap {
        let missed = published - cap - *pos;
        *pos += missed;
        Err(LossyTryRecvError::Lagged(missed))
    } else if *pos < published {
        *pos += 1;
        Ok(*pos - 1)
    } else if closed {
        Err(LossyTryRecvError::Disconnected)
    } else {
        Err(LossyTryRecvError::Empty)
    }
}

proptest! {
    /// Both modes against the model: a cloning tap on a `Bytes` ring and a
    /// copying tap on a `u64` ring, fed the same items; lossy-only rings,
    /// so the publishers never wait.
    #[test]
    fn pops_follow_the_model(ops in proptest::collection::vec(op(), 1..60), cap in 0u32..3) {
        let cap = 1u64 << cap;
        let mut b = Builder::new(cap as usize, bytes::Bytes::new);
        let l = b.lossy_cursor();
        let (tx, mut h) = b.build().unwrap();
        let mut cloned = h.lossy(l);
        let (tx2, _) = broadcast(cap as usize, || 0u64, 0);
        let mut copied = tx2.joiner().subscribe_lossy().copied();
        let mut txs = Some((tx, tx2));
        let (mut published, mut pos) = (0u64, 0u64);
        for op in ops {
            match op {
                Op::Publish(n) => if let Some((tx, tx2)) = txs.as_mut() {
                    for _ in 0..n {
                        let body = bytes::Bytes::from(published.to_le_bytes().to_vec());
                        tx.push(body).unwrap();
                        tx2.push(published).unwrap();
                        published += 1;
                    }
                },
                Op::Pop => {
                    let want = model_pop(published, &mut pos, cap, txs.is_none());
                    let got = cloned.pop().map(|b| u64::from_le_bytes(b[..].try_into().unwrap()));
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(copied.pop(), want);
                }
                Op::Close => txs = None,
            }
        }
    }
}
