//! Unit tests of the executor's moving parts (the integration tests in
//! `tests/sched_*.rs` cover the public behaviour at scale).

use super::*;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rt(cores: usize) -> Runtime {
    Runtime::builder()
        .cores((0..cores as u32).map(|c| c % 2))
        .pin(false)
        .idle(Idle::Park)
        .build()
        .or_else(|_| {
            Runtime::builder()
                .cores([0])
                .pin(false)
                .idle(Idle::Park)
                .build()
        })
        .unwrap()
}

#[test]
fn block_on_and_spawn() {
    let rt = rt(1);
    assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    let v = rt.block_on(async {
        let hs: Vec<_> = (0..100u64)
            .map(|i| spawn(Priority::Normal, async move { i }))
            .collect();
        let mut s = 0;
        for h in hs {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(v, 4950);
}

#[test]
fn strict_order_on_one_core() {
    let rt = rt(1);
    let order = rt.block_on(async {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut hs = Vec::new();
        for p in [Priority::Low, Priority::Normal, Priority::High] {
            let log = log.clone();
            hs.push(spawn_local(p, async move { log.lock().unwrap().push(p) }));
        }
        for h in hs {
            h.await.unwrap();
        }
        let v = log.lock().unwrap().clone();
        v
    });
    assert_eq!(order, [Priority::High, Priority::Normal, Priority::Low]);
}

#[test]
fn sleep_is_never_early() {
    let rt = rt(1);
    rt.block_on(async {
        for ms in [0u64, 1, 3] {
            let t0 = Instant::now();
            sleep(Duration::from_millis(ms)).await;
            assert!(t0.elapsed() >= Duration::from_millis(ms));
        }
        assert!(
            timeout(Duration::from_millis(2), std::future::pending::<()>())
                .await
                .is_err()
        );
    });
}

#[test]
fn abort_and_panic() {
    let rt = rt(1);
    rt.block_on(async {
        struct D(Arc<AtomicUsize>);
        impl Drop for D {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let d = D(drops.clone());
        let h = spawn(Priority::Low, async move {
            let _d = d;
            std::future::pending::<()>().await
        });
        yield_now().await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let e = spawn(Priority::Normal, async { panic!("boom") })
            .await
            .unwrap_err();
        assert!(e.is_panic());
        assert_eq!(spawn(Priority::Normal, async { 3 }).await.unwrap(), 3);
    });
}

#[test]
fn cross_core_ping_pong() {
    let rt = rt(2);
    let n = rt.cores();
    let got = rt.block_on(async move {
        let mut total = 0;
        for i in 0..200usize {
            total += spawn_on(i % n, Priority::High, async move { current_core() + 1 })
                .await
                .unwrap();
        }
        total
    });
    assert!(got >= 200);
}

#[test]
fn shutdown_drops_pending_once() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    for i in 0..20 {
        let d = D(drops.clone());
        drop(rt.spawn_on(i % rt.cores(), Priority::Normal, async move {
            let _d = d;
            if i % 2 == 0 {
                sleep(Duration::from_secs(60)).await;
            }
            std::future::pending::<()>().await
        }));
    }
    std::thread::sleep(Duration::from_millis(20));
    rt.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 20);
}

#[test]
fn a_sleep_that_moves_cores_cancels_its_old_entry() {
    let rt = Runtime::builder()
        .cores([0, 1])
        .pin(false)
        .idle(Idle::Park)
        .build();
    let Ok(rt) = rt else { return }; // a one-CPU machine: nothing to move between
                                     // Register a long sleep on core 0, then poll it from a task on core 1
                                     // (what a stolen task does).
    let s = rt.block_on(async {
        let mut s = Box::pin(sleep(Duration::from_secs(60)));
        let waker = std::task::Waker::noop();
        assert!(s
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
            .is_pending());
        Some(s) // wrapped: a future handed out of a task, not awaited by it
    });
    let s = s.unwrap();
    assert_eq!(rt.stats().cores[0].timers, 1);
    let h = rt.spawn_on(1, Priority::Normal, async move {
        let mut s = s;
        let waker = std::task::Waker::noop();
        assert!(s
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
            .is_pending());
        Some(s)
    });
    let s = rt.block_on(h).unwrap().unwrap();
    let t0 = Instant::now();
    loop {
        let st = rt.stats();
        if st.cores[0].timers == 0 {
            assert_eq!(st.cores[1].timers, 1);
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "core 0 kept the moved sleep's entry"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(s); // dropped outside the runtime: its entry on core 1 stays to fire
}
