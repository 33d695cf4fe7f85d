// A hand-written loop stack cannot send `recurse` somewhere else: `Env`
// is sealed (only `Z` / `Succ<N>` over the stacks `enter` builds), and
// `Var<N>` is a session only for those indices. Found by the review of
// issue 14.
use corelane::session::{End, Env, Rec, Recv, Send, Session, Var};

pub struct Anywhere;
impl<S, E> Env<Anywhere> for (S, E) {
    type Body = Send<u64, End>;
    type Stack = ();
}

fn is_session<S: Session>() {}

fn main() {
    is_session::<Rec<Recv<u64, Var<Anywhere>>>>();
}
