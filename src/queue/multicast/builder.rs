//! Declaring a consumer graph ([`Builder`]), taking its handles
//! ([`Handles`]), and joining or leaving at run time ([`Joiner`]).

use std::fmt;

use super::cursor::Cursor;
use super::graph::{find_cycle, Gate, Kind, NodeId, Registry};
use super::group::{GroupShared, Worker};
use super::lossy::LossyCursor;
use super::publisher::{Mode, Multi, Publisher, Single};
use super::reader::frontier;
use super::ring::{Ring, Slot};
use super::sequence::Sequence;
use super::GraphError;
use crate::queue::ring_capacity;
use crate::sync::{join_barrier, Arc};

/// Declares a multicast ring: its capacity, how slots are made, and the
/// consumer graph (cursors, worker groups, lossy cursors, and which runs
/// after which). [`build`](Self::build) checks the graph and hands back the
/// publisher and a [`Handles`] to take each node's handles from.
///
/// # Examples
///
/// The LMAX shape: journal and replicate in parallel, business logic after
/// both.
///
/// ```
/// use corelane::queue::multicast::Builder;
///
/// let mut b = Builder::new(1024, || 0u64);
/// let journal = b.cursor();
/// let replicate = b.cursor();
/// let logic = b.cursor();
/// b.after(logic, &[journal, replicate]);
/// let (mut tx, mut h) = b.build().unwrap();
/// let (mut j, mut r, mut l) = (h.cursor(journal), h.cursor(replicate), h.cursor(logic));
///
/// tx.try_publish(42).unwrap();
/// assert!(l.try_next().is_err()); // not before journal and replicate
/// drop(j.try_next().unwrap());
/// drop(r.try_next().unwrap());
/// assert_eq!(*l.try_next().unwrap(), 42);
/// ```
pub struct Builder<T> {
    slots: Box<[Slot<T>]>,
    specs: Vec<Spec>,
    /// The first id passed to `after` that this builder did not make.
    unknown: Option<NodeId>,
}

struct Spec {
    kind: Kind,
    members: usize,
    deps: Vec<NodeId>,
}

impl<T> fmt::Debug for Builder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Builder")
            .field("capacity", &self.slots.len())
            .field("nodes", &self.specs.len())
            .finish()
    }
}

impl<T> Builder<T> {
    /// A ring of `capacity` slots (rounded up to a power of two), each made
    /// by `factory` now, once: publishing fills them in place.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 or the ring would not fit in memory.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = corelane::queue::multicast::Builder::new(100, String::new);
    /// assert_eq!(b.capacity(), 128);
    /// ```
    pub fn new(capacity: usize, mut factory: impl FnMut() -> T) -> Self {
        let cap = ring_capacity(capacity, std::mem::size_of::<Slot<T>>());
        Builder {
            slots: (0..cap).map(|_| Slot::new(factory())).collect(),
            specs: Vec::new(),
            unknown: None,
        }
    }

