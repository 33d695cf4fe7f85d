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
use corelane::queue::multicast::TryRecvError;
use corelane::topology::{pin_current_thread, CpuId};
use hdrhistogram::Histogram;

/// Ring size for both peers.
const RING: usize = 1024;
/// Untimed warm-up round trips: one per this many timed ones.
const SAMPLES_PER_WARMUP: u64 = 10;

/// Row name of corelane's `queue::multicast`.
pub const CORELANE: &str = "multicast corelane";
/// Row name of the `disruptor` crate's `EventPoller`.
pub const DISRUPTOR: &str = "multicast disruptor (EventPoller)";

#[derive(Clone, Copy, Default)]
struct Ping {
    seq: u64,
}

/// Round-trip histograms (nanoseconds), one row per implementation, named
/// [`CORELANE`] and [`DISRUPTOR`]. `samples` round trips each, after
/// `samples / SAMPLES_PER_WARMUP` for warm-up. Thread A runs on `cpus.0`,
/// thread B on `cpus.1` (`None`: unpinned); the calling thread is not pinned.
pub fn multicast_rows(
    samples: u64,
    cpus: Option<(CpuId, CpuId)>,
) -> Vec<(&'static str, Histogram<u64>)> {
    let warmup = samples / SAMPLES_PER_WARMUP;
    vec![
        (CORELANE, corelane_rtt(samples, warmup, cpus)),
        (DISRUPTOR, disruptor_rtt(samples, warmup, cpus)),
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

/// Runs `echo` (thread B, until its ping ring disconnects) and, on thread
/// A, `warmup + samples` calls of `round_trip(seq)`, each timed on its own;
/// the last `samples` go into the histogram. Both threads start together.
fn timed_round_trips(
    samples: u64,
    warmup: u64,
    cpus: Option<(CpuId, CpuId)>,
    echo: impl FnOnce() + Send + 'static,
    mut round_trip: impl FnMut(u64) + Send + 'static,
) -> Histogram<u64> {
    let start = Arc::new(Barrier::new(2));
    let go = start.clone();
    let echo = thread::spawn(move || {
        pin_to(cpus.map(|c| c.1));
        go.wait();
        echo();
    });
    let a = thread::spawn(move || {
        pin_to(cpus.map(|c| c.0));
        start.wait();
        let mut h = histogram();
        for seq in 0..warmup + samples {
            let t0 = Instant::now();
            round_trip(seq);
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

/// One corelane multicast ring of [`RING`] slots with one cursor.
fn corelane_ring() -> (multicast::Publisher<Ping>, multicast::Cursor<Ping>) {
    let (tx, mut cursors) = multicast::broadcast(RING, Ping::default, 1);
    (tx, cursors.remove(0))
}

/// One disruptor ring of [`RING`] slots, busy-spinning, with one `EventPoller`.
fn disruptor_ring() -> (
    disruptor::SingleProducer<Ping, disruptor::SingleConsumerBarrier>,
    disruptor::EventPoller<Ping, disruptor::SingleProducerBarrier>,
) {
    let (rx, b) = disruptor::build_single_producer(RING, Ping::default, disruptor::BusySpin)
        .new_event_poller();
    (b.build(), rx)
}

fn corelane_rtt(samples: u64, warmup: u64, cpus: Option<(CpuId, CpuId)>) -> Histogram<u64> {
    let (mut ping, mut ping_rx) = corelane_ring();
    let (mut pong, mut pong_rx) = corelane_ring();
    let echo = move || loop {
        match ping_rx.pop() {
            Ok(p) => {
                let seq = p.seq;
                while pong.push_with(|x| x.seq = seq).is_err() {
                    std::hint::spin_loop();
                }
            }
            Err(TryRecvError::Disconnected) => return,
            Err(_) => std::hint::spin_loop(),
        }
    };
    let round_trip = move |seq: u64| {
        while ping.push_with(|x| x.seq = seq).is_err() {
            std::hint::spin_loop();
        }
        loop {
            match pong_rx.pop() {
                Ok(p) => {
                    black_box(p.seq);
                    break;
                }
                Err(_) => std::hint::spin_loop(),
            }
        }
    };
    timed_round_trips(samples, warmup, cpus, echo, round_trip)
}

fn disruptor_rtt(samples: u64, warmup: u64, cpus: Option<(CpuId, CpuId)>) -> Histogram<u64> {
    use disruptor::{Polling, Producer};

    let (mut ping, mut ping_rx) = disruptor_ring();
    let (mut pong, mut pong_rx) = disruptor_ring();
    let echo = move || loop {
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
    };
    let round_trip = move |seq: u64| {
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
    };
    timed_round_trips(samples, warmup, cpus, echo, round_trip)
}
