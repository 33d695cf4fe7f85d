// One producer per SPSC ring: a second one would race on the tail.
fn main() {
    let (tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    let _second = tx.clone();
}
