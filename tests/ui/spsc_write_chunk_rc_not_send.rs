// A write chunk moves items in on whichever thread holds it: it may cross
// threads only if the items may.
use std::rc::Rc;

fn main() {
    let (mut tx, _rx) = corelane::queue::spsc::channel::<Rc<u8>>(4);
    let mut chunk = tx.write_chunk(1).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || chunk.push(Rc::new(2)).unwrap());
    });
}
