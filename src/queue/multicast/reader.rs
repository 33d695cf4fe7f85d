//! The read side that cursors and workers share: how far a reader may read
//! (its [`Horizon`]: the stamps for a root reader, the positions of its
//! upstream nodes otherwise), where it must stop (a failed upstream), how a
//! run of published items is extended, and the blocking, deadline and async
//! waiting loops.

use std::task::{Context, Poll};
use std::time::Instant;

use super::error::{RecvError, RecvTimeoutError, TryRecvError, UpstreamFailed};
use super::graph::Upstream;
use super::id::NodeId;
use super::ring::Ring;
use crate::queue::position::{ahead, later};
use crate::queue::wait::{self, block_on, block_until, Notify, WaitStrategy};

/// How far a reader (a cursor, or a worker group's member) may read, and
/// where it learns more.
///
/// Invariant: every position in `[from, limit)` is published and not yet
/// reusable by the producer, where `from` is the reader's next position
/// (a cursor's position; a worker's view of the group's claim). For a
/// root reader each was seen through its stamp (Acquire); for a dependent
/// one, through an upstream node's position (Acquire), which that node
/// reaches only after the position was published to it. A dependent's
/// limit never passes where an [`OnFailure::Fail`](super::OnFailure)
/// upstream failed.
pub(crate) struct Horizon {
    /// The reader's node, to look its upstream up again after a leave.
    id: NodeId,
    /// See the invariant above.
    limit: usize,
    upstream: Upstream,
    /// The registry version `upstream` was read at.
    version: usize,
}

impl Horizon {
    pub(crate) fn new(id: NodeId, start: usize, upstream: Upstream, version: usize) -> Self {
        Horizon {
            id,
            limit: start,
            upstream,
            version,
        }
    }

    /// The reader's node id.
    #[inline]
    pub(crate) fn id(&self) -> NodeId {
        self.id
    }

    /// True for a reader straight after the producer.
    #[inline]
    pub(crate) fn is_root(&self) -> bool {
        matches!(self.upstream, Upstream::Producer)
    }

    /// How many positions from `from` are known readable (negative when a
    /// worker group's claim has passed `limit`).
    #[inline]
    pub(crate) fn ahead(&self, from: usize) -> isize {
        ahead(self.limit, from)
    }

    /// How many positions from `from` are readable now, without moving the
    /// limit (for `len`): a root reader walks the stamps, a dependent reads
    /// its upstream.
    pub(crate) fn peek<T>(&self, ring: &Ring<T>, from: usize) -> usize {
        let end = match &self.upstream {
            Upstream::Producer => extend_run(ring, later(self.limit, from), from, ring.capacity()),
            Upstream::Nodes(edges) => later(Upstream::position(edges), self.limit),
        };
        ahead(end, from).max(0) as usize
    }

    /// Extends the limit from the upstream, looking at positions from
    /// `from` and, for a root reader, at most `max` of them.
    #[inline]
    pub(crate) fn scan<T>(&mut self, ring: &Ring<T>, from: usize, max: usize) {
        match &self.upstream {
            Upstream::Producer => {
                let q = later(self.limit, from);
                self.limit = if q.wrapping_sub(from) < max && ring.slot(q).stamp.holds(q) {
                    extend_run(ring, q.wrapping_add(1), from, max)
                } else {
                    q
                };
            }
            Upstream::Nodes(gates) => {
                let up = Upstream::position(gates);
                if ahead(up, self.limit) > 0 {
                    self.limit = up;
                }
            }
        }
    }

    /// The failure that stops a reader at `pos`, if a
    /// [`OnFailure::Fail`](super::OnFailure) upstream failed there (or
    /// earlier).
    #[cold]
    pub(crate) fn failure(&self, pos: usize) -> Option<UpstreamFailed> {
        let (node, at) = self.upstream.failure(pos)?;
        Some(UpstreamFailed {
            node,
            at: at as u64,
        })
    }

    /// After a join or leave somewhere in the graph (the registry version
    /// moved): reads this node's upstream again. Returns whether it did.
    /// A node whose upstream left now runs after what that node ran after
    /// ([`OnFailure::Rewire`](super::OnFailure)), or keeps the departed
    /// node's final position ([`OnFailure::Fail`](super::OnFailure)).
    #[cold]
    pub(crate) fn rewire<T>(&mut self, ring: &Ring<T>) -> bool {
        if ring.version() == self.version {
            return false;
        }
        let reg = ring.registry.lock();
        // Under the lock: the version and the upstream belong together.
        self.version = ring.version();
        self.upstream = reg.upstream(self.id);
        true
    }

    /// The wake-up cell this reader sleeps on.
    #[inline]
    pub(crate) fn wake_cell(&self) -> WakeCell {
        if self.is_root() {
            WakeCell::Items
        } else {
            WakeCell::Released
        }
    }
}

