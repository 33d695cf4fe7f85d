//! The streaming shapes of `benches/stream.rs` as behaviour tests: long
//! streams through small rings, so every wake-up cell waits thousands of
//! times, switches to symmetric fences and keeps waking (a lost wake-up
//! is a hang, which the watchdog turns into a failure). Nothing is timed.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use corelane::queue::spsc;
use corelane::queue::wait::WaitStrategy::Park;

/// Orders per stream: fewer in debug builds, where each is slower.
const ITEMS: u64 = if cfg!(debug_assertions) {
    20_000
} else {
    200_000
};
/// A stream that has not finished by then has lost a wake-up.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `body` on a thread and fails if it has not finished within
/// [`WATCHDOG`].
fn guarded(name: &str, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std_mpsc::channel();
    let worker = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(WATCHDOG) {
        Ok(()) => worker.join().unwrap(),
        Err(std_mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().expect_err("ended without finishing"))
        }
        Err(std_mpsc::RecvTimeoutError::Timeout) => panic!("{name}: hung (lost wake-up?)"),
    }
}

/// Three threads, two rings, every side parking: producer, forwarder,
/// consumer.
fn park_stream(cap: usize) {
    let (mut tx1, mut rx1) = spsc::channel::<u64>(cap);
    let (mut tx2, mut rx2) = spsc::channel::<u64>(cap);
    let producer = std::thread::spawn(move || {
        for i in 0..ITEMS {
            tx1.push_blocking(i, Park).unwrap();
        }
    });
    let forwarder = std::thread::spawn(move || {
        while let Ok(v) = rx1.pop_blocking(Park) {
            tx2.push_blocking(v, Park).unwrap();
        }
    });
    for i in 0..ITEMS {
        assert_eq!(rx2.pop_blocking(Park), Ok(i));
    }
    producer.join().unwrap();
    forwarder.join().unwrap();
    assert!(rx2.pop_blocking(Park).is_err(), "the end of the stream");
}

#[test]
fn park_stream_through_one_slot_rings() {
    guarded("park stream cap 1", || park_stream(1));
}

#[test]
fn park_stream_through_64_slot_rings() {
    guarded("park stream cap 64", || park_stream(64));
}

/// Two tasks on a two-worker runtime, a parking forwarder thread between
/// them.
fn async_stream(cap: usize) {
    let (mut tx1, mut rx1) = spsc::channel::<u64>(cap);
    let (mut tx2, mut rx2) = spsc::channel::<u64>(cap);
    let forwarder = std::thread::spawn(move || {
        while let Ok(v) = rx1.pop_blocking(Park) {
            tx2.push_blocking(v, Park).unwrap();
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async move {
        let sender = tokio::spawn(async move {
            for i in 0..ITEMS {
                tx1.send(i).await.unwrap();
            }
        });
        for i in 0..ITEMS {
            assert_eq!(rx2.recv().await, Ok(i));
        }
        sender.await.unwrap();
        assert!(rx2.recv().await.is_err(), "the end of the stream");
    });
    forwarder.join().unwrap();
}

#[test]
fn async_stream_through_one_slot_rings() {
    guarded("async stream cap 1", || async_stream(1));
}

#[test]
fn async_stream_through_64_slot_rings() {
    guarded("async stream cap 64", || async_stream(64));
}

/// One order in flight between two single-threaded runtimes: every
/// receive waits (spins, then registers), every send wakes.
#[test]
fn async_ping_pong() {
    guarded("async ping-pong", || {
        let (mut ping_tx, mut ping_rx) = spsc::channel::<u64>(1);
        let (mut pong_tx, mut pong_rx) = spsc::channel::<u64>(1);
        let rt = || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
        };
        let (echo_rt, ping_rt) = (rt(), rt());
        let echo = std::thread::spawn(move || {
            echo_rt.block_on(async move {
                while let Ok(v) = ping_rx.recv().await {
                    pong_tx.send(v).await.unwrap();
                }
            })
        });
        ping_rt.block_on(async move {
            for i in 0..ITEMS / 10 {
                ping_tx.send(i).await.unwrap();
                assert_eq!(pong_rx.recv().await, Ok(i));
            }
        });
        echo.join().unwrap();
    });
}
