//! Helpers shared by the multicast models (`tests/multicast*.rs`).
//!
//! The blocking helpers park (`WaitStrategy::Park`): a parked thread is not
//! scheduled, which keeps the models small, and a lost wake-up shows up as a
//! loom deadlock.

use corelane::queue::multicast::{
    Cursor, LossyCursor, Mode, Publisher, ReadError, RecvError, Worker,
};
use corelane::queue::wait::WaitStrategy;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Publishes `value`, parking while the ring is full; its sequence number.
pub fn publish_park<M: Mode>(tx: &mut Publisher<usize, M>, value: usize) -> u64 {
    tx.push_blocking(value, WaitStrategy::Park).unwrap()
}

/// Reads one item, parking while none is there; `None` at the end. `check`
/// gets the value and its sequence number while the item is still held.
pub fn park_one(c: &mut Cursor<usize>, mut check: impl FnMut(usize, u64)) -> Option<()> {
    match c.pop_blocking(WaitStrategy::Park) {
        Ok(item) => {
            check(*item, item.sequence());
            Some(())
        }
        Err(RecvError::Disconnected) => None,
        Err(e) => panic!("{e}"),
    }
}

/// Claims one item for worker `w`, parking while none is left; `None` at
/// the end. `check` runs while the item is held.
pub fn work_one(w: &mut Worker<usize>, mut check: impl FnMut(usize, u64)) -> Option<()> {
    match w.pop_blocking(WaitStrategy::Park) {
        Ok(item) => {
            check(*item, item.sequence());
            Some(())
        }
        Err(RecvError::Disconnected) => None,
        Err(e) => panic!("{e}"),
    }
}

/// Reads a lossy cursor to the end of the stream, parking while it is
/// empty; returns `(read, missed)`. Checks the bookkeeping only: a read
/// moves the cursor by one, a lag by the count it reports. (Under loom the
/// copied values are not evidence: the seqlock's copy is untracked and sees
/// loom's serialized memory. The slot probe inside the read is the check
/// that no accepted copy overlapped an overwrite.)
pub fn drain_lossy(l: &mut LossyCursor<usize>) -> (u64, u64) {
    let (mut read, mut missed) = (0, 0);
    loop {
        let before = l.sequence();
        match l.read_blocking(WaitStrategy::Park) {
            Ok(_) => {
                assert_eq!(l.sequence(), before + 1);
                read += 1;
            }
            Err(ReadError::Lagged(n)) => {
                assert!(n > 0);
                assert_eq!(l.sequence(), before + n);
                missed += n;
            }
            Err(ReadError::Disconnected) => return (read, missed),
            Err(ReadError::Empty) => unreachable!("read_blocking waits out Empty"),
        }
    }
}

/// How often each of the items `0..N` was handled.
pub struct Counts<const N: usize>([AtomicUsize; N]);

impl<const N: usize> Counts<N> {
    pub fn new() -> Self {
        Counts(std::array::from_fn(|_| AtomicUsize::new(0)))
    }

    /// Counts one handling of item `v`.
    pub fn hit(&self, v: usize) {
        self.0[v].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts, once every handler has been joined.
    pub fn get(&self) -> [usize; N] {
        std::array::from_fn(|i| self.0[i].load(Ordering::Relaxed))
    }
}

impl<const N: usize> Default for Counts<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs each worker on its own thread until the stream ends, counting the
/// items (`0..N`) it handles.
pub fn count_work<const N: usize>(
    workers: Vec<Worker<usize>>,
) -> (Arc<Counts<N>>, Vec<thread::JoinHandle<()>>) {
    let counts = Arc::new(Counts::new());
    let ts = workers
        .into_iter()
        .map(|mut w| {
            let counts = counts.clone();
            thread::spawn(move || while work_one(&mut w, |v, _| counts.hit(v)).is_some() {})
        })
        .collect();
    (counts, ts)
}
