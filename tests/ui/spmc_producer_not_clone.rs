// The SPMC producer owns its cursor.
fn main() {
    let (tx, _rx) = corelane::queue::spmc::channel::<u8>(4);
    let _second = tx.clone();
}
