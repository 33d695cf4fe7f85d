//! `*_timeout` and `*_until` on every ring, with every wait strategy:
//!
//! * a deadline already passed still tries once (it pushes into a ring
//!   with room, pops a waiting item);
//! * a timeout hands the value back (`PushTimeoutError::Timeout(v)`), and
//!   reports `Timeout` for an empty ring;
//! * a waiting `push_timeout` completes when a pop frees a slot, a waiting
//!   `pop_timeout` when a push arrives (the other side acts from another
//!   thread after a pause; the deadline is far away);
//! * a waiter learns of disconnection as `Disconnected`, not `Timeout`;
//! * a timeout too large to represent as a deadline waits without one.
//!
//! No assertion depends on timing beyond "returned `Timeout`" or "returned
//! `Ok`": the sleeps only make a parked waiter likely.

use std::thread;
use std::time::{Duration, Instant};

use corelane::queue::wait::WaitStrategy;
use corelane::queue::{PopTimeoutError, PushTimeoutError};

const STRATEGIES: [WaitStrategy; 4] = [
    WaitStrategy::BusySpin,
    WaitStrategy::Yield,
    WaitStrategy::Backoff,
    WaitStrategy::Park,
];

/// Long enough never to expire in a passing run.
const FAR: Duration = Duration::from_secs(60);
/// Long enough for a waiter to have started waiting (not relied on).
const PAUSE: Duration = Duration::from_millis(20);

/// One test module per ring: the calls have the same names and shapes on
/// every ring, so the bodies are the same (test scaffolding; the rings' API
/// is written out per ring).
macro_rules! deadline_tests {
    ($m:ident) => {
        mod $m {
            use super::*;
            use corelane::queue::$m::channel;

            /// Fills the ring; returns its capacity.
            fn fill(tx: &mut corelane::queue::$m::Producer<String>) -> usize {
                let mut n = 0;
                while tx.push(format!("{n}")).is_ok() {
                    n += 1;
                }
                n
            }

            #[test]
            fn a_deadline_in_the_past_still_tries_once() {
                for s in STRATEGIES {
                    let (mut tx, mut rx) = channel::<String>(4);
                    let past = Instant::now() - Duration::from_millis(5);
                    assert_eq!(tx.push_until("a".into(), past, s), Ok(()));
                    assert_eq!(tx.push_timeout("b".into(), Duration::ZERO, s), Ok(()));
                    assert_eq!(rx.pop_until(past, s).as_deref(), Ok("a"));
                    assert_eq!(rx.pop_timeout(Duration::ZERO, s).as_deref(), Ok("b"));
                    assert_eq!(rx.pop_until(past, s), Err(PopTimeoutError::Timeout));
                }
            }

            #[test]
            fn a_timeout_hands_the_value_back() {
                for s in STRATEGIES {
                    let (mut tx, _rx) = channel::<String>(2);
                    fill(&mut tx);
                    let wait = Duration::from_millis(2);
                    match tx.push_timeout("kept".into(), wait, s) {
                        Err(PushTimeoutError::Timeout(v)) => assert_eq!(v, "kept"),
                        other => panic!("{s:?}: {other:?}"),
                    }
                    let deadline = Instant::now() + wait;
                    let r = tx.push_until("kept too".into(), deadline, s);
                    assert_eq!(
                        r.map_err(PushTimeoutError::into_inner),
                        Err("kept too".into())
                    );
                    let (_tx, mut rx) = channel::<String>(2);
                    assert_eq!(rx.pop_timeout(wait, s), Err(PopTimeoutError::Timeout));
                }
            }

            #[test]
            fn push_timeout_wakes_when_space_appears() {
                for s in STRATEGIES {
                    let (mut tx, mut rx) = channel::<String>(2);
                    let cap = fill(&mut tx);
                    let popper = thread::spawn(move || {
                        thread::sleep(PAUSE);
                        let first = rx.pop().expect("the ring is full");
                        (first, rx)
                    });
                    assert_eq!(tx.push_timeout("late".into(), FAR, s), Ok(()), "{s:?}");
                    let (first, mut rx) = popper.join().unwrap();
                    assert_eq!(first, "0");
                    for i in 1..cap {
                        assert_eq!(rx.pop(), Ok(format!("{i}")));
                    }
                    assert_eq!(rx.pop().as_deref(), Ok("late"));
                }
            }

            #[test]
            fn pop_timeout_wakes_when_an_item_arrives() {
                for s in STRATEGIES {
                    let (mut tx, mut rx) = channel::<String>(2);
                    let pusher = thread::spawn(move || {
                        thread::sleep(PAUSE);
                        tx.push("x".into()).unwrap();
                        tx
                    });
                    let deadline = Instant::now() + FAR;
                    assert_eq!(rx.pop_until(deadline, s).as_deref(), Ok("x"), "{s:?}");
                    drop(pusher.join().unwrap());
                }
            }

            #[test]
            fn waiters_see_disconnection_not_timeout() {
                for s in STRATEGIES {
                    let (mut tx, rx) = channel::<String>(2);
                    fill(&mut tx);
                    let dropper = thread::spawn(move || {
                        thread::sleep(PAUSE);
                        drop(rx);
                    });
                    match tx.push_timeout("v".into(), FAR, s) {
                        Err(PushTimeoutError::Disconnected(v)) => assert_eq!(v, "v"),
                        other => panic!("{s:?}: {other:?}"),
                    }
                    dropper.join().unwrap();

                    let (tx, mut rx) = channel::<String>(2);
                    let dropper = thread::spawn(move || {
                        thread::sleep(PAUSE);
                        drop(tx);
                    });
                    assert_eq!(rx.pop_timeout(FAR, s), Err(PopTimeoutError::Disconnected));
                    dropper.join().unwrap();
                }
            }

            #[test]
            fn a_timeout_too_far_to_represent_waits_without_a_deadline() {
                let (mut tx, mut rx) = channel::<String>(2);
                let s = WaitStrategy::Park;
                assert_eq!(tx.push_timeout("a".into(), Duration::MAX, s), Ok(()));
                assert_eq!(rx.pop_timeout(Duration::MAX, s).as_deref(), Ok("a"));
            }
        }
    };
}

deadline_tests!(spsc);
deadline_tests!(mpsc);
deadline_tests!(spmc);
deadline_tests!(mpmc);
