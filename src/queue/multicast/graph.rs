//! The consumer graph: what a node exposes to the nodes after it and to the
//! producer (a [`Gate`], with its failure mark), a dependency as it lives
//! in the graph (an [`Edge`]), and the registry that tracks live nodes
//! under a lock taken only on join, leave and failure. The ids and the
//! declared dependencies are in `id.rs`.

use std::fmt;

use super::cursor::CursorShared;
use super::group::GroupShared;
use super::id::{Dep, LossyId, NodeId, OnFailure};
use super::sequence::Sequence;
use super::GraphError;
use crate::queue::position::{ahead, earlier};
use crate::sync::Arc;

/// `failed_at` of a node that has not failed.
pub(crate) const NOT_FAILED: usize = usize::MAX;

/// What the producer and downstream nodes read of a node: its released
/// position, and where it failed.
#[derive(Clone)]
pub(crate) enum Gate {
    Cursor(Arc<CursorShared>),
    Group(Arc<GroupShared>),
}

impl Gate {
    /// Where a node that joins after this one may start: at or past every
    /// slot the producer may already have reused, and at or before the next
    /// item this node will release. For a cursor, its position; for a group,
    /// its claim cursor (its `position` may dip for a moment).
    #[inline]
    pub(crate) fn join_start(&self) -> usize {
        match self {
            Gate::Cursor(c) => c.released.get(),
            Gate::Group(group) => group.start_after(),
        }
    }

    /// Every position below this one is released by the node.
    #[inline]
    pub(crate) fn position(&self) -> usize {
        match self {
            Gate::Cursor(c) => c.released.get(),
            Gate::Group(group) => group.position(),
        }
    }

    /// Where the node failed: the first item it will never release
    /// processed (see [`OnFailure`]), or `None`. Acquire (in
    /// [`Sequence::get`](super::sequence::Sequence::get)): pairs with the
    /// Release in [`Registry::mark_failed`]; loaded *after*
    /// [`position`](Self::position), so a position that moved past lost
    /// items (a dead worker's `held` withdrawn) comes with the mark stored
    /// before it (ground rules of `mod.rs`).
    #[inline]
    pub(crate) fn failed_at(&self) -> Option<usize> {
        let at = match self {
            Gate::Cursor(c) => c.failed_at.get(),
            Gate::Group(group) => group.failed_at.get(),
        };
        (at != NOT_FAILED).then_some(at)
    }

    /// The position at which a node that leaves the graph now stops: a
    /// cursor's released position, a group's claim cursor (its members are
    /// gone, so every claimed item was released or marked lost).
    fn final_position(&self) -> usize {
        match self {
            Gate::Cursor(c) => c.released.get(),
            Gate::Group(group) => group.start_after(),
        }
    }

    fn failure_mark(&self) -> &Sequence {
        match self {
            Gate::Cursor(c) => &c.failed_at,
            Gate::Group(group) => &group.failed_at,
        }
    }
}

/// One dependency of a live node: the node it runs after (which may have
/// left the graph: a failed node is kept by its [`OnFailure::Fail`]
/// dependents), that node's gate, and the policy.
#[derive(Clone)]
pub(crate) struct Edge {
    pub(crate) node: NodeId,
    pub(crate) gate: Gate,
    pub(crate) policy: OnFailure,
}

impl Edge {
    /// How far a dependent may read after this edge: the node's position,
    /// and for [`OnFailure::Fail`] no further than where it failed.
    #[inline]
    fn limit(&self) -> usize {
        let released = self.gate.position();
        match self.policy {
            OnFailure::Fail => match self.gate.failed_at() {
                Some(at) => earlier(released, at),
                None => released,
            },
            OnFailure::Rewire => released,
        }
    }
}

/// Where a reader learns how far it may read: its upstream.
pub(crate) enum Upstream {
    /// The producer: the slot stamps (a root reader).
    Producer,
    /// The nodes it runs after: the earliest of their limits.
    Nodes(Box<[Edge]>),
}

impl Upstream {
    /// For [`Upstream::Nodes`]: the earliest upstream limit.
    #[inline]
    pub(crate) fn position(edges: &[Edge]) -> usize {
        let mut it = edges.iter();
        let first = it.next().map_or(0, Edge::limit);
        it.fold(first, |m, e| earlier(m, e.limit()))
    }

