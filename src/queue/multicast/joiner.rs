//! Joining and leaving a running ring: [`Joiner`] and the join handshake's
//! joiner side (the publisher's side is in `claim.rs`).

use std::fmt;

use super::cursor::{Cursor, CursorShared};
use super::graph::{Edge, Gate};
use super::group::GroupShared;
use super::id::{Dep, GroupId, IntoDep, NodeId};
use super::lossy::LossyCursor;
use super::reader::frontier;
use super::ring::Ring;
use super::worker::Worker;
use super::GraphError;
use crate::sync::{join_barrier, Arc};

/// Subscribes cursors to a running ring. `Clone`, and independent of the
/// publisher (a broker's accept loop can hold one).
///
/// A joiner starts at the current published position: it sees every item
/// published after it joined, none before. A joiner does not count as a
/// subscriber: publishing with only joiners around is `Disconnected`.
///
/// # Examples
///
/// ```
/// let (mut tx, _cs) = corelane::queue::multicast::broadcast(8, || 0u32, 1);
/// let joiner = tx.joiner();
/// tx.push(1).unwrap();
/// let mut late = joiner.subscribe();
/// tx.push(2).unwrap();
/// assert_eq!(*late.pop().unwrap(), 2);
/// ```
pub struct Joiner<T> {
    ring: Arc<Ring<T>>,
}

impl<T> Clone for Joiner<T> {
    fn clone(&self) -> Self {
        Joiner::new(self.ring.clone())
    }
}

impl<T> fmt::Debug for Joiner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Joiner").finish_non_exhaustive()
    }
}

impl<T> Joiner<T> {
    pub(crate) fn new(ring: Arc<Ring<T>>) -> Self {
        Joiner { ring }
    }

    /// A new broadcast cursor reading from the producer.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut c = tx.joiner().subscribe();
    /// tx.push(5).unwrap();
    /// assert_eq!(*c.pop().unwrap(), 5);
    /// ```
    pub fn subscribe(&self) -> Cursor<T> {
        self.subscribe_after::<Dep>(&[])
            .expect("corelane: a root cursor has no edges to check")
    }

    /// A new broadcast cursor that runs after every node in `deps` (cursors
    /// or worker groups, by id or as a [`Dep`] with its
    /// [`OnFailure`](super::OnFailure) policy). It starts at the earliest of
    /// the published position and the positions of `deps` (for a worker
    /// group, its claim position: items its members hold at that moment are
    /// not seen).
    ///
    /// A node keeps one failure mark for good, so a cursor joining with
    /// [`OnFailure::Fail`](super::OnFailure) after a node that has already
    /// failed reads only up to that mark; after a worker group that once
    /// lost items (and runs on), it reads nothing: every read returns
    /// [`UpstreamFailed`](super::UpstreamFailed) at once.
    ///
    /// # Errors
    ///
    /// [`GraphError::UnknownNode`] if a node of `deps` has left (or belongs to
    /// another ring); [`GraphError::LossyEdge`] if an erased [`NodeId`] names
    /// a lossy cursor.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut audit = tx.joiner().subscribe_after(&[cs[0].id()]).unwrap();
    /// tx.push(1).unwrap();
    /// assert!(audit.pop().is_err());
    /// drop(cs[0].pop().unwrap());
    /// assert_eq!(*audit.pop().unwrap(), 1);
    /// ```
    pub fn subscribe_after<D: IntoDep>(&self, deps: &[D]) -> Result<Cursor<T>, GraphError> {
        let deps: Vec<Dep> = deps.iter().map(|d| d.into_dep()).collect();
        let ring = &self.ring;
        let mut reg = ring.registry.lock();
        let edges = reg.edges(&deps)?;
        // Provisional position: no later than anything the gating set
        // protects, so it is safe whichever copy the producer holds.
        let provisional = reg.gating_floor(ring.producer.get());
        let shared = Arc::new(CursorShared::new(provisional));
        let gate = Some(Gate::Cursor(shared.clone()));
        let id = reg.insert(gate, edges.clone(), 1);
        let version = ring.bump_version();
        let upstream = reg.upstream(id);
        drop(reg);
        // The joiner's half of the handshake (claim.rs ground rules).
        join_barrier();
        let start = join_point(ring, &edges);
        shared.released.set(start);
        // Moving from the provisional position is a release: a publisher
        // may be parked on it (found by the loom join model).
        ring.released.notify();
        Ok(Cursor::new(
            ring.clone(),
            shared,
            id,
            start,
            upstream,
            version,
        ))
    }

    /// A new worker group of `members` workers straight after the producer.
    /// Each item published after the join goes to exactly one of its
    /// workers; the group gates the producer like a cursor.
    ///
    /// # Errors
    ///
    /// [`GraphError::EmptyGroup`] if `members` is 0 (nothing is joined).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(8, || 0u32, 1);
    /// tx.push(1).unwrap(); // before the join: not for the group
    /// let mut workers = tx.joiner().subscribe_group(2).unwrap();
    /// tx.push(2).unwrap();
    /// tx.push(3).unwrap();
    /// assert_eq!(*workers[1].pop().unwrap(), 2);
    /// assert_eq!(*workers[0].pop().unwrap(), 3);
    /// ```
    pub fn subscribe_group(&self, members: usize) -> Result<Vec<Worker<T>>, GraphError> {
        self.subscribe_group_after::<Dep>(members, &[])
    }

