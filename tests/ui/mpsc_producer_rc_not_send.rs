// The cloneable producers of a stamped ring push from many threads: a
// producer of `Rc` must stay on the thread that made it.
use std::rc::Rc;

fn main() {
    let (tx, _rx) = corelane::queue::mpsc::channel::<Rc<u8>>(4);
    let other = tx.clone();
    std::thread::spawn(move || drop(other));
    drop(tx);
}
