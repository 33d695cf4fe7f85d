//! Reads made *while* a thread unwinds (a `Drop` impl that drains a cursor
//! or a worker, say) are ordinary reads: the "release only what `process`
//! finished" rule is for a guard whose own scope a panic cut short, not
//! for a guard made and dropped inside a destructor that runs because of
//! some other panic. And a worker that leaked a batch (`mem::forget`) and
//! reads on must not let its group's position pass the leaked items
//! unmarked.

use corelane::queue::multicast::{Builder, TryRecvError};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Drains a cursor in its destructor (a graceful shutdown), counting what
/// it read; gives up after `cap` reads so a cursor that never moves shows
/// as a count, not a hang.
struct DrainOnDrop<'a> {
    cursor: &'a mut corelane::queue::multicast::Cursor<u64>,
    seen: &'a mut Vec<u64>,
    cap: usize,
}

impl Drop for DrainOnDrop<'_> {
    fn drop(&mut self) {
        while self.seen.len() < self.cap {
            match self.cursor.pop() {
                Ok(item) => self.seen.push(*item),
                Err(_) => break,
            }
        }
    }
}

#[test]
fn a_cursor_drained_in_a_destructor_during_unwinding_moves_on() {
    let (mut tx, mut cs) = corelane::queue::multicast::broadcast(8, || 0u64, 1);
    for i in 0..4 {
        tx.push(i).unwrap();
    }
    let mut seen = Vec::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _drain = DrainOnDrop {
            cursor: &mut cs[0],
            seen: &mut seen,
            cap: 16,
        };
        panic!("unrelated failure (as asked)");
    }));
    assert!(r.is_err());
    assert_eq!(seen, [0, 1, 2, 3], "each item once, then Empty");
    assert_eq!(cs[0].pop().unwrap_err(), TryRecvError::Empty);
}

/// A worker group drained by a destructor during unwinding: every item the
/// destructor read in full is released, and the group has not failed, so
/// a `Fail` dependent reads them all.
#[test]
fn a_worker_drained_in_a_destructor_during_unwinding_does_not_fail_its_group() {
    let mut b = Builder::new(8, || 0u64);
    let g = b.group(1);
    let audit = b.cursor();
    b.after(audit, &[g]);
    let (mut tx, mut h) = b.build().unwrap();
    let mut ws = h.workers(g);
    let mut audit = h.cursor(audit);
    for i in 0..4 {
        tx.push(i).unwrap();
    }
    struct DrainWorker<'a>(&'a mut corelane::queue::multicast::Worker<u64>, usize);
    impl Drop for DrainWorker<'_> {
        fn drop(&mut self) {
            while let Ok(b) = self.0.pop_batch(2) {
                self.1 += b.iter().count();
            }
        }
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _d = DrainWorker(&mut ws[0], 0);
        panic!("unrelated failure (as asked)");
    }));
    assert!(r.is_err());
    let mut read = vec![];
    loop {
        match audit.pop() {
            Ok(i) => read.push(*i),
            Err(e) => {
                assert_eq!(e, TryRecvError::Empty, "the group did not fail");
                break;
            }
        }
    }
    assert_eq!(read, [0, 1, 2, 3]);
}

/// A worker that leaked a batch and reads on: the leaked items are lost to
/// the group (nobody processed them), so a `Fail` dependent must stop
/// before them rather than read them.
#[test]
fn a_worker_that_leaked_a_batch_and_reads_on_fails_its_group() {
    let mut b = Builder::new(8, || 0u64);
    let g = b.group(1);
    let audit = b.cursor();
    b.after(audit, &[g]);
    let (mut tx, mut h) = b.build().unwrap();
    let mut ws = h.workers(g);
    let mut audit = h.cursor(audit);
    for i in 0..4 {
        tx.push(i).unwrap();
    }
    std::mem::forget(ws[0].pop_batch(2).unwrap()); // items 0 and 1: lost
    let rest: Vec<u64> = ws[0].pop_batch(2).unwrap().iter().copied().collect();
    assert_eq!(rest, [2, 3]);
    match audit.pop() {
        Err(TryRecvError::UpstreamFailed(f)) => assert_eq!(f.at, 0),
        Ok(i) => panic!("the dependent read item {} nobody processed", *i),
        Err(e) => panic!("{e}"),
    };
}