/// A root reader found position `q - 1` published: how far does the run
/// go? With a single producer, first its position (`Ring::producer`): it covers every stamp
/// stored before it (Release/Acquire), and it is stored once per batch and
/// at gating refreshes, not per item, so its line is read-mostly and one
/// load can extend the run over a whole batch without touching the slots
/// the producer is filling right now (a batch stores the position before its
/// first stamp, so a reader woken by that stamp finds it past the
/// batch). Past that position (it lags single-item publishes), and with many
/// producers, whose claims are not publications: stamps one by one, up to
/// `max`; they sit in the lines about to be read anyway. So a run is never
/// cut short while published items are left within `max`.
#[inline]
fn extend_run<T>(ring: &Ring<T>, mut q: usize, from: usize, max: usize) -> usize {
    if !ring.multi {
        let published = ring.producer.get();
        if ahead(published, q) > 0 {
            q = published;
        }
    }
    while q.wrapping_sub(from) < max && ring.slot(q).stamp.holds(q) {
        q = q.wrapping_add(1);
    }
    q
}

/// The first position not yet published, from a position `start` known to
/// be at or behind it (less than a ring): the position of a single
/// producer may lag its single-item publishes, so walk the stamps. For
/// many producers the next claim position is already at or past it.
pub(crate) fn frontier<T>(ring: &Ring<T>, start: usize) -> usize {
    let mut q = start;
    if !ring.multi {
        while q.wrapping_sub(start) < ring.capacity() && ring.slot(q).stamp.holds(q) {
            q = q.wrapping_add(1);
        }
    }
    q
}

/// Which [`Notify`] a reader sleeps on: root readers wait for the producer,
/// dependent readers for releases upstream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeCell {
    Items,
    Released,
}

impl WakeCell {
    fn of<T>(self, ring: &Ring<T>) -> &Notify {
        match self {
            WakeCell::Items => &ring.items,
            WakeCell::Released => &ring.released,
        }
    }
}

/// A run of readable positions: `(start, len)`.
pub(crate) type Run = (usize, usize);

/// A cursor's or worker's way of taking a run, for the shared waiting code.
pub(crate) trait ReadSide<T> {
    fn take(&mut self, ring: &Ring<T>, max: usize) -> Result<Run, TryRecvError>;
    fn wake_cell(&self) -> WakeCell;
}

/// One attempt for a waiting loop: `None` to keep waiting, `Some(None)` to
/// re-enter the loop on another wake-up cell (the reader was rewired).
fn attempt<T, S: ReadSide<T>>(
    side: &mut S,
    ring: &Ring<T>,
    max: usize,
    cell: WakeCell,
) -> Option<Option<Result<Run, RecvError>>> {
    match wait::attempt(side.take(ring, max.max(1))) {
        Some(r) => Some(Some(r.map_err(RecvError::from_final))),
        None => (side.wake_cell() != cell).then_some(None),
    }
}

/// Takes a run, waiting per `strategy` while none is readable.
pub(crate) fn batch_blocking<T, S: ReadSide<T>>(
    side: &mut S,
    ring: &Ring<T>,
    max: usize,
    strategy: WaitStrategy,
) -> Result<Run, RecvError> {
    loop {
        let cell = side.wake_cell();
        let r = block_on(strategy, cell.of(ring), || attempt(side, ring, max, cell));
        if let Some(r) = r {
            return r;
        }
    }
}

/// [`batch_blocking`] that gives up at `deadline` (`None`: no deadline).
pub(crate) fn batch_until<T, S: ReadSide<T>>(
    side: &mut S,
    ring: &Ring<T>,
    max: usize,
    strategy: WaitStrategy,
    deadline: Option<Instant>,
) -> Result<Run, RecvTimeoutError> {
    let Some(deadline) = deadline else {
        return batch_blocking(side, ring, max, strategy).map_err(Into::into);
    };
    loop {
        let cell = side.wake_cell();
        match block_until(strategy, cell.of(ring), deadline, || {
            attempt(side, ring, max, cell)
        }) {
            Some(Some(r)) => return r.map_err(Into::into),
            Some(None) => {}
            None => return Err(RecvTimeoutError::Timeout),
        }
    }
}

/// One poll of an async wait for a run: `Pending` with the task's waker
/// registered on the reader's wake-up cell.
pub(crate) fn poll_batch<T, S: ReadSide<T>>(
    side: &mut S,
    ring: &Ring<T>,
    max: usize,
    cx: &mut Context<'_>,
) -> Poll<Result<Run, RecvError>> {
    loop {
        let cell = side.wake_cell();
        match wait::poll_retry(cell.of(ring), cx, || attempt(side, ring, max, cell)) {
            Poll::Ready(Some(r)) => return Poll::Ready(r),
            // Rewired onto the other cell: register there instead.
            Poll::Ready(None) => {}
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Takes a run, waiting asynchronously while none is readable.
pub(crate) async fn batch_async<T, S: ReadSide<T>>(
    side: &mut S,
    ring: &Ring<T>,
    max: usize,
) -> Result<Run, RecvError> {
    std::future::poll_fn(|cx| poll_batch(side, ring, max, cx)).await
}