    /// Number of slots.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corelane::queue::multicast::Builder::new(3, || 0u8).capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn add(&mut self, kind: Kind, members: usize) -> NodeId {
        let index = u32::try_from(self.specs.len()).expect("corelane: too many nodes");
        self.specs.push(Spec {
            kind,
            members,
            deps: Vec::new(),
        });
        NodeId { index, gen: 0 }
    }

    /// Declares a broadcast cursor: it sees every item.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(4, || 0u8);
    /// let c = b.cursor();
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert_eq!(h.cursor(c).id(), c);
    /// ```
    pub fn cursor(&mut self) -> NodeId {
        self.add(Kind::Cursor, 1)
    }

    /// Declares a worker group of `members` workers: each item goes to
    /// exactly one of them. An empty group is reported by
    /// [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(4, || 0u8);
    /// let g = b.group(3);
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert_eq!(h.workers(g).len(), 3);
    /// ```
    pub fn group(&mut self, members: usize) -> NodeId {
        self.add(Kind::Group, members)
    }

    /// Declares that `node` runs after every node in `deps`: it never reads
    /// an item before all of them have released it. May be called more than
    /// once for a node; cycles are reported by [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(4, || 0u8);
    /// let (a, c) = (b.cursor(), b.cursor());
    /// b.after(c, &[a]);
    /// assert!(b.build().is_ok());
    /// ```
    pub fn after(&mut self, node: NodeId, deps: &[NodeId]) -> &mut Self {
        match self.specs.get_mut(node.index as usize) {
            Some(s) if node.gen == 0 => s.deps.extend_from_slice(deps),
            // Reported by `build`.
            _ => self.unknown = self.unknown.or(Some(node)),
        }
        self
    }

    /// Builds the ring for one publishing thread.
    ///
    /// # Errors
    ///
    /// [`GraphError::Cycle`] if the `after` declarations form a cycle;
    /// [`GraphError::EmptyGroup`] for a group of zero workers;
    /// [`GraphError::LossyEdge`] if a lossy cursor runs after, or is run
    /// after by, another node; [`GraphError::UnknownNode`] for an id this
    /// builder did not make.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, GraphError};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let (x, y) = (b.cursor(), b.cursor());
    /// b.after(x, &[y]).after(y, &[x]);
    /// assert!(matches!(b.build(), Err(GraphError::Cycle(_))));
    /// ```
    pub fn build(self) -> Result<(Publisher<T, Single>, Handles<T>), GraphError> {
        self.build_as::<Single>()
    }

    /// Builds the ring for many publishing threads (the publisher is
    /// `Clone`).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(8, || 0u32);
    /// let c = b.cursor();
    /// let (tx, mut h) = b.build_multi().unwrap();
    /// let mut c = h.cursor(c);
    /// let ts: Vec<_> = (0..2)
    ///     .map(|i| {
    ///         let mut tx = tx.clone();
    ///         std::thread::spawn(move || tx.try_publish(i).unwrap())
    ///     })
    ///     .collect();
    /// ts.into_iter().for_each(|t| { t.join().unwrap(); });
    /// assert_eq!(c.poll(8).unwrap().iter().sum::<u32>(), 1);
    /// ```
    pub fn build_multi(self) -> Result<(Publisher<T, Multi>, Handles<T>), GraphError> {
        self.build_as::<Multi>()
    }

    fn check(&self) -> Result<(), GraphError> {
        if let Some(bad) = self.unknown {
            return Err(GraphError::UnknownNode(bad));
        }
        let n = self.specs.len();
        for (i, s) in self.specs.iter().enumerate() {
            let id = NodeId {
                index: i as u32,
                gen: 0,
            };
            if let Some(&bad) = s.deps.iter().find(|d| d.index as usize >= n || d.gen != 0) {
                return Err(GraphError::UnknownNode(bad));
            }
            if s.kind == Kind::Group && s.members == 0 {
                return Err(GraphError::EmptyGroup(id));
            }
            if s.kind == Kind::Lossy && !s.deps.is_empty() {
                return Err(GraphError::LossyEdge(id));
            }
            if let Some(&d) = s
                .deps
                .iter()
                .find(|d| self.specs[d.index as usize].kind == Kind::Lossy)
            {
                return Err(GraphError::LossyEdge(d));
            }
        }
        let deps: Vec<Vec<usize>> = self
            .specs
            .iter()
            .map(|s| s.deps.iter().map(|d| d.index as usize).collect())
            .collect();
        match find_cycle(&deps) {
            Some(left) => Err(GraphError::Cycle(
                left.into_iter()
                    .map(|i| NodeId {
                        index: i as u32,
                        gen: 0,
                    })
                    .collect(),
            )),
            None => Ok(()),
        }
    }

    fn build_as<M: Mode>(self) -> Result<(Publisher<T, M>, Handles<T>), GraphError> {
        self.check()?;
        let mut reg = Registry::new();
        let mut gates = Vec::with_capacity(self.specs.len());
        for s in &self.specs {
            let mut deps = s.deps.clone();
            deps.sort_unstable_by_key(|d| d.index);
            deps.dedup();
            let gate = match s.kind {
                Kind::Cursor => Some(Gate::Cursor(Arc::new(Sequence::new(0)))),
                Kind::Group => Some(Gate::Group(Arc::new(GroupShared::new(0, s.members)))),
                Kind::Lossy => None,
            };
            reg.insert(gate.clone(), deps, s.members);
            gates.push(gate);
        }
        let ring = Arc::new(Ring::new(self.slots, M::MULTI, Registry::new()));
        let reg = {
            let mut slot = ring.registry.lock();
            *slot = reg;
            slot
        };
        let version = ring.version();
        let nodes = gates
            .into_iter()
            .enumerate()
            .map(|(i, gate)| {
                let id = NodeId {
                    index: i as u32,
                    gen: 0,
                };
                let r = ring.clone();
                Some(match gate {
                    Some(Gate::Cursor(seq)) => {
                        Taken::Cursor(Cursor::new(r, seq, id, 0, reg.upstream(id), version))
                    }
                    Some(Gate::Group(g)) => Taken::Workers(
                        (0..self.specs[i].members)
                            .map(|m| {
                                let (r, g) = (r.clone(), g.clone());
                                Worker::new(r, g, id, m, reg.upstream(id), version)
                            })
                            .collect(),
                    ),
                    None => Taken::Lossy(LossyCursor::new(r, id, 0)),
                })
            })
            .collect();
        drop(reg);
        let publisher = Publisher::new(ring.clone());
        Ok((publisher, Handles { ring, nodes }))
    }
}

