// `choose` takes an arm of the choice at this step (`Label<C>`): an arm of
// another choice, even one of the same shape, is rejected.
use corelane::session::{self, Choose, End};

corelane::session_choice! {
    /// The choice at this step.
    pub mod mine {
        /// One.
        Yes(u64) => End,
        /// The other.
        No(u64) => End,
    }
}

corelane::session_choice! {
    /// Another choice of the same shape.
    pub mod theirs {
        /// One.
        Yes(u64) => End,
        /// The other.
        No(u64) => End,
    }
}

fn main() -> Result<(), session::Error> {
    let (a, b) = session::ring::pair::<Choose<mine::Choice>, u64>(1);
    a.choose_blocking(theirs::Yes, 1)?.close();
    drop(b);
    Ok(())
}
