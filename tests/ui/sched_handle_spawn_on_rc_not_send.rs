// `Handle::spawn_on`, like `Runtime::spawn_on`, takes only `Send` futures.
use corelane::sched::{Priority, Runtime};
use std::rc::Rc;

fn main() {
    let rt = Runtime::builder().build().unwrap();
    let handle = rt.handle();
    let rc = Rc::new(1u8);
    let _h = handle.spawn_on(0, Priority::Low, async move { *rc });
}
