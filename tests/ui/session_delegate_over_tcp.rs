// Delegation (sending an endpoint) works over the in-process transports
// only: a `Chan` has no wire encoding, so a payload that carries one
// cannot be given one, and so cannot travel over `session::tcp`.
use corelane::session::{ring::Ring, Chan, End, Recv};

corelane::session_payload! {
    /// A number, or an endpoint handed over.
    pub enum Msg { N(u64), Ep(Chan<Recv<u64, End>, Ring<u64>>) }
}
corelane::session_wire!(enum Msg { N, Ep });

fn main() {}
