// `ReadChunk::get` and `ReadChunk::iter` hand out `&T` from `&self`, so
// sharing `&chunk` with another thread shares `&T`. For an item that is
// `Send` but not `Sync` (here a `Cell`) that must not compile: both threads
// could `set` the same cell at once.
use std::cell::Cell;

fn main() {
    let (mut tx, mut rx) = corelane::queue::spsc::channel::<Cell<u8>>(4);
    tx.push(Cell::new(1)).unwrap();
    let chunk = rx.read_chunk(1).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| chunk.get(0).unwrap().set(2));
        chunk.get(0).unwrap().set(3);
    });
}
