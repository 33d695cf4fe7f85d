// The two ends of a pair follow dual protocols: a function that wires two
// endpoints together can demand `B = Dual<A>`, and an annotation that does
// not match what `ring::pair` made is rejected.
use corelane::session::{self, ring::Ring, Chan, End, Send, Session};

fn wire<A, B>(a: Chan<A, Ring<u64>>, b: Chan<B, Ring<u64>>)
where
    A: Session<Dual = B>,
    B: Session,
{
    drop((a, b));
}

fn main() {
    // Two sending ends, one from each of two pairs: not dual.
    let (a1, _b1) = session::ring::pair::<Send<u64, End>, u64>(1);
    let (a2, _b2) = session::ring::pair::<Send<u64, End>, u64>(1);
    wire(a1, a2);

    // One pair, the peer annotated as a second sender.
    let (_a, _b): (Chan<Send<u64, End>, Ring<u64>>, Chan<Send<u64, End>, Ring<u64>>) =
        session::ring::pair(1);
}
