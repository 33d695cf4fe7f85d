use super::*;
use crate::queue::wait::WaitStrategy;
use crate::queue::PushError;
use std::future::Future;

#[test]
fn gating_blocks_until_release() {
    let (mut tx, mut cs) = broadcast(4, || 0usize, 2);
    for i in 0..4 {
        assert_eq!(tx.push(i), Ok(i as u64));
    }
    assert_eq!(tx.push(9), Err(PushError::Full(9)));
    cs[0].pop_batch(4).unwrap().iter().for_each(|_| {});
    assert_eq!(tx.push(9), Err(PushError::Full(9)), "cs[1] still gates");
    drop(cs[1].pop_batch(2).unwrap());
    assert_eq!(tx.push(4), Ok(4));
    assert_eq!(tx.push(5), Ok(5));
    assert!(tx.push(6).is_err());
    let b = cs[1].pop_batch(8).unwrap();
    assert_eq!(b.iter().copied().collect::<Vec<_>>(), [2, 3, 4, 5]);
}

#[test]
fn dependency_order_and_diamond() {
    let mut b = Builder::new(8, || 0u32);
    let a = b.cursor();
    let c = b.cursor();
    let d = b.cursor();
    b.after(d, &[a, c]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut a, mut c, mut d) = (h.cursor(a), h.cursor(c), h.cursor(d));
    tx.push_batch(3, |i, v| *v = i as u32).unwrap();
    assert_eq!(d.pop().unwrap_err(), TryRecvError::Empty);
    drop(a.pop_batch(2).unwrap());
    assert_eq!(d.pop().unwrap_err(), TryRecvError::Empty);
    drop(c.pop_batch(3).unwrap());
    assert_eq!(
        d.pop_batch(8).unwrap().len(),
        2,
        "d stops at the slower of a and c"
    );
}

#[test]
fn only_leaves_gate() {
    let mut b = Builder::new(2, || 0u8);
    let a = b.cursor();
    let z = b.cursor();
    b.after(z, &[a]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut a, mut z) = (h.cursor(a), h.cursor(z));
    tx.push(1).unwrap();
    tx.push(2).unwrap();
    drop(a.pop_batch(2).unwrap());
    assert!(tx.push(3).is_err(), "z has not released");
    drop(z.pop_batch(1).unwrap());
    assert!(tx.push(3).is_ok());
}

