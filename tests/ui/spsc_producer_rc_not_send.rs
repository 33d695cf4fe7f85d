// A ring of `Rc` would let two threads touch one reference count: the
// producer moves clones into the ring and keeps others.
use std::rc::Rc;

fn main() {
    let (tx, _rx) = corelane::queue::spsc::channel::<Rc<u8>>(4);
    std::thread::spawn(move || drop(tx));
}
