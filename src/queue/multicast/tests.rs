use super::*;
use crate::queue::{PopError, PushError};

#[test]
fn gating_blocks_until_release() {
    let (mut tx, mut cs) = broadcast(4, || 0usize, 2);
    for i in 0..4 {
        assert_eq!(tx.try_publish(i), Ok(i as u64));
    }
    assert_eq!(tx.try_publish(9), Err(PushError::Full(9)));
    cs[0].poll(4).unwrap().iter().for_each(|_| {});
    assert_eq!(
        tx.try_publish(9),
        Err(PushError::Full(9)),
        "cs[1] still gates"
    );
    drop(cs[1].poll(2).unwrap());
    assert_eq!(tx.try_publish(4), Ok(4));
    assert_eq!(tx.try_publish(5), Ok(5));
    assert!(tx.try_publish(6).is_err());
    let b = cs[1].poll(8).unwrap();
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
    tx.try_publish_batch(3, |i, v| *v = i as u32).unwrap();
    assert_eq!(d.try_next().unwrap_err(), PopError::Empty);
    drop(a.poll(2).unwrap());
    assert_eq!(d.try_next().unwrap_err(), PopError::Empty);
    drop(c.poll(3).unwrap());
    assert_eq!(
        d.poll(8).unwrap().len(),
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
    tx.try_publish(1).unwrap();
    tx.try_publish(2).unwrap();
    drop(a.poll(2).unwrap());
    assert!(tx.try_publish(3).is_err(), "z has not released");
    drop(z.poll(1).unwrap());
    assert!(tx.try_publish(3).is_ok());
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
    tx.try_publish_batch(10, |i, v| *v = i as u32).unwrap();
    let mut seen = vec![];
    let (w0, ws) = ws.split_at_mut(1);
    let first = w0[0].poll(4).unwrap();
    seen.extend(first.iter().copied());
    // The group has not released 0..4 while w0 holds them.
    let second = ws[0].poll(4).unwrap();
    seen.extend(second.iter().copied());
    drop(second);
    assert_eq!(after.try_next().unwrap_err(), PopError::Empty);
    drop(first);
    assert_eq!(after.poll(16).unwrap().len(), 8);
    while let Ok(b) = ws[1].poll(1) {
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
    assert!(ws[1].try_next().is_err()); // w1 looked, found nothing, idles
    for i in 0..10 {
        tx.try_publish(i).unwrap();
        assert_eq!(*ws[0].try_next().unwrap(), i);
    }
}

#[test]
fn join_starts_at_published_and_leave_stops_gating() {
    let (mut tx, mut cs) = broadcast(2, || 0u32, 1);
    tx.try_publish(1).unwrap();
    let joiner = tx.joiner();
    let mut late = joiner.subscribe();
    assert_eq!(late.sequence(), 1);
    tx.try_publish(2).unwrap();
    assert_eq!(*late.try_next().unwrap(), 2);
    assert!(tx.try_publish(3).is_err());
    drop(cs.pop()); // the slow one leaves
    assert!(tx.try_publish(3).is_ok());
    assert_eq!(tx.subscribers(), 1);
}

#[test]
fn dependents_rewire_when_upstream_leaves() {
    let mut b = Builder::new(4, || 0u32);
    let a = b.cursor();
    let m = b.cursor();
    let z = b.cursor();
    b.after(m, &[a]).after(z, &[m]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut a, m, mut z) = (h.cursor(a), h.cursor(m), h.cursor(z));
    tx.try_publish(1).unwrap();
    drop(a.try_next().unwrap());
    assert!(z.try_next().is_err());
    drop(m);
    assert_eq!(*z.try_next().unwrap(), 1, "z now runs after a");
    drop(a);
    tx.try_publish(2).unwrap();
    assert_eq!(*z.try_next().unwrap(), 2, "z is now a root");
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
        j.subscribe_after(&[l]).unwrap_err(),
        GraphError::LossyEdge(l)
    );
    tx.try_publish(5).unwrap();
    assert!(after.try_next().is_err());
    drop(w.try_next().unwrap());
    assert_eq!(*after.try_next().unwrap(), 5);
    drop(w);
    assert_eq!(
        j.subscribe_after(&[g]).unwrap_err(),
        GraphError::UnknownNode(g)
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
    b.after(x, &[l]);
    assert_eq!(b.build().unwrap_err(), GraphError::LossyEdge(l));
    let mut other = Builder::new(4, || 0u8);
    let foreign = {
        other.cursor();
        other.cursor()
    };
    let mut b = Builder::new(4, || 0u8);
    let x = b.cursor();
    b.after(x, &[foreign]);
    assert_eq!(b.build().unwrap_err(), GraphError::UnknownNode(foreign));
}

#[test]
fn disconnection_both_ways() {
    let (mut tx, cs) = broadcast(4, || 0u8, 2);
    drop(cs);
    assert_eq!(tx.try_publish(1), Err(PushError::Disconnected(1)));
    let mut c = tx.joiner().subscribe();
    assert_eq!(tx.try_publish(2), Ok(0));
    drop(tx);
    assert_eq!(*c.try_next().unwrap(), 2);
    assert_eq!(c.try_next().unwrap_err(), PopError::Disconnected);
    let mut late = c.joiner().subscribe();
    assert_eq!(late.try_next().unwrap_err(), PopError::Disconnected);
}

#[test]
fn multi_publishers_close_after_the_last_drop() {
    let mut b = Builder::new(8, || 0u32);
    let c = b.cursor();
    let (mut tx, mut h) = b.build_multi().unwrap();
    let mut c = h.cursor(c);
    let mut tx2 = tx.clone();
    tx.try_publish(1).unwrap();
    tx2.try_publish(2).unwrap();
    tx2.try_publish_batch(2, |i, v| *v = 10 + i as u32).unwrap();
    drop(tx);
    assert_eq!(
        c.poll(8).unwrap().iter().copied().collect::<Vec<_>>(),
        [1, 2, 10, 11]
    );
    assert_eq!(c.try_next().unwrap_err(), PopError::Empty);
    drop(tx2);
    assert_eq!(c.try_next().unwrap_err(), PopError::Disconnected);
}

#[test]
fn multi_publisher_panic_still_publishes_the_slot() {
    let mut b = Builder::new(4, || 0u32);
    let c = b.cursor();
    let (mut tx, mut h) = b.build_multi().unwrap();
    let mut c = h.cursor(c);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = tx.try_publish_with(|v| {
            *v = 7;
            panic!("boom");
        });
    }));
    assert!(r.is_err());
    tx.try_publish(8).unwrap();
    assert_eq!(
        c.poll(4).unwrap().iter().copied().collect::<Vec<_>>(),
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
        tx.try_publish(i).unwrap();
    }
    assert_eq!(l.pop(), Ok(0));
    assert!(
        tx.try_publish(4).is_err(),
        "the gating cursor still holds the ring"
    );
    drop(c.poll(4).unwrap());
    for i in 4..8 {
        tx.try_publish(i).unwrap();
    }
    assert_eq!(l.pop(), Err(ReadError::Lagged(3)));
    assert_eq!(l.pop(), Ok(4));
    drop(tx);
    for i in 5..8 {
        assert_eq!(l.pop(), Ok(i));
    }
    assert_eq!(l.pop(), Err(ReadError::Disconnected));
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
    tx.try_publish(D).unwrap(); // the factory's D in slot 0 drops now
    assert_eq!(DROPS.load(SeqCst), 1);
    drop((tx, cs));
    assert_eq!(DROPS.load(SeqCst), 5);
}

