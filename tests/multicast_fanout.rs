//! Fan-out of `bytes::Bytes` through a multicast ring: every cursor sees the
//! very bytes that were published (pointer equality), never a copy.

use std::thread;

use bytes::Bytes;
use corelane::queue::multicast::RecvError;
use corelane::queue::multicast::{self, Builder};
use corelane::queue::wait::WaitStrategy;

const N: usize = if cfg!(debug_assertions) {
    2_000
} else {
    50_000
};

fn payload(i: usize) -> Bytes {
    Bytes::from(format!("market data tick {i:08}").into_bytes())
}

#[test]
fn bytes_fan_out_is_zero_copy() {
    let payloads: Vec<Bytes> = (0..N).map(payload).collect();
    let addrs: Vec<usize> = payloads.iter().map(|b| b.as_ptr() as usize).collect();
    let (mut tx, cursors) = multicast::broadcast(64, Bytes::new, 4);
    let readers: Vec<_> = cursors
        .into_iter()
        .map(|mut c| {
            let addrs = addrs.clone();
            thread::spawn(move || {
                let mut i = 0;
                loop {
                    match c.pop_batch_blocking(32, WaitStrategy::Yield) {
                        Ok(batch) => {
                            for b in &batch {
                                assert_eq!(b.as_ptr() as usize, addrs[i], "item {i} was copied");
                                assert_eq!(*b, payload(i));
                                i += 1;
                            }
                        }
                        Err(RecvError::Disconnected) => return i,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    for p in payloads {
        // Moves the handle into the slot: no copy of the bytes, and the
        // slot's previous `Bytes` (a lap ago) is dropped in place.
        tx.push_blocking(p, WaitStrategy::Yield).unwrap();
    }
    drop(tx);
    for r in readers {
        assert_eq!(r.join().unwrap(), N);
    }
}

#[test]
fn subscriber_keeps_its_bytes_with_a_refcount_bump() {
    let mut b = Builder::new(2, Bytes::new);
    let c = b.cursor();
    let (mut tx, mut h) = b.build().unwrap();
    let mut c = h.cursor(c);
    let original = Bytes::from_static(b"order 42");
    tx.push(original.clone()).unwrap();
    let kept: Bytes = c.pop().unwrap().clone();
    // The slot is reused; what the subscriber kept is the same allocation.
    tx.push(Bytes::from_static(b"x")).unwrap();
    tx.push(Bytes::from_static(b"y")).unwrap();
    assert_eq!(kept.as_ptr(), original.as_ptr());
    assert_eq!(kept, original);
}
