//! The consumer graph: node ids, what a node exposes to the nodes after it
//! and to the producer (a [`Gate`]), and the registry that tracks live nodes
//! under a lock taken only on join and leave.

use super::group::GroupShared;
use super::sequence::Sequence;
use super::GraphError;
use crate::queue::position::earlier;
use crate::sync::Arc;

/// Identifies a node of a ring's consumer graph: a cursor, a worker group or
/// a lossy cursor. Ids are handed out by [`Builder`](super::Builder) and
/// by the handles themselves ([`Cursor::id`](super::Cursor::id)); an id of a
/// node that has left is never reused for another node.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::Builder;
///
/// let mut b = Builder::new(8, || 0u32);
/// let a = b.cursor();
/// let c = b.cursor();
/// assert_ne!(a, c);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId {
    /// The ring (or builder) that made the id: an id from another ring
    /// names nothing here.
    pub(crate) ring: u32,
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

/// What the producer and downstream nodes read of a node: its released
/// position.
#[derive(Clone)]
pub(crate) enum Gate {
    Cursor(Arc<Sequence>),
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
            Gate::Cursor(seq) => seq.get(),
            Gate::Group(group) => group.start_after(),
        }
    }

    /// Every position below this one is released by the node.
    #[inline]
    pub(crate) fn position(&self) -> usize {
        match self {
            Gate::Cursor(seq) => seq.get(),
            Gate::Group(group) => group.position(),
        }
    }
}

/// Where a reader learns how far it may read: its upstream.
pub(crate) enum Upstream {
    /// The producer: the slot stamps (a root reader).
    Producer,
    /// The nodes it runs after: the earliest of their positions.
    Nodes(Box<[Gate]>),
}

impl Upstream {
    /// For [`Upstream::Nodes`]: the earliest upstream position.
    #[inline]
    pub(crate) fn position(gates: &[Gate]) -> usize {
        let mut it = gates.iter();
        let first = it.next().map_or(0, Gate::position);
        it.fold(first, |m, g| earlier(m, g.position()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Cursor,
    Group,
    Lossy,
}

struct Node {
    /// `None` for lossy cursors, which release nothing.
    gate: Option<Gate>,
    deps: Vec<NodeId>,
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

    /// The gates of `deps`, checking that each is live and not lossy.
    pub(crate) fn dep_gates(&self, deps: &[NodeId]) -> Result<Vec<Gate>, GraphError> {
        deps.iter()
            .map(|&d| match self.node(d) {
                None => Err(GraphError::UnknownNode(d)),
                Some(n) => n.gate.clone().ok_or(GraphError::LossyEdge(d)),
            })
            .collect()
    }

    /// Adds a node (ids are reused only with a new generation).
    pub(crate) fn insert(
        &mut self,
        gate: Option<Gate>,
        deps: Vec<NodeId>,
        handles: usize,
    ) -> NodeId {
        self.lossy += usize::from(gate.is_none());
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
                }
            }
            None => {
                let index = u32::try_from(self.entries.len()).expect("corelane: too many nodes");
                self.entries.push(Entry { gen: 0, node });
                NodeId {
                    ring: self.tag,
                    index,
                    gen: 0,
                }
            }
        };
        self.live += handles;
        self.recompute();
        id
    }

    /// One handle of `id` leaves; the last one removes the node. Nodes that
    /// ran after it now run after what it ran after (their positions never
    /// passed its position, which never passed its upstream's).
    pub(crate) fn leave(&mut self, id: NodeId) {
        if id.ring != self.tag {
            return;
        }
        let Some(e) = self.entries.get_mut(id.index as usize) else {
            return;
        };
        let Some(node) = e.node.as_mut().filter(|_| e.gen == id.gen) else {
            return;
        };
        self.live -= 1;
        node.handles -= 1;
        if node.handles > 0 {
            return;
        }
        let removed = e.node.take().expect("checked above");
        self.lossy -= usize::from(removed.gate.is_none());
        // An entry whose generations are used up is retired, not reused:
        // an id from its first use could otherwise name a later node.
        if e.gen != u32::MAX {
            self.free.push(id.index);
        }
        for n in self.entries.iter_mut().filter_map(|e| e.node.as_mut()) {
            if let Some(i) = n.deps.iter().position(|&d| d == id) {
                n.deps.swap_remove(i);
                for &d in &removed.deps {
                    if !n.deps.contains(&d) {
                        n.deps.push(d);
                    }
                }
            }
        }
        self.recompute();
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
        let deps = self.node(id).map_or(&[][..], |n| &n.deps[..]);
        if deps.is_empty() {
            Upstream::Producer
        } else {
            let gates = self.dep_gates(deps).unwrap_or_default();
            Upstream::Nodes(gates.into_boxed_slice())
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

    #[test]
    fn leaves_gate_and_rewire_on_leave() {
        let mut r = Registry::new(0);
        let seq = |p| Some(Gate::Cursor(Arc::new(Sequence::new(p))));
        let a = r.insert(seq(5), vec![], 1);
        let b = r.insert(seq(3), vec![a], 1);
        let c = r.insert(seq(2), vec![b], 1);
        assert_eq!(r.gating().len(), 3);
        assert_eq!(r.gating_floor(9), 2);
        r.leave(b);
        assert!(matches!(r.upstream(c), Upstream::Nodes(ref g) if g.len() == 1));
        assert_eq!(r.gating_floor(9), 2);
        r.leave(c);
        assert_eq!(r.gating_floor(9), 5);
        assert_eq!(r.live(), 1);
        let d = r.insert(seq(7), vec![], 1);
        assert_ne!(d, b);
        assert!(r.dep_gates(&[b]).is_err());
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