#[test]
fn wait_strategies_deliver_everything() {
    use crate::queue::wait::WaitStrategy;
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
            while let Ok(b) = a.poll_blocking(3, strategy) {
                n += b.len() as u64;
            }
            n
        });
        let tz = std::thread::spawn(move || {
            let mut sum = 0u64;
            while let Ok(i) = z.next_blocking(strategy) {
                sum += *i;
            }
            sum
        });
        for i in 0..500 {
            tx.publish_blocking(i, strategy).unwrap();
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
        j.subscribe_group(0, &[]),
        Err(GraphError::EmptyGroup(_))
    ));
    assert_eq!(j.subscribers(), 1, "a refused group joins nothing");
    tx.try_publish(1).unwrap(); // before the join: not the group's
    let mut ws = j.subscribe_group(2, &[cs[0].id()]).unwrap();
    let ws_id = ws[0].id();
    assert_eq!(j.subscribers(), 3);
    // The group starts where cs[0] stands: item 1 is still unread there.
    assert!(
        ws[0].try_next().is_err(),
        "not before the cursor released it"
    );
    drop(cs[0].poll(1).unwrap());
    assert_eq!(*ws[1].try_next().unwrap(), 1);
    for i in 2..6 {
        tx.try_publish(i).unwrap();
    }
    drop(cs[0].poll(8).unwrap());
    assert!(tx.try_publish(9).is_err(), "the group gates the producer");
    let mut got: Vec<u32> = ws[0].poll(2).unwrap().iter().copied().collect();
    got.extend(ws[1].poll(8).unwrap().iter().copied());
    assert!(ws[0].try_next().is_err());
    assert_eq!(got, [2, 3, 4, 5]);
    assert_eq!(tx.try_publish(6), Ok(5));
    drop(ws);
    assert_eq!(j.subscribers(), 1);
    let unknown = NodeId { index: 7, ..ws_id };
    assert_eq!(
        j.subscribe_group(1, &[unknown]).unwrap_err(),
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
        tx.try_publish(i.to_string()).unwrap();
    }
    let held = w.poll(4).unwrap(); // holds 0..4, claim is 4
    let mut late = j.subscribe_after(&[g]).unwrap();
    assert_eq!(late.sequence(), 4, "starts after what the group claimed");
    assert!(
        matches!(tx.try_publish("x".into()), Err(PushError::Full(_))),
        "slot 0 is still held by the worker"
    );
    assert_eq!(held.get(0).map(String::as_str), Some("0"));
    drop(held);
    tx.try_publish("4".into()).unwrap();
    assert!(late.try_next().is_err(), "not before the group claimed it");
    drop(w.try_next().unwrap());
    assert_eq!(&*late.try_next().unwrap(), "4");
    // The same for a group joining after the group.
    let mut b = Builder::new(4, String::new);
    let g = b.group(1);
    let (mut tx, mut h) = b.build().unwrap();
    let mut w = h.workers(g).pop().unwrap();
    for i in 0..4 {
        tx.try_publish(i.to_string()).unwrap();
    }
    let held = w.poll(4).unwrap();
    let mut w2 = h.joiner().subscribe_group(1, &[g]).unwrap().pop().unwrap();
    assert!(matches!(
        tx.try_publish("x".into()),
        Err(PushError::Full(_))
    ));
    assert_eq!(held.get(3).map(String::as_str), Some("3"));
    drop(held);
    tx.try_publish("4".into()).unwrap();
    drop(w.try_next().unwrap());
    assert_eq!(&*w2.try_next().unwrap(), "4");
    tx.try_publish("5".into()).unwrap();
}

