// The same for a stamped ring's handle.
use std::rc::Rc;

fn main() {
    let (_tx, rx) = corelane::queue::mpmc::channel::<Rc<u8>>(4);
    std::thread::spawn(move || drop(rx));
}
