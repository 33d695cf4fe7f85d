// `Var<Succ<Z>>` jumps to the second enclosing `Rec`: with only one around
// it there is nowhere to go (`Env<Succ<Z>>`), so `recurse` does not compile.
use corelane::session::{self, Rec, Send, Succ, Var, Z};

fn main() -> Result<(), session::Error> {
    let (a, b) = session::ring::pair::<Rec<Send<u64, Var<Succ<Z>>>>, u64>(1);
    let a = a.enter().send_blocking(1)?;
    let _ = a.recurse();
    drop(b);
    Ok(())
}
