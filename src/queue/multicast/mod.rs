//! The multicursor ring (LMAX Disruptor style): one ring of preallocated
//! slots, one or many publishers, many subscribers arranged in a consumer
//! graph.
//!
//! Every broadcast [`Cursor`] sees every item, in publication order, by
//! reference into the slot (fanning a `bytes::Bytes` out to ten cursors is
//! one push and zero copies). A cursor can be declared to run *after*
//! other nodes, and never reads an item before they have released it; what
//! it does when one of them fails is declared per dependency
//! ([`OnFailure`]). A [`Worker`] group hands each item to exactly one
//! member. A [`LossyCursor`] (a tap) never holds the producer back beyond
//! the instant of one read, and reports how many items it missed. Cursors
//! join and leave while the ring runs ([`Joiner`]).
//!
//! ```text
//!                        +-----------+
//!                   +--->|  journal  |---+ fail
//!                   |    +-----------+   |     +----------------+
//!   publisher ------+                    +---->| business logic |  leaf: gates
//!   (fills slots    |    +-----------+   |     +----------------+
//!    in place)      +--->| replicate |---+ fail
//!                   |    +-----------+
//!                   |    +------------------------+
//!                   +--->| risk workers w0 w1 w2  |  group, leaf: gates;
//!                   |    +------------------------+  each item to one worker
//!                   |    +-----------+
//!                   +...>|  md tap   |  lossy: never gates, reports Lagged(n)
//!                        +-----------+
//!
//!   The publisher may reuse a slot once every node has released it (in a
//!   built graph, once the leaves have: business logic and the group); a
//!   node never passes the nodes it runs after. `fail` (the default): if
//!   the journal dies, business logic reads what the journal released and
//!   stops there with UpstreamFailed; `rewire` would let it carry on
//!   after the publisher instead.
//! ```
//!
//! | handle | made by | sees |
//! |---|---|---|
//! | [`Publisher`] / [`MultiPublisher`] | [`Builder::build`] / [`Builder::build_multi`] | — |
//! | [`Cursor`] | [`Builder::cursor`] ([`CursorId`]), [`Joiner::subscribe`], [`Joiner::subscribe_after`] | every item, in order |
//! | [`Worker`] | [`Builder::group`] ([`GroupId`]), [`Joiner::subscribe_group`], [`Joiner::subscribe_group_after`] | each item once across the group |
//! | [`LossyCursor`] (`T: Clone`; [`copied`](LossyCursor::copied) for `T: Copy`) | [`Builder::lossy_cursor`] ([`LossyId`]), [`Joiner::subscribe_lossy`] | its own clone of every item it is not lapped on |
//!
//! Node ids are typed per kind, so [`Handles`] hands out only the kind of
//! handle an id names (taking a group's id as a cursor does not compile),
//! and a lossy cursor cannot be depended on.
//!
//! # The vocabulary
//!
//! Publishers, cursors and workers follow the
//! [table every ring follows](crate::queue#one-vocabulary). Readers hand out
//! guards that read in place ([`Item`], [`Batch`]; the slot is released
//! when the guard drops), and have their own errors, because a node they
//! run after can fail ([`UpstreamFailed`]):
//!
//! | how | [`Publisher`] | [`Cursor`] and [`Worker`] | fails with |
//! |---|---|---|---|
//! | now | `push(v)`, `push_with(fill)`, `push_batch(n, fill)` | `pop()`, `pop_batch(max)`, `process(max, f)` | [`PushError<V>`](crate::queue::PushError) / [`TryRecvError`] |
//! | wait, per a [`WaitStrategy`](super::wait::WaitStrategy) | `push_blocking`, `push_with_blocking`, `push_batch_blocking` | `pop_blocking(s)`, `pop_batch_blocking(max, s)` | [`Disconnected<V>`](crate::queue::Disconnected) / [`RecvError`] |
//! | wait, with a deadline | `push_timeout`, `push_until` (and `push_with_*`, `push_batch_*`) | `pop_timeout`, `pop_until` (and `pop_batch_*`) | [`PushTimeoutError<V>`](crate::queue::PushTimeoutError) / [`RecvTimeoutError`] |
//! | async | `send(v)` ([`SendFuture`](crate::queue::SendFuture)), `poll_ready` | `recv()`, `recv_batch(max)`, `poll_pop`, `poll_pop_batch` | [`Disconnected<T>`](crate::queue::Disconnected) / [`RecvError`] |
//!
//! `V` is what the push was given back (the value, or the fill closure,
//! uncalled). The sync pushes return the item's sequence number. Every
//! variant of [`RecvError`] ends the reader's stream. Inspectors: `len`,
//! `is_empty`, `capacity`, `is_disconnected`, `sequence` on all three,
//! `is_full` and `free_len` on the publisher, `id` and `joiner` on the
//! readers. There is no `Stream` for readers: an item borrows its reader.
//!
//! # Ground rules
//!
//! * Positions are 64-bit `usize` sequence numbers that never wrap in a
//!   ring's life (the crate builds only for 64-bit targets); comparisons
//!   still use wrapping differences, valid while two live positions are
//!   less than `2^63` apart. Position `p` lives in slot `p & (cap - 1)`.
//!   Every slot always holds an initialized `T`, made by the factory and then
//!   overwritten in place.
//! * **Publication.** A publisher writes the value of `p`, then stores the
//!   slot's stamp `p + 1` with Release. Root readers Acquire the stamp, so
//!   the handoff moves only the slot's cache line; with many publishers each
//!   claimer stamps its own slot, so nobody reads a claimed-but-unwritten
//!   slot (LMAX's availability buffer, kept in the slot).
//! * **Release.** A reader publishes its position (Release) after it is done
//!   with the slots below it. A node that runs after others reads their
//!   positions (Acquire) and never passes the earliest; so each node's
//!   position is at most that of every node before it. A guard that a
//!   panic cuts short (taken before its thread began to unwind) releases
//!   only what [`process`](Cursor::process) finished.
//! * **Gating.** A publisher writes `q` only if `q < floor + cap`, `floor`
//!   being the earliest position of every gating node (all but lossy
//!   cursors; the leaves would do for a graph built at once, but a node
//!   joining after a worker group may start past items the group still
//!   holds). Join and leave change the set under a registry lock and a
//!   version counter;
//!   the join handshake is in `claim.rs`, worker groups' claim protocol
//!   in `group.rs`.
//! * **Lossy reads.** A publisher marks a slot `WRITING` before
//!   overwriting it while a lossy cursor is subscribed. A cloning tap
//!   announces the slot it clones from (a per-slot count) and re-checks the
//!   stamp; a publisher about to overwrite that slot waits for the
//!   announced clone, and for nothing else (a Dekker pair of SeqCst
//!   fences). A `Copy` tap may read by seqlock instead, and costs the
//!   publisher nothing more than the mark. Both in `lossy.rs`.
//! * **Failure.** Every gating node has a failure mark (a position, or
//!   none), written under the registry lock, earliest wins: when its last
//!   handle leaves before the end of the stream (at its final position),
//!   when a worker drops a run unfinished (at the first lost item, stored
//!   *before* the member's `held` is withdrawn, Release both), and when a
//!   node stops on a failed upstream (at its own position, so a failure
//!   travels down the graph). A dependency is an edge holding the
//!   upstream's gate and an [`OnFailure`] policy. A `Fail` edge caps the
//!   dependent's limit at the mark, loading the mark (Acquire) *after* the
//!   position it caps, so a position seen past lost items comes with its
//!   mark; the dependent reports [`UpstreamFailed`] on reaching it, and
//!   the edge (and gate) outlive the departed node. A `Rewire` edge ignores
//!   the mark, and when the node leaves is replaced by the node's own
//!   edges (whose positions never passed). A node that reads to the end of
//!   the stream (every publisher gone) before leaving has not failed, and a
//!   reader at the end of the stream reports `Disconnected` even if an
//!   upstream failed at that very position (it missed nothing). Proved by
//!   the loom models of `loom-tests/tests/multicast_more.rs` §6.
//! * **Waiting.** Root readers sleep on the `items` cell (notified by every
//!   publish), publishers and dependent readers on `released` (notified by
//!   every release, leave and failure mark) — the [`wait`](super::wait)
//!   eventcount: with nobody waiting, a notify is a compiler fence and one
//!   load.
//! * **End.** When the last publisher drops it records the final position;
//!   a reader that reaches it gets `Disconnected`. When every subscriber is
//!   gone, publishing fails with `Disconnected`.
//!
//! # Examples
//!
//! ```
//! use corelane::queue::{multicast::Builder, wait::WaitStrategy};
//!
//! let mut b = Builder::new(256, || 0u64);
//! let journal = b.cursor();
//! let logic = b.cursor();
//! b.after(logic, &[journal]); // stops where the journal fails
//! let (mut tx, mut h) = b.build().unwrap();
//! let (mut journal, mut logic) = (h.cursor(journal), h.cursor(logic));
//!
//! let j = std::thread::spawn(move || {
//!     let mut sum = 0;
//!     while let Ok(batch) = journal.pop_batch_blocking(64, WaitStrategy::Backoff) {
//!         sum += batch.iter().sum::<u64>();
//!     }
//!     sum
//! });
//! let l = std::thread::spawn(move || {
//!     let mut seen = 0;
//!     loop {
//!         match logic.pop_batch_blocking(64, WaitStrategy::Park) {
//!             Ok(batch) => seen += batch.len(),
//!             Err(e) if e.is_disconnected() => return Ok(seen),
//!             Err(e) => return Err(e), // the journal failed: stop too
//!         }
//!     }
//! });
//! for i in 0..1000 {
//!     tx.push_blocking(i, WaitStrategy::Backoff).unwrap();
//! }
//! drop(tx); // the end of the stream
//! assert_eq!((j.join().unwrap(), l.join().unwrap()), (499_500, Ok(1000)));
//! ```

