// `Runtime::spawn_on` hands the future from the calling thread to a core's
// thread: a future owning an `Rc` is not `Send` and is refused.
use corelane::sched::{Priority, Runtime};
use std::rc::Rc;

fn main() {
    let rt = Runtime::builder().build().unwrap();
    let rc = Rc::new(1u8);
    let _h = rt.spawn_on(0, Priority::High, async move { *rc });
}
