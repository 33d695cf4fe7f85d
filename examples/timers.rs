//! Heartbeats and order time-to-live on one `timer::Wheel`, on the real clock.
//!
//! A simulated engine loop: `SESSIONS` FIX sessions each keep a heartbeat
//! timer that every inbound message pushes out in place (`reset`); orders
//! arrive at a steady rate, each arming a time-to-live of 1–50 ms, and most
//! are filled (their timer cancelled) before it fires. The loop busy-polls the
//! wheel with a 10 µs tick and prints what each operation cost and how late
//! each timer fired relative to its `Instant` deadline (it must never be
//! early, and with a busy loop it is late by less than a tick plus one loop
//! turn). Finally it prints the timer row of `examples/latency.rs`
//! (corelane vs DelayQueue at 100k pending).
//!
//! ```text
//! cargo run --release --example timers            # 2 s of traffic
//! cargo run --release --example timers -- --quick # a short smoke run
//! ```

#[path = "common/timer_row.rs"]
mod timer_row;

use corelane::timer::{TimerKey, Wheel};
use hdrhistogram::Histogram;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

struct Config {
    run: Duration,
    sessions: u32,
    heartbeat: Duration,
    messages_per_sec: f64,
    orders_per_sec: f64,
    fill_ratio: f64,
}

/// Timer payloads: the low bit tells heartbeats from order TTLs.
fn heartbeat(session: u32) -> u64 {
    u64::from(session) << 1
}
fn ttl(order: u32) -> u64 {
    u64::from(order) << 1 | 1
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Per-operation cost: each wheel call is timed on its own and the cost of
/// the timing itself is subtracted; the median is robust to the loop being
/// preempted by the OS.
struct Cost {
    hist: Histogram<u64>,
    overhead: Duration,
}

impl Cost {
    fn new(overhead: Duration) -> Self {
        Cost {
            hist: Histogram::new_with_bounds(1, 1 << 40, 3).expect("histogram"),
            overhead,
        }
    }
    /// Runs `f`, recording how long it took.
    #[inline]
    fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let t0 = Instant::now();
        let r = f();
        let dt = t0.elapsed().saturating_sub(self.overhead);
        self.hist.saturating_record(dt.as_nanos().max(1) as u64);
        r
    }
    fn line(&self, name: &str) {
        println!(
            "  {name:<24} p50 {:>6} ns  p99 {:>6} ns  x {}",
            self.hist.value_at_quantile(0.5),
            self.hist.value_at_quantile(0.99),
            self.hist.len()
        );
    }
}

struct Session {
    key: TimerKey,
    deadline: Instant,
}

struct Order {
    key: TimerKey,
    deadline: Instant,
}

struct Stats {
    arm: Cost,
    cancel: Cost,
    reset: Cost,
    fire: Cost,
    late_ttl: Histogram<u64>,
    late_hb: Histogram<u64>,
    early: u64,
    filled: u64,
    expired: u64,
    heartbeats: u64,
    peak: usize,
    /// Length of one loop turn: lateness can be no better than this.
    turn: Histogram<u64>,
}