impl<T: Copy> Builder<T> {
    /// Declares a lossy cursor: it never gates the producer and reports
    /// `Lagged(n)` when overrun (see [`LossyCursor`]). Only for `T: Copy`,
    /// because it reads copies that a concurrent overwrite may invalidate.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(2, || 0u8);
    /// let l = b.lossy_cursor();
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut l = h.lossy(l);
    /// tx.try_publish(1).unwrap();
    /// assert_eq!(l.try_read(), Ok(1));
    /// ```
    pub fn lossy_cursor(&mut self) -> NodeId {
        self.add(Kind::Lossy, 1)
    }
}

enum Taken<T> {
    Cursor(Cursor<T>),
    Workers(Vec<Worker<T>>),
    Lossy(LossyCursor<T>),
}

/// The handles of a built graph, taken by node id. Handles not taken are
/// dropped with this value (their nodes leave the graph).
///
/// # Examples
///
/// ```
/// let mut b = corelane::queue::multicast::Builder::new(4, || 0u8);
/// let c = b.cursor();
/// let (_tx, mut h) = b.build().unwrap();
/// let _c = h.cursor(c);
/// ```
pub struct Handles<T> {
    ring: Arc<Ring<T>>,
    nodes: Vec<Option<Taken<T>>>,
}

impl<T> fmt::Debug for Handles<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let left = self.nodes.iter().filter(|n| n.is_some()).count();
        f.debug_struct("multicast::Handles")
            .field("untaken", &left)
            .finish()
    }
}

impl<T> Handles<T> {
    fn take(&mut self, id: NodeId, what: &str) -> Taken<T> {
        self.nodes
            .get_mut(id.index as usize)
            .filter(|_| id.gen == 0)
            .and_then(Option::take)
            .unwrap_or_else(|| panic!("corelane: {id:?} is not an untaken {what} of this ring"))
    }

    /// Takes the cursor declared as `id`.
    ///
    /// # Panics
    ///
    /// If `id` is not a cursor of this builder, or was taken already.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(4, || 0u8);
    /// let c = b.cursor();
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut c = h.cursor(c);
    /// tx.try_publish(1).unwrap();
    /// assert_eq!(*c.try_next().unwrap(), 1);
    /// ```
    pub fn cursor(&mut self, id: NodeId) -> Cursor<T> {
        match self.take(id, "cursor") {
            Taken::Cursor(c) => c,
            _ => panic!("corelane: {id:?} is not a cursor"),
        }
    }

    /// Takes the workers of the group declared as `id`.
    ///
    /// # Panics
    ///
    /// If `id` is not a group of this builder, or was taken already.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(4, || 0u8);
    /// let g = b.group(2);
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert_eq!(h.workers(g).len(), 2);
    /// ```
    pub fn workers(&mut self, id: NodeId) -> Vec<Worker<T>> {
        match self.take(id, "group") {
            Taken::Workers(w) => w,
            _ => panic!("corelane: {id:?} is not a worker group"),
        }
    }

    /// Takes the lossy cursor declared as `id`.
    ///
    /// # Panics
    ///
    /// If `id` is not a lossy cursor of this builder, or was taken already.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(4, || 0u8);
    /// let l = b.lossy_cursor();
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert_eq!(h.lossy(l).sequence(), 0);
    /// ```
    pub fn lossy(&mut self, id: NodeId) -> LossyCursor<T> {
        match self.take(id, "lossy cursor") {
            Taken::Lossy(l) => l,
            _ => panic!("corelane: {id:?} is not a lossy cursor"),
        }
    }

