// A lossy cursor may skip items, so it can vouch for none: its id is not
// an `IntoDep`, and no node can be declared to run after it.
use corelane::queue::multicast::Builder;

fn main() {
    let mut b = Builder::new(4, || 0u64);
    let tap = b.lossy_cursor();
    let logic = b.cursor();
    b.after(logic, &[tap]);
}
