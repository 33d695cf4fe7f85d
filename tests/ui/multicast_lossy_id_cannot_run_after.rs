// Nor can a lossy cursor run after another node: `after` takes the
// dependent as a `GatingId` (a cursor's or a group's id), which a
// `LossyId` is not.
use corelane::queue::multicast::Builder;

fn main() {
    let mut b = Builder::new(4, || 0u64);
    let journal = b.cursor();
    let tap = b.lossy_cursor();
    b.after(tap, &[journal]);
}
