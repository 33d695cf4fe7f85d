// An offered choice is a `Branch` enum with one variant per arm: a `match`
// that forgets an arm does not compile.
use corelane::session::{self, End, Offer, Recv};

corelane::session_choice! {
    /// Three ways to go on.
    pub mod pick {
        /// One.
        A(u64) => End,
        /// Two.
        B(u64) => Recv<u64, End>,
        /// Three.
        C(()) => End,
    }
}

fn main() -> Result<(), session::Error> {
    let (server, _client) = session::ring::pair::<Offer<pick::Choice>, u64>(1);
    match server.offer_blocking()? {
        pick::Branch::A(_, c) => c.close(),
        pick::Branch::C((), c) => c.close(),
    }
    Ok(())
}