#[test]
fn workers_share_items_exactly_once() {
    let mut b = Builder::new(16, || 0u32);
    let g = b.group(3);
    let after = b.cursor();
    b.after(after, &[g]);
    let (mut tx, mut h) = b.build().unwrap();
    let mut ws = h.workers(g);
    let mut after = h.cursor(after);
    tx.push_batch(10, |i, v| *v = i as u32).unwrap();
    let mut seen = vec![];
    let (w0, ws) = ws.split_at_mut(1);
    let first = w0[0].pop_batch(4).unwrap();
    seen.extend(first.iter().copied());
    // The group has not released 0..4 while w0 holds them.
    let second = ws[0].pop_batch(4).unwrap();
    seen.extend(second.iter().copied());
    drop(second);
    assert_eq!(after.pop().unwrap_err(), TryRecvError::Empty);
    drop(first);
    assert_eq!(after.pop_batch(16).unwrap().len(), 8);
    while let Ok(b) = ws[1].pop_batch(1) {
        seen.extend(b.iter().copied());
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
}

#[test]
fn idle_worker_does_not_hold_the_group() {
    let mut b = Builder::new(2, || 0u32);
    let g = b.group(2);
    let (mut tx, mut h) = b.build().unwrap();
    let mut ws = h.workers(g);
    assert!(ws[1].pop().is_err()); // w1 looked, found nothing, idles
    for i in 0..10 {
        tx.push(i).unwrap();
        assert_eq!(*ws[0].pop().unwrap(), i);
    }
}

#[test]
fn join_starts_at_published_and_leave_stops_gating() {
    let (mut tx, mut cs) = broadcast(2, || 0u32, 1);
    tx.push(1).unwrap();
    let joiner = tx.joiner();
    let mut late = joiner.subscribe();
    assert_eq!(late.sequence(), 1);
    tx.push(2).unwrap();
    assert_eq!(*late.pop().unwrap(), 2);
    assert!(tx.push(3).is_err());
    drop(cs.pop()); // the slow one leaves
    assert!(tx.push(3).is_ok());
    assert_eq!(tx.subscribers(), 1);
}

#[test]
fn dependents_rewire_when_upstream_leaves() {
    let mut b = Builder::new(4, || 0u32);
    let a = b.cursor();
    let m = b.cursor();
    let z = b.cursor();
    b.after(m, &[Dep::rewire(a)]).after(z, &[Dep::rewire(m)]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut a, m, mut z) = (h.cursor(a), h.cursor(m), h.cursor(z));
    tx.push(1).unwrap();
    drop(a.pop().unwrap());
    assert!(z.pop().is_err());
    drop(m);
    assert_eq!(*z.pop().unwrap(), 1, "z now runs after a");
    drop(a);
    tx.push(2).unwrap();
    assert_eq!(*z.pop().unwrap(), 2, "z is now a root");
}

/// The default policy: a dependent stops where its upstream left, and the
/// failure travels down the chain.
#[test]
fn dependents_fail_where_upstream_leaves() {
    let mut b = Builder::new(4, || 0u32);
    let a = b.cursor();
    let m = b.cursor();
    let z = b.cursor();
    b.after(m, &[a]).after(z, &[m]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut a, mut m, mut z) = (h.cursor(a), h.cursor(m), h.cursor(z));
    let m_id = m.id();
    for i in 0..3 {
        tx.push(i).unwrap();
    }
    drop(a.pop_batch(3).unwrap());
    drop(m.pop().unwrap()); // m processed item 0 ...
    drop(m); // ... and left before item 1
    assert_eq!(*z.pop().unwrap(), 0);
    let failed = UpstreamFailed {
        node: m_id.into(),
        at: 1,
    };
    assert_eq!(z.pop().unwrap_err(), TryRecvError::UpstreamFailed(failed));
    assert_eq!(z.sequence(), 1, "z stopped where m did");
    // It stays stopped, and fails at that point itself.
    let mut after_z = h.joiner().subscribe_after(&[z.id()]).unwrap();
    assert_eq!(z.pop().unwrap_err(), TryRecvError::UpstreamFailed(failed));
    assert!(matches!(
        after_z.pop().unwrap_err(),
        TryRecvError::UpstreamFailed(f) if f.node == z.id()
    ));
    // A node that reads to the end of the stream before leaving has not failed.
    drop(tx);
    assert_eq!(a.pop().unwrap_err(), TryRecvError::Disconnected);
}

#[test]
fn subscribe_after_a_group_and_errors() {
    let mut b = Builder::new(4, || 0u32);
    let g = b.group(1);
    let l = b.lossy_cursor();
    let (mut tx, mut h) = b.build().unwrap();
    let mut w = h.workers(g).pop().unwrap();
    let j = h.joiner();
    let mut after = j.subscribe_after(&[g]).unwrap();
    assert_eq!(
        j.subscribe_after(&[NodeId::from(l)]).unwrap_err(),
        GraphError::LossyEdge(l)
    );
    tx.push(5).unwrap();
    assert!(after.pop().is_err());
    drop(w.pop().unwrap());
    assert_eq!(*after.pop().unwrap(), 5);
    drop(w);
    assert_eq!(
        j.subscribe_after(&[g]).unwrap_err(),
        GraphError::UnknownNode(g.into())
    );
}

#[test]
fn build_errors() {
    let mut b = Builder::new(4, || 0u8);
    let (x, y, z) = (b.cursor(), b.cursor(), b.cursor());
    b.after(y, &[x]).after(z, &[y]).after(y, &[z]);
    match b.build() {
        Err(GraphError::Cycle(nodes)) => assert_eq!(nodes, vec![y, z]),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let mut b = Builder::new(4, || 0u8);
    let x = b.cursor();
    b.after(x, &[x]);
    assert!(matches!(b.build(), Err(GraphError::Cycle(_))));
    let mut b = Builder::new(4, || 0u8);
    let (x, l) = (b.cursor(), b.lossy_cursor());
    b.after(x, &[NodeId::from(l)]);
    assert_eq!(b.build().unwrap_err(), GraphError::LossyEdge(l));
    let mut other = Builder::new(4, || 0u8);
    let foreign = {
        other.cursor();
        other.cursor()
    };
    let mut b = Builder::new(4, || 0u8);
    let x = b.cursor();
    b.after(x, &[foreign]);
    assert_eq!(
        b.build().unwrap_err(),
        GraphError::UnknownNode(foreign.into())
    );
}

#[test]
fn disconnection_both_ways() {
    let (mut tx, cs) = broadcast(4, || 0u8, 2);
    drop(cs);
    assert_eq!(tx.push(1), Err(PushError::Disconnected(1)));
    let mut c = tx.joiner().subscribe();
    assert_eq!(tx.push(2), Ok(0));
    drop(tx);
    assert_eq!(*c.pop().unwrap(), 2);
    assert_eq!(c.pop().unwrap_err(), TryRecvError::Disconnected);
    let mut late = c.joiner().subscribe();
    assert_eq!(late.pop().unwrap_err(), TryRecvError::Disconnected);
}

#[test]
fn multi_publishers_close_after_the_last_drop() {
    let mut b = Builder::new(8, || 0u32);
    let c = b.cursor();
    let (mut tx, mut h) = b.build_multi().unwrap();
    let mut c = h.cursor(c);
    let mut tx2 = tx.clone();
    tx.push(1).unwrap();
    tx2.push(2).unwrap();
    tx2.push_batch(2, |i, v| *v = 10 + i as u32).unwrap();
    drop(tx);
    assert_eq!(
        c.pop_batch(8).unwrap().iter().copied().collect::<Vec<_>>(),
        [1, 2, 10, 11]
    );
    assert_eq!(c.pop().unwrap_err(), TryRecvError::Empty);
    drop(tx2);
    assert_eq!(c.pop().unwrap_err(), TryRecvError::Disconnected);
}

#[test]
fn multi_publisher_panic_still_publishes_the_slot() {
    let mut b = Builder::new(4, || 0u32);
    let c = b.cursor();
    let (mut tx, mut h) = b.build_multi().unwrap();
    let mut c = h.cursor(c);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = tx.push_with(|v| {
            *v = 7;
            panic!("boom");
        });
    }));
    assert!(r.is_err());
    tx.push(8).unwrap();
    assert_eq!(
        c.pop_batch(4).unwrap().iter().copied().collect::<Vec<_>>(),
        [7, 8]
    );
}

