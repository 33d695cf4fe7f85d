// A read chunk moves items out on whichever thread holds it: it may cross
// threads only if the items may.
use std::rc::Rc;

fn main() {
    let (mut tx, mut rx) = corelane::queue::spsc::channel::<Rc<u8>>(4);
    let mine = Rc::new(1);
    tx.push(mine.clone()).unwrap();
    let chunk = rx.read_chunk(1).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || chunk.commit_all());
    });
}