/// `max` beyond the ring (even `usize::MAX`) means "as many as there are".
#[test]
fn workers_take_any_max() {
    let mut b = Builder::new(8, || 0u32);
    let g = b.group(2);
    let (mut tx, mut h) = b.build().unwrap();
    let mut ws = h.workers(g);
    tx.try_publish_batch(5, |i, v| *v = i as u32).unwrap();
    assert_eq!(ws[0].poll(usize::MAX).unwrap().len(), 5);
    tx.try_publish(9).unwrap();
    assert_eq!(ws[1].process(usize::MAX, |_, _, _| {}), Ok(1));
}

/// Once every subscriber is gone, publishing keeps failing (it used to
/// succeed again up to the room cached before).
#[test]
fn disconnected_publishing_stays_disconnected() {
    let (mut tx, cs) = broadcast(8, || 0u32, 1);
    tx.try_publish(0).unwrap();
    drop(cs);
    for i in 1..10 {
        assert_eq!(tx.try_publish(i), Err(PushError::Disconnected(i)));
    }
    let mut c = tx.joiner().subscribe();
    assert_eq!(tx.try_publish(7), Ok(1), "a join makes it work again");
    assert_eq!(*c.try_next().unwrap(), 7);
}

#[test]
fn empty_batch_reports_the_position() {
    let mut b = Builder::new(8, || 0u32);
    let _c = b.cursor();
    let (mut tx, _h) = b.build_multi().unwrap();
    tx.try_publish(1).unwrap();
    tx.try_publish(2).unwrap();
    assert_eq!(tx.try_publish_batch(0, |_, _| {}).ok(), Some(2));
}

/// A many-producer write that panics still publishes its slot and wakes a
/// parked reader (the unwind skipped the wake-up).
#[test]
fn a_panicking_multi_publish_wakes_parked_readers() {
    use crate::queue::wait::WaitStrategy;
    let mut b = Builder::new(4, || 0u32);
    let c = b.cursor();
    let (mut tx, mut h) = b.build_multi().unwrap();
    let mut c = h.cursor(c);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let v = *c.next_blocking(WaitStrategy::Park).unwrap();
        done_tx.send(v).unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(50)); // let it park
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = tx.try_publish_with(|v| {
            *v = 5;
            panic!("fill failed");
        });
    }));
    assert!(r.is_err());
    let got = done_rx.recv_timeout(std::time::Duration::from_secs(10));
    assert_eq!(got, Ok(5), "the parked reader was not woken");
    reader.join().unwrap();
}
