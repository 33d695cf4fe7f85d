// The control for the SPSC `Send`/`Sync` cases: each handle crosses threads
// exactly where what it hands out allows.
use std::cell::Cell;

use corelane::queue::spsc;

fn assert_send_sync<X: Send + Sync>() {}

fn main() {
    // Producer, consumer and write chunk hand out no `&T` from `&self`
    // (only lengths and flags), so they are `Send + Sync` for any `T: Send`.
    assert_send_sync::<spsc::Producer<Cell<u8>>>();
    assert_send_sync::<spsc::Consumer<Cell<u8>>>();
    assert_send_sync::<spsc::WriteChunk<'static, Cell<u8>>>();

    // A read chunk of a `Send` item may move to another thread (it takes
    // the consumer's exclusive borrow with it)...
    let (mut tx, mut rx) = spsc::channel::<Cell<u8>>(4);
    tx.push(Cell::new(1)).unwrap();
    let chunk = rx.read_chunk(1).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            chunk.get(0).unwrap().set(2);
            assert_eq!(chunk.map(Cell::into_inner).collect::<Vec<_>>(), [2]);
        });
    });

    // ...and a read chunk of a `Sync` item may be shared by reference.
    let (mut tx, mut rx) = spsc::channel::<u8>(4);
    tx.push(7).unwrap();
    let chunk = rx.read_chunk(1).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(chunk.get(0), Some(&7)));
        let slices = chunk.slices();
        s.spawn(move || assert_eq!(slices.flatten().count(), 1));
        assert_eq!(chunk.iter().copied().sum::<u8>(), 7);
    });
}
