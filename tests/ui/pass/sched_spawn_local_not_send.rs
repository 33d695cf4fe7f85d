// The control for the `sched` compile-fail cases: `spawn_local` takes a
// future that holds an `Rc` across an await, and its `JoinHandle` (of a
// `Send` output) may be awaited from another core; the same shape with an
// `Arc` goes through `spawn_on`, `spawn`, `Runtime::spawn_on` and
// `Handle::spawn_on`.
use corelane::sched::{self, Idle, Priority, Runtime};
use std::rc::Rc;
use std::sync::Arc;

fn main() {
    let cpu = corelane::topology::allowed_cpus().unwrap().first().unwrap();
    let rt = Runtime::builder()
        .cores([cpu])
        .pin(false)
        .idle(Idle::Park)
        .build()
        .unwrap();
    let sum = rt.block_on(async {
        let local = sched::spawn_local(Priority::Low, async {
            let rc = Rc::new(1u8);
            sched::yield_now().await;
            *rc
        });
        let remote = sched::spawn_on(0, Priority::Normal, async move { local.await.unwrap() + 1 });
        let stealable = sched::spawn(Priority::High, async {
            let arc = Arc::new(3u8);
            sched::yield_now().await;
            *arc
        });
        remote.await.unwrap() + stealable.await.unwrap()
    });
    assert_eq!(sum, 5);
    let arc = Arc::new(4u8);
    let a = arc.clone();
    let from_rt = rt.spawn_on(0, Priority::Normal, async move { *a });
    let from_handle = rt.handle().spawn_on(0, Priority::Normal, async move { *arc });
    assert_eq!(rt.block_on(from_rt).unwrap() + rt.block_on(from_handle).unwrap(), 8);
}
