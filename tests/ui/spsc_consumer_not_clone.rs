// One consumer per SPSC ring: a second one would race on the head.
fn main() {
    let (_tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    let _second = rx.clone();
}