    /// A handle to subscribe more cursors at run time.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, h) = corelane::queue::multicast::Builder::new(4, || 0u8).build().unwrap();
    /// let _c = h.joiner().subscribe();
    /// ```
    pub fn joiner(&self) -> Joiner<T> {
        Joiner::new(self.ring.clone())
    }
}

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
/// tx.try_publish(1).unwrap();
/// let mut late = joiner.subscribe();
/// tx.try_publish(2).unwrap();
/// assert_eq!(*late.try_next().unwrap(), 2);
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
    /// tx.try_publish(5).unwrap();
    /// assert_eq!(*c.try_next().unwrap(), 5);
    /// ```
    pub fn subscribe(&self) -> Cursor<T> {
        self.subscribe_after(&[])
            .expect("corelane: a root cursor has no edges to check")
    }

    /// A new broadcast cursor that runs after every node in `deps` (cursors
    /// or worker groups). It starts at the earliest of the published
    /// position and the positions of `deps` (for a worker group, its claim
    /// position: items its members hold at that moment are not seen).
    ///
    /// # Errors
    ///
    /// [`GraphError::UnknownNode`] if a node of `deps` has left (or belongs to
    /// another ring); [`GraphError::LossyEdge`] if it is a lossy cursor.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut audit = tx.joiner().subscribe_after(&[cs[0].id()]).unwrap();
    /// tx.try_publish(1).unwrap();
    /// assert!(audit.try_next().is_err());
    /// drop(cs[0].try_next().unwrap());
    /// assert_eq!(*audit.try_next().unwrap(), 1);
    /// ```
    pub fn subscribe_after(&self, deps: &[NodeId]) -> Result<Cursor<T>, GraphError> {
        let ring = &self.ring;
        let mut reg = ring.registry.lock();
        let dep_gates = reg.dep_gates(deps)?;
        // Provisional position: no later than anything the gating set
        // protects, so it is safe whichever copy the producer holds.
        let provisional = reg.gating_floor(ring.producer.get());
        let seq = Arc::new(Sequence::new(provisional));
        let mut deps = deps.to_vec();
        deps.sort_unstable_by_key(|d| (d.index, d.gen));
        deps.dedup();
        let gate = Some(Gate::Cursor(seq.clone()));
        let id = reg.insert(gate, deps, 1);
        let version = ring.bump_version();
        let upstream = reg.upstream(id);
        drop(reg);
        // The joiner's half of the handshake (publisher.rs ground rules).
        join_barrier();
        let start = join_point(ring, &dep_gates);
        seq.set(start);
        // Moving from the provisional position is a release: a publisher
        // may be parked on it (found by the loom join model).
        ring.released.notify();
        Ok(Cursor::new(ring.clone(), seq, id, start, upstream, version))
    }

    /// A new worker group of `members` workers that runs after every node
    /// in `deps` (none: straight after the producer). Each item published
    /// after the join goes to exactly one of its workers; the group gates
    /// the producer like a cursor. It starts where a cursor joining with
    /// the same `deps` would (see [`subscribe_after`](Self::subscribe_after)).
    ///
    /// # Errors
    ///
    /// [`GraphError::EmptyGroup`] if `members` is 0 (nothing is joined);
    /// otherwise as [`subscribe_after`](Self::subscribe_after).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(8, || 0u32, 1);
    /// tx.try_publish(1).unwrap(); // before the join: not for the group
    /// let mut workers = tx.joiner().subscribe_group(2, &[]).unwrap();
    /// tx.try_publish(2).unwrap();
    /// tx.try_publish(3).unwrap();
    /// assert_eq!(*workers[1].try_next().unwrap(), 2);
    /// assert_eq!(*workers[0].try_next().unwrap(), 3);
    /// ```
    pub fn subscribe_group(
        &self,
        members: usize,
        deps: &[NodeId],
    ) -> Result<Vec<Worker<T>>, GraphError> {
        let ring = &self.ring;
        let mut reg = ring.registry.lock();
        let dep_gates = reg.dep_gates(deps)?;
        // Provisional claim position, as for a cursor (`subscribe_after`).
        let provisional = reg.gating_floor(ring.producer.get());
        let group = Arc::new(GroupShared::new(provisional, members));
        let mut deps = deps.to_vec();
        deps.sort_unstable_by_key(|d| (d.index, d.gen));
        deps.dedup();
        if members == 0 {
            // Reported with the id the group would have had; nothing joins.
            let id = reg.insert(None, Vec::new(), 1);
            reg.leave(id);
            return Err(GraphError::EmptyGroup(id));
        }
        let id = reg.insert(Some(Gate::Group(group.clone())), deps, members);
        let version = ring.bump_version();
        drop(reg);
        // The joiner's half of the handshake (publisher.rs ground rules).
        join_barrier();
        let start = join_point(ring, &dep_gates);
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

impl<T: Copy> Joiner<T> {
    /// A new lossy cursor (see [`LossyCursor`]), starting at the published
    /// position.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// tx.try_publish(1).unwrap();
    /// assert_eq!(l.try_read(), Ok(1));
    /// ```
    pub fn subscribe_lossy(&self) -> LossyCursor<T> {
        let ring = &self.ring;
        let mut reg = ring.registry.lock();
        let id = reg.insert(None, Vec::new(), 1);
        ring.bump_version();
        drop(reg);
        // The joiner's half of the lossy join handshake (publisher.rs ground
        // rules): every claim past our start sees the version and marks.
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
fn join_point<T>(ring: &Ring<T>, deps: &[Gate]) -> usize {
    let published = frontier(ring, ring.producer.get());
    deps.iter().fold(published, |m, g| {
        super::sequence::earlier(m, g.join_start())
    })
}

/// One handle of node `id` leaves (from the handles' `Drop`).
pub(crate) fn leave<T>(ring: &Ring<T>, id: NodeId) {
    let mut reg = ring.registry.lock();
    reg.leave(id);
    ring.bump_version();
    drop(reg);
    // A publisher may wait for the room this frees; readers after this node
    // must rewire.
    ring.released.notify_slow();
}
