// The multicast publisher overwrites (and so drops) slot values in place,
// and readers on other threads see them: an `Rc` payload must not leave
// the thread whose reference counts it shares.
use std::rc::Rc;

use corelane::queue::multicast::Builder;

fn main() {
    let mut b = Builder::new(4, || Rc::new(0u8));
    let _id = b.cursor();
    let (tx, _h) = b.build().unwrap();
    std::thread::spawn(move || drop(tx));
}