    /// A new worker group of `members` workers that runs after every node
    /// in `deps` (as in [`subscribe_after`](Self::subscribe_after)). It
    /// starts where a cursor joining with the same `deps` would.
    ///
    /// # Errors
    ///
    /// [`GraphError::EmptyGroup`] if `members` is 0 (nothing is joined);
    /// otherwise as [`subscribe_after`](Self::subscribe_after).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(8, || 0u32, 1);
    /// let mut ws = tx.joiner().subscribe_group_after(2, &[cs[0].id()]).unwrap();
    /// tx.push(7).unwrap();
    /// assert!(ws[0].pop().is_err(), "not before the cursor released it");
    /// drop(cs[0].pop().unwrap());
    /// assert_eq!(*ws[0].pop().unwrap(), 7);
    /// ```
    pub fn subscribe_group_after<D: IntoDep>(
        &self,
        members: usize,
        deps: &[D],
    ) -> Result<Vec<Worker<T>>, GraphError> {
        let deps: Vec<Dep> = deps.iter().map(|d| d.into_dep()).collect();
        let ring = &self.ring;
        let mut reg = ring.registry.lock();
        let edges = reg.edges(&deps)?;
        // Provisional claim position, as for a cursor (`subscribe_after`).
        let provisional = reg.gating_floor(ring.producer.get());
        let group = Arc::new(GroupShared::new(provisional, members));
        if members == 0 {
            // Reported with the id the group would have had; nothing joins.
            let id = reg.insert(None, Vec::new(), 1);
            reg.leave(id);
            return Err(GraphError::EmptyGroup(GroupId(id)));
        }
        let id = reg.insert(Some(Gate::Group(group.clone())), edges.clone(), members);
        let version = ring.bump_version();
        drop(reg);
        // The joiner's half of the handshake (claim.rs ground rules).
        join_barrier();
        let start = join_point(ring, &edges);
        group.start_at(start);
        // Moving from the provisional position is a release (see
        // `subscribe_after`).
        ring.released.notify();
        let reg = ring.registry.lock();
        let workers = (0..members)
            .map(|m| {
                Worker::new(
                    ring.clone(),
                    group.clone(),
                    id,
                    m,
                    reg.upstream(id),
                    version,
                )
            })
            .collect();
        Ok(workers)
    }

    /// Live subscriber handles (cursors, workers, lossy cursors). Takes the
    /// registry lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 2);
    /// assert_eq!(tx.joiner().subscribers(), 2);
    /// ```
    pub fn subscribers(&self) -> usize {
        self.ring.registry.lock().live()
    }
}

impl<T: Clone> Joiner<T> {
    /// A new lossy cursor (see [`LossyCursor`]), starting at the published
    /// position. It reads clones; for `T: Copy`,
    /// [`copied`](LossyCursor::copied) switches it to seqlock copies.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// tx.push(1).unwrap();
    /// assert_eq!(l.pop(), Ok(1));
    /// ```
    pub fn subscribe_lossy(&self) -> LossyCursor<T> {
        let ring = &self.ring;
        let mut reg = ring.registry.lock();
        let id = reg.insert(None, Vec::new(), 1);
        ring.bump_version();
        drop(reg);
        // The joiner's half of the lossy join handshake (claim.rs ground
        // rules): every claim past our start sees the version, marks, and
        // waits for clones.
        join_barrier();
        LossyCursor::new(ring.clone(), id, frontier(ring, ring.producer.get()))
    }
}

/// Where a node joining after `deps` starts (after the join handshake): the
/// earliest of the published position and each dep's
/// [`join_start`](Gate::join_start), so at or past every slot the producer
/// may have reused. Items its deps hold at that moment may lie below it
/// (a worker group releases out of order); they stay protected because
/// every node gates the producer, not only the leaves (`graph.rs`).
fn join_point<T>(ring: &Ring<T>, deps: &[Edge]) -> usize {
    let published = frontier(ring, ring.producer.get());
    deps.iter().fold(published, |m, e| {
        crate::queue::position::earlier(m, e.gate.join_start())
    })
}

/// One handle of node `id` leaves (from the handles' `Drop`). The last one
/// takes the node out of the graph, marking it failed at its final position
/// unless it read the stream to its end.
pub(crate) fn leave<T>(ring: &Ring<T>, id: NodeId) {
    let mut reg = ring.registry.lock();
    if let Some(gate) = reg.leave(id) {
        reg.mark_left(&gate, ring.closed_at());
    }
    ring.bump_version();
    drop(reg);
    // A publisher may wait for the room this frees; readers after this node
    // must rewire, or learn that it failed.
    ring.released.notify_slow();
}
