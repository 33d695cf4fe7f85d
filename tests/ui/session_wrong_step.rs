// A `Chan` at a `Send` step cannot receive: `recv_blocking` needs the step
// to be a `Recv` (`RecvStep`), and the error names the step it is at.
use corelane::session::{self, End, Send};

fn main() {
    let (a, b) = session::ring::pair::<Send<u64, End>, u64>(1);
    let _ = a.recv_blocking();
    drop(b);
}
