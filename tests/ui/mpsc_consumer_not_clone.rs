// The MPSC consumer owns its cursor (and `push_batch` relies on it).
fn main() {
    let (_tx, rx) = corelane::queue::mpsc::channel::<u8>(4);
    let _second = rx.clone();
}