    /// A [`OnFailure::Fail`] dependency that failed at or before `pos`: a
    /// reader at `pos` can never read on.
    pub(crate) fn failure(&self, pos: usize) -> Option<(NodeId, usize)> {
        let Upstream::Nodes(edges) = self else {
            return None;
        };
        edges
            .iter()
            .filter(|e| e.policy == OnFailure::Fail)
            .find_map(|e| {
                let at = e.gate.failed_at()?;
                (ahead(at, pos) <= 0).then_some((e.node, at))
            })
    }
}

/// What a node is; carried by its [`NodeId`], which names it by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Cursor,
    Group,
    Lossy,
}

struct Node {
    /// `None` for lossy cursors, which release nothing.
    gate: Option<Gate>,
    deps: Vec<Edge>,
    /// Live handles: 1 for a cursor, the member count for a group.
    handles: usize,
}

struct Entry {
    gen: u32,
    node: Option<Node>,
}

/// The live graph. Lives behind the ring's mutex; every change is followed
/// by a version bump so that handles re-read what they cached.
pub(crate) struct Registry {
    /// The ring's tag, carried by every id it hands out.
    tag: u32,
    entries: Vec<Entry>,
    free: Vec<u32>,
    live: usize,
    /// Live lossy cursors (nodes without a gate).
    lossy: usize,
    /// The gating set: the gates of every live non-lossy node. In a graph
    /// built at once the leaves alone would do (a node never passes the
    /// nodes it runs after, so their positions are at least a leaf's), but
    /// a node joining after a worker group starts at the group's claim
    /// cursor, past items the group's members may still hold: the group
    /// must keep gating in its own name. The producer reads this set only
    /// when its cached room runs out.
    gating: Box<[Gate]>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub(crate) fn new(tag: u32) -> Self {
        Registry {
            tag,
            entries: Vec::new(),
            free: Vec::new(),
            live: 0,
            lossy: 0,
            gating: Box::new([]),
        }
    }

    fn node(&self, id: NodeId) -> Option<&Node> {
        if id.ring != self.tag {
            return None;
        }
        let e = self.entries.get(id.index as usize)?;
        (e.gen == id.gen).then_some(e.node.as_ref()).flatten()
    }

    /// The edges to `deps`, checking that each is live and not lossy. A
    /// node listed twice keeps the stricter policy ([`OnFailure::Fail`]).
    pub(crate) fn edges(&self, deps: &[Dep]) -> Result<Vec<Edge>, GraphError> {
        let mut edges: Vec<Edge> = Vec::with_capacity(deps.len());
        for d in deps {
            let gate = match self.node(d.node()) {
                None => return Err(GraphError::UnknownNode(d.node())),
                Some(n) => n
                    .gate
                    .clone()
                    .ok_or(GraphError::LossyEdge(LossyId(d.node())))?,
            };
            match edges.iter_mut().find(|e| e.node == d.node()) {
                Some(e) if d.policy() == OnFailure::Fail => e.policy = OnFailure::Fail,
                Some(_) => {}
                None => edges.push(Edge {
                    node: d.node(),
                    gate,
                    policy: d.policy(),
                }),
            }
        }
        Ok(edges)
    }

    /// Adds a node (ids are reused only with a new generation).
    pub(crate) fn insert(&mut self, gate: Option<Gate>, deps: Vec<Edge>, handles: usize) -> NodeId {
        self.lossy += usize::from(gate.is_none());
        let kind = match gate {
            Some(Gate::Cursor(_)) => Kind::Cursor,
            Some(Gate::Group(_)) => Kind::Group,
            None => Kind::Lossy,
        };
        let node = Some(Node {
            gate,
            deps,
            handles,
        });
        let id = match self.free.pop() {
            Some(index) => {
                let e = &mut self.entries[index as usize];
                e.gen = e.gen.wrapping_add(1);
                e.node = node;
                NodeId {
                    ring: self.tag,
                    index,
                    gen: e.gen,
                    kind,
                }
            }
            None => {
                let index = u32::try_from(self.entries.len()).expect("corelane: too many nodes");
                self.entries.push(Entry { gen: 0, node });
                NodeId {
                    ring: self.tag,
                    index,
                    gen: 0,
                    kind,
                }
            }
        };
        self.live += handles;
        self.recompute();
        id
    }