#[test]
fn lossy_reports_lag_and_recovers() {
    let mut b = Builder::new(4, || 0u64);
    let l = b.lossy_cursor();
    let c = b.cursor();
    let (mut tx, mut h) = b.build().unwrap();
    let (mut l, mut c) = (h.lossy(l), h.cursor(c));
    for i in 0..4 {
        tx.push(i).unwrap();
    }
    assert_eq!(l.pop(), Ok(0));
    assert!(
        tx.push(4).is_err(),
        "the gating cursor still holds the ring"
    );
    drop(c.pop_batch(4).unwrap());
    for i in 4..8 {
        tx.push(i).unwrap();
    }
    assert_eq!(l.pop(), Err(LossyTryRecvError::Lagged(3)));
    assert_eq!(l.pop(), Ok(4));
    drop(tx);
    for i in 5..8 {
        assert_eq!(l.pop(), Ok(i));
    }
    assert_eq!(l.pop(), Err(LossyTryRecvError::Disconnected));
}

#[test]
fn slots_drop_once_with_the_ring() {
    use std::sync::atomic::{AtomicUsize as Count, Ordering::SeqCst};
    static DROPS: Count = Count::new(0);
    struct D;
    impl Drop for D {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }
    let (mut tx, cs) = broadcast(4, || D, 1);
    tx.push(D).unwrap(); // the factory's D in slot 0 drops now
    assert_eq!(DROPS.load(SeqCst), 1);
    drop((tx, cs));
    assert_eq!(DROPS.load(SeqCst), 5);
}

