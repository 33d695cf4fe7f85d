// The cloneable consumers of a stamped ring pop on many threads, so the
// items they hand out move between threads: a consumer of `Rc` must stay
// on the thread that made it (`stamped::Ring<T>` is Send/Sync only for
// `T: Send`).
use std::rc::Rc;

fn main() {
    let (_tx, rx) = corelane::queue::spmc::channel::<Rc<u8>>(4);
    let other = rx.clone();
    std::thread::spawn(move || drop(other));
    drop(rx);
}
