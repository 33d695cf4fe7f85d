// A worker-group member reads its items by `&T` in place, while other
// nodes of the graph may read the same slots: like a cursor, it may leave
// its thread only if `T` is `Sync`.
use std::cell::Cell;

use corelane::queue::multicast::Builder;

fn main() {
    let mut b = Builder::new(4, || Cell::new(0u8));
    let id = b.group(2);
    let (_tx, mut h) = b.build().unwrap();
    let worker = h.workers(id).pop().unwrap();
    std::thread::spawn(move || drop(worker));
}
