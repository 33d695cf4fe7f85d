// The control for the session compile-fail cases: the same protocols
// followed step by step compile (and run).
use corelane::session::{self, ring::Ring, Chan, Choose, End, Offer, Rec, Recv, Send, Session};
use corelane::session::{Split, Succ, Var, Z};

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

type Pair<A, B> = (Chan<A, Ring<u64>>, Chan<B, Ring<u64>>);

fn wire<A, B>(pair: Pair<A, B>) -> Pair<A, B>
where
    A: Session<Dual = B>,
    B: Session,
{
    pair
}

fn main() -> Result<(), session::Error> {
    let (a, b) = wire(session::ring::pair::<Send<u64, Send<u64, End>>, u64>(2));
    let a = a.send_blocking(1)?.send_blocking(2)?;
    let (_, b) = b.recv_blocking()?;
    let (_, b) = b.recv_blocking()?;
    a.close();
    b.close();

    let (chooser, server) = session::ring::pair::<Choose<pick::Choice>, u64>(1);
    let chooser = chooser.choose_blocking(pick::B, 1)?;
    match Chan::<Offer<pick::Choice>, Ring<u64>>::offer_blocking(server)? {
        pick::Branch::A(_, c) => c.close(),
        pick::Branch::B(_, c) => c.send_blocking(2)?.close(),
        pick::Branch::C((), c) => c.close(),
    }
    let (_, chooser) = chooser.recv_blocking()?;
    chooser.close();

    let (a, b) = session::ring::pair::<Split<Send<u64, End>, End>, u64>(1);
    let (a_tx, a_rx) = a.split();
    let (b_tx, b_rx) = b.split();
    a_tx.send_blocking(1)?.close();
    let (_, b_rx) = b_rx.recv_blocking()?;
    drop((a_rx.close(), b_tx.close(), b_rx.close()));

    // Var<Succ<Z>> inside two loops goes back to the outer one.
    type Twice = Rec<Send<u64, Rec<Send<u64, Var<Succ<Z>>>>>>;
    let (a, b) = session::ring::pair::<Twice, u64>(2);
    let a = a.enter().send_blocking(1)?.enter().send_blocking(2)?;
    let _outer: Chan<Send<u64, Rec<Send<u64, Var<Succ<Z>>>>>, Ring<u64>, _> = a.recurse();
    drop(b);
    Ok(())
}
