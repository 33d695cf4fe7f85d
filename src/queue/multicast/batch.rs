//! What readers hand out: a run of items read in place ([`Batch`]), one item
//! ([`Item`]) and the iterator over a run ([`Iter`]). Dropping a batch or
//! an item releases its positions.

use std::fmt;
use std::ops::Deref;

use super::group::IDLE;
use super::ring::Ring;
use super::sequence::Sequence;

/// What a [`Batch`] releases when it drops.
pub(crate) enum Release<'a> {
    /// A cursor: move its position past the batch and publish it.
    Cursor {
        pos: &'a mut usize,
        seq: &'a Sequence,
    },
    /// A worker: it holds nothing any more. If it drops its run unfinished
    /// (unwinding), the group lost the rest: mark the group failed there.
    Worker {
        held: &'a Sequence,
        group_failed_at: &'a Sequence,
    },
}

/// A run of items read in place, from
/// [`Cursor::pop_batch`](super::Cursor::pop_batch) or
/// [`Worker::pop_batch`](super::Worker::pop_batch) and their waiting forms.
/// The run is released (the producer may reuse its slots, cursors after
/// this one may read it) when the batch drops.
///
/// A batch that a panic cuts short releases nothing (but what
/// [`process`](super::Cursor::process) finished): a cursor stays before the
/// run, and a worker's group counts as failed at its first unfinished item,
/// so that nodes running after it with
/// [`OnFailure::Fail`](super::OnFailure) never read an item that was not
/// processed. Cut short means: `process`'s handler panicked, or the batch
/// was taken before its thread began to unwind and drops during the
/// unwinding. A batch taken *while* the thread unwinds (by a destructor
/// that drains a cursor, say) is an ordinary read and is released in full.
///
/// # Examples
///
/// ```
/// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(8, || 0u64, 1);
/// tx.push_batch(4, |i, v| *v = i as u64).unwrap();
/// let batch = cs[0].pop_batch(usize::MAX).unwrap();
/// assert_eq!(batch.len(), 4);
/// assert_eq!(batch.get(3), Some(&3));
/// assert_eq!((&batch).into_iter().sum::<u64>(), 6);
/// ```
pub struct Batch<'a, T> {
    ring: &'a Ring<T>,
    start: usize,
    len: usize,
    /// Items [`process`](Self::process) finished: what is released if the
    /// batch drops while its thread panics.
    handled: usize,
    /// Consumed by [`process`](Self::process): `handled` is exact (it
    /// reaches `len` unless the handler panicked), whatever the thread's
    /// panic state.
    processing: bool,
    /// The thread was already unwinding when the batch was made (a read in
    /// a destructor that runs because of some other panic): such a batch
    /// is an ordinary read, released in full when it drops (the rule of
    /// `std`'s mutex poisoning, which also looks at the panic state when a
    /// guard is made and when it drops).
    made_unwinding: bool,
    release: Release<'a>,
}

impl<T> fmt::Debug for Batch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Batch")
            .field("sequence", &self.start)
            .field("len", &self.len)
            .finish()
    }
}

impl<'a, T> Batch<'a, T> {
    pub(crate) fn new(ring: &'a Ring<T>, start: usize, len: usize, release: Release<'a>) -> Self {
        Batch {
            ring,
            start,
            len,
            handled: 0,
            processing: false,
            made_unwinding: std::thread::panicking(),
            release,
        }
    }

    #[inline]
    fn at(&self, i: usize) -> &T {
        debug_assert!(i < self.len);
        let pos = self.start.wrapping_add(i);
        // Every position of the run was published to this reader (its stamp,
        // or an upstream position covering it, was loaded with Acquire), and
        // the producer cannot overwrite it before the release in `Drop`
        // (this reader gates it).
        // SAFETY: as just said; the reference borrows `self`, so it ends
        // before the release.
        self.ring.slot(pos).value.with(|v| unsafe { &*v })
    }

