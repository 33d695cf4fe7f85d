// `Line<P>` (and the block its two ends share, `unsafe impl Sync` for
// `P: Send`) crosses threads only if its payload can: a payload moves from
// one end's thread to the other's through the shared cell. No `&P` is
// ever shared, so `P: Sync` is not asked for (the pass control below the
// error uses a `Cell`, which is `Send` but not `Sync`).
use corelane::session::line::Line;

fn is_send_sync<T: Send + Sync>() {}

fn main() {
    is_send_sync::<Line<std::cell::Cell<u8>>>(); // Send, !Sync payload: fine
    is_send_sync::<Line<std::rc::Rc<u8>>>(); // !Send payload: refused
}
