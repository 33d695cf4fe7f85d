// `close` is the step at `End` only (`EndStep`): a session with steps left
// cannot be closed, only dropped (which aborts it).
use corelane::session::{self, End, Recv, Send};

fn main() {
    let (a, b) = session::ring::pair::<Send<u64, Recv<u64, End>>, u64>(1);
    a.close();
    drop(b);
}
