// `sched::spawn_on` sends the task to another core's thread: a future that
// holds an `Rc` across an await is not `Send` and is refused.
use corelane::sched::{self, Priority};
use std::rc::Rc;

fn main() {
    let _h = sched::spawn_on(1, Priority::Normal, async {
        let rc = Rc::new(1u8);
        sched::yield_now().await;
        *rc
    });
}