    /// One handle of `id` leaves; the last one removes the node, whose gate
    /// is returned (`None` for a lossy cursor, or while handles remain).
    ///
    /// Its dependents' edges to it follow their policy. [`OnFailure::Rewire`]
    /// edges are replaced by the leaver's own edges (their positions never
    /// passed its position, which never passed its upstream's).
    /// [`OnFailure::Fail`] edges keep its gate: its position is final now,
    /// and if it left before the end of the stream it is marked failed
    /// there ([`mark_left`](Self::mark_left)), so they stop at that point.
    pub(crate) fn leave(&mut self, id: NodeId) -> Option<Gate> {
        if id.ring != self.tag {
            return None;
        }
        let e = self.entries.get_mut(id.index as usize)?;
        let node = e.node.as_mut().filter(|_| e.gen == id.gen)?;
        self.live -= 1;
        node.handles -= 1;
        if node.handles > 0 {
            return None;
        }
        let removed = e.node.take().expect("checked above");
        self.lossy -= usize::from(removed.gate.is_none());
        // An entry whose generations are used up is retired, not reused:
        // an id from its first use could otherwise name a later node.
        if e.gen != u32::MAX {
            self.free.push(id.index);
        }
        for n in self.entries.iter_mut().filter_map(|e| e.node.as_mut()) {
            let rewired = n
                .deps
                .iter()
                .position(|d| d.node == id && d.policy == OnFailure::Rewire);
            if let Some(i) = rewired {
                n.deps.swap_remove(i);
                for d in &removed.deps {
                    if !n.deps.iter().any(|x| x.node == d.node) {
                        n.deps.push(d.clone());
                    }
                }
            }
        }
        self.recompute();
        removed.gate
    }

    /// A node whose last handle left with `gate`: unless it reached the end
    /// of the stream (`closed_at`, [`OPEN`](super::ring::OPEN) while a
    /// publisher lives), it failed at its final position.
    pub(crate) fn mark_left(&mut self, gate: &Gate, closed_at: usize) {
        let at = gate.final_position();
        if at != closed_at {
            self.mark_failed(gate.failure_mark(), at);
        }
    }

    /// Records in a node's failure `mark` that it failed at `at` (the
    /// earliest mark wins). Under the registry lock, so marks of one
    /// group's members do not race. Release (in [`Sequence::set`]): pairs
    /// with the Acquire in [`Gate::failed_at`]; a caller that then moves a
    /// position past lost items (a dead worker's `held` withdrawn) stores
    /// the mark first.
    pub(crate) fn mark_failed(&mut self, mark: &Sequence, at: usize) {
        let old = mark.get();
        if old == NOT_FAILED || ahead(old, at) > 0 {
            mark.set(at);
        }
    }

    fn recompute(&mut self) {
        let gating: Vec<Gate> = self
            .entries
            .iter()
            .filter_map(|e| e.node.as_ref()?.gate.clone())
            .collect();
        self.gating = gating.into_boxed_slice();
    }

    /// Where node `id` reads its limit from.
    pub(crate) fn upstream(&self, id: NodeId) -> Upstream {
        match self.node(id) {
            Some(n) if !n.deps.is_empty() => Upstream::Nodes(n.deps.clone().into_boxed_slice()),
            _ => Upstream::Producer,
        }
    }

    /// The gating set (a copy, for a publisher's cache).
    pub(crate) fn gating(&self) -> Box<[Gate]> {
        self.gating.clone()
    }

    /// The earliest position the gating set holds, or `own` if earlier.
    pub(crate) fn gating_floor(&self, own: usize) -> usize {
        self.gating
            .iter()
            .fold(own, |m, g| earlier(m, g.position()))
    }

    /// Live subscriber handles (cursors, group members, lossy cursors).
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// True while some lossy cursor is subscribed: publishers must then
    /// mark slots they overwrite (the seqlock of `lossy.rs`).
    pub(crate) fn has_lossy(&self) -> bool {
        self.lossy > 0
    }

    /// Live lossy cursors, of either read mode.
    pub(crate) fn lossy_count(&self) -> usize {
        self.lossy
    }
}

