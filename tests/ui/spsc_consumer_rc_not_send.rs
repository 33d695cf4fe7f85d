// The consumer moves items out on its own thread: a consumer of `Rc` on
// another thread would share reference counts with the producer's thread.
use std::rc::Rc;

fn main() {
    let (_tx, rx) = corelane::queue::spsc::channel::<Rc<u8>>(4);
    std::thread::spawn(move || drop(rx));
}
