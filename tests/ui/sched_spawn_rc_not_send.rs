// `sched::spawn` tasks may be stolen by another core: the future must be
// `Send` (`spawn_local` is the way for a `!Send` one).
use corelane::sched::{self, Priority};
use std::rc::Rc;

fn main() {
    let _h = sched::spawn(Priority::Normal, async {
        let rc = Rc::new(1u8);
        sched::yield_now().await;
        *rc
    });
}