/// The cost of timing nothing (the fastest of many tries), subtracted from
/// each timing.
fn timing_overhead() -> Duration {
    (0..100_000)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(());
            t0.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn run(cfg: &Config) -> Stats {
    let tick = Duration::from_micros(10);
    let start = Instant::now();
    let mut wheel = Wheel::builder()
        .tick(tick)
        .origin(start)
        .capacity(1 << 17)
        .build();
    let overhead = timing_overhead();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut stats = Stats {
        arm: Cost::new(overhead),
        cancel: Cost::new(overhead),
        reset: Cost::new(overhead),
        fire: Cost::new(overhead),
        late_ttl: Histogram::new_with_bounds(1, 1 << 40, 3).expect("histogram"),
        late_hb: Histogram::new_with_bounds(1, 1 << 40, 3).expect("histogram"),
        early: 0,
        filled: 0,
        expired: 0,
        heartbeats: 0,
        peak: 0,
        turn: Histogram::new_with_bounds(1, 1 << 40, 3).expect("histogram"),
    };
    let mut last_turn = Instant::now();

    let mut sessions: Vec<Session> = (0..cfg.sessions)
        .map(|s| {
            // Sessions logged on at different times: stagger the first beat.
            let deadline = start
                + cfg
                    .heartbeat
                    .mul_f64(f64::from(s + 1) / f64::from(cfg.sessions));
            Session {
                key: wheel.insert(deadline, heartbeat(s)),
                deadline,
            }
        })
        .collect();
    let mut orders: Vec<Option<Order>> = Vec::with_capacity(1 << 22);
    let mut fills: BinaryHeap<Reverse<(Instant, u32)>> = BinaryHeap::with_capacity(1 << 17);
    let order_gap = Duration::from_secs_f64(1.0 / cfg.orders_per_sec);
    let message_gap = Duration::from_secs_f64(1.0 / cfg.messages_per_sec);
    let (mut next_order, mut next_message) = (start, start);
    let end = start + cfg.run;

    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        stats
            .turn
            .saturating_record((now - last_turn).as_nanos() as u64);
        last_turn = now;
        // New orders arm their time-to-live.
        while next_order <= now {
            let id = orders.len() as u32;
            let deadline = next_order + Duration::from_micros(1_000 + rng.next() % 49_000);
            let key = stats.arm.time(|| wheel.insert(deadline, ttl(id)));
            orders.push(Some(Order { key, deadline }));
            if rng.unit() < cfg.fill_ratio {
                let life = deadline.duration_since(next_order).mul_f64(rng.unit());
                fills.push(Reverse((next_order + life, id)));
            }
            next_order += order_gap;
        }

        // Fills cancel their order's timer.
        while let Some(&Reverse((at, id))) = fills.peek() {
            if at > now {
                break;
            }
            fills.pop();
            if let Some(order) = orders[id as usize].take() {
                let value = stats.cancel.time(|| wheel.cancel(order.key));
                debug_assert_eq!(value, Some(ttl(id)));
                stats.filled += 1;
            }
        }

        // Inbound traffic pushes heartbeats out, in place.
        while next_message <= now {
            let s = &mut sessions[(rng.next() % u64::from(cfg.sessions)) as usize];
            s.deadline = next_message + cfg.heartbeat;
            let live = stats.reset.time(|| wheel.reset(s.key, s.deadline));
            debug_assert!(live);
            next_message += message_gap;
        }
        stats.peak = stats.peak.max(wheel.len());

        // Poll: fire what is due, measure lateness against the deadline.
        let now = Instant::now();
        while let Some(v) = stats.fire.time(|| wheel.poll(now)) {
            let id = (v >> 1) as u32;
            let deadline = if v & 1 == 1 {
                stats.expired += 1;
                let order = orders[id as usize].take().expect("expired order is live");
                order.deadline
            } else {
                stats.heartbeats += 1;
                let s = &mut sessions[id as usize];
                let due = s.deadline;
                // Keep the session's cadence (no herd forms after a stall).
                s.deadline = due + cfg.heartbeat;
                s.key = wheel.insert(s.deadline, heartbeat(id));
                due
            };
            match now.checked_duration_since(deadline) {
                Some(late) => {
                    let hist = if v & 1 == 1 {
                        &mut stats.late_ttl
                    } else {
                        &mut stats.late_hb
                    };
                    hist.saturating_record(late.as_nanos() as u64);
                }
                None => stats.early += 1,
            }
        }
    }
    stats
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn print_lateness(name: &str, h: &Histogram<u64>) {
    if h.is_empty() {
        println!("  {name:<10} (none)");
        return;
    }
    println!(
        "  {name:<10} p50 {:>7.1} µs  p99 {:>7.1} µs  p99.9 {:>7.1} µs  max {:>8.1} µs  ({} samples)",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()),
        h.len()
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let cfg = if quick {
        Config {
            run: Duration::from_millis(300),
            sessions: 1_000,
            heartbeat: Duration::from_millis(5),
            messages_per_sec: 100_000.0,
            orders_per_sec: 100_000.0,
            fill_ratio: 0.9,
        }
    } else {
        Config {
            run: Duration::from_secs(2),
            sessions: 10_000,
            heartbeat: Duration::from_millis(20),
            messages_per_sec: 200_000.0,
            orders_per_sec: 250_000.0,
            fill_ratio: 0.9,
        }
    };
    println!(
        "timers: {} sessions (heartbeat {:?}), {:.0} msgs/s, {:.0} orders/s (TTL 1-50 ms, {:.0}% filled first), tick 10 µs, {:?}",
        cfg.sessions,
        cfg.heartbeat,
        cfg.messages_per_sec,
        cfg.orders_per_sec,
        cfg.fill_ratio * 100.0,
        cfg.run
    );
    let s = run(&cfg);
    println!(
        "cost per operation (Instant API; each call timed alone, timing overhead subtracted):"
    );
    s.arm.line("arm TTL (insert)");
    s.cancel.line("fill (cancel)");
    s.reset.line("heartbeat push (reset)");
    s.fire.line("poll (one call)");
    println!(
        "outcome: {} filled, {} expired, {} heartbeats sent, peak {} pending ({} KiB of entries at 32 B)",
        s.filled,
        s.expired,
        s.heartbeats,
        s.peak,
        s.peak * 32 / 1024
    );
    println!("lateness (poll time - deadline; tick 10 µs; it includes the loop's own delays):");
    print_lateness("loop turn", &s.turn);
    print_lateness("order TTL", &s.late_ttl);
    print_lateness("heartbeat", &s.late_hb);
    println!("  fired early: {}", s.early);
    assert_eq!(s.early, 0, "a timer fired before its deadline");

    println!("timer row (examples/latency.rs), ns:");
    for (label, ns) in timer_row::timer_row(quick) {
        println!("  {label:<40} {ns:>8.1}");
    }
}
