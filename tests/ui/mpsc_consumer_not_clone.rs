// The MPSC consumer owns its cursor (its producers decide "free" from it).
fn main() {
    let (_tx, rx) = corelane::queue::mpsc::channel::<u8>(4);
    let _second = rx.clone();
}