/// Checks a declared graph: `deps[i]` lists the nodes node `i` runs after.
/// Returns the nodes left on or behind a cycle, if any (Kahn's algorithm).
pub(crate) fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = deps.len();
    let mut pending: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut done = vec![false; n];
    while let Some(i) = ready.pop() {
        done[i] = true;
        for (j, d) in deps.iter().enumerate() {
            for _ in d.iter().filter(|&&x| x == i) {
                pending[j] -= 1;
                if pending[j] == 0 {
                    ready.push(j);
                }
            }
        }
    }
    let left: Vec<usize> = (0..n).filter(|&i| !done[i]).collect();
    (!left.is_empty()).then_some(left)
}

#[cfg(all(test, not(corelane_loom)))]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found() {
        assert_eq!(find_cycle(&[vec![], vec![0], vec![0, 1]]), None);
        assert_eq!(find_cycle(&[vec![1], vec![0]]), Some(vec![0, 1]));
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0]));
        assert_eq!(
            find_cycle(&[vec![], vec![2], vec![1], vec![2]]),
            Some(vec![1, 2, 3])
        );
    }

    fn cursor_gate(p: usize) -> Gate {
        Gate::Cursor(Arc::new(CursorShared::new(p)))
    }

    fn edges(r: &Registry, deps: &[NodeId], policy: OnFailure) -> Vec<Edge> {
        let deps: Vec<Dep> = deps.iter().map(|&d| Dep::new(d, policy)).collect();
        r.edges(&deps).unwrap()
    }

    #[test]
    fn leaves_gate_and_rewire_on_leave() {
        let mut r = Registry::new(0);
        let a = r.insert(Some(cursor_gate(5)), vec![], 1);
        let b = r.insert(Some(cursor_gate(3)), edges(&r, &[a], OnFailure::Rewire), 1);
        let c = r.insert(Some(cursor_gate(2)), edges(&r, &[b], OnFailure::Rewire), 1);
        assert_eq!(r.gating().len(), 3);
        assert_eq!(r.gating_floor(9), 2);
        assert!(r.leave(b).is_some());
        assert!(matches!(r.upstream(c), Upstream::Nodes(ref g) if g.len() == 1 && g[0].node == a));
        assert_eq!(r.gating_floor(9), 2);
        r.leave(c);
        assert_eq!(r.gating_floor(9), 5);
        assert_eq!(r.live(), 1);
        let d = r.insert(Some(cursor_gate(7)), vec![], 1);
        assert_ne!(d, b);
        assert!(r.edges(&[Dep::fail(b)]).is_err());
    }

    /// A `Fail` edge outlives the node it names: the dependent keeps its
    /// gate, and sees where it failed.
    #[test]
    fn fail_edges_keep_a_failed_node() {
        let mut r = Registry::new(0);
        let a = r.insert(Some(cursor_gate(4)), vec![], 1);
        let b = r.insert(Some(cursor_gate(1)), edges(&r, &[a], OnFailure::Fail), 1);
        let gate = r.leave(a).expect("the last handle");
        r.mark_left(&gate, super::super::ring::OPEN);
        let up = r.upstream(b);
        assert!(matches!(up, Upstream::Nodes(ref g) if g.len() == 1 && g[0].node == a));
        assert_eq!(up.failure(3), None, "not reached yet");
        assert_eq!(up.failure(4), Some((a, 4)));
        // A node that reached the end of the stream has not failed.
        let c = r.insert(Some(cursor_gate(6)), vec![], 1);
        let gate = r.leave(c).unwrap();
        r.mark_left(&gate, 6);
        assert_eq!(gate.failed_at(), None);
        // Earliest mark wins.
        r.mark_failed(gate.failure_mark(), 9);
        r.mark_failed(gate.failure_mark(), 7);
        r.mark_failed(gate.failure_mark(), 8);
        assert_eq!(gate.failed_at(), Some(7));
    }

    /// An entry that has used every generation is not reused, so an id
    /// from its first use can never name a later node.
    #[test]
    fn an_entry_whose_generations_wrap_is_retired() {
        let mut r = Registry::new(0);
        let first = r.insert(None, vec![], 1);
        assert_eq!(first.gen, 0);
        r.entries[first.index as usize].gen = u32::MAX;
        let last = NodeId {
            gen: u32::MAX,
            ..first
        };
        r.leave(last);
        assert_eq!(r.live(), 0);
        let next = r.insert(None, vec![], 1);
        assert_ne!(next.index, first.index, "a worn-out entry is not reused");
        assert!(r.node(first).is_none());
        r.leave(next);
        assert_eq!(r.insert(None, vec![], 1).index, next.index);
    }
}
