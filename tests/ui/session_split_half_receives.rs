// The transmit half of a `Split` may only send (`SendOnly`): one that
// receives is not a session at all.
use corelane::session::{self, End, Recv, Split};

fn main() {
    let (a, b) = session::ring::pair::<Split<Recv<u64, End>, End>, u64>(1);
    drop((a, b));
}