use std::fmt;

mod batch;
mod builder;
mod claim;
mod cursor;
mod error;
mod graph;
mod group;
mod id;
mod joiner;
mod lossy;
mod publisher;
mod reader;
mod ring;
mod sequence;
mod worker;

pub use batch::{Batch, Item, Iter};
pub use builder::{Builder, Handles};
pub use cursor::Cursor;
pub use error::{RecvError, RecvTimeoutError, TryRecvError, UpstreamFailed};
pub use id::{CursorId, Dep, GatingId, GroupId, IntoDep, LossyId, NodeId, OnFailure};
pub use joiner::Joiner;
pub use lossy::{
    Cloned, Copied, Lagged, LossyCursor, LossyRecvError, LossyRecvTimeoutError, LossyTryRecvError,
    ReadMode,
};
pub use publisher::{Mode, Multi, MultiPublisher, Publisher, Single};
pub use worker::Worker;

/// A ring with `cursors` independent broadcast cursors and a single
/// publisher; slots are made by `factory`. More cursors can join later
/// through [`Publisher::joiner`].
///
/// # Panics
///
/// If `capacity` is 0 or the ring would not fit in memory.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
///
/// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(64, Bytes::new, 3);
/// let payload = Bytes::from_static(b"tick");
/// tx.push(payload.clone()).unwrap();
/// for c in &mut cs {
///     // Every cursor sees the same bytes, not a copy.
///     assert_eq!(c.pop().unwrap().as_ptr(), payload.as_ptr());
/// }
/// ```
pub fn broadcast<T>(
    capacity: usize,
    factory: impl FnMut() -> T,
    cursors: usize,
) -> (Publisher<T>, Vec<Cursor<T>>) {
    let mut b = Builder::new(capacity, factory);
    let ids: Vec<CursorId> = (0..cursors).map(|_| b.cursor()).collect();
    let (tx, mut h) = b
        .build()
        .expect("corelane: independent cursors form a valid graph");
    (tx, ids.into_iter().map(|id| h.cursor(id)).collect())
}

