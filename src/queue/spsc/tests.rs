//! Unit tests of the SPSC ring, each named by the invariant it pins. The
//! cross-thread properties are in `tests/queue_model.rs`,
//! `tests/queue_stress.rs` and the loom models (`loom-tests/`).

use super::*;
use crate::queue::PopError;
use std::sync::atomic::AtomicUsize as StdCount;

#[test]
fn items_come_out_in_push_order_across_laps() {
    let (mut tx, mut rx) = channel::<usize>(4);
    for round in 0..10 {
        for i in 0..4 {
            tx.push(round * 4 + i).unwrap();
        }
        assert!(tx.push(99).is_err());
        for i in 0..4 {
            assert_eq!(rx.pop(), Ok(round * 4 + i));
        }
        assert_eq!(rx.pop(), Err(PopError::Empty));
    }
}

#[test]
fn items_left_in_the_ring_are_dropped_once_by_the_last_end() {
    static DROPS: StdCount = StdCount::new(0);
    struct D;
    impl Drop for D {
        fn drop(&mut self) {
            DROPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let (mut tx, mut rx) = channel::<D>(8);
    for _ in 0..6 {
        assert!(tx.push(D).is_ok());
    }
    drop(rx.pop().unwrap());
    drop(tx);
    assert_eq!(DROPS.load(std::sync::atomic::Ordering::SeqCst), 1);
    drop(rx);
    assert_eq!(DROPS.load(std::sync::atomic::Ordering::SeqCst), 6);
}

#[test]
fn a_chunk_larger_than_the_free_slots_reports_how_many_are_free() {
    let (mut tx, _rx) = channel::<u64>(8);
    tx.push(1).unwrap();
    for n in [9, usize::MAX / 2, usize::MAX] {
        assert_eq!(
            tx.write_chunk(n).err(),
            Some(WriteChunkError::TooFewSlots(7))
        );
    }
    assert_eq!(tx.write_chunk(7).map(|c| c.len()).ok(), Some(7));
}

#[test]
fn items_not_taken_from_a_read_chunk_stay_in_the_ring() {
    let (mut tx, mut rx) = channel::<String>(4);
    let mut c = tx.write_chunk(3).unwrap();
    c.fill_from_iter(["a", "b", "c"].map(String::from));
    drop(c);
    let mut r = rx.read_chunk(3).unwrap();
    assert_eq!(r.next().as_deref(), Some("a"));
    drop(r);
    assert_eq!(rx.pop().as_deref(), Ok("b"));
    assert_eq!(rx.len(), 1);
}