#[test]
fn wait_strategies_deliver_everything() {
    for strategy in [
        WaitStrategy::BusySpin,
        WaitStrategy::Yield,
        WaitStrategy::Backoff,
        WaitStrategy::Park,
    ] {
        let mut b = Builder::new(4, || 0u64);
        let a = b.cursor();
        let z = b.cursor();
        b.after(z, &[a]);
        let (mut tx, mut h) = b.build().unwrap();
        let (mut a, mut z) = (h.cursor(a), h.cursor(z));
        let ta = std::thread::spawn(move || {
            let mut n = 0u64;
            while let Ok(b) = a.pop_batch_blocking(3, strategy) {
                n += b.len() as u64;
            }
            n
        });
        let tz = std::thread::spawn(move || {
            let mut sum = 0u64;
            while let Ok(i) = z.pop_blocking(strategy) {
                sum += *i;
            }
            sum
        });
        for i in 0..500 {
            tx.push_blocking(i, strategy).unwrap();
        }
        drop(tx);
        assert_eq!(ta.join().unwrap(), 500);
        assert_eq!(tz.join().unwrap(), 499 * 500 / 2);
    }
}

#[test]
fn a_group_joins_at_run_time_after_a_cursor() {
    let (mut tx, mut cs) = broadcast(4, || 0u32, 1);
    let j = tx.joiner();
    assert!(matches!(
        j.subscribe_group(0),
        Err(GraphError::EmptyGroup(_))
    ));
    assert_eq!(j.subscribers(), 1, "a refused group joins nothing");
    tx.push(1).unwrap(); // before the join: not the group's
    let mut ws = j.subscribe_group_after(2, &[cs[0].id()]).unwrap();
    let ws_id = ws[0].id();
    assert_eq!(j.subscribers(), 3);
    // The group starts where cs[0] stands: item 1 is still unread there.
    assert!(ws[0].pop().is_err(), "not before the cursor released it");
    drop(cs[0].pop_batch(1).unwrap());
    assert_eq!(*ws[1].pop().unwrap(), 1);
    for i in 2..6 {
        tx.push(i).unwrap();
    }
    drop(cs[0].pop_batch(8).unwrap());
    assert!(tx.push(9).is_err(), "the group gates the producer");
    let mut got: Vec<u32> = ws[0].pop_batch(2).unwrap().iter().copied().collect();
    got.extend(ws[1].pop_batch(8).unwrap().iter().copied());
    assert!(ws[0].pop().is_err());
    assert_eq!(got, [2, 3, 4, 5]);
    assert_eq!(tx.push(6), Ok(5));
    drop(ws);
    assert_eq!(j.subscribers(), 1);
    let unknown = NodeId {
        index: 7,
        ..NodeId::from(ws_id)
    };
    assert_eq!(
        j.subscribe_group_after(1, &[unknown]).unwrap_err(),
        GraphError::UnknownNode(unknown)
    );
}

