//! A `Bytes` fan-out with a lossy tap that clones: the user program of
//! issue 11 ("journal -> logic, a slow tap"), and what the tap may cost the
//! publisher (the overwrite of the one slot it is cloning from, nothing
//! else). No timing assertions: a broken protocol shows as a corrupted
//! or wrong item, a miscount, or a hang.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use corelane::queue::multicast::{Builder, LossyRecvError, RecvError};
use corelane::queue::wait::WaitStrategy;

/// Items in the fan-out test (fewer in debug builds).
const N: u64 = if cfg!(debug_assertions) {
    30_000
} else {
    300_000
};

/// Item `seq`: its sequence number, then a pattern that depends on it, of
/// a length that varies (so a mix-up of two items shows).
fn item(seq: u64) -> Bytes {
    let len = 8 + (seq % 57) as usize;
    let mut v = seq.to_le_bytes().to_vec();
    v.extend((8..len).map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8));
    Bytes::from(v)
}

/// Checks that `b` is item `seq`, intact.
fn check(b: &Bytes, seq: u64) {
    assert_eq!(b[..], item(seq)[..], "item {seq} corrupted or mixed up");
}

/// journal (gating, keeps up) -> logic (gating, after the journal), and a
/// slow lossy tap that clones each `Bytes` out: every item the tap reports
/// is intact (also long after the publisher overwrote its slot: the tap
/// keeps its last clones and re-checks them at the end), and what it read
/// plus what it was told it missed is everything published.
#[test]
fn bytes_fan_out_with_a_slow_cloning_tap() {
    let mut b = Builder::new(64, Bytes::new);
    let (journal, logic, tap) = (b.cursor(), b.cursor(), b.lossy_cursor());
    b.after(logic, &[journal]);
    let (mut tx, mut h) = b.build().unwrap();
    let (journal, logic, mut tap) = (h.cursor(journal), h.cursor(logic), h.lossy(tap));

    let gating = |mut c: corelane::queue::multicast::Cursor<Bytes>| {
        thread::spawn(move || {
            let mut next = 0;
            loop {
                match c.pop_batch_blocking(64, WaitStrategy::Backoff) {
                    Ok(batch) => {
                        for b in batch.iter() {
                            check(b, next);
                            next += 1;
                        }
                    }
                    Err(RecvError::Disconnected) => return next,
                    Err(e @ RecvError::UpstreamFailed(_)) => panic!("{e}"),
                }
            }
        })
    };
    let (journal, logic) = (gating(journal), gating(logic));
    let tap = thread::spawn(move || {
        let (mut read, mut missed, mut lags) = (0u64, 0u64, 0u64);
        let mut kept = VecDeque::new();
        loop {
            let seq = tap.sequence();
            match tap.pop_blocking(WaitStrategy::Park) {
                Ok(b) => {
                    check(&b, seq);
                    read += 1;
                    kept.push_back((seq, b));
                    if kept.len() > 256 {
                        kept.pop_front();
                    }
                    // Slow: a little work per item, and now and then a nap.
                    if read % 512 == 0 {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
                Err(LossyRecvError::Lagged(n)) => {
                    assert_eq!(tap.sequence(), seq + n);
                    missed += n;
                    lags += 1;
                }
                Err(LossyRecvError::Disconnected) => break,
                Err(e) => panic!("{e}"),
            }
        }
        for (seq, b) in &kept {
            check(b, *seq);
        }
        (read, missed, lags)
    });

    for seq in 0..N {
        tx.push_blocking(item(seq), WaitStrategy::Backoff).unwrap();
    }
    drop(tx);
    assert_eq!(journal.join().unwrap(), N);
    assert_eq!(logic.join().unwrap(), N);
    let (read, missed, lags) = tap.join().unwrap();
    assert_eq!(
        read + missed,
        N,
        "read {read}, missed {missed} in {lags} lags"
    );
    println!("tap: read {read}, missed {missed} in {lags} lags of {N}");
}

/// A payload whose `clone` can be held in the middle: it signals
/// `entered`, waits for `release`, then finishes, setting `done`.
struct Held {
    body: Bytes,
    gate: Option<Arc<Gate>>,
}

struct Gate {
    entered: Barrier,
    release: Barrier,
    done: AtomicBool,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Gate {
            entered: Barrier::new(2),
            release: Barrier::new(2),
            done: AtomicBool::new(false),
        })
    }
}

impl Clone for Held {
    fn clone(&self) -> Self {
        if let Some(g) = &self.gate {
            g.entered.wait();
            g.release.wait();
        }
        let body = self.body.clone();
        if let Some(g) = &self.gate {
            // Release: pairs with the Acquire load of the test, after the
            // publish whose overwrite waited for this clone.
            g.done.store(true, Ordering::Release);
        }
        Held { body, gate: None }
    }
}