    /// Items in the batch.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// assert_eq!(cs[0].pop_batch(4).unwrap().len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for the empty batch that `pop_batch(0)` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// assert!(cs[0].pop_batch(0).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sequence number of the first item.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// drop(cs[0].pop());
    /// assert_eq!(cs[0].pop_batch(4).unwrap().sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.start as u64
    }

    /// The `i`-th item of the batch, by reference.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(9).unwrap();
    /// let b = cs[0].pop_batch(4).unwrap();
    /// assert_eq!((b.get(0), b.get(1)), (Some(&9), None));
    /// ```
    pub fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| self.at(i))
    }

    /// Iterates over the items by reference, in order. The last item is the
    /// end of the batch.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push_batch(3, |i, v| *v = i as u8).unwrap();
    /// let b = cs[0].pop_batch(4).unwrap();
    /// assert_eq!(b.iter().len(), 3);
    /// assert_eq!(b.iter().max(), Some(&2));
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            ring: self.ring,
            next: self.start,
            left: self.len,
        }
    }

    /// Runs `handler` on every item with its sequence and end-of-batch flag,
    /// inside the slot access (so loom models see the reads), then releases.
    /// If `handler` panics, the items it finished are released on the way
    /// out, the rest not (see [`Drop`]).
    pub(crate) fn process<F: FnMut(&T, u64, bool)>(mut self, mut handler: F) -> usize {
        self.processing = true;
        for i in 0..self.len {
            let pos = self.start.wrapping_add(i);
            let last = i + 1 == self.len;
            self.ring
                .slot(pos)
                .value
                // SAFETY: as in `at`; the reference does not outlive the closure.
                .with(|v| handler(unsafe { &*v }, pos as u64, last));
            self.handled = i + 1;
        }
        self.len
    }

    /// Releases the first `done` items of the run; a worker's unfinished
    /// rest is lost to its group, which is marked failed there.
    #[inline]
    fn release(&mut self, done: usize) {
        match &mut self.release {
            Release::Cursor { pos, seq } => {
                debug_assert_eq!(**pos, self.start, "a cursor releases the run it read");
                if done > 0 {
                    let end = self.start.wrapping_add(done);
                    **pos = end;
                    seq.set(end);
                }
            }
            Release::Worker {
                held,
                group_failed_at,
            } => {
                if done < self.len {
                    let lost = self.start.wrapping_add(done);
                    // The mark goes out before `held` moves on (Release
                    // both; see `Gate::failed_at`).
                    self.ring.registry.lock().mark_failed(group_failed_at, lost);
                }
                held.set(IDLE);
            }
        }
        self.ring.released.notify();
    }
}

impl<T> Drop for Batch<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // Cut short by a panic: `process` stopped at its handler's panic
        // (exact, even inside a destructor that catches a nested panic);
        // a guard made before its thread started to unwind was cut short
        // by the unwinding. Anything else (a batch both made and dropped
        // during an unwinding, say by a draining destructor) ran its course.
        let cut_short = if self.processing {
            self.handled < self.len
        } else {
            !self.made_unwinding && std::thread::panicking()
        };
        if cut_short {
            self.release(self.handled);
        } else {
            self.release(self.len);
        }
    }
}

impl<'b, T> IntoIterator for &'b Batch<'_, T> {
    type Item = &'b T;
    type IntoIter = Iter<'b, T>;

    fn into_iter(self) -> Iter<'b, T> {
        self.iter()
    }
}

/// Iterator over a [`Batch`]'s items, by reference.
///
/// # Examples
///
/// ```
/// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
/// tx.push(3).unwrap();
/// let b = cs[0].pop_batch(4).unwrap();
/// let mut it = b.iter();
/// assert_eq!(it.next(), Some(&3));
/// assert_eq!(it.next(), None);
/// ```
pub struct Iter<'b, T> {
    ring: &'b Ring<T>,
    next: usize,
    left: usize,
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Iter")
            .field("left", &self.left)
            .finish()
    }
}

impl<'b, T> Iterator for Iter<'b, T> {
    type Item = &'b T;

    #[inline]
    fn next(&mut self) -> Option<&'b T> {
        if self.left == 0 {
            return None;
        }
        let pos = self.next;
        self.next = pos.wrapping_add(1);
        self.left -= 1;
        // SAFETY: as in `Batch::at`; the iterator borrows the batch for 'b,
        // and the batch releases only when it drops, after 'b.
        Some(self.ring.slot(pos).value.with(|v| unsafe { &*v }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

/// One item read in place (from `pop` and its waiting forms); derefs to the item
/// and releases it when dropped.
///
/// # Examples
///
/// ```
/// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, String::new, 1);
/// tx.push("x".to_string()).unwrap();
/// let item = cs[0].pop().unwrap();
/// assert_eq!((item.len(), item.sequence()), (1, 0));
/// ```
pub struct Item<'a, T>(pub(crate) Batch<'a, T>);

impl<T> Item<'_, T> {
    /// The item's sequence number.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// assert_eq!(cs[0].pop().unwrap().sequence(), 0);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.0.sequence()
    }
}

impl<T> Deref for Item<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.0.at(0)
    }
}

impl<T: fmt::Debug> fmt::Debug for Item<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("multicast::Item").field(&**self).finish()
    }
}