/// A cursor joining after a worker group must not let the producer reuse a
/// slot a worker still holds (it replaces the group as the leaf that gates
/// the producer; the group may hold items below its claim cursor).
#[test]
fn joining_after_a_group_keeps_its_held_items_safe() {
    let mut b = Builder::new(4, String::new);
    let g = b.group(1);
    let (mut tx, mut h) = b.build().unwrap();
    let mut w = h.workers(g).pop().unwrap();
    let j = h.joiner();
    for i in 0..4 {
        tx.push(i.to_string()).unwrap();
    }
    let held = w.pop_batch(4).unwrap(); // holds 0..4, claim is 4
    let mut late = j.subscribe_after(&[g]).unwrap();
    assert_eq!(late.sequence(), 4, "starts after what the group claimed");
    assert!(
        matches!(tx.push("x".into()), Err(PushError::Full(_))),
        "slot 0 is still held by the worker"
    );
    assert_eq!(held.get(0).map(String::as_str), Some("0"));
    drop(held);
    tx.push("4".into()).unwrap();
    assert!(late.pop().is_err(), "not before the group claimed it");
    drop(w.pop().unwrap());
    assert_eq!(&*late.pop().unwrap(), "4");
    // The same for a group joining after the group.
    let mut b = Builder::new(4, String::new);
    let g = b.group(1);
    let (mut tx, mut h) = b.build().unwrap();
    let mut w = h.workers(g).pop().unwrap();
    for i in 0..4 {
        tx.push(i.to_string()).unwrap();
    }
    let held = w.pop_batch(4).unwrap();
    let mut w2 = h
        .joiner()
        .subscribe_group_after(1, &[g])
        .unwrap()
        .pop()
        .unwrap();
    assert!(matches!(tx.push("x".into()), Err(PushError::Full(_))));
    assert_eq!(held.get(3).map(String::as_str), Some("3"));
    drop(held);
    tx.push("4".into()).unwrap();
    drop(w.pop().unwrap());
    assert_eq!(&*w2.pop().unwrap(), "4");
    tx.push("5".into()).unwrap();
}

/// `max` beyond the ring (even `usize::MAX`) means "as many as there are".
#[test]
fn workers_take_any_max() {
    let mut b = Builder::new(8, || 0u32);
    let g = b.group(2);
    let (mut tx, mut h) = b.build().unwrap();
    let mut ws = h.workers(g);
    tx.push_batch(5, |i, v| *v = i as u32).unwrap();
    assert_eq!(ws[0].pop_batch(usize::MAX).unwrap().len(), 5);
    tx.push(9).unwrap();
    assert_eq!(ws[1].process(usize::MAX, |_, _, _| {}), Ok(1));
}

/// Once every subscriber is gone, publishing keeps failing (it used to
/// succeed again up to the room cached before).
#[test]
fn disconnected_publishing_stays_disconnected() {
    let (mut tx, cs) = broadcast(8, || 0u32, 1);
    tx.push(0).unwrap();
    drop(cs);
    for i in 1..10 {
        assert_eq!(tx.push(i), Err(PushError::Disconnected(i)));
    }
    let mut c = tx.joiner().subscribe();
    assert_eq!(tx.push(7), Ok(1), "a join makes it work again");
    assert_eq!(*c.pop().unwrap(), 7);
}

#[test]
fn empty_batch_reports_the_position() {
    let mut b = Builder::new(8, || 0u32);
    let _c = b.cursor();
    let (mut tx, _h) = b.build_multi().unwrap();
    tx.push(1).unwrap();
    tx.push(2).unwrap();
    assert_eq!(tx.push_batch(0, |_, _| {}).ok(), Some(2));
}

/// A many-producer write that panics still publishes its slot and wakes a
/// parked reader (the unwind skipped the wake-up).
#[test]
fn a_panicking_multi_publish_wakes_parked_readers() {
    let mut b = Builder::new(4, || 0u32);
    let c = b.cursor();
    let (mut tx, mut h) = b.build_multi().unwrap();
    let mut c = h.cursor(c);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let v = *c.pop_blocking(WaitStrategy::Park).unwrap();
        done_tx.send(v).unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(50)); // let it park
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = tx.push_with(|v| {
            *v = 5;
            panic!("fill failed");
        });
    }));
    assert!(r.is_err());
    let got = done_rx.recv_timeout(std::time::Duration::from_secs(10));
    assert_eq!(got, Ok(5), "the parked reader was not woken");
    reader.join().unwrap();
}

