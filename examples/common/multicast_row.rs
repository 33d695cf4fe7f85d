//! Multicast round-trip rows for `examples/latency.rs` (and
//! `examples/pipeline.rs`), included with
//! `#[path = "common/multicast_row.rs"] mod multicast_row;`.
//!
//! A round trip: thread A publishes a ping into one multicast ring, thread
//! B's cursor reads it and publishes a pong into a second ring, A's cursor
//! reads the pong. A and B are pinned to the two CPUs given. Measured for
//! corelane's `queue::multicast` and for the `disruptor` crate's
//! `EventPoller` (the same shape: two single-producer rings, one poller
//! each, busy-spinning on both sides).

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use corelane::queue::multicast;
use corelane::queue::PopError;
use corelane::topology::{pin_current_thread, CpuId};
use hdrhistogram::Histogram;

/// Ring size for both peers.
const RING: usize = 1024;

#[derive(Clone, Copy, Default)]
struct Ping {
    seq: u64,
}

/// Round-trip histograms (nanoseconds), one row per implementation:
/// `("multicast corelane", ..)` and `("multicast disruptor (EventPoller)", ..)`.
/// `samples` round trips each, after a tenth as many for warm-up. Thread A runs on `cpus.0`,
/// thread B on `cpus.1` (`None`: unpinned); the calling thread is not pinned.
pub fn multicast_rows(samples: u64, cpus: Option<(CpuId, CpuId)>) -> Vec<(String, Histogram<u64>)> {
    let warmup = samples / 10;
    vec![
        (
            "multicast corelane".to_string(),
            corelane_rtt(samples, warmup, cpus),
        ),
        (
            "multicast disruptor (EventPoller)".to_string(),
            disruptor_rtt(samples, warmup, cpus),
        ),
    ]
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

fn pin_to(cpu: Option<CpuId>) {
    if let Some(cpu) = cpu {
        if let Err(e) = pin_current_thread(cpu) {
            eprintln!("multicast_rows: cannot pin to {cpu} ({e}); running unpinned");
        }
    }
}

fn corelane_rtt(samples: u64, warmup: u64, cpus: Option<(CpuId, CpuId)>) -> Histogram<u64> {
    let (mut ping, mut ping_rx) = multicast::broadcast(RING, Ping::default, 1);
    let (mut pong, mut pong_rx) = multicast::broadcast(RING, Ping::default, 1);
    let (mut ping_rx, mut pong_rx) = (ping_rx.remove(0), pong_rx.remove(0));
    let start = Arc::new(Barrier::new(2));
    let go = start.clone();
    let echo = thread::spawn(move || {
        pin_to(cpus.map(|c| c.1));
        go.wait();
        loop {
            match ping_rx.try_next() {
                Ok(p) => {
                    let seq = p.seq;
                    while pong.try_publish_with(|x| x.seq = seq).is_err() {
                        std::hint::spin_loop();
                    }
                }
                Err(PopError::Disconnected) => return,
                Err(_) => std::hint::spin_loop(),
            }
        }
    });
    let a = thread::spawn(move || {
        pin_to(cpus.map(|c| c.0));
        start.wait();
        let mut h = histogram();
        for seq in 0..warmup + samples {
            let t0 = Instant::now();
            while ping.try_publish_with(|x| x.seq = seq).is_err() {
                std::hint::spin_loop();
            }
            loop {
                match pong_rx.try_next() {
                    Ok(p) => {
                        black_box(p.seq);
                        break;
                    }
                    Err(_) => std::hint::spin_loop(),
                }
            }
            if seq >= warmup {
                h.saturating_record(t0.elapsed().as_nanos() as u64);
            }
        }
        h
    });
    let h = a.join().expect("ping thread");
    echo.join().expect("echo thread");
    h
}

fn disruptor_rtt(samples: u64, warmup: u64, cpus: Option<(CpuId, CpuId)>) -> Histogram<u64> {
    use disruptor::{BusySpin, Polling, Producer};

    let (mut ping_rx, b) =
        disruptor::build_single_producer(RING, Ping::default, BusySpin).new_event_poller();
    let mut ping = b.build();
    let (mut pong_rx, b) =
        disruptor::build_single_producer(RING, Ping::default, BusySpin).new_event_poller();
    let mut pong = b.build();
    let start = Arc::new(Barrier::new(2));
    let go = start.clone();
    let echo = thread::spawn(move || {
        pin_to(cpus.map(|c| c.1));
        go.wait();
        loop {
            match ping_rx.poll() {
                Ok(mut events) => {
                    for p in &mut events {
                        let seq = p.seq;
                        pong.publish(|x| x.seq = seq);
                    }
                }
                Err(Polling::NoEvents) => std::hint::spin_loop(),
                Err(Polling::Shutdown) => return,
            }
        }
    });
    let a = thread::spawn(move || {
        pin_to(cpus.map(|c| c.0));
        start.wait();
        let mut h = histogram();
        for seq in 0..warmup + samples {
            let t0 = Instant::now();
            ping.publish(|x| x.seq = seq);
            loop {
                match pong_rx.poll() {
                    Ok(mut events) => {
                        for p in &mut events {
                            black_box(p.seq);
                        }
                        break;
                    }
                    Err(_) => std::hint::spin_loop(),
                }
            }
            if seq >= warmup {
                h.saturating_record(t0.elapsed().as_nanos() as u64);
            }
        }
        h
    });
    let h = a.join().expect("ping thread");
    echo.join().expect("echo thread");
    h
}
