//! Node ids, typed per kind of node ([`CursorId`], [`GroupId`], [`LossyId`],
//! all erasing to [`NodeId`]), and the dependencies declared with them
//! ([`Dep`], its [`OnFailure`] policy, and the sealed [`GatingId`] /
//! [`IntoDep`] traits that `after` and `subscribe_after` take).

use std::fmt;

use super::graph::Kind;

/// Identifies a node of a ring's consumer graph, whatever its kind: a
/// cursor, a worker group or a lossy cursor. The typed ids ([`CursorId`],
/// [`GroupId`], [`LossyId`]) convert into it; errors and
/// [`UpstreamFailed`](super::UpstreamFailed) report nodes by it. An id of a
/// node that has left is never reused for another node.
///
/// It displays as the node's kind and its index in the ring's graph:
/// `cursor #0`, `worker group #1`, `lossy cursor #2`. Nodes declared on a
/// [`Builder`](super::Builder) are numbered in the order they were
/// declared, all kinds together; a node that joins later takes the next
/// index, or the index of a node that has left, shown with its generation
/// (`cursor #0 (gen 1)`) so that it reads differently from the leaver.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, NodeId};
///
/// let mut b = Builder::new(8, || 0u32);
/// let a = b.cursor();
/// let g = b.group(2);
/// assert_ne!(NodeId::from(a), NodeId::from(g));
/// assert_eq!(NodeId::from(a), a); // a typed id equals its erased id
/// assert_eq!(NodeId::from(g).to_string(), "worker group #1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId {
    /// The ring (or builder) that made the id: an id from another ring
    /// names nothing here.
    pub(crate) ring: u32,
    pub(crate) index: u32,
    pub(crate) gen: u32,
    /// Fixed for the node's life, so it only names it (`Display`); the
    /// typed ids are what keep kinds apart at compile time.
    pub(crate) kind: Kind,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Cursor => "cursor",
            Kind::Group => "worker group",
            Kind::Lossy => "lossy cursor",
        };
        write!(f, "{kind} #{}", self.index)?;
        if self.gen != 0 {
            write!(f, " (gen {})", self.gen)?;
        }
        Ok(())
    }
}

/// The id of a broadcast [`Cursor`](super::Cursor), from
/// [`Builder::cursor`](super::Builder::cursor) or [`Cursor::id`](super::Cursor::id).
/// Only [`Handles::cursor`](super::Handles::cursor) takes it, so a group's
/// or a lossy cursor's id cannot be taken as a cursor.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, CursorId};
///
/// let mut b = Builder::new(4, || 0u8);
/// let id: CursorId = b.cursor();
/// let (_tx, mut h) = b.build().unwrap();
/// assert_eq!(h.cursor(id).id(), id);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CursorId(pub(crate) NodeId);

/// The id of a worker group, from [`Builder::group`](super::Builder::group)
/// or [`Worker::id`](super::Worker::id). Only
/// [`Handles::workers`](super::Handles::workers) takes it.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, GroupId};
///
/// let mut b = Builder::new(4, || 0u8);
/// let g: GroupId = b.group(2);
/// let (_tx, mut h) = b.build().unwrap();
/// assert!(h.workers(g).iter().all(|w| w.id() == g));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupId(pub(crate) NodeId);

/// The id of a [`LossyCursor`](super::LossyCursor), from
/// [`Builder::lossy_cursor`](super::Builder::lossy_cursor). Only
/// [`Handles::lossy`](super::Handles::lossy) takes it; it is not an
/// [`IntoDep`], since a lossy cursor may skip items and so can vouch for
/// none.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, LossyId};
///
/// let mut b = Builder::new(4, || 0u8);
/// let l: LossyId = b.lossy_cursor();
/// let (_tx, mut h) = b.build().unwrap();
/// assert_eq!(h.lossy(l).id(), l);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LossyId(pub(crate) NodeId);

impl From<CursorId> for NodeId {
    fn from(id: CursorId) -> NodeId {
        id.0
    }
}

impl From<GroupId> for NodeId {
    fn from(id: GroupId) -> NodeId {
        id.0
    }
}

impl From<LossyId> for NodeId {
    fn from(id: LossyId) -> NodeId {
        id.0
    }
}

// A typed id equals the erased id of the same node, so errors (which
// report `NodeId`s) compare with the ids the builder handed out.
impl PartialEq<CursorId> for NodeId {
    fn eq(&self, other: &CursorId) -> bool {
        *self == other.0
    }
}

impl PartialEq<NodeId> for CursorId {
    fn eq(&self, other: &NodeId) -> bool {
        self.0 == *other
    }
}

impl PartialEq<GroupId> for NodeId {
    fn eq(&self, other: &GroupId) -> bool {
        *self == other.0
    }
}

impl PartialEq<NodeId> for GroupId {
    fn eq(&self, other: &NodeId) -> bool {
        self.0 == *other
    }
}

impl PartialEq<LossyId> for NodeId {
    fn eq(&self, other: &LossyId) -> bool {
        *self == other.0
    }
}

impl PartialEq<NodeId> for LossyId {
    fn eq(&self, other: &NodeId) -> bool {
        self.0 == *other
    }
}