/// Why a consumer graph could not be built, or a node could not join.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, GraphError};
///
/// let mut b = Builder::new(4, || 0u8);
/// let g = b.group(0);
/// assert_eq!(b.build().unwrap_err(), GraphError::EmptyGroup(g));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphError {
    /// The `after` declarations form a cycle; the nodes on it (and any
    /// declared after them) are listed.
    Cycle(Vec<NodeId>),
    /// A worker group with no members could never release an item.
    EmptyGroup(GroupId),
    /// A lossy cursor cannot run after, or be run after by, another node
    /// (it may skip items, so it cannot vouch for them). Only an erased
    /// [`NodeId`] can ask for it: a [`LossyId`] is not an [`IntoDep`].
    LossyEdge(LossyId),
    /// The node is not (or no longer) part of this ring.
    UnknownNode(NodeId),
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Cycle(nodes) => write!(f, "consumer graph has a cycle through {nodes:?}"),
            GraphError::EmptyGroup(n) => write!(f, "worker group {n:?} has no members"),
            GraphError::LossyEdge(n) => {
                write!(f, "lossy cursor {n:?} cannot take part in dependencies")
            }
            GraphError::UnknownNode(n) => write!(f, "node {n:?} is not part of this ring"),
        }
    }
}

impl std::error::Error for GraphError {}

#[cfg(all(test, not(corelane_loom)))]
mod tests;
