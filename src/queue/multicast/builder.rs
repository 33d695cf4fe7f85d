//! Declaring a consumer graph ([`Builder`]) and taking its handles
//! ([`Handles`]).

use std::fmt;

use super::cursor::{Cursor, CursorShared};
use super::graph::{find_cycle, Edge, Gate, Kind, Registry};
use super::group::GroupShared;
use super::id::{CursorId, Dep, GatingId, GroupId, IntoDep, LossyId, NodeId, OnFailure};
use super::lossy::LossyCursor;
use super::publisher::{Mode, Multi, Publisher, Single};
use super::ring::{Ring, Slot};
use super::worker::Worker;
use super::{GraphError, Joiner};
use crate::queue::ring_capacity;
use crate::sync::Arc;

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
/// tx.push(42).unwrap();
/// assert!(l.pop().is_err()); // not before journal and replicate
/// drop(j.pop().unwrap());
/// drop(r.pop().unwrap());
/// assert_eq!(*l.pop().unwrap(), 42);
/// ```
///
/// Ids are typed per kind of node, so taking a handle of the wrong kind
/// does not compile:
///
/// ```compile_fail
/// let mut b = corelane::queue::multicast::Builder::new(4, || 0u8);
/// let g = b.group(2);
/// let (_tx, mut h) = b.build().unwrap();
/// let _ = h.cursor(g); // a GroupId is not a CursorId
/// ```
pub struct Builder<T> {
    slots: Box<[Slot<T>]>,
    specs: Vec<Spec>,
    /// The first id passed to `after` that this builder did not make.
    unknown: Option<NodeId>,
    /// Carried by every id this builder (and the ring it builds) hands out.
    tag: u32,
}

