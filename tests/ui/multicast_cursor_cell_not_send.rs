// Every multicast cursor reads the same slots by `&T`: cursors on several
// threads share each item, so a cursor may leave its thread only if `T` is
// `Sync` (here a `Cell` is not: two cursors could race on one cell).
use std::cell::Cell;

use corelane::queue::multicast::Builder;

fn main() {
    let mut b = Builder::new(4, || Cell::new(0u8));
    let id = b.cursor();
    let (_tx, mut h) = b.build().unwrap();
    let cursor = h.cursor(id);
    std::thread::spawn(move || drop(cursor));
}
