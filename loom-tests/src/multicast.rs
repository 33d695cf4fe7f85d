//! Helpers shared by the multicast models (`tests/multicast*.rs`).
//!
//! The blocking helpers park (`WaitStrategy::Park`): a parked thread is not
//! scheduled, which keeps the models small, and a lost wake-up shows up as a
//! loom deadlock.

use corelane::queue::multicast::{
    Cursor, LossyCursor, LossyRecvError, Mode, Publisher, ReadMode, RecvError, Worker,
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

/// Reads a lossy cursor (either mode) to the end of the stream, parking
/// while it is empty; returns `(read, missed)`. Checks the bookkeeping
/// only: a read moves the cursor by one, a lag by the count it reports.
/// (Under loom a seqlock copy's value is not evidence: the copy is
/// untracked and sees loom's serialized memory. The slot probe inside the
/// read is the check that no accepted copy overlapped an overwrite; a
/// clone is a tracked access of the slot.)
pub fn drain_lossy<T, R: ReadMode<T>>(l: &mut LossyCursor<T, R>) -> (u64, u64) {
    drain_lossy_with(l, |_, _| {})
}

/// [`drain_lossy`], handing `check` each item read with its sequence number.
pub fn drain_lossy_with<T, R: ReadMode<T>>(
    l: &mut LossyCursor<T, R>,
    mut check: impl FnMut(T, u64),
) -> (u64, u64) {
    let (mut read, mut missed) = (0, 0);
    loop {
        let before = l.sequence();
        match l.pop_blocking(WaitStrategy::Park) {
            Ok(v) => {
                assert_eq!(l.sequence(), before + 1);
                check(v, before);
                read += 1;
            }
            Err(LossyRecvError::Lagged(n)) => {
                assert!(n > 0);
                assert_eq!(l.sequence(), before + n);
                missed += n;
            }
            Err(LossyRecvError::Disconnected) => return (read, missed),
            Err(e) => panic!("{e}"),
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
        // Relaxed: an RMW loses no count, and `get` reads only after the
        // handlers are joined (the join orders every hit before it).
        self.0[v].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts, once every handler has been joined.
    pub fn get(&self) -> [usize; N] {
        // Relaxed: called after joining every handler, which orders their
        // hits before these loads.
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

/// A payload whose every read, clone and drop goes through a loom cell of
/// its own, so a clone that races the publisher's overwrite (which drops
/// the old value in place) is a loom causality violation on the payload
/// itself, as a clone of a `Bytes` racing its drop would be a use after
/// free. Live witnesses are counted (outside the model: a plain counter),
/// to check that none is dropped twice or leaked.
pub struct Witness {
    cell: loom::cell::UnsafeCell<usize>,
    live: std::sync::Arc<std::sync::atomic::AtomicIsize>,
    /// Clones panic while this is set (see [`Live::panic_once`]).
    panic: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The value a dropped witness leaves in its cell.
const DEAD: usize = usize::MAX;

impl Witness {
    /// The value (a tracked read of the cell).
    pub fn value(&self) -> usize {
        // SAFETY: a loom-tracked read; the model fails on a racing write.
        let v = self.cell.with(|p| unsafe { *p });
        assert_ne!(v, DEAD, "read a dropped witness");
        v
    }
}

impl Clone for Witness {
    fn clone(&self) -> Self {
        let v = self.value();
        // Relaxed (std atomics, outside the model): the swap is an RMW, so
        // exactly one clone takes the flag; no other memory rides on it.
        if self.panic.swap(false, std::sync::atomic::Ordering::Relaxed) {
            panic!("witness: clone refused (as asked)");
        }
        // Relaxed: a counter; read by `Live::count` after the model's
        // threads are joined.
        self.live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Witness {
            cell: loom::cell::UnsafeCell::new(v),
            live: self.live.clone(),
            panic: self.panic.clone(),
        }
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        // SAFETY: a loom-tracked write; the model fails on a racing clone.
        self.cell.with_mut(|p| unsafe { *p = DEAD });
        // Relaxed: a counter, as in `clone`.
        self.live.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Makes [`Witness`]es and counts the live ones.
#[derive(Clone, Default)]
pub struct Live {
    live: std::sync::Arc<std::sync::atomic::AtomicIsize>,
    panic: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Live {
    /// A new witness holding `v`.
    pub fn witness(&self, v: usize) -> Witness {
        // Relaxed: a counter, as in `Witness::clone`.
        self.live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Witness {
            cell: loom::cell::UnsafeCell::new(v),
            live: self.live.clone(),
            panic: self.panic.clone(),
        }
    }

    /// The next clone of any witness made here panics.
    pub fn panic_once(&self) {
        // Relaxed: only the flag itself is communicated, and the tests set
        // it on the thread whose next clone is to fail (program order).
        self.panic.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Witnesses not dropped yet.
    pub fn count(&self) -> isize {
        // Relaxed: read after the threads that clone and drop witnesses
        // are joined (and the handles dropped on this thread).
        self.live.load(std::sync::atomic::Ordering::Relaxed)
    }
}