/// What a node does when a node it runs after *fails*: leaves the graph
/// (its last handle dropped, say because its thread panicked) before it
/// has released every item of the stream, or stops for good at an item
/// (a worker that died holding it, or a node that itself stopped on
/// [`UpstreamFailed`](super::UpstreamFailed)).
///
/// A node that leaves after releasing everything up to the end of the
/// stream (every publisher gone, everything read) has not failed.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, Dep, OnFailure};
///
/// let mut b = Builder::new(8, || 0u32);
/// let (journal, metrics, logic) = (b.cursor(), b.cursor(), b.cursor());
/// // Logic must never see an item the journal did not process, but may
/// // carry on without the metrics cursor.
/// b.after(logic, &[Dep::new(journal, OnFailure::Fail), Dep::rewire(metrics)]);
/// assert_eq!(OnFailure::default(), OnFailure::Fail);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OnFailure {
    /// The dependent reads every item the failed node released, then stops
    /// at the first one it did not: its reads return
    /// [`UpstreamFailed`](super::UpstreamFailed) from there on, and it
    /// counts as failed at that item itself (so the failure travels down
    /// the graph). The default.
    #[default]
    Fail,
    /// The dependent carries on as if it had been declared after what the
    /// failed node ran after (the nodes it ran after, with their policies),
    /// once the failed node has left the graph. It may then read items the
    /// failed node never processed. A worker group that lost items while
    /// its other members run on is not waited out: a `Rewire` dependent
    /// reads past the lost items as the group releases them.
    Rewire,
}

/// One dependency: a node to run after and what to do if it fails.
/// [`Builder::after`](super::Builder::after) and
/// [`Joiner::subscribe_after`](super::Joiner::subscribe_after) take these
/// (or bare ids, which mean [`OnFailure::Fail`]).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, Dep, NodeId, OnFailure};
///
/// let mut b = Builder::new(8, || 0u32);
/// let (journal, workers, logic) = (b.cursor(), b.group(2), b.cursor());
/// // A cursor and a group in one list: make both `Dep`s.
/// b.after(logic, &[Dep::fail(journal), Dep::rewire(workers)]);
/// let d = Dep::rewire(workers);
/// assert_eq!((d.node(), d.policy()), (NodeId::from(workers), OnFailure::Rewire));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dep {
    node: NodeId,
    policy: OnFailure,
}

impl Dep {
    /// A dependency on `node` with the given policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, Dep, OnFailure};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let c = b.cursor();
    /// assert_eq!(Dep::new(c, OnFailure::Rewire), Dep::rewire(c));
    /// ```
    pub fn new(node: impl GatingId, policy: OnFailure) -> Dep {
        Dep {
            node: node.into(),
            policy,
        }
    }

    /// A dependency on `node` that stops the dependent where `node` failed
    /// ([`OnFailure::Fail`], what a bare id means).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, Dep, IntoDep};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let c = b.cursor();
    /// assert_eq!(Dep::fail(c), c.into_dep());
    /// ```
    pub fn fail(node: impl GatingId) -> Dep {
        Dep::new(node, OnFailure::Fail)
    }

    /// A dependency on `node` that is rewired past it if it fails
    /// ([`OnFailure::Rewire`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, Dep, OnFailure};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// assert_eq!(Dep::rewire(g).policy(), OnFailure::Rewire);
    /// ```
    pub fn rewire(node: impl GatingId) -> Dep {
        Dep::new(node, OnFailure::Rewire)
    }

    /// The node depended on.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, Dep, NodeId};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let c = b.cursor();
    /// assert_eq!(Dep::fail(c).node(), NodeId::from(c));
    /// ```
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// What the dependent does if the node fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, Dep, OnFailure};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let c = b.cursor();
    /// assert_eq!(Dep::fail(c).policy(), OnFailure::Fail);
    /// ```
    pub fn policy(&self) -> OnFailure {
        self.policy
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NodeId {}
    impl Sealed for super::CursorId {}
    impl Sealed for super::GroupId {}
    impl Sealed for super::Dep {}
}

/// The ids of nodes that can run after others and be run after: a cursor
/// ([`CursorId`]), a worker group ([`GroupId`]), or an erased [`NodeId`]
/// (whose kind is checked when the graph is built or joined: a lossy
/// cursor's is refused with [`GraphError::LossyEdge`](super::GraphError::LossyEdge)). Sealed.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, GatingId, NodeId};
///
/// fn erase(id: impl GatingId) -> NodeId {
///     id.into()
/// }
/// let mut b = Builder::new(4, || 0u8);
/// let c = b.cursor();
/// assert_eq!(erase(c), NodeId::from(c));
/// ```
pub trait GatingId: Copy + Into<NodeId> + sealed::Sealed {}

impl GatingId for CursorId {}
impl GatingId for GroupId {}
impl GatingId for NodeId {}

/// What the dependency lists of [`Builder::after`](super::Builder::after)
/// and [`Joiner::subscribe_after`](super::Joiner::subscribe_after) hold: a
/// [`Dep`], or a bare [`GatingId`] (a dependency with
/// [`OnFailure::Fail`]). A list mixing kinds of ids is written as `Dep`s.
/// Sealed.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, Dep, IntoDep, OnFailure};
///
/// let mut b = Builder::new(4, || 0u8);
/// let g = b.group(1);
/// assert_eq!(g.into_dep().policy(), OnFailure::Fail);
/// assert_eq!(Dep::rewire(g).into_dep(), Dep::rewire(g));
/// ```
pub trait IntoDep: Copy + sealed::Sealed {
    /// The dependency this value stands for.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, Dep, IntoDep};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let c = b.cursor();
    /// assert_eq!(c.into_dep(), Dep::fail(c));
    /// ```
    fn into_dep(self) -> Dep;
}

impl<G: GatingId> IntoDep for G {
    fn into_dep(self) -> Dep {
        Dep::fail(self)
    }
}

impl IntoDep for Dep {
    fn into_dep(self) -> Dep {
        self
    }
}
