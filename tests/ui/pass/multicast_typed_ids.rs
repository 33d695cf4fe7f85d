// The control for the multicast id cases: each id takes its own kind of
// handle, cursors and groups are dependencies (bare, or as `Dep`s with a
// policy), and an erased `NodeId` still reaches the run-time check.
use corelane::queue::multicast::{Builder, Dep, GraphError, NodeId};

fn main() {
    let mut b = Builder::new(4, || 0u64);
    let (journal, group, tap, logic) = (b.cursor(), b.group(2), b.lossy_cursor(), b.cursor());
    b.after(group, &[journal]);
    b.after(logic, &[Dep::fail(journal), Dep::rewire(group)]);
    let (_tx, mut h) = b.build().unwrap();
    let _journal = h.cursor(journal);
    let _workers = h.workers(group);
    let _tap = h.lossy(tap);
    let _logic = h.cursor(logic);
    let err = h.joiner().subscribe_after(&[NodeId::from(tap)]).unwrap_err();
    assert_eq!(err, GraphError::LossyEdge(tap));
}
