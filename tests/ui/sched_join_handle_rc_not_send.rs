// A `JoinHandle<T>` hands its task's output to whoever awaits it: it may
// leave its thread only if `T` is `Send` (here the output of a local task
// is an `Rc`, which must stay on the thread that made it).
use corelane::sched::{self, Priority};
use std::rc::Rc;

fn main() {
    let handle = sched::spawn_local(Priority::Normal, async { Rc::new(1u8) });
    std::thread::spawn(move || drop(handle));
}
