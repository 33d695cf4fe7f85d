// Each step consumes the endpoint: the channel it was called on is gone,
// only the continuation it returned can take the next step.
use corelane::session::{self, End, Send};

fn main() -> Result<(), session::Error> {
    let (a, b) = session::ring::pair::<Send<u64, Send<u64, End>>, u64>(2);
    let next = a.send_blocking(1)?;
    let _again = a.send_blocking(2)?;
    drop((next, b));
    Ok(())
}