fn held(seq: u64, gate: Option<Arc<Gate>>) -> Held {
    Held {
        body: item(seq),
        gate,
    }
}

/// Runs `f` on a thread and fails the test if it has not finished within a
/// minute (a hang here is the failure the test is about, not a slow
/// machine).
fn within_a_minute<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (done_tx, done_rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let r = f();
        done_tx.send(()).unwrap();
        r
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what}: still blocked after a minute"));
    t.join().unwrap()
}

/// The tap is parked in the middle of cloning item 0 (slot 0 of 4). The
/// publisher publishes items 1, 2 and 3 into the other slots without
/// waiting, and finishes (drops) while the clone is still held. Released,
/// the tap gets item 0 intact, then 1..3, then the end of the stream.
#[test]
fn the_publisher_finishes_while_the_tap_is_parked_mid_clone() {
    let mut b = Builder::new(4, || held(u64::MAX, None));
    let tap = b.lossy_cursor();
    let (mut tx, mut h) = b.build().unwrap();
    let mut tap = h.lossy(tap);
    let gate = Gate::new();
    tx.push(held(0, Some(gate.clone()))).unwrap();
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        loop {
            match tap.pop_blocking(WaitStrategy::Park) {
                Ok(v) => got.push(v.body),
                Err(LossyRecvError::Disconnected) => return got,
                Err(e) => panic!("{e}"),
            }
        }
    });
    gate.entered.wait(); // the tap is inside clone() of item 0
    within_a_minute("publishing into the other slots", move || {
        for seq in 1..4 {
            tx.push(held(seq, None)).unwrap();
        }
        drop(tx); // the publisher is done, the clone still held
    });
    // Acquire: pairs with the clone's Release store of `done` (a `true`
    // here would mean the clone finished before we let it go).
    assert!(!gate.done.load(Ordering::Acquire));
    gate.release.wait();
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 4);
    for (seq, b) in got.iter().enumerate() {
        check(b, seq as u64);
    }
}

/// The one thing a held clone does hold back: the overwrite of its own
/// slot. The publisher's fifth item goes to slot 0, which the tap is
/// cloning from; that publish returns only once the clone is done (checked
/// by the flag the clone sets last, not by timing). Then the tap, which got
/// item 0 intact, reads on and accounts for all five items.
#[test]
fn a_held_clone_holds_back_only_the_overwrite_of_its_slot() {
    let mut b = Builder::new(4, || held(u64::MAX, None));
    let tap = b.lossy_cursor();
    let (mut tx, mut h) = b.build().unwrap();
    let mut tap = h.lossy(tap);
    let gate = Gate::new();
    tx.push(held(0, Some(gate.clone()))).unwrap();
    let reader = thread::spawn(move || {
        let first = tap.pop_blocking(WaitStrategy::Park).unwrap().body;
        let (mut read, mut missed) = (1u64, 0u64);
        loop {
            let seq = tap.sequence();
            match tap.pop_blocking(WaitStrategy::Park) {
                Ok(v) => {
                    check(&v.body, seq);
                    read += 1;
                }
                Err(LossyRecvError::Lagged(n)) => missed += n,
                Err(LossyRecvError::Disconnected) => return (first, read + missed),
                Err(e) => panic!("{e}"),
            }
        }
    });
    gate.entered.wait();
    let done = Arc::new(AtomicBool::new(false));
    let g = gate.clone();
    let finished = done.clone();
    let publisher = thread::spawn(move || {
        for seq in 1..4 {
            tx.push(held(seq, None)).unwrap(); // slots 1..3: no wait
        }
        // Slot 0 again: waits for the clone of item 0.
        tx.push(held(4, None)).unwrap();
        // Acquire: pairs with the clone's Release store of `done`.
        assert!(
            g.done.load(Ordering::Acquire),
            "slot 0 was overwritten while its clone was in progress"
        );
        // Release: pairs with the main thread's Acquire load below.
        finished.store(true, Ordering::Release);
    });
    // Give the publisher time to reach slot 0 (the check above does not
    // depend on it; it only makes the wait likely to happen).
    thread::sleep(Duration::from_millis(50));
    // Acquire: pairs with the publisher's Release store of `done`.
    assert!(
        !done.load(Ordering::Acquire),
        "the publisher overtook a held clone"
    );
    gate.release.wait();
    publisher.join().unwrap();
    let (first, accounted) = reader.join().unwrap();
    check(&first, 0);
    assert_eq!(accounted, 5);
}