struct Spec {
    kind: Kind,
    members: usize,
    deps: Vec<Dep>,
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
            tag: crate::sync::next_tag(),
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
        self.id(index as usize)
    }

    /// The id of the node declared `index`-th.
    fn id(&self, index: usize) -> NodeId {
        NodeId {
            ring: self.tag,
            index: index as u32,
            gen: 0,
            kind: self.specs[index].kind,
        }
    }

    /// True if `id` names a node this builder declared.
    fn declared(&self, id: NodeId) -> bool {
        id.ring == self.tag && id.gen == 0 && (id.index as usize) < self.specs.len()
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
    pub fn cursor(&mut self) -> CursorId {
        CursorId(self.add(Kind::Cursor, 1))
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
    pub fn group(&mut self, members: usize) -> GroupId {
        GroupId(self.add(Kind::Group, members))
    }

    /// Declares that `node` (a cursor or a group) runs after every node in
    /// `deps`: it never reads an item before all of them have released it.
    /// Each dependency is a [`CursorId`] or [`GroupId`], which fails the
    /// dependent where that node fails ([`OnFailure::Fail`]), or a [`Dep`]
    /// that says what to do ([`Dep::rewire`]); a list mixing kinds of ids
    /// is written as `Dep`s. May be called more than once for a node (a
    /// node listed twice keeps [`OnFailure::Fail`] if either says so);
    /// cycles are reported by [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, Dep};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let (a, c, g) = (b.cursor(), b.cursor(), b.group(2));
    /// b.after(c, &[a]);
    /// b.after(g, &[Dep::fail(c), Dep::rewire(a)]);
    /// assert!(b.build().is_ok());
    /// ```
    pub fn after<D: IntoDep>(&mut self, node: impl GatingId, deps: &[D]) -> &mut Self {
        let node: NodeId = node.into();
        if self.declared(node) {
            let spec = &mut self.specs[node.index as usize];
            spec.deps.extend(deps.iter().map(|d| d.into_dep()));
        } else {
            // Reported by `build`.
            self.unknown = self.unknown.or(Some(node));
        }
        self
    }

    /// Builds the ring for one publishing thread.
    ///
    /// # Errors
    ///
    /// [`GraphError::Cycle`] if the `after` declarations form a cycle;
    /// [`GraphError::EmptyGroup`] for a group of zero workers;
    /// [`GraphError::LossyEdge`] if an erased [`NodeId`] made a lossy
    /// cursor run after, or be run after by, another node;
    /// [`GraphError::UnknownNode`] for an id this builder did not make.
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
    ///         std::thread::spawn(move || tx.push(i).unwrap())
    ///     })
    ///     .collect();
    /// ts.into_iter().for_each(|t| { t.join().unwrap(); });
    /// assert_eq!(c.pop_batch(8).unwrap().iter().sum::<u32>(), 1);
    /// ```
    pub fn build_multi(self) -> Result<(Publisher<T, Multi>, Handles<T>), GraphError> {
        self.build_as::<Multi>()
    }

    fn check(&self) -> Result<(), GraphError> {
        if let Some(bad) = self.unknown {
            return Err(GraphError::UnknownNode(bad));
        }
        for (i, s) in self.specs.iter().enumerate() {
            let id = self.id(i);
            if let Some(bad) = s.deps.iter().map(Dep::node).find(|&d| !self.declared(d)) {
                return Err(GraphError::UnknownNode(bad));
            }
            if s.kind == Kind::Group && s.members == 0 {
                return Err(GraphError::EmptyGroup(GroupId(id)));
            }
            if s.kind == Kind::Lossy && !s.deps.is_empty() {
                return Err(GraphError::LossyEdge(LossyId(id)));
            }
            if let Some(d) = s
                .deps
                .iter()
                .map(Dep::node)
                .find(|d| self.specs[d.index as usize].kind == Kind::Lossy)
            {
                return Err(GraphError::LossyEdge(LossyId(d)));
            }
        }
        let deps: Vec<Vec<usize>> = self
            .specs
            .iter()
            .map(|s| s.deps.iter().map(|d| d.node().index as usize).collect())
            .collect();
        match find_cycle(&deps) {
            Some(left) => Err(GraphError::Cycle(
                left.into_iter().map(|i| self.id(i)).collect(),
            )),
            None => Ok(()),
        }
    }

    fn build_as<M: Mode>(self) -> Result<(Publisher<T, M>, Handles<T>), GraphError> {
        self.check()?;
        let gates: Vec<Option<Gate>> = self
            .specs
            .iter()
            .map(|s| match s.kind {
                Kind::Cursor => Some(Gate::Cursor(Arc::new(CursorShared::new(0)))),
                Kind::Group => Some(Gate::Group(Arc::new(GroupShared::new(0, s.members)))),
                Kind::Lossy => None,
            })
            .collect();
        let mut reg = Registry::new(self.tag);
        for (s, gate) in self.specs.iter().zip(&gates) {
            let edges = self.edges(&s.deps, &gates);
            reg.insert(gate.clone(), edges, s.members);
        }
        let tag = self.tag;
        let ring = Arc::new(Ring::new(self.slots, M::MULTI, Registry::new(tag)));
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
                    ring: tag,
                    index: i as u32,
                    gen: 0,
                    kind: self.specs[i].kind,
                };
                let r = ring.clone();
                Some(match gate {
                    Some(Gate::Cursor(c)) => {
                        Taken::Cursor(Cursor::new(r, c, id, 0, reg.upstream(id), version))
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
        Ok((publisher, Handles { ring, nodes, tag }))
    }

    /// The edges of a checked node's `deps`, one per node depended on (the
    /// stricter policy wins for a node listed twice).
    fn edges(&self, deps: &[Dep], gates: &[Option<Gate>]) -> Vec<Edge> {
        let mut edges: Vec<Edge> = Vec::with_capacity(deps.len());
        for d in deps {
            let node = d.node();
            match edges.iter_mut().find(|e| e.node == node) {
                Some(e) if d.policy() == OnFailure::Fail => e.policy = OnFailure::Fail,
                Some(_) => {}
                None => edges.push(Edge {
                    node,
                    gate: gates[node.index as usize]
                        .clone()
                        .expect("corelane: checked: no edge to a lossy cursor"),
                    policy: d.policy(),
                }),
            }
        }
        edges
    }
}

impl<T: Clone> Builder<T> {
    /// Declares a lossy cursor: it never gates the producer and reports
    /// `Lagged(n)` when overrun (see [`LossyCursor`]). It reads clones of
    /// the items (`T: Clone`); for `T: Copy`,
    /// [`copied`](LossyCursor::copied) switches it to seqlock copies.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = corelane::queue::multicast::Builder::new(2, String::new);
    /// let l = b.lossy_cursor();
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut l = h.lossy(l);
    /// tx.push("a".into()).unwrap();
    /// assert_eq!(l.pop().as_deref(), Ok("a"));
    /// ```
    pub fn lossy_cursor(&mut self) -> LossyId {
        LossyId(self.add(Kind::Lossy, 1))
    }
}

enum Taken<T> {
    Cursor(Cursor<T>),
    Workers(Vec<Worker<T>>),
    Lossy(LossyCursor<T>),
}

/// The handles of a built graph, taken by typed node id. Handles not taken
/// are dropped with this value (their nodes leave the graph, at the start
/// of the stream: their [`OnFailure::Fail`] dependents stop before the
/// first item).
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
    tag: u32,
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
            .filter(|_| id.gen == 0 && id.ring == self.tag)
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
    /// tx.push(1).unwrap();
    /// assert_eq!(*c.pop().unwrap(), 1);
    /// ```
    pub fn cursor(&mut self, id: CursorId) -> Cursor<T> {
        let id = id.0;
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
    pub fn workers(&mut self, id: GroupId) -> Vec<Worker<T>> {
        let id = id.0;
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
    pub fn lossy(&mut self, id: LossyId) -> LossyCursor<T> {
        let id = id.0;
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
