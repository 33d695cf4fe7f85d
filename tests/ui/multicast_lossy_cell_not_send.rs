// A cloning lossy cursor calls `T::clone(&T)` on the slot in place, while
// the publisher's thread (and other cursors) hold the same `T`: it may
// leave its thread only if `T` is `Sync` (a `Cell` is not: its clone would
// race with a gating cursor's `set` through another `&Cell`).
use std::cell::Cell;

use corelane::queue::multicast::Builder;

fn main() {
    let mut b = Builder::new(4, || Cell::new(0u8));
    let id = b.lossy_cursor();
    let (_tx, mut h) = b.build().unwrap();
    let tap = h.lossy(id);
    std::thread::spawn(move || drop(tap));
}
