// Node ids are typed per kind of node: a worker group's id cannot take a
// cursor's handle (it was a run-time panic while every id was a `NodeId`).
use corelane::queue::multicast::Builder;

fn main() {
    let mut b = Builder::new(4, || 0u8);
    let group = b.group(2);
    let (_tx, mut h) = b.build().unwrap();
    let _cursor = h.cursor(group);
}