/// The deadline calls try once with a past deadline, hand the value (or
/// closure) back on timeout, and report disconnection rather than time out.
#[test]
fn deadline_calls_try_once_and_hand_back() {
    use std::time::{Duration, Instant};
    let past = Instant::now();
    let (mut tx, mut cs) = broadcast(1, || 0u32, 1);
    assert_eq!(tx.push_until(1, past, WaitStrategy::Park), Ok(0));
    let r = tx.push_with_until(|v| *v = 2, past, WaitStrategy::Park);
    assert!(matches!(r, Err(crate::queue::PushTimeoutError::Timeout(_))));
    let r = tx.push_batch_timeout(1, |_, v| *v = 3, Duration::ZERO, WaitStrategy::Yield);
    assert!(r.is_err_and(|e| !e.is_disconnected()));
    assert_eq!(*cs[0].pop_until(past, WaitStrategy::Park).unwrap(), 1);
    assert_eq!(
        cs[0]
            .pop_batch_until(4, past, WaitStrategy::Park)
            .unwrap_err(),
        RecvTimeoutError::Timeout
    );
    drop(tx);
    assert_eq!(
        cs[0]
            .pop_timeout(Duration::from_secs(60), WaitStrategy::Park)
            .unwrap_err(),
        RecvTimeoutError::Disconnected
    );
    let (mut tx, cs) = broadcast(1, || 0u32, 1);
    drop(cs);
    let r = tx.push_timeout(5, Duration::from_secs(60), WaitStrategy::Park);
    assert_eq!(r, Err(crate::queue::PushTimeoutError::Disconnected(5)));
}

/// A pending `send` gives its value back with `cancel`; `poll_ready` of a
/// multi-producer publisher sees room come and go, and disconnection.
#[test]
fn send_cancel_and_poll_ready_with_many_publishers() {
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let mut b = Builder::new(1, String::new);
    let c = b.cursor();
    let (mut tx, mut h) = b.build_multi().unwrap();
    let mut c = h.cursor(c);
    let mut tx2 = tx.clone();
    assert_eq!(tx2.poll_ready(&mut cx), Poll::Ready(Ok(())));
    tx.push("a".into()).unwrap();
    assert!(tx2.poll_ready(&mut cx).is_pending());
    let mut send = tx2.send("b".into());
    assert!(std::pin::Pin::new(&mut send).poll(&mut cx).is_pending());
    assert_eq!(send.cancel().as_deref(), Some("b"));
    drop(send);
    assert_eq!(&*c.pop().unwrap(), "a");
    assert_eq!(tx2.poll_ready(&mut cx), Poll::Ready(Ok(())));
    drop(c);
    assert_eq!(
        tx2.poll_ready(&mut cx),
        Poll::Ready(Err(crate::queue::Disconnected(())))
    );
    assert!(tx.is_disconnected() && tx2.is_disconnected());
}

/// The inspectors agree with what the calls then do, across a graph with
/// a dependent cursor and a group.
#[test]
fn inspectors_across_a_graph() {
    let mut b = Builder::new(4, || 0u32);
    let (root, dep, g) = (b.cursor(), b.cursor(), b.group(2));
    b.after(dep, &[root]).after(g, &[root]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut root, dep) = (h.cursor(root), h.cursor(dep));
    let mut ws = h.workers(g);
    assert!(tx.is_empty() && !tx.is_full() && !tx.is_disconnected());
    tx.push_batch(3, |i, v| *v = i as u32).unwrap();
    assert_eq!((tx.len(), tx.free_len(), tx.sequence()), (3, 1, 3));
    assert_eq!((root.len(), dep.len(), ws[0].len()), (3, 0, 0));
    drop(root.pop_batch(2).unwrap());
    assert_eq!((root.len(), dep.len(), ws[1].len()), (1, 2, 2));
    drop(ws[0].pop().unwrap());
    assert_eq!((ws[0].sequence(), ws[1].len()), (1, 1));
    assert_eq!(tx.len(), 3, "dep has read nothing");
    tx.push(3).unwrap();
    assert!(tx.is_full());
    assert!(!root.is_disconnected() && root.capacity() == 4);
    drop(tx);
    assert!(dep.is_disconnected() && ws[1].is_disconnected());
}
