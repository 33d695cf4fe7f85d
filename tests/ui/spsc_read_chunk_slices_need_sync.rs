// `ReadChunk::slices` hands out `&[T]`: the iterator may go to another
// thread only if `&T` may, so not for a `Send`-only item (here a `Cell`)
// while the chunk stays on this thread.
use std::cell::Cell;

fn main() {
    let (mut tx, mut rx) = corelane::queue::spsc::channel::<Cell<u8>>(4);
    tx.push(Cell::new(1)).unwrap();
    let chunk = rx.read_chunk(1).unwrap();
    let slices = chunk.slices();
    std::thread::scope(|s| {
        s.spawn(move || slices.count());
        chunk.get(0).unwrap().set(3);
    });
}
